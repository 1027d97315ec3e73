"""Karim answers an Arabic ticket with an Arabic canned reply in a real browser: the picker
inserts the filled-in text right to left into the reply box with its status, he sends it,
and the reply counts as one use. Emma has the same ticket open, and his page says so."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.e2e.page_checks import SCREENSHOTS, watch_console
from tests.factories import TicketFactory, agent_in
from tickets.models import CannedReply, Queue, TicketEvent

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

PASSWORD = "correct horse battery staple"


def sign_in(page, live_server, username: str) -> None:
    page.goto(f"{live_server.url}/admin/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_load_state()


def test_karim_inserts_an_arabic_canned_reply_and_sends_it(browser, page, live_server):
    queue = Queue.objects.create(name="Billing", slug="billing")
    karim = agent_in(queue, username="karim", languages=["ar"])
    emma = agent_in(queue, username="emma", languages=["ar", "en"])
    for agent in (karim, emma):
        agent.user.set_password(PASSWORD)
        agent.user.save(update_fields=["password"])
    ticket = TicketFactory(queue=queue, language="ar", requester_name="ليلى")
    canned = CannedReply.objects.create(
        language="ar", title="نحتاج إلى تفاصيل", status_after="pending",
        body="مرحبًا {customer_name}، ما نوع جهازك؟ المرجع: {reference}",
        internal_note="سألنا عن الجهاز.",
    )  # fmt: skip
    work_page = f"{live_server.url}/admin/tickets/ticket/{ticket.pk}/change/"

    # Emma has the ticket open in her own browser.
    emmas = browser.new_context()
    emmas_page = emmas.new_page()
    sign_in(emmas_page, live_server, "emma")
    emmas_page.goto(work_page)

    problems = watch_console(page)
    sign_in(page, live_server, "karim")
    page.goto(work_page)
    expect(page.locator("#presence")).to_contain_text("Emma is viewing")

    page.locator("#id_canned_reply_pick").select_option(str(canned.pk))
    page.get_by_role("button", name="Use").click()

    box = page.locator(".reply-form textarea")
    expected = f"مرحبًا ليلى، ما نوع جهازك؟ المرجع: {ticket.reference}"
    expect(box).to_have_value(expected)  # inserted in place: no page load
    expect(page.locator(".reply-form select[name=status_after]")).to_have_value("pending")
    assert page.locator("#id_canned_reply_pick").get_attribute("dir") == "rtl"
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "canned-reply-inserted.png"), full_page=True)

    page.get_by_role("button", name="Send reply").click()
    page.wait_for_load_state()
    expect(page.locator(".thread")).to_contain_text(expected)

    ticket.refresh_from_db()
    canned.refresh_from_db()
    assert ticket.status == "pending" and canned.usage_count == 1
    assert ticket.events.filter(
        kind=TicketEvent.Kind.INTERNAL_NOTE, body="سألنا عن الجهاز."
    ).exists()
    assert problems == []
    emmas.close()
