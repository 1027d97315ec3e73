"""Search as a customer meets it in a browser, on a phone and a desktop, in both languages:
suggestions while typing, a misspelt search that still finds the guide with its words marked,
and a search without results that offers a person."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest

from tests.e2e.page_checks import VIEWPORTS, page_checked, watch_console

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

# What a customer types, a little wrong, and a word of the title of the guide they mean.
TYPED = {"en": ("netflx pasword", "Netflix"), "ar": ("رمز التحقيق واتساب", "WhatsApp")}
NOTHING = {"en": "zebra xylophone", "ar": "حمار وحشي زيلوفون"}
CASES = [(size, language) for size in VIEWPORTS for language in ("en", "ar")]


def opened(page, live_server, size: str, language: str) -> list[str]:
    page.set_viewport_size(VIEWPORTS[size])
    page.context.add_cookies(
        [{"name": "django_language", "value": language, "url": live_server.url}]
    )
    return watch_console(page)


@pytest.mark.parametrize(("size", "language"), CASES)
def test_typing_shows_suggestions_to_open_with_the_keyboard(
    page, live_server, demo, size, language
):
    problems = opened(page, live_server, size, language)
    typed, title_word = TYPED[language]
    page.goto(f"{live_server.url}/")

    page.locator("input[name=q]").press_sequentially(typed, delay=30)

    first = page.locator(".search-suggestions-list a").first
    first.wait_for(state="visible")
    assert title_word in first.inner_text()
    assert page.locator(".search-suggestions-status").inner_text() != ""
    page_checked(page, f"search-suggestions-{language}-{size}")
    page.locator("input[name=q]").press("ArrowDown")
    assert page.evaluate("document.activeElement.closest('.search-suggestions-list') !== null")
    page.keyboard.press("Escape")
    assert page.locator(".search-suggestions").is_hidden()
    assert page.evaluate("document.activeElement.name") == "q"
    page.locator("input[name=q]").press("ArrowDown")  # closed: the box keeps the focus
    page.locator("input[name=q]").press("Enter")  # the plain form still searches
    page.wait_for_url("**/search/?**")
    assert page.locator(".search-result-list li").count() >= 1
    assert problems == []


@pytest.mark.parametrize(("size", "language"), CASES)
def test_a_misspelt_search_finds_the_guide_with_its_words_marked(
    page, live_server, demo, size, language
):
    problems = opened(page, live_server, size, language)
    typed, title_word = TYPED[language]

    page.goto(f"{live_server.url}/search/?q={typed}")

    first = page.locator(".search-result-list li").first
    assert title_word in first.locator(".search-result-title").inner_text()
    assert first.locator(".search-snippet mark").count() >= 1
    assert page.locator(".search-corrected-words").is_visible()
    page_checked(page, f"search-results-{language}-{size}")
    first.locator(".search-result-title").click()
    page.wait_for_url("**/guides/**")
    assert problems == []


@pytest.mark.parametrize(("size", "language"), CASES)
def test_a_search_without_results_offers_a_person(page, live_server, demo, size, language):
    problems = opened(page, live_server, size, language)

    page.goto(f"{live_server.url}/search/?q={NOTHING[language]}")

    assert page.locator(".search-result-list").count() == 0
    person = page.locator(".search-nothing a.button")
    page_checked(page, f"search-nothing-{language}-{size}")
    person.click()
    page.wait_for_url("**/tickets/new/**")
    assert parse_qs(urlsplit(page.url).query)["description"] == [NOTHING[language]]
    assert problems == []
