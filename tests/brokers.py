"""Brokers for fault tests: a private redis-server the test can stop and restart, and a TCP
listener that accepts connections and never answers (a hung broker behind a load balancer).

The private Redis runs on a free port with its own folder and pidfile, without persistence, so
stopping it loses every queued message. It never touches the shared Redis on 6379.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import redis

from tests.processes import skip_or_fail


def free_port() -> int:
    """A port nothing listens on right now (the kernel's pick; another process could still take
    it before we do, which on a test machine is rare enough)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def redis_server_path() -> str:
    """The redis-server binary, or a skip (a failure when every test is required)."""
    path = shutil.which("redis-server")
    if path is None:
        skip_or_fail("redis-server is not installed (apt-get install redis-server)")
    return str(path)


class PrivateRedis:
    """A redis-server of this test alone: ``start()``, ``stop()``, ``start()`` again on the same
    port. Nothing is saved to disk (``--save "" --appendonly no``): a restart empties it."""

    def __init__(self, folder: Path, port: int | None = None) -> None:
        self.binary = redis_server_path()
        self.port = port or free_port()
        self.folder = folder
        self.folder.mkdir(parents=True, exist_ok=True)
        self.pidfile = folder / "redis.pid"
        self.logfile = folder / "redis.log"
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def client(self) -> redis.Redis:
        return redis.Redis(
            host="127.0.0.1", port=self.port, db=0, socket_timeout=2, socket_connect_timeout=2
        )

    def start(self, *, timeout: float = 10) -> None:
        assert self.process is None, "already running"
        args = [
            self.binary,
            "--port", str(self.port),
            "--bind", "127.0.0.1",
            "--dir", str(self.folder),
            "--pidfile", str(self.pidfile),
            "--logfile", str(self.logfile),
            "--daemonize", "no",
            "--save", "",
            "--appendonly", "no",
        ]  # fmt: skip
        self.process = subprocess.Popen(
            args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                log = self.logfile.read_text(errors="replace") if self.logfile.exists() else ""
                self.process = None
                raise AssertionError(f"redis-server on port {self.port} exited:\n{log[-2000:]}")
            try:
                if self.client().ping():
                    return
            except redis.exceptions.ConnectionError:
                time.sleep(0.05)
        self.stop()
        raise AssertionError(f"redis-server on port {self.port} did not answer in {timeout}s")

    def stop(self) -> None:
        """Stop it (SIGTERM: with persistence off, nothing is written) and wait for the port."""
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)
        self.process = None

    def restart(self) -> None:
        self.stop()
        self.start()

    def queue_length(self, name: str) -> int:
        return int(self.client().llen(name))  # type: ignore[arg-type]  # sync client

    def unacked(self) -> dict[bytes, bytes]:
        """Messages delivered to a consumer and not acknowledged yet (kombu's Redis transport
        keeps them in the ``unacked`` hash until the ack, or the visibility timeout)."""
        return self.client().hgetall("unacked")  # type: ignore[return-value]  # sync client


@contextmanager
def private_redis(
    folder: Path, *, port: int | None = None, started: bool = True
) -> Iterator[PrivateRedis]:
    """A private Redis for the block (``started=False``: its port is reserved, nothing runs)."""
    server = PrivateRedis(folder, port)
    try:
        if started:
            server.start()
        yield server
    finally:
        server.stop()
        with suppress(FileNotFoundError):
            os.unlink(server.pidfile)


class SilentListener:
    """A TCP port that accepts connections and never sends a byte.

    Connections are held open until ``close()``, so a client waits on its own read timeout
    instead of seeing a reset.
    """

    def __init__(self) -> None:
        self._server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._server.bind(("127.0.0.1", 0))
        self._server.listen(128)
        self._server.settimeout(0.2)
        self.port: int = self._server.getsockname()[1]
        self._held: list[socket.socket] = []
        self._stopping = threading.Event()
        self._thread = threading.Thread(
            target=self._accept_forever, name="silent-listener", daemon=True
        )
        self._thread.start()

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def accepted(self) -> int:
        return len(self._held)

    def _accept_forever(self) -> None:
        while not self._stopping.is_set():
            try:
                connection, _ = self._server.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self._held.append(connection)  # read nothing, answer nothing

    def close(self) -> None:
        self._stopping.set()
        self._thread.join(timeout=5)
        for connection in self._held:
            connection.close()
        self._server.close()


@contextmanager
def silent_listener() -> Iterator[SilentListener]:
    listener = SilentListener()
    try:
        yield listener
    finally:
        listener.close()
