"""Follow-up questions: a customer asks in their own words, and the best-matching steps of this
company's published guides in their language answer, in a second (docs/follow-up.md).

How a question is matched:

1. ``question_corrected``: the one place where the question's spelling is corrected before
   anything reads it, as search corrects a query (guides.spelling.corrected_query).
2. Candidate guides: the guide search (guides.search.search_guide_ids) over the company's
   published guides in the language, CANDIDATE_GUIDES of them, plus the guide the question was
   asked on. Its index already holds every step's words (a guide's search row carries its
   steps), so no second index has to be kept current: a step answers as soon as its guide is
   found by search. Measured on 1,000 guides, see bench/follow_up.py.
3. Each step of those guides is scored here, the same way on every database: the share of the
   question's meaningful words (normalised and stemmed as search does, so Arabic prefixes,
   suffixes, hamza and alef forms and diacritics do not matter) that the step's title or body
   holds, a word found only in its guide's title or summary counting CONTEXT_WEIGHT. A score
   is a fraction from 0 to 1 that means the same whatever the database ranked.
4. Steps scoring at least MIN_SCORE are shown, MAX_ANSWERS at most; below it the page says
   nothing matched well enough and offers a person.

Every question is stored (FollowUpQuestion) with what was shown and the best score found, and
later the customer's "did this answer you?"; the content gaps read them (guides.gaps).
"""

from __future__ import annotations

import bisect
import functools
import html
import re
from dataclasses import dataclass
from urllib.parse import urlencode

from django.core import signing
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape, strip_tags
from django.utils.safestring import SafeString, mark_safe

from guides.markdown import render_markdown
from guides.models import Company, FollowUpQuestion, FollowUpSource, Guide, Language, Step
from guides.search import QUERY_STOPWORDS, arabic_stem, normalise, search_guide_ids
from guides.spelling import corrected_query

# A question is a sentence or two; longer input is cut before anything reads it.
MAX_QUESTION_CHARS = 500
MAX_QUESTION_TOKENS = 12
# Guides whose steps are scored. The guide search ranks guides containing every word first,
# so the step that answers is in the first few; twenty leaves room for questions whose words
# are spread over several guides, at a few milliseconds of scoring (bench/follow_up.py).
CANDIDATE_GUIDES = 20
MAX_ANSWERS = 3
# A word of the question found only in the step's guide's title or summary: the step is about
# it, but does not say it.
CONTEXT_WEIGHT = 0.5
# The least score shown as an answer, measured on the labelled questions of
# tests/guides/follow_up_questions.py against the demo guides (test_follow_up_matching.py,
# docs/follow-up.md): each of the 36 questions a published step answers, in English and
# Arabic, scores that step 0.6 or more (the lowest: three of five words), and each of the 12
# questions no guide of the company answers scores every step 0.4 or less (one or two shared
# words such as "change" or "account"). 0.5, "half of what you asked", lies between.
MIN_SCORE = 0.5
SNIPPET_WORDS = 28
# How long the "did this answer you?" link of a follow-up stays valid.
VERDICT_MAX_AGE = 7 * 24 * 60 * 60  # seconds
_TOKEN_SALT = "guides.follow_up.verdict"  # noqa: S105 (a salt, not a secret)

# Words a question is made of whatever it asks: they would match every step. Added to the
# search's stop words (question words, pronouns, prepositions).
FOLLOW_UP_STOPWORDS = QUERY_STOPWORDS | frozenset(
    normalise(
        "please help need want know tell still again also just any some anything something"
        " should shall may might must us our we im i'm ive i've dont don't doesnt doesn't"
        " cant can't isnt isn't hi hello thanks thank way another other"
        " ممكن اريد أريد ابغى ابي عايز عاوز بدي لو سمحت مساعده مساعدة شكرا مرحبا السلام عليكم"
        " انا لي عندي يمكنني استطيع أستطيع اقدر لازم يجب"
    ).split()
)

