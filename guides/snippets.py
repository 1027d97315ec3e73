"""What a search result shows under its title: the passage of the guide that holds the most
of the words searched for, with those words marked (``<mark>``).

Guides are written in Markdown by authors; a snippet is built from their text as plain text
(links keep their words, not their addresses; emphasis and list markers go) and every piece
of it is escaped before the marks are put around the matching words, so no text of a guide
can become markup. A word matches when, normalised as search does (guides.search_text), it
begins with a searched word or its Arabic stem, or for Latin letters with the searched
word's root ("changing" for "change"): close to what the full-text match found, without a
second query to the database.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable
from dataclasses import dataclass

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from guides.models import Guide, Step
from guides.search_text import arabic_stem, normalise

# Words a snippet shows around the words it marks.
SNIPPET_WORDS = 28

_MARKDOWN_LINK = re.compile(r"!?\[([^\]]*)\]\([^)]*\)")
# Emphasis and code marks, and what opens a line: a heading, a quote, a list item.
_MARKDOWN_MARKS = re.compile(r"(\*\*|__|[*`]|^\s*(?:#+|>|\d+\.|[-+])\s)", re.MULTILINE)
_WORD = re.compile(r"[^\W_]+")
_ENGLISH_ENDINGS = ("ing", "ed", "es", "s", "e")


@dataclass(frozen=True)
class Snippet:
    html: SafeString  # escaped text with <mark> around the matching words
    step_position: int | None  # the step it comes from, or None for the summary


@dataclass(frozen=True)
class SearchResult:
    guide: Guide
    title_html: SafeString
    snippet: Snippet | None


def plain_text(markdown: str) -> str:
    """The words of a Markdown text, without its markup, on one line."""
    text = _MARKDOWN_LINK.sub(r"\1", markdown)
    text = _MARKDOWN_MARKS.sub(" ", text)
    return " ".join(text.split())


def _root(term: str) -> str:
    """What a searched word must begin a guide's word with to match it."""
    if not term.isascii():
        return arabic_stem(term)
    for ending in _ENGLISH_ENDINGS:
        if term.endswith(ending) and len(term) - len(ending) >= 3:
            return term[: -len(ending)]
    return term


@functools.lru_cache(maxsize=50_000)
def _normalised_word(word: str) -> tuple[str, ...]:
    # The same words recur in every guide ("the", "card", "البطاقة"): normalised once per
    # process, not once per passage.
    return tuple(normalise(word).split())


class _Matcher:
    def __init__(self, terms: Iterable[str]) -> None:
        self.roots = {_root(term): term for term in terms if term}
        self._seen: dict[str, str | None] = {}  # a word of the guides → the term it matches

    def term_of(self, word: str) -> str | None:
        """The searched word this word of a guide matches, or None."""
        if word in self._seen:
            return self._seen[word]
        found = None
        for norm in _normalised_word(word):
            for root, term in self.roots.items():
                if norm == term or (len(root) >= 3 and norm.startswith(root)):
                    found = term
                    break
            if found:
                break
        self._seen[word] = found
        return found


def _marked(text: str, matcher: _Matcher, start: int = 0, end: int | None = None) -> str:
    """``text[start:end]`` escaped, with <mark> around each matching word."""
    end = len(text) if end is None else end
    out: list[str] = []
    at = start
    for match in _WORD.finditer(text, start, end):
        if matcher.term_of(match.group()) is None:
            continue
        out.append(escape(text[at : match.start()]))
        out.append(f"<mark>{escape(match.group())}</mark>")
        at = match.end()
    out.append(escape(text[at:end]))
    return "".join(out)


def marked_title(title: str, terms: Iterable[str]) -> SafeString:
    return mark_safe(_marked(title, _Matcher(terms)))  # noqa: S308 (escaped by _marked)


def _best_window(text: str, matcher: _Matcher) -> tuple[int, int, int, int] | None:
    """(distinct words matched, matches, start, end) of the passage of SNIPPET_WORDS words
    with the most distinct searched words, or None when none matches."""
    words = list(_WORD.finditer(text))
    hits = [(n, term) for n, m in enumerate(words) if (term := matcher.term_of(m.group()))]
    if not hits:
        return None
    best: tuple[tuple[int, int, int], int, int] | None = None
    for first, (n, _term) in enumerate(hits):
        # The window opens a few words before its first hit, for context.
        opening = max(0, n - 3)
        closing = min(len(words), opening + SNIPPET_WORDS)
        inside = [term for m, term in hits[first:] if m < closing]
        key = (len(set(inside)), len(inside), -opening)
        if best is None or key > best[0]:
            best = (key, opening, closing)
    assert best is not None
    (distinct, count, _), opening, closing = best
    start = words[opening].start() if opening else 0
    end = words[closing - 1].end() if closing < len(words) else len(text)
    return distinct, count, start, end


def search_snippets(guides: list[Guide], terms: list[str]) -> dict[int, Snippet]:
    """The best snippet of each guide (by id) for these normalised search words, from its
    summary and steps: one query for the steps of all the guides."""
    matcher = _Matcher(terms)
    if not guides or not matcher.roots:
        return {}
    passages: dict[int, list[tuple[int | None, str]]] = {
        guide.pk: [(None, plain_text(guide.summary))] for guide in guides
    }
    steps = (
        Step.objects.filter(guide_id__in=list(passages))
        .only("guide_id", "position", "title", "body")
        .order_by("guide_id", "position")
    )
    for step in steps:
        passages[step.guide_id].append((step.position, f"{step.title}. {plain_text(step.body)}"))
    snippets = {}
    for guide_id, texts in passages.items():
        best: tuple[tuple[int, int], Snippet] | None = None
        for position, text in texts:
            window = _best_window(text, matcher)
            if window is None:
                continue
            distinct, count, start, end = window
            html = _marked(text, matcher, start, end)
            if start > 0:
                html = "… " + html
            if end < len(text):
                html += " …"
            # The passage with the most distinct words wins; on a tie, the earlier one.
            if best is None or (distinct, count) > best[0]:
                snippet = Snippet(html=mark_safe(html), step_position=position)  # noqa: S308
                best = ((distinct, count), snippet)
        if best is not None:
            snippets[guide_id] = best[1]
    return snippets


def search_results(guides: list[Guide], terms: list[str]) -> list[SearchResult]:
    """The guides found, each with its title and best passage marked."""
    snippets = search_snippets(guides, terms)
    return [
        SearchResult(
            guide=guide,
            title_html=marked_title(guide.title, terms),
            snippet=snippets.get(guide.pk),
        )
        for guide in guides
    ]
