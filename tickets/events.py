"""What a system event says, in the reader's language.

The services store the facts of each system event in ``TicketEvent.change`` and its English
sentence in ``body`` (stable text for the API and for anyone reading the database). The agent
workspace renders the sentence again from the facts, in the agent's language. Events written
before their facts were stored, and customer messages, replies and notes, show their body.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.utils import translation
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from tickets.models import Priority, RatingScore, TicketEvent, TicketStatus

Kind = TicketEvent.Kind


def _name(change: dict, key: str) -> str:
    """A name the sentence needs; a missing one makes the event fall back to its body."""
    name = change[key]
    if not name:
        raise KeyError(key)
    return str(name)


def _priority(value: Any) -> str:
    return str(Priority(value).label)


def _status(value: Any) -> str:
    return str(TicketStatus(value).label)


def _condition(kind: str, value: str) -> str:
    if kind == "company":
        return _("company %(name)s") % {"name": value}
    if kind == "tag":
        return _("tag %(name)s") % {"name": value}
    if kind == "language":
        return _("language %(code)s") % {"code": value}
    return _("keyword “%(word)s”") % {"word": value}


def routing_text(*, rule: str | None, queue: str, conditions: Sequence[Sequence[str]]) -> str:
    """Why a ticket landed in its queue: the rule and the conditions of it that held."""
    if rule is None:
        return _("no rule matched → %(queue)s") % {"queue": queue}
    held = " + ".join(_condition(kind, value) for kind, value in conditions)
    return _("rule “%(rule)s”: %(conditions)s → %(queue)s") % {
        "rule": rule,
        "conditions": held or _("matches everything"),
        "queue": queue,
    }


def _created(change: dict) -> str:
    if "steps" in change:
        count = change["steps"]
        return ngettext(
            "Escalated from self-help after %(count)d step outcome.",
            "Escalated from self-help after %(count)d step outcomes.",
            count,
        ) % {"count": count}
    if change["opened"]:
        return _("Sent from the contact form after opening: %(guides)s") % {
            "guides": "; ".join(change["opened"])
        }
    return _("Sent from the contact form; no suggested guide was opened.")


def _assigned(change: dict) -> str:
    if change.get("claimed"):
        return _("Claimed by %(agent)s.") % {"agent": _name(change, "to_name")}
    if change.get("from_name"):
        return _("Reassigned from %(from)s to %(to)s.") % {
            "from": _name(change, "from_name"),
            "to": _name(change, "to_name"),
        }
    return _("Assigned to %(agent)s.") % {"agent": _name(change, "to_name")}


def _sla_breached(change: dict) -> str:
    if change["target"] == "first_response":
        return _("The first response target was missed.")
    return _("The resolution target was missed.")


def _priority_changed(change: dict) -> str:
    if change.get("after_breach"):
        return _("Priority raised to %(priority)s after the breach.") % {
            "priority": _priority(change["to"])
        }
    return _("Priority: %(from)s → %(to)s.") % {
        "from": _priority(change["from"]),
        "to": _priority(change["to"]),
    }


def _status_changed(change: dict) -> str:
    labels = {"from": _status(change["from"]), "to": _status(change["to"])}
    if change.get("by_customer"):
        if change["to"] == TicketStatus.SOLVED:
            return _("The customer marked it solved.")
        return _("The customer still needs help: reopened.")
    if change.get("reopened"):
        return _("Reopened: %(from)s → %(to)s.") % labels
    return _("Status: %(from)s → %(to)s.") % labels


def _fix_proposed(change: dict) -> str:
    if change.get("joined"):
        return _("The fix joined a proposed step of the guide: “%(title)s”.") % {
            "title": _name(change, "title")
        }
    return _("The fix was proposed as a step of the guide: “%(title)s”.") % {
        "title": _name(change, "title")
    }


def _rated(change: dict) -> str:
    score = str(RatingScore(change["score"]).label).lower()
    if change.get("from"):
        return _("The customer changed their rating from %(from)s to %(to)s.") % {
            "from": str(RatingScore(change["from"]).label).lower(),
            "to": score,
        }
    return _("The customer rated the help: %(score)s.") % {"score": score}


def _merged_into(change: dict) -> str:
    return _("Merged into %(reference)s as a duplicate, and closed.") % {
        "reference": _name(change, "to")
    }


def _merged_from(change: dict) -> str:
    return ngettext(
        "%(reference)s was merged into this ticket: %(count)d message copied here.",
        "%(reference)s was merged into this ticket: %(count)d messages copied here.",
        change["messages"],
    ) % {"reference": _name(change, "from"), "count": change["messages"]}


_SENTENCES = {
    Kind.MERGED_INTO: _merged_into,
    Kind.MERGED_FROM: _merged_from,
    Kind.RATED: _rated,
    Kind.CREATED: _created,
    Kind.ROUTED: lambda change: routing_text(
        rule=change["rule"], queue=change["queue"], conditions=change["conditions"]
    ),
    Kind.ASSIGNED: _assigned,
    Kind.UNASSIGNED: lambda change: (
        _("Back in the queue; %(agent)s no longer has it.") % {"agent": _name(change, "from_name")}
    ),
    Kind.SLA_AT_RISK: lambda change: _("Three quarters of the time to an SLA target have passed."),
    Kind.SLA_BREACHED: _sla_breached,
    Kind.PRIORITY_CHANGED: _priority_changed,
    Kind.STATUS_CHANGED: _status_changed,
    Kind.FIX_PROPOSED: _fix_proposed,
    Kind.REROUTED: lambda change: (
        _("Queue: %(from)s → %(to)s.")
        % {"from": _name(change, "from_name"), "to": _name(change, "to_name")}
    ),
}


def event_sentence(kind: str, change: dict) -> str | None:
    """The system event's sentence in the active language; None when ``change`` lacks the facts
    (an event written before they were stored) or the kind has none (messages, notes)."""
    sentence = _SENTENCES.get(kind)  # type: ignore[call-overload]
    if sentence is None:
        return None
    try:
        return sentence(change)
    except (KeyError, TypeError, ValueError):
        return None


def event_body(kind: str, change: dict, *, note: str = "") -> str:
    """What the service stores in ``body``: the English sentence, then the actor's note."""
    with translation.override("en"):
        sentence = event_sentence(kind, change) or ""
    return f"{sentence}\n{note.strip()}".strip()


def event_text(event: TicketEvent) -> str:
    """What the workspace shows for ``event``, in the active language."""
    sentence = event_sentence(event.kind, event.change or {})
    if sentence is None:
        return event.body
    note = (event.change or {}).get("note", "")
    return f"{sentence}\n{note}".strip()
