"""The search log: each customer search, and whether a result was opened from it.

The content gaps (guides.gaps) read it to show authors what customers looked for and did not
find. What is kept of a search is its words as the search read them (``search_log_query``),
the company it was limited to, the language, how many results it had, when, and later the
guide opened from its results; nothing about who searched.

On the way of every search, so it costs one INSERT (and, on the pages, the client's budget
counted with the other anonymous writes, helpdesk.limits.search_log_writes): no count kept
in a shared row. A result link carries the search's id, signed (``search_click_token``); the
click is one conditional UPDATE of that row alone, the first opened result winning.

Kept SEARCH_LOG_RETENTION_DAYS days: guides.tasks.prune_search_log deletes older rows.
"""

from __future__ import annotations

import functools
import re
from datetime import timedelta

from django.conf import settings
from django.core import signing
from django.db import connection
from django.http import HttpRequest
from django.utils import timezone

from guides.models import Company, Language, SearchLog, SearchSource
from guides.search import MAX_QUERY_CHARS, MAX_QUERY_TOKENS, QUERY_STOPWORDS, normalise
from guides.view_counts import BOT_USER_AGENT
from helpdesk.sql import quoted

_CLICK_SALT = "guides.search_log.click"
# A link followed later than this is not a click on a search's results any more.
CLICK_MAX_AGE = 24 * 60 * 60  # seconds
PRUNE_BATCH_SIZE = 5000
# At most this many rows per run: beat sends the task again within the hour.
PRUNE_MAX_BATCHES = 200

# E-mail addresses and links are not what a search is about, and the contact form's
# description (the words its suggestions search for) may hold the customer's own.
_ADDRESS = re.compile(r"\S+@\S+|https?://\S+|www\.\S+", re.IGNORECASE)
# Numbers of four digits or more: card numbers (in groups of four), phone numbers, order
# and account numbers. Shorter ones stay: error codes such as 404 mean something to authors.
_LONG_NUMBER = re.compile(r"^\d{4,}$")


def search_log_query(text: str) -> str:
    """The words of a search as the log keeps and groups them: the text the search reads
    (its first MAX_QUERY_CHARS characters), normalised as the search does, in the order typed,
    each word once, without question words (unless nothing else is left), e-mail addresses,
    links and long numbers; at most MAX_QUERY_TOKENS words. "" when nothing is left."""
    text = _ADDRESS.sub(" ", text[:MAX_QUERY_CHARS])
    words = [
        word for word in dict.fromkeys(normalise(text).split()) if not _LONG_NUMBER.match(word)
    ]
    meaningful = [word for word in words if word not in QUERY_STOPWORDS]
    return " ".join((meaningful or words)[:MAX_QUERY_TOKENS])[:300]


def search_log_wanted(request: HttpRequest) -> bool:
    """Whether a search made through this web request is a customer's, to be logged: a GET
    or POST from a browser that is no obvious bot (guides.view_counts.BOT_USER_AGENT, the
    rule page views follow), and not from signed-in staff. Staff open the gaps' searches to
    see what customers saw; logging those would show every handled search again."""
    user_agent = request.headers.get("User-Agent", "")
    if request.method not in ("GET", "POST") or not user_agent or BOT_USER_AGENT.search(user_agent):
        return False
    # request.user reads the session: only asked of a request that has one, so a customer
    # without a session cookie costs no query.
    if settings.SESSION_COOKIE_NAME in request.COOKIES:
        user = getattr(request, "user", None)
        if user is not None and user.is_staff:
            return False
    return True


def search_record(
    *,
    query: str,
    company_slug: str | None,
    language: str,
    source: str,
    result_count: int,
) -> int | None:
    """Log one search; returns its id, or None when nothing was logged: the query held
    nothing to search for, the language is not ours, or the company named does not exist.

    One statement: with a company, an INSERT … SELECT that finds it by slug (a slug that
    names no company inserts nothing), else a plain INSERT."""
    words = search_log_query(query)
    if not words or language not in Language.values:
        return None
    count = max(0, min(int(result_count), 32767))
    now = timezone.now()
    if not company_slug:
        row = SearchLog.objects.create(
            query=words, language=language, source=source, result_count=count, searched_at=now
        )
        return row.pk
    with connection.cursor() as cursor:
        cursor.execute(
            _insert_with_company_sql(),
            [
                words,
                language,
                SearchSource(source).value,
                count,
                connection.ops.adapt_datetimefield_value(now),
                company_slug,
            ],
        )
        inserted = cursor.fetchone()
    return inserted[0] if inserted else None


@functools.cache
def _insert_with_company_sql() -> str:
    columns = ", ".join(
        quoted(SearchLog, name)
        for name in ("query", "language", "source", "result_count", "searched_at", "company")
    )
    return (
        f"INSERT INTO {quoted(SearchLog)} ({columns})"  # noqa: S608 (the models' own names, quoted)
        f" SELECT %s, %s, %s, %s, %s, {quoted(Company, 'pk')}"
        f" FROM {quoted(Company)} WHERE {quoted(Company, 'slug')} = %s"
        f" RETURNING {quoted(SearchLog, 'pk')}"
    )


def search_click_token(search_id: int) -> str:
    """The search's id, signed and dated, for its result links."""
    return signing.TimestampSigner(salt=_CLICK_SALT).sign(str(search_id))


def search_click_record(*, token: str, guide_id: int) -> bool:
    """Note that the guide was opened from the results of the search the token names; True
    if this was the search's first opened result. A token that is not ours, too old or
    malformed changes nothing.

    One conditional UPDATE of the search's own row: only a link of our own result pages can
    name it, and only the first click changes it, so replaying a link writes nothing."""
    if not token or len(token) > 200:
        return False
    try:
        search_id = int(
            signing.TimestampSigner(salt=_CLICK_SALT).unsign(token, max_age=CLICK_MAX_AGE)
        )
    except (signing.BadSignature, ValueError):
        return False
    updated = SearchLog.objects.filter(pk=search_id, clicked_at__isnull=True).update(
        clicked_guide_id=guide_id, clicked_at=timezone.now()
    )
    return updated == 1


def search_log_prune(*, now=None) -> int:
    """Delete the searches older than SEARCH_LOG_RETENTION_DAYS, oldest first, in batches
    (each its own short statement, so no long lock on a big table); returns how many. A run
    cut short leaves the rest for the next one."""
    cutoff = (now or timezone.now()) - timedelta(days=settings.SEARCH_LOG_RETENTION_DAYS)
    deleted = 0
    for _batch in range(PRUNE_MAX_BATCHES):
        ids = list(
            SearchLog.objects.filter(searched_at__lt=cutoff)
            .order_by("searched_at")
            .values_list("pk", flat=True)[:PRUNE_BATCH_SIZE]
        )
        if not ids:
            break
        count, _per_model = SearchLog.objects.filter(pk__in=ids).delete()
        deleted += count
        if len(ids) < PRUNE_BATCH_SIZE:
            break
    return deleted
