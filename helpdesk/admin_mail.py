"""The e-mails kept on the embedded default (helpdesk.mail), listed in the admin for staff:
newest first, and each with its text and its HTML, the HTML in a sandboxed frame.

Only while the configured backend keeps e-mails (EMAIL_URL=folder://, the default with DEBUG
on); with any other backend every page here is a 404. Routed in helpdesk/urls.py, ahead of the
admin's own URLs and wrapped in admin_view (staff only, signed in, never cached).
"""

from __future__ import annotations

from pathlib import Path

from django.contrib import admin
from django.http import Http404, HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.utils.html import format_html
from django.utils.translation import gettext as _
from django.views.decorators.clickjacking import xframe_options_sameorigin

from helpdesk import mail

# The HTML part is the e-mail's, not ours: no script, no request anywhere (not even to this
# site), no form; inline styles, which e-mails live on, and inline images only. The sandbox
# directive repeats the frame's own sandbox attribute, for a page opened outside the frame.
HTML_PART_POLICY = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; form-action 'none'; "
    "base-uri 'none'; frame-ancestors 'self'; sandbox"
)


def _folder() -> Path:
    folder = mail.mail_folder()
    if folder is None:
        raise Http404("E-mails are not kept with this EMAIL_URL.")
    return folder


def _mail(name: str) -> mail.KeptMail:
    kept = mail.kept_mail(_folder(), name)
    if kept is None:
        raise Http404("No such e-mail.")
    return kept


def mail_list(request: HttpRequest) -> TemplateResponse:
    folder = _folder()
    mails = mail.kept_mails(folder)
    context = {
        **admin.site.each_context(request),
        "title": _("Outgoing e-mails"),
        "subtitle": None,
        "mails": mails,
        # A path inside a sentence that may be Arabic: isolated, left to right.
        "folder": format_html('<bdi dir="ltr"><code>{}</code></bdi>', folder),
        "limited": len(mails) >= mail.LIST_LIMIT,
        "limit": mail.LIST_LIMIT,
    }
    return TemplateResponse(request, "admin/mail/list.html", context)


def mail_detail(request: HttpRequest, name: str) -> TemplateResponse:
    kept = _mail(name)
    context = {
        **admin.site.each_context(request),
        "title": kept.subject or _("(no subject)"),
        "subtitle": None,
        "mail": kept,
    }
    return TemplateResponse(request, "admin/mail/detail.html", context)


@xframe_options_sameorigin
def mail_html(request: HttpRequest, name: str) -> HttpResponse:
    kept = _mail(name)
    if not kept.html:
        raise Http404("This e-mail has no HTML part.")
    response = HttpResponse(kept.html, content_type="text/html; charset=utf-8")
    # Set here, django-csp's middleware leaves it as it is.
    response["Content-Security-Policy"] = HTML_PART_POLICY
    return response
