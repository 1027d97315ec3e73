"""``Idempotency-Key`` on the API's POSTs: a retry gets the first answer, the work runs once.

A client that lost an answer (a timeout, a dropped connection) sends the same request again
with the same key and gets the answer the first one got, without the work being done twice:
a lost 202 on /api/v1/attempt/contact/ is a 202 again, not a 409.

How it holds under concurrency: the request's record is inserted, the view runs and the answer
is written into the record, all in one transaction. A second request with the same key that
arrives meanwhile waits: on PostgreSQL its insert blocks on the unique index until the first
commits (then fails, and the retry finds the answer to replay) or rolls back (then it does the
work itself); on SQLite every transaction starts with BEGIN IMMEDIATE, so it waits for the
write lock and then finds the answer. The database, not the cache: the cache fails open in a
Redis outage, and the file cache of the embedded default has no atomic insert.

Whose key it is (the scope): the user the view authenticates (API token or session); for
anonymous customers their credential header (the attempt's token, the ticket's secret); with
neither (starting an attempt, rating a guide) the client's address. Only an HMAC of the scope
is stored, never the credential or the address.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.db import IntegrityError, transaction
from django.http import HttpRequest, HttpResponse, HttpResponseBase, JsonResponse
from django.urls import Resolver404, resolve
from django.utils import timezone
from django.utils.crypto import salted_hmac
from django.utils.translation import gettext
from rest_framework.exceptions import APIException
from rest_framework.request import Request
from rest_framework.views import APIView
from rest_framework.viewsets import ViewSetMixin

from helpdesk.api.errors import error_body
from helpdesk.http import client_address
from helpdesk.models import IdempotencyRecord

logger = logging.getLogger(__name__)

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
KEY_MAX_LENGTH = 255
# Visible ASCII, spaces inside only (surrounding blanks are not part of a header's value). The
# schema publishes the same rule (helpdesk.api.schema), so clients and schemathesis know it.
KEY_PATTERN = r"^[!-~](?:[ -~]{0,253}[!-~])?$"
API_PREFIX = "/api/"
# The anonymous customers' credentials (guides.api.attempts.TOKEN_HEADER_NAME and
# tickets.api.views.SECRET_HEADER_NAME; named here as helpdesk imports neither app).
CREDENTIAL_HEADERS = ("X-Attempt-Token", "X-Ticket-Secret")

# Answers worth replaying: success, and refusals of the request's own content, which the same
# request would get again. Not stored, so a retry runs again: 5xx (nothing was done, or it was
# rolled back), 401/403 (credentials and roles change), 404 (a guess at a token or a reference
# must not leave a row behind; a retry costs nothing), 409 (the state of the ticket or the
# attempt, which moves on) and 429 (the throttle, which lifts).
REPLAYED_REFUSALS = frozenset({400, 413, 415})
# Response headers a replay repeats; the outer middleware adds the rest (security, language)
# to the replay as they did to the first answer. Set-Cookie is never repeated.
REPLAYED_HEADERS = ("Content-Type", "Location", "Allow", "Vary")


def key_ttl() -> timedelta:
    return timedelta(seconds=settings.IDEMPOTENCY_KEY_TTL)


def key_is_valid(key: str) -> bool:
    return 0 < len(key) <= KEY_MAX_LENGTH and all(" " <= char <= "~" for char in key)


def answer_is_replayed(response: HttpResponseBase) -> bool:
    if response.streaming:
        return False
    return 200 <= response.status_code < 300 or response.status_code in REPLAYED_REFUSALS


def request_fingerprint(request: HttpRequest, body: bytes) -> str:
    digest = hashlib.sha256()
    for part in (request.method or "", request.get_full_path(), hashlib.sha256(body).hexdigest()):
        digest.update(part.encode() + b"\n")
    return digest.hexdigest()


def caller_scope(request: HttpRequest) -> str | None:
    """Who is asking, as the view will see it; None when the view will refuse the caller (a
    wrong or missing token, a session without its CSRF token, a role without the permission):
    that refusal is the view's to give, and is never stored or replayed."""
    try:
        match = resolve(request.path_info)
    except Resolver404:
        return None
    view_class = getattr(match.func, "cls", None)
    if not (isinstance(view_class, type) and issubclass(view_class, APIView)):
        return None
    view = view_class(**getattr(match.func, "initkwargs", {}))
    # The view's own authenticators, so a key is scoped to the user the view will act for;
    # its parsers too, as the session's CSRF check reads the body.
    api_request = Request(
        request, parsers=view.get_parsers(), authenticators=view.get_authenticators()
    )
    view.request, view.args, view.kwargs = api_request, match.args, match.kwargs
    if isinstance(view, ViewSetMixin):
        view.action = match.func.actions.get("post", "")  # type: ignore[attr-defined]
    try:
        user = api_request.user
        if not all(rule.has_permission(api_request, view) for rule in view.get_permissions()):
            return None
    except APIException:
        return None
    if user is not None and user.is_authenticated:
        return f"user:{user.pk}"
    credentials = [
        f"{name}:{request.headers[name].strip()}"
        for name in CREDENTIAL_HEADERS
        if request.headers.get(name, "").strip()
    ]
    if credentials:
        return "\n".join(credentials)
    return f"address:{client_address(request)}"


