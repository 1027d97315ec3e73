"""Reads of the guides app that pages, the API and commands share."""

from __future__ import annotations

from django.db.models import Case, Count, Prefetch, Q, QuerySet, When

from guides.models import (
    Attempt,
    Company,
    Feedback,
    Guide,
    Step,
    StepOutcome,
    attempt_token_hash,
)


def published_guides() -> QuerySet[Guide]:
    return (
        Guide.objects.filter(status=Guide.Status.PUBLISHED)
        .select_related("company")
        .prefetch_related("tags")
    )


def published_guides_for_reader(*, language: str) -> QuerySet[Guide]:
    """Published guides, those in the reader's language first, then the most viewed."""
    return published_guides().order_by(
        Case(When(language=language, then=0), default=1), "-view_count", "title", "pk"
    )


def published_guide_detail() -> QuerySet[Guide]:
    """Published guides with everything a guide page shows, in a fixed number of queries."""
    return published_guides().prefetch_related(
        Prefetch("steps", queryset=Step.objects.order_by("position"))
    )


def guide_translations(*, guide: Guide) -> QuerySet[Guide]:
    """The other published language versions of the same guide."""
    return (
        Guide.objects.filter(
            company_id=guide.company_id,
            translation_key=guide.translation_key,
            status=Guide.Status.PUBLISHED,
        )
        .exclude(pk=guide.pk)
        .order_by("language")
    )


def companies_with_published_guides() -> QuerySet[Company]:
    return Company.objects.annotate(
        published_guide_count=Count("guides", filter=Q(guides__status=Guide.Status.PUBLISHED))
    ).filter(published_guide_count__gt=0)


def guides_for_export(*, company: str | None = None, language: str | None = None):
    guides = (
        Guide.objects.select_related("company")
        .prefetch_related("tags", Prefetch("steps", queryset=Step.objects.order_by("position")))
        .order_by("company__slug", "slug", "language")
    )
    if company:
        guides = guides.filter(company__slug=company)
    if language:
        guides = guides.filter(language=language)
    return guides


def attempt_by_token(token: str | None, *, joined: bool = True) -> Attempt | None:
    """The attempt a customer's secret token opens, or None. Compared by hash: the database
    never holds the token, and an index lookup on a 256-bit hash leaks nothing by timing.

    With its guide, company and ticket unless ``joined`` is False, for a caller that needs
    the attempt's own columns only (the escalate request: three joins it would not read)."""
    if not token or len(token) > 200:
        return None
    attempts = Attempt.objects.filter(token_hash=attempt_token_hash(token))
    if joined:
        attempts = attempts.select_related("guide", "guide__company", "ticket")
    return attempts.first()


def attempt_outcome_history(*, attempt: Attempt) -> list[StepOutcome]:
    """Every outcome of the attempt in the order the customer recorded them."""
    return list(attempt.outcomes.order_by("recorded_at", "pk"))


def current_outcomes(history: list[StepOutcome]) -> dict[int, StepOutcome]:
    """The latest outcome per step id: what the customer says of each step now."""
    current: dict[int, StepOutcome] = {}
    for outcome in history:
        if outcome.step_id is not None:
            current[outcome.step_id] = outcome
    return current


def attempt_feedback(*, attempt: Attempt) -> Feedback | None:
    return Feedback.objects.filter(attempt=attempt).first()
