"""A screenshot travels in a real browser: Sam attaches one to his answer on his status page;
Alice (agent, Billing) sees it under his message on the work page and downloads it."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.e2e.page_checks import page_checked, watch_console
from tests.factories import agent_in
from tests.helpers import png_bytes, ticket_escalated
from tickets.models import Ticket

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

PASSWORD = "correct horse battery staple"


def test_sam_attaches_a_screenshot_and_alice_downloads_it(page, live_server, tmp_path):
    ticket: Ticket = ticket_escalated()
    alice = agent_in(ticket.queue, username="alice", languages=["en"])
    alice.user.set_password(PASSWORD)
    alice.user.save(update_fields=["password"])
    problems = watch_console(page)
    screenshot = tmp_path / "card error.png"
    screenshot.write_bytes(png_bytes(40, 30))

    page.goto(f"{live_server.url}/tickets/{ticket.reference}/{ticket.status_token()}/")
    page.locator(".reply-form textarea").fill("Here is what the app shows.")
    page.locator(".reply-form input[type=file]").set_input_files(str(screenshot))
    page.get_by_role("button", name="Send").click()
    page.wait_for_load_state()

    sent = page.locator(".cards > li").last
    expect(sent).to_contain_text("Here is what the app shows.")
    expect(sent.locator(".attachments a")).to_have_text("card error.png")
    page_checked(page, "attachments-status-page")
    # The customer's pages only: the admin's have no favicon, which Chromium asks for (a 404).
    assert problems == []

    page.context.clear_cookies()
    page.goto(f"{live_server.url}/admin/")
    page.get_by_label("Username").fill("alice")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.goto(f"{live_server.url}/admin/tickets/ticket/{ticket.pk}/change/")
    message = page.locator(".thread > li", has_text="Here is what the app shows.")
    link = message.locator(".attachments a")
    expect(link).to_have_text("card error.png")
    with page.expect_download() as downloading:
        link.click()
    download = downloading.value
    assert download.suggested_filename == "card error.png"
    saved = tmp_path / "downloaded.png"
    download.save_as(saved)
    assert saved.read_bytes() == png_bytes(40, 30)