# E-mail addresses and links are not what a question is about, and a customer may type their
# own; long numbers are card, phone, order or account numbers. Kept out of what is stored.
_ADDRESS = re.compile(r"\S+@\S+|https?://\S+|www\.\S+", re.IGNORECASE)
_LONG_NUMBER = re.compile(r"(?<!\w)(?:\d[ -]?){6,}\d(?!\w)")
_SPACES = re.compile(r"\s+")
# English endings dropped before comparing words, so that "changing", "changed" and "change"
# meet ("chang"); the comparison is then by prefix, as search's index does it.
_ENGLISH_ENDINGS = ("ing", "ed", "es", "s", "e", "ly")


class FollowUpError(ValueError):
    pass


def question_corrected(text: str, *, language: str | None) -> str:
    """The question with its spelling corrected as search corrects a query
    (guides.spelling): normalised, each word the published guides lack replaced by the
    closest one they hold. Everything below reads the question through this function only."""
    return corrected_query(text, language=language)


def question_cleaned(text: str) -> str:
    """The question as it is stored and matched: its first MAX_QUESTION_CHARS characters,
    on one line, without e-mail addresses, links and long numbers."""
    text = _ADDRESS.sub(" ", text[:MAX_QUESTION_CHARS])
    text = _LONG_NUMBER.sub(" ", text)
    return _SPACES.sub(" ", text).strip()


# --- words ---------------------------------------------------------------------------------


def _english_stem(word: str) -> str:
    if not word.isascii():
        return word
    for ending in _ENGLISH_ENDINGS:
        if word.endswith(ending) and len(word) - len(ending) >= 3:
            return word[: -len(ending)]
    return word


def word_key(word: str) -> str:
    """A normalised word as compared: its Arabic light stem, or its English one."""
    return _english_stem(arabic_stem(word))


def question_keys(question: str) -> list[str]:
    """The meaningful words of a question, as compared (word_key), each once, in order; the
    question's every word when it holds nothing else ("how do I?")."""
    words = list(dict.fromkeys(normalise(question).split()))
    meaningful = [word for word in words if word not in FOLLOW_UP_STOPWORDS]
    keys = [word_key(word) for word in (meaningful or words)]
    return list(dict.fromkeys(keys))[:MAX_QUESTION_TOKENS]


@dataclass(frozen=True)
class _Words:
    """The compared forms of a text's words, sorted (for prefix look-ups) and as a set."""

    sorted_keys: tuple[str, ...]
    keys: frozenset[str]

    def has(self, key: str) -> bool:
        if key in self.keys:
            return True
        # A longer word that starts with it ("spoti" → "spotify", "بطاق" → "بطاقه").
        if len(key) >= 3:
            at = bisect.bisect_left(self.sorted_keys, key)
            if at < len(self.sorted_keys) and self.sorted_keys[at].startswith(key):
                return True
        # A shorter word it starts with, by a letter or two ("payments" → "payment").
        return any(len(key) - cut >= 4 and key[:-cut] in self.keys for cut in (1, 2))


@functools.lru_cache(maxsize=8192)
def _words_of(text: str) -> _Words:
    keys = set()
    for word in normalise(text).split():
        keys.add(word_key(word))
        # "and" glued to an Arabic word ("واضبط", and set): normalise keeps it, as it cannot
        # tell it from a first letter ("وصول"). A text's words also count without it, which
        # only widens what matches; a question's words are taken as typed.
        if word[0] in "وف" and len(word) >= 4:
            keys.add(word_key(word[1:]))
    return _Words(tuple(sorted(keys)), frozenset(keys))


@functools.lru_cache(maxsize=4096)
def _plain(markdown: str) -> str:
    return html.unescape(strip_tags(render_markdown(markdown)))


def _matches(keys: list[str], words: _Words) -> set[str]:
    return {key for key in keys if words.has(key)}


def step_score(keys: list[str], step: Step) -> float:
    """The share of the question's words (question_keys) that the step says: 1 for each in
    its title or body, CONTEXT_WEIGHT for each only in its guide's title or summary."""
    if not keys:
        return 0.0
    own = _matches(keys, _words_of(f"{step.title}\n{_plain(step.body)}"))
    guide = step.guide
    context = _matches(
        [key for key in keys if key not in own], _words_of(f"{guide.title}\n{guide.summary}")
    )
    return (len(own) + CONTEXT_WEIGHT * len(context)) / len(keys)


# --- snippets ------------------------------------------------------------------------------


