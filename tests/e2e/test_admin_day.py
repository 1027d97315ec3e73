"""An agent's day in the admin, in a real browser: Karim, whose stored language is Arabic,
signs in from an English browser and lands on his work list, right to left; switches the
admin to English in its header; works a ticket at 1366 × 900 with every column of the list in
view; and finds the same list readable on a phone. The supervisor's overview, the list and
the work page pass axe-core in both languages. Screenshots under var/test/screenshots/."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from helpdesk import services as helpdesk_services
from tests.e2e.page_checks import DESKTOP, PHONE, page_checked, watch_console
from tests.factories import CompanyFactory, GuideFactory, TicketFactory, agent_in, staff_user
from tickets import roles
from tickets.models import Queue, Ticket

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

PASSWORD = "correct horse battery staple"
COLUMNS = ["reference", "subject_display", "sla", "priority_display", "status_display", "assignee"]
# What a phone must show of each ticket without scrolling sideways.
PHONE_CELLS = ["reference", "subject_display", "sla", "status_display", "assignee"]


@pytest.fixture
def karims_desk(transactional_db) -> dict:
    """Karim (Arabic, stored) and Emma work Billing; its tickets carry the longest things a
    row shows: long subjects and company names, every SLA state, both languages."""
    billing = Queue.objects.create(name="Billing (Arabic and English)", slug="billing")
    karim = agent_in(billing, username="karim", languages=["ar", "en"], capacity=10)
    emma = agent_in(billing, username="emma", languages=["en"], capacity=10)
    for profile, last_name in ((karim, "Al-Haddad Nassar"), (emma, "Clarke-Whitmore")):
        profile.user.last_name = last_name
        profile.user.set_password(PASSWORD)
        profile.user.save(update_fields=["last_name", "password"])
    helpdesk_services.staff_language_set(user=karim.user, language="ar")
    supervisor = staff_user("salma", roles.SUPERVISOR, first_name="Salma")
    supervisor.set_password(PASSWORD)
    supervisor.save(update_fields=["password"])

    now = timezone.now()
    cedar = CompanyFactory(name="Cedar Bank of the Levant and the Gulf", slug="cedar")
    nile = CompanyFactory(name="Nile Telecom Broadband Services", slug="nile")
    arabic = GuideFactory(company=cedar, language="ar")
    english = GuideFactory(company=nile, language="en")

    def ticket(guide, **fields) -> Ticket:
        return TicketFactory(
            queue=billing, company=guide.company, guide=guide, language=guide.language,
            attempt__guide=guide, **fields,
        )  # fmt: skip

    worked = ticket(
        arabic, assignee=karim, status="open", priority=3,
        subject="لا أستطيع تغيير البطاقة التي أدفع بها اشتراكي الشهري منذ أسبوعين",
        resolution_due_at=now + timedelta(days=2, hours=3), first_responded_at=now,
    )  # fmt: skip
    ticket(
        english, assignee=karim, status="open", priority=4, sla_breached=True,
        subject="I was charged twice for the same month and the refund never arrived",
        first_response_due_at=now - timedelta(hours=5),
    )  # fmt: skip
    ticket(
        arabic, subject="رمز التحقق لا يصلني برسالة نصية", priority=2,
        first_response_due_at=now + timedelta(minutes=4), sla_at_risk_at=now,
    )  # fmt: skip
    ticket(
        english, assignee=emma, status="pending", priority=1,
        subject="Invoice address", sla_paused_at=now,
        resolution_due_at=now + timedelta(hours=20),
    )  # fmt: skip
    return {"karim": karim, "worked": worked, "supervisor": supervisor}


def sign_in(page: Page, base_url: str, username: str) -> None:
    page.goto(f"{base_url}/admin/")
    page.locator("#id_username").fill(username)
    page.locator("#id_password").fill(PASSWORD)
    page.locator("#login-form [type=submit]").click()
    page.wait_for_load_state()


def switch_language(page: Page, language: str) -> None:
    page.locator("#admin-language-select").select_option(language)
    page.locator(".admin-language button").click()
    page.wait_for_load_state()


def cells_out_of_view(page: Page, columns: list[str], *, headers: bool) -> list[str]:
    """The list's cells (of the given columns, and their headers) that are not wholly inside
    both the list's box and the viewport, or whose content overflows them: clipped."""
    return page.evaluate(
        """([columns, headers]) => {
            const box = document.querySelector('#changelist .results').getBoundingClientRect();
            const left = Math.max(box.left, 0);
            const right = Math.min(box.right, document.documentElement.clientWidth);
            const cells = [...document.querySelectorAll('#result_list tbody tr')].flatMap(row =>
                columns.map(column => row.querySelector('.field-' + column)));
            if (headers) {
                cells.push(...columns.map(
                    column => document.querySelector('#result_list th.column-' + column)));
            }
            return cells.filter(cell => {
                if (!cell) return true;
                const r = cell.getBoundingClientRect();
                return r.width === 0 || r.height === 0 || r.left < left - 1 || r.right > right + 1
                    || cell.scrollWidth > cell.clientWidth + 1;
            }).map(cell => cell
                ? `${cell.className}: ${cell.innerText.trim().slice(0, 40)}` : 'missing');
        }""",
        [columns, headers],
    )


