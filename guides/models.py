from __future__ import annotations

import hashlib
import secrets

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.db.models.functions import Lower
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from guides.markdown import render_markdown

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

    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=100, unique=True)
    website = models.URLField(blank=True)
    support_phone = models.CharField(max_length=50, blank=True)
    support_email = models.EmailField(blank=True)
    support_chat_url = models.URLField(blank=True)
    support_hours = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "companies"
        constraints = [
            models.CheckConstraint(condition=~Q(slug=""), name="company_slug_not_empty"),
            models.CheckConstraint(condition=~Q(name=""), name="company_name_not_empty"),
        ]

    def __str__(self) -> str:
        return self.name


class Tag(models.Model):
    slug = models.SlugField(max_length=50, unique=True)

    class Meta:
        ordering = ["slug"]
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

    company = models.ForeignKey(Company, on_delete=models.PROTECT, related_name="guides")
    slug = models.SlugField(max_length=150)
    language = models.CharField(max_length=8, choices=Language.choices)
    # Versions of the same guide in other languages share this key.
    translation_key = models.SlugField(max_length=150)
    title = models.CharField(max_length=300, help_text=_("The customer's question."))
    summary = models.TextField(blank=True, help_text=_("Markdown."))
    tags = models.ManyToManyField(Tag, related_name="guides", blank=True)
    status = models.CharField(max_length=16, choices=GuideStatus.choices, default=GuideStatus.DRAFT)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    view_count = models.PositiveBigIntegerField(default=0)
    helpful_count = models.PositiveIntegerField(default=0)
    needs_work_count = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["company__name", "title"]
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

    guide = models.ForeignKey(Guide, on_delete=models.CASCADE, related_name="steps")
    position = models.PositiveSmallIntegerField(
        validators=[MinValueValidator(1), MaxValueValidator(MAX_STEP_POSITION)]
    )
    kind = models.CharField(max_length=16, choices=StepKind.choices, default=StepKind.PROCEDURE)
    title = models.CharField(max_length=300)
    body = models.TextField(blank=True, help_text=_("Markdown."))

    class Meta:
        ordering = ["guide", "position"]
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


def attempt_token_new() -> str:
    # 256 random bits; the database keeps only its SHA-256 (see Attempt.token_hash).
    return secrets.token_urlsafe(32)


def attempt_token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


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
        Guide, on_delete=models.PROTECT, null=True, blank=True, related_name="attempts"
    )
    # The company a guide-less customer named, if any (with a guide, the guide's company).
    company = models.ForeignKey(
        Company, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    # Guides the contact form suggested and the customer opened before writing anyway.
    opened_guides = models.ManyToManyField(Guide, related_name="+", blank=True)
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    language = models.CharField(max_length=8, choices=Language.choices)
    status = models.CharField(
        max_length=16, choices=AttemptStatus.choices, default=AttemptStatus.IN_PROGRESS
    )
    started_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    contact_name = models.CharField(max_length=200, blank=True)
    contact_email = models.EmailField(blank=True)
    description = models.TextField(blank=True)
    escalation_requested_at = models.DateTimeField(null=True, blank=True)
    # Times a worker started turning this escalation into a ticket. A message that keeps
    # killing its worker is redelivered again and again; past a bound it is parked here for a
    # supervisor instead of looping forever (see tickets.services.escalation_delivery_count).
    escalation_deliveries = models.PositiveSmallIntegerField(default=0)
    escalation_parked_at = models.DateTimeField(null=True, blank=True)
    user_agent = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["-started_at"]
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
        ]

    def __str__(self) -> str:
        return f"Attempt {self.pk} at {self.guide}"


class StepOutcomeKind(models.TextChoices):
    WORKED = "worked", _("This fixed it")
    DID_NOT_WORK = "did_not_work", _("Didn't work")
    COULD_NOT_DO = "could_not_do", _("Couldn't do this")
    SKIPPED = "skipped", _("Skipped")


class StepOutcome(models.Model):
    """What happened when the customer tried one step. Rows are never edited: a later outcome
    for the same step becomes the current one and the earlier ones stay as history."""

    Outcome = StepOutcomeKind

    attempt = models.ForeignKey(Attempt, on_delete=models.CASCADE, related_name="outcomes")
    # Kept when the guide is later edited: the copy below is what the customer saw.
    step = models.ForeignKey(
        Step, on_delete=models.SET_NULL, null=True, blank=True, related_name="outcomes"
    )
    step_position = models.PositiveSmallIntegerField()
    step_kind = models.CharField(max_length=16, choices=StepKind.choices)
    step_title = models.CharField(max_length=300)
    outcome = models.CharField(max_length=16, choices=StepOutcomeKind.choices)
    note = models.TextField(blank=True)
    recorded_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["recorded_at", "pk"]
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
        ]

    def __str__(self) -> str:
        return f"{self.step_title}: {self.outcome}"


class Feedback(models.Model):
    """'Was this helpful?' for a guide, from an attempt or from a passing reader."""

    guide = models.ForeignKey(Guide, on_delete=models.CASCADE, related_name="feedback")
    attempt = models.ForeignKey(
        Attempt, on_delete=models.CASCADE, null=True, blank=True, related_name="feedback"
    )
    helpful = models.BooleanField()
    comment = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at"]
        verbose_name_plural = "feedback"
        constraints = [
            # One answer per attempt; answering again changes it.
            models.UniqueConstraint(
                fields=["attempt"],
                condition=Q(attempt__isnull=False),
                name="feedback_one_per_attempt",
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
        Guide, on_delete=models.CASCADE, primary_key=True, related_name="search_document"
    )
    # Copied from the guide so that the company and language filters need no join.
    company = models.ForeignKey(Company, on_delete=models.CASCADE, related_name="+")
    language = models.CharField(max_length=8, choices=Language.choices)
    title = models.TextField()
    summary = models.TextField(blank=True)
    # Step titles and bodies, tag slugs and the company name.
    body = models.TextField(blank=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(language__in=Language.values), name="guide_search_language_known"
            ),
        ]

    def __str__(self) -> str:
        return f"Search document of guide {self.guide_id}"
