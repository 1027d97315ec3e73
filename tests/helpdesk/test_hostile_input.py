"""Hostile input never gets a server error: a corpus of bad values sent to every customer web
form, the admin's login and list filters, and every operation of the API.

The API's operations are read from its own OpenAPI schema, so an operation added later is
attacked without editing this file. Requests carry an agent's API token, a fresh attempt token
and the ticket's secret, so they get past authentication to the parsing, validation and
lookups behind it. Each request comes from its own client address, so no throttle or guess
limit answers 429 in place of the code under test.

Each test sends its whole corpus and then lists every answer of 500 or more with the request
that got it, so one run shows all of them.
"""

from __future__ import annotations

import itertools
import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
from django.contrib import admin
from django.db import DataError, connection
from django.test import Client

from guides import services as guide_services
from guides.models import Attempt
from tests.factories import QueueFactory, TicketFactory, agent_in, token_for
from tickets import roles
from tickets.models import Ticket

# --- the corpus ---------------------------------------------------------------------------

LONG_EMAIL = "a" * 64 + "@" + ("b" * 60 + ".") * 4 + "com"  # 312 characters, a valid address
TEXT_VALUES = [
    "",
    "\x00",
    "\x01\x08\x1b[31m\x7f",  # C0 controls, an ANSI escape, DEL
    "\u202egnp.exe\u2066x\u2069",  # right-to-left override, an isolate
    "x" * 100_000,
    LONG_EMAIL,
    "9" * 40,
    "-1",
]
JSON_VALUES = [
    *TEXT_VALUES[:6],
    "\ud800",  # a lone surrogate (json.dumps escapes it)
    2**64,
    -1,
    1.5,
    True,
    None,
    ["x"],
    {"x": 1},
]
DEEP_ARRAY = b"[" * 1000 + b"]" * 1000
DEEP_OBJECT = b'{"a":' * 1000 + b"1" + b"}" * 1000  # ~6 KB
OVERSIZE = 3 * 1024 * 1024  # above DATA_UPLOAD_MAX_MEMORY_SIZE
JSON_BODIES = [
    ("application/json", b""),
    ("application/json", b"null"),
    ("application/json", b"[]"),
    ("application/json", b'[{"a": 1}]'),  # an array where an object is expected
    ("application/json", b'"text"'),
    ("application/json", b"12"),
    ("application/json", b"{"),
    ("application/json", b"1" * 5000),  # more digits than Python converts
    ("application/json", DEEP_ARRAY),
    ("application/json", DEEP_OBJECT),
    ("application/json", b"[" * 40 + b"]" * 40),
    ("application/json", b'{"x": "\xff\xfe\xc0"}'),  # not UTF-8
    ("application/json", b'{"x": NaN, "y": Infinity}'),
    ("application/json", b'{"x": "\\ud800"}'),
    ("application/json", b'{"\\ud800": 1}'),
    ("application/json", b'{"a": 1, "a": 2}'),
    ("application/json", b'{"k": "' + b"x" * OVERSIZE + b'"}'),
    ("application/json; charset=utf-16", '{"a": 1}'.encode("utf-16")),
    ("application/json; charset=bogus", b"{}"),
    ("application/json; charset=bz2_codec", b"{}"),
    ("text/plain", b"hello"),
    ("application/xml", b"<a/>"),
    ("application/x-www-form-urlencoded", b"a=1&b=%00&c=%FF"),
    ("multipart/form-data; boundary=xyz", b"--xyz\r\nbroken"),
    ("multipart/form-data", b"no boundary"),
    ("", b"{}"),
]
FORM_BODIES = [
    ("application/x-www-form-urlencoded", b""),
    ("application/x-www-form-urlencoded", b"a=%FF%FE&b=%ED%A0%80&c=%C0"),  # bad UTF-8, encoded
    ("application/x-www-form-urlencoded", b"a=\xff\xfe\xc0"),  # bad UTF-8, raw
    ("application/x-www-form-urlencoded", b"&".join(b"f%d=1" % n for n in range(1500))),
    ("application/x-www-form-urlencoded", b"a=" + b"x" * OVERSIZE),
    ("application/x-www-form-urlencoded", b"%00=1"),
    ("application/json", b'{"outcome": "worked"}'),
    ("application/json", DEEP_ARRAY),
    ("multipart/form-data; boundary=xyz", b"--xyz\r\nbroken"),
    ("multipart/form-data", b"no boundary"),
    ("text/plain", b"hello"),
]
# Percent-encoded as they would arrive in a URL.
PATH_VALUES = [
    "%00",
    "a%00b",
    "%01",
    "%7F",
    "%FF",
    "%ED%A0%80",
    "%E2%80%AE",
    "-1",
    "0",
    "9" * 30,
    "1.5",
    "x" * 3000,
    "%20",
]
QUERY_VALUES = [*TEXT_VALUES[:4], "x" * 5000, "9" * 40, "-1", "1.5"]
RAW_QUERIES = ["%FF%FE", "%ED%A0%80", "%00", "%2500", "x%00=1"]
HEADER_VALUES = ["\x00", "Token \x00", "Token " + "x" * 10_000]


