"""Spelling that forgives: the words of a query the guides do not hold, replaced by the word
the customer most likely meant, before the full-text match (guides.search).

The same on SQLite and PostgreSQL: the vocabulary is the words of the published guides' search
rows (normalised words and Arabic stems, as guides.search indexes them), with the number of
guides of each language holding each word, read from the database once per process and kept
in memory (see "Validity" below). A query word is left alone when the vocabulary holds it, its
Arabic stem, or a longer word it begins (the search matches prefixes: "spoti" is no typo).
Otherwise, in this order:

1. a colloquial word with a standard one the guides use (COLLOQUIAL: "الكود" → "رمز", "النت" →
   "انترنت"), when the vocabulary holds that word;
2. the closest vocabulary word by edit distance (Damerau: a swap of two neighbours is one
   edit, "retrun" → "return"), one edit for words of up to six letters, two for longer ones,
   the word of the customer's language and then the most frequent one winning a tie; words
   of three letters or fewer are too ambiguous and stay as typed;
3. for a word in Arabic letters, a word in Latin letters that sounds the same
   (``sound_skeleton``: "سبوتيفاي" → "spotify", "اونلاين" → "online"): guides written in
   Arabic keep brand names in Latin letters, customers type them in Arabic ones.

A word with none of these stays as typed (on PostgreSQL, the trigram fallback still sees it).

Cost: candidates come from an index of the vocabulary's letter pairs; only words sharing
enough pairs and of a near length are compared, at most MAX_CANDIDATES of them per word, so a
query costs a few milliseconds whatever the number of guides. No SQL statement on the way of
a query once the vocabulary is read.

Validity: the search index (guides.search) writes a new random token under VERSION_KEY in
the shared cache whenever it changes (at once and after the commit, as guides.page_cache
does), and the process that changed it drops its own vocabulary. Each process reads the token
at most every CHECK_EVERY seconds (one cache round trip; the queries in between cost none) and
reads the vocabulary again when it changed, or after MAX_AGE seconds in any case (an index
change whose token could not be written). When the cache cannot be read, the vocabulary is
read from the database at most every MAX_AGE seconds.
"""

from __future__ import annotations

import bisect
import logging
import re
import secrets
import threading
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field

from django.core.cache import cache
from django.db import transaction

from guides.models import Guide, GuideSearchDocument
from guides.search_text import ARABIC_PREFIXES, QUERY_STOPWORDS, arabic_stem, normalise
from helpdesk.cache import cache_outage_logged

logger = logging.getLogger(__name__)

VERSION_KEY = "guides:search-words-version"
MAX_AGE = 300.0  # seconds
# A process asks the shared cache whether the index changed at most this often: a query costs
# no round trip in between, another process's edit is seen this much later at worst, and an
# import changing guides all the while makes a process read the vocabulary (half a second
# with 1,000 guides) at most this often.
CHECK_EVERY = 10.0  # seconds
# Candidates compared per query word, those sharing the most letter pairs first.
MAX_CANDIDATES = 200
# Words of this length or shorter are not corrected: too many words lie one edit away.
MAX_UNCORRECTED_CHARS = 3
# Longer words may be two edits away from the word meant, shorter ones one.
TWO_EDITS_FROM_CHARS = 7
MIN_SKELETON_CHARS = 3
_TYPED_WORD = re.compile(r"[^\W_]+")
# The letters that mark the person of a present-tense Arabic verb (I, you/she, he, we), and the
# length a verb must exceed for one to be taken off.
_ARABIC_VERB_PREFIXES = frozenset("اتين")
MIN_VERB_CHARS = 3

