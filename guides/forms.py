from django import forms
from django.utils.translation import gettext_lazy as _

from guides.models import StepOutcome
from helpdesk.text import PlainTextFormField


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


class SearchForm(forms.Form):
    q = forms.CharField(required=False, max_length=200, label=_("Describe your problem"))
    company = forms.SlugField(required=False, widget=forms.HiddenInput)
