"""Issue 14's channels in one walk, in a real browser and against a real IMAP server: Layla
attaches a screenshot on her Arabic status page; Karim sees it on the work page and answers
with an Arabic canned reply; Layla answers that reply's e-mail from her mail program, the
message lands in the support mailbox, the poll takes it, and both threads show it."""

from __future__ import annotations

from collections.abc import Iterator
from email.message import EmailMessage
from email.utils import make_msgid

import pytest
from playwright.sync_api import expect

from tests.e2e.page_checks import SCREENSHOTS
from tests.factories import agent_in
from tests.helpers import png_bytes, ticket_escalated
from tests.mailserver import Mailbox, dovecot
from tickets import notifications, services
from tickets.models import Attachment, CannedReply, TicketEvent

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

PASSWORD = "correct horse battery staple"


@pytest.fixture
def mailbox(settings) -> Iterator[Mailbox]:
    with dovecot() as server:
        settings.INBOUND_EMAIL_ADDRESS = "support@help.example"
        settings.INBOUND_IMAP_URL = server.url
        yield server


def test_a_screenshot_a_canned_reply_and_an_emailed_answer_share_one_thread(
    page, live_server, mailbox, mailoutbox, tmp_path
):
    ticket = ticket_escalated(language="ar", name="ليلى", email="layla@customer.example")
    karim = agent_in(ticket.queue, username="karim", languages=["ar"])
    karim.user.set_password(PASSWORD)
    karim.user.save(update_fields=["password"])
    canned = CannedReply.objects.create(
        language="ar",
        title="جرّب مرة أخرى",
        body="مرحبًا {customer_name}، أصلحنا الخطأ. المرجع: {reference}",
    )
    status_page = f"{live_server.url}/tickets/{ticket.reference}/{ticket.status_token()}/"
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    # Layla: a screenshot with her answer, on her status page.
    screenshot = tmp_path / "خطأ البطاقة.png"
    screenshot.write_bytes(png_bytes(40, 30))
    page.goto(status_page)
    page.locator(".reply-form textarea").fill("هذه رسالة الخطأ التي تظهر لي")
    page.locator(".reply-form input[type=file]").set_input_files(str(screenshot))
    page.locator(".reply-form [type=submit]").click()
    page.wait_for_load_state()
    expect(page.locator(".cards > li").last.locator(".attachments a")).to_have_text(
        "خطأ البطاقة.png"
    )

    # Karim: sees the screenshot under her message, answers with the canned reply.
    page.context.clear_cookies()
    page.goto(f"{live_server.url}/admin/")
    page.get_by_label("Username").fill("karim")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.goto(f"{live_server.url}/admin/tickets/ticket/{ticket.pk}/change/")
    message = page.locator(".thread > li", has_text="هذه رسالة الخطأ التي تظهر لي")
    expect(message.locator(".attachments a")).to_have_text("خطأ البطاقة.png")
    page.locator("#id_canned_reply_pick").select_option(str(canned.pk))
    page.get_by_role("button", name="Use").click()
    answer = f"مرحبًا ليلى، أصلحنا الخطأ. المرجع: {ticket.reference}"
    expect(page.locator(".reply-form textarea")).to_have_value(answer)
    page.get_by_role("button", name="Send reply").click()
    page.wait_for_load_state()
    expect(page.locator(".thread")).to_contain_text(answer)
    canned.refresh_from_db()
    assert canned.usage_count == 1

    # The reply's e-mail, as the worker's task sends it (no worker runs beside a live server).
    reply = ticket.events.get(kind=TicketEvent.Kind.AGENT_REPLY)
    assert notifications.customer_reply_send(event_id=reply.pk)
    (sent,) = [mail for mail in mailoutbox if mail.to == ["layla@customer.example"]]
    assert sent.reply_to and sent.reply_to[0].startswith("support+")

    # Layla answers it from her mail program: above the quote, as people do.
    answer_mail = EmailMessage()
    answer_mail["From"] = "Layla <layla@customer.example>"
    answer_mail["To"] = sent.reply_to[0]
    answer_mail["Subject"] = f"Re: {sent.subject}"
    answer_mail["Message-ID"] = make_msgid(domain="customer.example")
    answer_mail["In-Reply-To"] = sent.extra_headers["Message-ID"]
    answer_mail.set_content(f"نجح الدفع الآن، شكرًا!\n\n> {answer}\n")
    mailbox.append(answer_mail)
    assert services.inbound_mailbox_poll() == 1

    expect_thread = "نجح الدفع الآن، شكرًا!"
    page.reload()
    expect(page.locator(".thread")).to_contain_text(expect_thread)
    page.context.clear_cookies()
    page.goto(status_page)
    expect(page.locator("html")).to_have_attribute("dir", "rtl")
    newest = page.locator(".cards > li").last
    expect(newest).to_contain_text(expect_thread)
    expect(newest).not_to_contain_text("> ")  # the quote is stripped
    page.screenshot(path=str(SCREENSHOTS / "channels-walk-status-page.png"), full_page=True)
    assert Attachment.objects.filter(ticket=ticket).count() == 1