# Colloquial words (Egyptian, Gulf, Levantine) and loanwords customers type, with the word of
# Modern Standard Arabic that guides use; normalised as guides.search does. Used only for a
# word the guides do not hold, and only when they hold its standard word. Grow it from the
# content gaps' "searches with no result" (docs/content-gaps.md).
_COLLOQUIAL_WORDS = {
    "كود": "رمز",
    "الكود": "رمز",
    "باسورد": "مرور",
    "باسوورد": "مرور",
    "نت": "انترنت",
    "النت": "انترنت",
    "اونلاين": "انترنت",
    "فيزا": "بطاقه",
    "كارت": "بطاقه",
    "كرت": "بطاقه",
    "داتا": "بيانات",
    "موبايل": "هاتف",
    "جوال": "هاتف",
    "تلفون": "هاتف",
    "تليفون": "هاتف",
    "خط": "شريحه",
    "سيم": "شريحه",
    "ايميل": "بريد",
    "اميل": "بريد",
    "ميل": "بريد",
    "مسج": "رساله",
    "مسدج": "رساله",
    "ابليكيشن": "تطبيق",
    "ابلكيشن": "تطبيق",
    "اكونت": "حساب",
    "شغال": "يعمل",
    "يشتغل": "يعمل",
    "تشتغل": "يعمل",
    "يوصل": "يصل",
    "توصل": "تصل",
    "وصلني": "يصلني",
    "يوصلني": "يصلني",
    "ريفند": "استرداد",
    "فلوس": "اموال",
    "مصاري": "اموال",
}
COLLOQUIAL = {normalise(word): normalise(standard) for word, standard in _COLLOQUIAL_WORDS.items()}


# --- sound skeletons ---------------------------------------------------------------------------

# Consonants only, in classes both scripts share; vowels and the letters that stand for them
# (alef, waw, yeh, ain, hamza; Latin a e i o u w y) are dropped.
_ARABIC_SOUNDS = str.maketrans(
    {
        "ب": "b", "پ": "b", "ت": "t", "ط": "t", "ث": "s", "ج": "j", "غ": "j", "ح": "h",
        "خ": "h", "ه": "h", "د": "d", "ض": "d", "ذ": "z", "ز": "z", "ظ": "z", "ر": "r",
        "س": "s", "ص": "s", "ش": "x", "ف": "f", "ڤ": "f", "ق": "k", "ك": "k", "گ": "j",
        "ل": "l", "م": "m", "ن": "n",
        "ا": None, "و": None, "ي": None, "ع": None, "ء": None,
    }
)  # fmt: skip
_LATIN_DIGRAPHS = (("ph", "f"), ("sh", "x"), ("ch", "x"), ("th", "t"), ("wh", "w"), ("kh", "h"))
_LATIN_SOUNDS = str.maketrans(
    {
        "p": "b", "v": "f", "q": "k", "g": "j", "x": "ks", "c": "k",
        "a": None, "e": None, "i": None, "o": None, "u": None, "w": None, "y": None,
    }
)  # fmt: skip


_REPEATED = re.compile(r"(.)\1+")
_SOFT_C = re.compile(r"c(?=[eiy])")


def _squeezed(letters: str) -> str:
    return _REPEATED.sub(r"\1", letters)


def sound_skeleton(word: str) -> str:
    """The consonants of a normalised word, in classes shared by Arabic and Latin letters, so
    that a name written in either script has the same skeleton: "spotify" and "سبوتيفاي" are
    both "sbtf", "cedar" and "سيدار" "sdr". "" for other scripts."""
    if not word:
        return ""
    if "\u0621" <= word[0] <= "\u06ff":
        # A final heh stands for a teh marbuta, a vowel: "داتا", "داته".
        return _squeezed(word.rstrip("ه").translate(_ARABIC_SOUNDS))
    if not word.isascii():
        return ""
    word = _squeezed(word)
    for digraph, sound in _LATIN_DIGRAPHS:
        word = word.replace(digraph, sound)
    word = _SOFT_C.sub("s", word)  # a c before e, i or y sounds like s ("cedar")
    return _squeezed(word.translate(_LATIN_SOUNDS))


# --- edit distance ---------------------------------------------------------------------------


