"""Where webhooks may go: http and https only, and no private, loopback, link-local or
reserved address unless WEBHOOK_ALLOW_PRIVATE_TARGETS (SSRF; link-local never). Checked when
a URL is given (webhook_url_check) and at each try, on the addresses the try connects to
(addresses)."""

from __future__ import annotations

import ipaddress
import re
import socket
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings
from django.utils.translation import gettext as _

from tickets.services.exceptions import WebhookError

# The longest a registration waits for the target's name to resolve: a form or an API call
# must answer, and a name that takes longer is as good as unknown.
DNS_CHECK_TIMEOUT = 2.0


# A DNS name as it may appear in a URL: letters, digits and hyphens in dot-separated labels.
_HOSTNAME = re.compile(
    r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$"
)
# Names that only mean something inside a network: never looked up when private targets are
# refused.
_INTERNAL_SUFFIXES = (
    "localhost",
    ".localhost",
    ".local",
    ".internal",
    ".localdomain",
    ".home.arpa",
)

# getaddrinfo has no timeout of its own: it runs here, and the caller waits a bounded time.
_resolver = ThreadPoolExecutor(max_workers=4, thread_name_prefix="webhook-dns")


@dataclass(frozen=True)
class Target:
    scheme: str
    host: str
    port: int
    path: str


def _address_allowed(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    mapped = getattr(address, "ipv4_mapped", None)
    if mapped is not None:
        address = mapped
    # Never, whatever the setting: link-local is where clouds answer with the machine's own
    # credentials (169.254.169.254), and multicast or unspecified addresses are no receiver.
    # The setting is for receivers in one's own network (private and loopback addresses).
    if address.is_link_local or address.is_multicast or address.is_unspecified:
        return False
    return settings.WEBHOOK_ALLOW_PRIVATE_TARGETS or address.is_global


def target_of(url: str) -> Target:
    """The URL's parts, or a WebhookError saying what is wrong with it; no DNS."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        raise WebhookError(_("Enter a valid URL."), field="url") from None
    if parts.scheme not in ("http", "https"):
        raise WebhookError(_("Only http and https URLs can receive webhooks."), field="url")
    if parts.username is not None or parts.password is not None:
        raise WebhookError(
            _("Put no user name or password in the URL: the signature proves the sender."),
            field="url",
        )
    host = (parts.hostname or "").lower()
    if not host:
        raise WebhookError(_("Enter a valid URL."), field="url")
    try:
        ipaddress.ip_address(host)
    except ValueError:
        if not _HOSTNAME.match(host.rstrip(".")):
            raise WebhookError(_("Enter a valid URL."), field="url") from None
    path = parts.path or "/"
    if parts.query:
        path += f"?{parts.query}"
    default_port = 443 if parts.scheme == "https" else 80
    return Target(scheme=parts.scheme, host=host, port=port or default_port, path=path)


def addresses(target: Target, *, timeout: float) -> list[str]:
    """The addresses the target's host stands for, each one allowed; a WebhookError when the
    host is refused, does not resolve within ``timeout``, or resolves to a refused address."""
    refused = WebhookError(
        _("This URL points to a private or local address; webhooks are not sent there."),
        field="url",
    )
    try:
        literal = ipaddress.ip_address(target.host)
    except ValueError:
        literal = None
    if literal is not None:
        if not _address_allowed(literal):
            raise refused
        return [str(literal)]
    name = target.host.rstrip(".")
    if not settings.WEBHOOK_ALLOW_PRIVATE_TARGETS and (
        name == "localhost" or name.endswith(_INTERNAL_SUFFIXES)
    ):
        raise refused
    future = _resolver.submit(
        socket.getaddrinfo, name, target.port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP
    )
    try:
        found = future.result(timeout=timeout)
    except (FutureTimeout, OSError, UnicodeError):
        future.cancel()
        raise WebhookError(_("The host of this URL could not be found."), field="url") from None
    addresses = []
    for _family, _type, _proto, _name, sockaddr in found:
        address = ipaddress.ip_address(str(sockaddr[0]).split("%")[0])
        if not _address_allowed(address):
            raise refused
        addresses.append(str(address))
    if not addresses:
        raise WebhookError(_("The host of this URL could not be found."), field="url")
    return addresses


def webhook_url_check(url: str) -> str:
    """The URL as it will be stored, once it is http(s) and its host is allowed (SSRF); a
    WebhookError on ``url`` otherwise. Resolving a name waits DNS_CHECK_TIMEOUT at most."""
    url = url.strip()
    addresses(target_of(url), timeout=DNS_CHECK_TIMEOUT)
    return url
