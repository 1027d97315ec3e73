"""Typed readers for settings that come from the environment.

Each helper raises ImproperlyConfigured naming the variable when the value cannot be
parsed, so a typo in production fails at start-up instead of running with a surprise.
"""

from __future__ import annotations

import os
import re
from urllib.parse import parse_qs, unquote, urlsplit

from django.core.exceptions import ImproperlyConfigured

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def env_str(name: str, default: str | None = None) -> str:
    value = os.environ.get(name)
    if value is None:
        if default is None:
            raise ImproperlyConfigured(f"{name} must be set (see .env.example).")
        return default
    return value


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    lowered = value.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ImproperlyConfigured(f"{name}={value!r} is not a boolean (use true/false, 1/0).")


def env_int(name: str, default: int, *, minimum: int | None = None) -> int:
    value = os.environ.get(name)
    if value is None:
        return default
    try:
        number = int(value.strip())
    except ValueError:
        raise ImproperlyConfigured(f"{name}={value!r} is not an integer.") from None
    if minimum is not None and number < minimum:
        raise ImproperlyConfigured(f"{name}={number} must be at least {minimum}.")
    return number


def env_float(name: str, default: float, *, minimum: float = 0.0) -> float:
    value = os.environ.get(name)
    if value is None:
        return default
    try:
        number = float(value.strip())
    except ValueError:
        raise ImproperlyConfigured(f"{name}={value!r} is not a number.") from None
    if number < minimum:
        raise ImproperlyConfigured(f"{name}={number} must be at least {minimum}.")
    return number


def env_list(name: str, default: list[str]) -> list[str]:
    value = os.environ.get(name)
    if value is None:
        return list(default)
    return [item.strip() for item in value.split(",") if item.strip()]


def env_float_list(name: str, default: list[float], *, minimum: float = 0.0) -> list[float]:
    """Comma-separated numbers, e.g. seconds ``10,60,300``; at least one, none below minimum."""
    value = os.environ.get(name)
    if value is None:
        return list(default)
    try:
        numbers = [float(item) for item in value.split(",") if item.strip()]
    except ValueError:
        raise ImproperlyConfigured(f"{name}={value!r} is not a list of numbers.") from None
    if not numbers or min(numbers) < minimum:
        raise ImproperlyConfigured(f"{name}={value!r}: give numbers of at least {minimum}.")
    return numbers


_RATE_RE = re.compile(r"^\d+/(s|sec|second|m|min|minute|h|hour|d|day)$")


def env_rate(name: str, default: str) -> str:
    """A DRF throttle rate such as ``600/minute``; checked here rather than on first request."""
    value = env_str(name, default).strip()
    if not _RATE_RE.match(value):
        raise ImproperlyConfigured(f"{name}={value!r} is not a rate like 600/minute.")
    return value


def email_settings_from_url(name: str, url: str) -> dict[str, object]:
    """Translate EMAIL_URL into Django's EMAIL_* settings.

    Accepted forms: ``console://``, ``locmem://``, ``dummy://``, ``file:///folder`` (one file
    per message, for tests and demos), ``folder://`` or ``folder:///folder`` (kept as readable
    files with one log line each and listed in the admin: helpdesk.mail),
    ``smtp://user:password@host:port`` (add ``?tls=true`` for STARTTLS) and
    ``smtps://user:password@host:port`` (implicit TLS).
    """
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    simple = {
        "console": "django.core.mail.backends.console.EmailBackend",
        "locmem": "django.core.mail.backends.locmem.EmailBackend",
        "dummy": "django.core.mail.backends.dummy.EmailBackend",
    }
    if scheme in simple:
        return {"EMAIL_BACKEND": simple[scheme]}
    if scheme == "folder":
        # helpdesk.mail: kept as files, one log line each; the folder defaults to var/mail/.
        return {
            "EMAIL_BACKEND": "helpdesk.mail.FolderEmailBackend",
            "EMAIL_FILE_PATH": parts.path,
        }
    if scheme == "file":
        if not parts.path:
            raise ImproperlyConfigured(f"{name}={url!r}: a file URL needs a folder path.")
        return {
            "EMAIL_BACKEND": "django.core.mail.backends.filebased.EmailBackend",
            "EMAIL_FILE_PATH": parts.path,
        }
    if scheme not in {"smtp", "smtps"}:
        raise ImproperlyConfigured(
            f"{name}={url!r}: unknown scheme {scheme!r}; use console://, folder://, smtp:// or "
            "smtps://."
        )
    if not parts.hostname:
        raise ImproperlyConfigured(f"{name}={url!r}: an SMTP URL needs a host.")
    query = {key: values[-1] for key, values in parse_qs(parts.query).items()}
    tls = query.get("tls", "false").lower() in _TRUE
    try:
        port = parts.port or (465 if scheme == "smtps" else 587 if tls else 25)
    except ValueError:
        raise ImproperlyConfigured(f"{name}={url!r}: the port is not a number.") from None
    return {
        "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
        "EMAIL_HOST": parts.hostname,
        "EMAIL_PORT": port,
        "EMAIL_HOST_USER": unquote(parts.username or ""),
        "EMAIL_HOST_PASSWORD": unquote(parts.password or ""),
        "EMAIL_USE_TLS": tls,
        "EMAIL_USE_SSL": scheme == "smtps",
        "EMAIL_TIMEOUT": 10,
    }
