""".env.example and the README's configuration table list exactly the variables settings.py reads.

The variables are found in settings.py's source (every call of a helpdesk.env reader with a
literal name, and every os.environ / os.getenv read), so a setting added, renamed or dropped
without its documentation fails here. The last section of .env.example is for docker-compose
alone (its `${NAME}` substitutions, not read by Django); those names are checked against
docker-compose.yml instead.
"""

from __future__ import annotations

import ast
import inspect
import re
from pathlib import Path

import pytest

from helpdesk import env

ROOT = Path(__file__).resolve().parents[2]
SETTINGS = ROOT / "helpdesk" / "settings.py"
ENV_EXAMPLE = ROOT / ".env.example"
README = ROOT / "README.md"
COMPOSE = ROOT / "docker-compose.yml"
# The header line that starts .env.example's docker-compose section.
COMPOSE_SECTION = re.compile(r"^#\s*-+\s*docker-compose only", re.MULTILINE)
NAME = re.compile(r"[A-Z][A-Z0-9_]*")
# The readers of helpdesk/env.py whose first argument is the variable's name.
READERS = {
    name
    for name, function in inspect.getmembers(env, inspect.isfunction)
    if name.startswith("env_") and function.__module__ == env.__name__
}


def _literal(node: ast.AST) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    return None


def _is_os_environ(node: ast.AST) -> bool:
    return (
        isinstance(node, ast.Attribute)
        and node.attr == "environ"
        and isinstance(node.value, ast.Name)
        and node.value.id == "os"
    )


def _reads_environment(call: ast.Call) -> bool:
    """env_int("X", …) and the other readers, os.environ.get("X"), os.getenv("X")."""
    func = call.func
    if isinstance(func, ast.Name):
        return func.id in READERS
    if not isinstance(func, ast.Attribute):
        return False
    if func.attr == "get":
        return _is_os_environ(func.value)
    return func.attr == "getenv" and isinstance(func.value, ast.Name) and func.value.id == "os"


def settings_variables() -> set[str]:
    """Every environment variable settings.py reads; fails on a name that is not a literal."""
    tree = ast.parse(SETTINGS.read_text(), filename=str(SETTINGS))
    found: set[str] = set()
    unreadable: list[str] = []
    for node in ast.walk(tree):
        name_node: ast.AST | None
        if isinstance(node, ast.Call) and _reads_environment(node):
            name_node = node.args[0] if node.args else None
        elif isinstance(node, ast.Subscript) and _is_os_environ(node.value):
            name_node = node.slice  # os.environ["X"]
        else:
            continue
        name = _literal(name_node) if name_node is not None else None
        if name is None:
            unreadable.append(f"line {node.lineno}: {ast.unparse(node)}")
        else:
            found.add(name)
    assert not unreadable, (
        "settings.py reads a variable whose name is not a string literal, so its"
        f" documentation cannot be checked: {unreadable}"
    )
    return found


def env_example_variables() -> tuple[set[str], set[str]]:
    """(the application's variables, the docker-compose section's variables)."""
    text = ENV_EXAMPLE.read_text()
    split = COMPOSE_SECTION.search(text)
    assert split, ".env.example has no '# --- docker-compose only' section header"

    def assigned(part: str) -> set[str]:
        return set(re.findall(r"^([A-Z][A-Z0-9_]*)=", part, re.MULTILINE))

    return assigned(text[: split.start()]), assigned(text[split.start() :])


def readme_variables() -> set[str]:
    """The names in the first column of the table under '## Configuration'."""
    text = README.read_text()
    section = re.search(r"^## Configuration\n(.*?)(?=^## )", text, re.MULTILINE | re.DOTALL)
    assert section, "README.md has no '## Configuration' section"
    names: set[str] = set()
    for line in section.group(1).splitlines():
        if not line.startswith("|") or line.startswith("|---"):
            continue
        first_cell = line.split("|")[1]
        names.update(n for n in re.findall(r"`([^`]+)`", first_cell) if NAME.fullmatch(n))
    assert names, "README.md's configuration table lists no variables"
    return names


@pytest.fixture(scope="module")
def read_by_settings() -> set[str]:
    names = settings_variables()
    # A sanity check on the parser itself: these are read today and must be found.
    assert {"DEBUG", "SECRET_KEY", "DATABASE_URL", "CELERY_BROKER_URL"} <= names
    return names


def test_env_example_lists_every_variable_settings_reads(read_by_settings):
    listed, _compose = env_example_variables()
    assert sorted(read_by_settings - listed) == [], "missing from .env.example"


def test_env_example_lists_no_variable_settings_no_longer_reads(read_by_settings):
    listed, _compose = env_example_variables()
    assert sorted(listed - read_by_settings) == [], (
        "in .env.example but not read by settings.py (docker-compose's own variables belong"
        " in its section at the end)"
    )


def test_the_readme_table_lists_every_variable_settings_reads(read_by_settings):
    assert sorted(read_by_settings - readme_variables()) == [], "missing from the README table"


def test_the_readme_table_lists_no_variable_settings_no_longer_reads(read_by_settings):
    assert sorted(readme_variables() - read_by_settings) == [], (
        "in the README's configuration table but not read by settings.py"
    )


def test_the_docker_compose_section_names_variables_docker_compose_uses(read_by_settings):
    _listed, compose = env_example_variables()
    used = set(re.findall(r"\$\{([A-Z][A-Z0-9_]*)", COMPOSE.read_text()))
    assert sorted(compose - used) == [], "in .env.example's docker-compose section, unused there"
    assert not compose & read_by_settings, "read by settings.py: list it with the others"
