from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser

from guides.guide_format import FieldError
from guides.imports import GUIDE_SUFFIXES, GuideFileOutcome, guide_file_import


def collect_guide_files(paths: list[str]) -> list[Path]:
    files: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            files.extend(
                sorted(
                    p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in GUIDE_SUFFIXES
                )
            )
        elif path.is_file():
            files.append(path)
        else:
            raise CommandError(f"{raw}: no such file or folder")
    return files


class Command(BaseCommand):
    help = (
        "Import guide files (YAML, see docs/guide-format.md) from files or folders. "
        "Re-importing updates guides in place; each file is imported whole or not at all."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("paths", nargs="+", help="guide files or folders holding them")

    def handle(self, *args, paths: list[str], verbosity: int, **options) -> None:
        files = collect_guide_files(paths)
        if not files:
            raise CommandError(f"no guide files (*.yaml, *.yml) under {', '.join(paths)}")
        counts = {"created": 0, "updated": 0, "unchanged": 0, "failed": 0}
        defaulted_to_draft = 0
        total = len(files)
        # Report every tenth of a large import so a long run shows it is moving.
        progress_every = max(total // 10, 1) if total >= 50 else 0
        for number, path in enumerate(files, start=1):
            try:
                data = path.read_bytes()
            except OSError as exc:
                # The admin's import goes through the same function (guides.imports).
                done = GuideFileOutcome("failed", (FieldError("(file)", f"cannot be read: {exc}"),))
            else:
                done = guide_file_import(data=data)
            counts[done.outcome] += 1
            for error in done.errors:
                self.stderr.write(self.style.ERROR(f"{path}: {error}"))
            if done.result is not None:
                result = done.result
                if done.draft_by_default:
                    # Said at every verbosity: a draft is invisible to customers, and a file
                    # that merely forgot the field would otherwise look like a success.
                    defaulted_to_draft += 1
                    self.stdout.write(
                        self.style.WARNING(
                            f"{path}: status: not in the file, so the guide is a draft that"
                            " customers do not see (add `status: published` to publish it)"
                        )
                    )
                if verbosity >= 2:
                    self.stdout.write(
                        f"[{number}/{total}] {path}: {result.outcome}"
                        f" (steps +{result.steps_created} ~{result.steps_updated}"
                        f" -{result.steps_deleted})"
                    )
            if progress_every and number % progress_every == 0 and verbosity == 1:
                self.stdout.write(f"[{number}/{total}] files processed")
        summary = ", ".join(f"{count} {name}" for name, count in counts.items())
        if defaulted_to_draft:
            summary += f" ({defaulted_to_draft} draft without a status in the file)"
        if counts["failed"]:
            raise CommandError(f"{total} guide files: {summary}")
        self.stdout.write(self.style.SUCCESS(f"{total} guide files: {summary}"))
