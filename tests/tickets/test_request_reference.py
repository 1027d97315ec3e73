"""The reference of a request for a person is reserved when the customer asks, in the
escalation's one UPDATE, so the confirmation shows it (and its status link) before a worker
makes the ticket; the worker gives the ticket that reference, exactly once.

Persona: Sam walks a guide and asks for a person.
"""

from __future__ import annotations

import itertools

import pytest

from guides import services as guide_services
from guides.models import Attempt
from tests.factories import TicketFactory
from tickets import services
from tickets.models import REFERENCE_ALPHABET, REFERENCE_LENGTH, Ticket, status_token_of
from tickets.selectors import escalation_by_secret, ticket_by_secret

pytestmark = pytest.mark.django_db


def sams_attempt(guide) -> Attempt:
    attempt, _token = guide_services.attempt_start(guide=guide)
    return attempt


def test_it_reserves_a_reference_when_the_customer_asks_for_a_person(guide_with_steps):
    attempt = services.escalation_request(
        attempt=sams_attempt(guide_with_steps), description="Still refused", email="sam@x.example"
    )

    stored = Attempt.objects.get(pk=attempt.pk)
    assert stored.ticket_reference == attempt.ticket_reference
    assert len(stored.ticket_reference) == REFERENCE_LENGTH
    assert set(stored.ticket_reference) <= set(REFERENCE_ALPHABET)


def test_the_worker_gives_the_ticket_the_reserved_reference(guide_with_steps):
    attempt = services.escalation_request(
        attempt=sams_attempt(guide_with_steps), description="Still refused"
    )

    ticket = services.ticket_create_from_attempt(attempt_id=attempt.pk)

    assert ticket.reference == attempt.ticket_reference
    # The status link shown at once is the ticket's link.
    assert ticket.status_token() == status_token_of(attempt.ticket_reference)
    # Run again (a redelivered task): the same ticket, no second one.
    assert services.ticket_create_from_attempt(attempt_id=attempt.pk) == ticket
    assert Ticket.objects.filter(attempt=attempt).count() == 1


def test_a_reference_taken_already_is_drawn_again_and_the_escalation_kept(
    guide_with_steps, monkeypatch
):
    first = services.escalation_request(attempt=sams_attempt(guide_with_steps), description="First")
    draws = itertools.chain([first.ticket_reference], itertools.repeat("ZZZZZZZZZZ"))
    monkeypatch.setattr("tickets.services.escalation.ticket_reference_new", lambda: next(draws))

    second = services.escalation_request(
        attempt=sams_attempt(guide_with_steps), description="Second"
    )

    stored = Attempt.objects.get(pk=second.pk)
    assert stored.status == Attempt.Status.ESCALATED
    assert stored.ticket_reference == second.ticket_reference == "ZZZZZZZZZZ"
    assert Attempt.objects.get(pk=first.pk).ticket_reference == first.ticket_reference


def test_asking_twice_keeps_the_first_reference(guide_with_steps):
    attempt = services.escalation_request(
        attempt=sams_attempt(guide_with_steps), description="First"
    )
    with pytest.raises(guide_services.AttemptClosedError):
        services.escalation_request_by_id(attempt_id=attempt.pk, description="Again")

    assert Attempt.objects.get(pk=attempt.pk).ticket_reference == attempt.ticket_reference


def test_an_escalation_recorded_without_a_reference_still_gets_its_ticket(guide_with_steps):
    """Escalations recorded before references were reserved (or by a path that reserves
    none): the worker draws one and writes it back to the attempt."""
    attempt = sams_attempt(guide_with_steps)
    guide_services.attempt_contact_submit(attempt=attempt, description="Recorded before")
    assert Attempt.objects.get(pk=attempt.pk).ticket_reference is None

    made = services.escalations_ticket(seconds=5)

    assert made == 1
    ticket = Ticket.objects.get(attempt=attempt)
    assert Attempt.objects.get(pk=attempt.pk).ticket_reference == ticket.reference


def test_a_status_link_names_the_escalation_until_its_ticket_exists(guide_with_steps):
    attempt = services.escalation_request(
        attempt=sams_attempt(guide_with_steps), description="Waiting"
    )
    reference = attempt.ticket_reference
    secret = status_token_of(reference)

    assert escalation_by_secret(reference=reference, secret=secret).pk == attempt.pk
    assert escalation_by_secret(reference=reference, secret="0" * 40) is None
    assert ticket_by_secret(reference=reference, secret=secret) is None

    ticket = services.ticket_create_from_attempt(attempt_id=attempt.pk)

    assert escalation_by_secret(reference=reference, secret=secret) is None
    assert ticket_by_secret(reference=reference, secret=secret) == ticket


def test_the_migration_copied_older_tickets_references(db):
    """Every ticket's reference is its attempt's (the worker writes it back; migration 0016
    copied the older ones): one unique index keeps reservations from naming older tickets."""
    from importlib import import_module

    from django.apps import apps
    from django.db import connection

    ticket = TicketFactory()
    Attempt.objects.filter(pk=ticket.attempt_id).update(ticket_reference=None)
    migration = import_module("tickets.migrations.0016_request_ratings")

    class Editor:  # what the migration's function uses of a schema editor
        def __init__(self):
            self.connection = connection

        def execute(self, sql):
            with connection.cursor() as cursor:
                cursor.execute(sql)

    migration.references_copy(apps, Editor())

    assert Attempt.objects.get(pk=ticket.attempt_id).ticket_reference == ticket.reference


def test_a_reference_the_worker_draws_that_is_taken_is_drawn_again(guide_with_steps, monkeypatch):
    """An escalation without a reserved reference whose drawn one is taken already (by
    another attempt's reservation): its batch fails, and its next try draws again."""
    taken = services.escalation_request(
        attempt=sams_attempt(guide_with_steps), description="Reserved"
    ).ticket_reference
    unreserved = sams_attempt(guide_with_steps)
    guide_services.attempt_contact_submit(attempt=unreserved, description="Recorded before")
    Attempt.objects.exclude(pk=unreserved.pk).update(awaiting_ticket=False)  # that one alone
    draws = itertools.chain([taken], itertools.repeat("YYYYYYYYYY"))
    monkeypatch.setattr("tickets.services.escalation.ticket_reference_new", lambda: next(draws))

    services.escalations_ticket(seconds=5, gather=0)

    ticket = Ticket.objects.get(attempt=unreserved)
    assert ticket.reference == "YYYYYYYYYY"
    assert Attempt.objects.get(pk=unreserved.pk).ticket_reference == "YYYYYYYYYY"
