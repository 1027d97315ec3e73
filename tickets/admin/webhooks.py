"""Webhooks out, for supervisors: the endpoints (the secret shown once, when made or rotated)
and the delivery log, with redelivery. Every change goes through tickets.services.webhooks."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from helpdesk.errors import ServiceError
from tickets.models import WebhookDelivery, WebhookEndpoint, WebhookEventType
from tickets.services import webhooks


class WebhookEndpointForm(forms.ModelForm):
    # Checked by the service (http or https, an allowed address), not by URLField's guesses.
    url = forms.CharField(label=_("URL"), max_length=500)
    events = forms.MultipleChoiceField(
        label=_("Events"), choices=WebhookEventType.choices, widget=forms.CheckboxSelectMultiple
    )

    class Meta:
        model = WebhookEndpoint
        fields = ["name", "url", "events", "is_active"]

    def clean_url(self) -> str:
        url = self.cleaned_data["url"]
        if self.instance.pk is not None and url == self.instance.url:
            return url
        try:
            return webhooks.webhook_url_check(url)
        except ServiceError as error:
            raise forms.ValidationError(error.message) from None


def _secret_message(request: HttpRequest, endpoint: WebhookEndpoint, secret: str) -> None:
    # The only time the secret is shown: the receiver's owner copies it now.
    messages.success(
        request,
        format_html(
            str(_("The signing secret of “{}”, shown only this once — copy it now: {}")),
            endpoint.name,
            format_html('<code class="webhook-secret">{}</code>', secret),
        ),
    )


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(admin.ModelAdmin):
    form = WebhookEndpointForm
    list_display = [
        "name", "url", "events_display", "is_active", "consecutive_failures", "disabled_at",
        "deliveries_link",
    ]  # fmt: skip
    list_filter = ["is_active"]
    search_fields = ["name", "url"]
    actions = ["rotate_secret"]
    readonly_fields = [
        "consecutive_failures", "disabled_reason", "disabled_at", "previous_secret_expires_at",
        "created_by", "created_at", "deliveries_link",
    ]  # fmt: skip

    def get_fields(self, request: HttpRequest, obj=None):
        if obj is None:
            return ["name", "url", "events"]
        return ["name", "url", "events", "is_active", *self.readonly_fields]

    def get_readonly_fields(self, request: HttpRequest, obj=None):
        return [] if obj is None else list(self.readonly_fields)

    @admin.display(description=_("Events"))
    def events_display(self, endpoint: WebhookEndpoint) -> str:
        return ", ".join(endpoint.events)

    @admin.display(description=_("Deliveries"))
    def deliveries_link(self, endpoint: WebhookEndpoint) -> str:
        if endpoint.pk is None:
            return ""
        url = reverse("admin:tickets_webhookdelivery_changelist")
        return format_html('<a href="{}?endpoint__id__exact={}">{}</a>', url, endpoint.pk, _("Log"))

    def save_model(self, request: HttpRequest, obj: WebhookEndpoint, form, change: bool) -> None:
        data = form.cleaned_data
        if not change:
            endpoint, secret = webhooks.webhook_endpoint_register(
                name=data["name"], url=data["url"], events=data["events"], actor=request.user
            )
            obj.pk = endpoint.pk
            _secret_message(request, endpoint, secret)
            return
        webhooks.webhook_endpoint_update(
            endpoint=obj, actor=request.user, name=data["name"], url=data["url"],
            events=data["events"], is_active=data["is_active"],
        )  # fmt: skip

    def delete_model(self, request: HttpRequest, obj: WebhookEndpoint) -> None:
        webhooks.webhook_endpoint_delete(endpoint=obj, actor=request.user)

    @admin.action(description=_("Rotate the signing secret"), permissions=["change"])
    def rotate_secret(self, request: HttpRequest, queryset: QuerySet[WebhookEndpoint]) -> None:
        for endpoint in queryset:
            _secret_message(
                request,
                endpoint,
                webhooks.webhook_secret_rotate(endpoint=endpoint, actor=request.user),
            )


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(admin.ModelAdmin):
    """The delivery log: read-only, with redelivery for whoever may change endpoints."""

    list_display = [
        "event_type", "endpoint", "status", "attempts", "last_status_code", "last_attempt_at",
        "delivered_at", "next_retry_at", "last_response",
    ]  # fmt: skip
    list_filter = ["status", "event_type", "endpoint"]
    list_select_related = ["endpoint"]
    search_fields = ["event_id"]
    actions = ["redeliver"]
    fields = (
        "endpoint", "event_id", "event_type", "status", "attempts", "last_status_code",
        "last_response", "last_attempt_at", "next_retry_at", "delivered_at", "created_at",
        "payload",
    )  # fmt: skip
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_redeliver_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("tickets.change_webhookendpoint")

    @admin.action(description=_("Redeliver now"), permissions=["redeliver"])
    def redeliver(self, request: HttpRequest, queryset: QuerySet[WebhookDelivery]) -> None:
        sent = 0
        for delivery in queryset:
            try:
                webhooks.webhook_redeliver(delivery=delivery, actor=request.user)
            except ServiceError as error:
                self.message_user(request, error.message, messages.ERROR)
            else:
                sent += 1
        if sent:
            self.message_user(
                request,
                ngettext("%(count)d delivery sent again.", "%(count)d deliveries sent again.", sent)
                % {"count": sent},
            )
