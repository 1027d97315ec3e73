"""Idempotency-Key on the API's POSTs: a retry with the same key gets the first answer and
the work is done once.

Personas: Sam walks a guide and asks for a person, Rita another customer who picked the same
key; Alice is an agent of Billing, Bob another agent of Billing.
"""

from __future__ import annotations

import re
import threading
import uuid
from datetime import timedelta

import pytest
from django.db import connection
from django.test import override_settings
from django.utils import timezone
from rest_framework.test import APIClient

from guides.models import Attempt, StepOutcome
from helpdesk import idempotency, tasks
from helpdesk.models import IdempotencyRecord
from tests.factories import TicketFactory
from tests.helpers import client_for
from tickets.models import Ticket, TicketEvent

CONTACT = "/api/v1/attempt/contact/"
OUTCOMES = "/api/v1/attempt/outcomes/"
SAM = {"description": "The card is still refused", "email": "sam@example.com"}


def new_key() -> str:
    return str(uuid.uuid4())


def start(guide, *, address: str = "127.0.0.1", key: str | None = None):
    headers = {"HTTP_IDEMPOTENCY_KEY": key} if key else {}
    return APIClient().post(f"/api/v1/guides/{guide.pk}/attempts/", REMOTE_ADDR=address, **headers)


def customer(guide) -> APIClient:
    api = APIClient()
    response = start(guide)
    assert response.status_code == 201
    api.credentials(HTTP_X_ATTEMPT_TOKEN=response.json()["token"])
    return api


@pytest.fixture
def sam(guide_with_steps) -> APIClient:
    return customer(guide_with_steps)


@pytest.fixture
def ticket(billing) -> Ticket:
    return TicketFactory(queue=billing, subject="Card declined at checkout")


def first_step(guide) -> int:
    return guide.steps.order_by("position").first().pk


# --- a retry with the key ----------------------------------------------------------------


def test_a_lost_202_retried_with_its_key_is_the_same_202_and_one_escalation(
    sam, django_capture_on_commit_callbacks
):
    key = new_key()
    with django_capture_on_commit_callbacks() as published:
        first = sam.post(CONTACT, SAM, HTTP_IDEMPOTENCY_KEY=key)
    with django_capture_on_commit_callbacks() as published_again:
        retry = sam.post(CONTACT, SAM, HTTP_IDEMPOTENCY_KEY=key)  # the 202 was lost

    assert (first.status_code, retry.status_code) == (202, 202)
    assert retry.content == first.content
    assert retry["Location"] == first["Location"] == "/api/v1/attempt/"
    assert retry["Content-Type"] == "application/json"
    assert retry[idempotency.REPLAYED_HEADER] == "true"
    assert idempotency.REPLAYED_HEADER not in first
    # The escalation was handed to the workers once, by the first request.
    assert (len(published), len(published_again)) == (1, 0)
    assert Attempt.objects.get().status == Attempt.Status.ESCALATED


def test_without_the_header_a_second_contact_is_409_as_before(sam):
    assert sam.post(CONTACT, SAM).status_code == 202
    again = sam.post(CONTACT, SAM)
    assert again.status_code == 409
    assert again.json()["code"] == "attempt_closed"
    assert not IdempotencyRecord.objects.exists()


def test_a_step_outcome_retried_with_its_key_is_recorded_once(sam, guide_with_steps):
    key = new_key()
    body = {"step": first_step(guide_with_steps), "outcome": "did_not_work", "note": "E-42"}
    first = sam.post(OUTCOMES, body, HTTP_IDEMPOTENCY_KEY=key)
    retries = [sam.post(OUTCOMES, body, HTTP_IDEMPOTENCY_KEY=key) for _ in range(3)]

    assert [r.status_code for r in (first, *retries)] == [201] * 4
    assert {r.content for r in retries} == {first.content}
    assert StepOutcome.objects.count() == 1


def test_starting_an_attempt_twice_with_one_key_gives_one_attempt_and_its_token(
    guide_with_steps,
):
    key = new_key()
    first = start(guide_with_steps, key=key)
    retry = start(guide_with_steps, key=key)

    assert (first.status_code, retry.status_code) == (201, 201)
    assert retry.json()["token"] == first.json()["token"]
    assert Attempt.objects.count() == 1


