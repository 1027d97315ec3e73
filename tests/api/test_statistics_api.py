"""The statistics API: supervisors see every guide, Ann (an author) the guides she writes,
agents nothing unless granted; the figures are the selectors' (tests/guides/test_statistics.py
works them out), and each read has a fixed number of queries."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission
from rest_framework.test import APIClient

from tests.factories import CompanyFactory
from tests.helpers import STORY_DAY_2, client_for, statistics_story
from tickets import services


@pytest.fixture
def story(db):
    made = statistics_story()
    services.statistics_rollup()
    return made


def statistics_url(guide_id: int) -> str:
    return f"/api/v1/guides/{guide_id}/statistics/"


def notes_url(guide_id: int, step_id: int) -> str:
    return f"/api/v1/guides/{guide_id}/steps/{step_id}/failure-notes/"


DEFLECTION = "/api/v1/statistics/deflection/"


def test_a_supervisor_reads_a_guides_funnel_and_steps(story, sue):
    response = client_for(sue).get(statistics_url(story.guide.pk))
    assert response.status_code == 200
    body = response.json()
    assert body["guide"] == {
        "id": story.guide.pk, "title": story.guide.title, "language": "en",
        "company": story.guide.company.slug,
    }  # fmt: skip
    assert body["funnel"] == {
        "views": 0, "attempts": 6, "resolved": 3, "abandoned": 1, "escalated": 1,
        "in_progress": 1, "tickets_solved": 1, "tickets_reopened": 1,
        "median_solve_seconds": 5400.0, "deflection_rate": 0.75,
    }  # fmt: skip
    s1 = story.steps[0]
    first = body["steps"][0]
    assert {k: first[k] for k in ("version", "step", "language", "position", "title")} == {
        "version": 1, "step": s1.pk, "language": "en", "position": 1, "title": s1.title,
    }  # fmt: skip
    assert (first["shown"], first["tried"], first["worked"], first["skipped"]) == (6, 4, 1, 1)
    assert first["success_rate"] == 0.25
    assert first["success_low"] == pytest.approx(0.0456, abs=5e-5)
    assert first["success_high"] == pytest.approx(0.6994, abs=5e-5)
    assert first["median_seconds"] == pytest.approx(17.5)
    last = body["steps"][3]
    assert (last["tried"], last["success_rate"], last["success_low"]) == (0, None, None)
    assert [r["worked"] for r in body["resolved_by_step"]] == [1, 1, 1]


def test_the_filters_narrow_the_figures(story, sue):
    api = client_for(sue)
    body = api.get(statistics_url(story.guide.pk), {"date_from": STORY_DAY_2}).json()
    assert (body["funnel"]["attempts"], body["date_from"]) == (2, "2026-11-03")
    body = api.get(statistics_url(story.guide.pk), {"language": "ar"}).json()
    assert (body["funnel"]["attempts"], body["steps"]) == (0, [])


def test_an_author_sees_the_guides_she_writes_and_no_other(story, ann):
    mine = statistics_story()  # another company's guide: authors write for companies
    services.statistics_rollup(full=True)
    mine.guide.company.authors.add(ann)
    api = client_for(ann)
    assert api.get(statistics_url(mine.guide.pk)).status_code == 200
    # Another author's guide is as good as absent.
    assert api.get(statistics_url(story.guide.pk)).status_code == 404
    assert api.get(notes_url(story.guide.pk, story.steps[0].pk)).status_code == 404
    assert api.get(notes_url(mine.guide.pk, mine.steps[0].pk)).status_code == 200
    [week] = api.get(DEFLECTION).json()["results"]
    assert (week["resolved"], week["escalated"]) == (3, 1)  # her guide's only, not 6 and 2


def test_agents_see_nothing_unless_granted(story, alice):
    api = client_for(alice)
    for url in (statistics_url(story.guide.pk), DEFLECTION):
        response = api.get(url)
        assert response.status_code == 403
        assert response.json()["code"] == "permission_denied"
    alice.user.user_permissions.add(Permission.objects.get(codename="view_all_statistics"))
    assert client_for(alice).get(statistics_url(story.guide.pk)).status_code == 200


def test_without_a_token_it_is_a_401(story):
    assert APIClient().get(statistics_url(story.guide.pk)).status_code == 401
    assert APIClient().get(DEFLECTION).status_code == 401


def test_the_deflection_series(story, sue):
    other = statistics_story()
    services.statistics_rollup(full=True)
    api = client_for(sue)
    [week] = api.get(DEFLECTION).json()["results"]
    assert week == {
        "week": "2026-W45", "week_start": "2026-11-02", "key": None, "name": "",
        "resolved": 6, "escalated": 2, "rate": 0.75,
    }  # fmt: skip
    body = api.get(DEFLECTION, {"per": "company", "company": other.guide.company.slug}).json()
    assert body["per"] == "company"
    assert [(p["key"], p["name"]) for p in body["results"]] == [
        (str(other.guide.company_id), other.guide.company.name)
    ]
    body = api.get(DEFLECTION, {"per": "guide", "guide": story.guide.pk}).json()
    assert [p["key"] for p in body["results"]] == [str(story.guide.pk)]


def test_failure_notes_newest_first_searchable_and_paginated(story, sue):
    api = client_for(sue)
    s1 = story.steps[0]
    body = api.get(notes_url(story.guide.pk, s1.pk), {"page_size": 1}).json()
    assert body["count"] == 2
    [newest] = body["results"]
    assert (newest["note"], newest["outcome"], newest["language"]) == (
        "error 42 again", "did_not_work", "en",
    )  # fmt: skip
    assert newest["version"] == story.version.pk
    assert body["next"] is not None
    second = api.get(body["next"]).json()
    assert [n["note"] for n in second["results"]] == ["Error 42 on the card page"]
    found = api.get(notes_url(story.guide.pk, s1.pk), {"q": "CARD PAGE"}).json()
    assert [n["note"] for n in found["results"]] == ["Error 42 on the card page"]


@pytest.mark.parametrize(
    ("url", "params", "field"),
    [
        ("statistics", {"date_from": "2026-11-05", "date_to": "2026-11-01"}, "date_to"),
        ("statistics", {"date_from": "yesterday"}, "date_from"),
        ("statistics", {"language": "fr"}, "language"),
        ("deflection", {"per": "month"}, "per"),
        ("deflection", {"company": "no such company"}, "company"),
        ("deflection", {"company": "nobody-has-this"}, "company"),
        ("deflection", {"guide": "-3"}, "guide"),
        ("notes", {"q": "x" * 201}, "q"),
        ("notes", {"page_size": "1000"}, "page_size"),
    ],
)
def test_bad_filters_are_a_400_naming_the_field(story, sue, url, params, field):
    urls = {
        "statistics": statistics_url(story.guide.pk),
        "deflection": DEFLECTION,
        "notes": notes_url(story.guide.pk, story.steps[0].pk),
    }
    response = client_for(sue).get(urls[url], params)
    assert response.status_code == 400
    assert field in response.json()["errors"]


def test_extreme_dates_are_answered(story, sue):
    api = client_for(sue)
    params = {"date_from": "0001-01-01", "date_to": "9999-12-31"}
    assert api.get(notes_url(story.guide.pk, story.steps[0].pk), params).status_code == 200
    assert api.get(statistics_url(story.guide.pk), params).json()["funnel"]["attempts"] == 6
    assert api.get(statistics_url(10**12)).status_code == 404


@pytest.mark.parametrize("size", [1, 5])
def test_each_read_takes_the_same_queries_at_any_size(db, sue, size, django_assert_num_queries):
    company = CompanyFactory()
    stories = [statistics_story(company=company) for _ in range(size)]
    services.statistics_rollup()
    api = client_for(sue)
    guide, step = stories[0].guide, stories[0].steps[0]
    api.get(DEFLECTION)  # the token's last-used mark is written once a minute at most
    # token, the user's and their groups' permissions, the guide, its three tallies' reads
    with django_assert_num_queries(7):
        assert api.get(statistics_url(guide.pk)).status_code == 200
    # token, permissions (2), the company's slug, the series
    with django_assert_num_queries(5):
        response = api.get(DEFLECTION, {"per": "guide", "company": company.slug})
    assert len(response.json()["results"]) == size
    # token, permissions (2), the guide, the count, the page
    with django_assert_num_queries(6):
        assert api.get(notes_url(guide.pk, step.pk)).status_code == 200
