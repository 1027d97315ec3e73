"""`make run` serves on BIND:PORT and links e-mails to that same address (SITE_URL), unless the
user set SITE_URL. Run with a stand-in supervisord that prints what it was given (and `-o
install`, MANAGE=true: nothing is installed, migrated or loaded)."""

from __future__ import annotations

import configparser
import os
import shutil
import subprocess

import pytest

from tests.processes import ROOT


def make_run(tmp_path, *variables: str, **environment: str) -> str:
    make = shutil.which("make")
    if make is None:
        pytest.skip("make is not installed")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    supervisord = bin_dir / "supervisord"
    supervisord.write_text('#!/bin/sh\necho "served=$BIND:$PORT site=$SITE_URL"\n')
    supervisord.chmod(0o755)
    env = {k: v for k, v in os.environ.items() if k not in {"SITE_URL", "BIND", "PORT"}}
    result = subprocess.run(
        [make, "-s", "-o", "install", "run", f"BIN={bin_dir}", "MANAGE=true",
         f"HELPDESK_VAR_DIR={tmp_path / 'var'}", *variables],
        cwd=ROOT, env={**env, **environment}, capture_output=True, text=True, timeout=60,
        check=True,
    )  # fmt: skip
    return result.stdout.splitlines()[-1]


def test_it_links_emails_to_the_address_it_serves(tmp_path):
    assert make_run(tmp_path, "PORT=8123") == ("served=127.0.0.1:8123 site=http://127.0.0.1:8123")


def test_a_site_url_set_by_the_user_wins(tmp_path):
    assert make_run(tmp_path, "PORT=8123", SITE_URL="https://help.example.com") == (
        "served=127.0.0.1:8123 site=https://help.example.com"
    )


def test_web_binds_the_address_make_run_gives_it():
    config = configparser.RawConfigParser()
    config.read(ROOT / "supervisord.conf")

    command = config.get("program:web", "command")

    assert command.endswith("runserver %(ENV_BIND)s:%(ENV_PORT)s")
