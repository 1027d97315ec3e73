"""Replies by e-mail from a provider: django-anymail's Mailgun inbound webhook, behind a rate
limit per client, and the receiver of anymail's inbound signal that hands each message to
tickets.services.inbound_email_receive (docs/email.md).

Anymail checks the request: Mailgun's HMAC-SHA256 signature of its timestamp and token under
MAILGUN_WEBHOOK_SIGNING_KEY, and HTTP basic auth when ANYMAIL_WEBHOOK_SECRET is set; a request
that fails either is answered 400 and nothing is read. The message is stored and recorded
before the answer, so a 200 means it is in the database; an error answers 500 and Mailgun
delivers it again (stored once, by its Message-ID).
"""

from __future__ import annotations

import logging
import time
from typing import Any

from anymail.exceptions import AnymailWebhookValidationFailure
from anymail.signals import AnymailInboundEvent, inbound
from anymail.webhooks.mailgun import MailgunInboundWebhookView
from django.conf import settings
from django.dispatch import receiver
from django.http import Http404, HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt

from helpdesk.http import client_address
from helpdesk.limits import AddressLimit, too_many_requests
from tickets.models import InboundEmail
from tickets.services.inbound_email import inbound_email_receive

logger = logging.getLogger(__name__)

# Mailgun's signature covers its timestamp and token, not the message: a signed request seen
# once could carry another message later. Beyond this age (seconds, either way) it is refused.
SIGNATURE_MAX_AGE = 15 * 60


class MailgunInboundView(MailgunInboundWebhookView):
    def validate_request(self, request: HttpRequest) -> None:
        # Anymail calls every validate_request of the class chain: the signature's first.
        try:
            age = abs(time.time() - int(request.POST.get("timestamp", "")))
        except ValueError as error:
            raise AnymailWebhookValidationFailure("Mailgun timestamp missing") from error
        if age > SIGNATURE_MAX_AGE:
            raise AnymailWebhookValidationFailure("Mailgun timestamp too old")


def webhook_posts() -> AddressLimit:
    """POSTs to the inbound webhook per client: the provider's few servers, or someone
    trying signatures."""
    return AddressLimit(
        "inbound-webhook", settings.INBOUND_WEBHOOK_LIMIT, settings.INBOUND_WEBHOOK_WINDOW
    )


@csrf_exempt
def mailgun_inbound(request: HttpRequest) -> HttpResponse:
    """Anymail's Mailgun inbound view at its usual path; 404 while no signing key is set
    (an empty key would make every signature easy to forge)."""
    if not settings.ANYMAIL.get("MAILGUN_WEBHOOK_SIGNING_KEY"):
        raise Http404
    retry_after = webhook_posts().take(client_address(request))
    if retry_after is not None:
        return too_many_requests(request, retry_after, reason="writes")
    response: HttpResponse = MailgunInboundView.as_view()(request)
    return response


@receiver(inbound, dispatch_uid="tickets.inbound_webhook.received")
def _inbound_received(
    sender: Any, *, event: AnymailInboundEvent, esp_name: str, **kwargs: Any
) -> None:
    message = event.message
    if message is None:
        return
    request = event.esp_event
    raw = None
    # Mailgun's "raw MIME" route posts the message as received; keep those bytes.
    if isinstance(request, HttpRequest) and "body-mime" in request.POST:
        raw = str(request.POST["body-mime"]).encode("utf-8", "surrogateescape")
    inbound_email_receive(
        message=message,
        raw=raw,
        channel=InboundEmail.Channel.WEBHOOK,
        envelope_recipients=[message.envelope_recipient] if message.envelope_recipient else [],
    )
