"""Reads of the guides app that pages, the API and commands share."""

from __future__ import annotations

import functools

from django.db import connection
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


def attempt_by_token(token: str | None) -> Attempt | None:
    """The attempt a customer's secret token opens, with its guide, company and ticket, or
    None. Compared by hash: the database never holds the token, and an index lookup on a
    256-bit hash leaks nothing by timing."""
    if not token or len(token) > 200:
        return None
    return (
        Attempt.objects.filter(token_hash=attempt_token_hash(token))
        .select_related("guide", "guide__company", "ticket")
        .first()
    )


def attempt_id_by_token(token: str | None) -> int | None:
    """The id of the attempt a customer's secret token opens, or None: all the escalate
    request needs before its one UPDATE (guides.services.attempt_contact_record).

    Plain SQL, written once: on the API's busiest write the ORM's compiling of this lookup
    cost four times its running (docs/performance.md, "The escalate request")."""
    if not token or len(token) > 200:
        return None
    with connection.cursor() as cursor:
        cursor.execute(_attempt_id_by_token_sql(), [attempt_token_hash(token)])
        row = cursor.fetchone()
    return row[0] if row else None


@functools.cache
def _attempt_id_by_token_sql() -> str:
    quote = connection.ops.quote_name
    meta = Attempt._meta
    return (
        f"SELECT {quote(meta.pk.column)} FROM {quote(meta.db_table)}"  # noqa: S608 (the model's own columns, quoted)
        f" WHERE {quote(meta.get_field('token_hash').column)} = %s"
    )


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
