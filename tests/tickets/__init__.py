"""Tickets: the e-mails of the escalation path and the customer's status page.

ticket_escalated() walks the customer's real path (a guide, an attempt, step outcomes, "talk
to a person", the escalation task's service) so the tests see the tickets customers produce.
"""

from __future__ import annotations

from guides import services as guide_services
from tests.factories import GuideFactory, StepFactory
from tickets import services as ticket_services
from tickets.models import Ticket

# Per language: the guide's title, its steps and what the customer did at each.
STORIES = {
    "en": {
        "title": "I can't change my payment card",
        "steps": [
            ("Check the card's expiry date", "did_not_work", "It says <declined> & nothing else"),
            ("Try another card", "could_not_do", ""),
        ],
        "description": "Both cards are refused.",
    },
    "ar": {
        "title": "لا أستطيع تغيير بطاقة الدفع",
        "steps": [
            ("تحقّق من تاريخ انتهاء البطاقة", "did_not_work", "تظهر رسالة: البطاقة مرفوضة"),
            ("جرّب بطاقة أخرى", "could_not_do", ""),
        ],
        "description": "البطاقتان مرفوضتان.",
    },
}


def ticket_escalated(
    *, language: str = "en", name: str = "Sam", email: str = "sam@customer.example"
) -> Ticket:
    story = STORIES[language]
    guide = GuideFactory(language=language, title=story["title"])
    attempt, _ = guide_services.attempt_start(guide=guide)
    for position, (title, outcome, note) in enumerate(story["steps"], start=1):
        step = StepFactory(guide=guide, position=position, title=title)
        guide_services.step_outcome_record(
            attempt=attempt, step_id=step.pk, outcome=outcome, note=note
        )
    guide_services.attempt_contact_submit(
        attempt=attempt, description=story["description"], name=name, email=email
    )
    ticket = ticket_services.ticket_create_from_attempt(attempt_id=attempt.pk)
    assert ticket is not None
    return ticket
