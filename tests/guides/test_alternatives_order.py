"""Alternatives ordered by what works, through the services, the admin, the guide page and the
API: each attempt records the order it is shown, the page and the API show it, the order's
changes are recorded once each, and authors see the numbers behind it and can pin it.

Personas: Nadia reads Spotify's guide; Ann (an author) runs it in the admin.
"""

from __future__ import annotations

import datetime
import random
import re

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from guides import ordering, selectors, services
from guides.models import AlternativesOrderChange, Attempt, Guide, Step, StepDayTally
from tests.factories import GuideFactory, StepFactory
from tests.helpers import guide_url

NADIA = {"HTTP_USER_AGENT": "Mozilla/5.0 (Nadia's phone)"}


class Exploit(random.Random):
    """A random source that never draws an attempt to explore."""

    def random(self) -> float:
        return 0.999


class Explore(random.Random):
    """A random source that always explores, drawing each alternative's rate as the fewer its
    tries the higher (the least tried first)."""

    def random(self) -> float:
        return 0.0

    def betavariate(self, alpha: float, beta: float) -> float:
        return 1 / (alpha + beta)


@pytest.fixture
def spotify(db) -> tuple[Guide, dict[str, Step]]:
    """The payment guide: a procedure, three alternatives (PayPal, a private window, Wi-Fi) and
    a last resort, in the authors' order."""
    guide = GuideFactory(title="I can't change my payment card")
    titles = [
        ("card", Step.Kind.PROCEDURE, "Update the card in your account"),
        ("paypal", Step.Kind.ALTERNATIVE, "Pay with PayPal instead"),
        ("private", Step.Kind.ALTERNATIVE, "Try a private window"),
        ("wifi", Step.Kind.ALTERNATIVE, "Use Wi-Fi, not a hotspot"),
        ("new", Step.Kind.LAST_RESORT, "Let the plan lapse and start a new one"),
    ]
    steps = {
        name: StepFactory(guide=guide, position=position, kind=kind, title=title)
        for position, (name, kind, title) in enumerate(titles, start=1)
    }
    return guide, steps


def tally(
    guide: Guide, step: Step, *, tried: int, worked: int, rolled_up: bool = True, **fields
) -> None:
    """What the rollup writes for one day (today unless ``day``), in the guide's language
    unless ``language``; tried splits into worked and did not work. Then, as the rollup does,
    it tells the ordering (unless not ``rolled_up``)."""
    version = fields.pop("version", None) or services.guide_version_record(guide=guide)
    StepDayTally.objects.create(
        day=fields.pop("day", timezone.localdate()),
        guide=guide,
        version=version,
        step_key=step.pk,
        language=fields.pop("language", guide.language),
        shown=tried,
        worked=worked,
        did_not_work=tried - worked,
        **fields,
    )
    if rolled_up:
        services.alternatives_order_changed([guide.pk])


def ids(steps: dict[str, Step], *names: str) -> list[int]:
    return [steps[name].pk for name in names]


def start(guide: Guide, rng: random.Random | None = None) -> Attempt:
    attempt, _token = services.attempt_start(guide=guide, rng=rng or Exploit())
    return attempt


def wifi_works(guide: Guide, steps: dict[str, Step]) -> None:
    """Wi-Fi fixes it for most, PayPal for some, the private window is barely tried."""
    tally(guide, steps["paypal"], tried=200, worked=60)
    tally(guide, steps["private"], tried=10, worked=9)
    tally(guide, steps["wifi"], tried=150, worked=120)


# --- attempts ----------------------------------------------------------------------------------


def test_without_data_an_attempt_gets_the_authors_order(spotify):
    guide, steps = spotify
    assert start(guide).step_order == ids(steps, "card", "paypal", "private", "wifi", "new")


def test_an_attempt_gets_the_alternatives_in_the_order_of_what_works(spotify):
    guide, steps = spotify
    wifi_works(guide, steps)
    # The private window has too few tries: it keeps its slot (second); Wi-Fi and PayPal swap.
    assert start(guide).step_order == ids(steps, "card", "wifi", "private", "paypal", "new")


def test_an_exploring_attempt_gets_the_drawn_order_between_the_fixed_ends(spotify):
    guide, steps = spotify
    wifi_works(guide, steps)
    assert start(guide, Explore()).step_order == ids(
        steps, "card", "private", "wifi", "paypal", "new"
    )


