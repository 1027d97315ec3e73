"""Guide views are counted in the cache and reach Guide.view_count only through the flush."""

from __future__ import annotations

import logging
import re
import subprocess
import sys
import uuid
from datetime import UTC, date
from pathlib import Path
from unittest import mock

import pytest
import redis
from django.core.cache.backends.filebased import FileBasedCache
from django.core.cache.backends.redis import RedisCache
from django.db import DatabaseError, connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from guides import view_counts
from guides.models import GuideDayTally
from guides.tasks import flush_guide_view_counts
from guides.view_counts import guide_view_counts_flush, guide_view_record
from helpdesk.celery import app
from tests.factories import GuideFactory, GuideVersionFactory, StepFactory
from tests.helpers import visitor_of_client
from tests.processes import (
    ROOT,
    manage,
    process_env,
    running,
    skip_or_fail,
    wait_for,
    worker_args,
)

REDIS_TEST_URL = "redis://127.0.0.1:6379/12"  # this file's own database number
SEED_VIEWS = 2_300_000


@pytest.fixture
def file_cache(tmp_path):
    return FileBasedCache(str(tmp_path / "cache"), {"KEY_PREFIX": "views-test"})


@pytest.fixture
def redis_cache():
    client = redis.Redis.from_url(REDIS_TEST_URL)
    try:
        client.ping()
    except redis.ConnectionError:
        skip_or_fail(f"Redis is not reachable at {REDIS_TEST_URL}")
    prefix = f"views-test-{uuid.uuid4().hex[:8]}"
    yield RedisCache(REDIS_TEST_URL, {"KEY_PREFIX": prefix})
    # Only this test's keys: other runs may share database 12.
    keys = list(client.scan_iter(match=f"{prefix}:*"))
    if keys:
        client.delete(*keys)
    client.close()


@pytest.fixture(params=["file", "redis"])
def cache(request):
    """Each test runs on both caches the service is deployed with."""
    return request.getfixturevalue(f"{request.param}_cache")


@pytest.fixture
def guide(db):
    return GuideFactory(view_count=SEED_VIEWS)


def cache_settings(cache) -> dict[str, str]:
    """The CACHES entry that builds the same cache again, in another process or as default."""
    return {
        "BACKEND": f"{type(cache).__module__}.{type(cache).__qualname__}",
        "LOCATION": cache._dir if isinstance(cache, FileBasedCache) else REDIS_TEST_URL,
        "KEY_PREFIX": cache.key_prefix,
    }


def record_views(guide_id: int, count: int, cache) -> None:
    for _ in range(count):
        guide_view_record(guide_id=guide_id, cache=cache)


def test_it_counts_views_without_touching_the_database(guide, cache, django_assert_num_queries):
    with django_assert_num_queries(0):
        record_views(guide.pk, 3, cache)

    guide.refresh_from_db()
    assert guide.view_count == SEED_VIEWS


def test_it_adds_exactly_the_pending_views_and_clears_them(guide, cache):
    other = GuideFactory()
    record_views(guide.pk, 3, cache)
    record_views(other.pk, 2, cache)

    assert guide_view_counts_flush(cache=cache) == 5

    guide.refresh_from_db()
    other.refresh_from_db()
    assert (guide.view_count, other.view_count) == (SEED_VIEWS + 3, 2)

    assert guide_view_counts_flush(cache=cache) == 0
    guide.refresh_from_db()
    assert guide.view_count == SEED_VIEWS + 3


def test_it_flushes_in_one_update_per_batch(guide, cache):
    others = GuideFactory.create_batch(3)
    for each in [guide, *others]:
        record_views(each.pk, 2, cache)
    GuideVersionFactory(guide=others[0])

    with CaptureQueriesContext(connection) as queries:
        assert guide_view_counts_flush(cache=cache) == 8

    # The savepoints are the flush's transaction inside the test's.
    statements = [q["sql"].split()[0] for q in queries if "SAVEPOINT" not in q["sql"]]
    # Lock the rows, one UPDATE for all four, their versions, one upsert of the day's views.
    assert statements == ["SELECT", "UPDATE", "SELECT", "INSERT"]


