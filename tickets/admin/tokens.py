"""API tokens for the ticket API, made and revoked by supervisors."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from tickets.models import ApiToken, api_token_key_hash


class ApiTokenForm(forms.ModelForm):
    class Meta:
        model = ApiToken
        fields = ["user", "name"]


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    """Tokens for the ticket API. The key is made here, shown once in the message after saving,
    and only its SHA-256 and first characters are kept; a token is revoked, never deleted, so
    an audit can still follow what used it."""

    form = ApiTokenForm
    list_display = [
        "name", "user", "prefix", "created_at", "created_by", "last_used_at", "revoked_at",
    ]  # fmt: skip
    list_select_related = ["user", "created_by"]
    list_filter = [("revoked_at", admin.EmptyFieldListFilter)]
    search_fields = ["name", "prefix", "user__username"]
    actions = ["revoke"]

    def get_fields(self, request: HttpRequest, obj=None) -> tuple[str, ...]:
        if obj is None:
            return ("user", "name")
        return ("user", "name", "prefix", "created_at", "created_by", "last_used_at", "revoked_at")

    def get_readonly_fields(self, request: HttpRequest, obj=None) -> tuple[str, ...]:
        if obj is None:
            return ()
        # The user is fixed once the key exists: moving a key to someone else would hand them
        # whatever already holds it.
        return ("user", "prefix", "created_at", "created_by", "last_used_at", "revoked_at")

    def formfield_for_foreignkey(self, db_field, request: HttpRequest, **kwargs):
        if db_field.name == "user":
            users = get_user_model().objects.filter(is_active=True).order_by("username")
            if not request.user.is_superuser:
                # A token acts as its user: a supervisor must not mint one for a superuser.
                users = users.filter(is_superuser=False)
            kwargs["queryset"] = users
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def save_model(self, request: HttpRequest, obj: ApiToken, form, change: bool) -> None:
        if change:
            obj.save(update_fields=["name"])
            return
        key = ApiToken.key_new()
        obj.key_hash = api_token_key_hash(key)
        obj.prefix = key[:8]
        obj.created_by = request.user  # type: ignore[assignment]
        obj.save()
        # The only time the key exists outside the client that will use it.
        messages.success(
            request,
            format_html(
                str(_("The key of “{}”, shown only this once — copy it now: {}")),
                obj.name,
                format_html('<code class="api-token-key">{}</code>', key),
            ),
        )

    @admin.action(description=_("Revoke"), permissions=["change"])
    def revoke(self, request: HttpRequest, queryset: QuerySet[ApiToken]) -> None:
        revoked = queryset.filter(revoked_at__isnull=True).update(revoked_at=timezone.now())
        self.message_user(
            request,
            ngettext("%(count)d token revoked.", "%(count)d tokens revoked.", revoked)
            % {"count": revoked},
        )
