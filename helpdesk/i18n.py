"""Compile the project's translations (locale/*/LC_MESSAGES/*.po → .mo) with polib.

Django's compilemessages needs GNU gettext's msgfmt, which a machine with only Python lacks;
this does the same in pure Python, so `make install` can compile on any machine.

    python -m helpdesk.i18n            # compile every .po under locale/
"""

from __future__ import annotations

import sys
from pathlib import Path

import polib  # type: ignore[import-untyped]

LOCALE_DIR = Path(__file__).resolve().parent.parent / "locale"


def compile_translations(locale_dir: Path = LOCALE_DIR) -> list[Path]:
    compiled = []
    for po_path in sorted(locale_dir.glob("*/LC_MESSAGES/*.po")):
        catalogue = polib.pofile(str(po_path))
        mo_path = po_path.with_suffix(".mo")
        catalogue.save_as_mofile(str(mo_path))
        compiled.append(mo_path)
    return compiled


def main() -> int:
    compiled = compile_translations()
    for path in compiled:
        print(f"compiled {path.relative_to(LOCALE_DIR.parent)}")
    return 0 if compiled else 1


if __name__ == "__main__":
    sys.exit(main())
