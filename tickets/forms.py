from typing import Any

from django import forms
from django.conf import settings
from django.template.defaultfilters import filesizeformat
from django.utils.functional import lazy
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from guides import selectors
from guides.models import Attempt
from helpdesk.text import OneLineFormField, PlainTextFormField
from tickets.models import CUSTOMER_MESSAGE_MAX_LENGTH, RatingScore
from tickets.services.attachments import (
    TYPE_EXTENSIONS,
    AttachmentRefused,
    CheckedFile,
    accepted_kinds,
    attachments_check,
    uploads_read,
)


class MultipleFileInput(forms.FileInput):
    allow_multiple_selected = True


def _attachments_help() -> str:
    count = settings.ATTACHMENT_MAX_COUNT
    return str(
        ngettext(
            "Up to %(count)d file of %(size)s: %(kinds)s.",
            "Up to %(count)d files of %(size)s each: %(kinds)s.",
            count,
        )
        % {
            "count": count,
            "size": filesizeformat(settings.ATTACHMENT_MAX_SIZE),
            "kinds": accepted_kinds(),
        }
    )


class AttachmentsField(forms.FileField):
    """Files attached to a message, checked by tickets.services.attachments_check: cleans
    to a list of CheckedFile, or to the refusal of each bad file."""

    def __init__(self, **kwargs: Any) -> None:
        # A hint for the browser's file picker; the content is what is checked.
        accept = ",".join(
            ext for kind in settings.ATTACHMENT_TYPES for ext in TYPE_EXTENSIONS[kind]
        )
        kwargs.setdefault("widget", MultipleFileInput(attrs={"accept": accept}))
        kwargs.setdefault("required", False)
        kwargs.setdefault("label", _("Attach files (optional)"))
        kwargs.setdefault("help_text", lazy(_attachments_help, str)())
        super().__init__(**kwargs)

    def clean(self, data: Any, initial: Any = None) -> list[CheckedFile]:
        uploads = data if isinstance(data, list | tuple) else [data]
        files = [super(AttachmentsField, self).clean(item, initial) for item in uploads if item]
        try:
            return attachments_check(files=uploads_read(files))
        except AttachmentRefused as refusal:
            raise forms.ValidationError(refusal.messages) from None


def contact_name_field() -> forms.Field:
    """The customer's name, as both ways of asking for a person take it."""
    return OneLineFormField(
        required=False,
        max_length=200,
        widget=forms.TextInput(attrs={"dir": "auto"}),
        label=_("Your name (optional)"),
    )


def contact_email_field() -> forms.Field:
    """Where the person helping will answer: both ways of asking for a person require it."""
    return forms.EmailField(
        # The address validator allows 320 characters; the column holds fewer.
        max_length=Attempt._meta.get_field("contact_email").max_length,
        label=_("Your e-mail address"),
        help_text=_("A person will answer you here."),
    )


class ContactRequestForm(forms.Form):
    """The contact form for a customer who found no guide."""

    description = PlainTextFormField(
        max_length=CUSTOMER_MESSAGE_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 5, "dir": "auto"}),
        label=_("What is going wrong?"),
    )
    # A screenshot of the error: held by the request until its ticket exists.
    attachments = AttachmentsField(label=_("Attach a screenshot or a file (optional)"))
    company = forms.ModelChoiceField(
        queryset=selectors.companies_with_published_guides().order_by("name"),
        required=False,
        to_field_name="slug",
        empty_label=_("I'm not sure / another company"),
        label=_("Which company is it about? (optional)"),
    )
    name = contact_name_field()
    email = contact_email_field()


class CustomerReplyForm(forms.Form):
    """The customer's answer, written on their status page."""

    body = PlainTextFormField(
        max_length=CUSTOMER_MESSAGE_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 5, "dir": "auto"}),
        label=_("Your message"),
        error_messages={"required": _("Write your message first.")},
    )
    attachments = AttachmentsField()


class GuideContactForm(forms.Form):
    """The "talk to a person" form at the end of a guide: what the guide did not solve."""

    description = PlainTextFormField(
        max_length=5000,
        widget=forms.Textarea(attrs={"rows": 5, "dir": "auto"}),
        label=_("What is still going wrong?"),
    )
    attachments = AttachmentsField(label=_("Attach a screenshot or a file (optional)"))
    name = contact_name_field()
    email = contact_email_field()


class StillNeedHelpForm(forms.Form):
    """ "I still need help" on a solved ticket's status page: what is still wrong, if they
    want to say."""

    message = PlainTextFormField(
        required=False,
        max_length=CUSTOMER_MESSAGE_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 3, "dir": "auto"}),
        label=_("What is still wrong? (optional)"),
    )


class RatingForm(forms.Form):
    """The satisfaction rating of a solved ticket: good or bad, and a comment."""

    score = forms.ChoiceField(
        choices=RatingScore.choices,
        widget=forms.RadioSelect,
        label=_("How was the help you got?"),
        error_messages={"required": _("Choose good or bad.")},
    )
    comment = PlainTextFormField(
        required=False,
        max_length=CUSTOMER_MESSAGE_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 3, "dir": "auto"}),
        label=_("Anything to add? (optional)"),
    )
