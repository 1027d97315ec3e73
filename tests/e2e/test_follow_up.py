"""The follow-up box in a real browser, as a customer on a phone or a desktop, in Arabic and in
English: a question asked on a guide page is answered in place by a step, the customer says it
answered them; a question nothing answers offers a person with the question filled in (the
pages without script: tests/guides/test_follow_up.py). Every state passes the page
checks (tests/e2e/page_checks.py); the screenshots are in var/test/screenshots/follow-up-*."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest

from guides.models import FollowUpQuestion, Guide
from tests.e2e.page_checks import SCREENSHOTS, VIEWPORTS, page_checked, watch_console

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

QUESTIONS = {
    # language: (a question a step answers, its step, a question nothing answers)
    "en": ("Can I pay with PayPal instead?", 2, "How do I download songs to listen offline?"),
    "ar": ("هل أستطيع الدفع عن طريق PayPal؟", 2, "كيف أنزل الأغاني للاستماع بدون إنترنت؟"),
}


def checked(page, label: str) -> None:
    """page_checked, and the box alone in a screenshot of its own (the page is long)."""
    page_checked(page, label)
    page.locator("#follow-up").screenshot(path=str(SCREENSHOTS / f"{label}-box.png"))


def ask(page, question: str) -> None:
    page.locator("#follow-up-question").fill(question)
    page.locator(".follow-up-form button[type=submit]").click()
    page.locator(".follow-up-answers .follow-up-result").wait_for()


@pytest.mark.parametrize("size", list(VIEWPORTS))
@pytest.mark.parametrize("language", list(QUESTIONS))
def test_a_follow_up_is_answered_in_place_by_a_step(page, live_server, demo, language, size):
    guide = Guide.objects.get(company__slug="spotify", language=language)
    answered, position, unanswered = QUESTIONS[language]
    problems = watch_console(page)
    page.set_viewport_size(VIEWPORTS[size])
    url = f"{live_server.url}{guide.public_path()}"
    page.goto(url)
    box = page.locator("#follow-up")
    box.scroll_into_view_if_needed()
    checked(page, f"follow-up-{language}-{size}-1-box")

    ask(page, answered)
    first = box.locator(".follow-up-list li").first
    assert first.locator("a").get_attribute("href") == f"{guide.public_path()}#step-{position}"
    assert first.locator("mark").count() >= 1
    assert page.url == url  # answered in place: no page load
    assert box.locator(".follow-up-found").evaluate("el => el === document.activeElement")
    checked(page, f"follow-up-{language}-{size}-2-answered")

    box.locator(".follow-up-verdict button[value=yes]").click()
    box.locator(".follow-up-thanks").wait_for()
    stored = FollowUpQuestion.objects.get()
    assert stored.answered is True and stored.shown[0]["score"] >= 0.5
    checked(page, f"follow-up-{language}-{size}-3-said-yes")

    # The step's link leads to the step on the page.
    first.locator("a").click()
    page.wait_for_function(f"location.hash === '#step-{position}'")

    ask(page, unanswered)
    person = box.locator(".follow-up-person a")
    href = urlsplit(person.get_attribute("href"))
    assert href.path == f"{guide.public_path()}contact/"
    assert parse_qs(href.query)["description"] == [unanswered]
    assert box.locator(".follow-up-verdict").count() == 0
    checked(page, f"follow-up-{language}-{size}-4-no-match")
    assert FollowUpQuestion.objects.filter(answer_count=0).count() == 1
    assert problems == []  # no CSP violation, no script error, no missing asset
