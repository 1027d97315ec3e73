"""The helpdesk app's own state changes: what a staff member chooses for themselves."""

from __future__ import annotations

from django.conf import settings
from django.utils.translation import gettext_lazy as _

from helpdesk.errors import ServiceError
from helpdesk.models import StaffPreference


def staff_language_set(*, user, language: str) -> StaffPreference:
    """Keep ``language`` as the admin's language of ``user``: every later sign-in, on any
    device, opens the admin in it (helpdesk.staff_language). The current session is the
    caller's to switch."""
    if language not in dict(settings.LANGUAGES):
        raise ServiceError(_("Choose one of the languages offered."), field="language")
    preference, _created = StaffPreference.objects.update_or_create(
        user_id=user.pk, defaults={"language": language}
    )
    return preference