def test_it_adds_the_views_to_the_day_of_the_current_version(guide, cache):
    GuideVersionFactory(guide=guide)
    current = GuideVersionFactory(guide=guide)
    unversioned = GuideFactory()
    record_views(guide.pk, 3, cache)
    record_views(unversioned.pk, 2, cache)
    assert guide_view_counts_flush(cache=cache) == 5
    record_views(guide.pk, 4, cache)
    assert guide_view_counts_flush(cache=cache) == 4

    today = timezone.now().astimezone(UTC).date()
    rows = list(GuideDayTally.objects.values_list("guide_id", "version_id", "day", "views"))
    # Added up on the one row; a guide without a version has no row (its view_count has them).
    assert rows == [(guide.pk, current.pk, today, 7)]
    unversioned.refresh_from_db()
    assert unversioned.view_count == 2


def test_it_drops_the_views_of_a_deleted_guide(guide, cache):
    deleted = GuideFactory()
    record_views(guide.pk, 2, cache)
    record_views(deleted.pk, 4, cache)
    deleted.delete()

    assert guide_view_counts_flush(cache=cache) == 2

    guide.refresh_from_db()
    assert guide.view_count == SEED_VIEWS + 2
    assert guide_view_counts_flush(cache=cache) == 0  # the dropped views are not pending


def test_it_puts_the_views_back_when_the_database_write_fails(guide, cache):
    record_views(guide.pk, 3, cache)

    def fail_after_a_concurrent_view(counts):
        guide_view_record(guide_id=guide.pk, cache=cache)  # counted while the flush runs
        raise DatabaseError("the database went away")

    with (
        mock.patch.object(view_counts, "_view_counts_add", fail_after_a_concurrent_view),
        pytest.raises(DatabaseError),
    ):
        guide_view_counts_flush(cache=cache)

    guide.refresh_from_db()
    assert guide.view_count == SEED_VIEWS
    assert guide_view_counts_flush(cache=cache) == 4
    guide.refresh_from_db()
    assert guide.view_count == SEED_VIEWS + 4


def test_it_keeps_redis_counts_in_one_hash_under_the_key_prefix(guide, redis_cache):
    record_views(guide.pk, 2, redis_cache)

    client = redis.Redis.from_url(REDIS_TEST_URL)
    pending = client.hgetall(f"{redis_cache.key_prefix}:1:guides:view-counts:pending")
    client.close()
    assert pending == {str(guide.pk).encode(): b"2"}


def test_it_keeps_the_page_up_when_the_cache_is_down(caplog):
    unreachable = RedisCache("redis://127.0.0.1:1/0", {})  # nothing listens on port 1

    with caplog.at_level(logging.WARNING, logger="guides.view_counts"):
        guide_view_record(guide_id=42, cache=unreachable)

    assert "View of guide 42 not counted" in caplog.text


# Run in separate processes, as web servers are: the file cache is shared through the disk.
RECORD_VIEWS = """
import sys, time
from pathlib import Path
import django
django.setup()
from django.utils.module_loading import import_string
from guides.view_counts import guide_view_record

backend, location, prefix, start_file, views, *guide_ids = sys.argv[1:]
cache = import_string(backend)(location, {"KEY_PREFIX": prefix})
print("ready", flush=True)
while not Path(start_file).exists():
    time.sleep(0.005)
for n in range(int(views)):
    guide_view_record(guide_id=int(guide_ids[n % len(guide_ids)]), cache=cache)
"""

PROCESSES = 4
VIEWS_PER_PROCESS = 300