def edit_distance(a: str, b: str, limit: int) -> int:
    """Optimal string alignment distance (insert, delete, substitute, swap two neighbours),
    or ``limit + 1`` as soon as it is known to exceed ``limit``."""
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    previous2: list[int] = []
    previous = list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        current = [i] + [0] * len(b)
        for j in range(1, len(b) + 1):
            cost = 0 if a[i - 1] == b[j - 1] else 1
            value = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                value = min(value, previous2[j - 2] + 1)
            current[j] = value
        if min(current) > limit:
            return limit + 1
        previous2, previous = previous, current
    return previous[-1]


def _is_subsequence(short: str, long: str) -> bool:
    letters = iter(long)
    return all(ch in letters for ch in short)


def _pairs(word: str) -> set[str]:
    padded = f"^{word}$"
    return {padded[n : n + 2] for n in range(len(padded) - 1)}


# --- the vocabulary --------------------------------------------------------------------------


@dataclass
class Vocabulary:
    """The words of the published guides' search rows, with how many guides of each language
    hold them."""

    counts: dict[str, dict[str, int]]  # word → language → guides
    version: int | None
    loaded_at: float = field(default_factory=time.monotonic)
    checked_at: float = field(default_factory=time.monotonic)  # when the token last matched
    _sorted: list[str] = field(default_factory=list)
    _by_pair: dict[str, list[str]] = field(default_factory=dict)
    _by_skeleton: dict[str, list[str]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._sorted = sorted(self.counts)
        by_pair: defaultdict[str, list[str]] = defaultdict(list)
        by_skeleton: defaultdict[str, list[str]] = defaultdict(list)
        for word in self._sorted:
            if len(word) <= MAX_UNCORRECTED_CHARS - 1 or word.isdigit():
                continue
            for pair in _pairs(word):
                by_pair[pair].append(word)
            if word.isascii():
                skeleton = sound_skeleton(word)
                if len(skeleton) >= MIN_SKELETON_CHARS:
                    by_skeleton[skeleton].append(word)
        self._by_pair = dict(by_pair)
        self._by_skeleton = dict(by_skeleton)

    def knows(self, word: str) -> bool:
        """Whether the search can match the word as typed: the guides hold it, its Arabic stem,
        or a longer word starting with it."""
        if word in self.counts or arabic_stem(word) in self.counts:
            return True
        if len(word) < 3:  # guides.search.MIN_PREFIX_CHARS: shorter words match whole only
            return False
        at = bisect.bisect_left(self._sorted, word)
        return at < len(self._sorted) and self._sorted[at].startswith(word)

    def frequency(self, word: str, language: str | None) -> tuple[int, int]:
        """How a candidate ranks: guides of the customer's language holding it, then all."""
        counts = self.counts.get(word, {})
        return (counts.get(language, 0) if language else 0, sum(counts.values()))

    def closest(self, word: str, language: str | None) -> str | None:
        if len(word) <= MAX_UNCORRECTED_CHARS or word.isdigit():
            return None
        limit = 2 if len(word) >= TWO_EDITS_FROM_CHARS else 1
        pairs = _pairs(word)
        shared: Counter[str] = Counter()
        for pair in pairs:
            for candidate in self._by_pair.get(pair, ()):
                if abs(len(candidate) - len(word)) <= limit:
                    shared[candidate] += 1
        # Each edit changes at most two letter pairs (a swap three): a word further away than
        # that shares too few pairs to be within the limit.
        needed = len(pairs) - 3 * limit
        best: tuple[int, bool, int, int, str] | None = None
        for candidate, count in shared.most_common(MAX_CANDIDATES):
            if count < needed:
                break
            # Typists rarely miss the first letter (but may swap it with the second); a word
            # that starts otherwise is more often another word the guides lack ("getting"
            # is not a typo of "setting").
            if candidate[0] != word[0] and candidate[:2] != word[1::-1]:
                continue
            distance = edit_distance(word, candidate, limit)
            if distance > limit:
                continue
            in_language, overall = self.frequency(candidate, language)
            # At one distance, a word the typed one lacks letters of ("limted": "limited"
            # rather than "lifted"): leaving letters out is the commonest slip on a phone.
            rank = (
                distance,
                not _is_subsequence(word, candidate),
                -in_language,
                -overall,
                candidate,
            )
            if best is None or rank < best:
                best = rank
        return best[-1] if best else None

    def sounding_alike(self, word: str, language: str | None) -> str | None:
        if not "\u0621" <= word[:1] <= "\u06ff":
            return None
        skeleton = sound_skeleton(word)
        if len(skeleton) < MIN_SKELETON_CHARS:
            return None
        candidates = self._by_skeleton.get(skeleton, [])
        # First the words of Arabic guides: they keep brand names in Latin letters. The words
        # of the other guides are every English word, many sounding like some Arabic word,
        # so only a longer skeleton is matched there ("نتفلكس": "netflix").
        arabic = [c for c in candidates if self.counts[c].get("ar")]
        if (not arabic and len(skeleton) <= MIN_SKELETON_CHARS) or not candidates:
            return None
        return max(arabic or candidates, key=lambda c: (self.frequency(c, language), c))

    def corrected(self, word: str, language: str | None) -> str:
        if word in QUERY_STOPWORDS or self.knows(word):
            return word
        standard = COLLOQUIAL.get(word)
        if standard and self.knows(standard):
            return standard
        # A verb of the present tense with the person's prefix ("اغير" I change, "يدفع" he
        # pays): its stem, when the guides hold that ("غير", as in "غيّر" change).
        if (
            len(word) > MIN_VERB_CHARS
            and word[0] in _ARABIC_VERB_PREFIXES
            and word[1:] in self.counts
        ):
            return word[1:]
        return self.closest(word, language) or self.sounding_alike(word, language) or word


def _vocabulary_read(version: int | None) -> Vocabulary:
    held: Counter[tuple[str, str]] = Counter()  # (word, language) → guides holding it
    rows = (
        GuideSearchDocument.objects.filter(guide__status=Guide.Status.PUBLISHED)
        .values_list("language", "title", "summary", "body")
        .iterator(chunk_size=500)
    )
    for language, *texts in rows:
        held.update((word, language) for word in set(" ".join(texts).split()))
    counts: defaultdict[str, dict[str, int]] = defaultdict(dict)
    for (word, language), guides in held.items():
        counts[word][language] = guides
    return Vocabulary(counts=dict(counts), version=version)


# --- validity -----------------------------------------------------------------------------------

_kept: Vocabulary | None = None
_lock = threading.Lock()


def _version() -> int | None:
    try:
        token = cache.get(VERSION_KEY)
        if token is None:
            cache.add(VERSION_KEY, secrets.randbits(62), timeout=None)
            token = cache.get(VERSION_KEY)
        return int(token) if token is not None else None
    except Exception as error:
        if not cache_outage_logged(error):
            logger.warning("Search spelling checked without its cache", exc_info=True)
        return None


def _bump() -> None:
    search_words_forget()
    try:
        cache.set(VERSION_KEY, secrets.randbits(62), timeout=None)
    except Exception as error:
        if not cache_outage_logged(error):
            logger.warning("Search spelling not told of an index change", exc_info=True)


def search_words_changed() -> None:
    """Tell every process that the search index changed (guides.search calls it): their
    vocabulary is read again on their next query. Again after the commit, for a process that
    read the rows between the first bump and the commit."""
    _bump()
    if transaction.get_connection().in_atomic_block:
        transaction.on_commit(_bump)


def search_words_forget() -> None:
    """Drop this process's vocabulary (tests: the database rolls back under it)."""
    global _kept
    with _lock:
        _kept = None


def vocabulary() -> Vocabulary:
    """The vocabulary, kept or read now (see the module's docstring, "Validity")."""
    global _kept
    kept = _kept
    now = time.monotonic()
    if kept is None or now - kept.loaded_at >= MAX_AGE:
        version = _version()
    elif now - kept.checked_at < CHECK_EVERY:
        return kept
    else:
        version = _version()
        if version is not None and version == kept.version:
            kept.checked_at = now
            return kept
        if version is None and kept.version is None:  # no cache: keep it for MAX_AGE
            return kept
    fresh = _vocabulary_read(version)
    with _lock:
        _kept = fresh
    return fresh


# --- the contract ------------------------------------------------------------------------------


def corrections(words: list[str], *, language: str | None = None) -> list[tuple[int, str]]:
    """How many of the normalised query words each word searched for stands for (1, or 2 for
    a word typed in two), and that word: misspelt and colloquial words replaced (see the
    module's docstring), the others as they are, in their order."""
    if not words:
        return []
    known = vocabulary()
    out: list[tuple[int, str]] = []
    n = 0
    while n < len(words):
        word = words[n]
        following = words[n + 1] if n + 1 < len(words) else ""
        if (
            following
            and not (known.knows(word) and known.knows(following))
            and not {word, following} & QUERY_STOPWORDS
        ):
            # A word split in two ("pay pal", "واتس اب"): joined, when the guides hold the
            # whole word or, for Arabic letters, one that sounds like it.
            joined = word + following
            whole = joined if known.knows(joined) else known.sounding_alike(joined, language)
            if whole:
                out.append((2, whole))
                n += 2
                continue
        out.append((1, known.corrected(word, language)))
        n += 1
    return out


def corrected_words(words: list[str], *, language: str | None = None) -> list[str]:
    """Normalised query words, each misspelt or colloquial one replaced (see the module's
    docstring); the others as they are, in their order."""
    return [word for _count, word in corrections(words, language=language)]


def corrected_text(text: str, *, language: str | None = None) -> str:
    """``text`` as typed, with only the words that search corrected replaced: what to show a
    customer as "results for" (the normalised words of corrected_query would read as
    misspelt Arabic: "بطاقه" for "بطاقة"). "" when nothing was corrected."""
    typed = [(match, normalise(match.group()).split()) for match in _TYPED_WORD.finditer(text)]
    words = [word for _match, forms in typed for word in forms]
    replacements: dict[int, str] = {}  # index into words → what replaces it ("" for dropped)
    at = 0
    for count, word in corrections(words, language=language):
        if count > 1 or word != words[at]:
            replacements[at] = word
            replacements.update({at + k: "" for k in range(1, count)})
        at += count
    if not replacements:
        return ""
    out = []
    last = 0
    at = 0
    for match, forms in typed:
        changed = [replacements[at + k] for k in range(len(forms)) if at + k in replacements]
        if changed:
            out.append(text[last : match.start()])
            replaced = " ".join(word for word in changed if word)
            # The article or preposition normalise took off goes back on: "التحقيق" shows
            # as "التحقق", not "تحقق".
            prefix = next(
                (p for p in ARABIC_PREFIXES if match.group().startswith(p) and forms
                 and not forms[0].startswith(p)),
                "",
            )  # fmt: skip
            out.append(
                prefix + replaced if replaced and "\u0621" <= replaced[0] <= "\u06ff" else replaced
            )
            last = match.end()
        at += len(forms)
    out.append(text[last:])
    return " ".join("".join(out).split())


def corrected_query(text: str, *, language: str | None = None) -> str:
    """The query as the guides spell it: ``text`` normalised (guides.search.normalise), each
    word the published guides do not hold replaced by the one the customer most likely meant
    ("netflx pasword" → "netflix password"); ``language`` ("ar", "en" or None) prefers words of
    that language's guides. Search it like any query: search_guides(query=corrected_query(q)).
    Reads the vocabulary from the database only when the index changed; else no SQL."""
    return " ".join(corrected_words(normalise(text).split(), language=language))
