"""Canned replies: filling in their placeholders for one ticket, and applying one to a ticket
(the reply, the status change, the internal note and the usage count, in one transaction).

Placeholders are written in braces, in the reply's text and its internal note:

- ``{customer_name}``: the requester's name (a polite word for them when the name is blank);
- ``{reference}``: the ticket's reference;
- ``{status_link}``: the customer's status link (it is a secret: never put it in a note that
  leaves the desk);
- ``{agent_name}``: the name of the agent who uses the reply;
- ``{guide:ID}``: a published guide's title and link, e.g. ``{guide:12}``;
- ``{step:ID#POSITION}``: a step of a published guide and the link that opens it, e.g.
  ``{step:12#3}``.

The work page's guide search shows the ``{guide:…}`` and ``{step:…}`` of each result. Any other
word in braces is an unknown placeholder: a CannedReplyError that names it, never a reply with
the braces in it. Braces around anything that is not a word (``{ }``, ``{"a": 1}``) are text.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext as _

from guides.models import Guide, Step
from tickets.models import CannedReply, Ticket, TicketEvent
from tickets.services.exceptions import TicketError
from tickets.services.workflow import ticket_note, ticket_reply

if TYPE_CHECKING:
    from tickets.services._common import Actor

# A word in braces, with an optional argument after a colon: {reference}, {guide:12}.
PLACEHOLDER = re.compile(r"\{([A-Za-z_]+)(?::([^{}\s]*))?\}")
SIMPLE_PLACEHOLDERS = ("customer_name", "reference", "status_link", "agent_name")
_GUIDE_ARGUMENT = re.compile(r"[0-9]{1,18}")
_STEP_ARGUMENT = re.compile(r"([0-9]{1,18})#([0-9]{1,5})")


class CannedReplyError(TicketError):
    """The canned reply cannot be used as written (an unknown placeholder, a guide that is
    not published) or not on this ticket (another queue or language, switched off)."""

    code = "canned_reply_error"


@dataclass(frozen=True)
class _Links:
    """The guides and steps the placeholders of some replies name, fetched once for them all."""

    guides: dict[int, Guide]
    steps: dict[tuple[int, int], Step]


def _placeholder_error(name: str) -> CannedReplyError:
    return CannedReplyError(
        _(
            "Unknown placeholder {%(name)s}. Use {customer_name}, {reference}, {status_link}, "
            "{agent_name}, {guide:ID} or {step:ID#POSITION}."
        )
        % {"name": name},
        field="body",
    )


def placeholders_check(text: str) -> None:
    """Refuse a text with a placeholder no ticket could fill (the admin form's check); guides
    and steps are looked up when the reply is used, as they may be unpublished by then."""
    for match in PLACEHOLDER.finditer(text):
        name, argument = match.group(1), match.group(2)
        if name in SIMPLE_PLACEHOLDERS and argument is None:
            continue
        if name == "guide" and argument and _GUIDE_ARGUMENT.fullmatch(argument):
            continue
        if name == "step" and argument and _STEP_ARGUMENT.fullmatch(argument):
            continue
        raise _placeholder_error(match.group(0)[1:-1])


def _links_for(texts: Iterable[str]) -> _Links:
    guide_ids: set[int] = set()
    step_keys: set[tuple[int, int]] = set()
    for text in texts:
        for match in PLACEHOLDER.finditer(text):
            name, argument = match.group(1), match.group(2) or ""
            if name == "guide" and _GUIDE_ARGUMENT.fullmatch(argument):
                guide_ids.add(int(argument))
            elif name == "step" and (found := _STEP_ARGUMENT.fullmatch(argument)):
                guide_ids.add(int(found.group(1)))
                step_keys.add((int(found.group(1)), int(found.group(2))))
    if not guide_ids:
        return _Links(guides={}, steps={})
    guides = (
        Guide.objects.filter(pk__in=guide_ids, status=Guide.Status.PUBLISHED)
        .select_related("company")
        .in_bulk()
    )
    steps: dict[tuple[int, int], Step] = {}
    if step_keys:
        positions = {position for _guide, position in step_keys}
        for step in Step.objects.filter(guide_id__in=guides, position__in=positions).only(
            "pk", "guide_id", "position", "title"
        ):
            steps[(step.guide_id, step.position)] = step
    return _Links(guides=guides, steps=steps)


def _customer_name(ticket: Ticket) -> str:
    if ticket.requester_name:
        return ticket.requester_name
    with translation.override(ticket.language):
        # Translators: stands for the customer's name in a canned reply when they gave none.
        return _("valued customer")


def _status_link(ticket: Ticket) -> str:
    path = reverse(
        "tickets:status", kwargs={"reference": ticket.reference, "token": ticket.status_token()}
    )
    return f"{settings.SITE_URL}{path}"


def _agent_name(actor: Actor | None) -> str:
    if actor is None or not actor.is_authenticated:
        return ""
    return actor.get_full_name() or actor.get_username()


def _render(text: str, *, ticket: Ticket, actor: Actor | None, links: _Links) -> str:
    def fill(match: re.Match) -> str:
        name, argument = match.group(1), match.group(2)
        if argument is None:
            if name == "customer_name":
                return _customer_name(ticket)
            if name == "reference":
                return ticket.reference
            if name == "status_link":
                return _status_link(ticket)
            if name == "agent_name":
                return _agent_name(actor)
        elif name == "guide" and _GUIDE_ARGUMENT.fullmatch(argument):
            guide = links.guides.get(int(argument))
            if guide is None:
                raise CannedReplyError(
                    _("No published guide has the id %(id)s ({guide:%(id)s}).") % {"id": argument},
                    field="body",
                )
            return f"{guide.title}: {settings.SITE_URL}{guide.public_path()}"
        elif name == "step" and (step_match := _STEP_ARGUMENT.fullmatch(argument)):
            guide_id, position = int(step_match.group(1)), int(step_match.group(2))
            guide = links.guides.get(guide_id)
            step = links.steps.get((guide_id, position))
            if guide is None or step is None:
                raise CannedReplyError(
                    _("No published guide has a step %(position)s ({step:%(id)s#%(position)s}).")
                    % {"id": guide_id, "position": position},
                    field="body",
                )
            # The guide page opens the step its anchor names (guides/_step.html, guide.js).
            url = f"{settings.SITE_URL}{guide.public_path()}#step-{position}"
            return f"{step.title} ({guide.title}): {url}"
        raise _placeholder_error(match.group(0)[1:-1])

    return PLACEHOLDER.sub(fill, text)


@dataclass(frozen=True)
class RenderedCannedReply:
    """A canned reply filled in for one ticket; ``error`` instead of text when it cannot be."""

    canned_reply: CannedReply
    body: str
    internal_note: str
    error: str


def canned_replies_render(
    *, canned_replies: Iterable[CannedReply], ticket: Ticket, actor: Actor | None
) -> list[RenderedCannedReply]:
    """Each reply filled in for ``ticket``, in two queries whatever their number (the guides
    and the steps they link to); one that cannot be filled in carries its error."""
    replies = list(canned_replies)
    links = _links_for(text for r in replies for text in (r.body, r.internal_note))
    rendered = []
    for reply in replies:
        try:
            body = _render(reply.body, ticket=ticket, actor=actor, links=links)
            note = _render(reply.internal_note, ticket=ticket, actor=actor, links=links)
        except CannedReplyError as error:
            rendered.append(RenderedCannedReply(reply, "", "", error.message))
        else:
            rendered.append(RenderedCannedReply(reply, body, note, ""))
    return rendered


def canned_reply_render(*, canned_reply: CannedReply, ticket: Ticket, actor: Actor | None) -> str:
    """The reply's text filled in for ``ticket``; a CannedReplyError when it cannot be."""
    links = _links_for([canned_reply.body])
    return _render(canned_reply.body, ticket=ticket, actor=actor, links=links)


def _usable_check(canned_reply: CannedReply, ticket: Ticket) -> None:
    if (
        not canned_reply.is_active
        or canned_reply.language != ticket.language
        or canned_reply.queue_id not in (None, ticket.queue_id)
    ):
        raise CannedReplyError(
            _("This canned reply is not offered for this ticket's queue and language."),
            field="canned_reply",
        )


@transaction.atomic
def canned_reply_apply(
    *,
    canned_reply: CannedReply,
    ticket: Ticket,
    actor: Actor | None,
    body: str | None = None,
    status_after: str | None = None,
) -> TicketEvent:
    """Answer ``ticket`` with a canned reply: the public reply (ticket_reply, so it is
    e-mailed and stops the first-response clock), the reply's status change and its internal
    note, and one more use counted; all or nothing.

    ``body`` is the text the agent sent when they edited the filled-in reply (the work page
    inserts it into the reply box); None sends the reply as filled in. ``status_after`` is the
    status the agent chose instead of the reply's own; "" keeps the ticket's status.
    """
    _usable_check(canned_reply, ticket)
    links = _links_for([canned_reply.body, canned_reply.internal_note])
    if body is None:
        body = _render(canned_reply.body, ticket=ticket, actor=actor, links=links)
    note = _render(canned_reply.internal_note, ticket=ticket, actor=actor, links=links)
    if status_after is None:
        status_after = canned_reply.status_after
    event = ticket_reply(
        ticket=ticket, actor=actor, body=body, public=True, status_after=status_after or None
    )
    if note.strip():
        ticket_note(ticket=ticket, actor=actor, body=note)
    # F(): two agents using the same reply at once must both count.
    CannedReply.objects.filter(pk=canned_reply.pk).update(usage_count=F("usage_count") + 1)
    return event
