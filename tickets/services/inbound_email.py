"""Replies by e-mail: a received message becomes the customer's message on their ticket, or an
agent's reply, whichever door it came in by (a provider's webhook, tickets.inbound_webhook;
the IMAP mailbox beat polls, tickets.services.inbound_mailbox).

The reply token (tickets.reply_addresses) in the address it was sent to names the ticket and
the reader it was written to; a reply whose mail program dropped that address may still point
at one of our Message-IDs (In-Reply-To, References), and is taken only when its From is that
reader's address. Everything else is refused and logged, never guessed: no token, a forged one,
automatic replies and loops, a sender past INBOUND_EMAIL_SENDER_LIMIT, a closed ticket.

Each message is stored once (InboundEmail, unique by Message-ID) with its raw source and its
outcome, in the transaction that records the message on the ticket: a message delivered
twice, one after the other or at the same instant, is recorded once.
"""

from __future__ import annotations

import hashlib
import html
import logging
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage, Message
from email.utils import getaddresses, parseaddr

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.utils import timezone

from helpdesk.text import one_line
from tickets.models import (
    CUSTOMER_MESSAGE_MAX_LENGTH,
    STAFF_MESSAGE_MAX_LENGTH,
    InboundEmail,
    Ticket,
    TicketEvent,
)
from tickets.reply_addresses import (
    ForgedToken,
    ReplyToken,
    inbound_mailbox,
    message_id_domain,
    reply_token_read,
    token_of_address,
    token_of_message_id,
)
from tickets.services.attachments import (
    AttachmentRefused,
    CheckedFile,
    attachments_add,
    attachments_check,
)
from tickets.services.exceptions import TicketClosedForReplies, TicketError, TicketNotPermitted
from tickets.services.workflow import ticket_customer_reply, ticket_reply

logger = logging.getLogger(__name__)

Reason = InboundEmail.Reason

# Headers that carry the address a message was delivered to, besides To and Cc: a reply sent
# to the plus address and Bcc'd, or forwarded by a mail server, keeps it only here.
_RECIPIENT_HEADERS = ("Delivered-To", "X-Original-To", "Envelope-To", "To", "Cc")
# RFC 3834 and the older conventions of vacation programs and list servers.
_BULK_PRECEDENCE = {"bulk", "junk", "list", "auto_reply"}
_AUTO_REPLY_HEADERS = ("X-Autoreply", "X-Autorespond", "X-Auto-Response")
# An agent's e-mail that starts with it is an internal note, not a reply to the customer.
NOTE_TAG = re.compile(r"#note\b:?", re.IGNORECASE)
_BOUNCE_SENDERS = re.compile(r"^(mailer-daemon|postmaster)@", re.IGNORECASE)


@dataclass(frozen=True)
class _Addressee:
    token: ReplyToken
    # Found through In-Reply-To/References rather than the address: the From must match.
    by_reference: bool


class _Refused(Exception):
    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(reason)
        self.reason, self.detail = reason, detail


def inbound_email_receive(
    *,
    message: Message,
    channel: str,
    raw: bytes | None = None,
    envelope_recipients: Sequence[str] = (),
) -> tuple[InboundEmail, bool]:
    """Take one received e-mail; returns its InboundEmail row and whether this call stored it
    (False: the same Message-ID was received before, and nothing was done again).

    ``raw`` is the message as received (its serialisation when not given);
    ``envelope_recipients`` the addresses the provider says it was delivered to.
    Refusals are stored and logged, not raised: the mail is handled either way, and a
    provider or a mailbox must not send it again. Database errors propagate, so the webhook
    answers 500 (the provider retries) and the poll leaves the message unseen.
    """
    if raw is None:
        raw = message.as_bytes()
    parsed = (
        message
        if isinstance(message, EmailMessage)
        else message_from_bytes(raw, policy=policy.default)
    )
    assert isinstance(parsed, EmailMessage)  # policy.default makes EmailMessages
    message_id = _message_id(parsed, raw)
    sender = one_line(parseaddr(str(parsed.get("From", "")))[1]).lower()[:254]
    try:
        with transaction.atomic():
            return _receive(parsed, raw, message_id, sender, channel, envelope_recipients), True
    except IntegrityError:
        # Another delivery of the same message committed first (on PostgreSQL this insert
        # waited for it on the unique index): its outcome stands.
        existing = InboundEmail.objects.filter(message_id=message_id).first()
        if existing is None:
            raise
        logger.info("Inbound e-mail %s received again; already %s", message_id, existing.outcome)
        return existing, False


