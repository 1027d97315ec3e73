"""The ticket services reach the Celery tasks only through tickets.signals: no module of the
services package imports tickets.tasks (at the top or inside a function), and every signal the
services send has its receiver connected in this process (TicketsConfig.ready)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from django.dispatch import Signal

from tickets import services, signals

SERVICES = Path(services.__file__).parent


def imported_modules(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


@pytest.mark.parametrize("module", sorted(SERVICES.glob("*.py")), ids=lambda path: path.name)
def test_no_service_module_imports_the_tasks(module):
    assert not {name for name in imported_modules(module) if name.startswith("tickets.tasks")}


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
