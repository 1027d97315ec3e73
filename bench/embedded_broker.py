"""Throughput of the embedded broker's candidates (docs/escalation.md, "The embedded broker").

    .venv/bin/python bench/embedded_broker.py [--messages 1000] [--publishers 4]

For each transport, in a fresh folder on the project's disk (under var/ unless --folder):

- sequential: one thread publishes --messages messages (~1 KB, like a task message), then one
  consumer takes and acknowledges them all; messages/s of each phase and of the round trip;
- concurrent: --publishers threads publish --messages messages between them while one
  consumer takes them; messages/s from the first publish to the last acknowledgement. A
  consumer that gets a half-written message fails the run: the error is printed instead.

Transports: kombu's file-system transport ("stock"), the project's (helpdesk/broker.py) with
and without fsync, and kombu's SQLAlchemy transport on a SQLite file when SQLAlchemy is
installed (it is not a dependency of the project: pip install sqlalchemy to include it).
"""

from __future__ import annotations

import argparse
import importlib.util
import shutil
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from kombu import Connection

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

PAYLOAD = {"task": "tickets.tasks.escalate_attempt", "padding": "x" * 900}


@dataclass
class Candidate:
    name: str
    transport: str | None  # None: the URL's scheme names it

    def connection(self, folder: Path) -> Connection:
        if self.transport is None:
            return Connection(f"sqla+sqlite:///{folder / 'broker.sqlite3'}")
        options: dict[str, object] = {
            "data_folder_in": str(folder / "queue"),
            "data_folder_out": str(folder / "queue"),
            "control_folder": str(folder / "control"),
            "polling_interval": 0.1,
        }
        if self.name.endswith("without fsync"):
            options["fsync"] = False
        return Connection("filesystem://", transport=self.transport, transport_options=options)


CANDIDATES = [
    Candidate("stock (kombu.transport.filesystem)", "kombu.transport.filesystem:Transport"),
    Candidate("atomic (helpdesk.broker), fsync", "helpdesk.broker:Transport"),
    Candidate("atomic (helpdesk.broker), without fsync", "helpdesk.broker:Transport"),
]
if importlib.util.find_spec("sqlalchemy"):
    CANDIDATES.append(Candidate("SQLAlchemy on SQLite (kombu.transport.sqlalchemy)", None))


def fresh_folder(parent: Path) -> Path:
    folder = Path(tempfile.mkdtemp(prefix="broker-", dir=parent))
    for sub in ("queue", "control"):
        (folder / sub).mkdir()
    return folder


def consume(candidate: Candidate, folder: Path, name: str, count: int) -> None:
    with candidate.connection(folder) as conn, conn.SimpleQueue(name) as queue:
        for _ in range(count):
            queue.get(timeout=30).ack()


def sequential(candidate: Candidate, folder: Path, count: int) -> str:
    name = "sequential"
    with candidate.connection(folder) as conn, conn.SimpleQueue(name) as queue:
        start = time.perf_counter()
        for _ in range(count):
            queue.put(PAYLOAD)
        published = time.perf_counter()
    consume(candidate, folder, name, count)
    done = time.perf_counter()
    return (
        f"publish {count / (published - start):7.0f}/s   consume "
        f"{count / (done - published):7.0f}/s   round trip {count / (done - start):7.0f}/s"
    )


def concurrent(candidate: Candidate, folder: Path, count: int, publishers: int) -> str:
    errors: list[BaseException] = []
    per_publisher = count // publishers
    name = "concurrent"

    def publish() -> None:
        try:
            with candidate.connection(folder) as conn, conn.SimpleQueue(name) as queue:
                for _ in range(per_publisher):
                    queue.put(PAYLOAD)
        except Exception as exc:
            errors.append(exc)

    # The queue exists before anyone publishes, as the worker's would.
    with candidate.connection(folder) as conn, conn.SimpleQueue(name):
        pass
    threads = [threading.Thread(target=publish) for _ in range(publishers)]
    start = time.perf_counter()
    for thread in threads:
        thread.start()
    try:
        consume(candidate, folder, name, per_publisher * publishers)
    except Exception as exc:
        errors.append(exc)
    done = time.perf_counter()
    for thread in threads:
        thread.join()
    if errors:
        return f"FAILED: {type(errors[0]).__name__}: {errors[0]}"
    return f"{per_publisher * publishers / (done - start):7.0f}/s"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=1000)
    parser.add_argument("--publishers", type=int, default=4)
    parser.add_argument("--folder", type=Path, default=ROOT / "var" / "bench")
    args = parser.parse_args()
    args.folder.mkdir(parents=True, exist_ok=True)
    print(f"{args.messages} messages of ~1 KB; concurrent: {args.publishers} publishers")
    for candidate in CANDIDATES:
        folder = fresh_folder(args.folder)
        try:
            print(f"\n{candidate.name}")
            print(f"  sequential:  {sequential(candidate, folder, args.messages)}")
            result = concurrent(candidate, folder, args.messages, args.publishers)
            print(f"  concurrent:  {result}")
        finally:
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
