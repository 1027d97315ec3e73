"""A guide's slug from its title (guides.slugs) and made unique (guides.authoring)."""

from __future__ import annotations

import pytest

from guides.authoring import guide_slug_suggest
from guides.guide_format import SLUG_RE
from guides.slugs import RANDOM_PREFIX, slug_from_title, transliterate
from tests.factories import CompanyFactory, GuideFactory


@pytest.mark.parametrize(
    ("title", "slug"),
    [
        ("لا يمكن تسجيل الدخول إلى سبوتيفاي", "la-ymkn-tsjyl-aldkhwl-ila-sbwtyfay"),
        ("بطاقةُ الدفعِ مرفوضةٌ", "btaqa-aldf-mrfwda"),  # short vowels and tanwin dropped
        ("رمز التحقق ١٢٣ لا يصل", "rmz-althqq-123-la-ysl"),  # Arabic-Indic digits
        ("I can't log in to Spotify!", "i-cant-log-in-to-spotify"),
        ("Café — déjà vu", "cafe-deja-vu"),
        ("Netflix: reset لكلمة المرور", "netflix-reset-lklma-almrwr"),
    ],
)
def test_it_reads_latin_and_arabic_titles_as_slugs(title, slug):
    assert slug_from_title(title) == slug
    assert SLUG_RE.match(slug)  # what the import format accepts too


def test_it_leaves_other_characters_to_slugify():
    assert transliterate("Spotify سبوتيفاي ✓") == "Spotify sbwtyfay ✓"


def test_a_title_with_nothing_usable_gives_no_slug_and_the_suggestion_is_random():
    assert slug_from_title("😀 ✓ ?") == ""
    assert slug_from_title("ع") == ""  # a letter the table drops
    suggested = guide_slug_suggest(title="😀😀", company_id=None, language="ar")
    assert suggested.startswith(RANDOM_PREFIX)
    assert SLUG_RE.match(suggested)
    assert suggested != guide_slug_suggest(title="😀😀", company_id=None, language="ar")


def test_a_long_title_is_cut_at_a_word():
    slug = slug_from_title("word " * 80)
    assert len(slug) <= 140
    assert slug.endswith("word")


@pytest.mark.django_db
def test_a_clash_in_the_company_and_language_takes_a_suffix():
    spotify = CompanyFactory(slug="spotify")
    GuideFactory(company=spotify, language="ar", slug="la-ymkn-tsjyl-aldkhwl-ila-sbwtyfay")
    GuideFactory(company=spotify, language="ar", slug="la-ymkn-tsjyl-aldkhwl-ila-sbwtyfay-2")
    title = "لا يمكن تسجيل الدخول إلى سبوتيفاي"

    in_arabic = guide_slug_suggest(title=title, company_id=spotify.pk, language="ar")
    in_english = guide_slug_suggest(title=title, company_id=spotify.pk, language="en")
    elsewhere = guide_slug_suggest(title=title, company_id=CompanyFactory().pk, language="ar")

    assert in_arabic == "la-ymkn-tsjyl-aldkhwl-ila-sbwtyfay-3"
    assert in_english == "la-ymkn-tsjyl-aldkhwl-ila-sbwtyfay"  # the scope is per language
    assert elsewhere == "la-ymkn-tsjyl-aldkhwl-ila-sbwtyfay"


@pytest.mark.django_db
def test_the_guide_being_edited_keeps_its_own_slug():
    guide = GuideFactory(slug="cant-pay", title="Can't pay")
    assert (
        guide_slug_suggest(
            title="Can't pay", company_id=guide.company_id, language="en", exclude_pk=guide.pk
        )
        == "cant-pay"
    )