def test_an_agent_reply_retried_with_its_key_is_sent_once(alice, ticket):
    client = client_for(alice)
    key = new_key()
    url = f"/api/v1/tickets/{ticket.reference}/reply/"
    body = {"body": "Which card did you use?", "status_after": "pending"}
    first = client.post(url, body, HTTP_IDEMPOTENCY_KEY=key)
    retry = client.post(url, body, HTTP_IDEMPOTENCY_KEY=key)

    assert (first.status_code, retry.status_code) == (201, 201)
    assert retry.json() == first.json()
    assert ticket.events.filter(kind=TicketEvent.Kind.AGENT_REPLY).count() == 1


def test_a_refused_body_is_replayed_too(sam):
    key = new_key()
    first = sam.post(CONTACT, {"description": ""}, HTTP_IDEMPOTENCY_KEY=key)
    retry = sam.post(CONTACT, {"description": ""}, HTTP_IDEMPOTENCY_KEY=key)

    assert (first.status_code, retry.status_code) == (400, 400)
    assert retry.json() == first.json()
    assert retry[idempotency.REPLAYED_HEADER] == "true"


# --- the key names one request -------------------------------------------------------------


def test_the_same_key_with_another_body_is_422_and_does_nothing(sam, guide_with_steps):
    key = new_key()
    step = first_step(guide_with_steps)
    sam.post(OUTCOMES, {"step": step, "outcome": "did_not_work"}, HTTP_IDEMPOTENCY_KEY=key)
    other = sam.post(OUTCOMES, {"step": step, "outcome": "worked"}, HTTP_IDEMPOTENCY_KEY=key)

    assert other.status_code == 422
    assert other.json()["code"] == "idempotency_key_reused"
    assert other.json()["status"] == 422
    assert list(StepOutcome.objects.values_list("outcome", flat=True)) == ["did_not_work"]


def test_the_same_key_on_another_operation_is_422(sam, guide_with_steps):
    key = new_key()
    body = {"step": first_step(guide_with_steps), "outcome": "did_not_work"}
    assert sam.post(OUTCOMES, body, HTTP_IDEMPOTENCY_KEY=key).status_code == 201
    abandon = sam.post("/api/v1/attempt/abandon/", HTTP_IDEMPOTENCY_KEY=key)

    assert abandon.status_code == 422
    assert Attempt.objects.get().status == Attempt.Status.IN_PROGRESS


@pytest.mark.parametrize("key", ["", "   ", "x" * 256, "tab\there", "é-key", "nul\x00"])
def test_a_malformed_key_is_400_naming_the_header(sam, key):
    response = sam.post(CONTACT, SAM, HTTP_IDEMPOTENCY_KEY=key)
    assert response.status_code == 400
    assert not re.fullmatch(idempotency.KEY_PATTERN, key)  # the schema says so too
    assert list(response.json()["errors"]) == [idempotency.HEADER]
    assert Attempt.objects.get().status == Attempt.Status.IN_PROGRESS


def test_a_key_of_255_visible_characters_is_taken(sam):
    key = "k" + " ~" * 126 + "!!"
    assert len(key) == 255
    assert re.fullmatch(idempotency.KEY_PATTERN, key)  # as the schema tells clients
    assert sam.post(CONTACT, SAM, HTTP_IDEMPOTENCY_KEY=key).status_code == 202
    assert sam.post(CONTACT, SAM, HTTP_IDEMPOTENCY_KEY=key).status_code == 202


# --- whose key ---------------------------------------------------------------------------


def test_another_customer_with_the_same_key_gets_their_own_answer(guide_with_steps, sam):
    rita = customer(guide_with_steps)
    key = "retry-1"  # a careless client library: every customer's first key is the same
    sams = sam.post(CONTACT, SAM, HTTP_IDEMPOTENCY_KEY=key)
    ritas = rita.post(
        CONTACT, {"description": "Refund missing", "email": "rita@example.com"},
        HTTP_IDEMPOTENCY_KEY=key,
    )  # fmt: skip

    assert (sams.status_code, ritas.status_code) == (202, 202)
    assert IdempotencyRecord.objects.count() == 2
    assert set(Attempt.objects.values_list("contact_email", flat=True)) == {
        "sam@example.com",
        "rita@example.com",
    }


def test_attempts_started_from_two_addresses_with_one_key_get_two_tokens(guide_with_steps):
    key = new_key()
    first = start(guide_with_steps, address="192.0.2.1", key=key)
    second = start(guide_with_steps, address="192.0.2.2", key=key)

    assert first.json()["token"] != second.json()["token"]
    assert Attempt.objects.count() == 2
    assert IdempotencyRecord.objects.count() == 2


