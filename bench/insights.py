"""Benchmark of the statistics on a big PostgreSQL database (see bench/README.md).

    DATABASE_URL=postgres://…/helpdesk_rollup_bench .venv/bin/python bench/insights.py

Needs the data of `manage.py generate_attempts` (e.g. 1,000,000 attempts over 90 days).
Measures, in this process with the project's settings (DEBUG off):

1. a full rollup (`statistics_rollup(full=True)`: every day recomputed from the raw rows);
2. an incremental rollup after about 1 % new activity: `--new` attempts (default 1 % of those
   there are) started over the last two days and written now, and the tickets of `--solved`
   (default 0.1 %) escalated attempts of the last week solved now;
3. each statistics read the API serves (the same selectors a dashboard reads), through
   Django's test Client with a supervisor's API token: 3 untimed requests, then `--repeat`
   timed ones; median, p95, max in milliseconds, and the SQL queries of one request;
4. the admin's statistics pages the same way, signed in as a supervisor (and as load_demo's
   author), rendered with their charts (`--pages-only` for these alone).

Step 2 adds rows to the database (as a day of real traffic would): run the benchmark once.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "helpdesk.settings")
os.environ.setdefault("DEBUG", "false")
os.environ.setdefault("SECRET_KEY", "bench-only-not-a-secret-" + "x" * 40)
os.environ.setdefault("ALLOWED_HOSTS", "testserver")
os.environ.setdefault("SECURE_SSL_REDIRECT", "false")
os.environ.setdefault("API_USER_RATE", "100000000/minute")

import django

django.setup()

from django.contrib.auth import get_user_model  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.db.models import Count, Max, Sum  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402
from django.utils import timezone  # noqa: E402

from guides.models import (  # noqa: E402
    Attempt,
    GuideDayTally,
    StepDayTally,
    StepOutcome,
)
from tickets import services  # noqa: E402
from tickets.generation.attempts import AttemptsGeneration  # noqa: E402
from tickets.models import ApiToken, Ticket, api_token_key_hash  # noqa: E402


def section(title: str) -> None:
    print(f"\n## {title}\n", flush=True)


def sizes() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_size_pretty(pg_database_size(current_database()))")
        size = cursor.fetchone()[0]
    print(
        f"attempts {Attempt.objects.count():,}, outcomes {StepOutcome.objects.count():,},"
        f" tickets {Ticket.objects.count():,}, database {size}"
    )


def rollup(label: str, *, full: bool) -> None:
    result = services.statistics_rollup(full=full)
    assert result is not None
    print(
        f"| {label} | {result.days} | {result.step_rows:,} | {result.guide_rows:,} |"
        f" {result.seconds:.2f} |",
        flush=True,
    )


def new_activity(*, new: int, solved: int) -> None:
    """About a day's traffic: new attempts of the last two days, written now, and some
    escalations of the last week solved now."""
    generation = AttemptsGeneration(
        seed=int(time.time()), days=2, end=timezone.now(), guides_wanted=0
    )
    generation.prepare()
    before = Attempt.objects.aggregate(top=Max("pk"))["top"] or 0
    for _progress in generation.write(attempts=new, batch=50_000):
        pass
    now = timezone.now()
    # Written now: their updated_at is now, as the services would have stamped them.
    touched = Attempt.objects.filter(pk__gt=before).update(updated_at=now)
    week_ago = now - timedelta(days=7)
    open_ids = list(
        Ticket.objects.filter(
            solved_at__isnull=True, attempt__started_at__gte=week_ago
        ).values_list("pk", flat=True)[:solved]
    )
    Ticket.objects.filter(pk__in=open_ids).update(status="solved", solved_at=now, updated_at=now)
    print(f"new activity: {touched:,} attempts, {len(open_ids):,} tickets solved", flush=True)


def measure(client: Client, label: str, url: str, repeat: int) -> None:
    for _ in range(3):
        response = client.get(url)
        assert response.status_code == 200, (url, response.status_code, response.content[:300])
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        response = client.get(url)
        times.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200
    with CaptureQueriesContext(connection) as queries:
        client.get(url)
    times.sort()
    p95 = times[max(0, round(0.95 * len(times)) - 1)]
    print(
        f"| {label} | {repeat} | {statistics.median(times):.1f} | {p95:.1f} | {times[-1]:.1f} |"
        f" {len(queries)} |",
        flush=True,
    )


def reads(repeat: int) -> None:
    user_model = get_user_model()
    supervisor, _ = user_model.objects.get_or_create(
        username="bench.statistics", defaults={"is_staff": True, "is_superuser": True}
    )
    key = ApiToken.key_new()
    token = ApiToken.objects.create(
        user=supervisor, name="bench", prefix=key[:8], key_hash=api_token_key_hash(key)
    )
    try:
        client = Client(HTTP_AUTHORIZATION=f"Token {key}")
        popular = list(
            GuideDayTally.objects.values("guide_id")
            .annotate(n=Sum("attempts"))
            .order_by("-n")
            .values_list("guide_id", "n")
        )
        top, top_attempts = popular[0]
        middle, middle_attempts = popular[len(popular) // 2]
        step = (
            StepOutcome.objects.filter(attempt__guide_id=top, outcome="did_not_work")
            .exclude(note="")
            .values("step_id")
            .annotate(n=Count("pk"))
            .order_by("-n")
            .values_list("step_id", "n")[0]
        )
        today = datetime.now(tz=UTC).date()
        month = (today - timedelta(days=30)).isoformat()
        company = GuideDayTally.objects.filter(guide_id=top).values_list(
            "company__slug", flat=True
        )[0]
        print(
            f"most popular guide {top}: {top_attempts:,} attempts; median guide {middle}:"
            f" {middle_attempts:,}; its step {step[0]} has {step[1]:,} failure notes\n"
        )
        print("| read | runs | median ms | p95 ms | max ms | queries |")
        print("|---|---:|---:|---:|---:|---:|")
        cases = [
            ("guide statistics, most popular guide, all days", f"/api/v1/guides/{top}/statistics/"),
            (
                "guide statistics, most popular guide, last 30 days",
                f"/api/v1/guides/{top}/statistics/?date_from={month}",
            ),
            ("guide statistics, median guide", f"/api/v1/guides/{middle}/statistics/"),
            ("deflection per week, everything", "/api/v1/statistics/deflection/"),
            ("deflection per week and company", "/api/v1/statistics/deflection/?per=company"),
            ("deflection per week and guide", "/api/v1/statistics/deflection/?per=guide"),
            (
                "deflection per week, one company, per language",
                f"/api/v1/statistics/deflection/?company={company}&per=language",
            ),
            (
                "failure notes of the top step, first page",
                f"/api/v1/guides/{top}/steps/{step[0]}/failure-notes/",
            ),
            (
                "failure notes of the top step, page 50",
                f"/api/v1/guides/{top}/steps/{step[0]}/failure-notes/?page=50",
            ),
            (
                "failure notes of the top step, search",
                f"/api/v1/guides/{top}/steps/{step[0]}/failure-notes/?q=button",
            ),
        ]  # fmt: skip
        for label, url in cases:
            measure(client, label, url, repeat)
        # An author (load_demo's, who writes the demo guides): the permission checks and the
        # scope of their guides are part of each read.
        author = user_model.objects.filter(username="author").first()
        if author is not None:
            author_key = ApiToken.key_new()
            ApiToken.objects.create(
                user=author, name="bench", prefix=author_key[:8],
                key_hash=api_token_key_hash(author_key),
            )  # fmt: skip
            theirs = (
                GuideDayTally.objects.filter(guide__company__authors=author)
                .values("guide_id")
                .annotate(n=Sum("attempts"))
                .order_by("-n")
                .values_list("guide_id", flat=True)
                .first()
            )
            as_author = Client(HTTP_AUTHORIZATION=f"Token {author_key}")
            if theirs is not None:
                measure(
                    as_author, "author: statistics of their most popular guide",
                    f"/api/v1/guides/{theirs}/statistics/", repeat,
                )  # fmt: skip
            measure(as_author, "author: deflection per week and guide (their guides)",
                    "/api/v1/statistics/deflection/?per=guide", repeat)  # fmt: skip
            ApiToken.objects.filter(user=author, name="bench").delete()
    finally:
        token.delete()


def pages(repeat: int) -> None:
    """The admin's statistics pages (guides.admin_statistics), signed in with a session: what
    a supervisor and an author open, the charts and tables rendered, and a CSV download."""
    # The pages link their stylesheets through the manifest of collected static files.
    call_command("collectstatic", interactive=False, verbosity=0)
    user_model = get_user_model()
    supervisor, _ = user_model.objects.get_or_create(
        username="bench.statistics", defaults={"is_staff": True, "is_superuser": True}
    )
    client = Client()
    client.force_login(supervisor)
    popular = (
        GuideDayTally.objects.values("guide_id")
        .annotate(n=Sum("attempts"))
        .order_by("-n")
        .values_list("guide_id", flat=True)
    )
    top = popular[0]
    step = (
        StepOutcome.objects.filter(step__guide_id=top, outcome="did_not_work")
        .exclude(note="")
        .values("step_id")
        .annotate(n=Count("pk"))
        .order_by("-n")
        .values_list("step_id", flat=True)[0]
    )
    quarter = (datetime.now(tz=UTC).date() - timedelta(days=91)).isoformat()
    base = "/admin/guides/guide"
    print("| page | runs | median ms | p95 ms | max ms | queries |")
    print("|---|---:|---:|---:|---:|---:|")
    cases = [
        ("overview, the last twelve weeks (default)", f"{base}/statistics/"),
        ("overview, the last 91 days", f"{base}/statistics/?date_from={quarter}"),
        ("overview, CSV of the guides", f"{base}/statistics/?date_from={quarter}&download=guides"),
        ("the most popular guide", f"{base}/{top}/statistics/?date_from={quarter}"),
        ("the most popular guide, CSV of its steps",
         f"{base}/{top}/statistics/?date_from={quarter}&download=steps"),
        ("its top step's failure notes, first page",
         f"{base}/{top}/statistics/steps/{step}/notes/"),
        ("its top step's failure notes, search",
         f"{base}/{top}/statistics/steps/{step}/notes/?q=button"),
    ]  # fmt: skip
    for label, url in cases:
        measure(client, label, url, repeat)
    author = user_model.objects.filter(username="author").first()
    if author is not None:
        as_author = Client()
        as_author.force_login(author)
        measure(as_author, "author: overview of their guides (91 days)",
                f"{base}/statistics/?date_from={quarter}", repeat)  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--new", type=int, default=0, help="new attempts (default: 1 %%)")
    parser.add_argument("--solved", type=int, default=0, help="tickets solved (default 0.1 %%)")
    parser.add_argument("--skip-full", action="store_true", help="tallies are already there")
    parser.add_argument(
        "--reads-only", action="store_true", help="only the reads (the rollups ran before)"
    )
    parser.add_argument("--pages-only", action="store_true", help="only the admin's pages")
    args = parser.parse_args()
    if connection.vendor != "postgresql":
        sys.exit("bench/insights.py measures PostgreSQL: set DATABASE_URL")

    section("Data")
    sizes()
    attempts = Attempt.objects.count()
    if args.pages_only:
        section("Pages (admin)")
        pages(args.repeat)
        return
    if args.reads_only:
        section("Reads (API)")
        reads(args.repeat)
        section("Pages (admin)")
        pages(args.repeat)
        return
    section("Rollups")
    print("| run | days | step rows | guide rows | seconds |")
    print("|---|---:|---:|---:|---:|")
    if not args.skip_full:
        rollup("full", full=True)
    new_activity(new=args.new or attempts // 100, solved=args.solved or attempts // 1000)
    rollup("incremental, after the new activity", full=False)
    rollup("incremental, nothing new", full=False)
    print(
        f"\ntallies: {StepDayTally.objects.count():,} step rows,"
        f" {GuideDayTally.objects.count():,} guide rows"
    )
    section("Reads (API)")
    reads(args.repeat)
    section("Pages (admin)")
    pages(args.repeat)


if __name__ == "__main__":
    main()
