"""The forms behind the work page's buttons and the bulk actions' choice page. They only read
and check the input; the ticket services decide whether the change is allowed."""

from __future__ import annotations

from typing import cast

from django import forms
from django.utils.translation import gettext_lazy as _

from tickets.admin.filters import AssigneeFilter, agent_profile_of
from tickets.models import (
    STAFF_MESSAGE_MAX_LENGTH,
    TICKET_TRANSITIONS,
    AgentProfile,
    Priority,
    Queue,
    Ticket,
    TicketStatus,
)


def transition_choices(ticket: Ticket) -> list[tuple[str, str]]:
    """The statuses the workflow allows from the ticket's, with their labels."""
    return [(s, str(Ticket.Status(s).label)) for s in TICKET_TRANSITIONS[ticket.status]]


class ReplyForm(forms.Form):
    body = forms.CharField(
        label=_("Reply to the customer"),
        max_length=STAFF_MESSAGE_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 6, "dir": "auto"}),
    )
    status_after = forms.ChoiceField(label=_("and set status"), required=False)

    def __init__(self, *args, ticket: Ticket, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        cast(forms.ChoiceField, self.fields["status_after"]).choices = [
            ("", _("(leave as it is)")),
            *transition_choices(ticket),
        ]


class NoteForm(forms.Form):
    body = forms.CharField(
        label=_("Internal note (staff only)"),
        max_length=STAFF_MESSAGE_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 3, "dir": "auto"}),
    )


class TransitionForm(forms.Form):
    # Every status, not only the allowed ones: the service says why a move is refused.
    to_status = forms.ChoiceField(choices=TicketStatus.choices)


class PriorityForm(forms.Form):
    priority = forms.TypedChoiceField(label=_("Priority"), choices=Priority.choices, coerce=int)


class AssigneeForm(forms.Form):
    """ "me", "nobody" (back to the queue) or an agent's id; the service checks who may."""

    assignee = forms.CharField(label=_("Assignee"), max_length=20)

    def __init__(self, *args, user, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.user = user

    def clean_assignee(self) -> AgentProfile | None:
        value = self.cleaned_data["assignee"].strip()
        if value == AssigneeFilter.NOBODY:
            return None
        if value == AssigneeFilter.ME:
            own = agent_profile_of(self.user)
            if own is None:
                raise forms.ValidationError(_("You have no agent profile to take tickets with."))
            return own
        agent = (
            AgentProfile.objects.filter(pk=int(value)).select_related("user").first()
            if value.isdigit()
            else None
        )
        if agent is None:
            raise forms.ValidationError(_("Choose an agent from the list."))
        return agent


class QueueMoveForm(forms.Form):
    queue = forms.ModelChoiceField(label=_("Queue"), queryset=Queue.objects.all())


def _form_errors_text(form: forms.Form) -> str:
    parts = []
    for name, errors in form.errors.items():
        label = form.fields[name].label if name in form.fields else None
        text = " ".join(str(e) for e in errors)
        parts.append(f"{label}: {text}" if label else text)
    return " ".join(parts)


def valid_data(form: forms.Form) -> dict:
    if not form.is_valid():
        raise forms.ValidationError(_form_errors_text(form))
    return form.cleaned_data


class BulkAgentForm(forms.Form):
    agent = forms.ModelChoiceField(
        label=_("Agent"), queryset=AgentProfile.objects.select_related("user")
    )
