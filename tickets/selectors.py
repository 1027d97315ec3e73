"""Reads of the agent workspace: which tickets a user may see, in what order they are worked,
and what can be claimed. The admin, the API and the services all scope through here."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db.models import Case, Count, F, Min, Q, QuerySet, Value, When
from django.utils.crypto import constant_time_compare
from django.utils.translation import gettext_lazy as _

from guides.models import Attempt, Guide, Language, StepProposal
from guides.selectors import (
    step_proposal_guide,
    step_proposal_of_ticket,
    step_proposals_with_counts,
)
from tickets.models import (
    OPEN_TICKET_STATUSES,
    REFERENCE_ALPHABET,
    REFERENCE_LENGTH,
    AgentProfile,
    CannedReply,
    Queue,
    RatingScore,
    Ticket,
    TicketEvent,
    TicketRating,
    status_token_of,
)

# Breached first, then priority, then oldest; id last so the order is total (stable pages) and
# matches the work-order indexes column for column.
WORK_ORDER = (F("sla_breached").desc(), F("priority").desc(), "created_at", "id")

# What the customer may read of the thread; notes and system events stay with the staff.
PUBLIC_EVENT_KINDS = (TicketEvent.Kind.CUSTOMER_MESSAGE, TicketEvent.Kind.AGENT_REPLY)


# A ticket's SLA state, the same in the admin's filter and column and in the API. The SLA
# sweep keeps the flags; each state is a test of indexed columns, never a computation per row.
# "breached" stays once set (a ticket solved late is still breached); "at_risk" and "on_track"
# are for running clocks only, and a ticket solved or closed in time has "met" its targets.
SLA_STATES = (
    ("breached", _("Breached")),
    ("at_risk", _("At risk")),
    ("on_track", _("On track")),
    ("met", _("Met")),
)
_SLA_STATE_FILTERS = {
    "breached": Q(sla_breached=True),
    "at_risk": Q(sla_breached=False, status__in=OPEN_TICKET_STATUSES, sla_at_risk_at__isnull=False),
    "on_track": Q(sla_breached=False, status__in=OPEN_TICKET_STATUSES, sla_at_risk_at__isnull=True),
    "met": Q(sla_breached=False) & ~Q(status__in=OPEN_TICKET_STATUSES),
}


def tickets_in_sla_state(queryset: QuerySet[Ticket], state: str) -> QuerySet[Ticket]:
    return queryset.filter(_SLA_STATE_FILTERS[state])


def looks_like_reference(term: str) -> bool:
    return len(term) == REFERENCE_LENGTH and all(c in REFERENCE_ALPHABET for c in term.upper())


def tickets_matching(queryset: QuerySet[Ticket], term: str) -> QuerySet[Ticket]:
    """The agent's search box, the same in the admin and the API. One kind of match per search,
    each on an index where it can be: an e-mail address exactly in any case (the
    UPPER(requester_email) index); a reference exactly, in any case, since it is read out over
    the phone; otherwise words of the subject. A word shaped like a reference that is no
    ticket's reference is searched in subjects too."""
    term = term.strip()
    if not term:
        return queryset
    if "@" in term:
        return queryset.filter(requester_email__iexact=term)
    if looks_like_reference(term):
        by_reference = queryset.filter(reference=term.upper())
        if by_reference.exists():
            return by_reference
    return queryset.filter(subject__icontains=term)


def user_sees_all_queues(user) -> bool:
    return bool(user.is_active and user.has_perm("tickets.view_all_queues"))


def agent_profile_for(user) -> AgentProfile | None:
    """The user's agent profile, or None (supervisors and integrations may have none)."""
    return AgentProfile.objects.filter(user_id=user.pk).first()


def agent_queue_ids(user) -> QuerySet:
    """The ids of the queues ``user`` is a member of, as a subquery (no query of its own)."""
    return Queue.members.through.objects.filter(agentprofile__user=user).values("queue_id")


def _sees_tickets(user) -> bool:
    return bool(user.is_authenticated and user.is_active and user.has_perm("tickets.view_ticket"))


