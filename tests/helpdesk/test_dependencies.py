"""Apps depend one way: tickets -> guides -> helpdesk. A module of guides never imports tickets
(the door from self-help to a person belongs to tickets), whether at the top or inside a
function; read from the source with ast, so neither a comment nor a string counts."""

from __future__ import annotations

from pathlib import Path

from django.conf import settings

from tests.helpers import imported_names

GUIDES = Path(settings.BASE_DIR) / "guides"


def _imports_tickets(source: str) -> list[str]:
    return [
        f"line {line}: {module}"
        for line, module in imported_names(source)
        if module == "tickets" or module.startswith("tickets.")
    ]


def test_no_module_of_guides_imports_tickets():
    modules = sorted(GUIDES.rglob("*.py"))
    assert len(modules) > 10  # the walk found the app
    offenders = {
        str(path.relative_to(settings.BASE_DIR)): found
        for path in modules
        if (found := _imports_tickets(path.read_text(encoding="utf-8")))
    }
    assert offenders == {}


def test_the_check_sees_every_form_of_import():
    source = (
        "import tickets\n"
        "import tickets.services as s\n"
        "from tickets.models import Ticket\n"
        "def f():\n"
        "    from tickets import services\n"
    )
    assert len(_imports_tickets(source)) == 4
    assert _imports_tickets("import ticketsx\nfrom guides import tickets_view\n# tickets\n") == []
