"""The spelling step of search (guides/spelling.py): corrections, what it never touches, and
the vocabulary's validity and cost."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command

from guides import spelling
from guides.search import guide_search_index_update, search_guides
from guides.spelling import corrected_query, edit_distance, sound_skeleton
from tests.factories import GuideFactory, StepFactory

DEMO_GUIDES = Path(settings.BASE_DIR) / "guides" / "demo_guides"


@pytest.fixture
def demo_guides(db):
    call_command("import_guides", str(DEMO_GUIDES), verbosity=0)


@pytest.mark.parametrize(
    ("typed", "meant"),
    [
        ("netflx pasword", "netflix password"),  # letters left out
        ("retrun", "return"),  # two neighbours swapped
        ("recieved", "received"),
        ("paypall", "paypal"),  # a letter too many
        ("acount limted", "account limited"),  # "limited", not "lifted": a letter left out
        ("تغييير البطاقه", "تغيير بطاقه"),  # a letter doubled
        ("رمز التحقيق", "رمز تحقق"),
        ("واتساب", "whatsapp"),  # a brand in Arabic letters
        ("سبوتيفاي", "spotify"),
        ("واتس اب", "whatsapp"),  # split in two
        ("الكود", "رمز"),  # colloquial
        ("النت", "انترنت"),
    ],
)
def test_it_corrects_what_customers_mistype(demo_guides, typed, meant):
    assert corrected_query(typed) == meant


@pytest.mark.parametrize(
    "typed",
    [
        "refund",  # in the guides
        "spoti",  # the start of a word of the guides: the search matches it as a prefix
        "بطاقتي",  # its stem is in the guides
        "sim",  # too short to guess
        "getting",  # not a guide's word, and no typo of one that starts like it
        "4g 404",
    ],
)
def test_it_never_corrects_a_word_it_knows_or_cannot_guess(demo_guides, typed):
    assert corrected_query(typed) == typed


def test_it_prefers_the_customers_language(db):
    english = GuideFactory(title="Router lights", language="en")
    arabic = GuideFactory(title="Rooter مشكلة", language="ar")
    for guide in (english, arabic):
        guide_search_index_update(guide_id=guide.pk)

    assert corrected_query("rowter", language="en") == "router"
    assert corrected_query("rowter", language="ar") == "rooter"


def test_it_finds_a_guide_by_a_misspelt_query(demo_guides):
    found = search_guides(query="netflx pasword")

    assert [guide.company.slug for guide in found][:1] == ["netflix"]


def test_odd_input_corrects_to_nothing(db):
    assert corrected_query("") == ""
    assert corrected_query("?! —") == ""


def test_it_reads_the_vocabulary_once_then_answers_without_sql(
    demo_guides, django_assert_num_queries
):
    with django_assert_num_queries(1):
        corrected_query("netflx")
    with django_assert_num_queries(0):
        corrected_query("pasword")
        corrected_query("سبوتيفاي")


def test_it_learns_the_words_of_a_guide_published_since(db, django_assert_num_queries):
    guide = GuideFactory(title="Router lights")
    guide_search_index_update(guide_id=guide.pk)
    assert corrected_query("quokkas") == "quokkas"

    StepFactory(guide=guide, position=1, body="Feed the quokka.")
    guide_search_index_update(guide_id=guide.pk)

    assert corrected_query("quokkas") == "quokka"  # an index change is read again at once


def test_another_process_sees_an_index_change_after_its_token_is_checked(db, monkeypatch):
    guide = GuideFactory(title="Router lights")
    guide_search_index_update(guide_id=guide.pk)
    kept = spelling.vocabulary()

    spelling._bump()  # another process changed the index...
    spelling._kept = kept  # ...while this one keeps the vocabulary it read

    assert spelling.vocabulary() is kept  # not checked again before CHECK_EVERY
    kept.checked_at -= spelling.CHECK_EVERY
    assert spelling.vocabulary() is not kept


def test_it_bounds_the_work_for_long_queries(demo_guides):
    spelling.vocabulary()
    words = ["qwertyuiopasdf" * 4] * 12

    assert len(spelling.corrected_words(words)) == 12


@pytest.mark.parametrize(
    ("a", "b", "distance"),
    [("pasword", "password", 1), ("retrun", "return", 1), ("abc", "xyz", 3), ("", "ab", 2)],
)
def test_edit_distance(a, b, distance):
    assert edit_distance(a, b, limit=2) == min(distance, 3)


def test_sound_skeletons_meet_across_scripts():
    assert sound_skeleton("spotify") == sound_skeleton("سبوتيفاي")
    assert sound_skeleton("cedar") == sound_skeleton("سيدار")
    assert sound_skeleton("netflix") == sound_skeleton("نتفلكس")
    assert sound_skeleton("whatsapp") == sound_skeleton("واتساب")


@pytest.mark.parametrize(
    ("typed", "shown"),
    [
        ("netflx pasword", "netflix password"),
        ("Netflix password", ""),  # nothing corrected: nothing to show
        ("رمز التحقيق", "رمز التحقق"),  # the article stays as typed
        ("واتس اب", "whatsapp"),
    ],
)
def test_it_shows_what_it_corrected_in_the_words_typed(demo_guides, typed, shown):
    assert spelling.corrected_text(typed) == shown
