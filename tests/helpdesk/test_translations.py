"""The Arabic interface is complete, and every page speaks the language it claims."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import polib
import pytest
from django.utils import translation

from helpdesk.i18n import LOCALE_DIR, compile_translations
from tests.processes import process_env, skip_or_fail

ARABIC = LOCALE_DIR / "ar" / "LC_MESSAGES" / "django.po"
PLACEHOLDER = re.compile(r"%\(\w+\)[sdr]")


def test_every_arabic_string_is_translated():
    catalogue = polib.pofile(str(ARABIC))
    assert [e.msgid for e in catalogue.untranslated_entries()] == []
    assert [e.msgid for e in catalogue.fuzzy_entries()] == []


def test_arabic_translations_keep_their_placeholders():
    # Every placeholder, not a list of known ones: a new message's placeholder is checked too.
    # Plural forms are left out: Arabic's forms for zero, one and two spell the number out.
    for entry in polib.pofile(str(ARABIC)):
        if not entry.msgid_plural:
            for placeholder in PLACEHOLDER.findall(entry.msgid):
                assert placeholder in entry.msgstr, entry.msgid


def test_the_compiler_writes_mo_files_django_reads(tmp_path):
    target = tmp_path / "ar" / "LC_MESSAGES"
    target.mkdir(parents=True)
    (target / "django.po").write_bytes(ARABIC.read_bytes())
    compiled = compile_translations(tmp_path)
    assert compiled == [target / "django.mo"]
    assert polib.mofile(str(compiled[0])).percent_translated() == 100


@pytest.mark.parametrize(("language", "expected"), [("ar", "العربية"), ("en", "Arabic")])
def test_django_serves_the_compiled_catalogue(language, expected):
    with translation.override(language):
        assert translation.gettext("Arabic") == expected


def test_the_home_page_follows_the_chosen_language(client, db):
    from django.core.management import call_command

    call_command("import_guides", "guides/demo_guides", verbosity=0)
    client.post("/i18n/setlang/", {"language": "ar", "next": "/"})
    response = client.get("/")
    body = response.content.decode()
    assert '<html lang="ar" dir="rtl">' in body
    listed = [guide.language for guide in response.context["guides"]]
    assert listed[0] == "ar"
    assert listed == sorted(listed, key=lambda language: language != "ar")  # Arabic first
    with translation.override("ar"):
        assert translation.gettext("Find a fix before you wait for a person") in body
    client.post("/i18n/setlang/", {"language": "en", "next": "/"})
    assert '<html lang="en" dir="ltr">' in client.get("/").content.decode()


def test_the_catalogues_hold_every_message_the_code_marks(tmp_path):
    """A message marked in the code but missing from the catalogue shows in English on every
    Arabic page, and no other test notices. Extract afresh in a copy and compare."""
    if shutil.which("xgettext") is None:
        skip_or_fail("GNU gettext's xgettext is not installed (apt-get install gettext)")
    root = LOCALE_DIR.parent
    copy = tmp_path / "project"
    copy.mkdir()
    skipped = shutil.ignore_patterns(".*", "__pycache__", "*.mo", "var", "tests", "bench", "docs")
    for name in ("manage.py", "helpdesk", "guides", "tickets", "locale"):
        source = root / name
        if source.is_dir():
            shutil.copytree(source, copy / name, ignore=skipped)
        else:
            shutil.copy2(source, copy / name)
    # The Makefile's `messages` target, run in the copy.
    result = subprocess.run(
        [sys.executable, "manage.py", "makemessages", "--locale", "ar", "--no-obsolete"],
        # The copy has no tests package, so not the suite's settings module either.
        cwd=copy, env=process_env(tmp_path / "var", DJANGO_SETTINGS_MODULE="helpdesk.settings"),
        capture_output=True, text=True,
        timeout=120, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr

    def messages(po_path: Path) -> set[tuple[str | None, str]]:
        return {(entry.msgctxt, entry.msgid) for entry in polib.pofile(str(po_path))}

    extracted = messages(copy / "locale" / "ar" / "LC_MESSAGES" / "django.po")
    committed = messages(ARABIC)
    assert sorted(extracted - committed, key=str) == [], "run `make messages` and translate"
    assert sorted(committed - extracted, key=str) == [], "run `make messages`: unused entries"
