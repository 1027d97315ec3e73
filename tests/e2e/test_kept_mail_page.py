"""A supervisor reads the e-mails `make run` kept, in Arabic, in a real browser: the list with
the Arabic subject decoded, then one e-mail with its HTML rendered in the sandboxed frame, where
the e-mail's own script does not run."""

from __future__ import annotations

import pytest
from django.core.mail import EmailMultiAlternatives
from playwright.sync_api import expect

from helpdesk.mail import FolderEmailBackend
from tests.e2e.page_checks import DESKTOP, page_checked, watch_console
from tests.factories import TicketFactory, staff_user
from tickets import notifications, roles

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

PASSWORD = "correct horse battery staple"


@pytest.fixture
def kept(settings, tmp_path):
    settings.EMAIL_BACKEND = "helpdesk.mail.FolderEmailBackend"
    settings.EMAIL_FILE_PATH = str(tmp_path / "mail")
    hostile = EmailMultiAlternatives(
        subject="A message with a script", body="Nothing to see.", to=["x@example.com"],
        connection=FolderEmailBackend(),
    )  # fmt: skip
    hostile.attach_alternative(
        '<p id="said">Hello</p><script>document.getElementById("said").textContent = "ran";'
        "parent.document.title = 'owned';</script>",
        "text/html",
    )
    hostile.send()
    ticket = TicketFactory(language="ar", requester_email="sara@example.com")
    assert notifications.customer_ticket_created_send(ticket_id=ticket.pk)
    return ticket


def test_a_supervisor_reads_the_kept_emails_in_arabic(page, live_server, kept):
    salma = staff_user("salma", roles.SUPERVISOR, is_superuser=True)
    salma.set_password(PASSWORD)
    salma.save(update_fields=["password"])
    page.set_viewport_size(DESKTOP)
    page.context.add_cookies([{"name": "django_language", "value": "ar", "url": live_server.url}])
    problems = watch_console(page)

    page.goto(f"{live_server.url}/admin/")
    page.locator("#id_username").fill("salma")
    page.locator("#id_password").fill(PASSWORD)
    page.locator("#login-form [type=submit]").click()
    page.goto(f"{live_server.url}/admin/mail/")
    expect(page.locator("html")).to_have_attribute("dir", "rtl")
    rows = page.locator("table.kept-mails tbody tr")
    expect(rows).to_have_count(2)
    subject = f"الطلب {kept.reference}: سيردّ عليك موظف دعم"
    expect(rows.first).to_contain_text(subject)  # newest first, decoded
    page_checked(page, "kept-mail-list-ar-desktop", tap_targets=False)

    rows.first.get_by_role("link").click()
    page.wait_for_load_state()
    frame = page.frame_locator("iframe.kept-mail-html")
    expect(frame.locator("body")).to_contain_text(kept.reference)
    expect(page.locator(".kept-mail-text")).to_contain_text(kept.reference)
    page_checked(page, "kept-mail-detail-ar-desktop", tap_targets=False)

    page.goto(f"{live_server.url}/admin/mail/")
    title = page.title()
    page.locator("table.kept-mails tbody tr").last.get_by_role("link").click()
    page.wait_for_load_state()
    expect(frame.locator("#said")).to_have_text("Hello")  # the script never ran
    assert page.title() != "owned"
    assert page.title().endswith(title.split("|")[-1].strip())
    # The browser reports the blocked script, and the admin's missing /favicon.ico; no more.
    assert [
        problem for problem in problems
        if not any(word in problem.lower() for word in ("script", "sandbox", "404 (not found)"))
    ] == []  # fmt: skip
