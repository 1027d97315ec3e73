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
    StepProposal,
    StepProposalSource,
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


# --- Step proposals: agents' fixes for authors to decide on ----------------------------------


def user_decides_for_all_guides(user) -> bool:
    """Supervisors: they decide on the proposed steps of every company's guides."""
    return bool(
        user.is_authenticated
        and user.is_active
        and user.has_perms(["guides.change_stepproposal", "guides.decide_any_stepproposal"])
    )


def user_decides_for_guide(user, guide: Guide) -> bool:
    """Whether ``user`` may see and decide on the proposed steps of ``guide``: an author of
    its company (Company.authors) or a supervisor. Agents propose steps from their tickets
    (tickets.services.ticket_fix_propose) but never decide on them."""
    if not (
        user.is_authenticated and user.is_active and user.has_perm("guides.change_stepproposal")
    ):
        return False
    if user_decides_for_all_guides(user):
        return True
    return Company.authors.through.objects.filter(
        company_id=guide.company_id, user_id=user.pk
    ).exists()


def step_proposal_guide(*, guide: Guide, language: str) -> Guide | None:
    """The guide a fix in ``language`` is proposed to: the ticket's guide, or its version in
    the ticket's language when the two differ; None when it has none."""
    if guide.language == language:
        return guide
    return Guide.objects.filter(
        company_id=guide.company_id, translation_key=guide.translation_key, language=language
    ).first()


def step_proposals_visible_to(user) -> QuerySet[StepProposal]:
    """The proposals ``user`` may see: every one for supervisors, those of the guides of their
    companies for authors, none for anyone else."""
    proposals = StepProposal.objects.all()
    if not (user.is_authenticated and user.is_active and user.has_perm("guides.view_stepproposal")):
        return proposals.none()
    if user_decides_for_all_guides(user):
        return proposals
    return proposals.filter(guide__company__authors=user)


def step_proposals_with_counts(queryset: QuerySet[StepProposal]) -> QuerySet[StepProposal]:
    """``tickets_solved``: how many solved tickets carried each proposal's fix (a ticket is a
    source only once solved, see guides.services.step_proposal_submit)."""
    return queryset.annotate(tickets_solved=Count("sources"))


def step_proposals_open(*, guide: Guide) -> list[StepProposal]:
    """The guide's open proposals, the fix most tickets carried first, each with its count and
    its sources (tickets and the agents' wordings) prefetched: three queries at any number."""
    return list(
        step_proposals_with_counts(
            StepProposal.objects.filter(guide=guide, status=StepProposal.Status.PROPOSED)
        )
        .prefetch_related(
            Prefetch(
                "sources",
                queryset=StepProposalSource.objects.select_related("proposed_by").order_by(
                    "created_at", "pk"
                ),
            )
        )
        .order_by("-tickets_solved", "created_at", "pk")
    )


def step_proposal_of_ticket(*, ticket_id: int) -> StepProposal | None:
    """The proposal a ticket's fix went into, if its agent proposed one."""
    source = (
        StepProposalSource.objects.filter(ticket_id=ticket_id)
        .select_related("proposal", "proposal__step")
        .first()
    )
    return source.proposal if source is not None else None
