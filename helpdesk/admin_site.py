"""The admin site: it opens on each person's work, and speaks the language they chose.

A subclass of AdminSite installed as the default site (helpdesk.apps.HelpdeskAdminConfig,
Django's documented way to override it), rather than a second site or a patched
``admin.site.index``: every ``@admin.register`` and ``admin.site.register`` of the apps keeps
registering here unchanged, and ``admin:index`` stays the name every breadcrumb's "Home" and
the sign-in use, so they all lead to the same start page.

- ``/admin/`` (``admin:index``) sends each role to its work: supervisors (and superusers) to
  the queue overview, agents to their ticket list, authors to their guides. Staff with none of
  these see the stock index there.
- ``/admin/index/`` (``admin:site_index``) is the stock index of every model, always; the
  header links to it.
- ``/admin/language/`` (``admin:language``) is the header's language switch.
"""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.contrib import admin
from django.http import (
    HttpRequest,
    HttpResponse,
    HttpResponseBadRequest,
    HttpResponseNotAllowed,
    HttpResponseRedirect,
)
from django.urls import NoReverseMatch, path, reverse
from django.utils.http import url_has_allowed_host_and_scheme

from helpdesk import services
from helpdesk.errors import ServiceError
from helpdesk.staff_language import staff_language_use

# Where each role starts its day, first match wins: the permission that tells the role
# (tickets/roles.py) and the page it lands on. Names, not imports: helpdesk depends on no app.
# A superuser holds every permission, so they land on the overview, the widest view of the
# desk's work.
LANDINGS = (
    ("tickets.view_all_queues", "admin:tickets_ticket_overview"),  # supervisors
    ("tickets.view_ticket", "admin:tickets_ticket_changelist"),  # agents: "My work"
    ("guides.change_guide", "admin:guides_guide_changelist"),  # authors
)


class LanguageChoiceForm(forms.Form):
    language = forms.ChoiceField(choices=settings.LANGUAGES)
    next = forms.CharField(required=False)


class HelpdeskAdminSite(admin.AdminSite):
    site_header = "Helpdesk"
    site_title = "Helpdesk admin"

    def get_urls(self):
        return [
            path("index/", self.admin_view(self.site_index), name="site_index"),
            path("language/", self.admin_view(self.language_view), name="language"),
            *super().get_urls(),
        ]

    def landing_url(self, request: HttpRequest) -> str | None:
        """The page the user's work starts on, or None (no role: the stock index)."""
        for permission, url_name in LANDINGS:
            if request.user.has_perm(permission):
                try:
                    return reverse(url_name, current_app=self.name)
                except NoReverseMatch:  # the app is not installed here
                    continue
        return None

    # A redirect for every role: the stubs expect the index page itself.
    def index(  # type: ignore[override]
        self, request: HttpRequest, extra_context=None
    ) -> HttpResponse:
        landing = self.landing_url(request)
        if landing is not None:
            return HttpResponseRedirect(landing)
        return super().index(request, extra_context)

    def site_index(self, request: HttpRequest, extra_context=None) -> HttpResponse:
        """Django's index of every app and model the user may see."""
        return super().index(request, extra_context)

    def language_view(self, request: HttpRequest) -> HttpResponse:
        """The header's language switch: kept for the user (every device, every sign-in) and
        used at once, then back to the page it was pressed on."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        form = LanguageChoiceForm(request.POST)
        if not form.is_valid():
            return HttpResponseBadRequest(
                " ".join(str(error) for errors in form.errors.values() for error in errors),
                content_type="text/plain; charset=utf-8",
            )
        language = form.cleaned_data["language"]
        try:
            services.staff_language_set(user=request.user, language=language)
        except ServiceError as error:
            return HttpResponseBadRequest(error.message, content_type="text/plain; charset=utf-8")
        staff_language_use(request, language)
        next_url = form.cleaned_data["next"]
        if not url_has_allowed_host_and_scheme(
            next_url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
        ):
            next_url = reverse("admin:index", current_app=self.name)
        response = HttpResponseRedirect(next_url)
        # The public site and the sign-in page after signing out follow too, as Django's
        # set_language view would have them.
        response.set_cookie(
            settings.LANGUAGE_COOKIE_NAME,
            language,
            max_age=settings.LANGUAGE_COOKIE_AGE,
            path=settings.LANGUAGE_COOKIE_PATH,
            domain=settings.LANGUAGE_COOKIE_DOMAIN,
            secure=settings.LANGUAGE_COOKIE_SECURE,
            httponly=settings.LANGUAGE_COOKIE_HTTPONLY,
            samesite=settings.LANGUAGE_COOKIE_SAMESITE,
        )
        return response
