"""The expected wait for a person, for the guide page (guides never imports tickets; its
template loads this library): ``{% expected_wait company_id language as wait %}``."""

from __future__ import annotations

from django import template
from django.utils.translation import gettext, ngettext

from tickets.waits import ExpectedWait, expected_wait

register = template.Library()


def duration_text(minutes: int) -> str:
    """A wait in the largest whole unit that reads naturally: minutes under an hour, hours
    under two days, then days (rounded up: a promise should not be shorter than the wait)."""
    if minutes < 60:
        return ngettext("%(count)d minute", "%(count)d minutes", minutes) % {"count": minutes}
    if minutes < 48 * 60:
        hours = -(-minutes // 60)
        return ngettext("%(count)d hour", "%(count)d hours", hours) % {"count": hours}
    days = -(-minutes // (24 * 60))
    return ngettext("%(count)d day", "%(count)d days", days) % {"count": days}


def wait_text(wait: ExpectedWait | None) -> str:
    if wait is None:
        return ""
    if wait.measured:
        return gettext("A person usually answers within %(duration)s.") % {
            "duration": duration_text(wait.minutes)
        }
    return gettext("We aim to answer within %(duration)s.") % {
        "duration": duration_text(wait.minutes)
    }


@register.simple_tag
def expected_wait_text(company_id: int, language: str) -> str:
    """The sentence for the expected wait in the active language, or "" when there is no
    honest figure (tickets.waits)."""
    return wait_text(expected_wait(company_id=company_id, language=language))
