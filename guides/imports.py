"""Importing and exporting guide files, for the command line and the admin alike.

One file goes through guide_file_import whichever door it came in by: decoded, parsed,
checked against what its importer may do, then imported in its own transaction (or, for a dry
run, imported and rolled back, so that the outcome a dry run shows is the one an import at that
moment has). The admin's upload is a GuideImport: checked first, its files' text kept in the
database, then applied file by file by a task (guides.tasks.apply_guide_import) that records
each file's outcome as it goes: the progress the admin's page polls, and what makes a second
run of the task skip the files already imported.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import PurePosixPath
from typing import IO, Any

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from guides.guide_format import (
    SUPPORT_TO_MODEL,
    FieldError,
    GuideDocument,
    GuideFileError,
    dump_guide_data,
    parse_guide_text,
)
from guides.models import Company, Guide, GuideImport, GuideImportFile
from guides.services import GuideImportResult, guide_export_data, guide_import
from helpdesk.errors import ServiceError

GUIDE_SUFFIXES = (".yaml", ".yml")
# Limits of one upload in the admin. A zip is read entry by entry with these as read bounds,
# never trusting the sizes its directory claims: a zip bomb stops at the first byte too many.
MAX_FILES = 500
MAX_FILE_BYTES = 1_000_000
MAX_TOTAL_BYTES = 20_000_000
# A checked upload may be applied for this long; after that it must be uploaded again (the
# guides it was compared with may have changed too much for its dry run to mean anything).
CHECK_VALID_FOR = timedelta(hours=24)
# Uploads (their files' text and outcomes) are deleted this long after they were made: the
# guides keep what was imported; the upload is only the way there.
KEPT_FOR = timedelta(days=7)

OUTCOMES = ("created", "updated", "unchanged", "failed")


class GuideImportError(ServiceError):
    """An upload refused as a whole (too big, too many files); single files fail on their own."""

    code = "guide_import_refused"


@dataclass(frozen=True)
class GuideFileUpload:
    """One guide file as uploaded: its name (without any folder) and its bytes, or the error
    that kept it from being read."""

    name: str
    data: bytes | None
    error: FieldError | None = None


@dataclass(frozen=True)
class GuideFileOutcome:
    outcome: str  # one of OUTCOMES
    errors: tuple[FieldError, ...] = ()
    result: GuideImportResult | None = None
    # The file has no `status`: the guide is (or stays, or becomes) a draft customers don't see.
    draft_by_default: bool = False


# --- reading uploads ---------------------------------------------------------------------------


def _is_guide_name(name: str) -> bool:
    return name.lower().endswith(GUIDE_SUFFIXES)


def _read_bounded(stream: IO[bytes], limit: int) -> bytes | None:
    """At most ``limit`` bytes of ``stream``; None when it holds more."""
    data = stream.read(limit + 1)
    return None if len(data) > limit else data


def _too_large(name: str) -> GuideFileUpload:
    return GuideFileUpload(
        name=name,
        data=None,
        error=FieldError(
            "(file)",
            _("is larger than %(limit)s bytes, the limit for one guide file")
            % {"limit": f"{MAX_FILE_BYTES:,}"},
        ),
    )


def _zip_entries(name: str, stream: IO[bytes]) -> list[GuideFileUpload]:
    try:
        archive = zipfile.ZipFile(stream)
    except (zipfile.BadZipFile, OSError, ValueError):
        return [GuideFileUpload(name, None, FieldError("(file)", _("is not a readable zip file")))]
    files: list[GuideFileUpload] = []
    with archive:
        for info in archive.infolist():
            # Only the entry's own name: folders in the zip are ignored, so "../../x.yaml" is
            # "x.yaml" and nothing is ever written by path anyway. macOS adds "._x.yaml" copies
            # of resource forks under __MACOSX/; hidden files are no guides.
            entry = PurePosixPath(info.filename.replace("\\", "/")).name
            if info.is_dir() or not entry or entry.startswith(".") or not _is_guide_name(entry):
                continue
            if "__MACOSX" in info.filename.split("/"):
                continue
            if len(files) >= MAX_FILES:
                raise GuideImportError(
                    _("%(name)s holds more than %(limit)s guide files; import them in parts.")
                    % {"name": name, "limit": MAX_FILES}
                )
            label = f"{name}: {entry}"[:255]
            try:
                with archive.open(info) as member:
                    data = _read_bounded(member, MAX_FILE_BYTES)
            except (zipfile.BadZipFile, RuntimeError, NotImplementedError, OSError, EOFError):
                # Encrypted, an unknown compression, or a corrupt entry.
                error = FieldError("(file)", _("cannot be read from the zip file"))
                files.append(GuideFileUpload(label, None, error))
                continue
            files.append(_too_large(label) if data is None else GuideFileUpload(label, data))
    return files


def guide_files_read(uploads: Iterable[tuple[str, IO[bytes]]]) -> list[GuideFileUpload]:
    """The guide files of an upload: YAML files as they are, zip files by their guide files.

    Raises GuideImportError when the upload as a whole is too big (MAX_TOTAL_BYTES of guide
    text, MAX_FILES files); a single file that can't be read is returned with its error.
    """
    files: list[GuideFileUpload] = []
    for raw_name, stream in uploads:
        name = PurePosixPath(raw_name.replace("\\", "/")).name or "upload"
        if name.lower().endswith(".zip"):
            files.extend(_zip_entries(name, stream))
        elif _is_guide_name(name):
            data = _read_bounded(stream, MAX_FILE_BYTES)
            files.append(_too_large(name) if data is None else GuideFileUpload(name, data))
        else:
            error = FieldError(
                "(file)", _("is not a guide file: only .yaml and .yml files and zips of them")
            )
            files.append(GuideFileUpload(name[:255], None, error))
        if len(files) > MAX_FILES:
            raise GuideImportError(
                _("More than %(limit)s guide files; import them in parts.") % {"limit": MAX_FILES}
            )
        if sum(len(file.data or b"") for file in files) > MAX_TOTAL_BYTES:
            raise GuideImportError(
                _("The guide files add up to more than %(limit)s bytes; import them in parts.")
                % {"limit": f"{MAX_TOTAL_BYTES:,}"}
            )
    return files


def guide_file_decode(data: bytes) -> str:
    """A guide file's text, as the command line has always read it (UTF-8, universal
    newlines); raises GuideFileError naming ``(file)``."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise GuideFileError([FieldError("(file)", f"cannot be read: {exc}")]) from None
    return text.replace("\r\n", "\n").replace("\r", "\n")