def _marked(text: str, keys: list[str]) -> list[tuple[str, bool]]:
    """The text's words (as written) with whether each holds a word of the question."""
    result = []
    for raw in text.split():
        words = _words_of(raw)
        result.append((raw, any(words.has(key) or key in words.keys for key in keys)))
    return result


def _html(words: list[tuple[str, bool]]) -> str:
    return " ".join(
        f"<mark>{escape(raw)}</mark>" if hit else str(escape(raw)) for raw, hit in words
    )


def highlighted(text: str, keys: list[str]) -> SafeString:
    """The whole text, escaped, with the question's words in <mark>."""
    return mark_safe(_html(_marked(text, keys)))  # noqa: S308 (each word escaped)


def snippet(text: str, keys: list[str], *, size: int = SNIPPET_WORDS) -> SafeString:
    """The ``size`` words of the text that hold most of the question's words, escaped, with
    those words in <mark> and "…" where the text was cut."""
    words = _marked(text, keys)
    if len(words) <= size:
        return mark_safe(_html(words))  # noqa: S308 (each word escaped)
    hits = [int(hit) for _raw, hit in words]
    best, best_count = 0, sum(hits[:size])
    count = best_count
    for start in range(1, len(words) - size + 1):
        count += hits[start + size - 1] - hits[start - 1]
        if count > best_count:
            best, best_count = start, count
    # The window starts a few words before its first hit: what leads to it.
    first_hit = next((at for at in range(best, best + size) if hits[at]), best)
    start = max(0, min(first_hit - 3, len(words) - size)) if best_count else 0
    text_html = _html(words[start : start + size])
    before = "… " if start > 0 else ""
    after = " …" if start + size < len(words) else ""
    return mark_safe(f"{before}{text_html}{after}")  # noqa: S308 (each word escaped)


# --- matching ------------------------------------------------------------------------------


@dataclass(frozen=True)
class FollowUpAnswer:
    step: Step  # with its guide and the guide's company
    score: float
    title_html: SafeString
    snippet_html: SafeString

    @property
    def url(self) -> str:
        return f"{self.step.guide.public_path()}#step-{self.step.position}"


@dataclass(frozen=True)
class FollowUpMatch:
    answers: list[FollowUpAnswer]
    best_score: float
    keys: list[str]


def _answer(step: Step, score: float, keys: list[str]) -> FollowUpAnswer:
    return FollowUpAnswer(
        step=step,
        score=score,
        title_html=highlighted(step.title, keys),
        snippet_html=snippet(_plain(step.body), keys),
    )


def _published_steps(guide_ids: list[int]):
    return (
        Step.objects.filter(guide_id__in=guide_ids, guide__status=Guide.Status.PUBLISHED)
        .select_related("guide__company")
        .only(
            "id",
            "guide_id",
            "position",
            "kind",
            "title",
            "body",
            "guide__id",
            "guide__slug",
            "guide__language",
            "guide__title",
            "guide__summary",
            "guide__status",
            "guide__company__id",
            "guide__company__slug",
            "guide__company__name",
        )
    )


def follow_up_match(
    *, question: str, language: str, company: Company | None = None, guide: Guide | None = None
) -> FollowUpMatch:
    """The steps that answer ``question`` best, MIN_SCORE or more, best first (a read: nothing
    is stored). With a ``guide``, its company's guides in its language answer; otherwise
    those of ``company`` (or of every company) in ``language``. Two queries."""
    if guide is not None:
        company, language = guide.company, guide.language
    text = question_corrected(question_cleaned(question), language=language)
    keys = question_keys(text)
    if not keys:
        return FollowUpMatch([], 0.0, [])
    ids = search_guide_ids(
        query=text,
        company=company.slug if company is not None else None,
        language=language,
        limit=CANDIDATE_GUIDES,
    )
    if guide is not None and guide.pk not in ids:
        ids.append(guide.pk)
    rank = {guide_id: at for at, guide_id in enumerate(ids)}
    scored = [(step_score(keys, step), step) for step in _published_steps(ids)]
    if not scored:
        return FollowUpMatch([], 0.0, keys)
    here = guide.pk if guide is not None else None
    # Ties: the guide the question was asked on, then the search's order, then the steps'.
    scored.sort(
        key=lambda pair: (
            -pair[0],
            pair[1].guide_id != here,
            rank[pair[1].guide_id],
            pair[1].position,
        )
    )
    best = scored[0][0]
    answers = [
        _answer(step, score, keys) for score, step in scored[:MAX_ANSWERS] if score >= MIN_SCORE
    ]
    return FollowUpMatch(answers, best, keys)


