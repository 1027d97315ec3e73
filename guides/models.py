from __future__ import annotations

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.db.models.functions import Lower
from django.utils.translation import gettext_lazy as _

from guides.markdown import render_markdown

# Authors use positions up to this; the database allows twice as much so that re-ordering can
# park steps above it without colliding on unique(guide, position).
MAX_STEP_POSITION = 500


class Language(models.TextChoices):
    ARABIC = "ar", _("Arabic")
    ENGLISH = "en", _("English")


RTL_LANGUAGES = frozenset({Language.ARABIC})


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

    @property
    def is_rtl(self) -> bool:
        return self.language in RTL_LANGUAGES

    @property
    def text_direction(self) -> str:
        return "rtl" if self.is_rtl else "ltr"

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