# --- one file ---------------------------------------------------------------------------------

_COMPANY_FIELD_PATHS = {
    "name": "company.name",
    "website": "company.website",
    **{model: f"company.support.{key}" for key, model in SUPPORT_TO_MODEL.items()},
}


def _import_refusal(user: Any, document: GuideDocument) -> FieldError | None:
    """Why ``user`` may not import ``document``, or None. ``user`` None is the command line,
    which may do anything. An author imports the guides of the companies they write for
    (Company.authors); creating a company or changing its details takes the right to change
    companies, as it does in the admin's own forms."""
    if user is None:
        return None
    if not user.has_perms(["guides.add_guide", "guides.change_guide"]):
        return FieldError("company", _("you may not add or change guides"))
    manages_companies = user.has_perm("guides.change_company")
    company = Company.objects.filter(slug=document.company.slug).first()
    if company is None:
        if manages_companies and user.has_perm("guides.add_company"):
            return None
        return FieldError(
            "company.slug",
            _("there is no company %(slug)s, and you may not create one")
            % {"slug": repr(document.company.slug)},
        )
    if manages_companies:
        return None
    if not company.authors.filter(pk=user.pk).exists():
        return FieldError(
            "company.slug",
            _("you do not write the guides of %(slug)s (you are not one of its authors)")
            % {"slug": repr(company.slug)},
        )
    wanted = {"name": document.company.name, **document.company.details}
    for name, value in wanted.items():
        if getattr(company, name) != value:
            return FieldError(
                _COMPANY_FIELD_PATHS[name],
                _(
                    "differs from the company's details, which you may not change: write what "
                    "the company has (an export shows it) or leave the field out"
                ),
            )
    return None


def guide_file_import(
    *, data: bytes | None = None, text: str | None = None, user: Any = None, dry_run: bool = False
) -> GuideFileOutcome:
    """Import one guide file (its bytes or its decoded text) in its own transaction.

    ``user``: who imports, whose rights are checked (None: the command line). ``dry_run``: the
    import is done and rolled back, so its outcome is exact and nothing is written. (The page
    cache of guides is told of a change that did not happen: one needless refill.)
    """
    try:
        if text is None:
            assert data is not None
            text = guide_file_decode(data)
        document = parse_guide_text(text)
        refusal = _import_refusal(user, document)
        if refusal is not None:
            raise GuideFileError([refusal])
        with transaction.atomic():
            result = guide_import(document=document)
            if dry_run:
                transaction.set_rollback(True)
    except GuideFileError as exc:
        return GuideFileOutcome(outcome="failed", errors=tuple(exc.errors))
    except IntegrityError as exc:
        # A guide of the same key made at the same moment by someone else: the database's
        # constraints catch what guide_import's checks could not see yet.
        error = FieldError("(file)", _("could not be saved: %(error)s") % {"error": exc})
        return GuideFileOutcome(outcome="failed", errors=(error,))
    return GuideFileOutcome(
        outcome=result.outcome,
        result=None if dry_run else result,
        draft_by_default=not document.status_given,
    )


# --- an admin upload: check, then apply -------------------------------------------------------


def _errors_data(errors: Iterable[FieldError]) -> list[dict[str, str]]:
    return [{"field": error.field, "message": error.message} for error in errors]


