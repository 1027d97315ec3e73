"""The Redis cache, failing open: an unreachable cache Redis never fails a request.

Everything the service keeps in the cache is disposable or a limit: throttle counters, per-
address counters, pending guide views, the worker heartbeat. Losing them for the length of an
outage costs a little accuracy (a limit that lets a request through, a view not counted); a
cache error raised into a view costs the request itself, escalations included. So when Redis
does not answer, every operation of ``FailOpenRedisCache`` answers what an empty cache would:

=================  ===============================================================
``get``            the default
``get_many``       ``{}``
``add``            ``False`` (not stored)
``set``            ``None``, as always (nothing stored)
``set_many``       every key (the keys not stored)
``touch``          ``False``
``delete``         ``False``
``delete_many``    ``None``
``has_key``        ``False``
``incr``/``decr``  ``delta`` (a counter that has just started: under any limit)
``clear``          ``None``
=================  ===============================================================

Only connection and timeout errors count as an outage; any other Redis error (a wrong
command, a full read-only replica) is still raised, as it is a bug or a misconfiguration.

A circuit breaker, one per process and Redis location, keeps an outage cheap: after a failure
no command is sent to that Redis for ``retry_interval`` seconds (each fails at once), then one
command tries again; success closes the breaker. A Redis that hangs thus costs its socket
timeout once per interval, not once per request. The breaker sits on the Redis client the
backend hands out, so it also guards code that uses that client directly (the guide view
counter's ``HINCRBY``), which then sees a ``redis.exceptions.ConnectionError`` at once.

Failures are logged as one warning per ``failure_log_interval`` seconds with the number of
calls answered "nothing cached" meanwhile, and recovery as one info line.

Health checks must not be answered "nothing cached": ``cache_probe()`` asks Redis itself,
ignoring the back-off, and raises while it is down.
"""

from __future__ import annotations

import functools
import logging
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

import redis
from django.core.cache import caches
from django.core.cache.backends.base import DEFAULT_TIMEOUT
from django.core.cache.backends.redis import RedisCache, RedisCacheClient
from redis.client import Pipeline

logger = logging.getLogger(__name__)

T = TypeVar("T")

# What counts as "Redis is down" (redis.exceptions.ConnectionError covers refused and reset
# connections, a server still loading its data, and CacheUnavailable below).
OUTAGE_ERRORS: tuple[type[Exception], ...] = (
    redis.exceptions.ConnectionError,
    redis.exceptions.TimeoutError,
)
DEFAULT_RETRY_INTERVAL = 5.0
DEFAULT_FAILURE_LOG_INTERVAL = 60.0
PROBE_KEY = "health:cache-probe"


class CacheUnavailable(redis.exceptions.ConnectionError):
    """Raised without sending anything while the breaker is open (or a probe read back
    something else than it wrote)."""


def cache_outage_logged(error: BaseException) -> bool:
    """True for an outage error of a FailOpenRedisCache's client: its breaker has counted it
    and logs the outage once per interval, so callers need not log it again."""
    return isinstance(error, CacheUnavailable) or getattr(error, "_cache_outage_logged", False)


