"""One error shape for every 4xx answer of the API.

    {"status": 400, "code": "invalid", "detail": "Invalid input.",
     "errors": {"language": ["Select a valid choice. xx is not one of the available choices."]}}

``errors`` is present for validation errors and for a service's refusal that names an input
(helpdesk.errors.ServiceError); its keys are the request's field names (``non_field_errors``
for errors about the whole body).
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied
from django.http import Http404
from rest_framework import exceptions, serializers
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler
from rest_framework.views import set_rollback

from helpdesk.errors import NON_FIELD_ERRORS, ServiceError


class ErrorSerializer(serializers.Serializer):
    """Documents the error shape in the OpenAPI schema."""

    status = serializers.IntegerField()
    code = serializers.CharField()
    detail = serializers.CharField()
    # The serializer metaclass moves declared fields off the class, so this does not shadow
    # Serializer.errors at run time; only the type checker sees the clash.
    errors = serializers.DictField(  # type: ignore[assignment]
        child=serializers.ListField(child=serializers.CharField()), required=False
    )


def _encodable(text: str) -> str:
    # A message may quote the input; a lone surrogate in it (which helpdesk.api.parsers
    # refuses, but other paths may not) would make the 400 itself fail to encode: a 500.
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def _flatten(detail: Any) -> list[str]:
    if isinstance(detail, list):
        return [message for item in detail for message in _flatten(item)]
    if isinstance(detail, dict):
        return [
            f"{_encodable(str(key))}: {message}"
            for key, value in detail.items()
            for message in _flatten(value)
        ]
    return [_encodable(str(detail))]


def error_body(status: int, code: str, detail: str, errors: dict | None = None) -> dict:
    body: dict[str, Any] = {"status": status, "code": code, "detail": detail}
    if errors is not None:
        body["errors"] = errors
    return body


def service_error_body(error: ServiceError) -> dict:
    """A service's refusal in the error shape (see ServiceError for what each status says)."""
    message = _encodable(error.message)
    if error.status == 400:
        field = error.field or NON_FIELD_ERRORS
        return error_body(400, "invalid", "Invalid input.", {field: [message]})
    errors = None if error.field is None else {error.field: [message]}
    return error_body(error.status, error.code, message, errors)


def exception_handler(exc: Exception, context: dict) -> Response | None:
    if isinstance(exc, ServiceError):
        set_rollback()  # as DRF does for the exceptions it answers
        return Response(service_error_body(exc), status=exc.status)
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()
    response = drf_exception_handler(exc, context)
    if response is None or not isinstance(exc, exceptions.APIException):
        return response
    if isinstance(exc, exceptions.ValidationError):
        detail = exc.detail
        if isinstance(detail, dict):
            fields = {_encodable(str(key)): _flatten(value) for key, value in detail.items()}
        else:
            fields = {"non_field_errors": _flatten(detail)}
        response.data = error_body(response.status_code, "invalid", "Invalid input.", fields)
    else:
        codes = exc.get_codes()
        code = codes if isinstance(codes, str) else "error"
        response.data = error_body(response.status_code, code, _flatten(exc.detail)[0])
    return response
