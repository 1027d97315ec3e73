"""System events are stored as facts with an English sentence, and said again in the reader's
language: an Arabic-speaking agent reads the whole timeline in Arabic."""

from __future__ import annotations

import pytest
from django.utils import translation

from tickets.events import event_body, event_sentence, event_text
from tickets.models import TicketEvent

Kind = TicketEvent.Kind

FACTS = [
    (Kind.CREATED, {"steps": 1}, "Escalated from self-help after 1 step outcome."),
    (Kind.CREATED, {"steps": 3}, "Escalated from self-help after 3 step outcomes."),
    (Kind.CREATED, {"opened": ["Reset a password", "Change a card"]},
     "Sent from the contact form after opening: Reset a password; Change a card"),
    (Kind.CREATED, {"opened": []}, "Sent from the contact form; no suggested guide was opened."),
    (Kind.ROUTED,
     {"rule": "Cards", "queue": "Billing", "conditions": [["tag", "card"], ["language", "ar"]]},
     "rule “Cards”: tag card + language ar → Billing"),
    (Kind.ROUTED, {"rule": "All", "queue": "General", "conditions": []},
     "rule “All”: matches everything → General"),
    (Kind.ROUTED, {"rule": None, "queue": "General", "conditions": []},
     "no rule matched → General"),
    (Kind.ASSIGNED, {"from": None, "to": 1, "to_name": "Alice"}, "Assigned to Alice."),
    (Kind.ASSIGNED, {"from": None, "to": 1, "to_name": "Alice", "claimed": True},
     "Claimed by Alice."),
    (Kind.ASSIGNED, {"from": 2, "to": 1, "from_name": "Bob", "to_name": "Alice"},
     "Reassigned from Bob to Alice."),
    (Kind.UNASSIGNED, {"from": 1, "to": None, "from_name": "Alice"},
     "Back in the queue; Alice no longer has it."),
    (Kind.SLA_AT_RISK, {}, "Three quarters of the time to an SLA target have passed."),
    (Kind.SLA_BREACHED, {"target": "first_response"}, "The first response target was missed."),
    (Kind.SLA_BREACHED, {"target": "resolution"}, "The resolution target was missed."),
    (Kind.PRIORITY_CHANGED, {"from": 2, "to": 3, "after_breach": True},
     "Priority raised to High after the breach."),
    (Kind.PRIORITY_CHANGED, {"from": 4, "to": 1}, "Priority: Urgent → Low."),
    (Kind.STATUS_CHANGED, {"from": "open", "to": "pending"}, "Status: Open → Pending."),
    (Kind.STATUS_CHANGED, {"from": "solved", "to": "open", "reopened": True},
     "Reopened: Solved → Open."),
    (Kind.REROUTED, {"from": 1, "to": 2, "from_name": "Billing", "to_name": "Returns"},
     "Queue: Billing → Returns."),
]  # fmt: skip


@pytest.mark.parametrize(("kind", "change", "english"), FACTS)
def test_the_stored_body_is_the_english_sentence_whatever_language_is_active(kind, change, english):
    with translation.override("ar"):
        assert event_body(kind, change) == english


def test_an_actors_note_follows_the_sentence():
    change = {"from": "open", "to": "solved", "note": "Refund sent"}
    assert event_body(Kind.STATUS_CHANGED, change, note="Refund sent") == (
        "Status: Open → Solved.\nRefund sent"
    )
    event = TicketEvent(kind=Kind.STATUS_CHANGED, change=change, body="stale text")
    with translation.override("en"):
        assert event_text(event) == "Status: Open → Solved.\nRefund sent"


@pytest.mark.parametrize(
    "event",
    [
        # Written before the facts were stored: the body, as it was.
        TicketEvent(kind=Kind.ASSIGNED, change={"from": None, "to": 1}, body="Assigned to Al."),
        TicketEvent(kind=Kind.PRIORITY_CHANGED, change={"from": 9, "to": 1}, body="As written"),
        # Messages and notes are the people's own words.
        TicketEvent(kind=Kind.AGENT_REPLY, change={}, body="Try again now, please."),
        TicketEvent(kind=Kind.INTERNAL_NOTE, change={}, body="Bank outage"),
    ],
)
def test_without_the_facts_the_body_is_shown(event):
    with translation.override("ar"):
        assert event_text(event) == event.body


def test_messages_have_no_sentence():
    assert event_sentence(Kind.CUSTOMER_MESSAGE, {}) is None


def test_in_arabic_the_sentence_is_arabic_and_the_names_stay_as_written():
    change = {"from": 1, "to": 2, "from_name": "Billing", "to_name": "Returns"}
    with translation.override("ar"):
        text = event_sentence(Kind.REROUTED, change)
        status = event_sentence(Kind.STATUS_CHANGED, {"from": "open", "to": "pending"})
    assert text is not None and text.startswith("قائمة الانتظار: Billing")
    assert text.endswith("Returns.")
    assert status is not None and "مفتوحة" in status and "معلّقة" in status


def test_a_name_that_was_not_known_falls_back_to_the_body():
    event = TicketEvent(
        kind=Kind.UNASSIGNED, change={"from": None, "to": None, "from_name": None}, body="Away."
    )
    assert event_text(event) == "Away."
    assert event_body(Kind.UNASSIGNED, event.change) == ""
