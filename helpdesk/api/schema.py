from typing import Any

from drf_spectacular.utils import OpenApiResponse

from helpdesk import idempotency
from helpdesk.api.errors import ErrorSerializer

# Documented on every operation: the one error shape (see helpdesk.api.errors).
ERROR_RESPONSES = {
    400: OpenApiResponse(ErrorSerializer, description="Invalid input; see `errors`."),
    404: OpenApiResponse(ErrorSerializer, description="Not found."),
    429: OpenApiResponse(ErrorSerializer, description="Too many requests; see Retry-After."),
}


NO_NUL_PATTERN = r"^[^\u0000]*$"


def forbid_nul_in_request_strings(result: dict, generator, request, public) -> dict:
    """drf-spectacular post-processing hook: say in the schema what DRF enforces.

    DRF refuses NUL characters in every text field (a 400 naming the field); free-text request
    fields get a pattern that says so, so clients and schemathesis know the rule.
    """
    for name, component in result.get("components", {}).get("schemas", {}).items():
        if not name.endswith("Request"):
            continue
        for prop in component.get("properties", {}).values():
            if prop.get("type") == "string" and not {"format", "enum", "pattern"} & set(prop):
                prop["pattern"] = NO_NUL_PATTERN
    return result


IDEMPOTENCY_KEY_PARAMETER = {
    "name": idempotency.HEADER,
    "in": "header",
    "required": False,
    "description": (
        "A unique key of your choosing (a random UUID) that names this request. A retry with "
        "the same key and the same body gets the first answer again (marked "
        "`Idempotent-Replayed: true`) and the work is done once. A key is yours alone and "
        "expires after IDEMPOTENCY_KEY_TTL seconds (24 hours by default)."
    ),
    "schema": {
        "type": "string",
        "minLength": 1,
        "maxLength": idempotency.KEY_MAX_LENGTH,
        "pattern": idempotency.KEY_PATTERN,
    },
}
IDEMPOTENCY_KEY_REUSED = {
    "description": "The Idempotency-Key was sent before with another request (another body "
    "or another operation): a new request needs a new key.",
    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
}


def document_idempotency_key(result: dict, generator, request, public) -> dict:
    """drf-spectacular post-processing hook: every POST takes an Idempotency-Key and may
    answer 422 (helpdesk.idempotency, a middleware the views know nothing of)."""
    for path_item in result.get("paths", {}).values():
        operation = path_item.get("post")
        if operation is None:
            continue
        operation.setdefault("parameters", []).append(dict(IDEMPOTENCY_KEY_PARAMETER))
        operation.setdefault("responses", {}).setdefault("422", IDEMPOTENCY_KEY_REUSED)
    return result


# The anonymous customers' secrets, shown as API-key security schemes (the docs page's
# "Authorize" fills them in, and each operation that needs one shows its lock). They are not
# DRF authentication: no user is signed in, and the view itself looks the secret up, answering
# 400 naming the header when it is missing and a bare 404 when it is wrong, like an unknown
# reference (a 401 would tell a guesser the reference exists). Header names as in
# guides.api.attempts and tickets.api.views (helpdesk imports neither app).
ATTEMPT_TOKEN_SCHEME = "attemptToken"  # noqa: S105 - a scheme's name, not a secret
TICKET_SECRET_SCHEME = "ticketSecret"  # noqa: S105 - a scheme's name, not a secret
CUSTOMER_SECURITY_SCHEMES = {
    ATTEMPT_TOKEN_SCHEME: {
        "type": "apiKey",
        "in": "header",
        "name": "X-Attempt-Token",
        "description": (
            "The secret token returned once when the attempt was started. Missing: 400 "
            "naming the header; wrong or unknown: 404."
        ),
    },
    TICKET_SECRET_SCHEME: {
        "type": "apiKey",
        "in": "header",
        "name": "X-Ticket-Secret",
        "description": (
            "The secret of the status link e-mailed to the customer (its last part). Missing: "
            "400 naming the header; wrong, or another ticket's: 404."
        ),
    },
}
# For extend_schema(auth=...), which takes OpenAPI security requirements as they are (its
# annotation says strings; typed Any here for that): the operation needs this secret...
ATTEMPT_TOKEN_AUTH: Any = [{ATTEMPT_TOKEN_SCHEME: []}]
TICKET_SECRET_AUTH: Any = [{TICKET_SECRET_SCHEME: []}]
# ... or nothing at all: a public read (no lock on the docs page), even where the view also
# reads a staff session for its own purposes.
PUBLIC_AUTH: Any = []


def document_customer_secrets(result: dict, generator, request, public) -> dict:
    """drf-spectacular post-processing hook: the customers' secrets as security schemes,
    which the operations name through extend_schema(auth=ATTEMPT_TOKEN_AUTH, ...)."""
    schemes = result.setdefault("components", {}).setdefault("securitySchemes", {})
    schemes.update(CUSTOMER_SECURITY_SCHEMES)
    return result
