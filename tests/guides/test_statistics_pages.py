"""The statistics pages in the admin: who sees which guides, the figures of the constructed
story as the pages print them, the CSV downloads, the failure notes, bad filters, and the
pages' query counts at two data sizes."""

from __future__ import annotations

import csv
import io

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils.html import escape

from tests.factories import staff_user
from tests.helpers import statistics_story
from tickets import roles, services

RANGE = {"date_from": "2026-11-01", "date_to": "2026-11-30"}
OVERVIEW = reverse("admin:guides_guide_statistics")


@pytest.fixture
def story(db):
    made = statistics_story()
    services.statistics_rollup()
    return made


@pytest.fixture
def supervisor(db):
    return staff_user("stella", roles.SUPERVISOR)


@pytest.fixture
def author(story):
    user = staff_user("ayla", roles.AUTHOR)
    story.guide.company.authors.add(user)
    return user


def guide_page(story) -> str:
    return reverse("admin:guides_guide_guide_statistics", args=[story.guide.pk])


def rows_of(response) -> list[list[str]]:
    text = response.content.decode("utf-8-sig")
    return list(csv.reader(io.StringIO(text)))


def test_a_supervisor_sees_every_guide_with_its_funnel(client, story, supervisor):
    client.force_login(supervisor)
    response = client.get(OVERVIEW, RANGE)
    assert response.status_code == 200
    body = response.content.decode()
    assert escape(story.guide.title) in body
    # Three resolved, one escalated: 75 % of the attempts that ended either way.
    assert 'class="deflection-total">75 %<' in body
    assert '<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img"' in body
    assert "<script" not in body.split('id="content-main"')[1]


def test_the_overview_downloads_its_figures(client, story, supervisor):
    client.force_login(supervisor)
    guides = client.get(OVERVIEW, {**RANGE, "download": "guides"})
    assert guides["Content-Type"] == "text/csv; charset=utf-8"
    assert "attachment" in guides["Content-Disposition"]
    header, *rows = rows_of(guides)
    assert header[:2] == ["guide_id", "guide"]
    assert len(rows) == 1
    row = dict(zip(header, rows[0], strict=True))
    assert (row["attempts"], row["resolved"], row["escalated"]) == ("6", "3", "1")
    assert row["deflection_rate"] == "0.7500"

    weeks = rows_of(client.get(OVERVIEW, {**RANGE, "download": "deflection"}))
    assert weeks == [
        ["week", "resolved", "escalated", "deflection_rate"],
        ["2026-W45", "3", "1", "0.7500"],
    ]


def test_an_author_sees_their_guides_only(client, story, author):
    other = statistics_story()
    services.statistics_rollup(full=True)  # the story's rows are dated in the past
    client.force_login(author)
    body = client.get(OVERVIEW, RANGE).content.decode()
    assert f'class="guide-{story.guide.pk}"' in body
    assert f'class="guide-{other.guide.pk}"' not in body
    supervisor = staff_user("stella", roles.SUPERVISOR)
    client.force_login(supervisor)
    assert f'class="guide-{other.guide.pk}"' in client.get(OVERVIEW, RANGE).content.decode()
    client.force_login(author)
    assert client.get(guide_page(story), RANGE).status_code == 200
    foreign = reverse("admin:guides_guide_guide_statistics", args=[other.guide.pk])
    assert client.get(foreign, RANGE).status_code == 404
    notes = reverse("admin:guides_guide_failure_notes", args=[other.guide.pk, other.steps[0].pk])
    assert client.get(notes).status_code == 404


def test_an_agent_sees_no_statistics(client, story):
    client.force_login(staff_user("aziz", roles.AGENT))
    assert client.get(OVERVIEW).status_code == 403
    assert client.get(guide_page(story)).status_code == 403


def test_the_guide_page_prints_the_funnel_and_each_step(client, story, supervisor):
    client.force_login(supervisor)
    response = client.get(guide_page(story), RANGE)
    assert response.status_code == 200
    funnel = response.context["funnel"]
    assert (funnel.attempts, funnel.resolved, funnel.abandoned, funnel.escalated) == (6, 3, 1, 1)
    (group,) = response.context["step_groups"]
    by_step = {row["figures"].step: row for row in group["rows"]}
    s1 = by_step[story.steps[0].pk]
    # S1: A1, A2 and A4 did not work, A6 worked, A3 skipped: 1 of 4 tried.
    assert (s1["figures"].tried, s1["figures"].worked, s1["rate"]) == (4, 1, "25 %")
    assert s1["interval"] == "5 % – 70 %"
    body = response.content.decode()
    assert 'class="deflection-total">75 %<' in body
    assert "Step 1 of the story" in body


