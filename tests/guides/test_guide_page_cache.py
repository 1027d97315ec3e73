"""The guide page kept in each process's memory (guides.page_cache): the same page, headers
and cookies as a full render, told at once of every edit of what it shows, served without a
SQL statement when warm, and served from the database while the cache is down.

Persona: Nadia reads Spotify's guide in Arabic or English; Sue (staff) edits guides.
"""

from __future__ import annotations

import re
from http.cookies import SimpleCookie
from pathlib import Path

import pytest
import yaml
from django.core.management import call_command
from django.db import connection
from django.test import Client, override_settings
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from guides import page_cache
from guides.models import Attempt, Guide, Step, Tag
from guides.page_cache import guide_pages_forget
from tests.factories import GuideFactory, StepFactory, TagFactory
from tests.helpers import cache_empty, guide_url, redis_round_trips, skip_unless_redis_cache

# Nothing listens on port 1: a cache that cannot be reached (helpdesk.cache fails open).
UNREACHABLE_CACHE = {
    "default": {
        "BACKEND": "helpdesk.cache.FailOpenRedisCache",
        "LOCATION": "redis://127.0.0.1:1/0",
        "OPTIONS": {"socket_connect_timeout": 0.2, "retry_interval": 60},
    }
}
NADIA = {"HTTP_USER_AGENT": "Mozilla/5.0 (Nadia's phone)"}


@pytest.fixture
def spotify(db) -> tuple[Guide, Guide]:
    """Spotify's guide in English and in Arabic, linked as translations (the demo files)."""
    call_command("import_guides", str(Path("guides/demo_guides")), verbosity=0)
    return (
        Guide.objects.get(company__slug="spotify", language="en"),
        Guide.objects.get(company__slug="spotify", language="ar"),
    )


def page(client: Client, guide: Guide, **extra) -> tuple[int, str, dict]:
    """The page as the visitor gets it, with what differs on every request set aside: the
    CSRF token (random per request) and the values of cookies (random per visitor)."""
    response = client.get(guide_url("guide-detail", guide), **extra)
    html = re.sub(
        r'name="csrfmiddlewaretoken" value="[A-Za-z0-9]{64}"',
        'name="csrfmiddlewaretoken" value="…"',
        response.content.decode(),
    )
    headers = {k: v for k, v in response.items() if k != "Content-Length"}
    if "Content-Security-Policy" in headers:  # the same directives, in no fixed order
        headers["Content-Security-Policy"] = sorted(headers["Content-Security-Policy"].split("; "))
    cookies = {
        name: {key: value for key, value in morsel.items() if value and key != "expires"}
        for name, morsel in response.cookies.items()
    }
    return response.status_code, html, {"headers": headers, "cookies": cookies}


def same_visitor(client: Client) -> Client:
    """Another client with the same cookies: the same visitor, at the same point."""
    twin = Client(**NADIA)
    twin.cookies = SimpleCookie(client.cookies.output(header="", sep=";"))
    return twin


def mark(client: Client, guide: Guide, position: int, outcome: str, note: str = "") -> None:
    step = guide.steps.get(position=position)
    client.post(
        guide_url("step-outcome", guide, step_id=step.pk), {"outcome": outcome, "note": note}
    )


def visitors(guide: Guide, reader: str, sue) -> dict[str, Client]:
    """Visitors in every state the page shows differently, reading in ``reader``'s language."""
    headers = {**NADIA, "HTTP_ACCEPT_LANGUAGE": reader}
    new = Client(**headers)
    walking = Client(**headers)
    mark(walking, guide, 1, "did_not_work", 'It says <declined> & "nothing" else')
    mark(walking, guide, 2, "could_not_do")
    walking.post(guide_url("feedback", guide), {"helpful": "no", "comment": "step 1 is old"})
    # The answer's "Thank you" is still waiting in the messages cookie.
    fixed = Client(**headers)
    mark(fixed, guide, 2, "worked")
    fixed.get(guide_url("guide-detail", guide))  # reads the message
    staff = Client(**headers)
    staff.force_login(sue)
    return {"new visitor": new, "attempt open": walking, "attempt resolved": fixed, "staff": staff}


