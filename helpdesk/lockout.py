"""Admin sign-in lockout (django-axes): the address it counts and the page it answers with.

Settings in helpdesk/settings.py (AXES_*); supervisors see and lift lockouts in the admin
(Axes › Access attempts: delete the rows of a username or an address).
"""

from __future__ import annotations

import ipaddress
import math

from axes import admin as axes_admin
from axes.models import AccessAttempt
from django.conf import settings
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.db.models import Case, F, QuerySet, Sum, Value, When, Window
from django.db.models.functions import Greatest
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from helpdesk.http import client_address


def lockout_client_address(request: HttpRequest) -> str | None:
    """The address failed sign-ins count against: the one every per-address limit uses
    (helpdesk.http.client_address, which honours TRUSTED_PROXY_COUNT), so one client is one
    client everywhere. Axes keeps it in an IP address column: anything else (a forwarded
    header written by a client when TRUSTED_PROXY_COUNT is set too high) is None, counted in
    one shared bucket rather than failing the sign-in."""
    try:
        return str(ipaddress.ip_address(client_address(request).strip()))
    except ValueError:
        return None


def lockout_username(request: HttpRequest, credentials: dict | None = None) -> str | None:
    """The username failed sign-ins count against, cut to the longest a user can have: axes
    stores it in a 255-character column, and a longer one (which names no account anyway)
    would end the sign-in in a database error instead of a refusal."""
    source = credentials if credentials else getattr(request, "POST", {})
    username = source.get("username")
    if not isinstance(username, str):
        return None
    return username[: get_user_model()._meta.get_field("username").max_length]


def lockout_response(
    request: HttpRequest, original_response: HttpResponse | None = None, credentials=None
) -> HttpResponse:
    """The admin's own page, in the interface language, instead of axes' bare text; 429 with
    Retry-After, which a script understands too. The wait restarts with each refused try."""
    cool_off = int(settings.AXES_COOLOFF_TIME.total_seconds())
    context = {
        **admin.site.each_context(request),
        "title": _("Signing in is paused"),
        "minutes": max(1, math.ceil(cool_off / 60)),
    }
    response = render(request, "admin/locked_out.html", context, status=429)
    response["Retry-After"] = str(cool_off)
    return response


class _LockedOutFilter(admin.SimpleListFilter):
    title = _("locked out")
    parameter_name = "locked_out"

    def lookups(self, request, model_admin):
        return [("yes", _("Yes")), ("no", _("No"))]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(worst_failures__gte=settings.AXES_FAILURE_LIMIT)
        if self.value() == "no":
            return queryset.filter(worst_failures__lt=settings.AXES_FAILURE_LIMIT)
        return queryset


class AccessAttemptAdmin(axes_admin.AccessAttemptAdmin):
    """Axes' list of failed sign-ins, with the lockout as axes decides it: a row is one
    (username, address, browser), but a username is locked by its failures from every address
    and an address by its failures for every username, so each row shows both sums over the
    attempts still inside the cool-off. To lift a lock, filter "locked out: yes" (or search
    the username or address) and delete the attempts."""

    list_display = [
        "attempt_time",
        "username",
        "ip_address",
        "user_agent",
        "failures_since_start",
        "username_failures",
        "address_failures",
        "locked_out",
    ]
    list_filter = ["attempt_time", _LockedOutFilter]

    def get_queryset(self, request: HttpRequest) -> QuerySet[AccessAttempt]:
        since = timezone.now() - settings.AXES_COOLOFF_TIME
        counted = Case(
            When(attempt_time__gte=since, then=F("failures_since_start")), default=Value(0)
        )
        username_failures = Window(Sum(counted), partition_by=[F("username")])
        address_failures = Window(Sum(counted), partition_by=[F("ip_address")])
        return (
            super()
            .get_queryset(request)
            .annotate(
                username_failures=username_failures,
                address_failures=address_failures,
                worst_failures=Greatest(username_failures, address_failures),
            )
        )

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[AccessAttempt]) -> None:
        # By primary key: a DELETE cannot carry the window annotations above.
        pks = list(queryset.values_list("pk", flat=True))
        super().delete_queryset(request, AccessAttempt.objects.filter(pk__in=pks))

    @admin.display(description=_("failures of the username"))
    def username_failures(self, attempt: AccessAttempt) -> int:
        return attempt.username_failures

    @admin.display(description=_("failures from the address"))
    def address_failures(self, attempt: AccessAttempt) -> int:
        return attempt.address_failures

    @admin.display(description=_("locked out"), boolean=True)
    def locked_out(self, attempt: AccessAttempt) -> bool:
        return attempt.worst_failures >= settings.AXES_FAILURE_LIMIT