def test_a_pinned_guide_gives_every_attempt_the_authors_order(spotify):
    guide, steps = spotify
    wifi_works(guide, steps)
    guide.alternatives_pinned = True
    guide.save()
    for rng in (Exploit(), Explore()):
        assert start(guide, rng).step_order == ids(
            steps, "card", "paypal", "private", "wifi", "new"
        )


def test_the_tallies_count_every_version_the_guides_language_and_the_recent_days(spotify):
    guide, steps = spotify
    old = services.guide_version_record(guide=guide)
    steps["paypal"].title = "Pay with PayPal (reworded)"
    steps["paypal"].save()
    new = services.guide_version_record(guide=guide)
    assert new.number == 2
    today = timezone.localdate()
    # PayPal: 40 tries in each version (one step, one identity), 38 worked in all.
    tally(guide, steps["paypal"], tried=40, worked=19, version=old, day=today)
    tally(guide, steps["paypal"], tried=40, worked=19, version=new, day=today)
    tally(guide, steps["wifi"], tried=80, worked=30, version=new)
    # Not counted: another language, and days before the window.
    tally(guide, steps["wifi"], tried=500, worked=500, version=new, language="ar")
    long_ago = today - datetime.timedelta(days=ordering.WINDOW_DAYS + 1)
    tally(guide, steps["wifi"], tried=500, worked=500, version=new, day=long_ago)

    known = services.alternatives_tallies(guide=guide)

    assert known[steps["paypal"].pk] == ordering.AlternativeTally(steps["paypal"].pk, 80, 38)
    assert known[steps["wifi"].pk] == ordering.AlternativeTally(steps["wifi"].pk, 80, 30)
    assert known[steps["private"].pk] == ordering.AlternativeTally(steps["private"].pk, 0, 0)
    assert start(guide).step_order == ids(steps, "card", "paypal", "private", "wifi", "new")


def test_could_not_do_counts_as_tried_and_not_worked(spotify):
    guide, steps = spotify
    tally(guide, steps["wifi"], tried=0, worked=0, could_not_do=50)
    assert services.alternatives_tallies(guide=guide)[steps["wifi"].pk].tried == 50


# --- the cache and the rollup's refresh --------------------------------------------------------


def tallies_read(queries: CaptureQueriesContext) -> bool:
    return any("guides_stepdaytally" in q["sql"] for q in queries.captured_queries)


def test_attempts_read_the_tallies_from_the_cache(spotify):
    guide, steps = spotify
    wifi_works(guide, steps)
    start(guide)
    with CaptureQueriesContext(connection) as queries:
        attempt = start(guide)
    assert not tallies_read(queries)
    assert attempt.step_order == ids(steps, "card", "wifi", "private", "paypal", "new")


def test_the_rollups_refresh_reaches_the_next_attempt_and_is_recorded_once(spotify):
    guide, steps = spotify
    start(guide)
    tally(guide, steps["wifi"], tried=100, worked=90, rolled_up=False)
    tally(guide, steps["paypal"], tried=100, worked=10, rolled_up=False)
    # Until the rollup says so, attempts keep the cached tallies (at most ORDER_CACHE_SECONDS).
    assert start(guide).step_order == ids(steps, "card", "paypal", "private", "wifi", "new")

    services.alternatives_order_changed([guide.pk])
    services.alternatives_order_changed([guide.pk])  # a rollup run twice: nothing new

    assert start(guide).step_order == ids(steps, "card", "wifi", "private", "paypal", "new")
    changes = list(AlternativesOrderChange.objects.filter(guide=guide).order_by("pk"))
    assert [change.order for change in changes] == [
        ids(steps, "paypal", "private", "wifi"),
        ids(steps, "wifi", "private", "paypal"),
    ]


