"""A real webhook receiver for tests: an HTTP server on a loopback port, in a thread, that
checks each request's signature the way docs/webhooks.md tells integrators to, and records
what it accepted. Its behaviour can be switched while it runs: answer, fail, or hang."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from tests.brokers import free_port

TOLERANCE_SECONDS = 300


def signature_valid(*, secret: str, timestamp: str, body: bytes, header: str) -> bool:
    """Any of the header's v1 signatures is the HMAC-SHA256 of "<timestamp>.<body>" under
    ``secret``, and the timestamp is recent."""
    try:
        if abs(time.time() - int(timestamp)) > TOLERANCE_SECONDS:
            return False
    except ValueError:
        return False
    expected = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    for part in header.split(","):
        scheme, _, value = part.strip().partition("=")
        if scheme == "v1" and hmac.compare_digest(value, expected.hexdigest()):
            return True
    return False


@dataclass
class Receiver:
    port: int
    secrets: list[str] = field(default_factory=list)
    # "ok": 204 when signed right (401 otherwise); "fail": 500; "hang": no answer until stopped;
    # "fail_first": 500 to the first try of each Webhook-Id, then as "ok" (down, then up).
    mode: str = "ok"
    # Requests whose signature was right and that were answered 2xx: (Webhook-Id, body).
    accepted: list[tuple[str, dict]] = field(default_factory=list)
    # Every request that arrived: (Webhook-Id, signature header), and as sent: (headers, body).
    seen: list[tuple[str, str]] = field(default_factory=list)
    raw: list[tuple[dict[str, str], bytes]] = field(default_factory=list)
    released: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks/helpdesk"

    def accepted_ids(self) -> list[str]:
        with self.lock:
            return [event_id for event_id, _body in self.accepted]


def _handler(receiver: Receiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args) -> None:  # quiet
            pass

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            body = self.rfile.read(length)
            event_id = self.headers.get("Webhook-Id", "")
            header = self.headers.get("Webhook-Signature", "")
            with receiver.lock:
                first_try = all(seen_id != event_id for seen_id, _header in receiver.seen)
                receiver.seen.append((event_id, header))
                receiver.raw.append((dict(self.headers.items()), body))
            if receiver.mode == "hang":
                receiver.released.wait(30)
                return
            if receiver.mode == "fail" or (receiver.mode == "fail_first" and first_try):
                self._answer(500, b"receiver broken")
                return
            timestamp = self.headers.get("Webhook-Timestamp", "")
            if not any(
                signature_valid(secret=secret, timestamp=timestamp, body=body, header=header)
                for secret in receiver.secrets
            ):
                self._answer(401, b"bad signature")
                return
            with receiver.lock:
                receiver.accepted.append((event_id, json.loads(body)))
            self._answer(204, b"")

        def _answer(self, code: int, text: bytes) -> None:
            self.send_response(code)
            self.send_header("Content-Length", str(len(text)))
            self.end_headers()
            self.wfile.write(text)

    return Handler


@contextmanager
def serving(receiver: Receiver) -> Iterator[Receiver]:
    """Serve ``receiver`` on its port for the block."""
    server = ThreadingHTTPServer(("127.0.0.1", receiver.port), _handler(receiver))
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        receiver.released.set()
        server.shutdown()
        server.server_close()


def receiver_new(**fields) -> Receiver:
    """A receiver on a free port, not serving yet (a target that is down)."""
    return Receiver(port=free_port(), **fields)
