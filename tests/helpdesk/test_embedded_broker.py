"""The embedded (file-system) broker under a stress of publishers: every message is delivered
exactly once and the worker stays alive.

kombu's own file-system transport fails these tests (kombu#1551: a poll between a message file's
creation and its write reads an empty file, and the worker exits on ``JSONDecodeError``). To see
it fail, run them on kombu's transport:

    HELPDESK_TEST_BROKER_TRANSPORT=kombu.transport.filesystem:Transport \\
        .venv/bin/pytest tests/helpdesk/test_embedded_broker.py
"""

from __future__ import annotations

import json
import os
import re
import sys
import threading
import uuid
from collections import Counter
from contextlib import ExitStack
from pathlib import Path

import pytest
from kombu import Connection
from kombu.simple import SimpleQueue

from helpdesk.celery import app
from tests.processes import celery, process_env, running, wait_for, worker_ready

# The transport under test: the embedded default's, unless the environment names another.
OTHER_TRANSPORT = os.environ.get("HELPDESK_TEST_BROKER_TRANSPORT")
TRANSPORT = OTHER_TRANSPORT or "helpdesk.broker:Transport"
POLLING_INTERVAL = 0.1  # the embedded default's (CELERY_POLLING_INTERVAL)

# Enough concurrent publishers that, on kombu's transport, some message file is nearly always
# between its creation and its write while the worker polls; messages big enough that a write
# is not one instant. A web server with a few threads under a burst of escalations does this.
PUBLISHERS = 8
ROUNDS = 12
CONSUMERS = 3
PADDING = "x" * 256_000
OTHER_REQUESTS = 3

# `make run`'s worker options. Another transport is set on the app before the worker starts.
WORKER = ["worker", "--loglevel=INFO", "--concurrency=2", "--without-mingle", "--without-gossip"]
RUN_WORKER_ON = (
    "import sys; from helpdesk.celery import app; "
    "app.conf.broker_transport = sys.argv[1]; app.worker_main(sys.argv[2:])"
)
# A consumer process of its own, as a second worker would be: it writes each message's id.
CONSUME = """
import json, sys
from kombu import Connection
transport, options, out = sys.argv[1], json.loads(sys.argv[2]), sys.argv[3]
with Connection("filesystem://", transport=transport, transport_options=options) as conn:
    with conn.SimpleQueue("stress") as queue, open(out, "a") as ids:
        while True:
            try:
                message = queue.get(timeout=options["polling_interval"])
            except queue.Empty:
                continue
            ids.write(message.payload["id"] + "\\n")
            ids.flush()
            message.ack()
"""
RECEIVED = re.compile(r"Task celery\.accumulate\[([0-9a-f-]+)\] received")
# The worker's banner: ".> transport:   filesystem://localhost//" on kombu's own transport.
BANNER_TRANSPORT = re.compile(r"transport:\s+(\S+?)://")


def broker_folder(root: Path) -> tuple[Path, dict[str, object]]:
    """A fresh broker folder of the test's own and the transport options that point at it."""
    folder = root / "broker"
    for sub in ("queue", "processed", "control"):
        (folder / sub).mkdir(parents=True)
    options = {
        "polling_interval": POLLING_INTERVAL,
        "data_folder_in": str(folder / "queue"),
        "data_folder_out": str(folder / "queue"),
        "processed_folder": str(folder / "processed"),
        "control_folder": str(folder / "control"),
    }
    return folder, options


def connection(options: dict[str, object], transport: str = TRANSPORT) -> Connection:
    return Connection("filesystem://", transport=transport, transport_options=options)


def in_threads(count: int, target, *args) -> list[BaseException]:
    """Run ``target(index, *args)`` in ``count`` threads at once; the errors they raised.

    Meanwhile other threads keep the interpreter busy, as other requests do in a threaded web
    server: a publishing thread waits for its turn between system calls, as it would there."""
    errors: list[BaseException] = []
    start = threading.Barrier(count)
    done = threading.Event()

    def other_requests() -> None:
        while not done.is_set():
            sum(range(10_000))

    busy = [threading.Thread(target=other_requests) for _ in range(OTHER_REQUESTS)]
    for thread in busy:
        thread.start()

    def run(index: int) -> None:
        try:
            start.wait(timeout=10)
            target(index, *args)
        except BaseException as exc:  # reported by the test
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    done.set()
    for thread in busy:
        thread.join()
    return errors