def scope_hash(scope: str) -> str:
    return salted_hmac("helpdesk.idempotency.scope", scope, algorithm="sha256").hexdigest()


def replay(record: IdempotencyRecord) -> HttpResponse:
    response = HttpResponse(bytes(record.response_body), status=record.status_code)
    if "Content-Type" not in record.response_headers:
        del response["Content-Type"]
    for name, value in record.response_headers.items():
        response[name] = value
    response[REPLAYED_HEADER] = "true"
    return response


def key_invalid_response() -> JsonResponse:
    message = gettext("Send 1 to 255 visible ASCII characters (spaces only inside).")
    body = error_body(400, "invalid", "Invalid input.", {HEADER: [message]})
    return JsonResponse(body, status=400)


def key_reused_response() -> JsonResponse:
    detail = gettext(
        "This Idempotency-Key was sent before with another request: a new request needs a new key."
    )
    return JsonResponse(error_body(422, "idempotency_key_reused", detail), status=422)


class IdempotencyMiddleware:
    """Innermost, so the outer middleware (security headers, language, the outage answer)
    treats a replay exactly as it treated the first answer."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        if (
            request.method != "POST"
            or not request.path_info.startswith(API_PREFIX)
            or HEADER not in request.headers
        ):
            return self.get_response(request)
        key = request.headers[HEADER].strip()
        if not key_is_valid(key):
            return key_invalid_response()
        try:
            body = request.body
        except RequestDataTooBig:
            # Refused by the view as it is today; a refusal of the size is not replayed.
            return self.get_response(request)
        scope = caller_scope(request)
        if scope is None:
            return self.get_response(request)
        return self.answer_once(
            request, scope_hash=scope_hash(scope), key=key,
            fingerprint=request_fingerprint(request, body),
        )  # fmt: skip

    def answer_once(
        self, request: HttpRequest, *, scope_hash: str, key: str, fingerprint: str
    ) -> HttpResponseBase:
        # Three tries at most: each failed insert means another request with this key
        # committed its answer (then the next try replays it) or expired in between.
        for _try in range(3):
            with transaction.atomic():
                record = IdempotencyRecord.objects.filter(scope_hash=scope_hash, key=key).first()
                if record is not None and record.created_at > timezone.now() - key_ttl():
                    if record.request_fingerprint != fingerprint:
                        return key_reused_response()
                    return replay(record)
                if record is not None:
                    record.delete()  # expired: the key is free again
                try:
                    with transaction.atomic():
                        record = IdempotencyRecord.objects.create(
                            scope_hash=scope_hash, key=key, request_fingerprint=fingerprint,
                            status_code=0,
                        )  # fmt: skip
                except IntegrityError:
                    continue
                return self.answer_and_record(request, record)
        # Only a key expiring and being reused again and again gets here.
        logger.warning("Idempotency-Key %r: no answer after three tries", key)
        return self.get_response(request)

    def answer_and_record(
        self, request: HttpRequest, record: IdempotencyRecord
    ) -> HttpResponseBase:
        """Runs in the record's transaction: the answer is stored, or the record goes."""
        response = self.get_response(request)
        if not answer_is_replayed(response):
            record.delete()
            if response.status_code >= 500:
                # The client will retry this key; what the failed request wrote must not be
                # there for the retry to trip over (or to be done twice).
                transaction.set_rollback(True)
            return response
        assert isinstance(response, HttpResponse)  # not streaming: checked above
        record.status_code = response.status_code
        record.response_body = response.content
        record.response_headers = {
            name: response[name] for name in REPLAYED_HEADERS if response.has_header(name)
        }
        record.save(update_fields=["status_code", "response_body", "response_headers"])
        return response


def idempotency_records_purge(*, now=None) -> int:
    """Delete the records past IDEMPOTENCY_KEY_TTL (they are ignored already); returns how many."""
    cutoff = (now or timezone.now()) - key_ttl()
    deleted, _by_model = IdempotencyRecord.objects.filter(created_at__lte=cutoff).delete()
    return deleted