@pytest.mark.parametrize("reader", ["ar", "en"])
def test_it_serves_the_page_a_full_render_gives(spotify, sue, settings, reader):
    """Each visitor state, read with the cache down (a full render, as before the cache),
    cold (rendered and kept now) and warm (kept): the same page, headers and cookies."""
    for guide in spotify:
        for state, visitor in visitors(guide, reader, sue).items():
            guide_pages_forget()
            with override_settings(CACHES=UNREACHABLE_CACHE):
                full = page(same_visitor(visitor), guide)
            cold = page(same_visitor(visitor), guide)
            warm = page(same_visitor(visitor), guide)
            assert full[0] == 200
            assert cold == full, f"{guide.language} page, {reader} reader, {state}: cold"
            assert warm == full, f"{guide.language} page, {reader} reader, {state}: warm"


def test_the_visitors_own_parts_never_reach_another_visitor(spotify):
    english, _arabic = spotify
    walking = Client(**NADIA)
    mark(walking, english, 1, "did_not_work", "a secret note")
    assert "a secret note" in walking.get(guide_url("guide-detail", english)).content.decode()

    body = Client(**NADIA).get(guide_url("guide-detail", english)).content.decode()

    assert "a secret note" not in body
    assert 'data-outcome="' not in body


def test_the_language_switcher_keeps_each_visitors_own_address(spotify):
    english, _arabic = spotify
    Client(**NADIA).get(guide_url("guide-detail", english))

    body = Client(**NADIA).get(guide_url("guide-detail", english) + '?from="mail"&x=1').content

    assert b'name="next" value="/guides/spotify/en/' in body
    assert b"?from=%22mail%22&amp;x=1" in body


# --- what a warm page costs -------------------------------------------------------------------


def test_a_warm_page_runs_no_sql_for_a_visitor_without_an_attempt(
    guide_with_steps, django_assert_num_queries
):
    Client(**NADIA).get(guide_url("guide-detail", guide_with_steps))
    with django_assert_num_queries(0):
        assert Client(**NADIA).get(guide_url("guide-detail", guide_with_steps)).status_code == 200


def test_a_warm_page_reads_only_the_visitors_attempt(guide_with_steps, django_assert_num_queries):
    walking = Client(**NADIA)
    mark(walking, guide_with_steps, 1, "did_not_work")
    walking.get(guide_url("guide-detail", guide_with_steps))
    # the attempt (with its guide, company and ticket), its outcomes, its feedback
    with django_assert_num_queries(3):
        assert walking.get(guide_url("guide-detail", guide_with_steps)).status_code == 200


def test_a_cold_page_reads_the_guide_once(guide_with_steps, django_assert_num_queries):
    cache_empty()
    # guide with company, tags, steps, translations, related guides; the expected wait (the
    # company's answered tickets, its latest ticket's queue: tickets.waits, then kept)
    with django_assert_num_queries(7):
        assert Client(**NADIA).get(guide_url("guide-detail", guide_with_steps)).status_code == 200


@pytest.fixture
def redis_cache():
    skip_unless_redis_cache()


def test_a_warm_page_is_one_redis_round_trip_with_its_view(guide_with_steps, redis_cache):
    """The token and a new visitor's view go in one pipeline; a returning visitor's page
    (no view to count) is the token alone."""
    nadia = Client(**NADIA)
    Client(**NADIA).get(guide_url("guide-detail", guide_with_steps))

    with redis_round_trips() as new_visitor:
        nadia.get(guide_url("guide-detail", guide_with_steps))
    with redis_round_trips() as returning_visitor:
        nadia.get(guide_url("guide-detail", guide_with_steps))

    assert len(new_visitor) == 1, "\n".join(new_visitor)
    assert len(returning_visitor) == 1, "\n".join(returning_visitor)


def test_a_warm_page_still_counts_each_visitors_first_view(guide_with_steps):
    from guides.view_counts import guide_view_counts_flush

    cache_empty()
    for _ in range(3):
        visitor = Client(**NADIA)
        visitor.get(guide_url("guide-detail", guide_with_steps))
        visitor.get(guide_url("guide-detail", guide_with_steps))  # a reload: not counted

    assert guide_view_counts_flush() == 3


