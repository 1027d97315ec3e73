"""The supervisor's set-up: queues (with their SLA policies inline), agents and routing rules."""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.db.models import Count, QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from guides.models import Language
from tickets.models import AgentProfile, Queue, RoutingRule, SLAPolicy

# --- languages as choices, not free JSON --------------------------------------------------------


class LanguagesField(forms.MultipleChoiceField):
    """The JSON list of language codes, ticked from the languages we serve.

    Routing compares these codes with the ticket's language exactly: a typed "arabic" or "AR"
    would silently make an agent or queue unreachable, so no free text here.
    """

    def __init__(self) -> None:
        super().__init__(
            choices=Language.choices,
            required=False,
            widget=forms.CheckboxSelectMultiple,
            help_text=_("None ticked means any language."),
        )


def _languages_display(codes: list[str]) -> str:
    labels = dict(Language.choices)
    return ", ".join(str(labels.get(code, code)) for code in codes) or str(_("any"))


# --- queues and SLA policies ---------------------------------------------------------------------


class SLAPolicyInline(admin.TabularInline):
    model = SLAPolicy
    extra = 0
    ordering = ["-priority"]
    fields = ["priority", "first_response_minutes", "resolution_minutes"]


class QueueForm(forms.ModelForm):
    languages = LanguagesField()

    class Meta:
        model = Queue
        fields = [
            "name", "slug", "languages", "schedule", "auto_assign", "is_fallback", "members",
            "supervisors",
        ]  # fmt: skip

    def clean_is_fallback(self) -> bool:
        is_fallback = self.cleaned_data["is_fallback"]
        if is_fallback:
            # One fallback only (a partial unique constraint); name the current one instead of
            # the constraint's generic message.
            current = Queue.objects.filter(is_fallback=True).exclude(pk=self.instance.pk).first()
            if current is not None:
                raise forms.ValidationError(
                    _("“%(queue)s” is the fallback queue; untick it there first."),
                    params={"queue": current.name},
                )
        return is_fallback


@admin.register(Queue)
class QueueAdmin(admin.ModelAdmin):
    form = QueueForm
    list_display = [
        "name", "slug", "languages_display", "schedule", "member_count", "auto_assign",
        "is_fallback",
    ]  # fmt: skip
    list_select_related = ["schedule"]
    list_filter = ["auto_assign", "is_fallback"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}
    autocomplete_fields = ["members", "supervisors"]
    inlines = [SLAPolicyInline]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Queue]:
        return super().get_queryset(request).annotate(member_count=Count("members"))

    def formfield_for_manytomany(self, db_field, request: HttpRequest, **kwargs):
        if db_field.name == "members":
            # An agent's name is its user's: join it, or the widget reads one user per member.
            kwargs["queryset"] = AgentProfile.objects.select_related("user")
        return super().formfield_for_manytomany(db_field, request, **kwargs)

    @admin.display(description=_("Languages"))
    def languages_display(self, queue: Queue) -> str:
        return _languages_display(queue.languages)

    @admin.display(description=_("Members"), ordering="member_count")
    def member_count(self, queue: Queue) -> int:
        return queue.member_count  # type: ignore[attr-defined]


# --- agents --------------------------------------------------------------------------------------


class AgentProfileForm(forms.ModelForm):
    languages = LanguagesField()

    class Meta:
        model = AgentProfile
        fields = ["user", "languages", "skills", "capacity", "is_available"]


@admin.register(AgentProfile)
class AgentProfileAdmin(admin.ModelAdmin):
    form = AgentProfileForm
    list_display = [
        "name", "user", "languages_display", "load", "is_available", "last_assigned_at",
    ]  # fmt: skip
    list_filter = ["is_available", ("queues", admin.RelatedOnlyFieldListFilter)]
    list_select_related = ["user"]
    search_fields = ["user__username", "user__first_name", "user__last_name", "user__email"]
    autocomplete_fields = ["user"]
    # The assignment services keep these in step with the agent's tickets (one conditional
    # UPDATE claims a slot); a hand edit would let an agent go over capacity or never get work.
    readonly_fields = ["open_tickets", "last_assigned_at"]
    fields = [
        "user", "languages", "skills", "capacity", "is_available", "open_tickets",
        "last_assigned_at",
    ]  # fmt: skip

    def get_queryset(self, request: HttpRequest) -> QuerySet[AgentProfile]:
        return super().get_queryset(request).select_related("user")

    @admin.display(description=_("Agent"), ordering="user__username")
    def name(self, agent: AgentProfile) -> str:
        return str(agent)

    @admin.display(description=_("Languages"))
    def languages_display(self, agent: AgentProfile) -> str:
        return _languages_display(agent.languages)

    @admin.display(description=_("Open / capacity"), ordering="open_tickets")
    def load(self, agent: AgentProfile) -> str:
        return f"{agent.open_tickets} / {agent.capacity}"


# --- routing rules -------------------------------------------------------------------------------


@admin.register(RoutingRule)
class RoutingRuleAdmin(admin.ModelAdmin):
    list_display = [
        "position", "name", "is_active", "company", "tag", "language", "keywords", "queue",
        "priority",
    ]  # fmt: skip
    list_display_links = ["name"]
    list_editable = ["position", "is_active"]
    list_filter = ["is_active", "queue", "language", "priority"]
    list_select_related = ["company", "tag", "queue"]
    search_fields = ["name", "keywords"]
    ordering = ["position", "pk"]
    autocomplete_fields = ["company", "tag", "queue"]
    fieldsets = [
        (None, {"fields": ["position", "name", "is_active"]}),
        (
            _("When the escalation matches (empty conditions match everything)"),
            {"fields": ["company", "tag", "language", "keywords"]},
        ),
        (_("Then"), {"fields": ["queue", "priority"]}),
    ]