def tickets_visible_to(*, user, queryset: QuerySet[Ticket] | None = None) -> QuerySet[Ticket]:
    """The tickets ``user`` may see and work: every queue for supervisors, the queues they are
    a member of for agents, none for anyone else (authors, inactive or anonymous users)."""
    tickets = queryset if queryset is not None else Ticket.objects.all()
    if not _sees_tickets(user):
        return tickets.none()
    if user_sees_all_queues(user):
        return tickets
    return tickets.filter(queue_id__in=agent_queue_ids(user))


def ticket_visible_to(*, user, ticket: Ticket) -> bool:
    if not _sees_tickets(user):
        return False
    if user_sees_all_queues(user):
        return True
    return Queue.members.through.objects.filter(
        agentprofile__user=user, queue_id=ticket.queue_id
    ).exists()


def work_list(*, user) -> QuerySet[Ticket]:
    """The agent's default view: their own open tickets, then their queues' unassigned ones,
    each part in work order."""
    profile = agent_profile_for(user)
    visible = tickets_listed_for(user=user).filter(status__in=OPEN_TICKET_STATUSES)
    if profile is None:
        return visible.filter(assignee__isnull=True).order_by(*WORK_ORDER)
    mine = Q(assignee=profile)
    return (
        visible.filter(mine | Q(assignee__isnull=True))
        .alias(is_mine=Case(When(mine, then=Value(1)), default=Value(0)))
        .order_by(F("is_mine").desc(), *WORK_ORDER)
    )


def claimable_tickets(*, agent: AgentProfile) -> QuerySet[Ticket]:
    """Unassigned open tickets of the agent's queues in the agent's languages, most urgent
    first."""
    tickets = Ticket.objects.filter(
        assignee__isnull=True,
        status__in=OPEN_TICKET_STATUSES,
        queue_id__in=Queue.members.through.objects.filter(agentprofile_id=agent.pk).values(
            "queue_id"
        ),
    )
    if agent.languages:
        tickets = tickets.filter(language__in=agent.languages)
    return tickets.order_by(*WORK_ORDER)


def ticket_by_secret(*, reference: str, secret: str) -> Ticket | None:
    """The ticket a customer's link names, if ``secret`` is its status token; else None, the
    same for an unknown reference and a wrong secret. The status page and the customer API
    read through here (with what the page shows of the company, the guide and the customer's
    rating, joined)."""
    ticket = (
        Ticket.objects.select_related("company", "guide__company", "rating")
        .filter(reference=reference)
        .first()
    )
    # Compared in constant time: the answer's timing says nothing about the secret.
    if ticket is None or not constant_time_compare(secret, ticket.status_token()):
        return None
    return ticket


def ticket_thread(*, ticket: Ticket, public_only: bool = False) -> QuerySet[TicketEvent]:
    # Each message's files come with it (one more query), for every surface that shows them.
    events = (
        ticket.events.select_related("author")
        .prefetch_related("attachments")
        .order_by("created_at", "pk")
    )
    if public_only:
        events = events.filter(kind__in=PUBLIC_EVENT_KINDS)
    return events


@dataclass(frozen=True)
class TicketFixState:
    """Where a ticket's fix stands as a step of its guide, for the work page and the API."""

    # The proposal the fix went into (with ``tickets_solved``), None until proposed.
    proposal: StepProposal | None
    # The guide a fix would be proposed to (the ticket's, in its language); None without one.
    guide: Guide | None
    # That guide's open proposals, with ``tickets_solved``, the most carried first.
    open_proposals: list[StepProposal]
    # The reply the fix is drafted from.
    reply: TicketEvent | None


def ticket_fix_state(*, ticket: Ticket, reply_id: int | None = None) -> TicketFixState:
    fix = step_proposal_of_ticket(ticket_id=ticket.pk) if ticket.guide_id is not None else None
    if fix is not None:
        fix = step_proposals_with_counts(StepProposal.objects.filter(pk=fix.pk)).get()
    guide = (
        step_proposal_guide(guide=ticket.guide, language=ticket.language)
        if ticket.guide is not None
        else None
    )
    open_proposals = (
        list(
            step_proposals_with_counts(
                StepProposal.objects.filter(guide=guide, status=StepProposal.Status.PROPOSED)
            ).order_by("-tickets_solved", "created_at", "pk")
        )
        if guide is not None
        else []
    )
    return TicketFixState(
        proposal=fix,
        guide=guide,
        open_proposals=open_proposals,
        reply=ticket_fix_reply(ticket=ticket, reply_id=reply_id),
    )


