"""The received e-mails (replies by e-mail, docs/email.md), for supervisors to see what was
taken and what was refused and why. Read only: the service writes them."""

from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from tickets.models import InboundEmail


@admin.register(InboundEmail)
class InboundEmailAdmin(admin.ModelAdmin):
    list_display = ["received_at", "sender", "subject", "outcome", "reason", "ticket", "channel"]
    list_select_related = ["ticket"]
    list_filter = ["outcome", "reason", "channel"]
    search_fields = ["sender", "message_id", "ticket__reference"]
    date_hierarchy = "received_at"
    # The raw source can be megabytes: shown as its size, never in the list.
    exclude = ["raw"]
    readonly_fields = ["raw_size"]

    @admin.display(description=_("size of the raw message"))
    def raw_size(self, obj: InboundEmail) -> str:
        return f"{len(obj.raw):,} B"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False
