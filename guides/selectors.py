"""Reads of the guides app that pages, the API and commands share."""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.db import connection
from django.db.models import (
    Case,
    Count,
    F,
    IntegerField,
    Max,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Coalesce
from django.utils import timezone

from guides import ordering
from guides.models import (
    AlternativesOrderChange,
    Attempt,
    Company,
    Feedback,
    Guide,
    GuideVersion,
    Step,
    StepDayTally,
    StepOutcome,
    StepProposal,
    StepProposalSource,
    attempt_token_hash,
)
from helpdesk.sql import quoted


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
    """Published guides with everything a guide page shows, in a fixed number of queries: the
    steps come with their tallies, which order the alternatives (steps_shown)."""
    return published_guides().prefetch_related(
        Prefetch("steps", queryset=steps_with_tallies().order_by("position"))
    )


def guide_preview_detail() -> QuerySet[Guide]:
    """Guides of any status with what their page shows, as published_guide_detail: a
    preview link's page (guides.views)."""
    return (
        Guide.objects.select_related("company")
        .prefetch_related("tags")
        .prefetch_related(Prefetch("steps", queryset=steps_with_tallies().order_by("position")))
    )


# --- the alternatives' order (guides.ordering) ------------------------------------------------


def steps_with_tallies(queryset: QuerySet[Step] | None = None) -> QuerySet[Step]:
    """Steps annotated with ``tally_tried`` and ``tally_worked``: what customers in the guide's
    language did at each over the last ordering.WINDOW_DAYS days, from the rollup's day tallies.

    Summed over every version of the guide: a step keeps its id (its identity) while only its
    wording changes, and a rewording is the same fix; counting from zero after every edit would
    send a guide back to the authors' order at each typo fixed (docs/learning.md). Subqueries of
    the steps' own query, so that a guide page or the API reads them in no query of their own.
    """
    since = timezone.localdate() - timedelta(days=ordering.WINDOW_DAYS)
    tallies = (
        StepDayTally.objects.filter(
            guide_id=OuterRef("guide_id"),
            step_key=OuterRef("pk"),
            language=OuterRef("guide__language"),
            day__gte=since,
        )
        .order_by()
        .values("step_key")
    )

    def total(expression) -> Coalesce:
        summed = tallies.annotate(total=Sum(expression)).values("total")
        return Coalesce(Subquery(summed, output_field=IntegerField()), Value(0))

    queryset = Step.objects.all() if queryset is None else queryset
    return queryset.annotate(
        tally_tried=total(F("worked") + F("did_not_work") + F("could_not_do")),
        tally_worked=total(F("worked")),
    )


def alternative_tallies(steps: Iterable[Step]) -> list[ordering.AlternativeTally]:
    """The tallies of a guide's alternatives in the authors' order, from steps_with_tallies
    (a step read without them counts as never tried)."""
    alternatives = sorted(
        (step for step in steps if step.kind == Step.Kind.ALTERNATIVE), key=lambda s: s.position
    )
    return [
        ordering.AlternativeTally(
            step=step.pk,
            tried=getattr(step, "tally_tried", 0),
            worked=getattr(step, "tally_worked", 0),
        )
        for step in alternatives
    ]


def guides_alternatives(guide_ids: Iterable[int]) -> dict[int, list[Step]]:
    """The alternatives of these guides with their tallies, in the authors' order: one query
    whatever the number of guides."""
    found: dict[int, list[Step]] = {pk: [] for pk in guide_ids}
    rows = steps_with_tallies(
        Step.objects.filter(guide_id__in=list(found), kind=Step.Kind.ALTERNATIVE)
    ).order_by("guide_id", "position")
    for step in rows:
        found[step.guide_id].append(step)
    return found


def alternatives_orders_last(guide_ids: Iterable[int]) -> dict[int, AlternativesOrderChange]:
    """The last recorded order of each of these guides (in its language): one query."""
    last = (
        AlternativesOrderChange.objects.filter(
            guide_id__in=list(guide_ids), language=F("guide__language")
        )
        .values("guide_id")
        .annotate(last=Max("pk"))
        .values("last")
    )
    changes = AlternativesOrderChange.objects.filter(pk__in=Subquery(last))
    return {change.guide_id: change for change in changes}


@dataclass(frozen=True)
class ShownSteps:
    """A guide's steps as one customer is shown them."""

    procedure: list[Step]
    alternatives: list[Step]
    last_resort: list[Step]

    @property
    def order(self) -> list[int]:
        return ordering.step_order(
            [s.pk for s in self.procedure],
            [s.pk for s in self.alternatives],
            [s.pk for s in self.last_resort],
        )

    @property
    def steps(self) -> list[Step]:
        return [*self.procedure, *self.alternatives, *self.last_resort]


def steps_shown(*, guide: Guide, step_order: Sequence[int] = ()) -> ShownSteps:
    """The guide's steps in the order a customer is shown them: the procedure by position; the
    alternatives in the attempt's recorded order (``step_order``) or, for a reader without
    one, in the order of what works (the authors' when pinned); the last resort by position.
    Reads ``guide.steps`` as published_guide_detail prefetches them, with their tallies."""
    steps = sorted(guide.steps.all(), key=lambda step: step.position)
    alternatives = {s.pk: s for s in steps if s.kind == Step.Kind.ALTERNATIVE}
    if step_order:
        order = ordering.arranged(list(alternatives), step_order)
    else:
        order = ordering.shown_order(alternative_tallies(steps), pinned=guide.alternatives_pinned)
    return ShownSteps(
        procedure=[s for s in steps if s.kind == Step.Kind.PROCEDURE],
        alternatives=[alternatives[pk] for pk in order],
        last_resort=[s for s in steps if s.kind == Step.Kind.LAST_RESORT],
    )


def guide_versions(*, guide: Guide) -> QuerySet[GuideVersion]:
    """The guide's versions, newest first, with the number of attempts made on each."""
    return guide.versions.annotate(attempt_count=Count("attempts")).order_by("-number")


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


def guide_with_steps(*, pk: int) -> Guide | None:
    """A guide of any status with its steps by position (the guide editor's translation
    panel), or None."""
    return (
        Guide.objects.select_related("company")
        .prefetch_related(Prefetch("steps", queryset=Step.objects.order_by("position")))
        .filter(pk=pk)
        .first()
    )


def guide_translations_with_steps(*, guide: Guide) -> QuerySet[Guide]:
    """The guide's versions in other languages, of any status, with their steps by
    position: shown beside the guide in its editor."""
    return (
        Guide.objects.filter(company_id=guide.company_id, translation_key=guide.translation_key)
        .exclude(pk=guide.pk)
        .select_related("company")
        .prefetch_related(Prefetch("steps", queryset=Step.objects.order_by("position")))
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
    """The attempt a customer's secret token opens, with its guide, company, version and ticket, or
    None. Compared by hash: the database never holds the token, and an index lookup on a
    256-bit hash leaks nothing by timing."""
    if not token or len(token) > 200:
        return None
    return (
        Attempt.objects.filter(token_hash=attempt_token_hash(token))
        .select_related("guide", "guide__company", "guide_version", "ticket")
        .defer("guide_version__steps")  # the number is all its readers show
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
    return (
        f"SELECT {quoted(Attempt, 'pk')} FROM {quoted(Attempt)}"  # noqa: S608 (the model's own columns, quoted)
        f" WHERE {quoted(Attempt, 'token_hash')} = %s"
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


# --- the guide page ---------------------------------------------------------------------------

RELATED_GUIDES = 5


def related_guides(*, guide: Guide, limit: int = RELATED_GUIDES) -> QuerySet[Guide]:
    """Other published guides of the same company in the same language: those sharing the
    most tags first, then those most often opened by customers whose attempt was on this
    guide (an attempt's opened_guides), then the most viewed. One query; the guide page keeps
    the result with the page (guides.page_cache)."""
    tag_ids = [tag.pk for tag in guide.tags.all()]
    opened = Attempt.opened_guides.through
    opened_with_this = (
        opened.objects.filter(guide_id=OuterRef("pk"), attempt__guide_id=guide.pk)
        .values("guide_id")
        .annotate(n=Count("*"))
        .values("n")  # type: ignore[misc]  # the stubs do not see the annotation
    )
    return (
        Guide.objects.filter(
            company_id=guide.company_id, language=guide.language, status=Guide.Status.PUBLISHED
        )
        .exclude(pk=guide.pk)
        .annotate(
            shared_tags=Count("tags", filter=Q(tags__in=tag_ids), distinct=True),
            opened_next=Coalesce(Subquery(opened_with_this), 0),
        )
        .select_related("company")
        .order_by("-shared_tags", "-opened_next", "-view_count", "title", "pk")[:limit]
    )


def next_unanswered_step(shown: ShownSteps, current_outcomes: dict[int, Any]) -> Step | None:
    """The first step, in the order shown, the customer has said nothing of yet: the step the
    guide page puts in focus, and where the page goes after a step is answered."""
    for step in (*shown.procedure, *shown.alternatives, *shown.last_resort):
        if step.pk not in current_outcomes:
            return step
    return None