def ticket_fix_reply(*, ticket: Ticket, reply_id: int | None = None) -> TicketEvent | None:
    """The agent's reply that was the ticket's fix: the one named, or else the latest."""
    replies = ticket.events.filter(kind=TicketEvent.Kind.AGENT_REPLY)
    if reply_id is not None:
        return replies.filter(pk=reply_id).first()
    return replies.order_by("-created_at", "-pk").first()


# How many of the most urgent tickets of each (queue, language) pair claim next considers.
# More than the agents who can race for the same pair at once, so a claimer nearly always
# finds one that nobody else holds; when not, the caller falls back to claimable_tickets.
CLAIM_CANDIDATES_PER_PAIR = 32


def claim_next_candidate_sql() -> str:
    """PostgreSQL: the most urgent claimable ticket of an agent that nobody else is claiming,
    locked FOR UPDATE SKIP LOCKED (parameters: languages, per_pair, agent).

    A plain ``queue_id IN (…) AND language IN (…) ORDER BY …`` makes PostgreSQL collect and
    sort every unassigned ticket of the agent's queues (thousands at a million tickets, about
    20 ms). Here each (queue, language) pair is a LIMITed scan of ticket_claim_next_idx in
    work order, and only those few rows are sorted (under 1 ms). SKIP LOCKED passes over rows
    another claim holds instead of queueing behind it; when every candidate is held, the
    caller falls back to claimable_tickets.
    """
    # Table and status names come from the models; every value is a query parameter. The status
    # test is written out as the partial index's condition is, so that PostgreSQL uses it.
    open_statuses = ", ".join(f"'{status}'" for status in OPEN_TICKET_STATUSES)
    return f"""
SELECT t.id FROM {Ticket._meta.db_table} t
WHERE t.id IN (
    SELECT c.id
    FROM {Queue.members.through._meta.db_table} m
    CROSS JOIN unnest(%(languages)s::varchar[]) AS l(language)
    CROSS JOIN LATERAL (
        SELECT id FROM {Ticket._meta.db_table}
        WHERE queue_id = m.queue_id AND language = l.language
          AND assignee_id IS NULL AND status IN ({open_statuses})
        ORDER BY sla_breached DESC, priority DESC, created_at, id
        LIMIT %(per_pair)s
    ) c
    WHERE m.agentprofile_id = %(agent)s
)
AND t.assignee_id IS NULL AND t.status IN ({open_statuses})
ORDER BY t.sla_breached DESC, t.priority DESC, t.created_at, t.id
LIMIT 1
FOR UPDATE OF t SKIP LOCKED
"""  # noqa: S608


def claim_next_candidate_params(*, agent: AgentProfile) -> dict:
    return {
        "languages": list(agent.languages or Language.values),
        "per_pair": CLAIM_CANDIDATES_PER_PAIR,
        "agent": agent.pk,
    }


def tickets_listed_for(*, user, queryset: QuerySet[Ticket] | None = None) -> QuerySet[Ticket]:
    """tickets_visible_to for lists over the whole table (the admin changelist, the ticket
    API): the same tickets, but an agent's queue ids are read first (one small query) and
    compared as values instead of an IN (subquery).

    With the subquery PostgreSQL cannot tell how many tickets the agent's queues hold: it
    guessed one queue and few rows, and at a million tickets read every ticket of the agent's
    queues through the queue index for a filtered page (0.2–0.9 s, docs/performance.md). With
    the ids it estimates the filter and takes the index of the list's order instead."""
    visible = tickets_visible_to(user=user, queryset=queryset)
    if visible.query.is_empty() or user_sees_all_queues(user):
        return visible
    tickets = queryset if queryset is not None else Ticket.objects.all()
    return tickets.filter(
        queue_id__in=list(agent_queue_ids(user).values_list("queue_id", flat=True))
    )


# --- the supervisor's overview -------------------------------------------------------------------


@dataclass(frozen=True)
class QueueLoad:
    queue: Queue
    open: int = 0
    waiting: int = 0  # open and unassigned
    breached: int = 0
    at_risk: int = 0
    paused: int = 0  # pending on the customer: the resolution clock stands still
    oldest_waiting_since: datetime | None = None


