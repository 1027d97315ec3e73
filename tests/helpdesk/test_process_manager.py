"""`make run`'s process manager (supervisord with the repo's supervisord.conf): a killed worker
or beat is started again while web goes on answering, and an interrupt stops everything."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.brokers import free_port
from tests.processes import ROOT, process_env, running, wait_for

pytestmark = pytest.mark.worker

BIN = Path(sys.executable).parent
CONFIG = ROOT / "supervisord.conf"
STATUS = re.compile(r"^(\w+)\s+(\w+)\s+(?:pid (\d+))?", re.MULTILINE)


@pytest.fixture
def var_dir():
    # Not pytest's tmp_path: supervisord's control socket lives here, and a socket path must
    # stay under ~100 characters.
    folder = Path(tempfile.mkdtemp(prefix="helpdesk-pm-"))
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def statuses(env: dict[str, str]) -> dict[str, tuple[str, int | None]]:
    """Each program's state and pid, as supervisorctl reports them ({} while it cannot)."""
    result = subprocess.run(
        [str(BIN / "supervisorctl"), "-c", str(CONFIG), "status"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=15, check=False,
    )  # fmt: skip
    return {
        name: (state, int(pid) if pid else None)
        for name, state, pid in STATUS.findall(result.stdout)
    }


def all_running(env: dict[str, str]) -> dict[str, int] | None:
    current = statuses(env)
    if {name for name, (state, _) in current.items() if state == "RUNNING"} >= {
        "web",
        "worker",
        "beat",
    }:
        return {name: pid for name, (_, pid) in current.items() if pid}
    return None


def web_answers(port: int) -> bool:
    try:
        with urllib.request.urlopen(
            f"http://127.0.0.1:{port}/static/helpdesk/site.css", timeout=2
        ) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_it_restarts_a_killed_worker_and_beat_while_web_keeps_answering(var_dir):
    port = free_port()
    env = process_env(
        var_dir, PORT=str(port), BIND="127.0.0.1", PATH=f"{BIN}{os.pathsep}{os.environ['PATH']}"
    )
    log = var_dir / "make-run.log"

    with running([str(BIN / "supervisord"), "-c", str(CONFIG)], env, log) as manager:

        def started() -> dict[str, int] | None:
            assert manager.poll() is None, f"supervisord exited:\n{log.read_text()}"
            return all_running(env)

        before = wait_for(started, timeout=30, what="web, worker, beat", log=log)
        wait_for(lambda: web_answers(port), timeout=30, what="web", log=log)

        # What the kernel does to a worker that runs out of memory; beat likewise.
        os.kill(before["worker"], signal.SIGKILL)
        os.kill(before["beat"], signal.SIGKILL)

        def restarted() -> dict[str, int] | None:
            now = all_running(env)
            if now and now["worker"] != before["worker"] and now["beat"] != before["beat"]:
                return now
            return None

        after = wait_for(restarted, timeout=30, what="a new worker and beat", log=log)
        assert after["web"] == before["web"]  # web was never stopped
        assert web_answers(port)

        # Ctrl-C in `make run`'s terminal.
        manager.send_signal(signal.SIGINT)
        assert manager.wait(timeout=40) == 0

    output = log.read_text(errors="replace")
    assert "exited: worker (terminated by SIGKILL; not expected)" in output
    assert not [name for name, pid in after.items() if alive(pid)]
