"""The Docker image ships compiled translations.

The .mo files are git-ignored, so a build from a clean clone has none unless the Dockerfile
compiles them. No Docker engine runs in CI; instead this test takes what the image is built
from (the committed tree of HEAD, via `git archive`), runs the Dockerfile's own translation
step on it (read from the Dockerfile, so the test follows it) and checks that the project in
that folder speaks Arabic.
"""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys
import tarfile
import tomllib
from pathlib import Path

import polib
import pytest

from tests.processes import process_env, skip_or_fail

REPO = Path(__file__).resolve().parents[2]
ARABIC_MSGID = "Talk to a person"


def dockerfile_stages(text: str) -> dict[str, list[tuple[str, str]]]:
    """The instructions of each named stage, as (KEYWORD, arguments), continuation lines
    joined and comments dropped."""
    instructions: list[str] = []
    current = ""
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith("#") or (not stripped and not current):
            continue
        if stripped.endswith("\\"):
            current += stripped[:-1].strip() + " "
            continue
        instructions.append(current + stripped)
        current = ""
    stages: dict[str, list[tuple[str, str]]] = {}
    stage: list[tuple[str, str]] = []
    for instruction in instructions:
        keyword, _, arguments = instruction.partition(" ")
        if keyword.upper() == "FROM":
            words = arguments.split()
            name = words[-1] if len(words) >= 3 and words[-2].upper() == "AS" else arguments
            stage = stages.setdefault(name, [])
        stage.append((keyword.upper(), arguments.strip()))
    return stages


def clean_clone(target: Path) -> Path:
    """The committed tree of HEAD, as a fresh clone would have it (no git-ignored files)."""
    if shutil.which("git") is None:
        skip_or_fail("git is not installed")
    archive = subprocess.run(
        ["git", "-C", str(REPO), "archive", "--format=tar", "HEAD"],
        capture_output=True,
        check=False,
    )
    if archive.returncode != 0:
        skip_or_fail(f"not a git checkout: {archive.stderr.decode(errors='replace').strip()}")
    with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
        tar.extractall(target, filter="data")
    return target


@pytest.fixture(scope="module")
def runtime_stage() -> list[tuple[str, str]]:
    stages = dockerfile_stages((REPO / "Dockerfile").read_text())
    assert "runtime" in stages, "the Dockerfile has no stage named runtime"
    return stages["runtime"]


def test_the_image_compiles_translations_after_copying_the_code(runtime_stage):
    steps = [f"{keyword} {arguments}" for keyword, arguments in runtime_stage]
    compile_at = [i for i, step in enumerate(steps) if "helpdesk.i18n" in step]
    assert compile_at, "no RUN step of the runtime stage compiles the translations"
    copy_code_at = steps.index("COPY . .")
    collectstatic_at = next(i for i, step in enumerate(steps) if "collectstatic" in step)
    assert copy_code_at < compile_at[0] < collectstatic_at
    # The build stage installs the runtime dependencies only; the compiler must be one.
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text())
    assert any(dep.startswith("polib") for dep in pyproject["project"]["dependencies"])


def test_a_clean_clone_built_as_the_image_serves_arabic(tmp_path, runtime_stage):
    source = clean_clone(tmp_path / "app")
    arabic_po = source / "locale" / "ar" / "LC_MESSAGES" / "django.po"
    assert arabic_po.exists()
    # What a clean clone lacks, and why the step is needed.
    assert list(source.glob("locale/*/LC_MESSAGES/*.mo")) == []

    env = process_env(tmp_path / "var", DEBUG="false", ALLOWED_HOSTS="x")
    # `python` in the Dockerfile is the image's virtualenv; here, the test's interpreter.
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    for keyword, command in runtime_stage:
        if keyword == "RUN" and "helpdesk.i18n" in command:
            # WORKDIR /app: the step runs in the copied code.
            subprocess.run(["sh", "-c", command], cwd=source, env=env, check=True, timeout=60)

    assert (source / "locale" / "ar" / "LC_MESSAGES" / "django.mo").exists()
    expected = polib.pofile(str(arabic_po)).find(ARABIC_MSGID).msgstr
    assert expected and expected != ARABIC_MSGID

    # The project of that folder (its settings, its LOCALE_PATHS), not this checkout's.
    probe = (
        "import django, helpdesk; django.setup();"
        "from django.utils import translation;"
        "translation.activate('ar');"
        "print(helpdesk.__file__);"
        f"print(translation.gettext({ARABIC_MSGID!r}))"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=source,
        env={**env, "DJANGO_SETTINGS_MODULE": "helpdesk.settings", "PYTHONPATH": str(source)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    module_file, translated = result.stdout.strip().splitlines()
    assert Path(module_file).is_relative_to(source)
    assert translated == expected
