"""The search log (guides/search_log.py): each customer search is one row, and the guide
opened from its results marks it clicked; searches past the client's budget, by bots or by
staff are not logged; old rows are pruned."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from django.conf import settings
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from guides import tasks
from guides.models import SearchLog
from guides.search import guide_search_index_update, search_guides
from guides.search_log import search_click_record, search_click_token, search_log_query
from tests.factories import CompanyFactory, GuideFactory, StepFactory
from tests.helpers import cache_empty, redis_round_trips, skip_unless_redis_cache

BROWSER = "Mozilla/5.0 (X11; Linux x86_64) Firefox/130.0"


@pytest.fixture
def card_guide(db):
    spotify = CompanyFactory(name="Spotify", slug="spotify")
    guide = GuideFactory(company=spotify, slug="change-card", title="I can't change my card")
    StepFactory(guide=guide, position=1, title="Update the card in your account")
    guide_search_index_update(guide_id=guide.pk)
    return guide


@pytest.fixture(autouse=True)
def _no_budget_left_over():
    cache_empty()  # the per-client budgets of earlier tests


def search(client, **params):
    return client.get(reverse("guides:search"), params, HTTP_USER_AGENT=BROWSER)


def result_links(response) -> list[str]:
    return [
        line.split('href="', 1)[1].split('"', 1)[0].replace("&amp;", "&")
        for line in response.content.decode().splitlines()
        if "search/guides/" in line
    ]


# --- what is kept of a query -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "kept"),
    [
        ("How do I change my CARD?", "change card"),
        ("card card Card", "card"),
        ("لا أستطيع تغيير البطاقة", "استطيع تغيير بطاقه"),
        ("my card 4111 1111 1111 1111 was refused", "card refused"),
        ("write to sam.smith@example.com or https://x.example/a", "write"),
        ("error 404 on login", "error 404 login"),
        ("how do i", "how do"),
        ("?!", ""),
    ],
)
def test_it_keeps_the_searched_words_without_addresses_or_long_numbers(typed, kept):
    assert search_log_query(typed) == kept


# --- the search page -------------------------------------------------------------------------


def test_a_search_on_the_page_is_one_row(client, card_guide):
    response = search(client, q="How do I change my card?", company="spotify")
    assert response.status_code == 200
    row = SearchLog.objects.get()
    assert (row.query, row.company, row.language, row.source, row.result_count) == (
        "change card",
        card_guide.company,
        "en",
        SearchLog.Source.PAGE,
        1,
    )
    assert row.clicked_at is None
    assert timezone.now() - row.searched_at < timedelta(minutes=1)


def test_a_search_that_finds_nothing_is_logged_with_no_result(client, card_guide):
    response = search(client, q="refund podcast")
    assert "No guide matches these words" in response.content.decode()
    row = SearchLog.objects.get()
    assert (row.query, row.company, row.result_count) == ("refund podcast", None, 0)
    assert result_links(response) == []


def test_the_language_is_the_readers(client, card_guide):
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "ar"
    search(client, q="بطاقة")
    assert SearchLog.objects.get().language == "ar"


def test_a_company_that_does_not_exist_logs_nothing(client, card_guide):
    assert search(client, q="card", company="no-such-company").status_code == 200
    assert not SearchLog.objects.exists()


def test_nothing_searchable_logs_nothing(client, card_guide):
    search(client, q="?!")
    search(client, q="")
    assert not SearchLog.objects.exists()


def test_bots_and_clients_without_a_user_agent_are_not_logged(client, card_guide):
    client.get(reverse("guides:search"), {"q": "card"})
    client.get(reverse("guides:search"), {"q": "card"}, HTTP_USER_AGENT="Googlebot/2.1")
    assert not SearchLog.objects.exists()


def test_staff_searches_are_not_logged(client, card_guide, ann):
    client.force_login(ann)
    response = search(client, q="card")
    assert response.status_code == 200
    assert not SearchLog.objects.exists()
    # Their result links lead straight to the guide.
    assert card_guide.public_path() in response.content.decode()


def test_a_search_costs_one_insert(client, card_guide, django_assert_num_queries):
    search_guides(query="card")  # the spelling vocabulary, read once per process
    with django_assert_num_queries(5):  # search, guides + companies, tags, steps, log insert
        search(client, q="card", company="spotify")
    with django_assert_num_queries(5):  # the same without a company: a plain insert
        search(client, q="card")


def test_the_budget_costs_one_round_trip_on_the_page_and_none_more_on_the_api(client, card_guide):
    skip_unless_redis_cache()
    search_guides(query="card")  # the spelling vocabulary and its token, read once a while
    with redis_round_trips() as taken:
        search(client, q="card")
    assert len(taken) == 1, taken  # the client's search-log budget
    api = APIClient()
    with redis_round_trips() as plain:
        api.get("/api/v1/guides/")
    with redis_round_trips() as searching:
        api.get("/api/v1/guides/", {"q": "card"})
    assert len(searching) == len(plain) == 1  # counted with the throttles
    assert SearchLog.objects.count() == 2


# --- the click -------------------------------------------------------------------------------


def test_opening_a_result_marks_the_search_clicked(client, card_guide):
    (link,) = result_links(search(client, q="change card"))
    assert "s=" in link
    response = client.get(link, HTTP_USER_AGENT=BROWSER)
    assert response.status_code == 302
    assert response["Location"] == card_guide.public_path()
    row = SearchLog.objects.get()
    assert row.clicked_guide_id == card_guide.pk
    assert row.clicked_at is not None


def test_the_first_opened_result_wins(client, card_guide):
    other = GuideFactory(company=card_guide.company, title="Card refused at checkout")
    guide_search_index_update(guide_id=other.pk)
    links = result_links(search(client, q="card"))
    assert len(links) == 2
    client.get(links[1])
    first = SearchLog.objects.get()
    client.get(links[0])
    client.get(links[1])
    row = SearchLog.objects.get()
    assert (row.clicked_guide_id, row.clicked_at) == (first.clicked_guide_id, first.clicked_at)


def test_a_forged_or_missing_token_still_opens_the_guide_and_marks_nothing(client, card_guide):
    search(client, q="card")
    row = SearchLog.objects.get()
    url = reverse("guides:search-result-open", kwargs={"guide_id": card_guide.pk})
    for query in ["", f"?s={row.pk}", f"?s={row.pk}:abc:def", "?s=" + "x" * 500]:
        response = client.get(url + query)
        assert response.status_code == 302
        assert response["Location"] == card_guide.public_path()
    row.refresh_from_db()
    assert row.clicked_at is None


def test_an_old_token_marks_nothing(card_guide, monkeypatch):
    from guides import search_log

    row = SearchLog.objects.create(query="card", language="en", source="page", result_count=1)
    token = search_click_token(row.pk)
    monkeypatch.setattr(search_log, "CLICK_MAX_AGE", -1)
    assert search_click_record(token=token, guide_id=card_guide.pk) is False
    row.refresh_from_db()
    assert row.clicked_at is None


def test_a_draft_or_missing_guide_is_not_found(client, card_guide):
    draft = GuideFactory(status="draft")
    for guide_id in (draft.pk, 999999):
        url = reverse("guides:search-result-open", kwargs={"guide_id": guide_id})
        assert client.get(url).status_code == 404


def test_the_guide_page_itself_is_untouched(client, card_guide):
    """The click goes through its own address: the guide's page and its cache stay as they
    were (guides.page_cache)."""
    (link,) = result_links(search(client, q="change card"))
    page = client.get(client.get(link)["Location"], HTTP_USER_AGENT=BROWSER)
    assert page.status_code == 200
    assert "s=" not in page.request["QUERY_STRING"]


# --- the per-client budget -------------------------------------------------------------------


def test_past_the_clients_budget_searches_are_answered_but_not_logged(client, card_guide, settings):
    settings.SEARCH_LOG_LIMIT = 2
    for _ in range(4):
        response = search(client, q="card")
        assert response.status_code == 200
        assert [result.guide for result in response.context["results"]] == [card_guide]
    assert SearchLog.objects.count() == 2
    # Not logged, so no search to mark: the link leads straight to the guide.
    assert result_links(response) == []
    # Another client has its own budget.
    other = client.get(
        reverse("guides:search"), {"q": "card"}, HTTP_USER_AGENT=BROWSER, REMOTE_ADDR="203.0.113.9"
    )
    assert other.status_code == 200
    assert SearchLog.objects.count() == 3


# --- the contact form's suggestions ----------------------------------------------------------


def test_the_contact_forms_suggestions_are_logged_and_their_click(client, card_guide):
    response = client.post(
        reverse("tickets:contact"),
        {
            "description": "I cannot change my card, write to me at sam@example.com",
            "company": "spotify",
            "email": "sam@example.com",
            "action": "suggest",
        },
        HTTP_USER_AGENT=BROWSER,
    )
    assert response.status_code == 200
    row = SearchLog.objects.get()
    assert (row.query, row.company, row.source, row.result_count) == (
        "change card write",
        card_guide.company,
        SearchLog.Source.CONTACT,
        1,
    )
    open_url = reverse("tickets:contact-guide-open", kwargs={"guide_id": card_guide.pk})
    (link,) = [
        part.split('"', 1)[0].replace("&amp;", "&")
        for part in response.content.decode().split('href="')
        if part.startswith(open_url)
    ]
    assert parse_qs(urlsplit(link).query)["s"]
    assert client.get(link).status_code == 302
    row.refresh_from_db()
    assert row.clicked_guide_id == card_guide.pk


def test_a_refused_suggestion_is_not_logged(client, card_guide, settings):
    settings.CONTACT_SEARCH_LIMIT = 1
    data = {"description": "card", "email": "sam@example.com", "action": "suggest"}
    client.post(reverse("tickets:contact"), data, HTTP_USER_AGENT=BROWSER)
    refused = client.post(reverse("tickets:contact"), data, HTTP_USER_AGENT=BROWSER)
    assert refused.status_code == 429
    assert SearchLog.objects.count() == 1


# --- the API ---------------------------------------------------------------------------------


def test_an_api_search_is_logged(card_guide):
    api = APIClient()
    response = api.get("/api/v1/guides/", {"q": "my card", "language": "en"})
    assert response.status_code == 200
    row = SearchLog.objects.get()
    assert (row.query, row.language, row.source, row.result_count) == (
        "card",
        "en",
        SearchLog.Source.API,
        1,
    )
    api.get("/api/v1/guides/")  # no search, no row
    api.get(f"/api/v1/guides/{card_guide.pk}/", {"q": "card"})
    assert SearchLog.objects.count() == 1


def test_api_searches_count_against_the_same_budget(card_guide, settings):
    settings.SEARCH_LOG_LIMIT = 1
    api = APIClient()
    for _ in range(3):
        assert api.get("/api/v1/guides/", {"q": "card"}).status_code == 200
    assert SearchLog.objects.count() == 1


# --- retention -------------------------------------------------------------------------------


def test_the_prune_task_deletes_searches_past_the_retention(db, settings):
    settings.SEARCH_LOG_RETENTION_DAYS = 30
    now = timezone.now()
    for days in (45, 31, 29, 1):
        SearchLog.objects.create(
            query=f"q{days}",
            language="en",
            source="page",
            result_count=0,
            searched_at=now - timedelta(days=days),
        )
    assert tasks.prune_search_log() == 2
    assert sorted(SearchLog.objects.values_list("query", flat=True)) == ["q1", "q29"]
    assert tasks.prune_search_log() == 0


def test_beat_sends_the_prune_task():
    entry = settings.CELERY_BEAT_SCHEDULE["prune-search-log"]
    assert entry["task"] == tasks.prune_search_log.name
