from __future__ import annotations

import hashlib
import secrets

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.db.models.functions import Lower
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from guides.markdown import render_markdown
from helpdesk.text import OneLineCharField, PlainTextField

# Authors use positions up to this; the database allows twice as much so that re-ordering can
# park steps above it without colliding on unique(guide, position).
MAX_STEP_POSITION = 500


class Language(models.TextChoices):
    ARABIC = "ar", _("Arabic")
    ENGLISH = "en", _("English")


RTL_LANGUAGES = frozenset({Language.ARABIC})


def text_direction(language: str) -> str:
    """The writing direction of a language, for dir="…" attributes."""
    return "rtl" if language in RTL_LANGUAGES else "ltr"


class GuideStatus(models.TextChoices):
    DRAFT = "draft", _("Draft")
    PUBLISHED = "published", _("Published")


class StepKind(models.TextChoices):
    PROCEDURE = "procedure", _("Procedure")
    ALTERNATIVE = "alternative", _("Alternative")
    LAST_RESORT = "last_resort", _("Last resort")


class Company(models.Model):
    """The service a customer needs help with, and its own support channels."""

    name = OneLineCharField(_("name"), max_length=200)
    slug = models.SlugField(_("slug"), max_length=100, unique=True)
    website = models.URLField(_("website"), blank=True)
    support_phone = OneLineCharField(_("support phone"), max_length=50, blank=True)
    support_email = models.EmailField(_("support e-mail"), blank=True)
    support_chat_url = models.URLField(_("support chat URL"), blank=True)
    support_hours = OneLineCharField(_("support hours"), max_length=200, blank=True)
    # The staff who write this company's guides: they see these guides' statistics
    # (guides.statistics), the company's content gaps (guides.gaps), and decide on the steps
    # agents propose for its guides (guides.selectors.user_decides_for_guide). Supervisors
    # see and decide for every company.
    authors = models.ManyToManyField(
        settings.AUTH_USER_MODEL,
        related_name="authored_companies",
        blank=True,
        limit_choices_to={"is_staff": True},
        verbose_name=_("authors"),
        help_text=_(
            "Staff who write this company's guides: they see their statistics and content "
            "gaps and decide on the steps proposed for them."
        ),
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("company")
        verbose_name_plural = _("companies")
        constraints = [
            models.CheckConstraint(condition=~Q(slug=""), name="company_slug_not_empty"),
            models.CheckConstraint(condition=~Q(name=""), name="company_name_not_empty"),
        ]

    def __str__(self) -> str:
        return self.name


class Tag(models.Model):
    slug = models.SlugField(_("slug"), max_length=50, unique=True)

    class Meta:
        ordering = ["slug"]
        verbose_name = _("tag")
        verbose_name_plural = _("tags")
        constraints = [
            models.CheckConstraint(condition=~Q(slug=""), name="tag_slug_not_empty"),
            # Tags are matched case-insensitively; the importer lowercases them.
            models.CheckConstraint(condition=Q(slug=Lower("slug")), name="tag_slug_lowercase"),
        ]

    def __str__(self) -> str:
        return self.slug


class Guide(models.Model):
    """A self-help guide: the customer's question, a summary and ordered steps."""

    Status = GuideStatus

    company = models.ForeignKey(
        Company, on_delete=models.PROTECT, related_name="guides", verbose_name=_("company")
    )
    slug = models.SlugField(_("slug"), max_length=150)
    language = models.CharField(_("language"), max_length=8, choices=Language.choices)
    # Versions of the same guide in other languages share this key.
    translation_key = models.SlugField(_("translation key"), max_length=150)
    title = OneLineCharField(_("title"), max_length=300, help_text=_("The customer's question."))
    summary = models.TextField(_("summary"), blank=True, help_text=_("Markdown."))
    tags = models.ManyToManyField(Tag, related_name="guides", blank=True, verbose_name=_("tags"))
    status = models.CharField(
        _("status"), max_length=16, choices=GuideStatus.choices, default=GuideStatus.DRAFT
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)
    view_count = models.PositiveBigIntegerField(_("view count"), default=0)
    helpful_count = models.PositiveIntegerField(_("helpful count"), default=0)
    needs_work_count = models.PositiveIntegerField(_("needs work count"), default=0)
    # Learning off: customers see the alternatives in the authors' order (their positions),
    # not in the order of measured success (guides.ordering).
    alternatives_pinned = models.BooleanField(
        _("alternatives in a fixed order"),
        default=False,
        db_default=False,
        help_text=_(
            "Show the alternatives in the order of their positions, not in the order of what "
            "works best for customers."
        ),
    )

    class Meta:
        ordering = ["company__name", "title"]
        verbose_name = _("guide")
        verbose_name_plural = _("guides")
        constraints = [
            models.UniqueConstraint(
                fields=["company", "slug", "language"], name="guide_unique_slug_per_language"
            ),
            # One version per language of a guide.
            models.UniqueConstraint(
                fields=["company", "translation_key", "language"],
                name="guide_unique_translation_per_language",
            ),
            models.CheckConstraint(
                condition=Q(language__in=Language.values), name="guide_language_known"
            ),
            models.CheckConstraint(
                condition=Q(status__in=GuideStatus.values), name="guide_status_known"
            ),
            models.CheckConstraint(condition=~Q(slug=""), name="guide_slug_not_empty"),
            models.CheckConstraint(
                condition=~Q(translation_key=""), name="guide_translation_key_not_empty"
            ),
            models.CheckConstraint(condition=~Q(title=""), name="guide_title_not_empty"),
            models.CheckConstraint(
                condition=Q(view_count__gte=0, helpful_count__gte=0, needs_work_count__gte=0),
                name="guide_counters_not_negative",
            ),
        ]
        indexes = [
            # Public listings: published guides of a company in one language.
            models.Index(fields=["company", "language", "status"], name="guide_listing_idx"),
        ]
        permissions = [
            ("view_statistics", "Can see the statistics of the guides they write"),
            ("view_all_statistics", "Can see the statistics of every guide"),
        ]

    def __str__(self) -> str:
        return f"{self.title} ({self.language})"

    def public_path(self) -> str:
        """The guide's page for customers. (Not get_absolute_url: that would add a "View on
        site" link to the admin of a guide that may be a draft.)"""
        return reverse(
            "guides:guide-detail",
            kwargs={"company": self.company.slug, "language": self.language, "slug": self.slug},
        )

    @property
    def text_direction(self) -> str:
        return text_direction(self.language)

    @property
    def summary_html(self) -> str:
        return render_markdown(self.summary)


class Step(models.Model):
    Kind = StepKind

    guide = models.ForeignKey(
        Guide, on_delete=models.CASCADE, related_name="steps", verbose_name=_("guide")
    )
    position = models.PositiveSmallIntegerField(
        _("position"), validators=[MinValueValidator(1), MaxValueValidator(MAX_STEP_POSITION)]
    )
    kind = models.CharField(
        _("kind"), max_length=16, choices=StepKind.choices, default=StepKind.PROCEDURE
    )
    title = OneLineCharField(_("title"), max_length=300)
    body = models.TextField(_("body"), blank=True, help_text=_("Markdown."))

    class Meta:
        ordering = ["guide", "position"]
        verbose_name = _("step")
        verbose_name_plural = _("steps")
        constraints = [
            models.UniqueConstraint(fields=["guide", "position"], name="step_unique_position"),
            models.CheckConstraint(
                condition=Q(position__gte=1, position__lte=2 * MAX_STEP_POSITION),
                name="step_position_in_range",
            ),
            models.CheckConstraint(condition=Q(kind__in=StepKind.values), name="step_kind_known"),
            models.CheckConstraint(condition=~Q(title=""), name="step_title_not_empty"),
        ]

    def __str__(self) -> str:
        return f"{self.position}. {self.title}"

    @property
    def body_html(self) -> str:
        return render_markdown(self.body)


class GuideVersion(models.Model):
    """A guide's steps as they stood between two edits of them.

    Statistics are kept per version, so an edit does not mix the numbers of the old steps with
    the new. A step keeps its identity (its id) across versions while only its wording changes;
    ``steps`` is what customers of this version were shown, in the authors' order.
    """

    guide = models.ForeignKey(
        Guide, on_delete=models.CASCADE, related_name="versions", verbose_name=_("guide")
    )
    number = models.PositiveIntegerField(_("number"))
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    # [{"step": id, "position": n, "kind": "...", "title": "...", "body": "..."}, ...]
    steps = models.JSONField(_("steps"), default=list, blank=True)

    class Meta:
        ordering = ["guide", "-number"]
        verbose_name = _("guide version")
        verbose_name_plural = _("guide versions")
        constraints = [
            models.UniqueConstraint(fields=["guide", "number"], name="guide_version_unique"),
            models.CheckConstraint(condition=Q(number__gte=1), name="guide_version_from_one"),
        ]

    def __str__(self) -> str:
        return f"{self.guide} v{self.number}"


class AlternativesOrderChange(models.Model):
    """The order a guide's alternatives were shown in from ``recorded_at`` on (to customers not
    drawn for exploration), with the numbers behind it: the history authors read. Written by
    guides.services when an order is computed that differs from the last one recorded.

    Latest first per guide by ``pk`` (the guide's index finds its rows; a guide has few)."""

    guide = models.ForeignKey(
        Guide,
        on_delete=models.CASCADE,
        related_name="alternatives_order_changes",
        verbose_name=_("guide"),
    )
    language = models.CharField(_("language"), max_length=8, choices=Language.choices)
    recorded_at = models.DateTimeField(_("recorded at"), default=timezone.now)
    # The authors' order (learning off) rather than the measured one.
    pinned = models.BooleanField(_("pinned"), default=False)
    # Step ids of the alternatives, first shown first.
    order = models.JSONField(_("order"), default=list, blank=True)
    # Per alternative, in that order: {"step", "title", "tried", "worked", "lower_bound",
    # "ranked"} (guides.ordering.AlternativeNumbers), with the title it had then.
    numbers = models.JSONField(_("numbers"), default=list, blank=True)

    class Meta:
        ordering = ["guide", "language", "-pk"]
        verbose_name = _("change of the alternatives' order")
        verbose_name_plural = _("changes of the alternatives' order")
        constraints = [
            models.CheckConstraint(
                condition=Q(language__in=Language.values),
                name="alternatives_order_change_language_known",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.guide} ({self.language}), {self.recorded_at}"


def attempt_token_new() -> str:
    # 256 random bits; the database keeps only its SHA-256 (see Attempt.token_hash).
    return secrets.token_urlsafe(32)


def attempt_token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def feedback_voter_hash(*, guide_id: int, visitor_id: str) -> str:
    """Who gave an answer, as stored: the visitor's random id (guides.visitors) hashed with the
    guide, so one visitor's answers to different guides cannot be linked to each other."""
    return hashlib.sha256(f"{guide_id}:{visitor_id}".encode()).hexdigest()


class AttemptStatus(models.TextChoices):
    IN_PROGRESS = "in_progress", _("In progress")
    RESOLVED = "resolved", _("Resolved")
    ESCALATED = "escalated", _("Escalated")
    ABANDONED = "abandoned", _("Abandoned")


class Attempt(models.Model):
    """One customer's walk through one guide, step by step.

    The customer proves ownership with a secret token (kept in a cookie or sent in the
    X-Attempt-Token header); only its hash is stored, so a leaked database opens no attempt.
    """

    Status = AttemptStatus

    # None for a customer who found no guide and wrote to us directly (the contact form).
    guide = models.ForeignKey(
        Guide,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="attempts",
        verbose_name=_("guide"),
    )
    # The company a guide-less customer named, if any (with a guide, the guide's company).
    company = models.ForeignKey(
        Company,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("company"),
    )
    # Guides the contact form suggested and the customer opened before writing anyway.
    opened_guides = models.ManyToManyField(
        Guide, related_name="+", blank=True, verbose_name=_("opened guides")
    )
    # The version of the guide's steps this customer saw, and in which order (step ids:
    # the procedure, the alternatives as ordered for them, the last resort), both recorded by
    # guides.services.attempt_start. None and empty for a contact-form request. Attempts older
    # than versions have their guide's version 1 and the order of positions (migration 0013).
    guide_version = models.ForeignKey(
        GuideVersion,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="attempts",
        verbose_name=_("guide version"),
    )
    step_order = models.JSONField(_("step order"), default=list, blank=True)
    token_hash = models.CharField(_("token hash"), max_length=64, unique=True, editable=False)
    language = models.CharField(_("language"), max_length=8, choices=Language.choices)
    status = models.CharField(
        _("status"),
        max_length=16,
        choices=AttemptStatus.choices,
        default=AttemptStatus.IN_PROGRESS,
    )
    started_at = models.DateTimeField(_("started at"), default=timezone.now)
    updated_at = models.DateTimeField(_("updated at"), default=timezone.now)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)
    contact_name = OneLineCharField(_("contact name"), max_length=200, blank=True)
    contact_email = models.EmailField(_("contact e-mail"), blank=True)
    description = PlainTextField(_("description"), blank=True)
    escalation_requested_at = models.DateTimeField(
        _("escalation requested at"), null=True, blank=True
    )
    # Times a worker started turning this escalation into a ticket. A message that keeps
    # killing its worker is redelivered again and again; past a bound it is parked here for a
    # supervisor instead of looping forever (see tickets.services.escalation_delivery_count).
    escalation_deliveries = models.PositiveSmallIntegerField(_("escalation deliveries"), default=0)
    escalation_parked_at = models.DateTimeField(_("escalation parked at"), null=True, blank=True)
    # Set with the escalation, cleared in the transaction that makes its ticket: the escalation
    # workers find their work through the small partial index on it, not by searching every
    # escalated attempt for one without a ticket.
    awaiting_ticket = models.BooleanField(_("awaiting its ticket"), default=False, db_default=False)
    # The reference of the ticket this escalation becomes, reserved when the customer asks for
    # a person (in the same UPDATE), so that the confirmation shows it and its status link at
    # once, before a worker makes the ticket, which takes it. Unique: every ticket's reference
    # is also its attempt's (tickets migration 0016 copied the older ones), so a reference
    # reserved here can never name another customer's ticket. Generated by the tickets app,
    # which owns the alphabet (tickets.models.ticket_reference_new).
    ticket_reference = models.CharField(
        _("ticket reference"), max_length=16, unique=True, null=True, blank=True, editable=False
    )
    user_agent = models.CharField(_("user agent"), max_length=300, blank=True)

    class Meta:
        ordering = ["-started_at"]
        verbose_name = _("attempt")
        verbose_name_plural = _("attempts")
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=AttemptStatus.values), name="attempt_status_known"
            ),
            models.CheckConstraint(
                condition=Q(language__in=Language.values), name="attempt_language_known"
            ),
            # Finished exactly when no longer in progress.
            models.CheckConstraint(
                condition=(
                    Q(status=AttemptStatus.IN_PROGRESS, finished_at__isnull=True)
                    | (~Q(status=AttemptStatus.IN_PROGRESS) & Q(finished_at__isnull=False))
                ),
                name="attempt_finished_iff_not_in_progress",
            ),
            models.CheckConstraint(
                condition=Q(escalation_requested_at__isnull=True) | ~Q(description=""),
                name="attempt_escalation_has_description",
            ),
        ]
        indexes = [
            # Per-guide reports and the escalation sweeper: attempts of a guide by status.
            models.Index(fields=["guide", "status"], name="attempt_guide_status_idx"),
            # The statistics rollup (guides.rollups): the attempts started on the days it
            # recomputes, and the days touched since its watermark (every change of an
            # attempt moves updated_at; started_at is carried so that the scan reads only
            # the index on PostgreSQL).
            models.Index(fields=["started_at"], name="attempt_started_idx"),
            models.Index(fields=["updated_at"], include=["started_at"], name="attempt_updated_idx"),
            # The escalations waiting for a ticket, first tries apart from retries, oldest
            # first (tickets.services.escalations_ticket); empty when the workers keep up.
            models.Index(
                fields=["escalation_deliveries", "escalation_requested_at"],
                condition=Q(awaiting_ticket=True, escalation_parked_at__isnull=True),
                name="attempt_awaiting_ticket_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"Attempt {self.pk} at {self.guide}"


class StepOutcomeKind(models.TextChoices):
    WORKED = "worked", _("This fixed it")
    DID_NOT_WORK = "did_not_work", _("Didn't work")
    COULD_NOT_DO = "could_not_do", _("Couldn't do this")
    SKIPPED = "skipped", _("Skipped")


# The outcomes whose notes tell an author what went wrong (the failure notes of a step).
FAILURE_OUTCOMES = [StepOutcomeKind.DID_NOT_WORK.value, StepOutcomeKind.COULD_NOT_DO.value]


class StepOutcome(models.Model):
    """What happened when the customer tried one step. Rows are never edited: a later outcome
    for the same step becomes the current one and the earlier ones stay as history."""

    Outcome = StepOutcomeKind

    attempt = models.ForeignKey(
        Attempt, on_delete=models.CASCADE, related_name="outcomes", verbose_name=_("attempt")
    )
    # Kept when the guide is later edited: the copy below is what the customer saw.
    step = models.ForeignKey(
        Step,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="outcomes",
        verbose_name=_("step"),
    )
    step_position = models.PositiveSmallIntegerField(_("step position"))
    step_kind = models.CharField(_("step kind"), max_length=16, choices=StepKind.choices)
    step_title = OneLineCharField(_("step title"), max_length=300)
    outcome = models.CharField(_("outcome"), max_length=16, choices=StepOutcomeKind.choices)
    note = PlainTextField(_("note"), blank=True)
    recorded_at = models.DateTimeField(_("recorded at"), default=timezone.now)

    class Meta:
        ordering = ["recorded_at", "pk"]
        verbose_name = _("step outcome")
        verbose_name_plural = _("step outcomes")
        constraints = [
            models.CheckConstraint(
                condition=Q(outcome__in=StepOutcomeKind.values), name="step_outcome_known"
            ),
            models.CheckConstraint(
                condition=Q(step_kind__in=StepKind.values), name="step_outcome_kind_known"
            ),
        ]
        indexes = [
            models.Index(fields=["attempt", "recorded_at"], name="step_outcome_history_idx"),
            # The content gaps' "words in failure notes" (guides.gaps): the recent failures
            # that have a note, a small part of all outcomes.
            models.Index(
                fields=["recorded_at"],
                condition=(
                    Q(outcome__in=[StepOutcomeKind.DID_NOT_WORK, StepOutcomeKind.COULD_NOT_DO])
                    & ~Q(note="")
                ),
                name="outcome_recent_failure_idx",
            ),
            # A step's failure notes, newest first (guides.statistics.step_failure_notes):
            # small, as most outcomes carry no note.
            models.Index(
                "step",
                models.F("recorded_at").desc(),
                models.F("id").desc(),
                condition=Q(outcome__in=FAILURE_OUTCOMES) & ~Q(note=""),
                name="step_outcome_failure_note_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.step_title}: {self.outcome}"


class Feedback(models.Model):
    """'Was this helpful?' for a guide, from an attempt or from a passing reader."""

    guide = models.ForeignKey(
        Guide, on_delete=models.CASCADE, related_name="feedback", verbose_name=_("guide")
    )
    attempt = models.ForeignKey(
        Attempt,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="feedback",
        verbose_name=_("attempt"),
    )
    # feedback_voter_hash of the guide and the visitor who answered; empty for an answer given
    # through the API with an attempt's token only (and for answers older than this field).
    voter = models.CharField(_("voter"), max_length=64, blank=True, editable=False)
    helpful = models.BooleanField(_("helpful"))
    comment = PlainTextField(_("comment"), blank=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    updated_at = models.DateTimeField(_("updated at"), default=timezone.now)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("feedback")
        verbose_name_plural = _("feedback")
        constraints = [
            # One answer per attempt and one per visitor; answering again changes it
            # (guides.services.feedback_give).
            models.UniqueConstraint(
                fields=["attempt"],
                condition=Q(attempt__isnull=False),
                name="feedback_one_per_attempt",
            ),
            models.UniqueConstraint(
                fields=["guide", "voter"],
                condition=~Q(voter=""),
                name="feedback_one_per_visitor",
            ),
        ]

    def __str__(self) -> str:
        return f"{'Helpful' if self.helpful else 'Needs work'}: {self.guide}"


class GuideSearchDocument(models.Model):
    """What search matches for one published guide: its texts after guides.search.normalise.

    Written only by guides.search.guide_search_index_update (and the rebuild). The database
    adds the matching structure next to it, see migration 0003_search: on PostgreSQL a
    generated tsvector column ``search_vector`` with GIN and trigram indexes, on SQLite the FTS5
    table ``guides_guidesearch_fts``. Neither is a model field: each exists on one backend only.
    """

    guide = models.OneToOneField(
        Guide,
        on_delete=models.CASCADE,
        primary_key=True,
        related_name="search_document",
        verbose_name=_("guide"),
    )
    # Copied from the guide so that the company and language filters need no join.
    company = models.ForeignKey(
        Company, on_delete=models.CASCADE, related_name="+", verbose_name=_("company")
    )
    language = models.CharField(_("language"), max_length=8, choices=Language.choices)
    title = models.TextField(_("title"))
    summary = models.TextField(_("summary"), blank=True)
    # Step titles and bodies, tag slugs and the company name.
    body = models.TextField(_("body"), blank=True)

    class Meta:
        verbose_name = _("guide search document")
        verbose_name_plural = _("guide search documents")
        constraints = [
            models.CheckConstraint(
                condition=Q(language__in=Language.values), name="guide_search_language_known"
            ),
        ]

    def __str__(self) -> str:
        return f"Search document of guide {self.guide_id}"


# Upper bounds, in seconds, of the buckets of the time-spent histograms kept in the day tallies
# (one more bucket counts everything longer): medians read from the sums of histograms, which
# add up across days, where medians would not.
SECONDS_BUCKETS = (5, 10, 20, 30, 45, 60, 90, 120, 180, 300, 600, 1200, 1800, 3600, 7200, 86400)


def seconds_histogram_empty() -> list[int]:
    return [0] * (len(SECONDS_BUCKETS) + 1)


class StepDayTally(models.Model):
    """What the customers who started one guide version on one day, in one language, did at one
    of its steps: the rollup every statistics page reads (written only by the rollup,
    guides.rollups), so that an outcome is one INSERT and no counter row is locked by it.

    Counted per attempt from its current outcome at the step (its latest); ``shown`` counts the
    attempts that were shown the step, ``abandoned_here`` the abandoned attempts whose last
    outcome was at this step.
    """

    day = models.DateField(_("day"))
    guide = models.ForeignKey(
        Guide, on_delete=models.CASCADE, related_name="+", verbose_name=_("guide")
    )
    version = models.ForeignKey(
        GuideVersion,
        on_delete=models.CASCADE,
        related_name="step_tallies",
        verbose_name=_("guide version"),
    )
    # The step's id, its identity across versions; kept after the step is deleted (the
    # version's snapshot has its wording).
    step_key = models.PositiveIntegerField(_("step"))
    language = models.CharField(_("language"), max_length=8, choices=Language.choices)
    shown = models.PositiveIntegerField(_("shown"), default=0)
    worked = models.PositiveIntegerField(_("worked"), default=0)
    did_not_work = models.PositiveIntegerField(_("did not work"), default=0)
    could_not_do = models.PositiveIntegerField(_("could not do"), default=0)
    skipped = models.PositiveIntegerField(_("skipped"), default=0)
    abandoned_here = models.PositiveIntegerField(_("abandoned here"), default=0)
    # Seconds from the previous outcome (or the attempt's start) to this step's, bucketed by
    # SECONDS_BUCKETS.
    seconds_spent = models.JSONField(_("time spent"), default=seconds_histogram_empty)

    class Meta:
        verbose_name = _("step day tally")
        verbose_name_plural = _("step day tallies")
        constraints = [
            models.UniqueConstraint(
                fields=["version", "step_key", "language", "day"], name="step_day_tally_unique"
            ),
        ]
        indexes = [
            # The statistics pages: a guide's tallies over a range of days.
            models.Index(fields=["guide", "day"], name="step_day_tally_guide_idx"),
        ]

    def __str__(self) -> str:
        return f"Step {self.step_key} of {self.version} ({self.language}), {self.day}"

    @property
    def tried(self) -> int:
        return self.worked + self.did_not_work + self.could_not_do


class GuideDayTally(models.Model):
    """One guide version's funnel for the customers of one day and language: views, attempts
    and how they ended, and the tickets the escalated ones became (rolled up with the steps)."""

    day = models.DateField(_("day"))
    guide = models.ForeignKey(
        Guide, on_delete=models.CASCADE, related_name="+", verbose_name=_("guide")
    )
    version = models.ForeignKey(
        GuideVersion,
        on_delete=models.CASCADE,
        related_name="day_tallies",
        verbose_name=_("guide version"),
    )
    # Copied from the guide: the company filter and the deflection per company need no join.
    company = models.ForeignKey(
        Company, on_delete=models.CASCADE, related_name="+", verbose_name=_("company")
    )
    language = models.CharField(_("language"), max_length=8, choices=Language.choices)
    views = models.PositiveIntegerField(_("views"), default=0)
    attempts = models.PositiveIntegerField(_("attempts"), default=0)
    resolved = models.PositiveIntegerField(_("resolved"), default=0)
    abandoned = models.PositiveIntegerField(_("abandoned"), default=0)
    escalated = models.PositiveIntegerField(_("escalated"), default=0)
    tickets_solved = models.PositiveIntegerField(_("tickets solved"), default=0)
    tickets_reopened = models.PositiveIntegerField(_("tickets reopened"), default=0)
    # Seconds from the escalation to the ticket's solving, bucketed by SECONDS_BUCKETS.
    solve_seconds = models.JSONField(_("time to solve"), default=seconds_histogram_empty)

    class Meta:
        verbose_name = _("guide day tally")
        verbose_name_plural = _("guide day tallies")
        constraints = [
            models.UniqueConstraint(
                fields=["version", "language", "day"], name="guide_day_tally_unique"
            ),
        ]
        indexes = [
            models.Index(fields=["guide", "day"], name="guide_day_tally_guide_idx"),
            models.Index(fields=["company", "day"], name="guide_day_tally_company_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.version} ({self.language}), {self.day}"


class RollupWatermark(models.Model):
    """How far a rollup has read: rows changed before ``until`` are in its tallies. Moved in
    the transaction that writes the tallies, so a rollup killed midway leaves both as they were."""

    name = models.SlugField(_("name"), max_length=50, unique=True)
    until = models.DateTimeField(_("until"))

    class Meta:
        verbose_name = _("rollup watermark")
        verbose_name_plural = _("rollup watermarks")

    def __str__(self) -> str:
        return f"{self.name} until {self.until}"


class SearchSource(models.TextChoices):
    PAGE = "page", _("Search page")
    CONTACT = "contact", _("Contact form")
    API = "api", _("API")


class SearchLog(models.Model):
    """One customer search: what was asked (normalised, see guides.search_log), where, and
    whether a result was opened. The content gaps read it (guides.gaps); rows older than
    SEARCH_LOG_RETENTION_DAYS are deleted (guides.tasks.prune_search_log).

    Written once per search by one INSERT and changed at most once, by the customer's own
    click (a conditional UPDATE of this row alone): no counter row is shared by searches. No
    address, visitor or session is kept, only the words searched for.
    """

    Source = SearchSource

    query = models.CharField(_("query"), max_length=300)
    # The company the search was limited to; None for a search across every company.
    company = models.ForeignKey(
        Company,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("company"),
    )
    language = models.CharField(_("language"), max_length=8, choices=Language.choices)
    source = models.CharField(_("source"), max_length=8, choices=SearchSource.choices)
    result_count = models.PositiveSmallIntegerField(_("results"))
    searched_at = models.DateTimeField(_("searched at"), default=timezone.now)
    # The first result the customer opened. No database constraint and nothing done when the
    # guide is deleted: that delete would otherwise search this large table for its rows
    # (there is no index on the column, which only this row's own click writes).
    clicked_guide = models.ForeignKey(
        Guide,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("opened guide"),
    )
    clicked_at = models.DateTimeField(_("opened at"), null=True, blank=True)

    class Meta:
        verbose_name = _("search")
        verbose_name_plural = _("searches")
        constraints = [
            models.CheckConstraint(condition=~Q(query=""), name="search_log_query_not_empty"),
            models.CheckConstraint(
                condition=Q(language__in=Language.values), name="search_log_language_known"
            ),
            models.CheckConstraint(
                condition=Q(source__in=SearchSource.values), name="search_log_source_known"
            ),
            models.CheckConstraint(
                condition=Q(clicked_at__isnull=True, clicked_guide__isnull=True)
                | Q(clicked_at__isnull=False, clicked_guide__isnull=False),
                name="search_log_click_has_guide",
            ),
        ]
        indexes = [
            # The retention's delete (guides.search_log.search_log_prune) and the content
            # gaps across every company.
            models.Index(fields=["searched_at"], name="search_log_time_idx"),
            # The content gaps of one company (and language).
            models.Index(
                fields=["company", "language", "searched_at"], name="search_log_company_idx"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.query} ({self.language}, {self.result_count})"


class ContentGapKind(models.TextChoices):
    SEARCH = "search", _("Search with no result or no click")
    NEEDS_WORK = "needs_work", _("Needs work comment")
    STEP_FAILURES = "step_failures", _("Step failing more often")
    FAILURE_WORDS = "failure_words", _("Words in failure notes")
    CONTACT_REQUEST = "contact_request", _("Contact request without a guide")
    FOLLOW_UP = "follow_up", _("Follow-up question not answered")


class ContentGapHandled(models.Model):
    """An author's "handled" on one item of the content gaps (guides.gaps): the item is hidden
    for what happened up to ``handled_at``, and shows again when something new comes after it
    (a new search, an edited comment, new failure notes; for a step failing more often, once a
    whole week has passed since). Marking it again moves ``handled_at``.

    ``key`` names the item within its kind: the normalised query of a search, the id of a
    feedback or contact request, "<guide id>:<step id>" for a step.
    """

    Kind = ContentGapKind

    kind = models.CharField(_("kind"), max_length=16, choices=ContentGapKind.choices)
    key = models.CharField(_("key"), max_length=300)
    # None for the searches and contact requests that named no company.
    company = models.ForeignKey(
        Company,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("company"),
    )
    language = models.CharField(_("language"), max_length=8, choices=Language.choices)
    handled_at = models.DateTimeField(_("handled at"), default=timezone.now)
    handled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("handled by"),
    )

    class Meta:
        verbose_name = _("handled content gap")
        verbose_name_plural = _("handled content gaps")
        # Read and marked on the content gaps page only: no add/change/delete/view of rows.
        default_permissions = ()
        permissions = [
            ("view_content_gaps", _("Can see the content gaps of the companies they write for")),
            ("view_all_content_gaps", _("Can see the content gaps of every company")),
            ("handle_content_gaps", _("Can mark content gaps handled")),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(kind__in=ContentGapKind.values), name="content_gap_kind_known"
            ),
            models.CheckConstraint(
                condition=Q(language__in=Language.values), name="content_gap_language_known"
            ),
            models.CheckConstraint(condition=~Q(key=""), name="content_gap_key_not_empty"),
            # One mark per item; NULL companies are not equal to each other in a unique
            # index, hence the second constraint for the items of no company.
            models.UniqueConstraint(
                fields=["kind", "key", "language", "company"],
                condition=Q(company__isnull=False),
                name="content_gap_unique",
            ),
            models.UniqueConstraint(
                fields=["kind", "key", "language"],
                condition=Q(company__isnull=True),
                name="content_gap_unique_no_company",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.key} ({self.language})"


class StepProposalStatus(models.TextChoices):
    PROPOSED = "proposed", _("Proposed")
    ACCEPTED = "accepted", _("Accepted")
    EDITED = "edited", _("Accepted with edits")
    DISMISSED = "dismissed", _("Dismissed")


class StepProposal(models.Model):
    """A fix an agent gave a customer, proposed as a new alternative step of the guide the
    customer had followed (guides.services.step_proposal_submit). The authors of the guide's
    company accept it (a new step and a new guide version), edit it first, or dismiss it.

    Agents who solved tickets with the same fix add to one proposal (its sources): the same
    title once normalised for search (``title_key``), or the proposal they chose as "same as".
    """

    Status = StepProposalStatus

    guide = models.ForeignKey(
        Guide, on_delete=models.CASCADE, related_name="step_proposals", verbose_name=_("guide")
    )
    # The ticket's language; the guide's own, as a guide is written in one language.
    language = models.CharField(_("language"), max_length=8, choices=Language.choices)
    title = OneLineCharField(_("title"), max_length=300)
    body = models.TextField(_("body"), blank=True, help_text=_("Markdown."))
    # guides.search.normalise(title): how near-identical fixes find one another.
    title_key = models.CharField(_("title key"), max_length=300, editable=False)
    status = models.CharField(
        _("status"),
        max_length=16,
        choices=StepProposalStatus.choices,
        default=StepProposalStatus.PROPOSED,
    )
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("decided by"),
    )
    decided_at = models.DateTimeField(_("decided at"), null=True, blank=True)
    # The step an accepted proposal became (null again if an author deletes that step later).
    step = models.ForeignKey(
        Step,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("step"),
    )

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = _("proposed step")
        verbose_name_plural = _("proposed steps")
        permissions = [
            (
                "decide_any_stepproposal",
                "Can decide on the proposed steps of every company's guides",
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=StepProposalStatus.values), name="step_proposal_status_known"
            ),
            models.CheckConstraint(
                condition=Q(language__in=Language.values), name="step_proposal_language_known"
            ),
            models.CheckConstraint(condition=~Q(title=""), name="step_proposal_title_not_empty"),
            # Decided exactly when no longer proposed; only an accepted one made a step.
            models.CheckConstraint(
                condition=(
                    Q(status=StepProposalStatus.PROPOSED, decided_at__isnull=True)
                    | (~Q(status=StepProposalStatus.PROPOSED) & Q(decided_at__isnull=False))
                ),
                name="step_proposal_decided_iff_not_proposed",
            ),
            models.CheckConstraint(
                condition=Q(step__isnull=True)
                | Q(status__in=[StepProposalStatus.ACCEPTED, StepProposalStatus.EDITED]),
                name="step_proposal_step_only_when_accepted",
            ),
            # One open proposal per fix and guide: a second agent's same fix joins it. Also the
            # index of the lookup that finds it (guides.services.step_proposal_submit).
            models.UniqueConstraint(
                fields=["guide", "title_key"],
                condition=Q(status=StepProposalStatus.PROPOSED) & ~Q(title_key=""),
                name="step_proposal_one_open_per_fix",
            ),
        ]

    def __str__(self) -> str:
        return self.title

    @property
    def text_direction(self) -> str:
        return text_direction(self.language)

    @property
    def body_html(self) -> str:
        return render_markdown(self.body)


class StepProposalSource(models.Model):
    """One solved ticket whose fix was this proposal, with the agent's own wording of it.

    The ticket is named by its id and reference as plain values: guides never imports tickets
    (the tickets app writes these rows, tickets.services.ticket_fix_propose). A ticket carries
    one fix, so a ticket is the source of one proposal at most.
    """

    proposal = models.ForeignKey(
        StepProposal, on_delete=models.CASCADE, related_name="sources", verbose_name=_("proposal")
    )
    ticket_id = models.PositiveBigIntegerField(_("ticket"), unique=True)
    ticket_reference = models.CharField(_("ticket reference"), max_length=16)
    title = OneLineCharField(_("title"), max_length=300)
    body = models.TextField(_("body"), blank=True)
    proposed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("proposed by"),
    )
    created_at = models.DateTimeField(_("created at"), default=timezone.now)

    class Meta:
        ordering = ["created_at", "pk"]
        verbose_name = _("proposed step's ticket")
        verbose_name_plural = _("proposed step's tickets")

    def __str__(self) -> str:
        return f"{self.ticket_reference} → {self.proposal}"


# --- follow-up questions (guides.follow_up) ---------------------------------------------------


class FollowUpSource(models.TextChoices):
    PAGE = "page", _("Web page")
    API = "api", _("API")


class FollowUpQuestion(models.Model):
    """One question a customer asked in a follow-up box (a guide page, the search page) or
    through the API, what we answered with, and whether they said it answered them.

    ``shown`` lists the steps shown as answers, best first, with their scores
    ([{"step": id, "score": 0.83}, ...]; empty when nothing matched well enough, see
    guides.follow_up.MIN_SCORE); ``best_score`` is the best score found, shown or not, which is
    what the threshold is measured against. An unanswered question (nothing shown) or one the
    customer said did not answer them is a content gap (guides.gaps). The question is kept
    without e-mail addresses, links and long numbers (guides.follow_up.question_cleaned), and
    nothing about who asked.
    """

    Source = FollowUpSource

    question = models.CharField(_("question"), max_length=500)
    # The company whose guides answered (the guide page's, or the one the search page was
    # limited to); None for a question asked across every company.
    company = models.ForeignKey(
        Company,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("company"),
    )
    # The guide page it was asked on, if any.
    guide = models.ForeignKey(
        Guide,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("asked on guide"),
    )
    language = models.CharField(_("language"), max_length=8, choices=Language.choices)
    source = models.CharField(_("source"), max_length=8, choices=FollowUpSource.choices)
    asked_at = models.DateTimeField(_("asked at"), default=timezone.now)
    shown = models.JSONField(_("answers shown"), default=list, blank=True)
    answer_count = models.PositiveSmallIntegerField(_("answers shown"), default=0)
    best_score = models.FloatField(_("best score"), default=0.0)
    # The customer's "did this answer your question?": None until they say.
    answered = models.BooleanField(_("answered the customer"), null=True, blank=True)
    answered_at = models.DateTimeField(_("said at"), null=True, blank=True)

    class Meta:
        verbose_name = _("follow-up question")
        verbose_name_plural = _("follow-up questions")
        constraints = [
            models.CheckConstraint(condition=~Q(question=""), name="follow_up_question_not_empty"),
            models.CheckConstraint(
                condition=Q(language__in=Language.values), name="follow_up_language_known"
            ),
            models.CheckConstraint(
                condition=Q(source__in=FollowUpSource.values), name="follow_up_source_known"
            ),
            models.CheckConstraint(
                condition=Q(answered__isnull=True, answered_at__isnull=True)
                | Q(answered__isnull=False, answered_at__isnull=False),
                name="follow_up_answered_has_time",
            ),
            models.CheckConstraint(
                condition=Q(best_score__gte=0, best_score__lte=1), name="follow_up_score_range"
            ),
        ]
        indexes = [
            # The content gaps across every company (guides.gaps._follow_up_gaps).
            models.Index(fields=["asked_at"], name="follow_up_time_idx"),
            # The content gaps of one company (and language).
            models.Index(fields=["company", "language", "asked_at"], name="follow_up_company_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.question} ({self.language}, {self.answer_count})"


class GuideImport(models.Model):
    """Guide files uploaded in the admin, checked (a dry run) and then applied by a task.

    The files' text is kept here between the two steps, so that what is applied is what was
    checked and nothing of it comes back from the browser. Rows are short-lived: a check older
    than GUIDE_IMPORT_CHECK_HOURS can no longer be applied (guides.imports)."""

    class State(models.TextChoices):
        CHECKED = "checked", _("Checked")
        APPLYING = "applying", _("Applying")
        DONE = "done", _("Done")

    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="guide_imports",
        verbose_name=_("imported by"),
    )
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    state = models.CharField(
        _("state"), max_length=16, choices=State.choices, default=State.CHECKED
    )
    applied_at = models.DateTimeField(_("applied at"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)

    class Meta:
        verbose_name = _("guide import")
        verbose_name_plural = _("guide imports")
        constraints = [
            models.CheckConstraint(
                condition=Q(state__in=["checked", "applying", "done"]),
                name="guide_import_state_known",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.pk} ({self.state})"


class GuideImportFile(models.Model):
    """One file of a GuideImport: its text, what the dry run found, and once applied what the
    import did. ``outcome`` is empty until the file is applied (or skipped): the task applies
    only such files, one transaction each, so a task run twice imports each file once."""

    class Outcome(models.TextChoices):
        CREATED = "created", _("created")
        UPDATED = "updated", _("updated")
        UNCHANGED = "unchanged", _("unchanged")
        FAILED = "failed", _("failed")

    guide_import = models.ForeignKey(
        GuideImport, on_delete=models.CASCADE, related_name="files", verbose_name=_("import")
    )
    number = models.PositiveIntegerField(_("number"))
    name = models.CharField(_("file name"), max_length=255)
    # Empty when the file could not be decoded: it failed its check and is never applied.
    text = models.TextField(_("text"), blank=True)
    checked_outcome = models.CharField(_("dry run outcome"), max_length=16, choices=Outcome.choices)
    # What the dry run or the import found wrong: [{"field": …, "message": …}, …].
    errors = models.JSONField(_("errors"), default=list, blank=True)
    # The file has no `status`, so the guide is a draft (said as the command says it).
    draft_by_default = models.BooleanField(_("draft without a status"), default=False)
    outcome = models.CharField(_("outcome"), max_length=16, choices=Outcome.choices, blank=True)
    guide = models.ForeignKey(
        Guide,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("guide"),
    )

    class Meta:
        verbose_name = _("guide import file")
        verbose_name_plural = _("guide import files")
        ordering = ["guide_import", "number"]
        constraints = [
            models.UniqueConstraint(
                fields=["guide_import", "number"], name="guide_import_file_number_unique"
            ),
            models.CheckConstraint(
                condition=Q(checked_outcome__in=["created", "updated", "unchanged", "failed"])
                & Q(outcome__in=["", "created", "updated", "unchanged", "failed"]),
                name="guide_import_file_outcome_known",
            ),
        ]

    def __str__(self) -> str:
        return self.name