def _receive(
    message: EmailMessage,
    raw: bytes,
    message_id: str,
    sender: str,
    channel: str,
    envelope_recipients: Sequence[str],
) -> InboundEmail:
    now = timezone.now()
    since = now - timedelta(seconds=settings.INBOUND_EMAIL_SENDER_WINDOW)
    # Counted before this message's own row; the (sender, received_at) index serves it.
    received = InboundEmail.objects.filter(sender=sender, received_at__gte=since).count()
    inbound = InboundEmail.objects.create(
        message_id=message_id,
        channel=channel,
        sender=sender,
        subject=one_line(str(message.get("Subject", "")))[:300],
        raw=raw,
        received_at=now,
        outcome=InboundEmail.Outcome.ACCEPTED,
    )
    try:
        if received >= settings.INBOUND_EMAIL_SENDER_LIMIT:
            raise _Refused(Reason.TOO_MANY, f"{received} in the window")
        _refuse_automatic(message, sender)
        addressee = _addressee(message, envelope_recipients)
        _record(inbound, message, sender, addressee)
    except _Refused as refusal:
        inbound.outcome, inbound.reason = InboundEmail.Outcome.REFUSED, refusal.reason
        inbound.save(update_fields=["outcome", "reason"])
        logger.warning(
            "Inbound e-mail %s from %s refused: %s%s",
            message_id,
            sender or "(no sender)",
            refusal.reason,
            f" ({refusal.detail})" if refusal.detail else "",
        )
    return inbound


def _record(
    inbound: InboundEmail, message: EmailMessage, sender: str, addressee: _Addressee
) -> None:
    ticket = Ticket.objects.filter(pk=addressee.token.ticket_id).first()
    if ticket is None:
        raise _Refused(Reason.UNKNOWN_TICKET, f"ticket {addressee.token.ticket_id}")
    inbound.ticket = ticket
    inbound.save(update_fields=["ticket"])
    # PostgreSQL stores no NUL in text; nothing a person wrote holds one.
    body = reply_text(message_text(message).replace("\x00", ""))
    if not body:
        raise _Refused(Reason.EMPTY)
    agent_user_id = addressee.token.agent_user_id
    try:
        if agent_user_id is None:
            if addressee.by_reference and sender != ticket.requester_email.lower():
                raise _Refused(Reason.SENDER_MISMATCH, "not the customer's address")
            event = ticket_customer_reply(ticket=ticket, body=body[:CUSTOMER_MESSAGE_MAX_LENGTH])
        else:
            agent = get_user_model().objects.filter(pk=agent_user_id, is_active=True).first()
            # The token says which agent it was written to; only their own address may use it,
            # as a forwarded e-mail carries the token to whoever it is forwarded to.
            if agent is None or not agent.email or agent.email.lower() != sender:
                raise _Refused(Reason.SENDER_MISMATCH, f"not agent {agent_user_id}'s address")
            inbound.agent = agent
            # "#note" first: an internal note, for the team rather than the customer (an
            # answer to a breach alert, say).
            note = NOTE_TAG.match(body)
            if note:
                body = body[note.end() :].strip()
            event = ticket_reply(
                ticket=ticket,
                actor=agent,
                body=body[:STAFF_MESSAGE_MAX_LENGTH],
                public=note is None,
            )
    except TicketNotPermitted as error:
        raise _Refused(Reason.NOT_PERMITTED) from error
    except TicketClosedForReplies as error:
        raise _Refused(Reason.CLOSED, f"ticket {ticket.reference} is {ticket.status}") from error
    except TicketError as error:  # nothing left to write
        raise _Refused(Reason.EMPTY) from error
    _attachments_keep(event, message, inbound)
    inbound.event = event
    inbound.save(update_fields=["event", "agent"])


def _attachments_keep(event: TicketEvent, message: Message, inbound: InboundEmail) -> None:
    """Store the message's files with its event, each checked as a form's upload is (type
    sniffed from the content, size, count). Unlike a form, an e-mail can't be answered with
    an error to fix: a refused file is left out and logged, the message is still taken, and
    the raw source kept with it still holds the file."""
    kept: list[CheckedFile] = []
    for name, _declared_type, content in inbound_attachments(message):
        if len(kept) == settings.ATTACHMENT_MAX_COUNT:
            logger.warning(
                "inbound e-mail %s: more files than allowed, %r left out", inbound.pk, name
            )
            continue
        try:
            kept.extend(attachments_check(files=[(name, content)]))
        except AttachmentRefused as refused:
            logger.warning(
                "inbound e-mail %s: file left out: %s", inbound.pk, "; ".join(refused.messages)
            )
    if kept:
        attachments_add(event=event, files=kept)


