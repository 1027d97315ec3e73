"""Who else has a ticket's work page open, and who is typing a reply on it: the collision
warning of the work page.

Each open work page beats every PRESENCE_BEAT_SECONDS (tickets/static/tickets/presence.js);
a beat stores the agent in the cache under the ticket, with the time of the beat and whether
they typed since the last one. An entry older than PRESENCE_EXPIRY_SECONDS is gone: the page
was closed, or the agent's machine went to sleep. Nothing is written to the database, and
no server of its own is needed: a beat is one small POST to the admin.

The entries of one ticket are one cache value, read and written back by each beat. Two beats
at the same moment may lose one agent's entry; their next beat puts it back, so the warning
is late by one beat at worst. A cache that is down (helpdesk.cache fails open) shows nobody.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from django.core.cache import cache

PRESENCE_BEAT_SECONDS = 15
# Three beats: a late beat (a busy browser tab) does not make the agent vanish.
PRESENCE_EXPIRY_SECONDS = 3 * PRESENCE_BEAT_SECONDS


@dataclass(frozen=True)
class Presence:
    user_id: int
    name: str
    typing: bool
    seen_at: float


def _key(ticket_id: int) -> str:
    return f"tickets.presence.{ticket_id}"


def _fresh(entries: dict, now: float) -> dict:
    return {
        user_id: entry
        for user_id, entry in entries.items()
        if isinstance(entry, dict) and now - entry.get("seen_at", 0) < PRESENCE_EXPIRY_SECONDS
    }


def presence_beat(
    *, ticket_id: int, user_id: int, name: str, typing: bool, now: float | None = None
) -> None:
    """Record that the user has the ticket's page open (and is typing a reply, or not)."""
    now = time.time() if now is None else now
    entries = _fresh(cache.get(_key(ticket_id)) or {}, now)
    entries[str(user_id)] = {"name": name, "typing": typing, "seen_at": now}
    cache.set(_key(ticket_id), entries, timeout=PRESENCE_EXPIRY_SECONDS)


def presence_leave(*, ticket_id: int, user_id: int) -> None:
    """The user left the page (it sends a last beat as it unloads)."""
    entries = cache.get(_key(ticket_id)) or {}
    if entries.pop(str(user_id), None) is not None:
        cache.set(_key(ticket_id), entries, timeout=PRESENCE_EXPIRY_SECONDS)


def presence_others(*, ticket_id: int, user_id: int, now: float | None = None) -> list[Presence]:
    """The other people on the ticket's page right now, those typing first, then by name."""
    now = time.time() if now is None else now
    others = [
        Presence(
            user_id=int(uid),
            name=str(entry.get("name", "")),
            typing=bool(entry.get("typing")),
            seen_at=float(entry["seen_at"]),
        )
        for uid, entry in _fresh(cache.get(_key(ticket_id)) or {}, now).items()
        if uid != str(user_id)
    ]
    return sorted(others, key=lambda p: (not p.typing, p.name, p.user_id))
