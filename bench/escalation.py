"""Escalations end to end: the escalate API, then the worker's ticket (see bench/README.md).

    .venv/bin/python bench/escalation.py [--n 200] [--levels 1,4,16]       # starts its own stack
    .venv/bin/python bench/escalation.py --url http://127.0.0.1:8103 \\
        --database-url postgres://…/perf_project [--web-pid P --worker-pid P]  # a running stack

Without --url it starts gunicorn (2 sync workers) and one Celery worker (prefork, concurrency
2) on loopback, on PostgreSQL (its own database, helpdesk_bench_escalation, dropped and made
again) and Redis (database 5, its own key prefix), and stops them at the end. For each
concurrency level it prepares --n attempts through the public API (start, three failed steps),
escalates them all with that many client threads, waits until every ticket exists (bounded by
--max-seconds) and the broker's queues are empty, then prints:

- the escalate API: requests/s of 2xx answers, p50/p99 latency;
- tickets/s end to end: --n over the time from the first request to the moment the last
  ticket row exists (polled every 20 ms);
- escalate -> ticket and escalate -> assigned, p50/p99, from the rows' own timestamps
  (attempt.escalation_requested_at, ticket.created_at, the ticket's first "assigned" event);
- CPU ms per ticket of the web server and of the worker (each process tree's utime + stime from
  /proc, children included, before and after the level);
- database work per request/ticket from pg_stat_database (transactions, rows inserted, updated,
  fetched): an approximation of the SQL statements (pg_stat_statements is not enabled here),
  web and worker together, and it includes whatever else runs in that database meanwhile;
- how long after the last answer the broker's queues were empty (e-mails included): under a
  burst, how far the worker is behind the API.

Loopback only; every level is bounded by --n requests and --max-seconds.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from http.client import HTTPConnection
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
VENV_BIN = Path(sys.executable).parent
DATABASE = "helpdesk_bench_escalation"
PG = "postgres://postgres@127.0.0.1:5432"
REDIS_DB = 5
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
# Anything above the run's request count: throttles and per-address limits are not measured.
UNLIMITED = "100000000"


def stack_environment(
    var_dir: str, port: int, database: str = DATABASE, key_prefix: str = "helpdesk-bench-escalation"
) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        DJANGO_SETTINGS_MODULE="helpdesk.settings",
        DEBUG="false",
        SECRET_KEY="bench-only-not-a-secret-" + "x" * 40,
        ALLOWED_HOSTS="127.0.0.1,localhost",
        SECURE_SSL_REDIRECT="false",
        SESSION_COOKIE_SECURE="false",
        CSRF_COOKIE_SECURE="false",
        SECURE_HSTS_SECONDS="0",
        DATABASE_URL=f"{PG}/{database}",
        REDIS_URL=f"redis://127.0.0.1:6379/{REDIS_DB}",
        CELERY_BROKER_URL=f"redis://127.0.0.1:6379/{REDIS_DB}",
        CACHE_KEY_PREFIX=key_prefix,
        EMAIL_URL="dummy://",
        LOG_LEVEL="WARNING",
        HELPDESK_VAR_DIR=var_dir,
        SITE_URL=f"http://127.0.0.1:{port}",
        API_ANON_RATE=f"{UNLIMITED}/minute",
        API_ANON_WRITE_RATE=f"{UNLIMITED}/minute",
        API_USER_RATE=f"{UNLIMITED}/minute",
        API_CUSTOMER_TICKET_RATE=f"{UNLIMITED}/minute",
        ESCALATION_ADDRESS_LIMIT=UNLIMITED,
        ESCALATION_RECIPIENT_LIMIT=UNLIMITED,
        CONFIRMATION_EMAIL_LIMIT=UNLIMITED,
        WEB_WRITE_LIMIT=UNLIMITED,
    )
    return env


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Stack:
    """gunicorn + a Celery worker, each the leader of its own process group."""

    def __init__(
        self,
        *,
        web_workers: int,
        worker_concurrency: int,
        database: str = DATABASE,
        key_prefix: str = "helpdesk-bench-escalation",
        app: str = "helpdesk.wsgi:application",
    ) -> None:
        self.var_dir = tempfile.mkdtemp(prefix=f"{database}-")
        self.port = free_port()
        self.database = database
        self.app = app
        self.env = stack_environment(self.var_dir, self.port, database, key_prefix)
        self.url = f"http://127.0.0.1:{self.port}"
        self.database_url = self.env["DATABASE_URL"]
        self.web_workers = web_workers
        self.worker_concurrency = worker_concurrency
        self.processes: list[subprocess.Popen] = []

    def manage(self, *args: str) -> None:
        subprocess.run(
            [str(VENV_BIN / "python"), "manage.py", *args],
            cwd=ROOT, env=self.env, check=True, stdout=subprocess.DEVNULL,
        )  # fmt: skip

    def prepare(self) -> None:
        import psycopg
        import redis

        with psycopg.connect(f"{PG}/postgres", autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {self.database} WITH (FORCE)")
            conn.execute(f"CREATE DATABASE {self.database}")
        # Only our database of Redis, and only our keys in it: the cache's prefix and the
        # broker's queues (their names are the project's own).
        client = redis.Redis.from_url(self.env["REDIS_URL"])
        client.flushdb()
        log("migrating and loading the demo data")
        self.manage("migrate", "--noinput", "-v0")
        self.manage("load_demo", "--force")
        self.manage("collectstatic", "--noinput", "-v0")
        # Agents with room for every ticket of the run: assignment is measured, not capacity.
        self.manage(
            "shell", "-c",
            "from tickets.models import AgentProfile;"
            " AgentProfile.objects.update(capacity=30000, is_available=True)",
        )  # fmt: skip

    def _common(self) -> dict:
        logs = open(Path(self.var_dir) / "stack.log", "ab")  # noqa: SIM115 (kept for the run)
        return {"cwd": ROOT, "env": self.env, "stdout": logs, "stderr": logs}

    def start_worker_only(self) -> None:
        """The Celery worker without a web server (bench/escalation_worker.py)."""
        self.web = None
        self._start_worker(self._common())
        self._wait_worker(time.monotonic() + 60)

    def start(self) -> None:
        common = self._common()
        self.web = subprocess.Popen(
            [str(VENV_BIN / "gunicorn"), self.app,
             "-w", str(self.web_workers), "-b", f"127.0.0.1:{self.port}",
             "--log-level", "warning", "--timeout", "60"],
            start_new_session=True, **common,
        )  # fmt: skip
        self.processes.append(self.web)
        self.worker = None
        if self.worker_concurrency:
            self._start_worker(common)
        self._wait_ready()

    def _start_worker(self, common: dict) -> None:
        self.worker = subprocess.Popen(
            [str(VENV_BIN / "celery"), "-A", "helpdesk", "worker",
             f"--concurrency={self.worker_concurrency}", "--loglevel=WARNING",
             "--hostname=bench-escalation@%h"],
            start_new_session=True, **common,
        )  # fmt: skip
        self.processes.append(self.worker)

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                status, _ = request(self.url, "GET", "/api/v1/guides/")
                if status == 200:
                    break
            except OSError:
                pass
            time.sleep(0.3)
        else:
            raise SystemExit(f"the web server did not answer; see {self.var_dir}/stack.log")
        self._wait_worker(deadline)

    def _wait_worker(self, deadline: float) -> None:
        # The worker has forked its pool; the warm-up escalations (main) show it consumes.
        while (
            self.worker is not None
            and len(process_tree(self.worker.pid)) <= self.worker_concurrency
        ):
            if time.monotonic() > deadline or self.worker.poll() is not None:
                raise SystemExit(f"the worker did not start; see {self.var_dir}/stack.log")
            time.sleep(0.3)

    def stop(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()

    def queued(self) -> int:
        """Messages waiting in the broker or taken but not yet acknowledged."""
        import redis

        client = redis.Redis.from_url(self.env["CELERY_BROKER_URL"])
        waiting = sum(client.llen(key) for key in client.scan_iter() if client.type(key) == b"list")
        return waiting + client.hlen("unacked")


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# --- HTTP ------------------------------------------------------------------------------------


def request(
    base: str, method: str, path: str, body: dict | None = None, headers: dict | None = None
) -> tuple[int, bytes]:
    """One request on a new connection (gunicorn's sync workers close each one anyway)."""
    parts = urllib.parse.urlsplit(base)
    assert parts.hostname in ("127.0.0.1", "localhost", "::1"), "loopback only"
    conn = HTTPConnection(parts.hostname, parts.port, timeout=60)
    try:
        payload = json.dumps(body).encode() if body is not None else None
        all_headers = {"Accept": "application/json", **(headers or {})}
        if payload is not None:
            all_headers["Content-Type"] = "application/json"
        conn.request(method, path, body=payload, headers=all_headers)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def in_threads(work, count: int) -> None:
    """Run ``work`` in ``count`` threads at once and wait for them all."""
    workers = [threading.Thread(target=work) for _ in range(count)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()


def prepare_attempts(base: str, count: int, threads: int = 4) -> list[str]:
    """``count`` attempts, each with three steps that did not work, through the public API."""
    status, body = request(base, "GET", "/api/v1/guides/?page_size=50")
    assert status == 200, status
    guides = [g["id"] for g in json.loads(body)["results"]]
    steps = {}
    for guide in guides:
        status, body = request(base, "GET", f"/api/v1/guides/{guide}/")
        steps[guide] = [s["id"] for s in json.loads(body)["steps"]][:3]
    tokens: list[str] = []
    lock = threading.Lock()
    counter = iter(range(count))

    def work() -> None:
        while True:
            with lock:
                index = next(counter, None)
            if index is None:
                return
            guide = guides[index % len(guides)]
            status, body = request(base, "POST", f"/api/v1/guides/{guide}/attempts/", {})
            assert status == 201, (status, body[:200])
            token = json.loads(body)["token"]
            for step in steps[guide]:
                status, body = request(
                    base, "POST", "/api/v1/attempt/outcomes/",
                    {"step": step, "outcome": "did_not_work", "note": "same error"},
                    {"X-Attempt-Token": token},
                )  # fmt: skip
                assert 200 <= status < 300, (status, body[:200])
            with lock:
                tokens.append(token)

    in_threads(work, threads)
    return tokens


def escalate_all(
    base: str, tokens: list[str], concurrency: int, max_seconds: float, pause: float = 0.0
) -> dict:
    """POST every attempt's escalation with ``concurrency`` threads, each waiting its answer
    (and then ``pause`` seconds: a trickle that leaves the worker no backlog)."""
    latencies: list[float] = []
    codes: dict[int, int] = {}
    lock = threading.Lock()
    counter = iter(range(len(tokens)))
    started = time.perf_counter()

    def work() -> None:
        while time.perf_counter() - started < max_seconds:
            with lock:
                index = next(counter, None)
            if index is None:
                return
            began = time.perf_counter()
            status, _ = request(
                base, "POST", "/api/v1/attempt/contact/",
                {"description": f"Still failing after every step (#{index}).",
                 "name": f"Customer {index}", "email": f"customer{index}@example.com"},
                {"X-Attempt-Token": tokens[index]},
            )  # fmt: skip
            elapsed = time.perf_counter() - began
            with lock:
                latencies.append(elapsed)
                codes[status] = codes.get(status, 0) + 1
            if pause:
                time.sleep(pause)

    in_threads(work, concurrency)
    elapsed = time.perf_counter() - started
    ok = sum(n for code, n in codes.items() if 200 <= code < 300)
    return {
        "ok": ok,
        "codes": codes,
        "elapsed": elapsed,
        "rps": ok / elapsed if elapsed else 0.0,
        "p50_ms": percentile(latencies, 50) * 1000,
        "p99_ms": percentile(latencies, 99) * 1000,
    }


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[int(p) - 1]


# --- what the processes and the database did ---------------------------------------------------


def process_tree(pid: int) -> list[int]:
    pids = [pid]
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children") as children:
                for child in children.read().split():
                    pids += process_tree(int(child))
    except (FileNotFoundError, ProcessLookupError):
        pass
    return pids


def cpu_seconds(pid: int | None) -> float:
    """utime + stime of a process and its live descendants, plus what its reaped children used."""
    if pid is None:
        return 0.0
    ticks = 0
    for each in process_tree(pid):
        try:
            with open(f"/proc/{each}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except FileNotFoundError:
            continue
        # utime, stime, cutime, cstime: fields 14-17 of proc(5), 12-15 after the name.
        ticks += sum(int(f) for f in fields[11:15])
    return ticks / CLOCK_TICKS


class Database:
    """The bench's own connection; it counts its statements so they can be taken out of the
    database's counters (in autocommit each statement is one transaction)."""

    def __init__(self, url: str) -> None:
        import psycopg

        self.conn = psycopg.connect(url, autocommit=True)
        self.statements = 0
        self.ticket_scans = 0  # index scans of tickets_ticket by our own polls

    def one(self, sql: str, params: tuple = ()) -> tuple:
        self.statements += 1
        return self.conn.execute(sql, params).fetchone()

    def all(self, sql: str, params: tuple = ()) -> list[tuple]:
        self.statements += 1
        return self.conn.execute(sql, params).fetchall()

    def last_ticket(self) -> int:
        self.ticket_scans += 1
        return self.one("SELECT coalesce(max(id), 0) FROM tickets_ticket")[0]

    def tickets_after(self, after_id: int) -> int:
        self.ticket_scans += 1
        return self.one("SELECT count(*) FROM tickets_ticket WHERE id > %s", (after_id,))[0]

    def counters(self) -> dict[str, int]:
        """Transactions, rows written and table scans (sequential + index) so far, less ours.

        The statistics of other sessions reach these views late: PostgreSQL 15 flushes a
        session's counters at most once a second, and an idle session's pending ones after
        10 s (PGSTAT_IDLE_INTERVAL); the caller waits --settle-seconds before reading.
        """
        self.one("SELECT pg_stat_clear_snapshot()")
        xact, inserted, updated, deleted = self.one(
            "SELECT xact_commit + xact_rollback, tup_inserted, tup_updated, tup_deleted"
            " FROM pg_stat_database WHERE datname = current_database()"
        )
        scans = self.one(
            "SELECT sum(coalesce(seq_scan, 0) + coalesce(idx_scan, 0)) FROM pg_stat_user_tables"
        )[0]
        return {
            "xact": xact - self.statements,
            "written": inserted + updated + deleted,
            "scans": int(scans) - self.ticket_scans,
        }


def row_latencies(db: Database, after_id: int) -> dict:
    to_ticket = db.all(
        """SELECT extract(epoch FROM t.created_at - a.escalation_requested_at)
           FROM tickets_ticket t JOIN guides_attempt a ON a.id = t.attempt_id
           WHERE t.id > %s""",
        (after_id,),
    )
    to_assigned = db.all(
        """SELECT extract(epoch FROM min(e.created_at) - a.escalation_requested_at)
           FROM tickets_ticket t JOIN guides_attempt a ON a.id = t.attempt_id
           JOIN tickets_ticketevent e ON e.ticket_id = t.id AND e.kind = 'assigned'
           WHERE t.id > %s GROUP BY t.id, a.escalation_requested_at""",
        (after_id,),
    )
    ticket_s = [float(r[0]) for r in to_ticket]
    assigned_s = [float(r[0]) for r in to_assigned]
    return {
        "tickets": len(ticket_s),
        "assigned": len(assigned_s),
        "to_ticket_p50_ms": percentile(ticket_s, 50) * 1000,
        "to_ticket_p99_ms": percentile(ticket_s, 99) * 1000,
        "to_assigned_p50_ms": percentile(assigned_s, 50) * 1000,
        "to_assigned_p99_ms": percentile(assigned_s, 99) * 1000,
    }


def run_level(args, db: Database, url: str, stack: Stack | None, concurrency: int) -> dict:
    log(f"c={concurrency}: preparing {args.n} attempts")
    tokens = prepare_attempts(url, args.n)
    # Let the preparation's own work (view counts, any task) settle before counting.
    wait_quiet(stack, 30)
    time.sleep(args.settle_seconds)
    after_id = db.last_ticket()
    db_before = db.counters()
    web_before, worker_before = cpu_seconds(args.web_pid), cpu_seconds(args.worker_pid)
    log(f"c={concurrency}: escalating {len(tokens)}")
    began = time.perf_counter()
    result: dict = {}
    sender = threading.Thread(
        target=lambda: result.update(
            escalate_all(url, tokens, concurrency, args.max_seconds, args.pause)
        )
    )
    sender.start()
    all_there = None
    while time.perf_counter() - began < args.max_seconds:
        # max(id) is one row whatever the count, so polling costs the database nearly nothing;
        # ids can skip (a rolled-back insert), hence the count once it looks complete.
        if db.last_ticket() >= after_id + len(tokens) and db.tickets_after(after_id) >= len(tokens):
            all_there = time.perf_counter() - began
            break
        time.sleep(0.02)
    sender.join()
    # From the last answer (the burst's last 202) until the broker holds nothing, e-mails
    # included: how far the worker is behind the API.
    drained = wait_quiet(stack, args.max_seconds)
    if drained is not None:
        drained = time.perf_counter() - (began + result["elapsed"])
    time.sleep(args.settle_seconds)  # the web and worker sessions' statistics arrive
    web_cpu = cpu_seconds(args.web_pid) - web_before
    worker_cpu = cpu_seconds(args.worker_pid) - worker_before
    work = {k: v - db_before[k] for k, v in db.counters().items()}
    rows = row_latencies(db, after_id)
    tickets = max(rows["tickets"], 1)
    return {
        "c": concurrency,
        "n": len(tokens),
        **result,
        "tickets_per_s": rows["tickets"] / all_there if all_there else None,
        "all_tickets_s": all_there,
        "queue_drained_s": drained,
        **rows,
        "web_cpu_ms_per_ticket": web_cpu * 1000 / tickets if args.web_pid else None,
        "worker_cpu_ms_per_ticket": worker_cpu * 1000 / tickets if args.worker_pid else None,
        "xact_per_ticket": work["xact"] / tickets,
        "rows_written_per_ticket": work["written"] / tickets,
        "scans_per_ticket": work["scans"] / tickets,
    }


def warm_up(args, db: Database, url: str) -> None:
    """A few escalations through the whole path first: imports, connections and caches of every
    process are made before anything is timed, and a stack whose worker does nothing fails
    here rather than after a level's --max-seconds."""
    after_id = db.last_ticket()
    tokens = prepare_attempts(url, 8)
    escalate_all(url, tokens, 4, args.max_seconds)
    deadline = time.monotonic() + 60
    while db.tickets_after(after_id) < len(tokens):
        if time.monotonic() > deadline:
            raise SystemExit("warm-up: the worker made no ticket in 60 s")
        time.sleep(0.1)


def wait_quiet(stack: Stack | None, limit: float) -> float | None:
    """Seconds until the broker holds nothing (None when there is no broker of ours to ask)."""
    if stack is None:
        return None
    began = time.perf_counter()
    while time.perf_counter() - began < limit:
        if stack.queued() == 0:
            return time.perf_counter() - began
        time.sleep(0.05)
    return None


def show(results: list[dict]) -> None:
    def fmt(value, digits=1):
        return "–" if value is None else f"{value:,.{digits}f}"

    print(
        "| c | escalations (2xx) | API req/s | API p50 ms | API p99 ms | tickets/s end to end"
        " | escalate→ticket p50 / p99 ms | escalate→assigned p50 / p99 ms | assigned"
        " | CPU ms/ticket web | CPU ms/ticket worker | DB transactions/ticket"
        " | rows written/ticket | table scans/ticket | queue empty s after the last answer |"
    )
    print("|---:" * 15 + "|")
    for r in results:
        print(
            f"| {r['c']} | {r['ok']}/{r['n']} | {fmt(r['rps'])} | {fmt(r['p50_ms'])}"
            f" | {fmt(r['p99_ms'])} | {fmt(r['tickets_per_s'])}"
            f" | {fmt(r['to_ticket_p50_ms'], 0)} / {fmt(r['to_ticket_p99_ms'], 0)}"
            f" | {fmt(r['to_assigned_p50_ms'], 0)} / {fmt(r['to_assigned_p99_ms'], 0)}"
            f" | {r['assigned']}/{r['tickets']}"
            f" | {fmt(r['web_cpu_ms_per_ticket'])} | {fmt(r['worker_cpu_ms_per_ticket'])}"
            f" | {fmt(r['xact_per_ticket'])} | {fmt(r['rows_written_per_ticket'])}"
            f" | {fmt(r['scans_per_ticket'])} | {fmt(r['queue_drained_s'], 2)} |",
            flush=True,
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=200, help="escalations per concurrency level")
    parser.add_argument("--levels", default="1,4,16", help="client concurrency levels")
    parser.add_argument("--max-seconds", type=float, default=120, help="bound of each level")
    parser.add_argument("--web-workers", type=int, default=2, help="gunicorn sync workers")
    parser.add_argument("--worker-concurrency", type=int, default=2, help="Celery prefork")
    parser.add_argument("--url", help="a running stack on loopback instead of our own")
    parser.add_argument("--database-url", help="with --url: that stack's PostgreSQL database")
    parser.add_argument("--web-pid", type=int, help="with --url: gunicorn's master pid")
    parser.add_argument("--worker-pid", type=int, help="with --url: the Celery worker's pid")
    parser.add_argument(
        "--settle-seconds", type=float, default=11,
        help="wait before reading PostgreSQL's counters (idle sessions report after 10 s)",
    )  # fmt: skip
    parser.add_argument(
        "--pause", type=float, default=0.0,
        help="seconds each client waits after an answer (0.5: escalate -> ticket with no backlog)",
    )  # fmt: skip
    parser.add_argument("--json", action="store_true", help="one JSON line per level as well")
    args = parser.parse_args(argv)
    levels = [int(c) for c in args.levels.split(",")]
    if args.n < 1 or args.n > 5000 or max(levels) > 64:
        parser.error("--n is 1..5000 and concurrency at most 64 (the run is bounded)")

    stack = None
    if args.url:
        if not args.database_url:
            parser.error("--url needs --database-url (the rows are read from it)")
        url, database_url = args.url.rstrip("/"), args.database_url
    else:
        stack = Stack(web_workers=args.web_workers, worker_concurrency=args.worker_concurrency)
        stack.prepare()
        log(f"starting gunicorn on {stack.url} and a Celery worker ({stack.var_dir})")
    try:
        if stack is not None:
            stack.start()
            url, database_url = stack.url, stack.database_url
            args.web_pid, args.worker_pid = stack.web.pid, stack.worker.pid
        db = Database(database_url)
        with db.conn:
            warm_up(args, db, url)
            results = []
            for concurrency in levels:
                results.append(run_level(args, db, url, stack, concurrency))
                if args.json:
                    print(json.dumps(results[-1]), flush=True)
        load = os.getloadavg()
        print(f"# {args.n} escalations per level, pause {args.pause:g} s; load average"
              f" {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} at the end;"
              f" {os.cpu_count()} CPUs")  # fmt: skip
        show(results)
    finally:
        if stack is not None:
            log("stopping the stack")
            stack.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
