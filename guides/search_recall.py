"""How often search puts the guide a customer means first (recall@1) or in the top three
(recall@3), over a set of queries written as customers type them.

The set is a YAML file (tests/guides/search_queries.yaml): short names for the guides, then the
queries of each language, each with the guide it means. ``manage.py search_recall`` prints
the figures per language and overall, and every query that missed; tests/guides/
test_search_recall.py holds the figure to its target on the database the suite runs on.
Each query is searched as the search page does: every company, every language.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import yaml
from django.conf import settings

from guides.models import Guide
from guides.search import search_guides

DEFAULT_QUERIES = Path(settings.BASE_DIR) / "tests" / "guides" / "search_queries.yaml"
# The results a recall@3 looks at; recall@1 looks at the first.
TOP = 3


class RecallQueriesError(ValueError):
    pass


@dataclass(frozen=True)
class RecallQuery:
    text: str
    language: str  # the language the customer typed in
    guide: str  # "company/language/slug"


@dataclass(frozen=True)
class RecallMiss:
    query: RecallQuery
    found: list[str]  # the first results, as "company/language/slug"
    rank: int | None  # the expected guide's place (1-based) among the results, or None


@dataclass
class RecallFigures:
    queries: int = 0
    first: int = 0
    top: int = 0

    def percent(self, hits: int) -> float:
        return 100.0 * hits / self.queries if self.queries else 0.0

    @property
    def at_1(self) -> float:
        return self.percent(self.first)

    @property
    def at_3(self) -> float:
        return self.percent(self.top)


@dataclass
class RecallReport:
    by_language: dict[str, RecallFigures] = field(default_factory=dict)
    overall: RecallFigures = field(default_factory=RecallFigures)
    misses: list[RecallMiss] = field(default_factory=list)  # every query not found first
    unknown_guides: list[str] = field(default_factory=list)  # named but not published here


def recall_queries_load(path: Path = DEFAULT_QUERIES) -> list[RecallQuery]:
    """The queries of the file, each with its guide's full name; RecallQueriesError when the
    file does not have the expected shape."""
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
        names = data["guides"]
        sections = data["queries"]
        return [
            RecallQuery(text=str(text), language=str(language), guide=str(names[name]))
            for language, entries in sections.items()
            for text, name in entries
        ]
    except (OSError, yaml.YAMLError, KeyError, TypeError, ValueError, AttributeError) as error:
        raise RecallQueriesError(f"{path}: {error!r}") from error


def guide_key(guide: Guide) -> str:
    return f"{guide.company.slug}/{guide.language}/{guide.slug}"


def recall_measure(queries: list[RecallQuery]) -> RecallReport:
    report = RecallReport()
    published = {
        guide_key(guide)
        for guide in Guide.objects.filter(status=Guide.Status.PUBLISHED).select_related("company")
    }
    report.unknown_guides = sorted({q.guide for q in queries} - published)
    for query in queries:
        found = [guide_key(guide) for guide in search_guides(query=query.text, limit=10)]
        rank = found.index(query.guide) + 1 if query.guide in found else None
        for figures in (
            report.by_language.setdefault(query.language, RecallFigures()),
            report.overall,
        ):
            figures.queries += 1
            figures.first += rank == 1
            figures.top += rank is not None and rank <= TOP
        if rank != 1:
            report.misses.append(RecallMiss(query=query, found=found[:TOP], rank=rank))
    return report