def test_another_agent_with_the_same_key_does_their_own_work(alice, bob, billing, ticket):
    billing.members.add(bob)  # Bob helps out on Billing: both may note Billing's ticket
    key = new_key()
    url = f"/api/v1/tickets/{ticket.reference}/notes/"
    for agent in (alice, bob):
        response = client_for(agent).post(url, {"body": "Checked"}, HTTP_IDEMPOTENCY_KEY=key)
        assert response.status_code == 201
    notes = ticket.events.filter(kind=TicketEvent.Kind.INTERNAL_NOTE)
    assert sorted(notes.values_list("author__username", flat=True)) == ["alice", "bob"]
    assert IdempotencyRecord.objects.count() == 2


def test_one_agent_with_two_tokens_replays_their_answer(alice, ticket):
    key = new_key()
    url = f"/api/v1/tickets/{ticket.reference}/notes/"
    first = client_for(alice).post(url, {"body": "Checked"}, HTTP_IDEMPOTENCY_KEY=key)
    retry = client_for(alice).post(url, {"body": "Checked"}, HTTP_IDEMPOTENCY_KEY=key)
    assert retry.content == first.content
    assert ticket.events.filter(kind=TicketEvent.Kind.INTERNAL_NOTE).count() == 1


def test_a_session_caller_is_scoped_to_their_user_and_checked_for_csrf(alice, ticket):
    csrf = "a" * 32
    browser = APIClient(enforce_csrf_checks=True)
    browser.force_login(alice.user)
    browser.cookies["csrftoken"] = csrf
    url = f"/api/v1/tickets/{ticket.reference}/notes/"
    forged = browser.post(url, {"body": "Checked"}, HTTP_IDEMPOTENCY_KEY="k")
    first = browser.post(url, {"body": "Checked"}, HTTP_IDEMPOTENCY_KEY="k", HTTP_X_CSRFTOKEN=csrf)
    with_token = client_for(alice).post(url, {"body": "Checked"}, HTTP_IDEMPOTENCY_KEY="k")

    assert forged.status_code in (401, 403)  # refused, and not kept: the retry went through
    assert first.status_code == 201
    assert with_token.content == first.content  # the same user, by session or by token
    assert ticket.events.filter(kind=TicketEvent.Kind.INTERNAL_NOTE).count() == 1


def test_the_record_keeps_no_credential_and_no_address(sam, guide_with_steps):
    token = sam._credentials["HTTP_X_ATTEMPT_TOKEN"]
    assert sam.post(CONTACT, SAM, HTTP_IDEMPOTENCY_KEY="k1").status_code == 202
    start(guide_with_steps, address="198.51.100.7", key="k2")

    assert IdempotencyRecord.objects.count() == 2
    for record in IdempotencyRecord.objects.all():
        assert len(record.scope_hash) == 64 and int(record.scope_hash, 16) >= 0  # a digest
        assert token not in record.scope_hash
        assert "198.51.100.7" not in record.scope_hash
        assert len(record.scope_hash) == 64


# --- what is not kept ----------------------------------------------------------------------


def test_refusals_of_the_caller_or_the_state_are_not_kept(sam, alice, ticket):
    assert sam.post(CONTACT, SAM).status_code == 202
    conflict = sam.post(CONTACT, SAM, HTTP_IDEMPOTENCY_KEY="late")  # 409: escalated already
    wrong = APIClient().post(
        CONTACT, SAM, HTTP_X_ATTEMPT_TOKEN="not-a-token", HTTP_IDEMPOTENCY_KEY="guess"
    )
    anonymous = APIClient().post(
        f"/api/v1/tickets/{ticket.reference}/notes/", {"body": "x"}, HTTP_IDEMPOTENCY_KEY="k"
    )

    assert (conflict.status_code, wrong.status_code, anonymous.status_code) == (409, 404, 401)
    assert not IdempotencyRecord.objects.exists()


def test_a_caller_without_credentials_is_refused_whatever_the_key(guide_with_steps, ticket):
    key = new_key()
    assert start(guide_with_steps, key=key).status_code == 201  # this address used the key
    anonymous = APIClient().post(
        f"/api/v1/tickets/{ticket.reference}/notes/", {"body": "x"}, HTTP_IDEMPOTENCY_KEY=key
    )
    assert anonymous.status_code == 401


def test_an_agent_who_lost_the_permission_is_refused_not_replayed(alice, ticket):
    client = client_for(alice)
    key = new_key()
    url = f"/api/v1/tickets/{ticket.reference}/notes/"
    assert client.post(url, {"body": "Checked"}, HTTP_IDEMPOTENCY_KEY=key).status_code == 201
    alice.user.groups.clear()

    assert client.post(url, {"body": "Checked"}, HTTP_IDEMPOTENCY_KEY=key).status_code == 403