def list_scrolls_sideways(page: Page) -> bool:
    return page.evaluate(
        """() => { const results = document.querySelector('#changelist .results');
                   return results.scrollWidth > results.clientWidth; }"""
    )


def test_an_arabic_agent_lands_on_his_work_switches_to_english_and_works_a_ticket(
    browser, live_server, karims_desk
):
    worked = karims_desk["worked"]
    # An English browser: the Arabic comes from Karim's stored choice alone.
    context = browser.new_context(viewport=DESKTOP, locale="en-US")
    page = context.new_page()
    problems = watch_console(page)

    sign_in(page, live_server.url, "karim")

    # His work list, right to left, every column inside the list's box with both sidebars open.
    assert page.url == f"{live_server.url}/admin/tickets/ticket/"
    expect(page.locator("html")).to_have_attribute("dir", "rtl")
    expect(page.locator("html")).to_have_attribute("lang", "ar")
    expect(page.locator("#changelist-filter")).to_be_visible()
    expect(page.locator("#nav-sidebar")).to_be_visible()
    # "My work": his two tickets and the queue's unassigned one, not Emma's.
    expect(page.locator("#result_list tbody tr")).to_have_count(3)
    assert cells_out_of_view(page, COLUMNS, headers=True) == []
    assert not list_scrolls_sideways(page)
    assert "Cedar Bank of the Levant" in page.locator("#result_list").inner_text()
    page_checked(page, "admin-day-list-ar-1366", tap_targets=False)

    switch_language(page, "en")

    assert page.url == f"{live_server.url}/admin/tickets/ticket/"
    expect(page.locator("html")).to_have_attribute("dir", "ltr")
    expect(page.locator("#content h1")).to_have_text("Select ticket to change")
    assert cells_out_of_view(page, COLUMNS, headers=True) == []
    assert not list_scrolls_sideways(page)
    page_checked(page, "admin-day-list-en-1366", tap_targets=False)
    page.locator("#changelist-filter").get_by_role("link", name="All visible tickets").click()
    page.wait_for_load_state()
    expect(page.locator("#result_list tbody tr")).to_have_count(4)
    assert cells_out_of_view(page, COLUMNS, headers=True) == []
    assert not list_scrolls_sideways(page)

    page.get_by_role("link", name=worked.reference).click()
    page.wait_for_load_state()
    expect(page.locator(".ticket-header")).to_contain_text(worked.reference)
    page_checked(page, "admin-day-work-en-1366", tap_targets=False)

    reply = "We updated the card on our side; please try again now."
    page.locator(".reply-form textarea").fill(reply)
    page.locator(".reply-form select[name=status_after]").select_option("pending")
    page.get_by_role("button", name="Send reply").click()
    page.wait_for_load_state()

    expect(page.locator(".thread")).to_contain_text(reply)
    worked.refresh_from_db()
    assert worked.status == "pending"
    page_checked(page, "admin-day-work-replied-en-1366", tap_targets=False)

    switch_language(page, "ar")
    expect(page.locator("html")).to_have_attribute("dir", "rtl")
    expect(page.locator(".ticket-header")).to_contain_text(worked.reference)
    page_checked(page, "admin-day-work-ar-1366", tap_targets=False)
    assert problems == []
    context.close()


def test_the_supervisors_overview_passes_axe_in_both_languages(browser, live_server, karims_desk):
    context = browser.new_context(viewport=DESKTOP, locale="en-US")
    page = context.new_page()

    sign_in(page, live_server.url, "salma")

    assert page.url == f"{live_server.url}/admin/tickets/ticket/overview/"
    expect(page.locator("html")).to_have_attribute("dir", "ltr")
    page_checked(page, "admin-day-overview-en-1366", tap_targets=False)
    switch_language(page, "ar")
    assert page.url == f"{live_server.url}/admin/tickets/ticket/overview/"
    expect(page.locator("html")).to_have_attribute("dir", "rtl")
    page_checked(page, "admin-day-overview-ar-1366", tap_targets=False)
    # The index of every model stays one link away.
    page.locator("#user-tools .site-index-link").click()
    assert page.url == f"{live_server.url}/admin/index/"
    context.close()


@pytest.mark.parametrize("language", ["ar", "en"])
def test_the_work_list_reads_on_a_phone(browser, live_server, karims_desk, language):
    helpdesk_services.staff_language_set(user=karims_desk["karim"].user, language=language)
    context = browser.new_context(viewport=PHONE, locale="en-US", is_mobile=True, has_touch=True)
    page = context.new_page()

    sign_in(page, live_server.url, "karim")

    assert page.url == f"{live_server.url}/admin/tickets/ticket/"
    expect(page.locator("html")).to_have_attribute("dir", "rtl" if language == "ar" else "ltr")
    expect(page.locator("#result_list tbody tr")).to_have_count(3)
    assert cells_out_of_view(page, PHONE_CELLS, headers=False) == []
    assert not list_scrolls_sideways(page)
    page_checked(page, f"admin-day-list-{language}-390", tap_targets=False)
    context.close()