def queue_loads() -> list[QueueLoad]:
    """Each queue's open work, in two queries whatever the number of tickets: one grouped
    count over the open tickets (ticket_sla_open_idx's rows), one for the queues."""
    open_tickets = Ticket.objects.filter(status__in=OPEN_TICKET_STATUSES)
    rows = {
        row["queue_id"]: row
        for row in open_tickets.values("queue_id").annotate(
            open=Count("pk"),
            waiting=Count("pk", filter=Q(assignee__isnull=True)),
            breached=Count("pk", filter=Q(sla_breached=True)),
            at_risk=Count("pk", filter=Q(sla_breached=False, sla_at_risk_at__isnull=False)),
            paused=Count("pk", filter=Q(sla_paused_at__isnull=False)),
            oldest_waiting_since=Min("created_at", filter=Q(assignee__isnull=True)),
        )
    }
    loads = []
    for queue in Queue.objects.order_by("name"):
        row = rows.get(queue.pk, {})
        loads.append(
            QueueLoad(
                queue=queue,
                **{key: value for key, value in row.items() if key != "queue_id"},
            )
        )
    return loads


def agent_loads() -> QuerySet[AgentProfile]:
    """Every agent with their open tickets against their capacity, busiest first."""
    return (
        AgentProfile.objects.select_related("user")
        .prefetch_related("queues")
        .order_by(F("open_tickets").desc(), "user__first_name", "user__username")
    )


def escalation_by_secret(*, reference: str, secret: str) -> Attempt | None:
    """The escalation whose ticket the worker has not made yet, named by the reference it
    reserved, if ``secret`` is that reference's status token (status_token_of); else None.
    The status page answers such a link at once ("we are passing your request to a
    person") instead of a 404."""
    attempt = (
        Attempt.objects.select_related("guide__company", "company")
        .filter(ticket_reference=reference, status=Attempt.Status.ESCALATED, ticket__isnull=True)
        .first()
    )
    if attempt is None or not constant_time_compare(secret, status_token_of(reference)):
        return None
    return attempt


def satisfaction_summary(*, since: datetime, bad_comments: int = 5) -> dict:
    """The supervisors' overview of the ratings given or changed since ``since``: how many,
    the share of good ones, and the latest comments of bad ones with their tickets."""
    ratings = TicketRating.objects.filter(updated_at__gte=since)
    counts = ratings.aggregate(
        total=Count("pk"), good=Count("pk", filter=Q(score=RatingScore.GOOD))
    )
    total, good = counts["total"], counts["good"]
    latest_bad = list(
        ratings.filter(score=RatingScore.BAD)
        .exclude(comment="")
        .select_related("ticket")
        .order_by("-updated_at")[:bad_comments]
    )
    return {
        "total": total,
        "good": good,
        "good_share": good / total if total else None,
        "latest_bad": latest_bad,
    }


# --- the agent's context on the work page -----------------------------------------------------

# How many of the customer's other tickets the work page lists (newest first).
CUSTOMER_OTHER_TICKETS = 10


def customer_other_tickets(
    *, ticket: Ticket, user, limit: int = CUSTOMER_OTHER_TICKETS
) -> list[Ticket]:
    """The customer's other tickets that ``user`` may see, newest first: the same requester
    e-mail, whatever its case (ticket_requester_email_idx). One query."""
    if not ticket.requester_email:
        return []
    tickets = tickets_visible_to(
        user=user, queryset=Ticket.objects.filter(requester_email__iexact=ticket.requester_email)
    )
    return list(
        tickets.exclude(pk=ticket.pk)
        .only("pk", "reference", "subject", "status", "created_at", "merged_into_id")
        .order_by("-created_at", "-pk")[:limit]
    )


def canned_replies_for(*, ticket: Ticket) -> QuerySet[CannedReply]:
    """The active canned replies offered on ``ticket``: its language, its queue's and those for
    every queue (canned_reply_picker_idx), most used first."""
    return CannedReply.objects.filter(
        Q(queue_id=ticket.queue_id) | Q(queue__isnull=True),
        language=ticket.language,
        is_active=True,
    ).order_by("-usage_count", "title", "pk")