# --- expiry ------------------------------------------------------------------------------


def test_a_key_past_its_time_to_live_runs_again(sam):
    key = new_key()
    assert sam.post(CONTACT, SAM, HTTP_IDEMPOTENCY_KEY=key).status_code == 202
    IdempotencyRecord.objects.update(created_at=timezone.now() - timedelta(hours=23, minutes=59))
    assert sam.post(CONTACT, SAM, HTTP_IDEMPOTENCY_KEY=key).status_code == 202  # replayed
    IdempotencyRecord.objects.update(created_at=timezone.now() - timedelta(hours=24, seconds=1))

    late = sam.post(CONTACT, SAM, HTTP_IDEMPOTENCY_KEY=key)
    assert late.status_code == 409  # done again, and refused: the attempt is escalated
    assert not IdempotencyRecord.objects.exists()  # the expired record is gone, none kept


@override_settings(IDEMPOTENCY_KEY_TTL=60)
def test_the_time_to_live_is_a_setting(sam):
    key = new_key()
    assert sam.post(CONTACT, SAM, HTTP_IDEMPOTENCY_KEY=key).status_code == 202
    IdempotencyRecord.objects.update(created_at=timezone.now() - timedelta(seconds=50))
    assert sam.post(CONTACT, SAM, HTTP_IDEMPOTENCY_KEY=key).status_code == 202
    IdempotencyRecord.objects.update(created_at=timezone.now() - timedelta(seconds=61))
    assert sam.post(CONTACT, SAM, HTTP_IDEMPOTENCY_KEY=key).status_code == 409


def test_the_purge_task_deletes_expired_records_only(sam, guide_with_steps):
    assert sam.post(CONTACT, SAM, HTTP_IDEMPOTENCY_KEY="old").status_code == 202
    start(guide_with_steps, key="fresh")
    IdempotencyRecord.objects.filter(key="old").update(
        created_at=timezone.now() - timedelta(days=2)
    )

    assert tasks.purge_idempotency_records() == 1
    assert list(IdempotencyRecord.objects.values_list("key", flat=True)) == ["fresh"]


def test_beat_purges_hourly_on_the_maintenance_queue(settings):
    from helpdesk.celery import app

    entry = settings.CELERY_BEAT_SCHEDULE["purge-idempotency-records"]
    assert entry["task"] == tasks.purge_idempotency_records.name
    route = app.amqp.router.route({}, entry["task"])
    assert route["queue"].name == "maintenance"


# --- the schema --------------------------------------------------------------------------


def test_the_schema_offers_the_key_on_every_post_and_documents_the_422(client, db):
    schema = client.get("/api/schema/?format=json").json()
    posts = {path: item["post"] for path, item in schema["paths"].items() if "post" in item}

    assert len(posts) >= 15
    for path, operation in posts.items():
        names = [parameter["name"] for parameter in operation.get("parameters", [])]
        assert names.count(idempotency.HEADER) == 1, path
        assert "422" in operation["responses"], path
    for item in schema["paths"].values():
        assert idempotency.HEADER not in str(item.get("get", ""))


# --- concurrency -------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_concurrent_requests_with_one_key_record_the_outcome_once(guide_with_steps):
    # PostgreSQL: the losers' inserts wait on the unique index; SQLite: their transactions
    # wait for the write lock (BEGIN IMMEDIATE). Either way one request does the work.
    token = start(guide_with_steps).json()["token"]
    body = {"step": first_step(guide_with_steps), "outcome": "did_not_work"}
    key = new_key()
    clients = 8
    barrier = threading.Barrier(clients)
    answers: list = []
    errors: list[BaseException] = []

    def post() -> None:
        try:
            api = APIClient()
            api.credentials(HTTP_X_ATTEMPT_TOKEN=token)
            barrier.wait(timeout=30)
            answers.append(api.post(OUTCOMES, body, format="json", HTTP_IDEMPOTENCY_KEY=key))
        except BaseException as error:  # surfaced below, not lost in the thread
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=post) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert errors == []
    assert [answer.status_code for answer in answers] == [201] * clients
    assert len({answer.content for answer in answers}) == 1
    assert StepOutcome.objects.count() == 1
    replayed = [answer for answer in answers if answer.has_header(idempotency.REPLAYED_HEADER)]
    assert len(replayed) == clients - 1
