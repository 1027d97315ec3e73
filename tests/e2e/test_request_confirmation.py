"""A request you can't lose, in a real browser at a phone's size and a desktop's, in Arabic
and in English: the customer asks for a person at the end of a guide, sees the confirmation
with the reference and the status link, reloads it (nothing is sent again), opens the status
page while the real Celery worker makes the ticket, and, once an agent has solved it, rates
the help.

Personas: Layla (Arabic) and Sam (English) ask; Alice, the agent, solves.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from django.core.management import call_command
from django.utils import translation
from playwright.sync_api import expect

from guides.models import Attempt, Guide
from tests.e2e.page_checks import VIEWPORTS, page_checked
from tests.factories import agent_in
from tests.processes import (
    configured_broker_env,
    process_env,
    running,
    test_database_url,
    wait_for,
    worker_args,
)
from tickets import services
from tickets.models import Queue, Ticket, TicketRating

pytestmark = [pytest.mark.e2e, pytest.mark.worker, pytest.mark.django_db(transaction=True)]

CUSTOMERS = {
    "ar": {"description": "ما زالت البطاقة مرفوضة", "email": "layla@customer.example"},
    "en": {"description": "The card is still refused", "email": "sam@customer.example"},
}


@pytest.fixture
def desk(transactional_db):
    call_command("import_guides", str(Path("guides/demo_guides")), verbosity=0)
    general = Queue.objects.create(name="General", slug="general", is_fallback=True)
    return agent_in(general, username="alice", languages=["ar", "en"])


def say(language: str, message: str) -> str:
    """The page's text for an interface string, in the page's language."""
    with translation.override(language):
        return translation.gettext(message)


def checked_at_both_sizes(page, label: str) -> None:
    for name, size in VIEWPORTS.items():
        page.set_viewport_size(size)
        page_checked(page, f"{label}-{name}")


@pytest.mark.parametrize("language", ["ar", "en"])
def test_escalate_confirm_reload_follow_and_rate(page, live_server, desk, tmp_path, language):
    customer = CUSTOMERS[language]
    guide = Guide.objects.get(company__slug="spotify", language=language)
    log = tmp_path / "worker.log"
    env = process_env(
        tmp_path, DATABASE_URL=test_database_url(), EMAIL_URL=f"file://{tmp_path / 'mail'}",
        **configured_broker_env(),
    )  # fmt: skip
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    label = f"request-{language}"

    # Asked before the worker runs: the status page answers before the ticket exists.
    page.goto(f"{live_server.url}{guide.public_path()}")
    page.get_by_role("link", name=say(language, "Talk to a person")).first.click()
    page.get_by_label(say(language, "What is still going wrong?")).fill(customer["description"])
    page.get_by_label(say(language, "Your e-mail address")).fill(customer["email"])
    page.get_by_role("button", name=say(language, "Ask for a person")).click()

    # The confirmation: the reference and the status link, at once.
    attempt = Attempt.objects.get()
    reference = attempt.ticket_reference
    assert page.locator(".reference").inner_text() == reference
    expect(page.locator("html")).to_have_attribute("dir", ("rtl" if language == "ar" else "ltr"))
    page.get_by_role("button", name=say(language, "Copy the link")).click()
    expect(page.locator(".copy-result")).to_have_text(say(language, "Link copied"))
    status_url = page.locator("#status-link").get_attribute("href")
    assert page.evaluate("navigator.clipboard.readText()") == status_url
    checked_at_both_sizes(page, f"{label}-1-confirmation")

    # A reload shows the same confirmation and sends nothing again.
    page.reload()
    assert page.locator(".reference").inner_text() == reference
    assert Attempt.objects.count() == 1
    assert Attempt.objects.get().escalation_requested_at == attempt.escalation_requested_at

    page.goto(status_url)
    assert page.locator("[data-status]").get_attribute("data-status") == "pending-ticket"
    checked_at_both_sizes(page, f"{label}-2-pending")

    with running(worker_args(), env, log):
        # The worker makes the ticket; the page's script sees it and shows it.
        ticket = wait_for(
            lambda: Ticket.objects.filter(attempt=attempt).first(),
            timeout=60, what="the ticket", log=log,
        )  # fmt: skip
        assert ticket.reference == reference
        page.wait_for_selector("[data-status='new']", timeout=60_000)
        checked_at_both_sizes(page, f"{label}-3-status")

    # Alice solves it; the customer is asked to rate.
    services.ticket_reply(
        ticket=ticket, actor=desk.user, body="Fixed: please try again.", status_after="solved"
    )
    page.reload()
    assert page.locator("[data-status]").get_attribute("data-status") == "solved"
    checked_at_both_sizes(page, f"{label}-4-solved")

    page.get_by_label(say(language, "Good")).check()
    page.get_by_label(say(language, "Anything to add? (optional)")).fill(
        "شكرًا، حُلّت" if language == "ar" else "Thanks, solved"
    )
    page.get_by_role("button", name=say(language, "Send my rating")).click()
    assert page.locator("[data-rating]").get_attribute("data-rating") == "good"
    checked_at_both_sizes(page, f"{label}-5-rated")

    assert Ticket.objects.count() == 1
    rating = TicketRating.objects.get()
    assert (rating.ticket_id, rating.score) == (ticket.pk, "good")


@pytest.mark.parametrize("language", ["ar", "en"])
def test_the_contact_form_confirms_on_the_requests_own_status_page(
    page, live_server, desk, language
):
    """No guide: the contact form sends the customer to their request's status page, which
    confirms it; a reload sends nothing again."""
    customer = CUSTOMERS[language]
    page.goto(live_server.url)
    if language == "ar":
        page.select_option("#language-select", "ar")
        page.get_by_role("button", name="Switch").click()
    page.goto(f"{live_server.url}/tickets/new/?description={customer['description']}")
    assert (
        page.get_by_label(say(language, "What is going wrong?")).input_value()
        == (customer["description"])
    )
    page.get_by_label(say(language, "Your e-mail address")).fill(customer["email"])
    page.get_by_role("button", name=say(language, "Continue")).click()
    page.get_by_role("button", name=say(language, "None of these: send to a person")).click()

    attempt = Attempt.objects.get()
    assert attempt.ticket_reference in page.url and page.url.endswith("?new=1")
    assert page.locator(".reference").inner_text() == attempt.ticket_reference
    assert page.locator("[data-status]").get_attribute("data-status") == "pending-ticket"
    checked_at_both_sizes(page, f"request-{language}-contact-confirmation")
    page.reload()
    assert page.locator(".reference").inner_text() == attempt.ticket_reference
    assert Attempt.objects.count() == 1