# --- the target ---------------------------------------------------------------------------

_addresses = itertools.count(1)


def _address() -> str:
    number = next(_addresses)
    return f"10.{number >> 16 & 255}.{number >> 8 & 255}.{number & 255}"


@dataclass
class Target:
    """Everything a request needs to get past authentication, and what came back >= 500."""

    guide_path: str
    step_id: int
    ticket: Ticket
    api_key: str
    staff_user: object
    server_errors: list[str] = field(default_factory=list)

    def attempt_token(self) -> str:
        _attempt, token = guide_services.attempt_start(guide=self.ticket.guide)
        return token

    def send(
        self,
        method: str,
        path: str,
        *,
        body: bytes | None = None,
        content_type: str = "application/json",
        headers: dict | None = None,
        client: Client | None = None,
    ) -> None:
        client = client or Client(raise_request_exception=False)
        extra = {"REMOTE_ADDR": _address(), **(headers or {})}
        if method == "get":
            response = client.get(path, **extra)
        else:
            response = client.generic(
                method.upper(), path, body or b"", content_type=content_type, **extra
            )
        if response.status_code >= 500:
            exc = getattr(response, "exc_info", None)
            reason = f"{exc[0].__name__}: {str(exc[1])[:120]}" if exc else ""
            sent = f" {content_type} {(body or b'')[:80]!r}" if method != "get" else ""
            self.server_errors.append(
                f"{response.status_code} {method.upper()} {path[:120]}{sent} "
                f"headers={sorted(headers or {})} {reason}"
            )

    def api_headers(self, path: str) -> dict:
        headers = {"HTTP_AUTHORIZATION": f"Token {self.api_key}"}
        if path.startswith("/api/v1/attempt/"):
            headers["HTTP_X_ATTEMPT_TOKEN"] = self.attempt_token()
        headers["HTTP_X_TICKET_SECRET"] = self.ticket.status_token()
        return headers


@pytest.fixture
def target(guide_with_steps, caplog, settings) -> Target:
    # Thousands of 4xx warnings cost time; the 500s' errors are kept.
    caplog.set_level(logging.ERROR, logger="django.request")
    queue = QueueFactory(name="Billing", slug="billing")
    # A supervisor who also works the queue: every operation is open to her token.
    sue = agent_in(queue, username="sue", languages=["en"], role=roles.SUPERVISOR)
    sue.user.is_superuser = True
    sue.user.save(update_fields=["is_superuser"])
    attempt, _token = guide_services.attempt_start(guide=guide_with_steps)
    guide_services.attempt_contact_submit(
        attempt=attempt, description="Still stuck.", email="sam@example.com"
    )
    ticket = TicketFactory(attempt=attempt, queue=queue)
    key = token_for(sue.user, name="corpus")
    return Target(
        guide_path=guide_with_steps.public_path(),
        step_id=guide_with_steps.steps.order_by("position").first().pk,
        ticket=ticket,
        api_key=key,
        staff_user=sue.user,
    )


def _report(target: Target, sent: int) -> None:
    assert sent > 0
    assert target.server_errors == [], (
        f"{len(target.server_errors)} of {sent} hostile requests got a server error:\n"
        + "\n".join(target.server_errors)
    )


# --- the cases that were 500s, one by one --------------------------------------------------


def _guide_contact(target: Target, **fields: str):
    data = {"description": "Still stuck.", "name": "Sam", "email": "sam@example.com", **fields}
    return Client(raise_request_exception=False).post(f"{target.guide_path}contact/", data)


