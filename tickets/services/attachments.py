"""Attachments: files checked and stored with a message, and the signed links that serve them.

Every door calls the same two steps: ``attachments_check`` (before anything is written, so a
refused file refuses the whole message with the reason per file) and ``attachments_add`` (in
the message's transaction). The type is what the content is (its first bytes), never what the
name or the browser says; the stored name is random; the name shown gets the extension of the
type. Files sent with a request for a person wait on its attempt until the escalation worker
makes the ticket (``attachments_hold`` here, the move in tickets.services.escalation).

Links are ``django.core.signing`` tokens of the attachment's id, valid for
ATTACHMENT_LINK_MAX_AGE seconds: whoever holds one may download the file until then, so they
are only put on pages and answers whose reader may see the message.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from django.conf import settings
from django.core import signing
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import UploadedFile
from django.template.defaultfilters import filesizeformat
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from guides.models import Attempt
from helpdesk.errors import ServiceError
from tickets.models import Attachment, TicketEvent

# Content type → (canonical extension, other extensions a name may keep).
TYPE_EXTENSIONS: dict[str, tuple[str, ...]] = {
    "image/png": (".png",),
    "image/jpeg": (".jpg", ".jpeg"),
    "image/gif": (".gif",),
    "image/webp": (".webp",),
    "application/pdf": (".pdf",),
    "text/plain": (".txt", ".log", ".csv"),
    "application/zip": (".zip",),
}

# Markup a browser would run if it ever rendered the file: refused even though it is text.
_MARKUP_SIGNS = (b"<!doctype", b"<html", b"<script", b"<svg", b"<?xml", b"<body", b"<iframe")
_NAME_MAX = 100
_LINK_SALT = "tickets.attachment-link"


class AttachmentRefused(ServiceError):
    """One or more files refused: ``messages`` says why, one line per file."""

    code = "attachment_refused"
    field = "attachments"

    def __init__(self, messages: list[str]) -> None:
        self.messages = messages
        super().__init__(" ".join(messages))


class AttachmentLinkInvalid(ServiceError):
    code = "attachment_link_invalid"
    status = 404
    field = None


class AttachmentLinkExpired(AttachmentLinkInvalid):
    code = "attachment_link_expired"
    status = 410


@dataclass(frozen=True)
class CheckedFile:
    """A file that passed the checks, ready for attachments_add."""

    name: str
    content: bytes
    content_type: str
    sha256: str


def content_type_sniff(content: bytes) -> str | None:
    """What the bytes are, by their signature: one of TYPE_EXTENSIONS' types, or None."""
    head = content[:16]
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith((b"GIF87a", b"GIF89a")):
        return "image/gif"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    if head.startswith(b"%PDF-"):
        return "application/pdf"
    if head.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        return "application/zip"
    if _is_plain_text(content):
        return "text/plain"
    return None


def _is_plain_text(content: bytes) -> bool:
    if not content:
        return False
    try:
        text = content.decode("utf-8")
    except UnicodeDecodeError:
        return False
    if any(unicodedata.category(c) == "Cc" and c not in "\t\n\r\f" for c in text):
        return False
    start = content[:1024].lstrip().lower()
    return not any(sign in start for sign in _MARKUP_SIGNS)


def _name_base(name: str) -> str:
    name = unicodedata.normalize("NFC", name).replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(c for c in name if unicodedata.category(c)[0] not in "CZ" or c == " ")
    return " ".join(name.split()).strip(" .")[:_NAME_MAX]


def name_clean(name: str, content_type: str) -> str:
    """The uploaded name without its path, control or separator characters, at most _NAME_MAX
    characters, ending in an extension of ``content_type``."""
    name = _name_base(name)
    stem, extension = os.path.splitext(name)
    extensions = TYPE_EXTENSIONS[content_type]
    if extension.lower() not in extensions:
        # Another known type's extension is replaced ("photo.png" of a JPEG: "photo.jpg");
        # anything else stays part of the name, which gets the right one ("x.exe.png").
        known = any(extension.lower() in others for others in TYPE_EXTENSIONS.values())
        stem, extension = (stem if known else name), extensions[0]
    stem = stem.strip(" .")[: _NAME_MAX - len(extension)] or _("attachment")
    return f"{stem}{extension.lower()}"


