"""The API's rate throttles, kept as counters: a view's throttles cost one cache round trip.

DRF's rate throttles keep a pickled list of request times per client, which must be read
before it can be written back: two round trips per throttle, and a write that cannot join a
pipeline. These throttles keep the same rates, names and keys' meaning (``throttle_<scope>_
<ident>``), counted instead in fixed windows of the rate's length aligned to the clock (a
``N/minute`` rate counts from each minute's start): the counter's key ends with the window's
number, is created where missing with ``SET NX EX`` and moved with ``INCR``, so a request
counts without reading anything first, and every throttle of a view (and the contact view's
escalation budgets) count in one pipeline (CountedThrottlesMixin, helpdesk.limits).

What a fixed window changes (docs/security.md, "Rate limits"): a client may send up to the
rate at the end of one window and again at the start of the next, so up to twice the rate in
a window's length across a boundary; and a refused request counts too (it changes nothing
within the window, which is over the rate already). A refused request is told to come back
when its window ends (``Retry-After``).

Every throttle of the API is one of these (the settings' defaults and every view's own), as
the anonymous and user keys are shared between views: one view counting with DRF's history
and another with a counter would read each other's values as garbage.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from rest_framework import throttling
from rest_framework.request import Request

from helpdesk import limits


class CounterRateThrottle(throttling.SimpleRateThrottle):
    """SimpleRateThrottle counting in fixed windows (see the module). Asked alone, each
    request costs one round trip; CountedThrottlesMixin counts a view's throttles together."""

    # Set by CountedThrottlesMixin: allow_request then notes the counter and allows, and the
    # mixin decides once every counter of the view has been counted.
    deferred = False
    # This request's counter (its key and how long it is kept), once allow_request has run
    # and found that the throttle applies.
    counter: tuple[str, int] | None = None
    # Set by SimpleRateThrottle from the rate (not in the stubs).
    num_requests: int
    duration: int

    def allow_request(self, request: Request, view: Any) -> bool:
        self.counter = None
        if self.rate is None:
            return True
        key = self.get_cache_key(request, view)
        if key is None:
            return True
        self.now = self.timer()
        window = int(self.now // self.duration)
        self.window_end = (window + 1) * self.duration
        self.counter = (f"{key}:{window}", self.duration)
        if self.deferred:
            return True
        _taken, (count,) = limits.count_together([], [self.counter])
        return self.allows(count)

    def allows(self, count: int) -> bool:
        """Whether the request that made the window's count ``count`` is within the rate."""
        return count <= self.num_requests

    def wait(self) -> float:
        """Until the window ends: then the count starts from zero."""
        return max(1.0, math.ceil(self.window_end - self.now))


class AnonRateThrottle(throttling.AnonRateThrottle, CounterRateThrottle):
    """DRF's: anonymous requests per address (``anon``, API_ANON_RATE), counted."""


class UserRateThrottle(throttling.UserRateThrottle, CounterRateThrottle):
    """DRF's: requests per user, or per address without one (``user``, API_USER_RATE),
    counted."""


class ScopedRateThrottle(throttling.ScopedRateThrottle, CounterRateThrottle):
    """DRF's: requests per user or address to the views of one ``throttle_scope``, counted."""


class CountedThrottlesMixin:
    """For an APIView: DRF's check_throttles, every throttle asked, the longest wait answered,
    with the counters of its rate throttles counted in one round trip."""

    def check_throttles(self, request: Request) -> None:
        self.count_throttles(request)

    def count_throttles(
        self, request: Request, takes: Sequence[tuple[limits.AddressLimit, str]] = ()
    ) -> list[int | None]:
        """Count the view's throttles and, in the same round trip, ``takes`` (limits counted
        whatever the throttles decide: see limits.count_together); raise Throttled when a
        throttle refuses, else return what each limit's take() would."""
        waits: list[float | None] = []
        counted: list[CounterRateThrottle] = []
        for throttle in self.get_throttles():  # type: ignore[attr-defined]  # the APIView's
            if isinstance(throttle, CounterRateThrottle):
                throttle.deferred = True
                throttle.allow_request(request, self)  # notes its counter, if it applies
                if throttle.counter is not None:
                    counted.append(throttle)
            elif not throttle.allow_request(request, self):
                waits.append(throttle.wait())
        taken, counts = limits.count_together(
            list(takes), [throttle.counter for throttle in counted if throttle.counter]
        )
        waits += [
            throttle.wait()
            for throttle, count in zip(counted, counts, strict=True)
            if not throttle.allows(count)
        ]
        if waits:
            known = [wait for wait in waits if wait is not None]
            self.throttled(request, max(known, default=None))  # type: ignore[attr-defined]
        return taken