def test_each_change_of_the_order_is_recorded_once_with_its_numbers(spotify):
    guide, steps = spotify
    for _ in range(3):
        start(guide)
    wifi_works(guide, steps)
    for _ in range(3):
        services.alternatives_order_changed([guide.pk])
        start(guide)

    first, second = AlternativesOrderChange.objects.filter(guide=guide).order_by("pk")
    assert (first.pinned, first.language) == (False, "en")
    assert second.order == ids(steps, "wifi", "private", "paypal")
    wifi, private, paypal = second.numbers
    assert wifi == {
        "step": steps["wifi"].pk,
        "title": "Use Wi-Fi, not a hotspot",
        "tried": 150,
        "worked": 120,
        "lower_bound": round(ordering.wilson_lower_bound(120, 150), 4),
        "ranked": True,
    }
    assert (private["tried"], private["ranked"]) == (10, False)
    assert (paypal["tried"], paypal["worked"]) == (200, 60)


def test_a_new_alternative_is_recorded_with_the_version(spotify):
    guide, steps = spotify
    start(guide)
    steps["new"].position = 9
    steps["new"].save()
    forum = StepFactory(guide=guide, position=5, kind=Step.Kind.ALTERNATIVE, title="Ask the forum")
    start(guide)

    latest = AlternativesOrderChange.objects.filter(guide=guide).latest("pk")
    assert latest.order == [*ids(steps, "paypal", "private", "wifi"), forum.pk]


def test_a_guide_with_one_alternative_records_no_order(db):
    guide = GuideFactory()
    StepFactory(guide=guide, position=1, kind=Step.Kind.PROCEDURE)
    StepFactory(guide=guide, position=2, kind=Step.Kind.ALTERNATIVE)
    start(guide, Explore())
    services.alternatives_order_changed([guide.pk])
    assert not AlternativesOrderChange.objects.filter(guide=guide).exists()


@pytest.mark.parametrize("size", [2, 12])
def test_refreshing_many_guides_runs_the_same_queries(db, django_assert_num_queries, size):
    guides = []
    for number in range(size):
        guide = GuideFactory()
        alternatives = [
            StepFactory(guide=guide, position=position, kind=Step.Kind.ALTERNATIVE)
            for position in range(1, 5)
        ]
        for step in alternatives:
            tally(guide, step, tried=40 + step.position * number, worked=20, rolled_up=False)
        guides.append(guide)
    AlternativesOrderChange.objects.all().delete()  # the ones the first versions recorded
    # The guides, their alternatives with tallies, the last orders; then, with changes: the
    # lock, the last orders again, the insert (in a savepoint).
    with django_assert_num_queries(8):
        services.alternatives_order_changed([guide.pk for guide in guides])
    assert AlternativesOrderChange.objects.count() == size
    with django_assert_num_queries(3):  # nothing changed: nothing written
        services.alternatives_order_changed([guide.pk for guide in guides])


# --- the web page ------------------------------------------------------------------------------


def shown_titles(body: str) -> list[str]:
    return re.findall(r'<span class="step-number">\d+</span> ([^<]+)</h3>', body)


def mark(client: Client, guide: Guide, step: Step, outcome: str = "did_not_work", **data):
    return client.post(
        guide_url("step-outcome", guide, step_id=step.pk), {"outcome": outcome, **data}
    )


def test_a_reader_without_an_attempt_sees_the_order_of_what_works(spotify):
    guide, steps = spotify
    wifi_works(guide, steps)
    body = Client(**NADIA).get(guide_url("guide-detail", guide)).content.decode()
    assert shown_titles(body) == [
        "Update the card in your account",
        "Use Wi-Fi, not a hotspot",
        "Try a private window",
        "Pay with PayPal instead",
        "Let the plan lapse and start a new one",
    ]
    order = ",".join(str(pk) for pk in ids(steps, "card", "wifi", "private", "paypal", "new"))
    assert f'name="order" value="{order}"' in body


@pytest.mark.parametrize("reader", ["en", "ar"])
def test_the_page_shows_each_customer_the_order_their_attempt_recorded(spotify, reader):
    """Three customers in three orders, on a page kept warm: each sees their own, the order
    a full render gives them, in either language of the interface."""
    guide, steps = spotify
    headers = {**NADIA, "HTTP_ACCEPT_LANGUAGE": reader}
    orders = {
        "reader": None,
        "exploring": ids(steps, "card", "wifi", "paypal", "private", "new"),
        "other": ids(steps, "card", "private", "wifi", "paypal", "new"),
    }
    clients = {}
    for name, order in orders.items():
        client = Client(**headers)
        if order is not None:
            mark(client, guide, steps["card"])
            Attempt.objects.filter(pk=Attempt.objects.latest("pk").pk).update(step_order=order)
        clients[name] = client
    by_id = {step.pk: step.title for step in steps.values()}

    for _round in range(2):  # cold, then warm
        for name, client in clients.items():
            body = client.get(guide_url("guide-detail", guide)).content.decode()
            order = orders[name] or ids(steps, "card", "paypal", "private", "wifi", "new")
            assert shown_titles(body) == [by_id[pk] for pk in order], name