def _message_id(message: EmailMessage, raw: bytes) -> str:
    value = str(message.get("Message-ID", "")).strip().strip("<>").strip()
    if value and len(value) <= 200 and value.isprintable():
        return value
    # None, or one longer than the column: the digest of what there is.
    return "sha256:" + hashlib.sha256(value.encode() if value else raw).hexdigest()


def _header(message: EmailMessage, name: str) -> str:
    return " ".join(str(message.get(name, "")).split()).lower()


def _refuse_automatic(message: EmailMessage, sender: str) -> None:
    """Refuse what a program sent: vacation replies, bounces, list mail, and our own e-mails
    come back (a customer's auto-reply quoting ours, a forwarding loop)."""
    auto_submitted = _header(message, "Auto-Submitted")
    if auto_submitted and auto_submitted != "no":
        raise _Refused(Reason.AUTO_REPLY, f"Auto-Submitted: {auto_submitted}")
    precedence = _header(message, "Precedence")
    if precedence in _BULK_PRECEDENCE:
        raise _Refused(Reason.AUTO_REPLY, f"Precedence: {precedence}")
    for name in _AUTO_REPLY_HEADERS:
        if name in message:
            raise _Refused(Reason.AUTO_REPLY, name)
    if _header(message, "X-Auto-Response-Suppress") in ("all", "oof", "autoreply"):
        raise _Refused(Reason.AUTO_REPLY, "X-Auto-Response-Suppress")
    if message.get_content_type() == "multipart/report" or _BOUNCE_SENDERS.match(sender):
        raise _Refused(Reason.AUTO_REPLY, "delivery report")
    if not sender:
        raise _Refused(Reason.AUTO_REPLY, "no From address")
    ours = {parseaddr(settings.DEFAULT_FROM_EMAIL)[1].lower()}
    mailbox = inbound_mailbox()
    if mailbox is not None:
        ours.add("@".join(mailbox))
    if sender in ours or (mailbox is not None and token_of_address(sender) is not None):
        raise _Refused(Reason.LOOP, "From is the helpdesk's own address")
    if token_of_message_id(str(message.get("Message-ID", ""))) is not None:
        raise _Refused(Reason.LOOP, f"Message-ID of {message_id_domain()}")


def _addresses(message: EmailMessage, envelope_recipients: Iterable[str]) -> list[str]:
    values = [str(value) for name in _RECIPIENT_HEADERS for value in message.get_all(name, [])]
    return [*envelope_recipients, *(address for _name, address in getaddresses(values))]


def _addressee(message: EmailMessage, envelope_recipients: Sequence[str]) -> _Addressee:
    """Whose reply address the message came to: the first signed token among the addresses
    it was delivered to, else among the Message-IDs it answers (the latest first)."""
    forged = ""
    for address in _addresses(message, envelope_recipients):
        tag = token_of_address(address)
        if tag is None:
            continue
        try:
            token = reply_token_read(tag)
        except ForgedToken:
            forged = address
            continue
        if token is not None:
            return _Addressee(token, by_reference=False)
    references = [str(message.get("In-Reply-To", ""))]
    references += reversed(str(message.get("References", "")).split())
    for reference in " ".join(references).split():
        tag = token_of_message_id(reference)
        if tag is None:
            continue
        try:
            token = reply_token_read(tag)
        except ForgedToken:
            forged = reference
            continue
        if token is not None:
            return _Addressee(token, by_reference=True)
    if forged:
        raise _Refused(Reason.FORGED_TOKEN, forged)
    raise _Refused(Reason.NO_TOKEN)


# --- the text of a reply ---------------------------------------------------------------------


def message_text(message: EmailMessage) -> str:
    """The message's text: its plain-text body, else its HTML body made text (quoted blocks
    left out), else nothing."""
    part = message.get_body(preferencelist=("plain", "html"))
    if part is None:
        return ""
    try:
        content = part.get_content()
    except (LookupError, ValueError, AssertionError):  # an unknown or lying charset
        payload = part.get_payload(decode=True)
        content = payload.decode("utf-8", "replace") if isinstance(payload, bytes) else ""
    if not isinstance(content, str):
        return ""
    return _html_text(content) if part.get_content_type() == "text/html" else content