def attachments_check(*, files: Sequence[tuple[str, bytes]]) -> list[CheckedFile]:
    """Check (filename, content) pairs against ATTACHMENT_MAX_COUNT, ATTACHMENT_MAX_SIZE and
    ATTACHMENT_TYPES; raises AttachmentRefused naming every refused file."""
    limit = settings.ATTACHMENT_MAX_COUNT
    if len(files) > limit:
        raise AttachmentRefused(
            [
                ngettext("Attach at most %(count)d file.", "Attach at most %(count)d files.", limit)
                % {"count": limit}
            ]
        )
    problems, checked = [], []
    for filename, content in files:
        shown = _name_base(filename) or _("attachment")
        if not content:
            problems.append(_("“%(name)s” is empty.") % {"name": shown})
            continue
        if len(content) > settings.ATTACHMENT_MAX_SIZE:
            problems.append(
                _("“%(name)s” is larger than %(limit)s.")
                % {"name": shown, "limit": filesizeformat(settings.ATTACHMENT_MAX_SIZE)}
            )
            continue
        content_type = content_type_sniff(content)
        if content_type is None or content_type not in settings.ATTACHMENT_TYPES:
            problems.append(
                _("“%(name)s” is not a kind of file we accept (accepted: %(kinds)s).")
                % {"name": shown, "kinds": accepted_kinds()}
            )
            continue
        checked.append(
            CheckedFile(
                name=name_clean(filename, content_type),
                content=content,
                content_type=content_type,
                sha256=hashlib.sha256(content).hexdigest(),
            )
        )
    if problems:
        raise AttachmentRefused(problems)
    return checked


def accepted_kinds() -> str:
    """The accepted extensions, for help texts and refusals: ".png, .jpg, .pdf"."""
    return ", ".join(TYPE_EXTENSIONS[kind][0] for kind in settings.ATTACHMENT_TYPES)


def uploads_read(uploads: Iterable[UploadedFile]) -> list[tuple[str, bytes]]:
    """(filename, content) pairs from a form's or a request's uploaded files. A file over the
    size limit is read only one byte past it: enough for attachments_check to refuse it."""
    limit = settings.ATTACHMENT_MAX_SIZE
    return [(upload.name or "", upload.read(limit + 1)) for upload in uploads]


def _stored(checked: CheckedFile, **owner: object) -> Attachment:
    # A random name, sharded by month: nothing in it comes from the customer or the ticket.
    now = timezone.now()
    extension = TYPE_EXTENSIONS[checked.content_type][0]
    attachment = Attachment(
        name=checked.name, content_type=checked.content_type, size=len(checked.content),
        sha256=checked.sha256, created_at=now, **owner,
    )  # fmt: skip
    attachment.file.save(
        f"{now:%Y/%m}/{secrets.token_urlsafe(24)}{extension}",
        ContentFile(checked.content),
        save=False,
    )
    attachment.save()
    return attachment


def attachments_add(
    *, event: TicketEvent, files: Sequence[tuple[str, bytes]] | Sequence[CheckedFile]
) -> list[Attachment]:
    """Store files with a message (a customer message, a reply or a note), in the caller's
    transaction: call it inside the one that wrote the event, so a refusal leaves no message
    behind. ``files``: (filename, content) pairs, checked here, or attachments_check's result.

    A rollback after this leaves the stored bytes without a row: storage is not transactional.
    """
    checked = _checked(files)
    return [_stored(item, event=event, ticket_id=event.ticket_id) for item in checked]


def attachments_hold(
    *, attempt: Attempt, files: Sequence[tuple[str, bytes]] | Sequence[CheckedFile]
) -> list[Attachment]:
    """Store files sent with a request for a person, on its attempt: the escalation worker
    moves them to the ticket's first message when it makes the ticket."""
    return [_stored(checked, attempt=attempt) for checked in _checked(files)]


def _checked(files: Sequence[tuple[str, bytes]] | Sequence[CheckedFile]) -> list[CheckedFile]:
    if all(isinstance(item, CheckedFile) for item in files):
        return list(files)  # type: ignore[arg-type]
    return attachments_check(files=files)  # type: ignore[arg-type]


def attachment_link_token(attachment: Attachment) -> str:
    return signing.dumps(attachment.pk, salt=_LINK_SALT)


def attachment_link_read(token: str) -> int:
    """The attachment id of a link's token; AttachmentLinkExpired past
    ATTACHMENT_LINK_MAX_AGE, AttachmentLinkInvalid for anything else."""
    try:
        pk = signing.loads(token, salt=_LINK_SALT, max_age=settings.ATTACHMENT_LINK_MAX_AGE)
    except signing.SignatureExpired:
        raise AttachmentLinkExpired(_("This download link has expired.")) from None
    except signing.BadSignature:
        raise AttachmentLinkInvalid(_("This download link is not valid.")) from None
    if not isinstance(pk, int):
        raise AttachmentLinkInvalid(_("This download link is not valid."))
    return pk