class CircuitBreaker:
    """Open after a failure for ``retry_interval`` seconds; then one call tries again.

    Thread-safe; shared by every backend instance of one process that uses the same Redis
    (Django makes one backend per thread).
    """

    def __init__(
        self,
        name: str,
        *,
        retry_interval: float,
        log_interval: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.name = name
        self.retry_interval = retry_interval
        self.log_interval = log_interval
        self._clock = clock
        self._lock = threading.Lock()
        self._open_until: float | None = None  # None: closed
        self._last_warning: float | None = None
        self._answered_open = 0  # calls answered "nothing cached" since the last warning
        self._answered_open_total = 0  # ... since the outage began

    @property
    def is_open(self) -> bool:
        """True from a failure until a call succeeds (the back-off may have expired)."""
        return self._open_until is not None

    def before(self) -> None:
        """Raise CacheUnavailable if this call must not reach Redis.

        When the back-off has expired, the first caller goes through and pushes the next try
        one interval later, so concurrent callers keep failing fast while it waits."""
        if self._open_until is None:
            return
        with self._lock:
            if self._open_until is None:
                return
            now = self._clock()
            if now < self._open_until:
                raise CacheUnavailable(
                    f"cache Redis {self.name} is failing open; next try in "
                    f"{self._open_until - now:.1f} s"
                )
            self._open_until = now + self.retry_interval

    def failure(self, error: BaseException) -> None:
        error._cache_outage_logged = True  # type: ignore[attr-defined]  # see cache_outage_logged
        with self._lock:
            now = self._clock()
            self._open_until = now + self.retry_interval
            if self._last_warning is None or now - self._last_warning >= self.log_interval:
                logger.warning(
                    "Cache Redis %s unreachable (%s: %s): answering as if nothing were cached "
                    "(throttles and limits allow, views are not counted); next try in %s s. "
                    "%d call(s) answered so since the last warning.",
                    self.name,
                    error.__class__.__name__,
                    error,
                    self.retry_interval,
                    self._answered_open,
                )
                self._last_warning = now
                self._answered_open = 0

    def answered_open(self) -> None:
        with self._lock:
            self._answered_open += 1
            self._answered_open_total += 1

    def success(self) -> None:
        if self._open_until is None:
            return
        with self._lock:
            if self._open_until is None:
                return
            logger.info(
                "Cache Redis %s reachable again; %d call(s) were answered as if nothing were "
                "cached.",
                self.name,
                self._answered_open_total,
            )
            self._open_until = None
            self._last_warning = None
            self._answered_open = 0
            self._answered_open_total = 0

    def call(self, command: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Run one round trip to Redis through the breaker: refused at once while it is open,
        and its outcome (an outage, or any answer) moves the breaker."""
        self.before()
        try:
            result = command(*args, **kwargs)
        except OUTAGE_ERRORS as error:
            self.failure(error)
            raise
        except redis.exceptions.ResponseError:
            self.success()  # an error reply is still an answer: Redis is up
            raise
        self.success()
        return result


_breakers: dict[tuple[object, ...], CircuitBreaker] = {}
_breakers_lock = threading.Lock()


def _breaker_for(servers: list[str], retry_interval: float, log_interval: float) -> CircuitBreaker:
    key = (tuple(servers), retry_interval, log_interval)
    with _breakers_lock:
        if key not in _breakers:
            _breakers[key] = CircuitBreaker(
                ",".join(_without_password(server) for server in servers),
                retry_interval=retry_interval,
                log_interval=log_interval,
            )
        return _breakers[key]


def _without_password(url: str) -> str:
    """The URL to name in logs: the password of ``redis://:secret@host`` stays out."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit(parts._replace(netloc=netloc))


class _GuardedPipeline(Pipeline):
    breaker: CircuitBreaker

    def execute(self, raise_on_error: bool = True) -> list[Any]:
        return self.breaker.call(super().execute, raise_on_error)


class _GuardedRedis(redis.Redis):
    """A Redis client whose commands and pipelines go through the breaker."""

    breaker: CircuitBreaker

    def execute_command(self, *args: Any, **options: Any) -> Any:
        return self.breaker.call(super().execute_command, *args, **options)

    def pipeline(self, transaction: bool = True, shard_hint: Any = None) -> Pipeline:
        pipe = _GuardedPipeline(
            self.connection_pool, self.response_callbacks, transaction, shard_hint
        )
        pipe.breaker = self.breaker
        return pipe


class _GuardedCacheClient(RedisCacheClient):
    def __init__(self, servers: list[str], *, breaker: CircuitBreaker, **options: Any) -> None:
        super().__init__(servers, **options)
        self.breaker = breaker
        self._clients: dict[int, _GuardedRedis] = {}

    def _pool(self, write: bool) -> redis.ConnectionPool:
        return self._get_connection_pool(write)  # type: ignore[attr-defined]  # not in the stubs

    def get_client(self, key: Any = None, *, write: bool = False) -> redis.Redis:
        # One client per pool, kept: Django's RedisCacheClient builds a new one per call (the
        # connections are pooled either way), which cost more CPU than some commands do. A
        # redis-py client over a pool is safe to share between threads.
        pool = self._pool(write)
        client = self._clients.get(id(pool))
        if client is None:
            client = _GuardedRedis(connection_pool=pool)
            client.breaker = self.breaker
            self._clients[id(pool)] = client
        return client

    def unguarded_client(self) -> redis.Redis:
        return redis.Redis(connection_pool=self._pool(True))


class FailOpenRedisCache(RedisCache):
    """Django's RedisCache, answering "nothing cached" while Redis is unreachable.

    Two OPTIONS of its own (the others go to redis-py's connection pool, as with RedisCache):
    ``retry_interval`` (seconds without trying Redis after a failure) and
    ``failure_log_interval`` (seconds between two warnings about the outage).
    """

    def __init__(self, server: str, params: dict[str, Any]) -> None:
        options = dict(params.get("OPTIONS") or {})
        retry_interval = float(options.pop("retry_interval", DEFAULT_RETRY_INTERVAL))
        log_interval = float(options.pop("failure_log_interval", DEFAULT_FAILURE_LOG_INTERVAL))
        super().__init__(server, {**params, "OPTIONS": options})
        servers: list[str] = self._servers  # type: ignore[attr-defined]  # not in the stubs
        self.breaker = _breaker_for(servers, retry_interval, log_interval)
        # RedisCache builds its client (self._cache) from this on first use.
        self._class = functools.partial(_GuardedCacheClient, breaker=self.breaker)

    @property
    def _client(self) -> _GuardedCacheClient:
        return self._cache  # type: ignore[attr-defined]  # not in the stubs

    def _fail_open(self, fallback: T, call: Callable[..., T], *args: Any) -> T:
        try:
            return call(*args)
        except OUTAGE_ERRORS:
            # The guarded client has already recorded (and maybe logged) the failure.
            self.breaker.answered_open()
            return fallback

    def is_available(self) -> bool:
        """False from a failure until Redis answers again; sends nothing."""
        return not self.breaker.is_open

    def probe(self) -> None:
        """Ask Redis now, past the back-off: raise a ``redis.exceptions.ConnectionError`` or
        ``TimeoutError`` while it is down. A success closes the breaker."""
        client = self._client.unguarded_client()
        key = self.make_key(PROBE_KEY)
        try:
            token = f"{time.time_ns()}"
            client.set(key, token, ex=10)
            if client.get(key) != token.encode():
                raise CacheUnavailable(f"cache Redis {self.breaker.name} read back another value")
        except OUTAGE_ERRORS as error:
            self.breaker.failure(error)
            raise
        self.breaker.success()

    def add(
        self, key: Any, value: Any, timeout: Any = DEFAULT_TIMEOUT, version: Any = None
    ) -> bool:
        return self._fail_open(False, super().add, key, value, timeout, version)

    def get(self, key: Any, default: Any = None, version: Any = None) -> Any:
        return self._fail_open(default, super().get, key, default, version)

    def set(
        self, key: Any, value: Any, timeout: Any = DEFAULT_TIMEOUT, version: Any = None
    ) -> None:
        self._fail_open(None, super().set, key, value, timeout, version)

    def touch(self, key: Any, timeout: Any = DEFAULT_TIMEOUT, version: Any = None) -> bool:
        return self._fail_open(False, super().touch, key, timeout, version)

    def delete(self, key: Any, version: Any = None) -> bool:
        return self._fail_open(False, super().delete, key, version)

    def get_many(self, keys: Iterable[Any], version: Any = None) -> dict[Any, Any]:
        return self._fail_open({}, super().get_many, keys, version)

    def has_key(self, key: Any, version: Any = None) -> bool:
        return self._fail_open(False, super().has_key, key, version)

    def incr(self, key: Any, delta: int = 1, version: Any = None) -> int:
        return self._fail_open(delta, super().incr, key, delta, version)

    def set_many(
        self, data: dict[Any, Any], timeout: Any = DEFAULT_TIMEOUT, version: Any = None
    ) -> list[Any]:
        return self._fail_open(list(data), super().set_many, data, timeout, version)

    def delete_many(self, keys: Iterable[Any], version: Any = None) -> None:
        self._fail_open(None, super().delete_many, keys, version)

    def clear(self) -> None:
        self._fail_open(None, super().clear)


def cache_probe(alias: str = "default") -> None:
    """Raise unless the cache answers now: for health checks, which must not take the fail-
    open answers for a working cache. Works with any backend (the file cache included)."""
    backend = caches[alias]
    if isinstance(backend, FailOpenRedisCache):
        backend.probe()
        return
    token = time.time_ns()
    backend.set(PROBE_KEY, token, timeout=10)
    if backend.get(PROBE_KEY) != token:
        raise CacheUnavailable(f"cache {alias!r} read back another value")
