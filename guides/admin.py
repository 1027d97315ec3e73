from __future__ import annotations

from django.contrib import admin
from django.db import models
from django.db.models import F, QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe
from django.utils.translation import gettext_lazy as _

from guides.admin_statistics import StatisticsAdminMixin
from guides.models import (
    MAX_STEP_POSITION,
    Attempt,
    Company,
    Feedback,
    Guide,
    Step,
    StepOutcome,
    Tag,
)
from guides.search import guide_search_index_update, guide_search_index_update_for
from guides.statistics import statistics_allowed


@admin.register(Company)
class CompanyAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "website", "support_phone", "support_email"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}
    # An address typed without a scheme ("cedarbank.example") is https; Django 6 makes that the
    # default and 5.2 warns until it is chosen.
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}
    fieldsets = [
        (None, {"fields": ["name", "slug", "website"]}),
        (
            _("Support channels"),
            {"fields": ["support_phone", "support_email", "support_chat_url", "support_hours"]},
        ),
    ]

    def save_model(self, request: HttpRequest, obj: Company, form, change: bool) -> None:
        super().save_model(request, obj, form, change)
        if change and "name" in form.changed_data:
            # Customers search guides by company name: every guide's row carries it.
            guide_search_index_update_for(company_id=obj.pk)


@admin.register(Tag)
class TagAdmin(admin.ModelAdmin):
    list_display = ["slug"]
    search_fields = ["slug"]

    def save_model(self, request: HttpRequest, obj: Tag, form, change: bool) -> None:
        super().save_model(request, obj, form, change)
        if change and "slug" in form.changed_data:
            guide_search_index_update_for(tag_id=obj.pk)

    def delete_model(self, request: HttpRequest, obj: Tag) -> None:
        guide_ids = list(obj.guides.values_list("pk", flat=True))
        super().delete_model(request, obj)
        guide_search_index_update_for(guide_ids=guide_ids)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Tag]) -> None:
        guide_ids = list(Guide.objects.filter(tags__in=queryset).values_list("pk", flat=True))
        super().delete_queryset(request, queryset)
        guide_search_index_update_for(guide_ids=guide_ids)


class StepInline(admin.StackedInline):
    model = Step
    extra = 1
    ordering = ["position"]
    fields = ["position", "kind", "title", "body"]


