"""Hand one e-mail to the replies-by-e-mail service: a mail server's pipe delivery
(Postfix's ``pipe``, an ``.forward`` or procmail rule) or a saved message on a developer's
machine (docs/email.md)."""

from __future__ import annotations

import sys
from email import message_from_bytes, policy
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser

from tickets.models import InboundEmail
from tickets.services import inbound_email_receive


class Command(BaseCommand):
    help = (
        "Read one e-mail (RFC 5322, as a .eml file or on standard input) and record it on its"
        " ticket as a reply by e-mail, or refuse it; prints the outcome."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", nargs="?", default="-", help="the message; - for stdin")
        parser.add_argument(
            "--recipient", action="append", default=[],
            help="an envelope recipient (repeatable), when the headers do not show it",
        )  # fmt: skip

    def handle(self, *args: object, **options: object) -> None:
        name = str(options["file"])
        try:
            raw = sys.stdin.buffer.read() if name == "-" else Path(name).read_bytes()
        except OSError as error:
            raise CommandError(f"cannot read {name}: {error}") from error
        if not raw.strip():
            raise CommandError("the message is empty")
        recipients = options["recipient"]
        assert isinstance(recipients, list)
        inbound, created = inbound_email_receive(
            message=message_from_bytes(raw, policy=policy.default),
            raw=raw,
            channel=InboundEmail.Channel.PIPE,
            envelope_recipients=[str(recipient) for recipient in recipients],
        )
        ticket = inbound.ticket.reference if inbound.ticket else "no ticket"
        again = "" if created else " (received before)"
        reason = f": {inbound.reason}" if inbound.reason else ""
        self.stdout.write(f"{inbound.outcome}{reason} — {ticket}{again}")
