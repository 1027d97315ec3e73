"""The customer pages in a real browser: direction, layout and a policy the pages respect."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from guides.models import Guide
from tests.e2e.page_checks import watch_console

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_an_arabic_guide_is_laid_out_right_to_left(page, live_server, demo):
    guide = Guide.objects.get(company__slug="spotify", language="ar")
    problems = watch_console(page)

    page.goto(f"{live_server.url}/guides/spotify/ar/{guide.slug}/")

    expect(page.locator("html")).to_have_attribute("dir", "rtl")
    assert page.evaluate("getComputedStyle(document.body).direction") == "rtl"
    first_step = page.locator(".step").first
    # The step's accent border sits on the right edge in RTL (logical border-inline-start).
    assert (
        page.evaluate("el => getComputedStyle(el).borderRightWidth", first_step.element_handle())
        == "4px"
    )
    assert page.locator("h1").inner_text() == guide.title
    assert page.locator(".last-resort .step").count() == 1
    assert problems == []  # no CSP violation, no script error, no missing asset


def test_the_english_version_is_left_to_right_and_linked(page, live_server, demo):
    guide = Guide.objects.get(company__slug="spotify", language="ar")
    problems = watch_console(page)
    page.goto(f"{live_server.url}/guides/spotify/ar/{guide.slug}/")

    page.locator(".translations a[hreflang=en]").click()

    page.wait_for_url("**/guides/spotify/en/**")
    assert page.evaluate("getComputedStyle(document.body).direction") == "ltr"
    assert page.locator("ol li").count() >= 3
    assert problems == []


def test_the_api_docs_page_loads_without_policy_violations(page, live_server, demo):
    problems = watch_console(page)
    page.goto(f"{live_server.url}/api/docs/")
    page.wait_for_selector("text=/api/v1/guides/", timeout=15_000)
    assert [p for p in problems if "Content Security Policy" in p] == []
