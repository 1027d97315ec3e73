"""E-mail on the embedded default (``make run``, DEBUG on, no EMAIL_URL): kept in a folder.

Every message is written to MAIL_FOLDER (``var/mail/``) as an ``.eml`` file (the message as it
would go out, for any mail program) beside a ``.txt`` of its decoded headers and text part, and
announced by one INFO line through the ``helpdesk.mail`` logger: recipient, subject and the
first link of the text, what a newcomer needs to follow a status link. Django's console backend
printed the whole MIME message to stdout instead, which the Celery worker turns into
``WARNING celery.redirected`` lines with the Arabic subjects base64-encoded.

Staff read the kept e-mails at /admin/mail/ (helpdesk.admin_mail), which finds them with
``kept_mails`` and ``kept_mail`` here.
"""

from __future__ import annotations

import logging
import os
import re
import secrets
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from email import policy
from email.message import EmailMessage as ParsedMessage
from email.parser import BytesParser
from email.utils import parsedate_to_datetime
from pathlib import Path

from django.conf import settings
from django.core.mail import EmailMessage
from django.core.mail.backends.base import BaseEmailBackend
from django.utils import timezone
from django.utils.module_loading import import_string

logger = logging.getLogger(__name__)

# A kept e-mail's name: its time (so names sort newest last) and a random tail (two e-mails in
# the same microsecond, from two processes). Names asked for in URLs must match it, and must
# be in the folder's listing besides (kept_mail).
NAME_PATTERN = re.compile(r"^\d{8}-\d{6}-\d{6}-[0-9a-f]{8}\.eml$")
FIRST_LINK = re.compile(r"https?://[^\s<>\"']+")
# The newest this many are listed; older files stay in the folder.
LIST_LIMIT = 200


class FolderEmailBackend(BaseEmailBackend):
    """Keeps each message in EMAIL_FILE_PATH and logs one line for it; sends nothing."""

    def __init__(self, *, file_path: str | None = None, fail_silently: bool = False, **kwargs):
        super().__init__(fail_silently=fail_silently, **kwargs)
        self.folder = Path(file_path or settings.EMAIL_FILE_PATH)

    def send_messages(self, email_messages: Sequence[EmailMessage]) -> int:
        kept = 0
        for message in email_messages:
            if not message.recipients():
                continue
            try:
                path = self._keep(message)
            except OSError:
                if not self.fail_silently:
                    raise
                logger.exception("E-mail to %s not kept", ", ".join(message.recipients()))
                continue
            logger.info("%s", _console_line(message, path))
            kept += 1
        return kept

    def _keep(self, message: EmailMessage) -> Path:
        self.folder.mkdir(parents=True, exist_ok=True)
        stem = f"{datetime.now():%Y%m%d-%H%M%S-%f}-{secrets.token_hex(4)}"
        raw = message.message().as_bytes(linesep="\n")
        parsed = _parse(raw)
        headers = "".join(
            f"{name}: {_header(parsed, name)}\n"
            for name in ("From", "To", "Cc", "Reply-To", "Subject")
            if parsed[name]
        )
        # The readable companion first: the listing goes by the .eml, which comes last.
        _write_atomic(self.folder / f"{stem}.txt", f"{headers}\n{_text_of(parsed)}".encode())
        path = self.folder / f"{stem}.eml"
        _write_atomic(path, raw)
        return path


def _write_atomic(path: Path, data: bytes) -> None:
    """Written whole or not at all: the web process may list the folder while the worker
    writes into it."""
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".", suffix=".part")
    try:
        with os.fdopen(handle, "wb") as file:
            file.write(data)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _console_line(message: EmailMessage, path: Path) -> str:
    subject = " ".join(str(message.subject).split())
    link = FIRST_LINK.search(str(message.body))
    line = f"E-mail to {', '.join(message.recipients())}: {subject}"
    if link:
        line += f" | {link.group(0)}"
    return f"{line} ({path.name})"


# --- reading the kept e-mails ---------------------------------------------------------------


@dataclass(frozen=True)
class KeptMail:
    name: str
    sent_at: datetime | None
    to: str
    subject: str
    text: str = ""
    html: str = ""
    first_link: str = ""


def mail_folder() -> Path | None:
    """The folder the configured backend keeps e-mails in; None when it keeps none (SMTP,
    console, a file backend of Django's own...), and the admin's mail page answers 404."""
    backend = import_string(settings.EMAIL_BACKEND)
    if not (isinstance(backend, type) and issubclass(backend, FolderEmailBackend)):
        return None
    return Path(settings.EMAIL_FILE_PATH)


def kept_mails(folder: Path, *, limit: int = LIST_LIMIT) -> list[KeptMail]:
    """The newest ``limit`` kept e-mails, newest first, with their headers only."""
    names = sorted(_names_in(folder), reverse=True)[:limit]
    mails = []
    for name in names:
        try:
            with (folder / name).open("rb") as file:
                parsed = BytesParser(policy=policy.default).parse(file, headersonly=True)
        except OSError:
            continue  # deleted meanwhile
        mails.append(_kept(name, parsed))
    return mails


def kept_mail(folder: Path, name: str) -> KeptMail | None:
    """One kept e-mail with its text and HTML parts, or None. ``name`` comes from a URL: it
    is only ever looked up among the folder's own file names, never joined to a path first,
    so no name reaches outside the folder."""
    if not NAME_PATTERN.match(name) or name not in _names_in(folder):
        return None
    try:
        parsed = _parse((folder / name).read_bytes())
    except OSError:
        return None
    html_part = parsed.get_body(preferencelist=("html",))
    text = _text_of(parsed)
    link = FIRST_LINK.search(text)
    return _kept(
        name,
        parsed,
        text=text,
        html=str(html_part.get_content()) if html_part is not None else "",
        first_link=link.group(0) if link else "",
    )


def _names_in(folder: Path) -> set[str]:
    try:
        return {entry.name for entry in os.scandir(folder) if NAME_PATTERN.match(entry.name)}
    except FileNotFoundError:
        return set()


def _parse(raw: bytes) -> ParsedMessage:
    parsed = BytesParser(policy=policy.default).parsebytes(raw)
    assert isinstance(parsed, ParsedMessage)  # what policy.default makes
    return parsed


def _header(parsed: ParsedMessage, name: str) -> str:
    """The header decoded (an Arabic subject reads as Arabic) and unfolded onto one line."""
    return " ".join(str(parsed[name] or "").split())


def _text_of(parsed: ParsedMessage) -> str:
    part = parsed.get_body(preferencelist=("plain",))
    return str(part.get_content()) if part is not None else ""


def _kept(name: str, parsed: ParsedMessage, **parts: str) -> KeptMail:
    try:
        sent_at = parsedate_to_datetime(str(parsed["Date"])) if parsed["Date"] else None
    except (TypeError, ValueError):
        sent_at = None
    if sent_at is not None and timezone.is_naive(sent_at):
        sent_at = timezone.make_aware(sent_at, timezone.get_default_timezone())
    return KeptMail(
        name=name,
        sent_at=sent_at,
        to=_header(parsed, "To"),
        subject=_header(parsed, "Subject"),
        **parts,
    )