# --- asking, answering ---------------------------------------------------------------------


@dataclass(frozen=True)
class FollowUp:
    """A stored question with its answers, and the token that lets its asker say whether
    they answered it."""

    question: FollowUpQuestion
    answers: list[FollowUpAnswer]
    token: str


def follow_up_token(follow_up_id: int) -> str:
    return signing.TimestampSigner(salt=_TOKEN_SALT).sign(str(follow_up_id))


def follow_up_id_of(token: str) -> int | None:
    """The follow-up a token names, or None for a token that is not ours, too old or
    malformed."""
    if not token or len(token) > 200:
        return None
    try:
        value = signing.TimestampSigner(salt=_TOKEN_SALT).unsign(token, max_age=VERDICT_MAX_AGE)
        return int(value)
    except (signing.BadSignature, ValueError):
        return None


def follow_up_ask(
    *,
    question: str,
    language: str,
    source: str = FollowUpSource.PAGE,
    company: Company | None = None,
    guide: Guide | None = None,
) -> FollowUp:
    """Answer a customer's question (follow_up_match) and store it with what was shown. The
    caller has checked that the guide (if any) is published. A question with nothing left
    once cleaned (question_cleaned) is refused."""
    if guide is not None:
        company, language = guide.company, guide.language
    cleaned = question_cleaned(question)
    if not cleaned:
        raise FollowUpError("empty question")
    if language not in Language.values:
        raise FollowUpError("unknown language")
    match = follow_up_match(question=cleaned, language=language, company=company, guide=guide)
    stored = FollowUpQuestion.objects.create(
        question=cleaned,
        company=company,
        guide=guide,
        language=language,
        source=source,
        shown=[{"step": a.step.pk, "score": round(a.score, 3)} for a in match.answers],
        answer_count=len(match.answers),
        best_score=round(min(max(match.best_score, 0.0), 1.0), 3),
    )
    return FollowUp(stored, match.answers, follow_up_token(stored.pk))


def follow_up_of(token: str) -> FollowUp | None:
    """A stored follow-up and its answers as they were shown (the steps that still exist,
    their snippets made again from their current text), by its token; None for a bad one."""
    follow_up_id = follow_up_id_of(token)
    if follow_up_id is None:
        return None
    stored = (
        FollowUpQuestion.objects.select_related("company", "guide__company")
        .filter(pk=follow_up_id)
        .first()
    )
    if stored is None:
        return None
    keys = question_keys(question_corrected(stored.question, language=stored.language))
    scores = {int(row["step"]): float(row["score"]) for row in stored.shown}
    steps = {
        step.pk: step
        for step in Step.objects.filter(
            pk__in=scores, guide__status=Guide.Status.PUBLISHED
        ).select_related("guide__company")
    }
    answers = [_answer(steps[pk], score, keys) for pk, score in scores.items() if pk in steps]
    return FollowUp(stored, answers, token)


def follow_up_verdict_record(*, follow_up: FollowUpQuestion, answered: bool) -> FollowUpQuestion:
    """Record the customer's "did this answer you?"; saying it again changes it. One UPDATE
    of the question's own row."""
    now = timezone.now()
    FollowUpQuestion.objects.filter(pk=follow_up.pk).update(answered=answered, answered_at=now)
    follow_up.answered, follow_up.answered_at = answered, now
    return follow_up


def person_url(question: FollowUpQuestion) -> str:
    """A person, with the question already written in the request's description: the guide's
    own "talk to a person" when asked on a guide page (the attempt's steps go with it), else
    the contact form."""
    query = "?" + urlencode({"description": question.question})
    guide = question.guide
    if guide is not None and guide.status == Guide.Status.PUBLISHED:
        return (
            reverse(
                "guides:contact",
                kwargs={
                    "company": guide.company.slug,
                    "language": guide.language,
                    "slug": guide.slug,
                },
            )
            + query
        )
    return reverse("tickets:contact") + query
