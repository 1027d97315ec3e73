"""A database that refuses connections: a real web server answers 503 with Retry-After (JSON on
the API, a plain page on the web), never a 500, and nothing is half-written after recovery.

PostgreSQL only: the outage is a TCP proxy in front of the test database that the test stops
(connections reset, new ones refused) and starts again. SQLite is a file; it cannot be down.
"""

from __future__ import annotations

import http.client
import json
import socket
import struct
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import pytest
from django.db import OperationalError, connection
from django.http import HttpRequest, HttpResponse
from django.test import Client

from guides.models import Attempt, StepOutcome
from tests.brokers import free_port
from tests.processes import process_env, test_database_url, wait_for, web_server

RETRY_AFTER = "7"
CSRF_SECRET = "outageoutageoutageoutageoutage12"  # 32 characters, the unmasked cookie form


class DatabaseProxy:
    """Forwards a local port to PostgreSQL until ``stop()``: then every open connection is reset
    and new ones are refused, as when the database host goes away. ``start()`` again on the
    same port is the recovery."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.port = free_port()
        self._listener: socket.socket | None = None
        self._open: set[socket.socket] = set()
        self._lock = threading.Lock()
        # The local ports of its connections to PostgreSQL: pg_stat_activity's client_port of
        # the sessions made through it.
        self.upstream_ports: set[int] = set()

    def start(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def stop(self) -> None:
        if self._listener is not None:
            with suppress(OSError):
                self._listener.shutdown(socket.SHUT_RDWR)
            self._listener.close()
            self._listener = None
        with self._lock:
            for sock in self._open:
                with suppress(OSError):
                    # Linger 0: close sends a reset, not a polite end of stream; the shutdown
                    # first wakes the thread blocked reading it.
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                    sock.shutdown(socket.SHUT_RD)
                sock.close()
            self._open.clear()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return  # stopped
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            upstream.settimeout(None)
            with self._lock:
                self._open.update({client, upstream})
                self.upstream_ports.add(upstream.getsockname()[1])
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        with suppress(OSError):
            while data := source.recv(65536):
                sink.sendall(data)
        with suppress(OSError):
            sink.shutdown(socket.SHUT_WR)


@contextmanager
def database_proxy() -> Iterator[DatabaseProxy]:
    settings = connection.settings_dict
    proxy = DatabaseProxy((settings["HOST"] or "127.0.0.1", int(settings["PORT"] or 5432)))
    proxy.start()
    try:
        yield proxy
    finally:
        proxy.stop()
        # The server's sessions end with the reset; wait for PostgreSQL to see it, so the test
        # database can be dropped at the end of the run. Only the sessions made through the
        # proxy: under pytest-xdist another test of this worker may hold a session of its own.
        with connection.cursor() as cursor:
            through_proxy = (
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                " AND pid <> pg_backend_pid() AND client_port = ANY(%s)"
            )

            def alone() -> bool:
                cursor.execute(through_proxy, [sorted(proxy.upstream_ports)])
                return cursor.fetchone()[0] == 0

            wait_for(
                alone,
                timeout=10,
                what="the server's database sessions to end",
                log=Path("/dev/null"),
            )


def call(port: int, method: str, path: str, body: object = None, headers: dict | None = None):
    headers = dict(headers or {})
    payload: str | None = None
    if (
        isinstance(body, dict)
        and headers.get("Content-Type") != "application/x-www-form-urlencoded"
    ):
        payload = json.dumps(body)
        headers.setdefault("Content-Type", "application/json")
    elif body is not None:
        payload = str(body)
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request(method, path, body=payload, headers=headers)
        response = conn.getresponse()
        return response.status, response, response.read().decode(errors="replace")
    finally:
        conn.close()


def assert_api_outage(answer) -> None:
    status, response, text = answer
    assert status == 503, text[:2000]
    assert response.getheader("Retry-After") == RETRY_AFTER
    assert response.getheader("Content-Type") == "application/json"
    assert json.loads(text) == {
        "status": 503,
        "code": "service_unavailable",
        "detail": "The service is briefly unavailable. Please try again in a moment.",
    }


def assert_web_outage(answer) -> None:
    status, response, text = answer
    assert status == 503, text[:2000]
    assert response.getheader("Retry-After") == RETRY_AFTER
    assert response.getheader("Content-Type").startswith("text/html")
    assert "<h1>Briefly unavailable</h1>" in text
    assert "Traceback" not in text and "OperationalError" not in text


@pytest.fixture
def postgresql():
    if connection.vendor != "postgresql":
        pytest.skip(
            "a database outage needs a database server to lose; SQLite is a file in the "
            "process (run the suite with DATABASE_URL=postgres://... to test it)"
        )


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("debug", ["true", "false"])
def test_it_answers_503_while_the_database_is_down_and_recovers_cleanly(
    postgresql, guide_with_steps, tmp_path, debug
):
    guide = guide_with_steps
    log = tmp_path / "web.log"
    contact_form = f"{guide.public_path()}contact/"
    form_headers = {
        "Content-Type": "application/x-www-form-urlencoded",
        "Cookie": f"csrftoken={CSRF_SECRET}",
    }
    form = (
        f"csrfmiddlewaretoken={CSRF_SECRET}&description=Card+still+rejected"
        "&name=Nadia&email=nadia%40example.com"
    )
    with database_proxy() as proxy:
        url = test_database_url().replace(
            f":{connection.settings_dict['PORT']}/", f":{proxy.port}/"
        )
        assert f":{proxy.port}/" in url
        env = process_env(
            tmp_path,
            DATABASE_URL=url,
            DEBUG=debug,
            ALLOWED_HOSTS="127.0.0.1",
            SECURE_SSL_REDIRECT="false",
            CSRF_COOKIE_SECURE="false",
            SESSION_COOKIE_SECURE="false",
            DATABASE_OUTAGE_RETRY_AFTER=RETRY_AFTER,
        )
        with web_server(env, log, timeout=30) as base_url:
            port = int(base_url.rsplit(":", 1)[1])
            status, _, text = call(port, "POST", f"/api/v1/guides/{guide.pk}/attempts/", {})
            assert status == 201, text
            token = json.loads(text)["token"]
            token_header = {"X-Attempt-Token": token}
            first_step = guide.steps.order_by("position").first()

            proxy.stop()
            assert_api_outage(call(port, "GET", "/api/v1/guides/"))
            assert_api_outage(call(port, "POST", f"/api/v1/guides/{guide.pk}/attempts/", {}))
            assert_api_outage(
                call(
                    port, "POST", "/api/v1/attempt/outcomes/",
                    {"step": first_step.pk, "outcome": "did_not_work"}, token_header,
                )
            )  # fmt: skip
            assert_api_outage(
                call(
                    port, "POST", "/api/v1/attempt/contact/",
                    {"description": "Still rejected", "email": "nadia@example.com"},
                    token_header,
                )
            )  # fmt: skip
            assert_web_outage(call(port, "GET", guide.public_path()))
            assert_web_outage(call(port, "POST", contact_form, form, form_headers))

            proxy.start()
            status, _, text = call(port, "GET", "/api/v1/guides/")
            assert status == 200, text[:2000]
            status, _, text = call(
                port, "POST", "/api/v1/attempt/contact/",
                {"description": "Still rejected", "email": "nadia@example.com"}, token_header,
            )  # fmt: skip
            assert status == 202, text[:2000]
            if debug == "true":  # with DEBUG off, pages need collected static files
                status, _, text = call(port, "POST", contact_form, form, form_headers)
                assert status == 303, text[:2000]  # on to the confirmation (post/redirect/get)

    # Only what was answered with success was written: the refused attempt and step outcome
    # left nothing, and every escalation is whole.
    attempts = Attempt.objects.order_by("pk")
    assert attempts.count() == (2 if debug == "true" else 1)
    assert not StepOutcome.objects.exists()
    for attempt in attempts:
        assert attempt.status == Attempt.Status.ESCALATED
        assert attempt.escalation_requested_at is not None
        assert attempt.description
    assert attempts[0].description == "Still rejected"
    # Reported once for the six refused requests, without a traceback for each.
    output = log.read_text()
    assert output.count("Database unavailable, answering 503") == 1, output
    assert "Internal Server Error" not in output
    assert "Traceback" not in output


# --- every layer, with DEBUG on and off (in-process: the failure is raised on purpose) ---------


class FailingSessionSave:
    """Stands for the session middleware saving a modified session: the failure is raised in a
    middleware after the view, where no process_exception hook sees it."""

    error: type[Exception] = OperationalError

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        self.get_response(request)
        try:
            raise self.error("could not reach the database (raised by the test)")
        except Exception as exc:
            # Wrapped, as a library would: the database error is the cause, not the exception.
            raise RuntimeError("could not save the session") from exc


class FailingForAnotherReason(FailingSessionSave):
    error = ValueError


def with_middleware(settings, name: str) -> None:
    settings.MIDDLEWARE = [*settings.MIDDLEWARE[:4], name, *settings.MIDDLEWARE[4:]]


@pytest.mark.django_db
@pytest.mark.parametrize("debug", [True, False])
@pytest.mark.parametrize("path", ["/api/v1/guides/", "/"])
def test_it_answers_503_for_a_database_failure_in_a_middleware(settings, debug, path):
    settings.DEBUG = debug
    with_middleware(settings, f"{__name__}.FailingSessionSave")

    response = Client(raise_request_exception=False).get(path)

    assert response.status_code == 503
    assert response["Retry-After"] == str(settings.DATABASE_OUTAGE_RETRY_AFTER)
    if path.startswith("/api/"):
        assert response.json()["code"] == "service_unavailable"
    else:
        assert b"Briefly unavailable" in response.content


@pytest.mark.django_db
def test_it_leaves_other_server_errors_alone(settings):
    settings.DEBUG = False
    with_middleware(settings, f"{__name__}.FailingForAnotherReason")

    response = Client(raise_request_exception=False).get("/api/v1/guides/")

    assert response.status_code == 500
    assert "Retry-After" not in response
