"""A service's refusal reaches the API in the one error shape, whichever app raised it."""

from __future__ import annotations

import pytest

from guides.services import AttemptClosedError, SelfHelpError
from helpdesk.api.errors import service_error_body
from helpdesk.errors import ServiceError, refusals_concern
from tickets.services import TicketError, TicketNotPermitted, TransitionNotAllowed


def test_a_refused_input_is_invalid_input_on_its_field():
    assert service_error_body(SelfHelpError("Unknown language.", field="language")) == {
        "status": 400, "code": "invalid", "detail": "Invalid input.",
        "errors": {"language": ["Unknown language."]},
    }  # fmt: skip
    assert service_error_body(TicketError("Write something first.")) == {
        "status": 400, "code": "invalid", "detail": "Invalid input.",
        "errors": {"non_field_errors": ["Write something first."]},
    }  # fmt: skip


def test_a_refusal_about_the_state_says_its_code_and_names_a_field_only_if_it_has_one():
    assert service_error_body(TransitionNotAllowed("Already open.")) == {
        "status": 409, "code": "transition_not_allowed", "detail": "Already open.",
    }  # fmt: skip
    assert service_error_body(TicketNotPermitted("No.")) == {
        "status": 403, "code": "not_permitted", "detail": "No.",
    }  # fmt: skip
    assert service_error_body(AttemptClosedError("Abandoned.")) == {
        "status": 409, "code": "attempt_closed", "detail": "Abandoned.",
        "errors": {"non_field_errors": ["Abandoned."]},
    }  # fmt: skip


def test_the_message_is_what_web_pages_and_the_admin_show():
    error = ServiceError("Tell us what is still going wrong.", field="description")
    assert str(error) == error.message == "Tell us what is still going wrong."


def test_a_door_names_the_input_a_refusal_concerns_unless_the_refusal_names_one():
    with pytest.raises(TicketError) as caught, refusals_concern("body"):
        raise TicketError("Write something first.")
    assert caught.value.field == "body"
    with pytest.raises(SelfHelpError) as caught, refusals_concern("body"):
        raise SelfHelpError("Unknown language.", field="language")
    assert caught.value.field == "language"
    with pytest.raises(TransitionNotAllowed) as caught, refusals_concern("status"):
        raise TransitionNotAllowed("Already open.")
    assert caught.value.field is None
