"""Token authentication for the ticket API: ``Authorization: Token <key>`` (or ``Bearer``).

Tokens are created and revoked in the admin (tickets.models.ApiToken); only the SHA-256 of the
key is stored, so the key is looked up by its hash.
"""

from __future__ import annotations

from datetime import timedelta

from django.db.models import Q
from django.utils import timezone
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication, get_authorization_header

from tickets.models import ApiToken, api_token_key_hash

KEYWORDS = (b"token", b"bearer")
# last_used_at is for audits ("is this integration still alive?"), not a log of requests: one
# write a minute per token at most, so a busy integration does not write on every read.
LAST_USED_RESOLUTION = timedelta(minutes=1)


class ApiTokenAuthentication(BaseAuthentication):
    """No constant-time comparison is needed here: the lookup is by SHA-256 of the key, and
    timing an index lookup on a hash tells an attacker nothing about a key that matches it."""

    def authenticate(self, request):
        parts = get_authorization_header(request).split()
        if not parts or parts[0].lower() not in KEYWORDS:
            return None  # not ours: the session (browsable API) may still authenticate
        if len(parts) != 2:
            raise exceptions.AuthenticationFailed("Send the header as: Token <key>.")
        try:
            key = parts[1].decode("ascii")
        except UnicodeDecodeError:
            raise exceptions.AuthenticationFailed("Invalid or revoked token.") from None
        token = (
            ApiToken.objects.select_related("user")
            .filter(key_hash=api_token_key_hash(key), revoked_at__isnull=True, user__is_active=True)
            .first()
        )
        if token is None:
            raise exceptions.AuthenticationFailed("Invalid or revoked token.")
        self._last_used_record(token)
        return token.user, token

    def authenticate_header(self, request) -> str:
        # Present on the first authentication class, it makes DRF answer 401 (not 403) to a
        # request without credentials.
        return 'Token realm="api"'

    @staticmethod
    def _last_used_record(token: ApiToken) -> None:
        now = timezone.now()
        stale = now - LAST_USED_RESOLUTION
        if token.last_used_at is not None and token.last_used_at > stale:
            return
        # Conditional: of many requests racing past the check above, one writes.
        ApiToken.objects.filter(
            Q(last_used_at__isnull=True) | Q(last_used_at__lte=stale), pk=token.pk
        ).update(last_used_at=now)


class ApiTokenAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = "tickets.api.authentication.ApiTokenAuthentication"
    name = "apiToken"

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": (
                "An API token created in the admin, sent as `Token <key>` "
                "(`Bearer <key>` is accepted too)."
            ),
        }
