"""Search across published guides (guides/search.py), on SQLite FTS5 and PostgreSQL alike.

Queries run against the demo guides, imported the way an operator does; the table lists what a
customer types and which guide must come first (or be among the results).
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from django.conf import settings
from django.core.management import call_command
from django.urls import reverse

from guides.models import Guide, GuideSearchDocument, Tag
from guides.search import (
    arabic_stem,
    guide_search_index_rebuild,
    guide_search_index_update,
    normalise,
    search_guide_ids,
    search_guides,
)
from tests.factories import CompanyFactory, GuideFactory, StepFactory

DEMO_GUIDES = Path(settings.BASE_DIR) / "guides" / "demo_guides"


def key(guide: Guide) -> str:
    return f"{guide.company.slug}/{guide.language}"


def keys(guides: list[Guide]) -> list[str]:
    return [key(guide) for guide in guides]


@pytest.fixture
def demo_guides(db):
    call_command("import_guides", str(DEMO_GUIDES), verbosity=0)


def import_guide(path: Path, data: dict) -> Guide:
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    call_command("import_guides", str(path), verbosity=0)
    return Guide.objects.get(
        company__slug=data["company"]["slug"], slug=data["slug"], language=data["language"]
    )


def demo_data(name: str) -> dict:
    return yaml.safe_load((DEMO_GUIDES / name).read_text(encoding="utf-8"))


# --- normalise -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("word", "stem"),
    [
        ("بطاقه", "بطاق"),  # بطاقة, teh marbuta folded
        ("بطاقتي", "بطاق"),  # my card: the teh stood for the teh marbuta
        ("بطاقتك", "بطاق"),
        ("بطاقات", "بطاق"),
        ("حسابكم", "حساب"),
        ("تغييرها", "تغيير"),
        # Too short to lose anything: bank, time, here.
        ("بنك", "بنك"),
        ("وقت", "وقت"),
        ("هنا", "هنا"),
        # A teh of the root stays when nothing was cut after it.
        ("وقتي", "وقت"),
        # Other scripts and digits as they are.
        ("spotify", "spotify"),
        ("4g", "4g"),
    ],
)
def test_it_stems_arabic_suffixes_lightly(word, stem):
    assert arabic_stem(word) == stem


def test_it_normalises_the_article_away():
    assert normalise("البطاقة") == normalise("بطاقة") == "بطاقه"


def test_it_normalises_diacritics_away():
    assert normalise("مُشكلة") == normalise("مشكلة") == "مشكله"
    assert normalise("حدِّث") == "حدث"
    assert normalise("هٰذا") == "هذا"  # superscript alef
    assert normalise("Café") == "cafe"


def test_it_keeps_latin_words_usable_without_their_apostrophe():
    assert "spotify" in normalise("Spotify's").split()
    assert normalise("I can't pay") == "can pay"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("أستطيع", "استطيع"),
        ("إعادة", "اعاده"),
        ("آخر", "اخر"),
        ("ٱلحساب", "حساب"),
        ("على", "علي"),
        ("سؤال", "سوال"),
        ("رئيس", "رييس"),
        ("بطـــاقة", "بطاقه"),  # tatweel
        ("ﻻ", "لا"),  # presentation form (lam-alef ligature)
    ],
)
def test_it_folds_arabic_letter_variants(text, expected):
    assert normalise(text) == expected


@pytest.mark.parametrize("word", ["البطاقة", "والبطاقة", "بالبطاقة", "كالبطاقة", "فالبطاقة"])
def test_it_strips_arabic_prefixes(word):
    assert normalise(word) == "بطاقه"


def test_it_strips_lil_prefix_and_keeps_short_words_whole():
    assert normalise("للدفع") == "دفع"
    # Stripping would leave fewer than two letters.
    assert normalise("والد") == "والد"
    assert normalise("إلى") == "الي"


def test_it_drops_punctuation_and_makes_digits_ascii():
    assert normalise("٤G أو ۵G، (مرحبا)؟ Hello, world!") == "4g او 5g مرحبا hello world"


def test_it_normalises_odd_input_to_nothing():
    assert normalise("\x00 * \" ' — ؟") == ""
    assert normalise("") == ""


# --- the search table -------------------------------------------------------------------------

# (query, the guide that must come first or None, guides that must be among the results)
SEARCHES = [
    # English
    pytest.param("refund", "amazon/en", set(), id="en-title-word"),
    pytest.param("I can't change my card", "spotify/en", set(), id="en-question"),
    pytest.param("changing the card", "spotify/en", set(), id="en-stemmed"),
    pytest.param("password reset email", "netflix/en", set(), id="en-several-words"),
    pytest.param("PayPal limited", "paypal/en", set(), id="en-company-and-word"),
    pytest.param("declined", "cedar-bank/en", {"cedar-bank/ar"}, id="en-declined"),
    pytest.param("airplane mode", "nile-telecom/en", set(), id="en-step-title"),
    pytest.param("playlists", "spotify/en", set(), id="en-step-body-only"),
    pytest.param("online-shopping", "cedar-bank/en", {"cedar-bank/ar"}, id="en-tag"),
    pytest.param("spotify", None, {"spotify/en", "spotify/ar"}, id="en-company-name"),
    pytest.param("spoti", None, {"spotify/en", "spotify/ar"}, id="en-partial-word"),
    pytest.param("Spotify's card", None, {"spotify/en", "spotify/ar"}, id="en-possessive"),
    pytest.param("WhatsApp", "whatsapp/ar", set(), id="en-company-of-arabic-guide"),
    # Arabic
    pytest.param("البطاقة", None, {"spotify/ar", "cedar-bank/ar"}, id="ar-with-article"),
    pytest.param("بطاقة", None, {"spotify/ar", "cedar-bank/ar"}, id="ar-without-article"),
    pytest.param("تغيير البطاقة", "spotify/ar", set(), id="ar-two-words"),
    pytest.param("أستطيع تغيير", "spotify/ar", set(), id="ar-hamza-alef"),
    pytest.param("استطيع تغيير", "spotify/ar", set(), id="ar-bare-alef"),
    pytest.param("حدِّث البطاقة", "spotify/ar", set(), id="ar-diacritised"),
    pytest.param("بطاق", None, {"spotify/ar", "cedar-bank/ar"}, id="ar-partial-word"),
    pytest.param("الشريحة", "nile-telecom/ar", set(), id="ar-teh-marbuta"),
    pytest.param("رمز التحقق", "whatsapp/ar", set(), id="ar-title-words"),
    pytest.param("وضع الطيران", "nile-telecom/ar", set(), id="ar-step-title"),
    pytest.param("الراوتر", "spotify/ar", set(), id="ar-step-body-only"),
    pytest.param("مكالمة صوتية", "whatsapp/ar", set(), id="ar-step-title-2"),
    pytest.param("رُفضت", "cedar-bank/ar", set(), id="ar-diacritised-verb"),
    pytest.param("٤G", None, {"nile-telecom/ar", "nile-telecom/en"}, id="ar-indic-digit"),
    # Pronoun and plural suffixes: the customer writes about *their* card or account.
    pytest.param("تغيير بطاقتي", "spotify/ar", {"cedar-bank/ar"}, id="ar-my-card"),
    pytest.param("بطاقاتي", None, {"spotify/ar", "cedar-bank/ar"}, id="ar-my-cards"),
    pytest.param("حسابي", None, {"spotify/ar", "cedar-bank/ar", "whatsapp/ar"}, id="ar-my-account"),
    pytest.param("رسالتي", None, {"whatsapp/ar"}, id="ar-my-message"),
]


@pytest.mark.parametrize(("query", "top", "among"), SEARCHES)
def test_it_finds_the_guide_a_customer_means(demo_guides, query, top, among):
    found = keys(search_guides(query=query))

    assert found, f"{query!r} found nothing"
    if top is not None:
        assert found[0] == top, f"{query!r} ranked {found}"
    assert among <= set(found), f"{query!r} found {found}"


def test_it_finds_the_same_with_and_without_diacritics(demo_guides):
    plain = search_guides(query="مشكلة")

    assert plain
    assert search_guides(query="مُشكلة") == plain


def test_it_finds_misspelt_words_on_both_databases(demo_guides):
    # The spelling step (guides.spelling; tests/guides/test_search_spelling.py), before the
    # match on SQLite and PostgreSQL alike.
    assert keys(search_guides(query="netflx"))[:1] == ["netflix/en"]
    assert keys(search_guides(query="netflx pasword"))[:1] == ["netflix/en"]


# --- filters ----------------------------------------------------------------------------------


def test_it_filters_by_company_slug(demo_guides):
    found = search_guides(query="card", company="spotify")

    assert sorted(keys(found)) == ["spotify/ar", "spotify/en"]
    assert search_guides(query="card", company="no-such-company") == []


def test_it_filters_by_language(demo_guides):
    assert keys(search_guides(query="Spotify", language="ar")) == ["spotify/ar"]
    assert keys(search_guides(query="Spotify", language="en")) == ["spotify/en"]
    assert search_guides(query="Spotify", language="xx") == []


def test_it_answers_impossible_filters_with_nothing(demo_guides, django_assert_num_queries):
    with django_assert_num_queries(0):
        assert search_guides(query="card", company="spot ify\x00") == []
        assert search_guides(query="card", language="\x00") == []


def test_it_gives_the_ranked_ids_alone_in_one_query(demo_guides, django_assert_num_queries):
    expected = [guide.pk for guide in search_guides(query="card", language="en")]

    with django_assert_num_queries(1):
        assert search_guide_ids(query="card", language="en") == expected


def test_it_returns_at_most_limit_guides(demo_guides):
    assert len(search_guides(query="card", limit=2)) == 2
    assert search_guides(query="card", limit=0) == []


def test_it_never_returns_drafts(demo_guides):
    draft = Guide.objects.get(slug="otp-not-arriving")

    for query in ["one-time code", "otp", "Cedar Bank", "never arrives"]:
        assert draft not in search_guides(query=query), query
    assert not GuideSearchDocument.objects.filter(guide=draft).exists()


def test_it_never_returns_a_draft_even_if_indexed_before_the_status_changed(db):
    guide = GuideFactory(title="Quasar billing problem")
    guide_search_index_update(guide_id=guide.pk)
    assert search_guides(query="quasar") == [guide]

    # A queryset update bypasses the index; the search still checks the status.
    Guide.objects.filter(pk=guide.pk).update(status=Guide.Status.DRAFT)

    assert search_guides(query="quasar") == []


# --- keeping the index current ---------------------------------------------------------------


def test_it_finds_a_reimported_guide_by_its_new_text_only(demo_guides, tmp_path):
    data = demo_data("spotify-payment-card.en.yaml")
    data["title"] = "My Spotify card keeps failing in Zanzibar"
    data["steps"][0]["body"] = "Open the marmalade settings."
    guide = import_guide(tmp_path / "guide.yaml", data)
    assert search_guides(query="zanzibar") == [guide]
    assert search_guides(query="marmalade") == [guide]

    data["title"] = "My Spotify card keeps failing in Quokka town"
    data["steps"][0]["body"] = "Open the pumpernickel settings."
    import_guide(tmp_path / "guide.yaml", data)

    assert search_guides(query="quokka") == [guide]
    assert search_guides(query="pumpernickel") == [guide]
    assert search_guides(query="zanzibar") == []
    assert search_guides(query="marmalade") == []


def test_it_forgets_a_guide_reimported_as_draft(demo_guides, tmp_path):
    data = demo_data("paypal-account-limited.en.yaml")
    assert keys(search_guides(query="PayPal limited"))[:1] == ["paypal/en"]

    data["status"] = "draft"
    guide = import_guide(tmp_path / "guide.yaml", data)

    assert guide not in search_guides(query="PayPal limited")
    assert not GuideSearchDocument.objects.filter(guide=guide).exists()


def test_it_forgets_a_deleted_guide(demo_guides):
    guide = Guide.objects.get(company__slug="amazon")
    guide_id = guide.pk
    assert search_guides(query="refund")[0] == guide

    guide.delete()
    guide_search_index_update(guide_id=guide_id)

    assert guide_id not in [found.pk for found in search_guides(query="refund")]
    assert not GuideSearchDocument.objects.filter(guide_id=guide_id).exists()


def test_it_finds_a_companys_guides_by_its_new_name_after_a_rename_in_the_admin(db, admin_client):
    telco = CompanyFactory(name="Quetzal Telecom", slug="quetzal")
    guides = {GuideFactory(company=telco, title="No signal abroad"), GuideFactory(company=telco)}
    for guide in guides:
        guide_search_index_update(guide_id=guide.pk)
    assert set(search_guides(query="Quetzal")) == guides

    form = {"name": "Heron Mobile", "slug": "quetzal", "website": "heron.example"}
    response = admin_client.post(reverse("admin:guides_company_change", args=[telco.pk]), form)

    assert response.status_code == 302
    assert set(search_guides(query="Heron")) == guides
    assert search_guides(query="Quetzal") == []
    telco.refresh_from_db()
    assert telco.website == "https://heron.example"


def test_it_follows_a_tag_renamed_or_deleted_in_the_admin(db, admin_client):
    guide = GuideFactory(title="Cannot log in", tags=["wombat"])
    other = GuideFactory(title="Cannot pay", tags=["wombat"])
    guide_search_index_update(guide_id=guide.pk)
    guide_search_index_update(guide_id=other.pk)
    tag = Tag.objects.get(slug="wombat")
    assert set(search_guides(query="wombat")) == {guide, other}

    admin_client.post(reverse("admin:guides_tag_change", args=[tag.pk]), {"slug": "platypus"})
    assert set(search_guides(query="platypus")) == {guide, other}
    assert search_guides(query="wombat") == []

    admin_client.post(reverse("admin:guides_tag_delete", args=[tag.pk]), {"post": "yes"})
    assert not Tag.objects.exists()
    assert search_guides(query="platypus") == []


def test_it_reindexes_a_companys_other_guides_when_an_import_renames_it(demo_guides, tmp_path):
    data = demo_data("spotify-payment-card.en.yaml")
    others = set(Guide.objects.filter(company__slug="spotify", status="published")) - {
        Guide.objects.get(company__slug="spotify", slug=data["slug"], language="en")
    }
    assert others, "the demo has Spotify guides besides the one re-imported"
    data["company"]["name"] = "Spotifly Music"

    import_guide(tmp_path / "guide.yaml", data)

    assert set(search_guides(query="Spotifly")) >= others


def test_it_updates_one_guide_in_a_few_queries_whatever_its_size(db, django_assert_max_num_queries):
    small = GuideFactory(tags=["card"])
    StepFactory(guide=small, position=1)
    large = GuideFactory(tags=[f"tag-{n}" for n in range(10)])
    for position in range(1, 31):
        StepFactory(guide=large, position=position)

    for guide in (small, large):
        with django_assert_max_num_queries(8):
            guide_search_index_update(guide_id=guide.pk)


def test_it_rebuilds_the_whole_index(demo_guides):
    GuideSearchDocument.objects.all().delete()
    assert search_guides(query="refund") == []

    assert guide_search_index_rebuild() == Guide.objects.filter(status="published").count()

    assert keys(search_guides(query="refund"))[:1] == ["amazon/en"]
    assert keys(search_guides(query="الشريحة"))[:1] == ["nile-telecom/ar"]


def test_it_rebuilds_from_the_management_command(demo_guides, capsys):
    call_command("rebuild_search_index")

    assert "10 guides indexed" in capsys.readouterr().out
    assert GuideSearchDocument.objects.count() == 10


# --- odd input --------------------------------------------------------------------------------


@pytest.mark.parametrize("query", ["", "   ", "\n\t", "?!", "*", '"', "'", "\x00", "—"])
def test_it_returns_nothing_without_a_query_and_without_asking_the_database(
    db, django_assert_num_queries, query
):
    with django_assert_num_queries(0):
        assert search_guides(query=query) == []


@pytest.mark.parametrize(
    "query",
    [
        '"card',
        "card\"'",
        "AND OR NOT",
        "card AND NOT spotify",
        "spot*",
        "NEAR(card spotify)",
        "title:card",
        "card:* & !spotify | <->",
        "-card ^card +card",
        "card\x00spotify",
        "%_\\",
        "'; DROP TABLE guides_guide; --",
        "🙂 card",
        "card \ud800 spotify",
        "a" * 5000,
        "card " * 1000,
        "بطاقة " * 1000,
    ],
)
def test_it_survives_hostile_queries(demo_guides, query):
    found = search_guides(query=query)

    assert isinstance(found, list)
    assert all(guide.status == Guide.Status.PUBLISHED for guide in found)


# --- query count -------------------------------------------------------------------------------


@pytest.mark.parametrize("guide_count", [2, 25])
def test_it_searches_in_a_constant_number_of_queries(
    db, django_assert_max_num_queries, guide_count
):
    for number in range(guide_count):
        guide = GuideFactory(
            company=CompanyFactory(),
            title=f"The router {number} drops the connection",
            tags=["internet", f"router-{number}"],
        )
        StepFactory(guide=guide, position=1, body="Restart the router.")
    guide_search_index_rebuild()
    search_guides(query="modem")  # the spelling vocabulary, read once after the rebuild

    with django_assert_max_num_queries(3):
        found = search_guides(query="router")
        rendered = [(guide.company.name, [tag.slug for tag in guide.tags.all()]) for guide in found]

    assert len(rendered) == guide_count
