"""Limits on what one client, or one recipient e-mail address, may do in a window of time.

One mechanism (AddressLimit, counted in the shared cache) for every customer-facing limit of
the web pages and the API; each limit's bound comes from settings (see the README's
configuration table). The API's DRF throttles stay for plain request rates; these are the
limits that count a kind of event (a wrong link, an escalation, a reply) across surfaces.
"""

from __future__ import annotations

import hashlib
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import ngettext
from redis.commands.core import Script

from helpdesk.cache import OUTAGE_ERRORS


@dataclass(frozen=True)
class AddressLimit:
    """At most ``limit`` counted events per address (a client's, or a normalised e-mail
    address) in a window of ``window`` seconds.

    The window opens at the address's first counted event and lasts its full length (not a
    sliding window): simple, and all it takes to make guessing and flooding slow.

    A value missing from the cache (expired, evicted, or the cache unreachable) reads as "under
    the limit": a limit that fails open never refuses a customer because Redis blinked.
    """

    name: str
    limit: int
    window: int

    def _keys(self, address: str) -> tuple[str, str]:
        # Hashed: e-mail addresses stay out of the cache, and any address makes a valid key.
        digest = hashlib.sha256(address.encode("utf-8", "surrogatepass")).hexdigest()[:32]
        key = f"limit:{self.name}:{digest}"
        return key, f"{key}:until"

    def _open_window(self, key: str, until_key: str) -> bool:
        if not cache.add(key, 1, timeout=self.window):
            return False
        cache.set(until_key, time.time() + self.window, timeout=self.window)
        return True

    def _count(self, address: str) -> int:
        if _atomic_counters():
            return _redis_counts([(self, address)])[0][0][0]
        key, until_key = self._keys(address)
        # Any other cache (the file cache): add() only creates a missing key, but incr is a
        # read and a write that also resets the expiry to the default timeout: a lost count
        # or two under concurrency, which a limit tolerates, and the expiry put back to the
        # window's end below.
        if self._open_window(key, until_key):
            return 1
        try:
            count = cache.incr(key)
        except ValueError:  # the window ended between add() and incr()
            self._open_window(key, until_key)
            return 1
        until = cache.get(until_key)
        if until:
            cache.touch(key, timeout=max(1, math.ceil(until - time.time())))
        return int(count or 0)  # a cache that fails open may answer nothing: under the limit

    def count(self, address: str) -> None:
        """Count one event (e.g. a wrong link) without asking whether it was allowed."""
        self._count(address)

    def take(self, address: str) -> int | None:
        """Count one event and say whether it was within the limit: None if so, else the
        seconds until the address may try again. Counting first, then comparing, keeps a
        burst of concurrent requests from all passing a check made before any counted."""
        return take_together([(self, address)])[0]

    def retry_after(self, address: str) -> int | None:
        """Seconds until the address may try again, or None when it is under the limit."""
        key, until_key = self._keys(address)
        values = cache.get_many([key, until_key])
        if (values.get(key) or 0) < self.limit:
            return None
        until = values.get(until_key)
        return max(1, math.ceil(until - time.time())) if until else self.window

    def reset(self, address: str) -> None:
        cache.delete_many(list(self._keys(address)))


def take_together(takes: list[tuple[AddressLimit, str]]) -> list[int | None]:
    """AddressLimit.take for several limits at once: on Redis, one pipelined round trip for
    all of them (the escalate request's: docs/performance.md, "The escalate request")."""
    return count_together(takes)[0]


def count_together(
    takes: list[tuple[AddressLimit, str]], counters: Sequence[tuple[str, int]] = ()
) -> tuple[list[int | None], list[int]]:
    """AddressLimit.take for each of ``takes``, and one more for each plain counter of
    ``counters`` (a cache key and the seconds it is kept: the API's rate throttles', whose
    key names its window, helpdesk.api.throttling), all in one round trip on Redis.

    Returns what take() would for each limit, and each counter's count including this event
    (0 when Redis does not answer: failing open, as helpdesk.cache does)."""
    if not takes and not counters:  # no throttle applies to the request: nothing to send
        return [], []
    if _atomic_counters():
        counted, counts = _redis_counts(takes, counters)
        return [
            None if count <= limit.limit else max(1, ttl) if ttl > 0 else limit.window
            for (limit, _address), (count, ttl) in zip(takes, counted, strict=True)
        ], counts
    taken = [
        None if limit._count(address) <= limit.limit else limit.retry_after(address) or limit.window
        for limit, address in takes
    ]
    return taken, [_count(key, timeout) for key, timeout in counters]


def _count(key: str, timeout: int) -> int:
    """A plain counter on any other cache (the file cache): read, then written back with its
    timeout (incr would put the cache's default timeout back). Concurrent requests may lose a
    count or two, as DRF's own throttle histories did: a rate tolerates it."""
    count = int(cache.get(key) or 0) + 1
    cache.set(key, count, timeout=timeout)
    return count