def test_the_first_mark_at_the_procedure_may_start_an_exploring_attempt(spotify, monkeypatch):
    guide, steps = spotify
    wifi_works(guide, steps)
    monkeypatch.setattr(services, "_random", Explore())
    nadia = Client(**NADIA)
    shown = ",".join(str(pk) for pk in ids(steps, "card", "wifi", "private", "paypal", "new"))

    mark(nadia, guide, steps["card"], order=shown)

    attempt = Attempt.objects.get()
    assert attempt.step_order == ids(steps, "card", "private", "wifi", "paypal", "new")
    body = nadia.get(guide_url("guide-detail", guide)).content.decode()
    assert shown_titles(body)[1] == "Try a private window"


def test_a_first_mark_past_the_procedure_records_the_order_the_page_showed(spotify, monkeypatch):
    """Nadia read the page in the order of a few minutes ago and marked an alternative: that is
    the order she chose under, whatever the order is now and whatever the exploration draws."""
    guide, steps = spotify
    monkeypatch.setattr(services, "_random", Explore())
    seen = ids(steps, "card", "wifi", "paypal", "private", "new")

    mark(Client(**NADIA), guide, steps["paypal"], order=",".join(map(str, seen)))

    attempt = Attempt.objects.get()
    assert attempt.step_order == seen
    assert attempt.outcomes.get().step == steps["paypal"]


@pytest.mark.parametrize(
    "sent", ["", "1,2,3", "x" * 40, "١,٢", "9" * 30, "0,0,0,0,0", "%s,%s,%s,%s,%s"]
)
def test_an_order_sent_back_that_does_not_fit_takes_the_current_one(spotify, monkeypatch, sent):
    guide, steps = spotify
    wifi_works(guide, steps)
    monkeypatch.setattr(services, "_random", Explore())
    if "%s" in sent:  # the guide's steps, but the procedure moved
        sent = sent % tuple(ids(steps, "wifi", "card", "private", "paypal", "new"))

    response = mark(Client(**NADIA), guide, steps["paypal"], order=sent)

    assert response.status_code == 302
    # Not explored: she had seen an order, only not one we can read back.
    assert Attempt.objects.get().step_order == ids(
        steps, "card", "wifi", "private", "paypal", "new"
    )


# --- the admin ---------------------------------------------------------------------------------


@pytest.fixture
def ann_client(ann) -> Client:
    client = Client()
    client.force_login(ann)
    return client


def test_ann_sees_the_current_order_with_its_numbers_and_its_history(spotify, ann_client):
    guide, steps = spotify
    start(guide)
    wifi_works(guide, steps)
    services.alternatives_order_changed([guide.pk])

    body = ann_client.get(reverse("admin:guides_guide_change", args=[guide.pk])).content.decode()

    table = body.split('class="alternatives-order"', 1)[1].split("</table>", 1)[0]
    rows = re.findall(r"<tr><td>(\d)</td><td>([^<]+)</td><td>(\d+)</td><td>(\d+)</td>", table)
    assert rows == [
        ("1", "Use Wi-Fi, not a hotspot", "150", "120"),
        ("2", "Try a private window", "10", "9"),
        ("3", "Pay with PayPal instead", "200", "60"),
    ]
    assert f"{ordering.wilson_lower_bound(120, 150) * 100:.1f} %" in table
    assert "10 of 30 tries" in table
    assert body.count('class="alternatives-order-change"') == 2
    assert 'name="alternatives_pinned"' in body


