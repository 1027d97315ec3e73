"""Customers walk a guide in a real browser, in Arabic and in English (no JavaScript needed)."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.utils import translation
from playwright.sync_api import expect

from guides.models import Attempt, Feedback, Guide

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def ar(message: str) -> str:
    """The Arabic the page shows for an interface string (from the compiled catalogue)."""
    with translation.override("ar"):
        return translation.gettext(message)


def step_form(page, position: int):
    return page.locator(f"#step-{position}")


def mark(page, position: int, outcome_label: str, note: str = "") -> None:
    """Answer a step as a customer does: open it if it is collapsed, open "Add what happened"
    for a note, press the outcome; the page updates in place (guides/static/guides/guide.js)."""
    step = step_form(page, position)
    if step.get_attribute("open") is None:
        step.locator("> summary").click()
    if note:
        step.locator("details.note > summary").click()
        step.locator("input[name=note]").fill(note)
    step.get_by_role("button", name=outcome_label, exact=True).click()
    step_form(page, position).locator(".step-outcome-label").wait_for()


def test_an_arabic_customer_walks_the_spotify_guide_and_asks_for_a_person(
    page, live_server, demo, pytestconfig
):
    guide = Guide.objects.get(company__slug="spotify", language="ar")
    steps = list(guide.steps.order_by("position"))
    page.goto(live_server.url)
    page.select_option("#language-select", "ar")
    page.get_by_role("button", name="Switch").click()  # the interface is still English here
    expect(page.locator("html")).to_have_attribute("dir", "rtl")

    page.get_by_label(ar("Describe your problem")).fill("البطاقة")
    page.get_by_role("button", name=ar("Search"), exact=True).click()
    page.get_by_role("link", name=guide.title).click()

    expect(page.locator("html")).to_have_attribute("dir", "rtl")
    headings = page.locator(".step h3").all_inner_texts()
    assert [h.split(" ", 1)[1].strip() for h in headings] == [s.title for s in steps]

    mark(page, 1, ar("Didn't work"), note="رسالة خطأ: تعذّرت معالجة البطاقة")
    mark(page, 2, ar("Couldn't do this"))
    mark(page, 3, ar("Didn't work"))
    assert step_form(page, 1).locator(".step-state").get_attribute("data-outcome") == (
        "did_not_work"
    )
    page.locator("#feedback details.note > summary").click()
    page.locator("#feedback-comment").fill("الخطوة الأولى قديمة")
    page.get_by_role("button", name=ar("Needs work")).click()
    page.locator("#feedback .step-state").wait_for()
    page.get_by_role("link", name=ar("Talk to a person")).click()
    page.get_by_label(ar("What is still going wrong?")).fill("ما زالت البطاقة مرفوضة")
    page.get_by_label(ar("Your e-mail address")).fill("layla@example.com")
    page.get_by_role("button", name=ar("Ask for a person")).click()
    assert "layla@example.com" in page.locator("main").inner_text()

    attempt = Attempt.objects.get()
    assert attempt.status == "escalated"
    assert attempt.description == "ما زالت البطاقة مرفوضة"
    assert [(o.step_position, o.outcome, o.note) for o in attempt.outcomes.all()] == [
        (1, "did_not_work", "رسالة خطأ: تعذّرت معالجة البطاقة"),
        (2, "could_not_do", ""),
        (3, "did_not_work", ""),
    ]
    feedback = Feedback.objects.get()
    assert (feedback.attempt, feedback.helpful) == (attempt, False)

    page.goto(f"{live_server.url}/guides/spotify/ar/{guide.slug}/")
    shots = Path(pytestconfig.getoption("--output")) / "e2e"
    shots.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(shots / "arabic-spotify-walk.png"), full_page=True)


def test_an_english_customer_is_fixed_by_the_second_step(page, live_server, demo):
    guide = Guide.objects.get(company__slug="spotify", language="en")
    page.goto(f"{live_server.url}/guides/spotify/en/{guide.slug}/")

    mark(page, 2, "This fixed it")

    assert "Glad that fixed it" in page.locator(".banner-resolved").inner_text()
    assert step_form(page, 2).locator(".step-state").get_attribute("data-outcome") == "worked"
    assert Attempt.objects.get().status == "resolved"
