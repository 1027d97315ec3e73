"""The search page with its spelling step, on the embedded default (SQLite), with 1,000 guides.

    .venv/bin/python bench/search.py [--guides 1000] [--rounds 3]

Runs in-process with the project's settings, DEBUG off, in its own folder (var/bench/search:
a new SQLite database and file cache, made again each run). The guides are the demo guides
copied under new company names until there are --guides of them, each copy's steps given 40
made-up words of its own (Latin and Arabic letters), so that the vocabulary the spelling step
searches is as large as a real catalogue's (tens of thousands of words), not the demo's few
hundred. Then it prints: the vocabulary's size and the time to read it (once per process and
index change), the spelling step's time per query, and the search page's latency (Django's
test Client, no network) over the 90 queries of tests/guides/search_queries.yaml, --rounds
times each: median, p95 and max. Figures in docs/performance.md ("Search with spelling").
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FOLDER = ROOT / "var" / "bench" / "search"


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def made_up_words(rng: random.Random, count: int) -> str:
    latin = "abcdefghijklmnopqrstuvwxyz"
    arabic = "ابتثجحخدذرزسشصضطظعغفقكلمنهوي"
    words = []
    for _ in range(count):
        letters = latin if rng.random() < 0.5 else arabic
        words.append("".join(rng.choice(letters) for _ in range(rng.randint(4, 10))))
    return " ".join(words)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--guides", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)

    shutil.rmtree(FOLDER, ignore_errors=True)
    FOLDER.mkdir(parents=True)
    os.environ["HELPDESK_VAR_DIR"] = str(FOLDER)
    os.environ.pop("DATABASE_URL", None)
    os.environ.pop("REDIS_URL", None)
    os.environ["DEBUG"] = "false"
    os.environ.setdefault("SECRET_KEY", "bench-search-" + "x" * 40)
    os.environ.setdefault("ALLOWED_HOSTS", "testserver")
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "helpdesk.settings")
    import django

    django.setup()
    from django.conf import settings

    # No collectstatic here: plain static names, as the test suite serves them.
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    from django.core.management import call_command
    from django.test import Client

    from guides import spelling
    from guides.guide_format import parse_guide_data
    from guides.search_recall import recall_queries_load
    from guides.services import guide_import

    call_command("migrate", verbosity=0)
    import yaml

    rng = random.Random(13)
    demos = [
        yaml.safe_load(path.read_text(encoding="utf-8"))
        for path in sorted((ROOT / "guides" / "demo_guides").glob("*.yaml"))
    ]
    demos = [data for data in demos if data.get("status") == "published"]
    started = time.perf_counter()
    for number in range(args.guides):
        data = yaml.safe_load(yaml.safe_dump(demos[number % len(demos)], allow_unicode=True))
        copy = number // len(demos)
        if copy:
            data["company"]["slug"] = f"{data['company']['slug']}-{copy}"
            data["company"]["name"] = f"{data['company']['name']} {copy}"
        for step in data["steps"]:
            step["body"] += "\n\n" + made_up_words(rng, 40 // len(data["steps"]) + 1)
        guide_import(document=parse_guide_data(data))
    print(f"{args.guides} guides imported in {time.perf_counter() - started:.0f} s")

    spelling.search_words_forget()
    started = time.perf_counter()
    vocabulary = spelling.vocabulary()
    read_ms = 1000 * (time.perf_counter() - started)
    print(f"vocabulary: {len(vocabulary.counts):,} words, read in {read_ms:.0f} ms")

    queries = [query.text for query in recall_queries_load()]
    timings = []
    for _ in range(args.rounds):
        for text in queries:
            started = time.perf_counter()
            spelling.corrected_query(text)
            timings.append(1000 * (time.perf_counter() - started))
    print(
        f"spelling step: median {statistics.median(timings):.2f} ms,"
        f" p95 {percentile(timings, 0.95):.2f} ms, max {max(timings):.2f} ms per query"
    )

    client = Client()
    for text in queries[:5]:
        client.get("/search/", {"q": text}, secure=True)  # warm: templates, translations
    timings = []
    for _ in range(args.rounds):
        for text in queries:
            started = time.perf_counter()
            response = client.get("/search/", {"q": text}, secure=True)
            timings.append(1000 * (time.perf_counter() - started))
            assert response.status_code == 200, response.status_code
    print(
        f"search page ({len(timings)} requests): median {statistics.median(timings):.1f} ms,"
        f" p95 {percentile(timings, 0.95):.1f} ms, max {max(timings):.1f} ms"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