@admin.register(Guide)
class GuideAdmin(StatisticsAdminMixin, admin.ModelAdmin):
    list_display = ["title", "company", "language", "status", "view_count", "updated_at"]
    list_filter = ["status", "language", "company", ("tags", admin.RelatedOnlyFieldListFilter)]
    list_select_related = ["company"]
    search_fields = ["title", "summary", "slug", "company__name", "steps__title"]
    autocomplete_fields = ["company", "tags"]
    readonly_fields = [
        "translations",
        "preview",
        "statistics",
        "view_count",
        "helpful_count",
        "needs_work_count",
        "created_at",
        "updated_at",
    ]
    fieldsets = [
        (None, {"fields": ["company", "title", "slug", "language", "status", "tags"]}),
        (_("Translations"), {"fields": ["translation_key", "translations"]}),
        (_("Summary"), {"fields": ["summary"]}),
        (_("Preview"), {"fields": ["preview"], "classes": ["collapse"]}),
        (
            _("Usage"),
            {
                "fields": [
                    "statistics",
                    "view_count",
                    "helpful_count",
                    "needs_work_count",
                    "created_at",
                    "updated_at",
                ]
            },
        ),
    ]
    inlines = [StepInline]

    @admin.display(description=_("Other languages"))
    def translations(self, guide: Guide) -> str:
        if guide.pk is None:
            return "—"
        others = Guide.objects.filter(
            company_id=guide.company_id, translation_key=guide.translation_key
        ).exclude(pk=guide.pk)
        if not others:
            return str(_("None yet: give a guide in another language the same translation key."))
        return format_html_join(
            mark_safe("<br>"),
            '<a href="{}" lang="{}">{} · {}</a>',
            (
                (
                    reverse("admin:guides_guide_change", args=[other.pk]),
                    other.language,
                    other.get_language_display(),
                    other.title,
                )
                for other in others
            ),
        )

    @admin.display(description=_("Statistics"))
    def statistics(self, guide: Guide) -> str:
        if guide.pk is None:
            return "—"
        return format_html(
            '<a href="{}">{}</a>',
            reverse("admin:guides_guide_guide_statistics", args=[guide.pk]),
            _("What customers did with this guide"),
        )

    def changelist_view(self, request: HttpRequest, extra_context=None):
        extra_context = {
            **(extra_context or {}),
            "can_see_statistics": statistics_allowed(request.user),
        }
        return super().changelist_view(request, extra_context)

    @admin.display(description=_("Rendered guide"))
    def preview(self, guide: Guide) -> str:
        if guide.pk is None:
            return str(_("Save the guide to see its preview."))
        steps = format_html_join(
            "",
            "<section><h3>{}. {} <small>({})</small></h3>{}</section>",
            (
                (
                    step.position,
                    step.title,
                    step.get_kind_display(),
                    mark_safe(step.body_html),  # noqa: S308 - sanitised by render_markdown
                )
                for step in guide.steps.order_by("position")
            ),
        )
        return format_html(
            '<div class="guide-preview" lang="{}" dir="{}"><h2>{}</h2>{}{}</div>',
            guide.language,
            guide.text_direction,
            guide.title,
            mark_safe(guide.summary_html),  # noqa: S308 - sanitised by render_markdown
            steps,
        )

    def save_formset(self, request: HttpRequest, form, formset, change: bool) -> None:
        if formset.model is Step:
            # Steps that swap places would collide on unique(guide, position) while saved one
            # by one; park the moved ones above every allowed position first.
            moved = [
                f.instance.pk
                for f in formset.forms
                if f.instance.pk and "position" in f.changed_data and f not in formset.deleted_forms
            ]
            if moved:
                Step.objects.filter(pk__in=moved).update(position=F("position") + MAX_STEP_POSITION)
        super().save_formset(request, form, formset, change)

    def save_related(self, request: HttpRequest, form, formsets, change: bool) -> None:
        super().save_related(request, form, formsets, change)
        guide_search_index_update(guide_id=form.instance.pk)

    def get_queryset(self, request: HttpRequest) -> QuerySet[Guide]:
        return super().get_queryset(request).select_related("company")


class StepOutcomeInline(admin.TabularInline):
    """The customer's history, as recorded: read-only, in the order it happened."""

    model = StepOutcome
    extra = 0
    can_delete = False
    ordering = ["recorded_at", "pk"]
    readonly_fields = ("recorded_at", "step_position", "step_kind", "step_title", "outcome", "note")
    fields = readonly_fields

    def has_add_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


@admin.register(Attempt)
class AttemptAdmin(admin.ModelAdmin):
    """Attempts are written by customers only; staff read them (and the escalation work
    turns them into tickets)."""

    list_display = ["guide", "language", "status", "started_at", "updated_at", "contact_email"]
    list_filter = [
        "status",
        ("escalation_parked_at", admin.EmptyFieldListFilter),
        "language",
        "guide__company",
    ]
    list_select_related = ["guide", "guide__company"]
    search_fields = ["contact_email", "contact_name", "guide__title"]
    date_hierarchy = "started_at"
    show_full_result_count = False
    readonly_fields = (
        "guide", "language", "status", "started_at", "updated_at", "finished_at",
        "escalation_requested_at", "escalation_deliveries", "escalation_parked_at",
        "contact_name", "contact_email", "description", "user_agent",
    )  # fmt: skip
    fields = readonly_fields
    inlines = [StepOutcomeInline]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


@admin.register(Feedback)
class FeedbackAdmin(admin.ModelAdmin):
    list_display = ["guide", "helpful", "comment", "created_at"]
    list_filter = ["helpful", "guide__company", "guide__language"]
    list_select_related = ["guide", "guide__company"]
    search_fields = ["comment", "guide__title"]
    readonly_fields = ["guide", "attempt", "helpful", "comment", "created_at", "updated_at"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False