# --- told of every edit -------------------------------------------------------------------------


@pytest.fixture
def read(guide_with_steps):
    """Nadia has read the guide: its page is kept."""
    Client(**NADIA).get(guide_url("guide-detail", guide_with_steps))
    return guide_with_steps


def shown(guide: Guide) -> str:
    response = Client(**NADIA).get(guide_url("guide-detail", guide))
    assert response.status_code == 200
    return response.content.decode()


def test_an_edited_title_shows_at_once(read):
    read.title = "My card is refused"
    read.save()
    assert "My card is refused" in shown(read)


@pytest.mark.parametrize("how", ["unpublished", "deleted"])
def test_a_guide_taken_down_is_404_at_once(read, how):
    if how == "unpublished":
        read.status = Guide.Status.DRAFT
        read.save(update_fields=["status", "updated_at"])
    else:
        read.delete()
    assert Client(**NADIA).get(guide_url("guide-detail", read)).status_code == 404


def test_a_view_counted_for_a_guide_taken_down_meanwhile_is_taken_back(read):
    from guides.view_counts import guide_view_counts_flush

    cache_empty()
    read.status = Guide.Status.DRAFT
    read.save()

    assert Client(**NADIA).get(guide_url("guide-detail", read)).status_code == 404
    read.status = Guide.Status.PUBLISHED
    read.save()
    guide_view_counts_flush()
    read.refresh_from_db()
    assert read.view_count == 0


def test_step_edits_show_at_once(read):
    first = read.steps.get(position=1)
    first.body = "Open **Settings** first."
    first.save()
    assert "<strong>Settings</strong>" in shown(read)

    StepFactory(guide=read, position=9, title="Call your bank")
    assert "Call your bank" in shown(read)

    first.delete()
    assert f'id="step-{first.position}"' not in shown(read)


def test_a_renamed_company_shows_at_once(read):
    company = read.company
    company.name = "Spotify AB"
    company.save()
    assert "Spotify AB" in shown(read)


def test_a_translation_published_later_is_linked_at_once(read):
    arabic = GuideFactory(
        company=read.company,
        slug="arabic",
        language="ar",
        translation_key=read.translation_key,
        status=Guide.Status.DRAFT,
    )
    assert 'hreflang="ar"' not in shown(read)
    arabic.status = Guide.Status.PUBLISHED
    arabic.save()
    assert 'hreflang="ar"' in shown(read)


def loads_again(guide: Guide) -> bool:
    """Whether the next request reads the guide from the database (the kept page was dropped):
    for edits a page does not show, such as its tags."""
    with CaptureQueriesContext(connection) as queries:
        Client(**NADIA).get(guide_url("guide-detail", guide))
    return any("guides_guide" in query["sql"] for query in queries.captured_queries)


def test_tag_changes_reach_the_page(read):
    assert not loads_again(read)
    read.tags.add(TagFactory(slug="billing"))
    assert loads_again(read)
    read.tags.remove(Tag.objects.get(slug="billing"))
    assert loads_again(read)
    read.tags.clear()
    assert loads_again(read)
    tag = TagFactory(slug="refunds")
    tag.guides.add(read)
    assert loads_again(read)
    tag.slug = "refund"
    tag.save()
    assert loads_again(read)
    tag.delete()
    assert loads_again(read)


def test_counters_moving_do_not_drop_the_page(read):
    from guides.view_counts import guide_view_counts_flush

    cache_empty()
    Client(**NADIA).get(guide_url("guide-detail", read))  # a new visitor: a view
    Client(**NADIA).post(guide_url("feedback", read), {"helpful": "yes"})
    guide_view_counts_flush()
    assert not loads_again(read)


