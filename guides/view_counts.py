"""Guide page views, counted in the shared cache and flushed to ``Guide.view_count`` in bulk.

Which page views count is decided by guide_page_view_counts from the visitor's signed cookie
alone (guides.visitors): once per visitor, guide and day, GET only, no obvious bots; no address
or list of views is kept on the server.

A popular guide is viewed millions of times; one UPDATE per view would make every page view a
write contending for the same row. A view only adds one to a counter in the cache, and
``flush_guide_view_counts`` (beat, every ``GUIDE_VIEW_FLUSH_INTERVAL`` seconds) moves the
counters into the database, so at most one interval of views is ever pending.

The pending counts of all guides live under one cache key, which is also the set of guides with
pending views, so the flush never scans keys:

- Redis (``RedisCache``): a hash ``<prefix>:1:guides:view-counts:pending`` of guide id to count.
  A view is one ``HINCRBY`` (atomic on the server, one round trip). The flush takes the whole
  hash with ``HGETALL`` + ``DEL`` in one MULTI/EXEC transaction, so a view counted concurrently
  lands either in the hash it took or in a fresh one for the next flush, never in both or neither.
- Files (``FileBasedCache``): one entry holding a ``{guide id: count}`` dict. The file cache's
  ``incr()`` is a read-modify-write that loses updates between processes, so every change of
  the entry holds an exclusive ``flock`` on a lock file in the cache directory (the web server,
  the worker and beat share the directory, and flock also excludes other threads, since each
  call opens its own file description). ``set()`` replaces the file atomically.

Counts are taken out of the cache before the database write, not removed after it: two flushes
(beat can send one while a slow one runs; a redelivered message runs again) then take disjoint
counts instead of both adding the same ones. If the write fails, the counts are added back for
the next flush. The cost is that a flush killed between the take and the commit (SIGKILL, the
hard time limit) loses that batch, at most one interval of views: under-counting a popularity
figure is better than counting views twice, and nothing but a table of applied batches in the
database could rule out both.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC
from typing import Any, Protocol

from django.core.cache import caches
from django.core.cache.backends.base import BaseCache
from django.core.cache.backends.filebased import FileBasedCache
from django.core.cache.backends.redis import RedisCache
from django.core.exceptions import ImproperlyConfigured
from django.db import connection, models, transaction
from django.db.models import Case, F, Value, When
from django.utils import timezone
from redis.client import Pipeline

from guides.models import Guide, GuideDayTally, GuideVersion, seconds_histogram_empty
from guides.visitors import Visitor
from helpdesk.cache import cache_outage_logged

logger = logging.getLogger(__name__)

PENDING_KEY = "guides:view-counts:pending"
# Lives beside the cache files; it does not end in .djcache, so clear() and culling leave it.
FILE_LOCK_NAME = "guide-view-counts.lock"
# Guides per UPDATE: one statement per batch instead of per guide, short enough for any driver.
FLUSH_BATCH_SIZE = 500


class _PendingCounts(Protocol):
    def add(self, guide_id: int) -> None: ...

    def take(self) -> dict[int, int]:
        """Remove every pending count from the cache and return it."""
        ...

    def give_back(self, counts: dict[int, int]) -> None:
        """Add counts taken by a flush that could not write them, on top of newer views."""
        ...


class _RedisPendingCounts:
    def __init__(self, cache: RedisCache) -> None:
        self.key = cache.make_key(PENDING_KEY)
        # Django's own client and connection pool (so the cache's OPTIONS apply); the raw
        # client is needed for HINCRBY and MULTI, which the cache API does not offer.
        self.client = cache._cache.get_client(self.key, write=True)  # type: ignore[attr-defined]

    def add(self, guide_id: int) -> None:
        # No expiry: pending views must wait for the flush however late it runs.
        self.client.hincrby(self.key, str(guide_id), 1)

    def add_to(self, pipe: Pipeline, guide_id: int) -> None:
        pipe.hincrby(self.key, str(guide_id), 1)

    def take(self) -> dict[int, int]:
        pipe = self.client.pipeline(transaction=True)
        pipe.hgetall(self.key)
        pipe.delete(self.key)
        pending, _ = pipe.execute()
        return {int(guide_id): int(count) for guide_id, count in pending.items()}

    def give_back(self, counts: dict[int, int]) -> None:
        pipe = self.client.pipeline(transaction=True)
        for guide_id, count in counts.items():
            pipe.hincrby(self.key, str(guide_id), count)
        pipe.execute()


class _FilePendingCounts:
    def __init__(self, cache: FileBasedCache) -> None:
        self.cache = cache
        cache_dir: str = cache._dir  # type: ignore[attr-defined]  # not in django-stubs
        self.lock_path = os.path.join(cache_dir, FILE_LOCK_NAME)

    @contextmanager
    def _locked(self) -> Iterator[None]:
        os.makedirs(os.path.dirname(self.lock_path), mode=0o700, exist_ok=True)
        with open(self.lock_path, "a") as lock_file:
            # Released when the file is closed, also if this process dies holding it.
            fcntl.flock(lock_file, fcntl.LOCK_EX)
            yield

    def _pending(self) -> dict[int, int]:
        value = self.cache.get(PENDING_KEY)
        return value if isinstance(value, dict) else {}

    def add(self, guide_id: int) -> None:
        self.give_back({guide_id: 1})

    def take(self) -> dict[int, int]:
        with self._locked():
            pending = self._pending()
            if pending:
                self.cache.delete(PENDING_KEY)
        return pending

    def give_back(self, counts: dict[int, int]) -> None:
        with self._locked():
            pending = self._pending()
            for guide_id, count in counts.items():
                pending[guide_id] = pending.get(guide_id, 0) + count
            self.cache.set(PENDING_KEY, pending, timeout=None)


def _pending_counts(cache: BaseCache | None) -> _PendingCounts:
    # caches["default"], not django.core.cache.cache: that is a proxy, not the backend's class.
    cache = cache if cache is not None else caches["default"]
    if isinstance(cache, RedisCache):
        return _RedisPendingCounts(cache)
    if isinstance(cache, FileBasedCache):
        return _FilePendingCounts(cache)
    raise ImproperlyConfigured(
        f"Guide view counts need RedisCache or FileBasedCache, not {type(cache).__name__}."
    )


# User-Agents of clients that are not people reading: search and preview crawlers, monitors,
# HTTP libraries and command-line tools, headless browsers. A browser always sends a
# User-Agent, so an empty one is not counted either. Deliberately short: it only has to keep
# the obvious ones out; a script posing as a browser is one visitor a day if it keeps cookies.
BOT_USER_AGENT = re.compile(
    r"bot|crawl|spider|slurp|archiver|externalhit|preview|monitor|headless|phantomjs|lighthouse"
    r"|curl|wget|httpie|python|aiohttp|httpx|go-http-client|java/|okhttp|libwww|scrapy",
    re.IGNORECASE,
)


def guide_page_view_counts(
    *, guide_id: int, method: str, user_agent: str, visitor: Visitor
) -> bool:
    """Whether this request is a view of the guide page that counts (a person's first today),
    noting it in the visitor's cookie; the guide page then counts it in the round trip it makes
    anyway (guides.page_cache). Not counted: HEAD (no page was read), obvious bots, and a
    visitor who already viewed the guide today (reloads, and the redirect back after a step
    outcome or an answer, which marks the guide viewed). The decision reads only the visitor's
    cookie, so the cost on the page stays one cache increment, and only for the views that
    count."""
    if method != "GET" or not user_agent or BOT_USER_AGENT.search(user_agent):
        return False
    return visitor.view_is_first_today(guide_id)


def guide_view_record(*, guide_id: int, cache: BaseCache | None = None) -> None:
    """Count one view of a guide page. Never raises: a view is not worth a failed page."""
    try:
        _pending_counts(cache).add(guide_id)
    except Exception as error:
        if not cache_outage_logged(error):  # else logged once per interval, not per view
            logger.warning(
                "View of guide %s not counted: the cache failed", guide_id, exc_info=True
            )


def guide_view_add_to(pipe: Pipeline, *, guide_id: int, cache: RedisCache) -> None:
    """Queue one view of the guide on a pipeline of ``cache``'s Redis client: the view is
    counted in the round trip that sends the caller's own commands (guides.page_cache)."""
    _RedisPendingCounts(cache).add_to(pipe, guide_id)


def guide_view_unrecord(*, guide_id: int, cache: BaseCache | None = None) -> None:
    """Take back one view counted before the page turned out not to be served (the guide was
    unpublished meanwhile: guides.page_cache). Never raises, as guide_view_record."""
    try:
        _pending_counts(cache).give_back({guide_id: -1})
    except Exception as error:
        if not cache_outage_logged(error):
            logger.warning("A view of guide %s stays counted: the cache failed", guide_id)


def guide_view_counts_flush(*, cache: BaseCache | None = None) -> int:
    """Add the views pending in the cache to ``Guide.view_count``, and to the day's views of
    each guide's current version (``GuideDayTally.views``); returns the views written.

    Views of guides deleted since they were counted are dropped.
    """
    pending_counts = _pending_counts(cache)
    counts = pending_counts.take()
    if not counts:
        return 0
    try:
        # Durable: once the counts have left the cache they must be committed when this
        # returns, not rolled back later by a caller's transaction.
        with transaction.atomic(durable=True):
            return _view_counts_add(counts)
    except BaseException:
        # BaseException: the soft time limit and a warm shutdown must give the counts back too.
        try:
            pending_counts.give_back(counts)
        except Exception:
            logger.exception("Lost %s pending guide views: %r", sum(counts.values()), counts)
        raise


def _view_counts_add(counts: dict[int, int]) -> int:
    written = 0
    guide_ids = sorted(counts)
    for start in range(0, len(guide_ids), FLUSH_BATCH_SIZE):
        batch = guide_ids[start : start + FLUSH_BATCH_SIZE]
        # Locking the rows (in id order, so concurrent flushes cannot deadlock) keeps a guide
        # from being deleted between this read and the UPDATE, so the total returned is what
        # was written. Guides already deleted are simply not found: their views are dropped.
        guides = list(
            Guide.objects.select_for_update()
            .filter(pk__in=batch)
            .order_by("pk")
            .values_list("pk", "language", "company_id")
        )
        if not guides:
            continue
        existing = [guide_id for guide_id, _language, _company in guides]
        # One UPDATE per batch; F() adds on the database, so edits and other flushes that
        # commit meanwhile are kept.
        Guide.objects.filter(pk__in=existing).update(
            view_count=F("view_count")
            + Case(
                *[When(pk=guide_id, then=Value(counts[guide_id])) for guide_id in existing],
                default=Value(0),
                output_field=models.PositiveBigIntegerField(),
            )
        )
        written += sum(counts[guide_id] for guide_id in existing)
        _day_views_add(guides, counts)
    return written


def _day_views_add(guides: list[tuple[int, str, int]], counts: dict[int, int]) -> None:
    """Add the views to today's funnel row of each guide's current version (GuideDayTally,
    which the statistics read): views are counted per day here, as nothing else keeps a
    history of them. The day is the flush's (UTC), so a view at the stroke of midnight may
    land on the next day. Guides without a version yet have no row to add to.

    One upsert that adds on the database, in the rows' key order: the statistics rollup
    rewrites the other columns of these rows and locks them in the same order, so the two
    only ever wait for each other, never deadlock; and the rollup never writes ``views``."""
    current: dict[int, int] = {}
    numbers: dict[int, int] = {}
    for guide_id, version_id, number in GuideVersion.objects.filter(
        guide_id__in=[guide_id for guide_id, _language, _company in guides]
    ).values_list("guide_id", "pk", "number"):
        if number > numbers.get(guide_id, 0):
            current[guide_id], numbers[guide_id] = version_id, number
    today = timezone.now().astimezone(UTC).date()
    rows = sorted(
        (current[guide_id], language, guide_id, company_id, counts[guide_id])
        for guide_id, language, company_id in guides
        if guide_id in current and counts[guide_id] > 0
    )
    if not rows:
        return
    table = GuideDayTally._meta.db_table
    quote = connection.ops.quote_name
    column = {f.name: quote(f.column) for f in GuideDayTally._meta.concrete_fields}
    names = [
        "day", "guide", "version", "company", "language", "views", "attempts", "resolved",
        "abandoned", "escalated", "tickets_solved", "tickets_reopened", "solve_seconds",
    ]  # fmt: skip
    values = ", ".join(["(" + ", ".join(["%s"] * len(names)) + ")"] * len(rows))
    empty = json.dumps(seconds_histogram_empty())
    day = connection.ops.adapt_datefield_value(today)
    params: list[Any] = []
    for version_id, language, guide_id, company_id, views in rows:
        params += [day, guide_id, version_id, company_id, language, views, 0, 0, 0, 0, 0, 0]
        params.append(empty)
    added = column["views"]
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {quote(table)} ({', '.join(column[name] for name in names)})"  # noqa: S608 (the model's own columns)
            f" VALUES {values} ON CONFLICT ({column['version']}, {column['language']},"
            f" {column['day']}) DO UPDATE SET {added} = {quote(table)}.{added} + EXCLUDED.{added}",
            params,
        )
