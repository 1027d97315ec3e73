"""The guide page, rendered once and served from each process's memory (guides.views).

A guide page is the same for every visitor but for a few parts: the CSRF token, the path in
the language switcher, messages, and what the visitor's attempt says (banners, each step's
outcome, the feedback they gave). The page is rendered once per guide, reader's language
and kind of visitor (no attempt; an attempt open or closed), with those parts left as holes
(helpdesk.page_parts); each request fills the holes. The page is the same, character for
character, as a full render of the request (tests/guides/test_guide_page_cache.py).

The order of the alternatives is part of the page, not a hole: a reader without an attempt sees
them in the order of what works as it stood when the page was loaded, a customer with an
attempt in the order their attempt recorded (guides.ordering). Each order is a body of its own,
the few most recently used ones kept per guide (MAX_ORDERS).

Validity: every save or delete of a guide, step, company or tag, and every change of a
guide's tags, writes a new random token under VERSION_KEY in the shared cache
(guide_pages_changed: at once, and again when the transaction commits, so that a page
rendered from rows read before the commit is not kept under the new token). A process keeps
each guide labelled with the token it read *before* loading the guide from the database, and
every request reads the token again, in the round trip that counts the view
(guides.view_counts): the page is used only while the labels match. So an edit made in any
process is seen by the next request of every process, with no SQL statement on the way.

The token is global, not per guide: a guide page also shows its company and its other
languages, and edits are rare next to views, so one token keeps the rule simple and every
writer covered. A QuerySet.update() or bulk_create() of those models sends no signal: their
callers call guide_pages_changed themselves (the view and feedback counters' updates need not:
a page does not show them).

When the cache cannot be read (Redis down), the page is loaded and rendered as if there were
no cache, and nothing is kept. An edit made while the cache could not be written leaves the
old token in place: a kept page is therefore also loaded again after MAX_AGE seconds, the
longest such an edit can go unseen.
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.core.cache import caches
from django.core.cache.backends.base import BaseCache
from django.core.cache.backends.redis import RedisCache
from django.db import transaction
from django.db.models.signals import m2m_changed, post_delete, post_save
from django.dispatch import receiver
from django.http import HttpRequest
from django.shortcuts import get_object_or_404
from django.template.loader import render_to_string
from django.utils import translation

from guides import selectors
from guides.models import Attempt, Company, Guide, Step, Tag
from guides.view_counts import guide_view_add_to, guide_view_record, guide_view_unrecord
from helpdesk.cache import cache_outage_logged
from helpdesk.page_parts import PageWithHoles, render_with_holes

logger = logging.getLogger(__name__)

TEMPLATE = "guides/guide.html"
VERSION_KEY = "guides:page-version"
MAX_AGE = 60.0  # seconds
MAX_GUIDES = 500  # guides kept per process, the least recently read dropped first
# Bodies kept per guide, one per reader's language, kind of visitor and order of the
# alternatives: the order for readers without an attempt and the orders of attempts (most are
# that one; a tenth are drawn to explore, and a guide has few alternatives).
MAX_ORDERS = 24
# Saves of these fields alone change nothing a page shows.
_COUNTERS = frozenset({"view_count", "helpful_count", "needs_work_count"})


# --- the token --------------------------------------------------------------------------------


def _new_token() -> int:
    return secrets.randbits(62)


class _RedisVersion:
    """The token as a plain Redis string, read with the view count in one pipeline."""

    def __init__(self, cache: RedisCache) -> None:
        self.cache = cache
        self.key = cache.make_key(VERSION_KEY)
        self.client = cache._cache.get_client(self.key, write=True)  # type: ignore[attr-defined]

    def read(self, count_view_of: int | None) -> int:
        if count_view_of is None:
            raw = self.client.get(self.key)
        else:
            pipe = self.client.pipeline(transaction=False)
            pipe.get(self.key)
            guide_view_add_to(pipe, guide_id=count_view_of, cache=self.cache)
            raw = pipe.execute()[0]
        if raw is None:  # a new or emptied Redis: the first reader sets one for everybody
            self.client.set(self.key, _new_token(), nx=True)
            raw = self.client.get(self.key)
        return int(raw)

    def bump(self) -> None:
        self.client.set(self.key, _new_token())


class _CacheVersion:
    """The token as an entry of any other Django cache (the embedded default's file cache)."""

    def __init__(self, cache: BaseCache) -> None:
        self.cache = cache

    def read(self, count_view_of: int | None) -> int:
        token = self.cache.get(VERSION_KEY)
        if token is None:
            self.cache.add(VERSION_KEY, _new_token(), timeout=None)
            token = self.cache.get(VERSION_KEY)
        if count_view_of is not None:
            guide_view_record(guide_id=count_view_of, cache=self.cache)
        return int(token)

    def bump(self) -> None:
        self.cache.set(VERSION_KEY, _new_token(), timeout=None)


def _version_store() -> _RedisVersion | _CacheVersion:
    cache = caches["default"]
    return _RedisVersion(cache) if isinstance(cache, RedisCache) else _CacheVersion(cache)


def _version(count_view_of: int | None) -> int | None:
    """The token, or None when the cache cannot be read; with count_view_of, one view of that
    guide counted in the same round trip (when the token could not be read, neither could the
    view be counted)."""
    try:
        return _version_store().read(count_view_of)
    except Exception as error:
        if not cache_outage_logged(error):  # else logged once per interval
            logger.warning("Guide pages served without their cache", exc_info=True)
        return None


def _bump() -> None:
    try:
        _version_store().bump()
    except Exception as error:
        if not cache_outage_logged(error):
            logger.warning("Guide pages not told of an edit", exc_info=True)


def guide_pages_changed() -> None:
    """Tell every process that what guide pages show has changed. Called by the receivers
    below on every save and delete; a bulk write of guides, steps, companies or tags must call
    it itself."""
    _bump()
    # Again after the commit: a process that loaded the guide between the first bump and the
    # commit read the rows as they were, and labelled them with the new token.
    if transaction.get_connection().in_atomic_block:
        transaction.on_commit(_bump)


@receiver(post_save, sender=Guide, dispatch_uid="guide_pages_changed.guide.save")
@receiver(post_save, sender=Step, dispatch_uid="guide_pages_changed.step.save")
@receiver(post_save, sender=Company, dispatch_uid="guide_pages_changed.company.save")
@receiver(post_save, sender=Tag, dispatch_uid="guide_pages_changed.tag.save")
def _guide_pages_changed_on_save(sender: Any, update_fields: Any = None, **kwargs: Any) -> None:
    if update_fields is not None and set(update_fields) <= _COUNTERS:
        return
    guide_pages_changed()


@receiver(post_delete, sender=Guide, dispatch_uid="guide_pages_changed.guide.delete")
@receiver(post_delete, sender=Step, dispatch_uid="guide_pages_changed.step.delete")
@receiver(post_delete, sender=Company, dispatch_uid="guide_pages_changed.company.delete")
@receiver(post_delete, sender=Tag, dispatch_uid="guide_pages_changed.tag.delete")
@receiver(m2m_changed, sender=Guide.tags.through, dispatch_uid="guide_pages_changed.tags")
def _guide_pages_changed_on_delete_or_tags(sender: Any, action: str = "", **kwargs: Any) -> None:
    if action and not action.startswith("post_"):
        return
    guide_pages_changed()


# --- the pages ------------------------------------------------------------------------------


def _steps_context(shown: selectors.ShownSteps) -> dict[str, Any]:
    ordered = [*shown.procedure, *shown.alternatives, *shown.last_resort]
    return {
        "procedure": shown.procedure,
        "alternatives": shown.alternatives,
        "last_resort": shown.last_resort,
        # Sent back with a step's outcome: the order the customer acted under (guides.views).
        "step_order": ",".join(str(pk) for pk in shown.order),
        # Steps are numbered as shown, so that "step 3 of 6" is the step marked 3.
        "step_numbers": {step.pk: number for number, step in enumerate(ordered, start=1)},
        "step_count": len(ordered),
    }


def _current_step(
    shown: selectors.ShownSteps, attempt: Any, current_outcomes: dict[int, Any], attempt_open: bool
) -> dict[str, Any]:
    """The step in focus: the first one the visitor has not answered, while they are still
    trying (guides.selectors.next_unanswered_step); none once a step fixed it (the page leads
    to the helpful vote instead). It reads the visitor's attempt, so the parts of the page
    that show it are holes; a visitor without an attempt is on the first step."""
    trying = attempt_open and (attempt is None or attempt.status != Attempt.Status.RESOLVED)
    step = selectors.next_unanswered_step(shown, current_outcomes) if trying else None
    ordered = [*shown.procedure, *shown.alternatives, *shown.last_resort]
    return {
        "current_step_id": step.pk if step is not None else None,
        "current_step_number": ordered.index(step) + 1 if step is not None else None,
    }


@dataclass
class GuidePage:
    """A published guide with what its page shows, and its page rendered for each reader's
    language, kind of visitor and order of the alternatives. ``version`` None: not kept (the
    cache could not be read)."""

    guide: Guide
    context: dict[str, Any]
    version: int | None
    # The steps as a reader without an attempt (or with one older than recorded orders) sees
    # them: the alternatives in the order of what works when the page was loaded.
    shown: selectors.ShownSteps
    loaded_at: float = field(default_factory=time.monotonic)
    _bodies: OrderedDict[tuple[Any, ...], PageWithHoles] = field(default_factory=OrderedDict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def shown_to(self, attempt: Any) -> selectors.ShownSteps:
        """The steps as this visitor is shown them: in their attempt's recorded order."""
        if attempt is None or not attempt.step_order:
            return self.shown
        return selectors.steps_shown(guide=self.guide, step_order=attempt.step_order)

    def _body(self, key: tuple[Any, ...]) -> PageWithHoles | None:
        with self._lock:
            body = self._bodies.get(key)
            if body is not None:
                self._bodies.move_to_end(key)
            return body

    def _keep(self, key: tuple[Any, ...], body: PageWithHoles) -> None:
        with self._lock:
            self._bodies[key] = body
            while len(self._bodies) > MAX_ORDERS:
                self._bodies.popitem(last=False)

    def html(
        self,
        request: HttpRequest,
        *,
        attempt: Any,
        attempt_open: bool,
        current_outcomes: dict[int, Any],
        feedback: Any,
    ) -> str:
        """The page for this request, the attempt being the visitor's (or None)."""
        shown = self.shown_to(attempt)
        steps = _steps_context(shown)
        context = {
            **self.context,
            **steps,
            "attempt": attempt,
            "attempt_open": attempt_open,
            "current_outcomes": current_outcomes,
            "feedback": feedback,
            **_current_step(shown, attempt, current_outcomes, attempt_open),
        }
        if self.version is None:
            return render_to_string(TEMPLATE, context, request)
        # The reader's language (LocaleMiddleware) shapes the header; the attempt's presence
        # and openness decide which forms the page has; the steps come in the visitor's order.
        key = (translation.get_language(), attempt is None, attempt_open, steps["step_order"])
        body = self._body(key)
        if body is None:
            # Rendered with no visitor's data at all: with no attempt, its parts are
            # settled (every such visitor sees the same); with one, they stay holes.
            body = render_with_holes(
                TEMPLATE,
                {
                    **self.context,
                    **steps,
                    "attempt": None,
                    "attempt_open": attempt_open,
                    "current_outcomes": {},
                    "feedback": None,
                    **_current_step(shown, None, {}, attempt_open),
                },
                settled={"attempt"} if attempt is None else (),
            )
            self._keep(key, body)
        return body.fill(request, context)


class _Pages:
    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._pages: OrderedDict[tuple[str, str, str], GuidePage] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple[str, str, str]) -> GuidePage | None:
        with self._lock:
            page = self._pages.get(key)
            if page is not None:
                self._pages.move_to_end(key)
            return page

    def put(self, key: tuple[str, str, str], page: GuidePage) -> None:
        with self._lock:
            self._pages[key] = page
            self._pages.move_to_end(key)
            while len(self._pages) > self.limit:
                self._pages.popitem(last=False)

    def drop(self, key: tuple[str, str, str]) -> None:
        with self._lock:
            self._pages.pop(key, None)

    def clear(self) -> None:
        with self._lock:
            self._pages.clear()


_pages = _Pages(MAX_GUIDES)


def _load(company: str, language: str, slug: str, version: int | None) -> GuidePage:
    guide = get_object_or_404(
        selectors.published_guide_detail(), company__slug=company, language=language, slug=slug
    )
    return GuidePage(
        guide=guide,
        context={
            "guide": guide,
            "translations": list(selectors.guide_translations(guide=guide)),
            "related": list(selectors.related_guides(guide=guide)),
        },
        version=version,
        shown=selectors.steps_shown(guide=guide),
    )


def guide_page(
    *, company: str, language: str, slug: str, counts_view: Callable[[int], bool]
) -> GuidePage:
    """The published guide at this address, kept or loaded now; raises Http404.

    ``counts_view(guide_id)`` says whether this request counts as a view of the guide
    (guides.view_counts.guide_page_view_counts); the view is counted in the round trip that
    reads the token, or after loading for a guide this process did not keep."""
    key = (company, language, slug)
    kept = _pages.get(key)
    counted = kept is not None and counts_view(kept.guide.pk)
    version = _version(kept.guide.pk if kept is not None and counted else None)
    if version is None:
        counted = False  # the view went with the token
        _pages.clear()  # cannot be checked; and it may miss edits made meanwhile
    elif (
        kept is not None and kept.version == version and time.monotonic() - kept.loaded_at < MAX_AGE
    ):
        return kept
    try:
        page = _load(company, language, slug, version)
    except Exception:
        _pages.drop(key)
        if counted:
            guide_view_unrecord(guide_id=kept.guide.pk)  # type: ignore[union-attr]
        raise
    if kept is None or kept.guide.pk != page.guide.pk:
        if counted:
            guide_view_unrecord(guide_id=kept.guide.pk)  # type: ignore[union-attr]
        if counts_view(page.guide.pk):
            guide_view_record(guide_id=page.guide.pk)
    if version is not None:
        _pages.put(key, page)
    return page


def guide_pages_forget() -> None:
    """Drop every page this process keeps (tests: the database rolls back under them)."""
    _pages.clear()
