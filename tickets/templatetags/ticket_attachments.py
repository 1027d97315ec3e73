"""Signed download links of attachments, for the status page and the work page:
``{{ attachment|attachment_url }}`` (tickets.services.attachment_link_token)."""

from __future__ import annotations

from django import template
from django.urls import reverse

from tickets.models import Attachment
from tickets.services.attachments import attachment_link_token

register = template.Library()


@register.filter
def attachment_url(attachment: Attachment) -> str:
    return reverse("tickets:attachment", kwargs={"token": attachment_link_token(attachment)})