# _redis_counts in one command: a Lua script runs atomically, as MULTI/EXEC did, but the
# client packs one command and reads one reply instead of seventeen of each (the escalate
# request's three throttles and two budgets). KEYS: each limit's counter and window end, then
# each plain counter. ARGV: the number of limits, then each limit's window (s) and stored
# window end, then each plain counter's timeout (s). Returns each limit's count and seconds
# left, then each counter's count.
_COUNT_SCRIPT = """
local limits = tonumber(ARGV[1])
local out = {}
local arg = 2
for n = 1, limits do
  local key, until_key = KEYS[2 * n - 1], KEYS[2 * n]
  redis.call('SET', key, 0, 'EX', ARGV[arg], 'NX')
  redis.call('SET', until_key, ARGV[arg + 1], 'EX', ARGV[arg], 'NX')
  out[#out + 1] = redis.call('INCR', key)
  out[#out + 1] = redis.call('TTL', key)
  arg = arg + 2
end
for n = 2 * limits + 1, #KEYS do
  redis.call('SET', KEYS[n], 0, 'EX', ARGV[arg], 'NX')
  out[#out + 1] = redis.call('INCR', KEYS[n])
  arg = arg + 1
end
return out
"""
_count_script: Script | None = None


def _redis_counts(
    takes: list[tuple[AddressLimit, str]], counters: Sequence[tuple[str, int]] = ()
) -> tuple[list[tuple[int, int]], list[int]]:
    """Count one event for each (limit, address), and for each plain counter, in one round
    trip (_COUNT_SCRIPT): a limit's window opens (counter and its end, both expiring with it)
    only where none is open, then the counter moves; nothing can expire in between. A plain
    counter is created, expiring after its timeout, where missing, then moves. Returns
    (count, seconds left) per pair and the count of each counter; (0, -1) and 0, under any
    limit or rate, when Redis does not answer (failing open, as helpdesk.cache does).

    The values are what Django's RedisCache would store (a bare integer, a pickled float), so
    retry_after() and reset() read and delete them through the cache as before."""
    global _count_script
    backend = cache._cache  # type: ignore[attr-defined]  # the RedisCacheClient, not in the stubs
    serializer = backend._serializer
    client = backend.get_client(write=True)
    now = time.time()
    keys: list[str] = []
    args: list[bytes | int] = [len(takes)]
    for limit, address in takes:
        keys += [cache.make_and_validate_key(name) for name in limit._keys(address)]
        args += [limit.window, serializer.dumps(now + limit.window)]
    for name, timeout in counters:
        keys.append(cache.make_and_validate_key(name))
        args.append(timeout)
    if _count_script is None:
        _count_script = client.register_script(_COUNT_SCRIPT)
    try:
        # Script sends EVALSHA, and loads the script first on a server that does not have it
        # (a new or restarted Redis).
        replies = _count_script(keys=keys, args=args, client=client)
    except OUTAGE_ERRORS:
        breaker = getattr(cache, "breaker", None)  # FailOpenRedisCache's, which counts these
        if breaker is not None:
            breaker.answered_open()
        return [(0, -1)] * len(takes), [0] * len(counters)
    limits_end = 2 * len(takes)
    return (
        [(int(replies[2 * n]), int(replies[2 * n + 1])) for n in range(len(takes))],
        [int(count) for count in replies[limits_end:]],
    )


def _atomic_counters() -> bool:
    """Whether the cache's incr keeps the key's expiry and is atomic (Redis, however wrapped)."""
    return "redis" in str(settings.CACHES["default"]["BACKEND"]).lower()


def recipient_key(email: str) -> str:
    """One key per mailbox: lower-case, and without a plus tag (``sam+1@x`` and ``Sam@X`` reach
    the same inbox, so they share one budget). Provider-specific aliases (dots in Gmail) are
    not folded: they are not universal, and folding them could merge two people's budgets."""
    local, _at, domain = email.strip().lower().rpartition("@")
    if not local:
        return email.strip().lower()
    return f"{local.split('+', 1)[0] or local}@{domain}"


# --- the limits, each with its settings -----------------------------------------------------


def ticket_link_guesses() -> AddressLimit:
    """Wrong ticket links: 404s on the status page and on the customer ticket API count
    against one budget per client, and an address over it is refused on both."""
    return AddressLimit(
        "ticket-guess", settings.STATUS_PAGE_GUESS_LIMIT, settings.STATUS_PAGE_GUESS_WINDOW
    )


def status_page_replies() -> AddressLimit:
    return AddressLimit(
        "status-reply", settings.STATUS_PAGE_REPLY_LIMIT, settings.STATUS_PAGE_REPLY_WINDOW
    )


