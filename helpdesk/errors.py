"""The one family of refusals a service raises: each app's errors subclass ServiceError.

A refusal carries what every door needs to show it: the message (already in the asker's
language), a short machine ``code``, the input ``field`` it concerns and the HTTP ``status``
the API answers with. The web views and the admin show ``message`` (or ``str(error)``); the
API's one exception handler (helpdesk.api.errors) turns the rest into its error shape.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

NON_FIELD_ERRORS = "non_field_errors"


class ServiceError(Exception):
    """An action a service refuses.

    A 400 is about the input: the API answers "Invalid input." with the message under
    ``field``. Any other status is about the state of things: the API answers with ``code``
    and the message, and names ``field`` only when the error has one (``field = None`` on the
    class says it never does).
    """

    code = "invalid"
    status = 400
    field: str | None = NON_FIELD_ERRORS

    def __init__(
        self,
        message: object,
        *,
        field: str | None = None,
        code: str | None = None,
        status: int | None = None,
    ) -> None:
        # Messages are often lazy translations: rendered now, in the language of the request.
        self.message = str(message)
        if field is not None:
            self.field = field
        if code is not None:
            self.code = code
        if status is not None:
            self.status = status
        super().__init__(self.message)


@contextmanager
def refusals_concern(field: str) -> Iterator[None]:
    """Within the block, a service error that names no input of its own concerns ``field``.

    For a door that knows which of its inputs a service checks (the same "Write something
    first." is about ``body`` in one endpoint and would be about another input elsewhere).
    """
    try:
        yield
    except ServiceError as error:
        if error.field == NON_FIELD_ERRORS:
            error.field = field
        raise
