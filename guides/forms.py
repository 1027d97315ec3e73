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
    # The step ids in the order the page showed them (guides.page_cache), for an attempt that
    # starts with this outcome. Not the customer's to get wrong: anything unreadable is
    # dropped, not refused (the outcome still counts; the attempt takes the current order).
    order = forms.CharField(required=False, max_length=2000, widget=forms.HiddenInput)

    def clean_order(self) -> list[int]:
        parts = self.cleaned_data["order"].split(",")
        if not all(part.isascii() and part.isdigit() and len(part) < 10 for part in parts):
            return []
        return [int(part) for part in parts]


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