def test_the_guide_page_downloads_its_steps(client, story, supervisor):
    client.force_login(supervisor)
    header, *rows = rows_of(client.get(guide_page(story), {**RANGE, "download": "steps"}))
    assert header[:6] == ["version", "language", "step_id", "position", "kind", "title"]
    first = dict(zip(header, rows[0], strict=True))
    assert (first["position"], first["tried"], first["worked"]) == ("1", "4", "1")
    assert first["success_rate"] == "0.2500"
    assert float(first["interval_low"]) == pytest.approx(0.0456, abs=1e-4)
    funnel = rows_of(client.get(guide_page(story), {**RANGE, "download": "funnel"}))
    assert funnel[0] == ["stage", "count"]
    assert ["Attempts", "6"] in funnel


def test_a_cell_that_looks_like_a_formula_is_kept_as_text(client, story, supervisor):
    story.guide.title = "=HYPERLINK(1)"
    story.guide.save()
    client.force_login(supervisor)
    header, row = rows_of(client.get(OVERVIEW, {**RANGE, "download": "guides"}))
    assert dict(zip(header, row, strict=True))["guide"] == "'=HYPERLINK(1)"


def test_the_failure_notes_newest_first_and_searchable(client, story, supervisor):
    client.force_login(supervisor)
    notes = reverse("admin:guides_guide_failure_notes", args=[story.guide.pk, story.steps[0].pk])
    listed = [outcome.note for outcome in client.get(notes).context["page"]]
    assert listed == ["error 42 again", "Error 42 on the card page"]
    found = [o.note for o in client.get(notes, {"q": "CARD"}).context["page"]]
    assert found == ["Error 42 on the card page"]
    assert list(client.get(notes, {"language": "ar"}).context["page"]) == []


@pytest.mark.parametrize(
    "params",
    [
        {"date_from": "2026-11-30", "date_to": "2026-11-01"},
        {"date_from": "not a date"},
        {"date_from": "2020-01-01", "date_to": "2026-11-30"},
        {"language": "xx"},
    ],
)
def test_a_bad_filter_is_a_form_error_not_a_failure(client, story, supervisor, params):
    client.force_login(supervisor)
    for url in (OVERVIEW, guide_page(story)):
        response = client.get(url, params)
        assert response.status_code == 200
        assert response.context["form"].errors


def test_the_pages_speak_arabic_right_to_left(client, story, supervisor):
    client.force_login(supervisor)
    response = client.get(guide_page(story), RANGE, HTTP_ACCEPT_LANGUAGE="ar")
    body = response.content.decode()
    assert 'dir="rtl"' in body
    assert response.context["rtl"] is True


def queries_of(client, url, params) -> int:
    with CaptureQueriesContext(connection) as captured:
        assert client.get(url, params).status_code == 200
    return len(captured)


def test_the_pages_query_counts_do_not_grow_with_the_data(client, story, supervisor):
    client.force_login(supervisor)
    small = [queries_of(client, url, RANGE) for url in (OVERVIEW, guide_page(story))]
    assert len(client.get(OVERVIEW, RANGE).context["funnels"]) == 1
    for _ in range(3):
        statistics_story(company=story.guide.company)
    services.statistics_rollup(full=True)
    large = [queries_of(client, url, RANGE) for url in (OVERVIEW, guide_page(story))]
    assert len(client.get(OVERVIEW, RANGE).context["funnels"]) == 4
    assert small == large


def test_the_overview_narrows_to_one_guide(client, story, supervisor):
    other = statistics_story()
    services.statistics_rollup(full=True)  # the story's rows are dated in the past
    client.force_login(supervisor)
    response = client.get(OVERVIEW, {**RANGE, "guide": other.guide.pk})
    assert [row.guide_id for row, _rate in response.context["funnels"]] == [other.guide.pk]
    # A guide outside the list's choices is a form error, as any other bad filter.
    assert client.get(OVERVIEW, {**RANGE, "guide": 10**9}).context["form"].errors
