"""An author reads the content gaps in Arabic in a real browser: a customer's search that
found nothing, made on the site, shows right to left with its words left to right; marking it
handled takes it off the list."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.core.management import call_command
from playwright.sync_api import expect

from guides.models import Company, ContentGapHandled, SearchLog
from tests.factories import staff_user
from tickets import roles

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

PASSWORD = "correct horse battery staple"


@pytest.fixture
def browser_context_args(browser_context_args):
    # Headless Chromium says so in its User-Agent, and obvious robots' searches are not logged.
    return {**browser_context_args, "user_agent": "Mozilla/5.0 (X11; Linux x86_64) Chrome/130.0"}


def test_an_author_reads_the_gaps_in_arabic_and_marks_a_search_handled(
    page, live_server, pytestconfig
):
    call_command("import_guides", str(Path("guides/demo_guides")), verbosity=0)
    spotify = Company.objects.get(slug="spotify")
    amira = staff_user("amira", roles.AUTHOR)
    amira.set_password(PASSWORD)
    amira.save(update_fields=["password"])
    spotify.authors.add(amira)

    # A customer searches Spotify's guides for something no guide covers.
    page.goto(f"{live_server.url}/companies/spotify/")
    page.get_by_label("Describe your problem").fill("podcast refund")
    page.get_by_role("button", name="Search").click()
    page.wait_for_load_state()
    assert SearchLog.objects.get().query == "podcast refund"
    page.context.clear_cookies()

    page.goto(f"{live_server.url}/admin/")
    page.get_by_label("Username").fill("amira")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_load_state()
    page.goto(f"{live_server.url}/admin/guides/guide/")
    page.get_by_role("link", name="Content gaps").click()
    page.wait_for_load_state()
    page.context.add_cookies([{"name": "django_language", "value": "ar", "url": live_server.url}])
    page.reload()

    expect(page.locator("html")).to_have_attribute("dir", "rtl")
    searches = page.locator("#searches")
    assert "عمليات بحث بلا نتيجة أو بلا فتح" in searches.inner_text()
    query = searches.get_by_role("link", name="podcast refund")
    assert query.get_attribute("dir") == "ltr"
    # The table's first column sits on the right, as Arabic reads.
    first_cell = searches.locator("thead th").first.bounding_box()
    last_cell = searches.locator("thead th").last.bounding_box()
    assert first_cell["x"] > last_cell["x"]

    shots = Path(pytestconfig.getoption("--output")) / "e2e"
    shots.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(shots / "content-gaps-arabic.png"), full_page=True)

    searches.get_by_role("button", name="تعليم بأنه عولج").first.click()
    page.wait_for_load_state()
    assert "عُلِّم بأنه عولج" in page.locator(".messagelist").inner_text()
    assert page.locator("#searches").get_by_role("link", name="podcast refund").count() == 0
    assert ContentGapHandled.objects.get().handled_by == amira
