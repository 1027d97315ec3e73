from django import forms
from django.utils.translation import gettext_lazy as _

from guides.models import Attempt, StepOutcome
from helpdesk.text import OneLineFormField, PlainTextFormField


class StepOutcomeForm(forms.Form):
    outcome = forms.ChoiceField(choices=StepOutcome.Outcome.choices)
    note = PlainTextFormField(
        required=False,
        max_length=2000,
        label=_("What happened? (optional, e.g. the error message)"),
    )


class FeedbackForm(forms.Form):
    helpful = forms.TypedChoiceField(
        choices=[("yes", _("Yes")), ("no", _("Needs work"))],
        coerce=lambda value: value == "yes",
        label=_("Was this guide helpful?"),
    )
    comment = PlainTextFormField(
        required=False, max_length=2000, widget=forms.Textarea(attrs={"rows": 3, "dir": "auto"}),
        label=_("What should we improve? (optional)"),
    )  # fmt: skip


class ContactForm(forms.Form):
    description = PlainTextFormField(
        max_length=5000,
        widget=forms.Textarea(attrs={"rows": 5, "dir": "auto"}),
        label=_("What is still going wrong?"),
    )
    name = OneLineFormField(
        required=False,
        max_length=200,
        widget=forms.TextInput(attrs={"dir": "auto"}),
        label=_("Your name (optional)"),
    )
    email = forms.EmailField(
        # The address validator allows 320 characters; the column holds fewer.
        max_length=Attempt._meta.get_field("contact_email").max_length,
        label=_("Your e-mail address"),
        help_text=_("A person will answer you here."),
    )


class SearchForm(forms.Form):
    q = forms.CharField(required=False, max_length=200, label=_("Describe your problem"))
    company = forms.SlugField(required=False, widget=forms.HiddenInput)