@pytest.mark.worker
def test_it_delivers_every_message_once_to_a_worker_while_many_publish(tmp_path):
    folder, options = broker_folder(tmp_path)
    env = process_env(tmp_path, CELERY_BROKER_DIR=str(folder))
    log = tmp_path / "worker.log"
    if OTHER_TRANSPORT:
        args = [sys.executable, "-c", RUN_WORKER_ON, OTHER_TRANSPORT, *WORKER]
    else:  # exactly `make run`'s worker, on the embedded default's settings
        args = celery(*WORKER)
    sent: list[str] = []

    def publish(index: int, conns: list[Connection], burst: list[str]) -> None:
        # The padding rides in kwargs, which the worker's log does not echo.
        app.send_task(
            "celery.accumulate",
            kwargs={"padding": PADDING},
            task_id=burst[index],
            connection=conns[index],
        )

    def received() -> Counter[str]:
        return Counter(RECEIVED.findall(log.read_text(errors="replace")))

    with running(args, env, log) as worker:

        def all_received_or_worker_gone() -> bool:
            return worker.poll() is not None or len(received()) >= len(sent)

        worker_ready(log, timeout=30)
        # Publish as the web server would on the same settings: through the worker's transport.
        transport = BANNER_TRANSPORT.findall(log.read_text())[0]
        conns = [connection(options, transport) for _ in range(PUBLISHERS)]
        # Bursts the worker keeps up with, so that it polls while files are being written (with
        # a backlog it would only read files written long before).
        for _ in range(ROUNDS):
            burst = [str(uuid.uuid4()) for _ in range(PUBLISHERS)]
            sent.extend(burst)
            assert in_threads(PUBLISHERS, publish, conns, burst) == []
            wait_for(all_received_or_worker_gone, timeout=15, what="the burst", log=log)
            if worker.poll() is not None:
                break
        for conn in conns:
            conn.release()
        alive = worker.poll() is None

    output = log.read_text(errors="replace")
    assert alive, f"the worker exited after {len(sent)} messages:\n{output[-3000:]}"
    assert "Unrecoverable error" not in output
    counts = received()
    assert sorted(counts) == sorted(sent)
    assert set(counts.values()) == {1}


def test_it_gives_each_message_to_exactly_one_of_several_racing_consumers(tmp_path):
    _, options = broker_folder(tmp_path)
    sent: list[str] = []
    outputs = [tmp_path / f"consumer-{n}.ids" for n in range(CONSUMERS)]
    logs = [tmp_path / f"consumer-{n}.log" for n in range(CONSUMERS)]

    def delivered() -> list[str]:
        return [i for out in outputs if out.exists() for i in out.read_text().split()]

    def publish(index: int, queues: list[SimpleQueue], burst: list[str]) -> None:
        queues[index].put({"id": burst[index], "padding": PADDING})

    conns = [connection(options) for _ in range(PUBLISHERS)]
    queues = [conn.SimpleQueue("stress") for conn in conns]
    with ExitStack() as stack:
        consumers = [
            stack.enter_context(
                running(
                    [sys.executable, "-c", CONSUME, TRANSPORT, json.dumps(options), str(out)],
                    process_env(tmp_path),
                    log,
                )
            )
            for out, log in zip(outputs, logs, strict=True)
        ]

        def burst_delivered_or_consumer_gone() -> bool:
            gone = any(consumer.poll() is not None for consumer in consumers)
            return gone or len(delivered()) >= len(sent)

        for round_ in range(ROUNDS):
            burst = [f"{round_}-{index}" for index in range(PUBLISHERS)]
            sent.extend(burst)
            assert in_threads(PUBLISHERS, publish, queues, burst) == []
            wait_for(burst_delivered_or_consumer_gone, timeout=15, what="the burst", log=logs[0])
            if any(consumer.poll() is not None for consumer in consumers):
                break
        for queue in queues:
            queue.close()
        for conn in conns:
            conn.release()
        alive = [consumer.poll() is None for consumer in consumers]

    failures = "".join(log.read_text()[-2000:] for log in logs)
    assert all(alive), f"a consumer exited after {len(sent)} messages:\n{failures}"
    assert sorted(delivered()) == sorted(sent)


def test_it_sets_an_unreadable_message_file_aside_and_delivers_the_next(tmp_path):
    folder, options = broker_folder(tmp_path)
    name = "stress"
    lost = folder / "queue" / f"0_lost.{name}.msg"
    with connection(options) as conn, conn.SimpleQueue(name) as queue:
        # Older than any new message, so read first: what a power cut can leave behind.
        lost.write_bytes(b"")
        queue.put({"id": "after"})

        message = queue.get(timeout=5)
        message.ack()

        assert message.payload == {"id": "after"}
        assert queue.qsize() == 0
    assert lost.with_name(lost.name + ".unreadable").exists()


def test_connecting_logs_no_warning_about_a_missing_hostname(tmp_path, caplog):
    # A folder has no host; kombu's default made every process of `make run` log one.
    _, options = broker_folder(tmp_path)

    with caplog.at_level("WARNING", logger="kombu"), connection(options) as conn:
        conn.ensure_connection()
        conn.info()  # what Celery's banner and "Connected to" lines print
        SimpleQueue(conn, "probe").put({"ping": 1})

    assert [record.getMessage() for record in caplog.records] == []
