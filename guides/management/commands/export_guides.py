from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser

from guides.guide_format import dump_guide_data
from guides.imports import guide_file_name
from guides.models import Company, Language
from guides.selectors import guides_for_export
from guides.services import guide_export_data


class Command(BaseCommand):
    help = "Write guides as guide files (the import_guides format) into OUT_DIR."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("out_dir", help="folder to write into (created if missing)")
        parser.add_argument("--company", help="only this company (its slug)")
        parser.add_argument("--language", choices=Language.values, help="only this language")

    def handle(self, *args, out_dir: str, company: str | None, language: str | None, **options):
        if company and not Company.objects.filter(slug=company).exists():
            raise CommandError(f"--company: no company with slug {company!r}")
        target = Path(out_dir)
        try:
            target.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise CommandError(f"{out_dir}: cannot create the folder: {exc}") from None
        written = 0
        for guide in guides_for_export(company=company, language=language):
            path = target / guide_file_name(guide)  # as the admin's export names it
            path.write_text(dump_guide_data(guide_export_data(guide=guide)), encoding="utf-8")
            written += 1
        self.stdout.write(self.style.SUCCESS(f"{written} guide files written to {target}"))
