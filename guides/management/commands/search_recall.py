from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection

from guides.search_recall import (
    DEFAULT_QUERIES,
    RecallQueriesError,
    recall_measure,
    recall_queries_load,
)


class Command(BaseCommand):
    help = (
        "Measure search recall: search each query of a query set (by default the demo guides'"
        " set, tests/guides/search_queries.yaml) and print recall@1 and recall@3 per language"
        " and overall, then the queries whose guide did not come first. Run it on a database"
        " holding the guides the set names (manage.py load_demo, or import_guides)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--queries", type=Path, default=DEFAULT_QUERIES, help="the query set (YAML)"
        )

    def handle(self, *args, queries: Path, **options) -> None:
        try:
            loaded = recall_queries_load(queries)
        except RecallQueriesError as error:
            raise CommandError(str(error)) from error
        report = recall_measure(loaded)
        if report.unknown_guides:
            raise CommandError(
                "These guides are not published in this database: "
                + ", ".join(report.unknown_guides)
            )
        out = self.stdout
        out.write(f"Search recall on {connection.vendor}, {len(loaded)} queries ({queries.name})")
        out.write(f"{'language':<10}{'queries':>8}{'recall@1':>10}{'recall@3':>10}")
        rows = [*sorted(report.by_language.items()), ("all", report.overall)]
        for language, figures in rows:
            out.write(
                f"{language:<10}{figures.queries:>8}{figures.at_1:>9.1f}%{figures.at_3:>9.1f}%"
            )
        if report.misses:
            out.write(f"\nNot first ({len(report.misses)}):")
        for miss in report.misses:
            place = f"#{miss.rank}" if miss.rank else "not found"
            found = ", ".join(miss.found) or "nothing"
            out.write(
                f"  [{miss.query.language}] {miss.query.text!r}: {place}, expected"
                f" {miss.query.guide}; found {found}"
            )
