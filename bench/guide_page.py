"""The guide page against a bare Django view in the same server (see bench/README.md).

    .venv/bin/python bench/guide_page.py [--seconds 10] [--levels 1,4] \\
        [--database helpdesk_bench_guide_page] [--redis-db 5]

Starts gunicorn (2 sync workers, as bench/escalation.py) on loopback with bench/hello_wsgi.py:
the project's application plus one bench-only route, /bench-hello/, a view that answers
"hello" through the same middleware. Its own PostgreSQL database (--database, default
helpdesk_bench_guide_page, dropped and made again, demo data) and Redis database (--redis-db,
default 5, emptied first) with its own key prefix; no Celery worker (the page's view count is
a Redis increment; the flush it schedules waits in the broker).
For each concurrency level and each page in turn (rounds interleaved), GETs the page with that
many client threads for --seconds after a --warmup, each request a new visitor (no cookies),
and prints 200 answers per second, p50/p99 latency and the web server's CPU ms per request
(utime + stime of gunicorn's process tree from /proc, warm-up excluded), then the guide page's
share of the bare view's req/s. Bounded in time; the server is stopped at the end.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import threading
import time

from escalation import REDIS_DB, Stack, cpu_seconds, log, percentile, request

DATABASE = "helpdesk_bench_guide_page"
HELLO = "/bench-hello/"


def first_guide_path(stack: Stack) -> str:
    """The page of the first published guide of the demo data, as a visitor reaches it."""
    import psycopg

    with psycopg.connect(stack.database_url) as conn:
        row = conn.execute(
            """SELECT c.slug, g.language, g.slug FROM guides_guide g
               JOIN guides_company c ON c.id = g.company_id
               WHERE g.status = 'published' ORDER BY g.id LIMIT 1"""
        ).fetchone()
    assert row, "no published guide in the demo data"
    return f"/guides/{row[0]}/{row[1]}/{row[2]}/"


def load(base: str, path: str, concurrency: int, seconds: float, warmup: float, pid: int) -> dict:
    """GET ``path`` for ``warmup`` + ``seconds``; only the last ``seconds`` are counted."""
    latencies: list[float] = []
    codes: dict[int, int] = {}
    lock = threading.Lock()
    began = time.perf_counter()
    measure_from, end = began + warmup, began + warmup + seconds
    cpu_at_start: list[float] = []

    def work() -> None:
        while (now := time.perf_counter()) < end:
            status, _ = request(base, "GET", path, headers={"Accept": "text/html"})
            done = time.perf_counter()
            if now >= measure_from:
                with lock:
                    latencies.append(done - now)
                    codes[status] = codes.get(status, 0) + 1

    workers = [threading.Thread(target=work) for _ in range(concurrency)]
    for worker in workers:
        worker.start()
    time.sleep(max(0.0, measure_from - time.perf_counter()))
    cpu_at_start.append(cpu_seconds(pid))
    for worker in workers:
        worker.join()
    # The requests under way at measure_from are counted but began before the CPU snapshot;
    # the ones under way at the end were not counted but used CPU: about even.
    cpu = cpu_seconds(pid) - cpu_at_start[0]
    ok = codes.get(200, 0)
    elapsed = time.perf_counter() - measure_from
    return {
        "ok": ok,
        "codes": codes,
        "rps": ok / elapsed,
        "p50_ms": percentile(latencies, 50) * 1000,
        "p99_ms": percentile(latencies, 99) * 1000,
        "cpu_ms_per_request": cpu * 1000 / max(len(latencies), 1),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--levels", default="1,4", help="client concurrency levels")
    parser.add_argument("--seconds", type=float, default=10, help="measured time per round")
    parser.add_argument("--warmup", type=float, default=2, help="unmeasured time first")
    parser.add_argument("--rounds", type=int, default=2, help="rounds per level, interleaved")
    parser.add_argument("--web-workers", type=int, default=2, help="gunicorn sync workers")
    parser.add_argument("--path", help="the guide page (default: the first published guide)")
    parser.add_argument(
        "--database", default=DATABASE, help="PostgreSQL database, dropped and made again"
    )
    parser.add_argument("--redis-db", type=int, default=REDIS_DB, help="Redis database, emptied")
    args = parser.parse_args(argv)
    levels = [int(c) for c in args.levels.split(",")]
    if max(levels) > 64 or args.seconds > 120 or args.rounds > 10:
        parser.error("at most 64 threads, 120 s and 10 rounds (the run is bounded)")

    stack = Stack(
        web_workers=args.web_workers,
        worker_concurrency=0,
        database=args.database,
        key_prefix="helpdesk-bench-guide-page",
        app="bench.hello_wsgi:application",
    )
    redis_url = f"redis://127.0.0.1:6379/{args.redis_db}"
    stack.env.update(REDIS_URL=redis_url, CELERY_BROKER_URL=redis_url)
    stack.prepare()
    log(f"starting gunicorn on {stack.url} ({stack.var_dir})")
    try:
        stack.start()
        guide = args.path or first_guide_path(stack)
        for path in (guide, HELLO):
            status, body = request(stack.url, "GET", path)
            assert status == 200, (path, status, body[:300])
        rows = []
        for concurrency in levels:
            for round_ in range(args.rounds):
                for name, path in (("guide page", guide), ("bare view", HELLO)):
                    log(f"c={concurrency} round {round_ + 1}: {name}")
                    result = load(
                        stack.url, path, concurrency, args.seconds, args.warmup, stack.web.pid
                    )
                    rows.append({"c": concurrency, "round": round_ + 1, "page": name, **result})
        load_average = os.getloadavg()
        print(f"# guide page {guide}; {args.seconds:g} s per round after {args.warmup:g} s of"
              f" warm-up; load average {load_average[0]:.2f} {load_average[1]:.2f}"
              f" {load_average[2]:.2f} at the end; {os.cpu_count()} CPUs")  # fmt: skip
        print("| c | round | page | 200s | req/s | p50 ms | p99 ms | web CPU ms/request |")
        print("|---:|---:|---|---:|---:|---:|---:|---:|")
        for r in rows:
            print(
                f"| {r['c']} | {r['round']} | {r['page']} | {r['ok']} | {r['rps']:.1f}"
                f" | {r['p50_ms']:.1f} | {r['p99_ms']:.1f} | {r['cpu_ms_per_request']:.2f} |"
            )
        for concurrency in levels:
            ratios = [
                guide_row["rps"] / hello_row["rps"]
                for guide_row, hello_row in zip(
                    [r for r in rows if r["c"] == concurrency and r["page"] == "guide page"],
                    [r for r in rows if r["c"] == concurrency and r["page"] == "bare view"],
                    strict=True,
                )
            ]
            print(
                f"# c={concurrency}: guide page req/s / bare view req/s ="
                f" {statistics.median(ratios):.2f} (median of {len(ratios)} rounds;"
                f" {min(ratios):.2f}–{max(ratios):.2f})"
            )
    finally:
        log("stopping the server")
        stack.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
