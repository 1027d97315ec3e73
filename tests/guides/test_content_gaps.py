"""The content gaps (guides/gaps.py) and their admin page: each kind shows from a constructed
data set, links to what it is about, and hides once marked handled until something new comes;
Ann writes Spotify's guides and sees Spotify's gaps only, Sue sees every company's, agents none.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from guides import gaps
from guides.models import (
    Attempt,
    ContentGapHandled,
    Feedback,
    Guide,
    GuideVersion,
    SearchLog,
    Step,
    StepDayTally,
    StepOutcome,
    attempt_token_hash,
)
from tests.factories import CompanyFactory, GuideFactory, StepFactory, staff_user

PAGE = reverse("admin:guides_guide_content_gaps")
HANDLE = reverse("admin:guides_guide_content_gap_handle")
GUIDE_LIST = reverse("admin:guides_guide_changelist")


# --- a constructed data set ------------------------------------------------------------------

_attempts = 0


def attempt_of(guide: Guide | None, *, language: str = "en", company=None, **fields) -> Attempt:
    global _attempts
    _attempts += 1
    now = timezone.now()
    return Attempt.objects.create(
        guide=guide,
        company=company or (guide.company if guide else None),
        language=language,
        token_hash=attempt_token_hash(f"gaps-{_attempts}"),
        status=Attempt.Status.ESCALATED,
        finished_at=now,
        escalation_requested_at=now,
        description=fields.pop("description", "Still stuck, please help."),
        **fields,
    )


def failure_note(step: Step, note: str, *, language: str = "en", at: datetime | None = None):
    return StepOutcome.objects.create(
        attempt=attempt_of(step.guide, language=language),
        step=step,
        step_position=step.position,
        step_kind=step.kind,
        step_title=step.title,
        outcome=StepOutcome.Outcome.DID_NOT_WORK,
        note=note,
        recorded_at=at or timezone.now(),
    )


def tally(step: Step, *, days_ago: int, worked: int, failed: int, language: str = "en"):
    version, _ = GuideVersion.objects.get_or_create(guide=step.guide, number=1)
    return StepDayTally.objects.create(
        day=timezone.localdate() - timedelta(days=days_ago),
        guide=step.guide,
        version=version,
        step_key=step.pk,
        language=language,
        shown=worked + failed,
        worked=worked,
        did_not_work=failed - failed // 3,
        could_not_do=failed // 3,
    )


def searched(query: str, *, company=None, language="en", results=0, clicked=None, days_ago=0):
    at = timezone.now() - timedelta(days=days_ago)
    return SearchLog.objects.create(
        query=query,
        company=company,
        language=language,
        source=SearchLog.Source.PAGE,
        result_count=results,
        searched_at=at,
        clicked_guide=clicked,
        clicked_at=at if clicked else None,
    )


class Scene:
    """Spotify (Ann writes for it) with an English and an Arabic guide, Netflix with one; one
    item of every kind for Spotify in English, and the things that must not show."""

    def __init__(self) -> None:
        self.spotify = CompanyFactory(name="Spotify", slug="spotify")
        self.netflix = CompanyFactory(name="Netflix", slug="netflix")
        self.card = GuideFactory(company=self.spotify, slug="card", title="I can't change my card")
        self.update_card = StepFactory(guide=self.card, position=1, title="Update the card")
        self.paypal = StepFactory(guide=self.card, position=2, title="Pay with PayPal")
        self.card_ar = GuideFactory(
            company=self.spotify, slug="card", language="ar", title="لا أستطيع تغيير بطاقتي"
        )
        self.update_card_ar = StepFactory(guide=self.card_ar, position=1, title="حدّث البطاقة")
        self.screen = GuideFactory(company=self.netflix, slug="screen", title="Black screen")
        self.restart = StepFactory(guide=self.screen, position=1, title="Restart the app")

    def fill(self, size: int = 1) -> Scene:
        now = timezone.now()
        # (a) searches: "refund podcast" found nothing (twice), "premium family" found a
        # guide nobody opened; "change card" was opened: not a gap.
        for number in range(size):
            searched(f"refund podcast {number}" if number else "refund podcast",
                     company=self.spotify)  # fmt: skip
        searched("refund podcast", company=self.spotify)
        searched("premium family", company=self.spotify, results=3)
        searched("change card", company=self.spotify, results=1, clicked=self.card)
        searched("old search", company=self.spotify, days_ago=gaps.PERIOD_DAYS + 1)
        searched("offline mode", company=None)  # named no company
        searched("black screen tv", company=self.netflix)
        # (b) needs work, with and without a comment; a helpful answer is no gap.
        for number in range(size):
            Feedback.objects.create(
                guide=self.card,
                helpful=False,
                comment=f"The card page looks different now ({number})",
                voter=f"v{number}",
            )
        Feedback.objects.create(guide=self.card, helpful=False, comment="", voter="quiet")
        Feedback.objects.create(guide=self.card, helpful=True, comment="Great", voter="happy")
        Feedback.objects.create(
            guide=self.screen, helpful=False, comment="Still black", voter="netflix"
        )
        # (c) tallies: "Update the card" fails 67 % this week against 20 % before; PayPal
        # stays at 20 %; Netflix's step rose too.
        tally(self.update_card, days_ago=0, worked=10, failed=20)
        tally(self.update_card, days_ago=10, worked=40, failed=10)
        tally(self.paypal, days_ago=1, worked=40, failed=10)
        tally(self.paypal, days_ago=12, worked=40, failed=10)
        tally(self.restart, days_ago=0, worked=5, failed=25)
        tally(self.restart, days_ago=9, worked=45, failed=5)
        for number in range(size):
            tally(self.update_card_ar, days_ago=2 + number, worked=2, failed=2)  # too few tries
        # (d) failure notes on "Update the card"; a single note on PayPal is too few.
        for number in range(3 * size):
            failure_note(
                self.update_card,
                ["The card was declined", "Declined again, card expired?", "card DECLINED"][
                    number % 3
                ],
                at=now - timedelta(hours=number + 1),
            )
        failure_note(self.paypal, "PayPal login loops")
        failure_note(self.restart, "screen stays black", at=now)
        failure_note(self.restart, "black screen", at=now)
        failure_note(self.restart, "black", at=now)
        # (e) contact requests: one opened no guide, one opened a suggestion, one named no
        # company; one older than the period.
        for number in range(size):
            attempt_of(None, company=self.spotify, description=f"Move my playlists ({number})")
        opened = attempt_of(None, company=self.spotify, description="Opened a guide")
        opened.opened_guides.add(self.card)
        attempt_of(None, company=None, description="Which company handles this?")
        attempt_of(
            None,
            company=self.spotify,
            description="Long ago",
            started_at=now - timedelta(days=gaps.PERIOD_DAYS + 1),
        )
        attempt_of(None, company=self.netflix, description="Netflix question")
        return self


@pytest.fixture
def scene(db) -> Scene:
    return Scene().fill()


@pytest.fixture
def author(ann, scene):
    scene.spotify.authors.add(ann)
    return ann


def page(client: Client, user, **params):
    client.force_login(user)
    return client.get(PAGE, params)


def sections(response) -> dict[str, list]:
    assert response.status_code == 200, response.content.decode()[:2000]
    return {
        name: [row["item"] for row in rows] for name, rows in response.context["sections"].items()
    }


def handle(client: Client, item: gaps.GapItem, **extra):
    return client.post(
        HANDLE,
        {
            "kind": item.kind,
            "key": item.key,
            "company": item.company.pk if item.company else "",
            "language": item.language,
            **extra,
        },
    )


# --- each kind, with its link ----------------------------------------------------------------


def test_each_kind_of_gap_shows_for_the_supervisor(client, scene, sue):
    found = sections(page(client, sue))

    searches = {
        (item.query, item.company and item.company.slug): item for item in found["searches"]
    }
    assert set(searches) == {
        ("refund podcast", "spotify"),
        ("premium family", "spotify"),
        ("offline mode", None),
        ("black screen tv", "netflix"),
    }
    refund = searches[("refund podcast", "spotify")]
    assert (refund.searches, refund.no_result, refund.no_click) == (2, 2, 0)
    family = searches[("premium family", "spotify")]
    assert (family.searches, family.no_result, family.no_click) == (1, 0, 1)
    assert found["searches"][0] == refund  # the most gaps first

    assert [item.feedback.comment for item in found["needs_work"]] == [
        "Still black",
        "The card page looks different now (0)",
    ]

    rises = {item.step: item for item in found["step_failures"]}
    assert set(rises) == {scene.update_card, scene.restart}
    update = rises[scene.update_card]
    assert (update.failed_now, update.tried_now, update.failed_before, update.tried_before) == (
        20,
        30,
        10,
        50,
    )
    assert found["step_failures"][0].step == scene.restart  # the biggest rise first

    words = {item.step: item for item in found["failure_words"]}
    assert set(words) == {scene.update_card, scene.restart}
    assert words[scene.update_card].notes == 3
    assert words[scene.update_card].words[:2] == [("card", 3), ("declined", 3)]
    assert words[scene.restart].words[0] == ("black", 3)

    assert sorted(item.attempt.description for item in found["contact_requests"]) == [
        "Move my playlists (0)",
        "Netflix question",
        "Which company handles this?",
    ]


def test_each_item_links_to_the_guide_or_search_it_concerns(client, scene, sue):
    html = page(client, sue, company="spotify", language="en").content.decode()
    assert f'href="{reverse("guides:search")}?q=refund+podcast&amp;company=spotify"' in html
    guide_admin = reverse("admin:guides_guide_change", args=[scene.card.pk])
    assert html.count(f'href="{guide_admin}"') == 3  # needs work, rising step, its words
    request = Attempt.objects.get(description="Move my playlists (0)")
    assert f'href="{reverse("admin:guides_attempt_change", args=[request.pk])}"' in html


def test_the_company_and_language_filters(client, scene, sue):
    found = sections(page(client, sue, company="spotify", language="en"))
    assert {item.query for item in found["searches"]} == {"refund podcast", "premium family"}
    assert all(item.company == scene.spotify for kind in found.values() for item in kind)
    assert all(item.language == "en" for kind in found.values() for item in kind)

    arabic = sections(page(client, sue, language="ar"))
    assert all(items == [] for items in arabic.values())


@pytest.mark.parametrize("params", [{"company": "no-such"}, {"language": "fr"}])
def test_a_bad_filter_is_a_form_error(client, scene, sue, params):
    response = page(client, sue, **params)
    assert response.status_code == 400
    assert "Choose a company and a language from the lists." in response.content.decode()


# --- handled ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "section",
    ["searches", "needs_work", "step_failures", "failure_words", "contact_requests"],
)
def test_marking_an_item_handled_hides_it(client, scene, sue, section):
    before = sections(page(client, sue))[section]
    item = before[0]

    response = handle(client, item, filter_company="spotify", filter_language="en")

    assert response.status_code == 302
    assert response["Location"] == f"{PAGE}?company=spotify&language=en"
    mark = ContentGapHandled.objects.get()
    assert (mark.kind, mark.key, mark.company, mark.language, mark.handled_by) == (
        item.kind,
        item.key,
        item.company,
        item.language,
        sue,
    )
    after = sections(client.get(PAGE))[section]
    assert item.key not in [other.key for other in after if other.company == item.company]
    assert len(after) == len(before) - 1


def test_a_new_search_after_handling_shows_it_again_with_the_new_searches_only(client, scene, sue):
    refund = sections(page(client, sue, company="spotify"))["searches"][0]
    handle(client, refund)
    assert "refund podcast" not in [i.query for i in sections(client.get(PAGE))["searches"]]

    searched("refund podcast", company=scene.spotify)
    again = {i.query: i for i in sections(client.get(PAGE))["searches"]}["refund podcast"]
    assert (again.searches, again.no_result) == (1, 1)


def test_a_mark_hides_the_same_words_of_its_own_company_only(client, scene, sue):
    searched("refund podcast", company=scene.netflix)
    spotify_refund = next(
        i for i in sections(page(client, sue))["searches"]
        if i.query == "refund podcast" and i.company == scene.spotify
    )  # fmt: skip
    handle(client, spotify_refund)
    left = [(i.query, i.company) for i in sections(client.get(PAGE))["searches"]]
    assert ("refund podcast", scene.netflix) in left
    assert ("refund podcast", scene.spotify) not in left


def test_a_changed_comment_shows_again(client, scene, sue):
    (comment,) = sections(page(client, sue, company="spotify"))["needs_work"]
    handle(client, comment)
    assert sections(client.get(PAGE, {"company": "spotify"}))["needs_work"] == []

    Feedback.objects.filter(pk=comment.feedback.pk).update(
        comment="Now the button is gone", updated_at=timezone.now() + timedelta(seconds=1)
    )
    (again,) = sections(client.get(PAGE, {"company": "spotify"}))["needs_work"]
    assert again.feedback.comment == "Now the button is gone"


def test_new_failure_notes_show_the_step_again_with_their_own_words(client, scene, sue):
    words = sections(page(client, sue, company="spotify"))["failure_words"]
    (update,) = [item for item in words if item.step == scene.update_card]
    handle(client, update)
    assert sections(client.get(PAGE, {"company": "spotify"}))["failure_words"] == []

    later = timezone.now() + timedelta(seconds=1)
    for note in ["Bank says no", "the bank blocked it", "bank app crashed"]:
        failure_note(scene.update_card, note, at=later)
    (again,) = sections(client.get(PAGE, {"company": "spotify"}))["failure_words"]
    assert again.notes == 3
    assert again.words[0] == ("bank", 3)
    assert "card" not in dict(again.words)


def test_a_handled_step_is_judged_again_on_the_week_after_the_handling(scene, sue):
    spotify = [scene.spotify]

    def rising(now=None) -> list[Step]:
        found = gaps.content_gaps(companies=spotify, every_company=False, now=now)
        return [item.step for item in found.step_failures]

    assert rising() == [scene.update_card]
    gaps.content_gap_handle(
        kind="step_failures",
        key=gaps.step_gap_key(guide_id=scene.card.pk, step_id=scene.update_card.pk),
        company=scene.spotify,
        language="en",
        user=sue,
    )
    assert rising() == []
    # Six days on, the week still holds days before the handling.
    assert rising(timezone.now() + timedelta(days=6)) == []
    # A week on, the week is all after it: still failing more often, it shows again.
    week_on = timezone.now() + timedelta(days=gaps.WEEK_DAYS)
    tally(scene.update_card, days_ago=-gaps.WEEK_DAYS, worked=5, failed=25)
    assert rising(week_on) == [scene.update_card]


def test_marking_again_moves_the_time(client, scene, sue, ann):
    item = sections(page(client, sue))["contact_requests"][0]
    handle(client, item)
    first = ContentGapHandled.objects.get()
    client.force_login(staff_user("sam", "Supervisor"))
    handle(client, item)
    mark = ContentGapHandled.objects.get()
    assert mark.handled_at > first.handled_at
    assert mark.handled_by.username == "sam"


@pytest.mark.parametrize(
    "data",
    [
        {"kind": "nonsense", "key": "1", "language": "en"},
        {"kind": "search", "key": "", "language": "en"},
        {"kind": "search", "key": "x" * 301, "language": "en"},
        {"kind": "search", "key": "refund", "language": "fr"},
    ],
)
def test_a_malformed_item_is_a_message_and_marks_nothing(client, scene, sue, data):
    client.force_login(sue)
    response = client.post(HANDLE, data, follow=True)
    assert response.status_code == 200
    assert "That item could not be marked" in response.content.decode()
    assert not ContentGapHandled.objects.exists()


def test_the_button_takes_posts_only_with_their_csrf_token(scene, sue):
    client = Client(enforce_csrf_checks=True)
    client.force_login(sue)
    assert client.get(HANDLE).status_code == 405
    data = {
        "kind": "search",
        "key": "refund podcast",
        "company": scene.spotify.pk,
        "language": "en",
    }
    assert client.post(HANDLE, data).status_code == 403
    html = client.get(PAGE).content.decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html).group(1)
    assert client.post(HANDLE, {**data, "csrfmiddlewaretoken": token}).status_code == 302
    assert ContentGapHandled.objects.count() == 1


# --- who sees what ---------------------------------------------------------------------------


def test_an_author_sees_the_gaps_of_their_companies_and_those_of_none(client, scene, author):
    found = sections(page(client, author))
    companies = {item.company for kind in found.values() for item in kind}
    assert companies == {scene.spotify, None}
    assert "black screen tv" not in [item.query for item in found["searches"]]
    assert page(client, author, company="netflix").status_code == 400
    assert {item.company for kind in sections(page(client, author, company="spotify")).values()
            for item in kind} == {scene.spotify}  # fmt: skip


def test_an_author_may_not_mark_another_companys_gap(client, scene, sue, author):
    netflix = next(
        i for i in sections(page(client, sue))["needs_work"] if i.company == scene.netflix
    )
    client.force_login(author)
    assert handle(client, netflix).status_code == 403
    assert not ContentGapHandled.objects.exists()
    # The same feedback named under their own company marks nothing of Netflix's.
    response = client.post(
        HANDLE,
        {"kind": "needs_work", "key": netflix.key, "company": scene.spotify.pk, "language": "en"},
    )
    assert response.status_code == 302
    client.force_login(sue)
    assert netflix in sections(client.get(PAGE))["needs_work"]


def test_an_author_of_no_company_sees_only_what_named_none(client, scene, ann):
    response = page(client, ann)
    found = sections(response)
    assert {item.company for kind in found.values() for item in kind} == {None}
    assert "You write for no company yet" in response.content.decode()


def test_agents_and_staff_without_a_role_may_not_see_or_mark(client, scene, alice):
    carl = staff_user("carl")
    for user in (alice.user, carl):
        client.force_login(user)
        assert client.get(PAGE).status_code == 403
        data = {"kind": "search", "key": "refund podcast", "company": "", "language": "en"}
        assert client.post(HANDLE, data).status_code == 403
    assert not ContentGapHandled.objects.exists()


def test_an_agent_granted_the_permission_sees_them(client, scene, alice):
    from django.contrib.auth.models import Permission

    alice.user.user_permissions.add(
        Permission.objects.get(codename="view_all_content_gaps"),
        Permission.objects.get(codename="view_content_gaps"),
    )
    found = sections(page(client, alice.user))
    assert found["searches"]
    assert 'class="gap-handle"' not in client.get(PAGE).content.decode()  # seeing, not marking


def test_the_guide_list_links_to_the_page_for_those_who_may_see_it(
    client, scene, author, sue, alice
):
    for user, shown in [(author, True), (sue, True), (alice.user, False)]:
        client.force_login(user)
        html = client.get(GUIDE_LIST).content.decode()
        assert (PAGE in html) is shown, user


# --- the page --------------------------------------------------------------------------------


def test_the_page_in_arabic_reads_right_to_left(client, scene, sue):
    client.force_login(sue)
    client.post("/i18n/setlang/", {"language": "ar", "next": "/"})
    html = client.get(PAGE).content.decode()
    assert '<html lang="ar" dir="rtl">' in html
    assert "ثغرات المحتوى" in html
    assert 'lang="en" dir="ltr">refund podcast</a>' in html  # the customer's words keep theirs


def test_the_page_runs_no_inline_script(client, scene, sue):
    html = page(client, sue).content.decode()
    assert re.findall(r"<script(?![^>]*\bsrc=)[^>]*>", html) == []
    assert not re.search(r"\son[a-z]+=", html)
    assert "style=" not in html


@pytest.mark.parametrize("size", [1, 6])
def test_the_page_reads_the_same_number_of_queries_at_any_size(
    db, client, sue, size, django_assert_num_queries
):
    scene = Scene().fill(size)
    scene.spotify.authors.add(sue)
    client.force_login(sue)
    client.get(PAGE)  # the session and the user's permissions, as on any admin page
    found = sections(client.get(PAGE))
    assert len(found["needs_work"]) == size + 1
    # The session, the user, their own and their groups' permissions, the companies; the
    # rising steps, the failure notes, their steps, the searches, needs work, the requests,
    # the follow-up questions.
    with django_assert_num_queries(12):
        assert client.get(PAGE).status_code == 200


def test_arabic_notes_count_a_word_and_its_forms_once(scene, sue):
    for note in ["البطاقة مرفوضة", "بطاقتي مرفوضه دائما", "رفض البنك بطاقتي"]:
        failure_note(scene.update_card_ar, note, language="ar")
    found = gaps.content_gaps(companies=[scene.spotify], every_company=False, language="ar")
    (item,) = found.failure_words
    assert item.words[0][1] == 3  # بطاقه / بطاقتي: one stem, in every note
    assert item.words[1] == ("مرفوضه", 2)


def test_the_demo_author_writes_for_every_demo_company(client, db, settings):
    from django.contrib.auth import get_user_model
    from django.core.management import call_command

    from guides.models import Company

    settings.DEBUG = True  # load_demo refuses to run otherwise (its passwords are public)
    call_command("load_demo", verbosity=0)
    settings.DEBUG = False
    author = get_user_model().objects.get(username="author")
    companies, every_company = gaps.content_gap_companies(author)
    assert not every_company
    assert {c.slug for c in companies} == set(Company.objects.values_list("slug", flat=True))
    client.force_login(author)
    for language in ("en", "ar"):
        assert client.get(PAGE, HTTP_ACCEPT_LANGUAGE=language).status_code == 200
