"""The API docs say which secret each operation needs: the attempt token and the ticket secret
are API-key security schemes (the docs page's Authorize fills them in), the staff operations
keep the API token, and public reads need nothing (no lock)."""

from __future__ import annotations

import pytest
from drf_spectacular.generators import SchemaGenerator

from guides.api.attempts import TOKEN_HEADER_NAME
from tickets.api.views import SECRET_HEADER_NAME


@pytest.fixture(scope="module")
def schema() -> dict:
    return SchemaGenerator().get_schema(request=None, public=True)


def operations(schema: dict, prefix: str) -> dict[str, dict]:
    found = {
        f"{method.upper()} {path}": operation
        for path, item in schema["paths"].items()
        if path.startswith(prefix)
        for method, operation in item.items()
    }
    assert found, prefix
    return found


def header_parameters(operation: dict) -> set[str]:
    return {p["name"] for p in operation.get("parameters", []) if p["in"] == "header"}


def test_the_secrets_are_api_key_schemes_on_the_headers_the_api_reads(schema):
    schemes = schema["components"]["securitySchemes"]

    assert schemes["attemptToken"] | {"description": ""} == {
        "type": "apiKey", "in": "header", "name": TOKEN_HEADER_NAME, "description": "",
    }  # fmt: skip
    assert schemes["ticketSecret"] | {"description": ""} == {
        "type": "apiKey", "in": "header", "name": SECRET_HEADER_NAME, "description": "",
    }  # fmt: skip


def test_public_reads_need_nothing(schema):
    for prefix in ("/api/v1/guides/", "/api/v1/companies/"):
        for name, operation in operations(schema, prefix).items():
            if not name.startswith("GET") or "statistics" in name or "failure-notes" in name:
                continue
            assert operation.get("security", [{}]) == [{}], name


def test_the_attempt_operations_need_the_attempt_token(schema):
    for name, operation in operations(schema, "/api/v1/attempt/").items():
        assert operation["security"] == [{"attemptToken": []}], name
        # Not a header parameter besides: the docs page would ask for it twice.
        assert TOKEN_HEADER_NAME not in header_parameters(operation), name


def test_the_customer_ticket_operations_need_the_ticket_secret(schema):
    for name, operation in operations(schema, "/api/v1/customer/tickets/").items():
        assert operation["security"] == [{"ticketSecret": []}], name
        assert SECRET_HEADER_NAME not in header_parameters(operation), name


def test_staff_operations_keep_the_api_token(schema):
    for prefix in ("/api/v1/tickets/", "/api/v1/queues/", "/api/v1/statistics/"):
        for name, operation in operations(schema, prefix).items():
            assert {"apiToken": []} in operation["security"], name
            assert {} not in operation["security"], name
