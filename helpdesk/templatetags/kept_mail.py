"""The admin header's link to the kept e-mails (helpdesk.admin_mail), where there are any."""

from __future__ import annotations

from django import template
from django.urls import reverse

from helpdesk.mail import mail_folder

register = template.Library()


@register.simple_tag
def kept_mail_url() -> str:
    """The mail page's address while the configured backend keeps e-mails in a folder (the
    embedded default with DEBUG); empty otherwise, when the page would answer 404."""
    return reverse("admin_mail") if mail_folder() is not None else ""
