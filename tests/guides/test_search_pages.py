"""The search page (snippets, the correction shown, the page without results), the suggestions
shown as a customer types, and the contact form's suggestions in the customer's language."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

import pytest
from django.conf import settings
from django.core.management import call_command
from django.urls import reverse

from guides.search import guide_search_index_update
from helpdesk import limits
from tests.factories import GuideFactory, StepFactory

DEMO_GUIDES = Path(settings.BASE_DIR) / "guides" / "demo_guides"
SEARCH = "/search/"
SUGGESTIONS = "/search/suggestions/"


@pytest.fixture
def demo_guides(db):
    call_command("import_guides", str(DEMO_GUIDES), verbosity=0)


def test_a_misspelt_search_finds_the_guide_with_the_words_marked(client, demo_guides):
    response = client.get(SEARCH, {"q": "netflx pasword"})

    assert response.status_code == 200
    first = response.context["results"][0]
    assert first.guide.company.slug == "netflix"
    assert "<mark>Netflix</mark>" in first.title_html
    assert "<mark>password</mark>" in first.snippet.html
    body = response.content.decode()
    assert "Showing results for" in body
    assert "netflix password" in body
    assert '<p class="search-snippet">' in body


def test_the_snippet_links_to_the_step_it_comes_from(client, demo_guides):
    response = client.get(SEARCH, {"q": "airplane mode"})

    first = response.context["results"][0]
    assert first.snippet.step_position == 2
    assert f"{first.guide.slug}/#step-2" in response.content.decode()


def test_a_search_spelt_right_shows_no_correction(client, demo_guides):
    response = client.get(SEARCH, {"q": "refund"})

    assert response.context["corrected"] == ""
    assert "Showing results for" not in response.content.decode()


def test_a_guides_text_never_becomes_markup_in_a_snippet(client, db):
    guide = GuideFactory(title="Quasar <b>card</b> trouble", summary="Nothing here.")
    StepFactory(
        guide=guide,
        position=1,
        title="Try the quasar",
        body='Type <script>alert("quasar")</script> and [the link](javascript:alert(1)).',
    )
    guide_search_index_update(guide_id=guide.pk)

    body = client.get(SEARCH, {"q": "quasar"}).content.decode()

    assert "<script>alert" not in body
    assert "javascript:alert" not in body
    assert "&lt;script&gt;alert(&quot;<mark>quasar</mark>&quot;)&lt;/script&gt;" in body
    assert "<mark>Quasar</mark> &lt;b&gt;card&lt;/b&gt; trouble" in body


def test_a_search_without_results_offers_a_person_with_the_words_filled_in(client, demo_guides):
    response = client.get(SEARCH, {"q": "zebra xylophone"})

    assert response.context["results"] == []
    body = response.content.decode()
    link = f"{reverse('tickets:contact')}?description={quote('zebra xylophone')}"
    assert link in body
    assert "Ask a person about it" in body


def test_the_search_page_offers_the_follow_up_box_with_or_without_results(client, demo_guides):
    for words in ("zzyzx", "refund"):
        response = client.get(SEARCH, {"q": words})
        body = response.content.decode()
        assert body.count('id="follow-up-question"') == 1, words
        assert 'name="language" value="en"' in body
    nothing = client.get(SEARCH, {"q": "zzyzx"}).content.decode()
    # Without results the box comes first, before the way to a person.
    assert nothing.index('id="follow-up-question"') < nothing.index("Ask a person about it")


def test_the_search_page_puts_the_readers_language_first(client, demo_guides):
    response = client.get(SEARCH, {"q": "spotify"}, HTTP_ACCEPT_LANGUAGE="ar")

    assert [r.guide.language for r in response.context["results"]] == ["ar", "en"]


def test_the_pages_with_a_search_box_load_the_suggestions_script(client, demo_guides):
    for path in ("/", SEARCH, "/companies/spotify/"):
        body = client.get(path).content.decode()
        assert "guides/search.js" in body, path
        assert f'data-suggestions="{SUGGESTIONS}"' in body, path


# --- suggestions ----------------------------------------------------------------------------


def test_suggestions_answer_the_best_guides_as_json(client, demo_guides):
    response = client.get(SUGGESTIONS, {"q": "netflx", "language": "en"})

    assert response.status_code == 200
    answer = response.json()
    assert answer["results"][0]["company"] == "Netflix"
    assert answer["results"][0]["url"].startswith("/guides/netflix/en/")
    assert answer["results"][0]["dir"] == "ltr"
    assert answer["message"].endswith("match.") or answer["message"].endswith("matches.")
    assert "public" in response["Cache-Control"]
    assert "max-age=60" in response["Cache-Control"]


def test_suggestions_come_in_the_pages_language_first_with_a_message_in_it(client, demo_guides):
    answer = client.get(SUGGESTIONS, {"q": "spotify", "language": "ar"}).json()

    assert [result["language"] for result in answer["results"]] == ["ar", "en"]
    assert answer["results"][0]["dir"] == "rtl"
    assert answer["message"] == "يوجد دليلان مطابقان."


def test_suggestions_stay_within_a_company(client, demo_guides):
    answer = client.get(SUGGESTIONS, {"q": "card", "company": "cedar-bank"}).json()

    assert {result["company"] for result in answer["results"]} == {"Cedar Bank"}


@pytest.mark.parametrize(
    "params",
    [{}, {"q": ""}, {"q": "   "}, {"q": "x" * 5000}, {"q": "card", "company": "no such!"}],
)
def test_suggestions_answer_odd_input_with_nothing(client, demo_guides, params):
    response = client.get(SUGGESTIONS, {**params, "language": "xx"})

    assert response.status_code == 200
    assert response.json()["results"] == []


def test_suggestions_are_limited_per_client(client, demo_guides, settings):
    settings.SEARCH_SUGGESTION_LIMIT = 2
    limits.search_suggestions().reset("127.0.0.1")  # the test client's address

    for _ in range(2):
        assert client.get(SUGGESTIONS, {"q": "card"}).status_code == 200
    refused = client.get(SUGGESTIONS, {"q": "card", "language": "ar"})

    assert refused.status_code == 429
    assert int(refused["Retry-After"]) > 0
    assert "no-store" in refused["Cache-Control"]
    assert "حاول مجددًا" in refused.json()["detail"]


def test_suggestions_are_not_logged(client, demo_guides):
    from guides.models import SearchLog

    client.get(SUGGESTIONS, {"q": "card"}, HTTP_USER_AGENT="Mozilla/5.0")

    assert not SearchLog.objects.exists()


# --- the contact form --------------------------------------------------------------------------


def test_the_contact_forms_suggestions_come_in_the_customers_language_first(client, demo_guides):
    form = {"description": "Spotify card", "email": "nour@example.com", "name": "Nour"}

    arabic = client.post("/tickets/new/", form, HTTP_ACCEPT_LANGUAGE="ar")
    english = client.post("/tickets/new/", form, HTTP_ACCEPT_LANGUAGE="en")

    for response, language in ((arabic, "ar"), (english, "en")):
        found = [guide.language for guide in response.context["suggestions"]]
        assert found[0] == language, found
        assert found == sorted(found, key=lambda found_in: found_in != language), found
        assert response.context["suggestions"][0].company.slug == "spotify"
