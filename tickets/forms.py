from django import forms
from django.utils.translation import gettext_lazy as _

from guides import selectors
from guides.models import Attempt
from helpdesk.text import OneLineFormField, PlainTextFormField
from tickets.models import CUSTOMER_MESSAGE_MAX_LENGTH, RatingScore


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


class GuideContactForm(forms.Form):
    """The "talk to a person" form at the end of a guide: what the guide did not solve."""

    description = PlainTextFormField(
        max_length=5000,
        widget=forms.Textarea(attrs={"rows": 5, "dir": "auto"}),
        label=_("What is still going wrong?"),
    )
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