def test_it_refuses_json_nested_a_thousand_levels_deep_with_a_400(target):
    api = Client(raise_request_exception=False)
    guide_id = target.ticket.guide_id
    for body in [DEEP_ARRAY, DEEP_OBJECT, b"[" * 40 + b"]" * 40]:
        response = api.post(f"/api/v1/guides/{guide_id}/feedback/", body,
                            content_type="application/json")  # fmt: skip
        assert response.status_code == 400
        assert response.json()["code"] == "parse_error"
        assert "nested deeper than" in response.json()["detail"]
    # Nesting a request needs is still read: this one fails on its field, not its depth.
    body = json.dumps({"helpful": [[[["yes"]]]]})
    response = api.post(f"/api/v1/guides/{guide_id}/feedback/", body,
                        content_type="application/json")  # fmt: skip
    assert response.status_code == 400
    assert "helpful" in response.json()["errors"]


def test_it_refuses_a_lone_surrogate_with_a_400_it_can_render(target):
    response = Client(raise_request_exception=False).post(
        "/api/v1/attempt/outcomes/",
        '{"step": ' + str(target.step_id) + ', "outcome": "\\ud800"}',
        content_type="application/json",
        HTTP_X_ATTEMPT_TOKEN=target.attempt_token(),
    )
    assert response.status_code == 400
    assert "lone surrogate" in response.json()["detail"]


def test_it_refuses_an_email_address_longer_than_its_column_on_every_escalation_path(target):
    attempts = Attempt.objects.count()
    response = Client(raise_request_exception=False).post(
        "/api/v1/attempt/contact/",
        {"description": "Still stuck.", "email": LONG_EMAIL},
        content_type="application/json",
        HTTP_X_ATTEMPT_TOKEN=target.attempt_token(),
    )
    assert response.status_code == 400
    assert list(response.json()["errors"]) == ["email"]
    attempts += 1  # the token above

    response = _guide_contact(target, email=LONG_EMAIL)
    assert response.status_code == 200
    assert "email" in response.context["form"].errors

    response = Client(raise_request_exception=False).post(
        "/tickets/new/",
        {"description": "Still stuck.", "email": LONG_EMAIL, "action": "send"},
    )
    assert response.status_code == 200
    assert "email" in response.context["form"].errors
    # Nothing written for a refused request.
    assert Attempt.objects.count() == attempts
    assert (
        not Attempt.objects.filter(status=Attempt.Status.ESCALATED)
        .exclude(pk=target.ticket.attempt_id)
        .exists()
    )


def test_a_failed_escalation_from_the_guide_page_leaves_no_attempt_behind(target, monkeypatch):
    # The database refusing the escalation's write, as PostgreSQL refused a long address.
    def refused(**kwargs):
        raise DataError("value too long for type character varying(254)")

    monkeypatch.setattr("tickets.views.escalation_request", refused)
    attempts = Attempt.objects.count()
    assert _guide_contact(target).status_code == 500
    assert Attempt.objects.count() == attempts


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/tickets/{reference}%00/",
        "/api/v1/customer/tickets/{reference}%00/",
        "/api/v1/customer/tickets/a%00b/replies/",
        "/api/v1/companies/a%00b/",
        "/api/v1/guides/?company=%00",
    ],
)
def test_it_refuses_nul_in_an_api_address_with_a_400_in_the_error_shape(target, path):
    headers = target.api_headers("/api/v1/tickets/")
    response = Client(raise_request_exception=False).get(
        path.format(reference=target.ticket.reference), **headers
    )
    assert response.status_code == 400
    assert response.json()["status"] == 400
    assert response.json()["code"] == "invalid"


def test_it_refuses_nul_in_a_web_address_and_an_admin_filter_with_a_plain_400(target):
    client = Client(raise_request_exception=False)
    token = target.ticket.status_token()
    for path in [f"/tickets/{target.ticket.reference}%00/{token}/", "/search/?q=a%00"]:
        response = client.get(path)
        assert response.status_code == 400
        assert response["Content-Type"].startswith("text/plain")
    client.force_login(target.staff_user)
    response = client.get("/admin/tickets/ticket/?status=%00")
    assert response.status_code == 400
    assert client.get("/admin/tickets/ticket/?status=new").status_code == 200


