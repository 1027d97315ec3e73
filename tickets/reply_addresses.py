"""The per-ticket reply address and threading headers of every e-mail the helpdesk sends.

A reply token names a ticket and who it was written to: the customer, or one agent (by user
id). It is signed with an HMAC of the project's SECRET_KEY under a salt of its own (not the
status link's secret: a reply address is seen by every mail server on the way and forwarded
with the thread, and must not open the status page). It goes into two places:

- the Reply-To address, by plus-addressing on INBOUND_EMAIL_ADDRESS
  ("support@example.com" → "support+t42-c-….@example.com"), so that a reply lands in the one
  mailbox the inbound side reads, and names its ticket whatever the subject says;
- the Message-ID of each message ("<token.random@domain>"), and In-Reply-To/References point
  at the ticket's thread root, so mail programs thread a ticket's e-mails together, and a
  reply whose client dropped the Reply-To still points back at us.

The token is lower-case letters, digits and hyphens: mail servers may fold the case of a
local part, and these survive that. Computing it reads nothing from the database (the batch
e-mail path sends many through one connection).
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from email.utils import parseaddr

from django.conf import settings
from django.utils.crypto import constant_time_compare, salted_hmac

_SALT = "tickets.reply_addresses"
# 24 hex digits: 96 bits of HMAC, far beyond guessing through a rate-limited mailbox.
_MAC_LENGTH = 24
TOKEN_PATTERN = re.compile(rf"t(\d{{1,18}})-(c|a\d{{1,18}})-([0-9a-f]{{{_MAC_LENGTH}}})")
# Something that looks like a token, to tell a forged one from an address without any.
_TOKEN_LIKE = re.compile(r"t\d+-(?:c|a\d+)-[0-9a-z]+")


@dataclass(frozen=True)
class ReplyToken:
    ticket_id: int
    # None: written to the customer; else the agent's user id.
    agent_user_id: int | None

    @property
    def role(self) -> str:
        return "c" if self.agent_user_id is None else f"a{self.agent_user_id}"


class ForgedToken(ValueError):
    """Looks like a reply token, but its signature does not match."""


def _mac(ticket_id: int, role: str) -> str:
    return salted_hmac(_SALT, f"{ticket_id}:{role}", algorithm="sha256").hexdigest()[:_MAC_LENGTH]


def reply_token(*, ticket_id: int, agent_user_id: int | None = None) -> str:
    role = ReplyToken(ticket_id, agent_user_id).role
    return f"t{ticket_id}-{role}-{_mac(ticket_id, role)}"


def reply_token_read(text: str) -> ReplyToken | None:
    """The token in ``text`` (an address's plus tag, a Message-ID's local part), None when
    there is none; ForgedToken when one is there but not signed by us."""
    text = text.lower()
    match = TOKEN_PATTERN.fullmatch(text)
    if match is None:
        if _TOKEN_LIKE.fullmatch(text):
            raise ForgedToken(text)
        return None
    ticket_id, role, mac = int(match[1]), match[2], match[3]
    if not constant_time_compare(mac, _mac(ticket_id, role)):
        raise ForgedToken(text)
    return ReplyToken(ticket_id, None if role == "c" else int(role[1:]))


def inbound_mailbox() -> tuple[str, str] | None:
    """(local part, domain) of INBOUND_EMAIL_ADDRESS, lower-cased; None when unset."""
    address = parseaddr(settings.INBOUND_EMAIL_ADDRESS)[1].lower()
    local, at, domain = address.rpartition("@")
    return (local, domain) if at and local and domain else None


def reply_address(token: str) -> str | None:
    """The plus address replies to ``token`` go to; None when no inbound mailbox is set."""
    mailbox = inbound_mailbox()
    if mailbox is None:
        return None
    local, domain = mailbox
    return f"{local}+{token}@{domain}"


def token_of_address(address: str) -> str | None:
    """The plus tag of an address on the inbound mailbox, None for any other address."""
    mailbox = inbound_mailbox()
    local, at, domain = parseaddr(address)[1].lower().rpartition("@")
    if mailbox is None or not at or domain != mailbox[1]:
        return None
    base, plus, tag = local.partition("+")
    return tag if plus and base == mailbox[0] else None


def message_id_domain() -> str:
    """The domain of our Message-IDs: the inbound mailbox's, else the From address's."""
    mailbox = inbound_mailbox()
    if mailbox is not None:
        return mailbox[1]
    domain = parseaddr(settings.DEFAULT_FROM_EMAIL)[1].rpartition("@")[2].lower()
    return domain or "localhost"


def thread_root_id(ticket_id: int) -> str:
    """The ticket's first Message-ID, which every e-mail of the ticket refers to."""
    return f"<{reply_token(ticket_id=ticket_id)}.thread@{message_id_domain()}>"


def threading_headers(*, ticket_id: int, token: str) -> dict[str, str]:
    """Message-ID (ours, naming the token), In-Reply-To and References (the thread root)."""
    root = thread_root_id(ticket_id)
    return {
        "Message-ID": f"<{token}.{secrets.token_hex(8)}@{message_id_domain()}>",
        "In-Reply-To": root,
        "References": root,
    }


def token_of_message_id(message_id: str) -> str | None:
    """The token part of one of our Message-IDs, None for anyone else's."""
    local, at, domain = message_id.strip().strip("<>").lower().rpartition("@")
    if not at or domain != message_id_domain():
        return None
    token, dot, _suffix = local.partition(".")
    return token if dot and _TOKEN_LIKE.fullmatch(token) else None
