"""Replies by e-mail from an IMAP mailbox (INBOUND_IMAP_URL), for any mail server: beat's
poll_inbound_mailbox task calls inbound_mailbox_poll every INBOUND_IMAP_POLL_INTERVAL.

Each unseen message is read without marking it (BODY.PEEK), handed to inbound_email_receive,
and only then marked seen (or moved to INBOUND_IMAP_DONE_FOLDER). A poll that dies between the
two leaves the message unseen, and the next poll hands it over again: its Message-ID is stored
already, so it is not recorded twice. A mailbox that cannot be reached is logged and left to
the next poll.
"""

from __future__ import annotations

import contextlib
import imaplib
import logging
import socket
import ssl
from dataclasses import dataclass
from email import message_from_bytes, policy
from urllib.parse import unquote, urlsplit

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import DatabaseError

from tickets.models import InboundEmail
from tickets.services.inbound_email import inbound_email_receive

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class MailboxAddress:
    secure: bool
    host: str
    port: int
    user: str
    password: str
    folder: str


def mailbox_address(url: str) -> MailboxAddress:
    """imaps://user:password@host:993/INBOX (imap:// for a server without TLS, on 143)."""
    parts = urlsplit(url)
    if parts.scheme not in ("imap", "imaps") or not parts.hostname:
        raise ImproperlyConfigured(
            "INBOUND_IMAP_URL must look like imaps://user:password@host:993/INBOX"
        )
    secure = parts.scheme == "imaps"
    return MailboxAddress(
        secure=secure,
        host=parts.hostname,
        port=parts.port or (993 if secure else 143),
        user=unquote(parts.username or ""),
        password=unquote(parts.password or ""),
        folder=unquote(parts.path.lstrip("/")) or "INBOX",
    )


# What a mailbox that is down, slow or refusing looks like.
MAILBOX_ERRORS = (OSError, imaplib.IMAP4.error, ssl.SSLError, socket.timeout)


def inbound_mailbox_poll(*, url: str | None = None, limit: int | None = None) -> int | None:
    """Read the mailbox's unseen messages (at most ``limit``, INBOUND_IMAP_BATCH by default,
    oldest first); returns how many were handed over, or None when the mailbox could not be
    read (logged; the next poll tries again)."""
    address = mailbox_address(url or settings.INBOUND_IMAP_URL)
    limit = limit or settings.INBOUND_IMAP_BATCH
    try:
        client = _connect(address)
    except MAILBOX_ERRORS as error:
        logger.warning("Mailbox %s:%s not reachable: %s", address.host, address.port, error)
        return None
    handed = 0
    try:
        status, data = client.select(_quoted(address.folder))
        if status != "OK":
            raise imaplib.IMAP4.error(f"SELECT {address.folder}: {data!r}")
        status, data = client.uid("SEARCH", "UNSEEN")
        if status != "OK":
            raise imaplib.IMAP4.error(f"SEARCH: {data!r}")
        for uid in (data[0] or b"").decode("ascii").split()[:limit]:
            raw = _fetch(client, uid)
            if raw is None:
                continue
            try:
                message = message_from_bytes(raw, policy=policy.default)
                inbound_email_receive(message=message, raw=raw, channel=InboundEmail.Channel.IMAP)
            except DatabaseError:
                raise  # the database is down: the next poll, not the next message
            except Exception:
                # This one message breaks something: left unseen and logged at every poll,
                # without holding up the messages behind it.
                logger.exception("Mailbox message %s not handled; left unseen", uid)
                continue
            handed += 1
            _done(client, uid)
    except MAILBOX_ERRORS as error:
        logger.warning(
            "Mailbox %s:%s failed after %s message(s): %s", address.host, address.port, handed,
            error,
        )  # fmt: skip
        return None
    finally:
        _logout(client)
    return handed


def _connect(address: MailboxAddress) -> imaplib.IMAP4:
    timeout = settings.INBOUND_IMAP_TIMEOUT
    client: imaplib.IMAP4
    if address.secure:
        client = imaplib.IMAP4_SSL(address.host, address.port, timeout=timeout)
    else:
        client = imaplib.IMAP4(address.host, address.port, timeout=timeout)
    try:
        client.login(address.user, address.password)
    except BaseException:
        _logout(client)
        raise
    return client


def _quoted(folder: str) -> str:
    return '"' + folder.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _fetch(client: imaplib.IMAP4, uid: str) -> bytes | None:
    status, data = client.uid("FETCH", uid, "(BODY.PEEK[])")
    if status != "OK":
        raise imaplib.IMAP4.error(f"FETCH {uid}: {data!r}")
    for item in data:
        if isinstance(item, tuple) and isinstance(item[1], bytes):
            return item[1]
    return None  # expunged meanwhile by another client


def _done(client: imaplib.IMAP4, uid: str) -> None:
    folder = settings.INBOUND_IMAP_DONE_FOLDER
    if folder:
        status, data = client.uid("COPY", uid, _quoted(folder))
        if status != "OK":
            raise imaplib.IMAP4.error(f"COPY to {folder}: {data!r}")
        client.uid("STORE", uid, "+FLAGS.SILENT", r"(\Seen \Deleted)")
        client.expunge()
    else:
        client.uid("STORE", uid, "+FLAGS.SILENT", r"(\Seen)")


def _logout(client: imaplib.IMAP4) -> None:
    with contextlib.suppress(*MAILBOX_ERRORS):  # the connection is gone already
        client.logout()
