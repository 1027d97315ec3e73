"""Follow-up questions (guides/follow_up.py, guides/follow_up_views.py): the steps that answer,
Arabic in its forms, the threshold, what is stored, the content gaps it feeds, and the pages
without script (post/redirect/get)."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

import pytest
from django.core import signing
from django.urls import reverse

from guides import follow_up, gaps
from guides.follow_up_views import FETCH_HEADER
from guides.models import Company, FollowUpQuestion, Guide, Step
from guides.search import guide_search_index_update
from guides.spelling import corrected_query
from helpdesk import limits
from tests.factories import CompanyFactory, GuideFactory, StepFactory

ASK = reverse("guides:follow-up-ask")
FETCH = {"HTTP_X_FOLLOW_UP": "fetch"}
assert FETCH_HEADER == "X-Follow-Up"


def indexed(guide: Guide, steps: list[tuple[str, str]]) -> Guide:
    for position, (title, body) in enumerate(steps, start=1):
        kind = Step.Kind.PROCEDURE if position == 1 else Step.Kind.ALTERNATIVE
        StepFactory(guide=guide, position=position, kind=kind, title=title, body=body)
    guide_search_index_update(guide_id=guide.pk)
    return guide


@pytest.fixture
def spotify(db) -> Company:
    return CompanyFactory(slug="spotify", name="Spotify")


@pytest.fixture
def card_en(spotify) -> Guide:
    guide = GuideFactory(
        company=spotify,
        slug="card",
        translation_key="card",
        title="I can't change the card I pay Spotify with",
        summary="Your new card is refused.",
    )
    return indexed(
        guide,
        [
            ("Update the card on your account page", "Open spotify.com/account and log in."),
            ("Pay through PayPal instead", "Add the card to your PayPal wallet, then pick PayPal."),
            ("Try again in a private window", "Open an incognito window and try again."),
        ],
    )


@pytest.fixture
def card_ar(spotify) -> Guide:
    guide = GuideFactory(
        company=spotify,
        slug="card",
        language="ar",
        translation_key="card",
        title="لا أستطيع تغيير البطاقة التي أدفع بها",
        summary="البطاقة الجديدة مرفوضة.",
    )
    return indexed(
        guide,
        [
            ("حدِّث البطاقة من صفحة حسابك", "افتح صفحة الحساب وسجّل الدخول."),
            ("ادفع عن طريق PayPal", "أضف بطاقتك إلى محفظة PayPal ثم اخترها."),
            ("أعد المحاولة في نافذة تصفح خاصة", "افتح نافذة متخفية وحاول مرة أخرى."),
        ],
    )


def first_step(match: follow_up.FollowUpMatch) -> tuple[str, int] | None:
    if not match.answers:
        return None
    step = match.answers[0].step
    return (step.guide.language, step.position)


# --- matching ------------------------------------------------------------------------------


def test_it_answers_with_the_step_that_says_it(card_en, card_ar):
    match = follow_up.follow_up_match(
        question="can I pay with PayPal?", language="en", guide=card_en
    )
    assert first_step(match) == ("en", 2)
    assert match.answers[0].score == 1.0
    assert match.answers[0].url == f"{card_en.public_path()}#step-2"


def test_it_answers_from_the_company_guides_in_the_question_language_only(card_en, card_ar):
    match = follow_up.follow_up_match(question="PayPal", language="ar", company=card_en.company)
    assert {answer.step.guide_id for answer in match.answers} == {card_ar.pk}
    other = CompanyFactory(slug="netflix")
    assert follow_up.follow_up_match(question="PayPal", language="en", company=other).answers == []


@pytest.mark.parametrize(
    "question",
    [
        "كيف أحدث بطاقتي من صفحة الحساب؟",  # my card, the article, hamza on alef
        "كيف احدث البطاقه من صفحه حسابي",  # no hamza, teh marbuta as heh, my account
        "كَيْفَ أُحَدِّثُ البِطَاقَةَ مِنْ صَفْحَةِ الحِسَابِ",  # every diacritic
        "وبطاقتي من صفحة الحساب",  # "and my card"
    ],
)
def test_it_reads_arabic_in_all_its_forms(card_ar, question):
    match = follow_up.follow_up_match(question=question, language="ar", guide=card_ar)
    assert first_step(match) == ("ar", 1)


def test_it_answers_nothing_below_the_threshold(card_en):
    match = follow_up.follow_up_match(
        question="how do I download songs to listen offline", language="en", guide=card_en
    )
    assert match.answers == []
    assert 0 < match.best_score < follow_up.MIN_SCORE or match.best_score == 0


def test_a_question_of_stop_words_only_matches_on_them_and_nothing_on_nothing(card_en):
    assert follow_up.follow_up_match(question="?!", language="en", guide=card_en).answers == []
    assert follow_up.question_keys("how do I?") == ["how", "do"]


def test_the_snippet_marks_the_words_asked_and_escapes_the_rest(card_en):
    step = card_en.steps.get(position=2)
    step.body = "Add the <card> to your PayPal wallet & pick **PayPal** at checkout."
    step.save()
    match = follow_up.follow_up_match(question="paypal wallet", language="en", guide=card_en)
    html = str(match.answers[0].snippet_html)
    assert "<mark>PayPal</mark>" in html and "<mark>wallet</mark>" in html
    assert "&lt;card&gt;" in html and "&amp;" in html
    assert "<card>" not in html and "**" not in html


def test_a_long_step_is_cut_around_the_words_asked():
    words = ["filler"] * 60 + ["incognito", "window"] + ["more"] * 60
    text = " ".join(words)
    html = str(follow_up.snippet(text, follow_up.question_keys("incognito window"), size=10))
    assert html.startswith("… ") and html.endswith(" …")
    assert "<mark>incognito</mark> <mark>window</mark>" in html


def test_the_question_is_stored_without_addresses_and_long_numbers():
    cleaned = follow_up.question_cleaned(
        "my card 4111 1111 1111 1111 fails, write to me@example.com or see https://x.y/z"
    )
    assert cleaned == "my card fails, write to or see"


# --- asking, answering ---------------------------------------------------------------------


def test_asking_stores_the_question_what_was_shown_and_the_best_score(card_en):
    asked = follow_up.follow_up_ask(question="  pay with PayPal  ", language="ar", guide=card_en)
    stored = FollowUpQuestion.objects.get()
    assert stored == asked.question
    assert (stored.question, stored.language, stored.company, stored.guide) == (
        "pay with PayPal", "en", card_en.company, card_en,
    )  # fmt: skip
    assert stored.shown[0] == {"step": card_en.steps.get(position=2).pk, "score": 1.0}
    assert stored.answer_count == len(asked.answers) and stored.best_score == 1.0
    assert stored.answered is None and stored.source == "page"


def test_a_question_nothing_answers_is_stored_with_its_best_score(card_en):
    follow_up.follow_up_ask(question="bake bread with PayPal flour", language="en", guide=card_en)
    stored = FollowUpQuestion.objects.get()
    assert stored.shown == [] and stored.answer_count == 0
    assert 0 < stored.best_score < follow_up.MIN_SCORE


def test_an_empty_question_is_refused(card_en):
    with pytest.raises(follow_up.FollowUpError):
        follow_up.follow_up_ask(question=" me@example.com ", language="en", guide=card_en)
    assert not FollowUpQuestion.objects.exists()


def test_the_verdict_is_recorded_and_can_be_changed(card_en):
    asked = follow_up.follow_up_ask(question="PayPal", language="en", guide=card_en)
    follow_up.follow_up_verdict_record(follow_up=asked.question, answered=True)
    follow_up.follow_up_verdict_record(follow_up=asked.question, answered=False)
    stored = FollowUpQuestion.objects.get()
    assert stored.answered is False and stored.answered_at is not None


def test_a_token_names_its_question_only(card_en):
    asked = follow_up.follow_up_ask(question="PayPal", language="en", guide=card_en)
    assert follow_up.follow_up_of(asked.token).question == asked.question
    forged = signing.TimestampSigner(salt="other").sign(str(asked.question.pk))
    for token in [forged, "1", "", asked.token + "x", "x" * 300]:
        assert follow_up.follow_up_of(token) is None


# --- the content gaps ----------------------------------------------------------------------


def test_unanswered_and_not_helpful_questions_are_content_gaps(card_en, card_ar):
    answered = follow_up.follow_up_ask(question="PayPal", language="en", guide=card_en)
    follow_up.follow_up_verdict_record(follow_up=answered.question, answered=True)
    silent = follow_up.follow_up_ask(question="PayPal wallet", language="en", guide=card_en)
    nothing = follow_up.follow_up_ask(question="bake bread", language="en", guide=card_en)
    refused = follow_up.follow_up_ask(question="نافذة خاصة", language="ar", guide=card_ar)
    follow_up.follow_up_verdict_record(follow_up=refused.question, answered=False)

    spotify = card_en.company
    found = gaps.content_gaps(companies=[spotify], every_company=False)
    assert [item.follow_up for item in found.follow_ups] == [refused.question, nothing.question]
    assert silent.question not in [item.follow_up for item in found.follow_ups]
    arabic = gaps.content_gaps(companies=[spotify], every_company=False, language="ar")
    assert [item.key for item in arabic.follow_ups] == [str(refused.question.pk)]


def test_a_handled_follow_up_gap_hides_until_its_asker_says_no_again(card_en, django_user_model):
    nothing = follow_up.follow_up_ask(question="bake bread", language="en", guide=card_en)
    spotify = card_en.company
    (item,) = gaps.content_gaps(companies=[spotify], every_company=False).follow_ups
    gaps.content_gap_handle(kind=item.kind, key=item.key, company=spotify, language="en", user=None)
    assert gaps.content_gaps(companies=[spotify], every_company=False).follow_ups == []
    follow_up.follow_up_verdict_record(follow_up=nothing.question, answered=False)
    assert len(gaps.content_gaps(companies=[spotify], every_company=False).follow_ups) == 1


def test_the_gaps_page_lists_follow_up_questions(client, card_en, admin_user):
    follow_up.follow_up_ask(question="how do I bake bread", language="en", guide=card_en)
    client.force_login(admin_user)
    html = client.get(reverse("admin:guides_guide_content_gaps")).content.decode()
    assert 'id="follow-ups"' in html
    assert "how do I bake bread" in html and "No step answered it well enough" in html


# --- the pages, without script -------------------------------------------------------------


def test_the_guide_page_has_the_box(client, card_ar):
    html = client.get(card_ar.public_path()).content.decode()
    assert 'action="/follow-ups/"' in html and f'name="guide" value="{card_ar.pk}"' in html
    assert "أسئلة أخرى؟" in html  # in the guide's language
    assert 'aria-live="polite"' in html and "guides/follow_up.js" in html


def test_asking_without_script_redirects_to_the_answers_page(client, card_en):
    response = client.post(ASK, {"question": "pay with PayPal?", "guide": card_en.pk})
    assert response.status_code == 303
    page = client.get(response["Location"])
    html = page.content.decode()
    assert page.status_code == 200 and '<html lang="en" dir="ltr">' in html
    assert f'href="{card_en.public_path()}#step-2"' in html
    assert "<mark>PayPal</mark>" in html and "Did this answer your question?" in html
    assert page["X-Robots-Tag"] == "noindex, nofollow"
    # Reloading the answers asks nothing again.
    client.get(response["Location"])
    assert FollowUpQuestion.objects.count() == 1


def test_saying_it_answered_posts_and_redirects_back(client, card_en):
    location = client.post(ASK, {"question": "PayPal", "guide": card_en.pk})["Location"]
    token = location.rstrip("/").rsplit("/", 1)[1]
    response = client.post(
        reverse("guides:follow-up-verdict", kwargs={"token": token}), {"answered": "yes"}
    )
    assert response.status_code == 303 and response["Location"].startswith(location)
    assert FollowUpQuestion.objects.get().answered is True
    html = client.get(location).content.decode()
    assert "Glad it answered your question." in html and "Did this answer" not in html


def test_nothing_matching_offers_a_person_with_the_question_filled_in(client, card_ar):
    location = client.post(ASK, {"question": "كيف أخبز الخبز؟", "guide": card_ar.pk})["Location"]
    html = client.get(location).content.decode()
    assert '<html lang="ar" dir="rtl">' in html
    assert "لم نجد في أدلتنا ما يجيب عن هذا السؤال بما يكفي." in html
    (href,) = re.findall(r'class="button" href="([^"]+)"', html)
    url = urlsplit(href.replace("&amp;", "&"))
    assert url.path == reverse(
        "guides:contact", kwargs={"company": "spotify", "language": "ar", "slug": "card"}
    )
    assert parse_qs(url.query) == {"description": ["كيف أخبز الخبز؟"]}


def test_on_the_search_page_a_person_is_the_contact_form(client, card_en):
    location = client.post(ASK, {"question": "bake bread", "company": "spotify", "language": "en"})[
        "Location"
    ]
    html = client.get(location).content.decode()
    assert f'href="{reverse("tickets:contact")}?description=bake+bread"' in html
    assert FollowUpQuestion.objects.get().company == card_en.company


def test_a_bad_question_is_a_400_in_the_page_language(client, card_ar):
    response = client.post(ASK, {"question": "  ", "guide": card_ar.pk})
    assert response.status_code == 400
    assert "اكتب سؤالك." in response.content.decode()
    response = client.post(ASK, {"question": "x", "guide": 99999, "company": "no such"})
    assert response.status_code == 400
    assert not FollowUpQuestion.objects.exists()


def test_a_bad_token_is_a_404(client):
    assert client.get(reverse("guides:follow-up", kwargs={"token": "1:abc:def"})).status_code == 404
    url = reverse("guides:follow-up-verdict", kwargs={"token": "1:abc:def"})
    assert client.post(url, {"answered": "yes"}).status_code == 404


def test_with_script_the_answers_come_back_in_place(client, card_en):
    response = client.post(ASK, {"question": "incognito", "guide": card_en.pk}, **FETCH)
    html = response.content.decode()
    assert response.status_code == 200 and "<html" not in html
    assert 'class="follow-up-result"' in html and "<mark>incognito</mark>" in html
    token = FollowUpQuestion.objects.get().pk
    verdict = re.search(r'action="([^"]+/verdict/)"', html).group(1)
    answered = client.post(verdict, {"answered": "no"}, **FETCH)
    assert answered.status_code == 200 and "Sorry it did not." in answered.content.decode()
    assert FollowUpQuestion.objects.get(pk=token).answered is False


def test_past_the_client_budget_a_429_in_the_page_language(client, card_ar, settings):
    settings.WEB_WRITE_LIMIT = 2
    mallory = {"REMOTE_ADDR": "203.0.113.41"}
    limits.guide_page_writes().reset(mallory["REMOTE_ADDR"])  # the cache outlives a test
    ask = {"question": "PayPal", "guide": card_ar.pk}
    for _ in range(2):
        assert client.post(ASK, ask, **mallory).status_code == 303
    refused = client.post(ASK, ask, **mallory)
    assert refused.status_code == 429 and int(refused["Retry-After"]) > 0
    assert 'lang="ar"' in refused.content.decode()
    fetched = client.post(ASK, ask, **mallory, **FETCH)
    assert fetched.status_code == 429 and "سألت أسئلة كثيرة" in fetched.content.decode()
    assert FollowUpQuestion.objects.count() == 2


@pytest.mark.parametrize("guides", [1, 8])
def test_asking_reads_the_same_number_of_queries_at_any_size(
    client, spotify, guides, django_assert_num_queries
):
    for n in range(guides):
        guide = GuideFactory(company=spotify, title=f"PayPal refuses my card, case {n}")
        indexed(guide, [("Pay through PayPal instead", "Pick PayPal."), ("Wait", "A day.")])
    corrected_query("card")  # the spelling vocabulary, read once per process (guides.spelling)
    # The guide's language (for the page's language), the guide (the form), the candidate
    # guides, their steps, the INSERT.
    with django_assert_num_queries(5):
        response = client.post(ASK, {"question": "PayPal card", "guide": guide.pk}, **FETCH)
    assert response.content.decode().count("<li>") == min(3, 2 * guides)
