"""The admin in the language each staff member chose (helpdesk.models.StaffPreference),
whatever the browser or the public site's cookie says.

The choice is read from the database once, when they sign in, and kept in the session;
StaffLanguageMiddleware then applies it to every admin page without a query. So it follows
them to every device and survives signing out and in again, and the admin's pages (the
1M-ticket changelist's included, docs/performance.md) keep their query count. The trade-off:
a device signed in before a switch made elsewhere keeps the old language until its next
sign-in. Without a stored choice the admin goes by the cookie and Accept-Language, as
LocaleMiddleware decided.
"""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils import translation

from helpdesk.models import StaffPreference

SESSION_KEY = "helpdesk.staff_language"


def staff_language_of(user) -> str | None:
    """The language the user chose for the admin, or None (never chose one)."""
    return (
        StaffPreference.objects.filter(user_id=user.pk).values_list("language", flat=True).first()
    )


def staff_language_use(request: HttpRequest, language: str) -> None:
    """Speak ``language`` in this session's admin pages from now on, this request included."""
    request.session[SESSION_KEY] = language
    translation.activate(language)
    request.LANGUAGE_CODE = language


def staff_language_remember(sender, request: HttpRequest | None, user, **kwargs) -> None:
    """On sign-in (the user_logged_in signal): bring the stored choice into the session."""
    if request is None or not hasattr(request, "session"):
        return
    language = staff_language_of(user)
    if language is not None:
        request.session[SESSION_KEY] = language


class StaffLanguageMiddleware:
    """Activates the session's chosen language on admin pages, over LocaleMiddleware's
    choice. After AuthenticationMiddleware; it acts in process_view, once the URL is
    resolved, so a public page never touches the session (and stays cacheable)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_view(self, request: HttpRequest, view_func, view_args, view_kwargs) -> None:
        match = request.resolver_match
        if match is None or "admin" not in match.namespaces:
            return
        language = request.session.get(SESSION_KEY)
        # A language dropped from LANGUAGES since it was chosen is ignored, not forced.
        if language in dict(settings.LANGUAGES):
            translation.activate(language)
            request.LANGUAGE_CODE = language
