"""The ticket services reach the Celery tasks only through tickets.signals: no module of the
services package imports tickets.tasks (at the top or inside a function), and every signal the
services send has its receiver connected in this process (TicketsConfig.ready)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from django.dispatch import Signal

from tests.helpers import imported_names
from tickets import services, signals

SERVICES = Path(services.__file__).parent


@pytest.mark.parametrize("module", sorted(SERVICES.glob("*.py")), ids=lambda path: path.name)
def test_no_service_module_imports_the_tasks(module):
    imports = imported_names(module.read_text(encoding="utf-8"))
    assert not [(line, name) for line, name in imports if name.startswith("tickets.tasks")]


def test_the_tasks_import_the_services_at_the_top():
    tasks = Path(services.__file__).parent.parent / "tasks.py"
    top = ast.parse(tasks.read_text()).body
    assert any(
        isinstance(node, ast.ImportFrom)
        and node.module == "tickets"
        and "services" in {alias.name for alias in node.names}
        for node in top
    )


@pytest.mark.parametrize(
    "name", [name for name, value in vars(signals).items() if isinstance(value, Signal)]
)
def test_every_signal_of_the_services_has_its_receiver(name):
    assert getattr(signals, name).has_listeners()