def start_recorder(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen:
    # stderr to a file: a pipe nobody reads would block a recorder that logs a lot.
    with log.open("w") as errors:
        return subprocess.Popen(
            [sys.executable, "-c", RECORD_VIEWS, *args],
            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=errors, text=True,
        )  # fmt: skip


def test_it_counts_every_view_when_views_and_flushes_race(guide, cache, tmp_path):
    other = GuideFactory()
    spec = cache_settings(cache)
    start_file = tmp_path / "start"
    args = [
        *(spec["BACKEND"], spec["LOCATION"], spec["KEY_PREFIX"]),
        *(str(start_file), str(VIEWS_PER_PROCESS), str(guide.pk), str(other.pk)),
    ]
    env = process_env(tmp_path, DJANGO_SETTINGS_MODULE="helpdesk.settings")
    recorders = {
        log: start_recorder(args, env, log)
        for log in (tmp_path / f"recorder-{n}.log" for n in range(PROCESSES))
    }
    for log, recorder in recorders.items():  # Django set up: they start counting together
        assert recorder.stdout.readline() == "ready\n", log.read_text()
    start_file.touch()

    flushed_while_counting = []
    while any(recorder.poll() is None for recorder in recorders.values()):
        flushed_while_counting.append(guide_view_counts_flush(cache=cache))
    flushed_after = guide_view_counts_flush(cache=cache)

    for log, recorder in recorders.items():
        recorder.stdout.close()
        assert recorder.returncode == 0, log.read_text()
        assert "not counted" not in log.read_text()
    assert sum(1 for n in flushed_while_counting if n) >= 2, "no flush raced the views"
    total = PROCESSES * VIEWS_PER_PROCESS
    assert sum(flushed_while_counting) + flushed_after == total
    guide.refresh_from_db()
    other.refresh_from_db()
    assert guide.view_count - SEED_VIEWS + other.view_count == total
    assert guide_view_counts_flush(cache=cache) == 0


def test_it_flushes_the_default_cache_when_the_task_runs(guide, cache, settings):
    settings.CACHES = {"default": cache_settings(cache)}  # Django rebuilds `caches` on change
    for _ in range(3):
        guide_view_record(guide_id=guide.pk)

    assert flush_guide_view_counts() == 3
    assert flush_guide_view_counts() == 0  # safe to run twice

    guide.refresh_from_db()
    assert guide.view_count == SEED_VIEWS + 3


def test_it_sends_the_flush_to_the_maintenance_queue():
    route = app.amqp.router.route({}, "guides.tasks.flush_guide_view_counts")
    assert route["queue"].name == "maintenance"


CREATE_GUIDE = "from tests.factories import GuideFactory; print(GuideFactory(view_count=10).pk)"
READ_VIEW_COUNT = "from guides.models import Guide; print(Guide.objects.get(pk={pk}).view_count)"


@pytest.mark.worker
def test_it_flushes_views_in_a_worker_when_beat_sends_the_task(tmp_path):
    env = process_env(
        tmp_path,
        DATABASE_URL=f"sqlite:///{tmp_path / 'worker.sqlite3'}",
        GUIDE_VIEW_FLUSH_INTERVAL="1",
    )
    migrated = manage("migrate", "--verbosity=0", env=env)
    assert migrated.returncode == 0, migrated.stderr
    created = manage("shell", "--verbosity=0", "-c", CREATE_GUIDE, env=env)
    assert created.returncode == 0, created.stderr
    guide_id = int(created.stdout.strip())
    # The web server's view of the settings' file cache: <HELPDESK_VAR_DIR>/cache.
    web_cache = FileBasedCache(str(tmp_path / "cache"), {"KEY_PREFIX": "helpdesk"})
    record_views(guide_id, 7, web_cache)
    log = tmp_path / "worker.log"

    flushed = re.compile(r"Task guides\.tasks\.flush_guide_view_counts\[.+\] succeeded in .+: 7")
    with running(worker_args("--beat"), env, log):
        wait_for(
            lambda: flushed.search(log.read_text()), timeout=45, what="the flush", log=log
        )  # fmt: skip

    read = manage("shell", "--verbosity=0", "-c", READ_VIEW_COUNT.format(pk=guide_id), env=env)
    assert read.returncode == 0, read.stderr
    assert int(read.stdout.strip()) == 10 + 7
    assert "Sending due task flush-guide-view-counts" in log.read_text()
    assert web_cache.get(view_counts.PENDING_KEY) is None  # nothing left pending


# --- which page views count: a person's first GET of the guide each day ---------------------

BROWSER = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/142.0 Safari/537.36"


@pytest.fixture
def read_guide(db):
    guide_view_counts_flush()  # views earlier tests left in the shared cache, before any guide
    guide = GuideFactory()
    StepFactory(guide=guide, position=1)
    return guide


def page_of(guide) -> str:
    return reverse(
        "guides:guide-detail",
        kwargs={"company": guide.company.slug, "language": guide.language, "slug": guide.slug},
    )


def reader(**headers) -> Client:
    return Client(HTTP_USER_AGENT=BROWSER, **headers)


def views_counted(guide) -> int:
    guide_view_counts_flush()
    guide.refresh_from_db()
    return guide.view_count


def on_day(monkeypatch, day: date) -> None:
    monkeypatch.setattr(timezone, "localdate", lambda *args, **kwargs: day)


def test_a_visitor_counts_once_a_day_and_another_visitor_counts_too(read_guide):
    layla = reader()
    for _ in range(3):
        assert layla.get(page_of(read_guide)).status_code == 200
    assert views_counted(read_guide) == 1

    assert reader().get(page_of(read_guide)).status_code == 200
    assert views_counted(read_guide) == 2


def test_the_same_visitor_counts_again_the_next_day(read_guide, monkeypatch):
    layla = reader()
    on_day(monkeypatch, date(2026, 3, 1))
    layla.get(page_of(read_guide))
    on_day(monkeypatch, date(2026, 3, 2))
    layla.get(page_of(read_guide))
    layla.get(page_of(read_guide))

    assert views_counted(read_guide) == 2


def test_a_head_request_does_not_count(read_guide):
    response = reader().head(page_of(read_guide))

    assert response.status_code == 200
    assert views_counted(read_guide) == 0


def test_the_reload_after_a_step_outcome_does_not_count(read_guide, monkeypatch):
    layla = reader()
    step = read_guide.steps.get()
    outcome = reverse(
        "guides:step-outcome",
        kwargs={
            "company": read_guide.company.slug,
            "language": read_guide.language,
            "slug": read_guide.slug,
            "step_id": step.pk,
        },
    )
    # The page was opened yesterday and left open; today the customer marks a step.
    on_day(monkeypatch, date(2026, 3, 1))
    layla.get(page_of(read_guide))
    assert views_counted(read_guide) == 1
    on_day(monkeypatch, date(2026, 3, 2))

    for result in ("did_not_work", "could_not_do", "worked"):
        back = layla.post(outcome, {"outcome": result})
        assert back.status_code == 302
        assert layla.get(back["Location"]).status_code == 200

    assert views_counted(read_guide) == 1


@pytest.mark.parametrize(
    "user_agent",
    [
        "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
        "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
        "facebookexternalhit/1.1",
        "curl/8.5.0",
        "Wget/1.21.4",
        "python-requests/2.32.3",
        "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 HeadlessChrome/142.0 Safari/537.36",
        "",
    ],
)
def test_obvious_bots_do_not_count(read_guide, user_agent):
    assert Client(HTTP_USER_AGENT=user_agent).get(page_of(read_guide)).status_code == 200
    assert views_counted(read_guide) == 0


def test_the_count_stores_nothing_about_the_visitor_but_a_cookie(read_guide):
    layla = reader(REMOTE_ADDR="203.0.113.8")
    response = layla.get(page_of(read_guide))

    assert views_counted(read_guide) == 1
    cookie = response.cookies["visitor"]
    assert cookie["httponly"]
    assert cookie["samesite"] == "Lax"
    # All it holds: a random id, today and the guide viewed (no address, nothing else).
    visitor = visitor_of_client(layla)
    assert (visitor.day, visitor.viewed) == (timezone.localdate().isoformat(), [read_guide.pk])
    assert re.fullmatch(r"[A-Za-z0-9_-]{22}", visitor.id)
