"""The forms behind the work page's buttons and the bulk actions' choice page. They only read
and check the input; the ticket services decide whether the change is allowed."""

from __future__ import annotations

from typing import cast

from django import forms
from django.utils.translation import gettext_lazy as _

from guides.models import StepProposal
from guides.services import STEP_PROPOSAL_BODY_MAX_LENGTH
from tickets.admin.filters import AssigneeFilter, agent_profile_of
from tickets.forms import AttachmentsField
from tickets.models import (
    STAFF_MESSAGE_MAX_LENGTH,
    TICKET_TRANSITIONS,
    AgentProfile,
    CannedReply,
    Priority,
    Queue,
    Ticket,
    TicketStatus,
)
from tickets.selectors import canned_replies_for


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
    is_fix = forms.BooleanField(
        label=_("This reply is the fix: propose it as a step of the guide"), required=False
    )
    attachments = AttachmentsField()
    # Set by the canned reply picker: the reply started as this canned reply.
    canned_reply = forms.ModelChoiceField(
        queryset=CannedReply.objects.none(), required=False, widget=forms.HiddenInput
    )

    def __init__(self, *args, ticket: Ticket, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.ticket = ticket
        cast(forms.ModelChoiceField, self.fields["canned_reply"]).queryset = canned_replies_for(
            ticket=ticket
        )
        cast(forms.ChoiceField, self.fields["status_after"]).choices = [
            ("", _("(leave as it is)")),
            *transition_choices(ticket),
        ]

    def clean(self) -> dict:
        data = super().clean() or {}
        if data.get("is_fix"):
            # Checked before the reply is sent: a refused mark must not send half of it.
            if self.ticket.guide_id is None:
                raise forms.ValidationError(
                    _("This ticket came from the contact form: there is no guide to add a step to.")
                )
            solved = (Ticket.Status.SOLVED, Ticket.Status.CLOSED)
            if self.ticket.status not in solved and data.get("status_after") != "solved":
                raise forms.ValidationError(
                    _("A fix is the reply that solves the ticket: set the status to solved.")
                )
        return data


class FixForm(forms.Form):
    """The agent's fix as a step of the guide: its title, its text, and whether it is the same
    fix as one the guide's open proposals already have."""

    title = forms.CharField(label=_("Step title"), max_length=300)
    body = forms.CharField(
        label=_("What to do (Markdown)"),
        required=False,
        max_length=STEP_PROPOSAL_BODY_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 8, "dir": "auto"}),
    )
    same_as = forms.TypedChoiceField(
        label=_("Same fix as"), required=False, coerce=int, empty_value=None
    )

    def __init__(self, *args, proposals: list[StepProposal], **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["title"].widget.attrs["dir"] = "auto"
        cast(forms.ChoiceField, self.fields["same_as"]).choices = [
            ("", _("None of these: a new proposal")),
            *(
                (
                    proposal.pk,
                    _("%(title)s · solved tickets: %(count)d")
                    % {"title": proposal.title, "count": proposal.tickets_solved},  # type: ignore[attr-defined]
                )
                for proposal in proposals
            ),
        ]


class NoteForm(forms.Form):
    body = forms.CharField(
        label=_("Internal note (staff only)"),
        max_length=STAFF_MESSAGE_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 3, "dir": "auto"}),
    )
    attachments = AttachmentsField()


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
