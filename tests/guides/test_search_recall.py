"""Search recall over the query set written as customers type (tests/guides/search_queries.yaml),
on the database the suite runs on: CI runs it on SQLite and on PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command

from guides.search_recall import recall_measure, recall_queries_load

DEMO_GUIDES = Path(settings.BASE_DIR) / "guides" / "demo_guides"
TARGET_AT_1 = 95.0


@pytest.fixture
def demo_guides(db):
    call_command("import_guides", str(DEMO_GUIDES), verbosity=0)


def test_the_query_set_is_big_enough_and_half_arabic():
    queries = recall_queries_load()

    assert len(queries) >= 80
    arabic = [query for query in queries if query.language == "ar"]
    assert len(arabic) * 2 >= len(queries)


def test_it_finds_the_guide_meant_first_for_at_least_95_percent_of_queries(demo_guides):
    report = recall_measure(recall_queries_load())

    assert report.unknown_guides == []
    misses = "\n".join(f"{m.query.text!r} → {m.found}" for m in report.misses)
    assert report.overall.at_1 >= TARGET_AT_1, misses
    for language, figures in report.by_language.items():
        assert figures.at_1 >= TARGET_AT_1, (language, misses)


def test_the_command_prints_the_figures_and_the_misses(demo_guides, capsys):
    call_command("search_recall")

    out = capsys.readouterr().out
    assert "recall@1" in out and "recall@3" in out
    lines = {
        line.split()[0]: line for line in out.splitlines() if line[:3] in ("ar ", "en ", "all")
    }
    assert set(lines) == {"ar", "en", "all"}
    assert lines["all"].split()[1] == str(len(recall_queries_load()))


def test_the_command_reads_another_query_set(demo_guides, tmp_path, capsys):
    queries = tmp_path / "queries.yaml"
    queries.write_text(
        "guides: {netflix: netflix/en/password-reset-email-not-arriving}\n"
        "queries:\n  en:\n    - [netflx pasword, netflix]\n    - [quokka, netflix]\n",
        encoding="utf-8",
    )

    call_command("search_recall", queries=queries)

    out = capsys.readouterr().out
    assert "50.0%" in out
    assert "'quokka': not found" in out


def test_the_command_refuses_a_set_naming_guides_that_are_not_here(db, tmp_path):
    queries = tmp_path / "queries.yaml"
    queries.write_text(
        "guides: {x: nobody/en/nothing}\nqueries:\n  en:\n    - [card, x]\n", encoding="utf-8"
    )

    with pytest.raises(CommandError, match="nobody/en/nothing"):
        call_command("search_recall", queries=queries)


def test_the_command_refuses_a_malformed_set(db, tmp_path):
    queries = tmp_path / "queries.yaml"
    queries.write_text("queries: [1, 2]\n", encoding="utf-8")

    with pytest.raises(CommandError):
        call_command("search_recall", queries=queries)