def test_an_integer_too_large_for_the_database_in_an_admin_filter_finds_nothing(target):
    client = Client(raise_request_exception=False)
    client.force_login(target.staff_user)
    response = client.get("/admin/tickets/ticket/?queue=" + "9" * 30)
    # SQLite cannot bind the number (a 400 says so); PostgreSQL compares it and finds no row.
    if connection.vendor == "sqlite":
        assert response.status_code == 400
    else:
        assert response.status_code == 200
        assert target.ticket.reference not in response.content.decode()
    shown = client.get(f"/admin/tickets/ticket/?queue={target.ticket.queue_id}")
    assert target.ticket.reference in shown.content.decode()


# --- the API, from its schema -------------------------------------------------------------


@dataclass
class Operation:
    method: str
    template: str
    query: list[str]
    body: dict | None  # the request body's schema, resolved

    def path(self, target: Target, **values: str) -> str:
        defaults = {
            "guide_id": str(target.ticket.guide_id),
            "id": str(target.ticket.guide_id),
            "slug": target.ticket.guide.company.slug,
            "reference": target.ticket.reference,
        }
        path = self.template
        for name in _path_names(self.template):
            path = path.replace("{" + name + "}", values.get(name, defaults.get(name, "1")))
        return path


def _path_names(template: str) -> list[str]:
    return [part[1:-1] for part in template.split("/") if part.startswith("{")]


