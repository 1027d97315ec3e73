"""What a word is, for search: the text normalisation and the light Arabic stemming that
index and query share (guides.search), and the question words a query drops. Text only: no
database, no import of the rest of the app, so the spelling index (guides.spelling) and the
search itself can both build on it. guides.search re-exports every name.
"""

from __future__ import annotations

import re
import unicodedata

# Longer "words" are hashes or pasted garbage that nobody types into a search box, and
# PostgreSQL refuses to index words over 2047 bytes.
MAX_TOKEN_CHARS = 60

_ARABIC_FOLDS = str.maketrans(
    {
        # Hamza and madda forms of alef, and the wasla, are spelt as a bare alef by most typists.
        "أ": "ا",
        "إ": "ا",
        "آ": "ا",
        "ٱ": "ا",
        # Hamza on a seat is, like the short vowels, a mark that casual (phone) typing often
        # leaves out: "سوال" for "سؤال", "رييس" for "رئيس". Keeping only the seat letter lets
        # those queries match; words that differ only by this hamza are rare enough to accept.
        "ؤ": "و",
        "ئ": "ي",
        # Final yeh is written without dots (alef maqsura) in Egypt and often typed either
        # way; the same goes for teh marbuta and heh. Folded on both sides, so it stays
        # consistent: "مشكلة" and "مشكله" are one word.
        "ى": "ي",
        "ة": "ه",
        # Persian keyboards, common for Arabic typists, produce these letter variants.
        "ی": "ي",
        "ک": "ك",
        # Tatweel only stretches a word on the line.
        "ـ": None,
        # Arabic-Indic and Eastern Arabic-Indic digits.
        **{chr(0x0660 + d): str(d) for d in range(10)},
        **{chr(0x06F0 + d): str(d) for d in range(10)},
    }
)
# Definite article and the prepositions/conjunctions glued to it, longest first so that
# "والبطاقة" loses "وال" and not just the "و". A word keeps its prefix when less than two
# letters would remain ("والد", "الي").
ARABIC_PREFIXES = ("وال", "بال", "كال", "فال", "لل", "ال")
_WORD = re.compile(r"[^\W_]+")


# Suffixes glued to the end of a word: the possessive and object pronouns ("بطاقتي" my card,
# "حسابك" your account, "تغييرها" changing it), the feminine plural ("بطاقات") and teh
# marbuta, already folded to heh ("بطاقه"). Longest first, one per word.
_ARABIC_SUFFIXES = ("كما", "هما", "كم", "هم", "هن", "كن", "نا", "ها", "ات", "ي", "ك", "ه")
# The shortest stem a suffix is taken from: "بنك" (bank) and "وقت" (time) stay whole.
_MIN_ARABIC_STEM = 3


def arabic_stem(word: str) -> str:
    """``word`` (normalised) without one suffix of _ARABIC_SUFFIXES, so that "بطاقتي",
    "بطاقتك", "بطاقات" and "بطاقة" all come to "بطاق".

    A teh left at the end of a longer stem stood for the teh marbuta the suffix was glued to
    ("بطاقت" + "ي"), so it goes too. A word of another script, or whose stem would be too
    short, is returned whole. Light on purpose: the index keeps every word as written beside
    its stem (see _with_stems), so a stem that cuts a root letter ("اشتراك" → "اشترا") only
    widens a prefix match; it never hides the word."""
    if not word or not "\u0621" <= word[-1] <= "\u064a":
        return word
    for suffix in _ARABIC_SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= _MIN_ARABIC_STEM:
            stem = word[: -len(suffix)]
            if stem.endswith("ت") and len(stem) > _MIN_ARABIC_STEM:
                stem = stem[:-1]
            return stem
    return word


def _strip_prefix(word: str) -> str:
    for prefix in ARABIC_PREFIXES:
        if word.startswith(prefix) and len(word) - len(prefix) >= 2:
            return word[len(prefix) :]
    return word


def normalise(text: str) -> str:
    """Search tokens of ``text`` separated by single spaces, identical for index and query.

    Lower-cased, Arabic letters folded (see _ARABIC_FOLDS), diacritics of any script removed
    (harakat U+064B–U+065F, superscript alef U+0670, Quranic marks, Latin accents), compatibility
    forms unfolded (Arabic presentation forms, ligatures, full-width letters), digits made ASCII,
    punctuation dropped, Arabic article prefixes stripped. Single letters ("s" of "Spotify's",
    "t" of "can't") are dropped: they match everything and mean nothing.
    """
    text = text.casefold().translate(_ARABIC_FOLDS)
    # NFKD splits letters from their marks (and unfolds compatibility forms); dropping the
    # combining marks then removes harakat, superscript alef and accents in one pass.
    text = "".join(
        ch for ch in unicodedata.normalize("NFKD", text) if not unicodedata.combining(ch)
    )
    text = unicodedata.normalize("NFC", text)
    tokens = []
    for word in _WORD.findall(text):
        word = _strip_prefix(word)
        if (len(word) > 1 or word.isdigit()) and len(word) <= MAX_TOKEN_CHARS:
            tokens.append(word)
    return " ".join(tokens)


QUERY_STOPWORDS = frozenset(
    normalise(
        "a an the i me my you your it its is are was were be been am to of in on at for with"
        " from by as and or but not no if so do does did done can cannot could will would how"
        " what why when where which who this that there have has had get got"
        # Negations typed without their apostrophe ("can't" is already "can").
        " cant wont dont doesnt didnt isnt arent wasnt hasnt havent couldnt wouldnt"
        " في من الى إلى على عن مع لا لم لن ما ماذا هل كيف لماذا هذا هذه ذلك تلك التي الذي"
        " أنا انا أن إن أو او ثم قد كل بعد قبل عند"
        # The same little words in the dialects customers type in (Egyptian, Gulf, Levantine):
        # not, which, of, want, what, why, how.
        " مش مو مب اللي الي بتاع بتاعي عايز عاوز ابغى ابغي ابي بدي شو ايش وش ليش ليه ازاي"
    ).split()
)
