"""Who is reading: a random visitor id in a signed cookie, with the guides it viewed today.

It gives anonymous readers the two limits self-help needs without storing anything about them
on the server, their address included:

- one answer to "was this helpful?" per visitor and guide (the database keeps only a hash of
  the guide and the visitor id, ``Feedback.voter``; see guides.services.feedback_give);
- one counted view per visitor, guide and day (the cookie lists the guides viewed today, so
  deciding costs no cache or database round trip; see guides.view_counts).

A client that drops its cookies is a new visitor each time; what bounds it is the per-address
throttle on answers (FEEDBACK_RATE) and, for views, that obvious bots are not counted.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass, field
from datetime import date

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils import timezone

from helpdesk.api.throttling import CounterRateThrottle

VISITOR_COOKIE = "visitor"
VISITOR_COOKIE_AGE = 60 * 60 * 24 * 365
_SALT = "guides.visitors"
# A reader who opens more guides in a day is a crawler; the oldest drop out of the list.
MAX_VIEWED_PER_DAY = 100
_VISITOR_ID = re.compile(r"^[A-Za-z0-9_-]{22,64}$")
_REQUEST_ATTRIBUTE = "_guides_visitor"


@dataclass
class Visitor:
    id: str
    day: str = ""  # the day (ISO, TIME_ZONE) that ``viewed`` is about
    viewed: list[int] = field(default_factory=list)
    changed: bool = False  # the cookie must be sent again

    def view_is_first_today(self, guide_id: int) -> bool:
        """Note a view of the guide; True when it is the visitor's first today."""
        today = timezone.localdate().isoformat()
        if self.day != today:
            self.day, self.viewed, self.changed = today, [], True
        if guide_id in self.viewed:
            return False
        self.viewed = [*self.viewed, guide_id][-MAX_VIEWED_PER_DAY:]
        self.changed = True
        return True

    def _cookie_value(self) -> str:
        return f"{self.id}|{self.day}|{'.'.join(map(str, self.viewed))}"


def _parse(value: str) -> Visitor | None:
    parts = value.split("|")
    if len(parts) != 3 or not _VISITOR_ID.match(parts[0]):
        return None
    visitor_id, day, viewed = parts
    try:
        date.fromisoformat(day)
        guide_ids = [int(guide_id) for guide_id in viewed.split(".") if guide_id]
    except ValueError:
        return Visitor(id=visitor_id, changed=True)  # keep the id, start the day afresh
    return Visitor(id=visitor_id, day=day, viewed=guide_ids[-MAX_VIEWED_PER_DAY:])


def visitor_of(request: HttpRequest) -> Visitor:
    """The request's visitor, from its cookie, or a new one (then sent by visitor_remember).
    The same object for the whole request."""
    known = getattr(request, _REQUEST_ATTRIBUTE, None)
    if known is not None:
        return known
    value = request.get_signed_cookie(
        VISITOR_COOKIE, default=None, salt=_SALT, max_age=VISITOR_COOKIE_AGE
    )
    visitor = _parse(value) if value else None
    if visitor is None:
        visitor = Visitor(id=secrets.token_urlsafe(16), changed=True)
    setattr(request, _REQUEST_ATTRIBUTE, visitor)
    return visitor


def visitor_remember(response: HttpResponse, visitor: Visitor) -> None:
    if not visitor.changed:
        return
    response.set_signed_cookie(
        VISITOR_COOKIE,
        visitor._cookie_value(),
        salt=_SALT,
        max_age=VISITOR_COOKIE_AGE,
        httponly=True,
        secure=settings.SESSION_COOKIE_SECURE,
        samesite="Lax",
    )


class FeedbackThrottle(CounterRateThrottle):
    """Answers to "was this helpful?" per client address, on the web page and the API alike
    (FEEDBACK_RATE): the bound on a client that drops its cookies to vote again. The key is
    the one DRF's ScopedRateThrottle gives an anonymous client for scope "feedback", which the
    API's feedback views use, so both share one budget."""

    scope = "feedback"

    def get_cache_key(self, request, view) -> str:
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}

    def allow_answer(self, request: HttpRequest) -> bool:
        """For the guide page's form: a plain Django request does, as the key reads only
        request.META."""
        return self.allow_request(request, None)  # type: ignore[arg-type]