def _operations() -> list[Operation]:
    schema = json.loads(Client().get("/api/schema/", HTTP_ACCEPT="application/json").content)
    components = schema["components"]["schemas"]
    found = []
    for template, item in schema["paths"].items():
        for method, operation in item.items():
            query = [p["name"] for p in operation.get("parameters", []) if p["in"] == "query"]
            content = operation.get("requestBody", {}).get("content", {})
            body = None
            if "application/json" in content:
                ref = content["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]
                body = components[ref]
            found.append(Operation(method, template, query, body))
    return found


def _valid_value(name: str, spec: dict, target: Target):
    if name == "step":
        return target.step_id
    if name == "queue":
        return target.ticket.queue.slug
    if "enum" in spec:
        return spec["enum"][0]
    if "allOf" in spec or "oneOf" in spec:
        return None
    return {"integer": 1, "boolean": True, "array": []}.get(spec.get("type"), "x")


def _bodies(operation: Operation, target: Target) -> Iterator[tuple[str, bytes]]:
    yield from JSON_BODIES
    properties = (operation.body or {}).get("properties", {})
    base = {name: _valid_value(name, spec, target) for name, spec in properties.items()}
    for name in [*properties, "unknown"]:
        for value in JSON_VALUES:
            yield "application/json", json.dumps({**base, name: value}).encode()
    yield "application/json", json.dumps([base]).encode()


def test_it_answers_hostile_api_bodies_without_a_server_error(target):
    sent = 0
    for operation in _operations():
        if operation.method not in {"post", "put", "patch"}:
            continue
        path = operation.path(target)
        for content_type, body in _bodies(operation, target):
            headers = target.api_headers(path)
            target.send(operation.method, path, body=body, content_type=content_type,
                        headers=headers)  # fmt: skip
            sent += 1
    _report(target, sent)


def test_it_answers_hostile_api_paths_queries_and_headers_without_a_server_error(target):
    sent = 0
    operations = _operations()
    assert any(o.template == "/api/v1/tickets/{reference}/" for o in operations)
    for operation in operations:
        body = b"{}" if operation.method != "get" else None
        for name in _path_names(operation.template):
            for value in PATH_VALUES:
                path = operation.path(target, **{name: value})
                target.send(operation.method, path, body=body, headers=target.api_headers(path))
                sent += 1
        path = operation.path(target)
        if operation.method == "get":
            for name in [*operation.query, "unknown"]:
                for value in QUERY_VALUES:
                    target.send("get", path + "?" + _query(name, value),
                                headers=target.api_headers(path))  # fmt: skip
                    sent += 1
            for raw in RAW_QUERIES:
                for name in operation.query[:3]:
                    target.send("get", f"{path}?{name}={raw}", headers=target.api_headers(path))
                    sent += 1
        for method in ["put", "patch", "delete", "options", "head"]:  # not in the schema
            target.send(method, path, body=b"{}", headers=target.api_headers(path))
            sent += 1
        for header in ["HTTP_AUTHORIZATION", "HTTP_X_ATTEMPT_TOKEN", "HTTP_X_TICKET_SECRET"]:
            for value in HEADER_VALUES:
                headers = {**target.api_headers(path), header: value}
                target.send(operation.method, path, body=body, headers=headers)
                sent += 1
    _report(target, sent)


def _query(name: str, value: str) -> str:
    from urllib.parse import urlencode

    return urlencode({name: value})


# --- the web: every customer form, the admin login and list filters -----------------------


def _forms(target: Target) -> list[tuple[str, dict[str, str]]]:
    guide = target.guide_path
    contact = {"description": "Still stuck.", "name": "Sam", "email": "sam@example.com"}
    status_page = f"/tickets/{target.ticket.reference}/{target.ticket.status_token()}/"
    return [
        (f"{guide}steps/{target.step_id}/outcome/", {"outcome": "did_not_work", "note": "x"}),
        (f"{guide}restart/", {}),
        (f"{guide}feedback/", {"helpful": "yes", "comment": "x"}),
        (f"{guide}contact/", contact),
        ("/tickets/new/", {**contact, "company": "", "action": "suggest"}),
        ("/tickets/new/", {**contact, "company": "", "action": "send"}),
        (status_page, {"body": "Any news?"}),
        ("/admin/login/", {"username": "sue", "password": "wrong", "next": "/admin/"}),
    ]


def test_it_answers_hostile_web_forms_without_a_server_error(target):
    sent = 0
    for path, base in _forms(target):
        for name in [*base, "unknown"]:
            for value in TEXT_VALUES:
                body = _urlencode({**base, name: value})
                target.send("post", path, body=body,
                            content_type="application/x-www-form-urlencoded")  # fmt: skip
                sent += 1
        for content_type, body in FORM_BODIES:
            target.send("post", path, body=body, content_type=content_type)
            sent += 1
        # Cookies no browser of ours would send: an attempt cookie, a session key.
        for cookie in ["attempt-1=%00", "sessionid=abcdefgh%00", "sessionid=" + "x" * 4000]:
            client = Client(raise_request_exception=False, HTTP_COOKIE=cookie)
            target.send("post", path, body=_urlencode(base), client=client,
                        content_type="application/x-www-form-urlencoded")  # fmt: skip
            sent += 1
    _report(target, sent)


def _urlencode(data: dict[str, str]) -> bytes:
    from urllib.parse import urlencode

    return urlencode(data).encode()


def test_it_answers_hostile_web_addresses_without_a_server_error(target):
    status = f"/tickets/{target.ticket.reference}/{target.ticket.status_token()}/"
    guide = target.guide_path.strip("/").split("/")  # guides, company, language, slug
    sent = 0
    for value in PATH_VALUES:
        for path in [
            f"/tickets/{value}/{target.ticket.status_token()}/",
            f"/tickets/{target.ticket.reference}/{value}/",
            f"/tickets/new/guides/{value}/",
            f"/companies/{value}/",
            f"/guides/{guide[1]}/{value}/{guide[3]}/",
            f"/guides/{guide[1]}/{guide[2]}/{guide[3]}/steps/{value}/outcome/",
            f"/{value}/",
        ]:
            target.send("get", path)
            sent += 1
    for path in ["/", "/search/", "/tickets/new/", status, target.guide_path]:
        for name in ["q", "company", "next"]:
            for value in QUERY_VALUES:
                target.send("get", f"{path}?{_query(name, value)}")
                sent += 1
        for raw in RAW_QUERIES:
            target.send("get", f"{path}?q={raw}")
            sent += 1
    _report(target, sent)


def _changelist_parameters(model_admin) -> list[str]:
    names = ["q", "o", "p", "all", "_to_field"]
    for entry in model_admin.list_filter:
        if isinstance(entry, str):
            names += [entry, f"{entry}__exact", f"{entry}__id__exact"]
        elif isinstance(entry, tuple):
            names += [f"{entry[0]}__id__exact", f"{entry[0]}__isempty", f"{entry[0]}__exact"]
        else:
            names.append(getattr(entry, "parameter_name", "x"))
    return names


def test_it_answers_hostile_admin_list_filters_without_a_server_error(target):
    client = Client(raise_request_exception=False)
    client.force_login(target.staff_user)
    values = ["\x00", "\x01", "\u202e", "x" * 3000, "9" * 30, "-1"]
    sent = 0
    for model, model_admin in admin.site._registry.items():
        path = f"/admin/{model._meta.app_label}/{model._meta.model_name}/"
        for name in _changelist_parameters(model_admin):
            for value in values:
                target.send("get", f"{path}?{_query(name, value)}", client=client)
                sent += 1
    _report(target, sent)