def test_ann_pins_the_order_and_the_history_records_it(spotify, ann_client):
    guide, steps = spotify
    wifi_works(guide, steps)
    start(guide)
    rows = [
        {"id": s.pk, "position": s.position, "kind": s.kind, "title": s.title, "body": s.body}
        for s in guide.steps.order_by("position")
    ]
    data = {
        "company": guide.company_id,
        "title": guide.title,
        "slug": guide.slug,
        "language": guide.language,
        "status": guide.status,
        "translation_key": guide.translation_key,
        "summary": guide.summary,
        "alternatives_pinned": "on",
        "steps-TOTAL_FORMS": len(rows),
        "steps-INITIAL_FORMS": len(rows),
        "steps-MIN_NUM_FORMS": 0,
        "steps-MAX_NUM_FORMS": 1000,
    }
    for index, row in enumerate(rows):
        data.update({f"steps-{index}-{key}": value for key, value in row.items()})
        data[f"steps-{index}-guide"] = guide.pk

    response = ann_client.post(reverse("admin:guides_guide_change", args=[guide.pk]), data)

    assert response.status_code == 302, response.content.decode()[:3000]
    guide.refresh_from_db()
    assert guide.alternatives_pinned
    latest = AlternativesOrderChange.objects.filter(guide=guide).latest("pk")
    assert (latest.pinned, latest.order) == (True, ids(steps, "paypal", "private", "wifi"))
    assert start(guide, Explore()).step_order == ids(
        steps, "card", "paypal", "private", "wifi", "new"
    )
    body = ann_client.get(reverse("admin:guides_guide_change", args=[guide.pk])).content.decode()
    assert "Pinned: every customer sees the alternatives" in body


def test_an_agent_reading_the_guide_sees_no_numbers(spotify, client, alice):
    guide, steps = spotify
    wifi_works(guide, steps)
    client.force_login(alice.user)
    response = client.get(reverse("admin:guides_guide_change", args=[guide.pk]))
    assert response.status_code == 200
    body = response.content.decode()
    assert "alternatives-order" not in body
    assert "guide-versions" not in body


def test_the_admin_shows_the_order_in_arabic(spotify, ann_client):
    guide, steps = spotify
    wifi_works(guide, steps)
    ann_client.post("/i18n/setlang/", {"language": "ar", "next": "/admin/"})
    body = ann_client.get(reverse("admin:guides_guide_change", args=[guide.pk])).content.decode()
    assert "ترتيب البدائل" in body
    assert "10 من 30 محاولة" in body


# --- the API -----------------------------------------------------------------------------------


def test_the_api_attempt_says_its_version_and_order(spotify):
    guide, steps = spotify
    wifi_works(guide, steps)
    api = APIClient()

    started = api.post(f"/api/v1/guides/{guide.pk}/attempts/").json()

    attempt = Attempt.objects.get()
    assert started["guide_version"] == attempt.guide_version.number == 1
    assert started["step_order"] == attempt.step_order
    api.credentials(HTTP_X_ATTEMPT_TOKEN=started["token"])
    assert api.get("/api/v1/attempt/").json()["step_order"] == attempt.step_order


def test_the_api_guide_comes_in_the_attempts_order_with_its_token(spotify):
    guide, steps = spotify
    wifi_works(guide, steps)
    token = APIClient().post(f"/api/v1/guides/{guide.pk}/attempts/").json()["token"]
    recorded = ids(steps, "card", "paypal", "wifi", "private", "new")
    Attempt.objects.update(step_order=recorded)

    def steps_listed(**headers) -> list[int]:
        response = APIClient().get(f"/api/v1/guides/{guide.pk}/", **headers)
        assert response.status_code == 200
        return [step["id"] for step in response.json()["steps"]]

    assert steps_listed(HTTP_X_ATTEMPT_TOKEN=token) == recorded
    exploit = ids(steps, "card", "wifi", "private", "paypal", "new")
    assert steps_listed() == exploit
    assert steps_listed(HTTP_X_ATTEMPT_TOKEN="not a token") == exploit
    other = GuideFactory()
    other_token = APIClient().post(f"/api/v1/guides/{other.pk}/attempts/").json()["token"]
    assert steps_listed(HTTP_X_ATTEMPT_TOKEN=other_token) == exploit


def test_selectors_and_services_agree_on_the_tallies(spotify):
    """The page reads the tallies with its steps, attempts through the cache: the same sums."""
    guide, steps = spotify
    wifi_works(guide, steps)
    page_guide = selectors.published_guide_detail().get(pk=guide.pk)
    from_page = selectors.alternative_tallies(page_guide.steps.all())
    assert {t.step: t for t in from_page} == services.alternatives_tallies(guide=guide)