def guide_page_writes() -> AddressLimit:
    """Step outcomes, restarts and feedback posted on guide pages, per client."""
    return AddressLimit("guide-write", settings.WEB_WRITE_LIMIT, settings.WEB_WRITE_WINDOW)


def escalations_per_address() -> AddressLimit:
    """Requests for a person (both web forms and the API), per client."""
    return AddressLimit(
        "escalation-address", settings.ESCALATION_ADDRESS_LIMIT, settings.ESCALATION_ADDRESS_WINDOW
    )


def escalations_per_recipient() -> AddressLimit:
    """Requests for a person naming one e-mail address (see recipient_key), from any client."""
    return AddressLimit(
        "escalation-recipient",
        settings.ESCALATION_RECIPIENT_LIMIT,
        settings.ESCALATION_RECIPIENT_WINDOW,
    )


def contact_searches() -> AddressLimit:
    """Guide suggestions on the contact form (a search each), per client."""
    return AddressLimit(
        "contact-search", settings.CONTACT_SEARCH_LIMIT, settings.CONTACT_SEARCH_WINDOW
    )


def search_suggestions() -> AddressLimit:
    """Suggestions shown as a customer types in a search box (a search each), per client."""
    return AddressLimit(
        "search-suggestion", settings.SEARCH_SUGGESTION_LIMIT, settings.SEARCH_SUGGESTION_WINDOW
    )


def search_log_writes() -> AddressLimit:
    """Searches written to the search log (guides.search_log), per client: past the limit a
    search is answered but not logged, so one client cannot fill the log or the content gaps."""
    return AddressLimit("search-log", settings.SEARCH_LOG_LIMIT, settings.SEARCH_LOG_WINDOW)


@dataclass(frozen=True)
class Refusal:
    retry_after: int  # seconds
    message: str  # for the customer, in the active language


def escalation_budgets(*, client: str, email: str) -> list[tuple[AddressLimit, str]]:
    """What one request for a person counts against: the client's budget and, when it names
    an e-mail address, the recipient's. Whoever posts a form chooses the address the
    confirmation goes to, so the recipient's budget holds however many clients send."""
    budgets = [(escalations_per_address(), client)]
    if email:
        budgets.append((escalations_per_recipient(), recipient_key(email)))
    return budgets


def escalation_refusal(*, client: str, email: str) -> Refusal | None:
    """Count one request for a person against its budgets (escalation_budgets); None when
    they allow it."""
    # Both budgets counted in one go (one round trip on Redis): a request refused for its
    # client also counts against its recipient, which only makes a flood slower.
    return escalation_refusal_of(take_together(escalation_budgets(client=client, email=email)))


def escalation_refusal_of(taken: list[int | None]) -> Refusal | None:
    """The refusal, if any, for what take_together (or count_together) answered for the
    budgets of escalation_budgets, in their order."""
    retry_after, *recipient = taken
    if retry_after is not None:
        return Refusal(
            retry_after,
            ngettext(
                "Many requests were sent from your connection in a short time. Please try "
                "again in %(minutes)d minute.",
                "Many requests were sent from your connection in a short time. Please try "
                "again in %(minutes)d minutes.",
                minutes(retry_after),
            )
            % {"minutes": minutes(retry_after)},
        )
    if recipient:
        retry_after = recipient[0]
        if retry_after is not None:
            return Refusal(
                retry_after,
                ngettext(
                    "Many requests were sent for this e-mail address in a short time. Please "
                    "try again in %(minutes)d minute.",
                    "Many requests were sent for this e-mail address in a short time. Please "
                    "try again in %(minutes)d minutes.",
                    minutes(retry_after),
                )
                % {"minutes": minutes(retry_after)},
            )
    return None


def contact_search_refusal(*, client: str) -> Refusal | None:
    return contact_search_refusal_of(contact_searches().take(client))


def contact_search_refusal_of(retry_after: int | None) -> Refusal | None:
    """The refusal, if any, for what take() (or take_together) answered for contact_searches."""
    if retry_after is None:
        return None
    return Refusal(
        retry_after,
        ngettext(
            "You asked for suggestions many times in a short time. Please try again in "
            "%(minutes)d minute.",
            "You asked for suggestions many times in a short time. Please try again in "
            "%(minutes)d minutes.",
            minutes(retry_after),
        )
        % {"minutes": minutes(retry_after)},
    )


def minutes(retry_after: int) -> int:
    return max(1, math.ceil(retry_after / 60))


def too_many_requests(request: HttpRequest, retry_after: int, *, reason: str) -> HttpResponse:
    """The 429 page, in the active language, with Retry-After. ``reason`` picks its sentence:
    "guesses" (wrong links) or "writes" (anything posted too often)."""
    response = render(
        request,
        "too_many_requests.html",
        {"minutes": minutes(retry_after), "reason": reason},
        status=429,
    )
    response["Retry-After"] = str(retry_after)
    return response
