"""An agent works a ticket in a real browser: logs into the admin, claims the next ticket,
reads what the customer tried, replies; the customer's status page then shows the reply."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.core.management import call_command
from playwright.sync_api import expect

from guides import services as guide_services
from guides.models import Guide, StepOutcomeKind
from tests.factories import agent_in
from tickets import services
from tickets.models import Queue, Ticket

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

PASSWORD = "correct horse battery staple"


@pytest.fixture
def waiting_ticket(transactional_db) -> Ticket:
    """Layla's Arabic ticket, made the way customers make them, waiting in an empty queue."""
    call_command("import_guides", str(Path("guides/demo_guides")), verbosity=0)
    Queue.objects.create(name="Billing (Arabic)", slug="billing-ar", is_fallback=True)
    guide = Guide.objects.get(company__slug="spotify", language="ar")
    first, second = guide.steps.order_by("position")[:2]
    attempt, _token = guide_services.attempt_start(guide=guide)
    guide_services.step_outcome_record(
        attempt=attempt, step_id=first.pk, outcome=StepOutcomeKind.DID_NOT_WORK,
        note="رسالة خطأ: تعذّرت معالجة البطاقة",
    )  # fmt: skip
    guide_services.step_outcome_record(
        attempt=attempt, step_id=second.pk, outcome=StepOutcomeKind.COULD_NOT_DO
    )
    guide_services.attempt_contact_submit(
        attempt=attempt, description="ما زالت البطاقة مرفوضة", email="layla@example.com"
    )
    ticket = services.ticket_create_from_attempt(attempt_id=attempt.pk)
    assert ticket is not None and ticket.assignee is None  # nobody staffs the queue yet
    return ticket


def test_an_agent_claims_reads_the_tried_steps_and_replies_and_the_customer_sees_it(
    page, live_server, waiting_ticket, pytestconfig
):
    karim = agent_in(
        Queue.objects.get(slug="billing-ar"), username="karim", languages=["ar"], capacity=5
    )
    karim.user.set_password(PASSWORD)
    karim.user.save(update_fields=["password"])

    page.goto(f"{live_server.url}/admin/")
    page.get_by_label("Username").fill("karim")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.goto(f"{live_server.url}/admin/tickets/ticket/")
    page.get_by_role("button", name="Claim next ticket").click()
    page.wait_for_load_state()

    # The claimed ticket's work page, with the customer's history before anything else.
    assert waiting_ticket.reference in page.locator(".ticket-header").inner_text()
    tried = page.locator(".tried-steps .tried-step")
    assert tried.count() == 2
    first_step = tried.nth(0)
    assert "تعذّرت معالجة البطاقة" in first_step.inner_text()
    assert first_step.locator(".tried-step-note").get_attribute("dir") == "auto"
    assert "Didn't work" in first_step.inner_text()
    assert "Couldn't do this" in tried.nth(1).inner_text()

    reply = "شكرًا، أضفنا البطاقة من جهتنا. جرّب الآن من فضلك."
    page.locator(".reply-form textarea").fill(reply)
    page.get_by_role("button", name="Send reply").click()
    page.wait_for_load_state()
    assert reply in page.locator(".thread").inner_text()

    shots = Path(pytestconfig.getoption("--output")) / "e2e"
    shots.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(shots / "agent-workspace.png"), full_page=True)

    waiting_ticket.refresh_from_db()
    assert waiting_ticket.assignee == karim
    assert waiting_ticket.status == "open"
    assert waiting_ticket.first_responded_at is not None

    # The customer's side: the secret link from the e-mail shows the reply, right to left.
    page.context.clear_cookies()
    page.goto(
        f"{live_server.url}/tickets/{waiting_ticket.reference}/{waiting_ticket.status_token()}/"
    )
    expect(page.locator("html")).to_have_attribute("dir", "rtl")
    assert reply in page.locator("main").inner_text()
    page.screenshot(path=str(shots / "customer-status-page.png"), full_page=True)