_HTML_QUOTES = re.compile(
    r"<blockquote\b.*?</blockquote>|<div[^>]*\b(?:gmail_quote|moz-cite-prefix)\b.*?(?=</body>|$)",
    re.IGNORECASE | re.DOTALL,
)
_HTML_BREAKS = re.compile(r"<br\s*/?>|</(?:p|div|li|tr|h\d)>", re.IGNORECASE)
_HTML_HIDDEN = re.compile(r"<(style|script|head)\b.*?</\1>", re.IGNORECASE | re.DOTALL)
_HTML_TAGS = re.compile(r"<[^>]*>")


def _html_text(markup: str) -> str:
    markup = _HTML_HIDDEN.sub("", markup)
    markup = _HTML_QUOTES.sub("", markup)
    markup = _HTML_BREAKS.sub("\n", markup)
    return html.unescape(_HTML_TAGS.sub("", markup))


# Where the quoted e-mail begins: "On <date>, <name> wrote:" and its translations, Outlook's
# separators and header blocks. The "wrote:" line may be wrapped onto two lines.
_QUOTE_INTRO = re.compile(
    r"^(?:on\b.{0,400}\bwrote:"
    r"|le\b.{0,400}\ba écrit\s?:"
    r"|am\b.{0,400}\bschrieb.{0,100}:"
    r"|el\b.{0,400}\bescribió:"
    r"|في\b.{0,400}\bكتب\b.{0,100}:"
    r"|.{0,400}<[^@\s>]+@[^>\s]+>\s*(?:wrote|كتب):?"
    r")\s*$",
    re.IGNORECASE,
)
_QUOTE_SEPARATOR = re.compile(
    r"^(?:-{2,}\s*(?:original message|forwarded message|الرسالة الأصلية)\s*-{2,}|_{10,})\s*$",
    re.IGNORECASE,
)
_HEADER_BLOCK = re.compile(r"^\*?(?:from|de|von|من)\s?:\*?\s", re.IGNORECASE)
_HEADER_FOLLOWS = re.compile(
    r"^\*?(?:sent|date|to|subject|envoyé|gesendet|التاريخ|إلى)\s?:", re.IGNORECASE
)
_SIGNATURE_START = re.compile(
    r"^(?:--\s?|sent from my .{1,60}|get outlook for .{1,40}|أرسلت من .{1,60})$",
    re.IGNORECASE,
)


def reply_text(text: str) -> str:
    """What the sender wrote: the text above the quoted message and the signature, without
    ">" lines. The whole message stays stored in InboundEmail.raw."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    kept: list[str] = []
    skip = 0
    for index, line in enumerate(lines):
        if skip:
            skip -= 1
            continue
        stripped = line.strip()
        two_lines = f"{stripped} {lines[index + 1].strip()}" if index + 1 < len(lines) else ""
        intro = 1 if _QUOTE_INTRO.match(stripped) else 0
        if not intro and two_lines and _QUOTE_INTRO.match(two_lines):
            intro = 2
        if intro and not any(kept_line.strip() for kept_line in kept):
            # Nothing written above the quote: the answer is below it, between ">" lines.
            skip = intro - 1
            continue
        if (
            intro
            or _QUOTE_SEPARATOR.match(stripped)
            or _SIGNATURE_START.match(line.rstrip("\n"))
            or (
                _HEADER_BLOCK.match(stripped)
                and any(
                    _HEADER_FOLLOWS.match(next.strip()) for next in lines[index + 1 : index + 5]
                )
            )
        ):
            break
        if stripped.startswith(">"):
            continue
        kept.append(line.rstrip())
    return re.sub(r"\n{3,}", "\n\n", "\n".join(kept)).strip()


def inbound_attachments(message: Message) -> list[tuple[str, str, bytes]]:
    """The message's attached files as (file name, content type as declared, content).
    Stored with the message's event by _attachments_keep."""
    files = []
    for part in message.walk():
        if part.is_multipart():
            continue
        filename = part.get_filename()
        disposition = part.get_content_disposition()
        if disposition == "attachment" or (disposition == "inline" and filename):
            payload = part.get_payload(decode=True)
            content = payload if isinstance(payload, bytes) else b""
            files.append((filename or "attachment", part.get_content_type(), content))
    return files