def test_an_author_editing_in_the_admin_is_seen_at_once(read, admin_client):
    steps = [
        {"id": s.pk, "position": s.position, "kind": s.kind, "title": s.title, "body": s.body}
        for s in read.steps.order_by("position")
    ]
    steps[0]["title"] = "Check the card's expiry date again"
    data = {
        "company": read.company_id,
        "title": "Edited in the admin",
        "slug": read.slug,
        "language": read.language,
        "status": read.status,
        "tags": [tag.pk for tag in read.tags.all()],
        "translation_key": read.translation_key,
        "summary": read.summary,
        "steps-TOTAL_FORMS": len(steps),
        "steps-INITIAL_FORMS": len(steps),
        "steps-MIN_NUM_FORMS": 0,
        "steps-MAX_NUM_FORMS": 1000,
    }
    for index, step in enumerate(steps):
        data.update({f"steps-{index}-{key}": value for key, value in step.items()})
        data[f"steps-{index}-guide"] = read.pk

    response = admin_client.post(reverse("admin:guides_guide_change", args=[read.pk]), data)

    assert response.status_code == 302, response.content.decode()[:2000]
    body = shown(read)
    assert "Edited in the admin" in body
    assert "Check the card&#x27;s expiry date again" in body


def test_an_import_that_only_adds_a_step_is_seen_at_once(spotify, tmp_path):
    """The importer adds new steps with bulk_create, which sends no signal."""
    english, _arabic = spotify
    shown(english)
    document = yaml.safe_load(Path("guides/demo_guides/spotify-payment-card.en.yaml").read_text())
    position = max(step["position"] for step in document["steps"]) + 1
    document["steps"].append(
        {"position": position, "kind": "last_resort", "title": "Ask your bank", "body": "Call."}
    )
    changed = tmp_path / "spotify-payment-card.en.yaml"
    changed.write_text(yaml.safe_dump(document, allow_unicode=True))

    call_command("import_guides", str(changed), verbosity=0)

    assert english.steps.filter(title="Ask your bank").exists()
    assert "Ask your bank" in shown(english)


def test_a_page_kept_longer_than_its_max_age_is_read_again(read, monkeypatch):
    """The bound on an edit whose token never reached the cache (here a QuerySet.update(),
    which sends no signal)."""
    Guide.objects.filter(pk=read.pk).update(title="Changed behind the cache's back")
    assert "Changed behind the cache&#x27;s back" not in shown(read)
    monkeypatch.setattr(page_cache, "MAX_AGE", 0.0)
    assert "Changed behind the cache&#x27;s back" in shown(read)


# --- the cache down ---------------------------------------------------------------------------


def test_the_page_is_served_while_the_cache_is_down_and_kept_again_after(
    read, settings, django_assert_max_num_queries
):
    with override_settings(CACHES=UNREACHABLE_CACHE):
        read.title = "Edited while the cache was down"
        read.save()  # the token cannot be written
        assert "Edited while the cache was down" in shown(read)
    # Back: the page kept before the outage was dropped when the token could not be read.
    assert "Edited while the cache was down" in shown(read)
    with django_assert_max_num_queries(0):
        assert "Edited while the cache was down" in shown(read)


# --- several processes ----------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_an_edit_in_this_process_reaches_a_page_kept_by_another(guide_with_steps, tmp_path):
    """A web server in its own process keeps the page; an edit committed here is what its
    next request shows."""
    import urllib.request

    from tests.processes import configured_broker_env, process_env, test_database_url, web_server

    env = process_env(
        tmp_path,
        DATABASE_URL=test_database_url(),
        ALLOWED_HOSTS="127.0.0.1",
        **configured_broker_env(),
    )
    path = guide_url("guide-detail", guide_with_steps)

    def served(base_url: str) -> str:
        request = urllib.request.Request(base_url + path, headers={"User-Agent": "Mozilla/5.0"})
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.read().decode()

    with web_server(env, tmp_path / "web.log") as base_url:
        assert "Check the new title" not in served(base_url)
        served(base_url)  # kept now
        guide_with_steps.title = "Check the new title"
        guide_with_steps.save()
        assert "Check the new title" in served(base_url)
        Step.objects.filter(guide=guide_with_steps).first().delete()
        guide_with_steps.status = Guide.Status.DRAFT
        guide_with_steps.save()
        try:
            served(base_url)
            raise AssertionError("a draft guide was served")
        except urllib.error.HTTPError as error:
            assert error.code == 404
    assert Attempt.objects.count() == 0