def guide_import_check(*, user: Any, files: list[GuideFileUpload]) -> GuideImport:
    """Dry-run every file for ``user`` and keep them with their outcomes, to be applied later
    (guide_import_apply_start). Nothing of the guides is written."""
    rows: list[GuideImportFile] = []
    for number, upload in enumerate(files, start=1):
        text = ""
        if upload.error is not None:
            checked = GuideFileOutcome(outcome="failed", errors=(upload.error,))
        else:
            assert upload.data is not None
            try:
                text = guide_file_decode(upload.data)
            except GuideFileError as exc:
                checked = GuideFileOutcome(outcome="failed", errors=tuple(exc.errors))
            else:
                # Each in its own transaction, rolled back: no lock outlives its file.
                checked = guide_file_import(text=text, user=user, dry_run=True)
        rows.append(
            GuideImportFile(
                number=number,
                name=upload.name,
                text=text,
                checked_outcome=checked.outcome,
                errors=_errors_data(checked.errors),
                draft_by_default=checked.draft_by_default,
            )
        )
    with transaction.atomic():
        # Each upload clears the old ones away: no schedule needed for a table this small.
        GuideImport.objects.filter(created_at__lt=timezone.now() - KEPT_FOR).delete()
        guide_import_row = GuideImport.objects.create(created_by=user)
        for row in rows:
            row.guide_import = guide_import_row
        GuideImportFile.objects.bulk_create(rows)
    return guide_import_row


def guide_import_apply_start(*, guide_import: GuideImport, user: Any) -> GuideImport:
    """Mark a checked upload of ``user`` as being applied; the files that failed their dry run
    are skipped (failed) at once. The caller then sends the task that applies the others.

    A conditional update: of two clicks on "Import", one starts the import and the other is
    told it has started already."""
    now = timezone.now()
    with transaction.atomic():
        started = GuideImport.objects.filter(
            pk=guide_import.pk,
            created_by=user,
            state=GuideImport.State.CHECKED,
            created_at__gte=now - CHECK_VALID_FOR,
        ).update(state=GuideImport.State.APPLYING, applied_at=now)
        if not started:
            raise GuideImportError(
                _("This upload cannot be imported: it was imported already or is too old.")
                + " "
                + _("Upload the files again."),
                code="guide_import_not_checked",
                status=409,
            )
        guide_import.files.filter(checked_outcome="failed", outcome="").update(outcome="failed")
    guide_import.refresh_from_db()
    return guide_import


def guide_import_apply(*, guide_import_id: int) -> GuideImport | None:
    """Import the files of an upload being applied that have no outcome yet, one transaction
    each, and mark the upload done when none is left. Safe to run twice, or twice at once:
    a file is taken under its row's lock and only while it has no outcome, and its outcome is
    written in the same transaction as its guide."""
    guide_import_row = (
        GuideImport.objects.select_related("created_by").filter(pk=guide_import_id).first()
    )
    if guide_import_row is None or guide_import_row.state == GuideImport.State.CHECKED:
        return guide_import_row
    user = guide_import_row.created_by
    pending = guide_import_row.files.filter(outcome="").order_by("number")
    for file_id in list(pending.values_list("pk", flat=True)):
        with transaction.atomic():
            row = GuideImportFile.objects.select_for_update().filter(pk=file_id, outcome="").first()
            if row is None:
                continue  # another run of the task imported it
            done = guide_file_import(text=row.text, user=user)
            row.outcome = done.outcome
            if done.errors:
                row.errors = _errors_data(done.errors)
            row.guide = done.result.guide if done.result else None
            row.save(update_fields=["outcome", "errors", "guide"])
    if not guide_import_row.files.filter(outcome="").exists():
        GuideImport.objects.filter(pk=guide_import_id, state=GuideImport.State.APPLYING).update(
            state=GuideImport.State.DONE, finished_at=timezone.now()
        )
    guide_import_row.refresh_from_db()
    return guide_import_row


def guide_import_for(*, user: Any, guide_import_id: int) -> GuideImport | None:
    """An upload of ``user`` (only they see its files: they hold their text)."""
    return GuideImport.objects.filter(pk=guide_import_id, created_by=user).first()


def guide_import_progress(guide_import: GuideImport) -> dict[str, Any]:
    """How far an upload is: files with an outcome out of all, and the outcomes' counts."""
    total = 0
    done = 0
    counts = dict.fromkeys(OUTCOMES, 0)
    rows = guide_import.files.values_list("outcome", "checked_outcome")
    for outcome, checked in rows:
        total += 1
        if outcome:
            done += 1
        shown = outcome or (checked if guide_import.state == GuideImport.State.CHECKED else "")
        if shown:
            counts[shown] += 1
    return {
        "state": guide_import.state,
        "done": done,
        "total": total,
        "percent": round(100 * done / total) if total else 100,
        "counts": counts,
    }


# --- export ------------------------------------------------------------------------------------


def guide_file_name(guide: Guide) -> str:
    return f"{guide.company.slug}--{guide.slug}.{guide.language}.yaml"


def guides_export_zip(guides: Iterable[Guide]) -> bytes:
    """A zip of guide files, one per guide, that guide_files_read reads back."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for guide in guides:
            text = dump_guide_data(guide_export_data(guide=guide))
            archive.writestr(guide_file_name(guide), text)
    return buffer.getvalue()
