"""A guide's slug from its title: Latin titles slugified, Arabic titles transliterated to
Latin letters first, and a short random slug when neither leaves anything usable.

The transliteration is a plain letter table, deliberately simple (no vowels are guessed, the
definite article is kept): an address need only be readable and stable, not a scholarly
romanisation. "لا يمكن تسجيل الدخول إلى سبوتيفاي" becomes "la-ymkn-tsjyl-aldkhwl-ila-sbwtyfay".
Nothing here touches the database (guides.authoring makes the slug unique).
"""

from __future__ import annotations

import re
import secrets
import string

from django.utils.text import slugify

# Arabic letters (and the Persian/Urdu ones seen in brand names) to Latin. Hamza alone and
# ʿayn are dropped: an apostrophe cannot be part of a slug.
ARABIC_TO_LATIN: dict[str, str] = {
    "ا": "a", "أ": "a", "إ": "i", "آ": "a", "ٱ": "a", "ء": "", "ؤ": "u", "ئ": "i",
    "ب": "b", "ت": "t", "ة": "a", "ث": "th", "ج": "j", "ح": "h", "خ": "kh",
    "د": "d", "ذ": "dh", "ر": "r", "ز": "z", "س": "s", "ش": "sh", "ص": "s",
    "ض": "d", "ط": "t", "ظ": "z", "ع": "", "غ": "gh", "ف": "f", "ق": "q",
    "ك": "k", "ل": "l", "م": "m", "ن": "n", "ه": "h", "و": "w", "ي": "y", "ى": "a",
    "پ": "p", "چ": "ch", "ڤ": "v", "گ": "g", "ک": "k", "ی": "y",
    "٠": "0", "١": "1", "٢": "2", "٣": "3", "٤": "4",
    "٥": "5", "٦": "6", "٧": "7", "٨": "8", "٩": "9",
    "۰": "0", "۱": "1", "۲": "2", "۳": "3", "۴": "4",
    "۵": "5", "۶": "6", "۷": "7", "۸": "8", "۹": "9",
    "،": ",", "؛": ";", "؟": "?",
}  # fmt: skip
# Short vowels, shadda, sukun, tanwin, superscript alef and tatweel: not written in a slug.
_ARABIC_MARKS = re.compile("[\u0610-\u061a\u064b-\u065f\u0670\u06d6-\u06ed\u0640]")
_TABLE = str.maketrans(ARABIC_TO_LATIN)

# Guide.slug's max_length; a slug is cut at a hyphen below it, leaving room for a suffix.
SLUG_MAX_LENGTH = 150
_CUT_AT = SLUG_MAX_LENGTH - 10
# A slug shorter than this (after transliteration) is not worth an address: random instead.
MIN_USABLE_LENGTH = 2
RANDOM_PREFIX = "guide-"


def transliterate(text: str) -> str:
    """Arabic letters of ``text`` written in Latin letters; any other character unchanged."""
    return _ARABIC_MARKS.sub("", text).translate(_TABLE)


def slug_from_title(title: str) -> str:
    """The slug a title reads as, or "" when nothing usable is left (see random_slug)."""
    slug = slugify(transliterate(title))
    if len(slug) > _CUT_AT:
        slug = slug[:_CUT_AT].rsplit("-", 1)[0] or slug[:_CUT_AT]
    slug = slug.strip("-")
    return slug if len(slug) >= MIN_USABLE_LENGTH else ""


def random_slug() -> str:
    """A short random slug, for titles with no letters a slug can hold (e.g. emoji only)."""
    alphabet = string.ascii_lowercase + string.digits
    return RANDOM_PREFIX + "".join(secrets.choice(alphabet) for _ in range(6))
