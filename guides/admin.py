from __future__ import annotations

from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.db import models
from django.db.models import F, QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.shortcuts import redirect
from django.urls import path, reverse
from django.utils.formats import date_format
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe
from django.utils.timezone import localtime
from django.utils.translation import gettext_lazy as _

from guides import admin_import, ordering, selectors, services
from guides.admin_editor import GuideEditorForm, GuideEditorPages, StepEditorForm
from guides.admin_statistics import StatisticsAdminMixin, percent
from guides.gaps_admin import ContentGapsPages
from guides.models import (
    MAX_STEP_POSITION,
    Attempt,
    Company,
    Feedback,
    Guide,
    Step,
    StepOutcome,
    StepProposal,
    Tag,
)
from guides.search import guide_search_index_update, guide_search_index_update_for
from guides.selectors import (
    step_proposals_open,
    step_proposals_visible_to,
    step_proposals_with_counts,
    user_decides_for_guide,
)
from guides.statistics import statistics_allowed
from helpdesk.errors import ServiceError

# Changes of the alternatives' order shown on a guide's page, newest first.
ORDER_HISTORY_SHOWN = 20


@admin.register(Company)
class CompanyAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "website", "support_phone", "support_email"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}
    # An address typed without a scheme ("cedarbank.example") is https; Django 6 makes that the
    # default and 5.2 warns until it is chosen.
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}
    autocomplete_fields = ["authors"]
    fieldsets = [
        (None, {"fields": ["name", "slug", "website"]}),
        (
            _("Support channels"),
            {"fields": ["support_phone", "support_email", "support_chat_url", "support_hours"]},
        ),
        (_("Authors"), {"fields": ["authors"]}),
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
    form = StepEditorForm
    extra = 1
    ordering = ["position"]
    fields = ["position", "kind", "title", "body"]


@admin.register(Guide)
class GuideAdmin(GuideEditorPages, StatisticsAdminMixin, ContentGapsPages):
    form = GuideEditorForm
    list_display = ["title", "company", "language", "status", "view_count", "updated_at"]
    list_filter = ["status", "language", "company", ("tags", admin.RelatedOnlyFieldListFilter)]
    list_select_related = ["company"]
    search_fields = ["title", "summary", "slug", "company__name", "steps__title"]
    autocomplete_fields = ["company", "tags"]
    actions = [admin_import.export_selected_as_zip]
    readonly_fields = [
        "translations",
        "preview",
        "alternatives_order_now",
        "alternatives_order_history",
        "versions",
        "statistics",
        "view_count",
        "helpful_count",
        "needs_work_count",
        "created_at",
        "updated_at",
    ]
    fieldsets = [
        (None, {"fields": ["company", "title", "slug", "language", "status", "tags"]}),
        (_("Translations"), {"fields": ["translation_of", "translation_key", "translations"]}),
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
    # What customers did with the steps, for those who may edit them (authors): the order of
    # the alternatives with the numbers behind it, its history, the versions.
    learning_fieldsets = [
        (
            _("Order of the alternatives"),
            {
                "fields": [
                    "alternatives_pinned",
                    "alternatives_order_now",
                    "alternatives_order_history",
                ]
            },
        ),
        (_("Versions"), {"fields": ["versions"], "classes": ["collapse"]}),
    ]

    def get_fieldsets(self, request: HttpRequest, obj: Guide | None = None):
        fieldsets = list(super().get_fieldsets(request, obj))
        if obj is None:
            # A guide being written has no usage and nothing learnt yet: its steps come right
            # after the summary instead of below empty sections.
            return fieldsets[:-1]
        if not self.has_change_permission(request, obj):
            return fieldsets
        return [*fieldsets[:-1], *self.learning_fieldsets, fieldsets[-1]]  # before "Usage"

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

    @admin.display(description=_("Order customers see now"))
    def alternatives_order_now(self, guide: Guide) -> str:
        if guide.pk is None:
            return "—"
        alternatives = {
            step.pk: step
            for step in guide.steps.filter(kind=Step.Kind.ALTERNATIVE).order_by("position")
        }
        if len(alternatives) < 2:
            return str(_("Fewer than two alternatives: there is no order to choose."))
        known = services.alternatives_tallies(guide=guide)
        tallies = [known.get(pk, ordering.AlternativeTally(pk, 0, 0)) for pk in alternatives]
        by_step = {n.step: n for n in ordering.numbers(tallies)}
        order = ordering.shown_order(tallies, pinned=guide.alternatives_pinned)
        how: str
        if guide.alternatives_pinned:
            how = str(
                _("Pinned: every customer sees the alternatives in the order of their positions.")
            )
        else:
            how = _(
                "Learning: alternatives tried at least %(sample)s times are ordered by the lower "
                "bound of the 95 %% interval of their success, the others keep their positions; "
                "%(share)s %% of attempts get an order drawn to explore. From customers in "
                "%(language)s over the last %(days)s days."
            ) % {
                "sample": ordering.MIN_SAMPLE,
                "share": round(ordering.EXPLORATION_SHARE * 100),
                "language": guide.get_language_display(),
                "days": ordering.WINDOW_DAYS,
            }
        rows = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            (
                (
                    index,
                    alternatives[pk].title,
                    by_step[pk].tried,
                    by_step[pk].worked,
                    percent(by_step[pk].lower_bound, decimals=1) if by_step[pk].tried else "—",
                    _("yes")
                    if by_step[pk].ranked
                    else _("%(tried)s of %(sample)s tries")
                    % {"tried": by_step[pk].tried, "sample": ordering.MIN_SAMPLE},
                )
                for index, pk in enumerate(order, start=1)
            ),
        )
        return format_html(
            '<p>{}</p><table class="alternatives-order"><thead><tr><th>#</th><th>{}</th>'
            "<th>{}</th><th>{}</th><th>{}</th><th>{}</th></tr></thead><tbody>{}</tbody></table>",
            how,
            _("Alternative"),
            _("Tried"),
            _("Worked"),
            _("Success, lower bound"),
            _("Enough tries"),
            rows,
        )

    @admin.display(description=_("History of the order"))
    def alternatives_order_history(self, guide: Guide) -> str:
        if guide.pk is None:
            return "—"
        changes = list(guide.alternatives_order_changes.order_by("-pk")[:ORDER_HISTORY_SHOWN])
        if not changes:
            return str(_("No order recorded yet."))
        return format_html(
            '<table class="alternatives-order-history"><thead><tr><th>{}</th><th>{}</th>'
            "<th>{}</th></tr></thead><tbody>{}</tbody></table>",
            _("Since"),
            _("How"),
            _("Order (tried, worked, lower bound)"),
            format_html_join(
                "",
                '<tr class="alternatives-order-change"><td>{}</td><td>{}</td><td><ol>{}</ol>'
                "</td></tr>",
                (
                    (
                        date_format(localtime(change.recorded_at), "DATETIME_FORMAT"),
                        _("pinned") if change.pinned else _("learning"),
                        format_html_join(
                            "",
                            "<li>{} ({}, {}, {})</li>",
                            (
                                (
                                    row["title"],
                                    row["tried"],
                                    row["worked"],
                                    percent(row["lower_bound"], decimals=1),
                                )
                                for row in change.numbers
                            ),
                        ),
                    )
                    for change in changes
                ),
            ),
        )

    @admin.display(description=_("Versions of the steps"))
    def versions(self, guide: Guide) -> str:
        if guide.pk is None:
            return "—"
        versions = list(selectors.guide_versions(guide=guide))
        if not versions:
            return str(_("No version yet: the first one is made when the steps are saved."))
        kinds = dict(Step.Kind.choices)
        return format_html(
            '<table class="guide-versions"><thead><tr><th>{}</th><th>{}</th><th>{}</th>'
            "<th>{}</th></tr></thead><tbody>{}</tbody></table>",
            _("Version"),
            _("Made"),
            _("Attempts"),
            _("Steps"),
            format_html_join(
                "",
                '<tr class="guide-version"><td>{}</td><td>{}</td><td>{}</td><td><ol>{}</ol>'
                "</td></tr>",
                (
                    (
                        version.number,
                        date_format(localtime(version.created_at), "DATETIME_FORMAT"),
                        version.attempt_count,  # type: ignore[attr-defined]
                        format_html_join(
                            "",
                            "<li>{} <small>({})</small></li>",
                            (
                                (step["title"], kinds.get(step["kind"], step["kind"]))
                                for step in version.steps
                            ),
                        ),
                    )
                    for version in versions
                ),
            ),
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
        guide = form.instance
        # After the inlines: a version is a snapshot of the steps as saved. A new one also
        # records the alternatives' order, which may have changed with them.
        services.guide_version_record(guide=guide)
        if "alternatives_pinned" in form.changed_data:
            services.alternatives_order_changed([guide.pk])
        guide_search_index_update(guide_id=guide.pk)

    def get_queryset(self, request: HttpRequest) -> QuerySet[Guide]:
        return super().get_queryset(request).select_related("company")

    # --- the steps agents proposed, on the guide's page ---

    def get_urls(self):
        own = [
            path(
                "<path:object_id>/proposals/<int:proposal_id>/",
                self.admin_site.admin_view(self.proposal_view),
                name="guides_guide_proposal",
            ),
            *admin_import.import_urls(self),
        ]
        return own + super().get_urls()

    def _guide_for(self, request: HttpRequest, object_id: str) -> Guide | None:
        try:
            return self.get_queryset(request).filter(pk=int(unquote(object_id))).first()
        except ValueError:
            return None

    def change_view(self, request: HttpRequest, object_id: str, form_url="", extra_context=None):
        guide = self._guide_for(request, object_id)
        if guide is not None and user_decides_for_guide(request.user, guide):
            # The authors' drafts of a refused decision come back in their forms.
            session = request.session
            extra_context = {
                **(extra_context or {}),
                "step_proposals_shown": True,
                "step_proposals": [
                    (proposal, session.pop(_proposal_draft_key(proposal.pk), None))
                    for proposal in step_proposals_open(guide=guide)
                ],
            }
        return super().change_view(request, object_id, form_url, extra_context)

    def proposal_view(self, request: HttpRequest, object_id: str, proposal_id: int) -> HttpResponse:
        """Accept (as proposed, or as the author edited it) or dismiss one proposed step;
        back to the guide's page with the outcome (post/redirect/get)."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        guide = self._guide_for(request, object_id)
        proposal = (
            StepProposal.objects.filter(pk=proposal_id, guide=guide).first()
            if guide is not None
            else None
        )
        if guide is None or proposal is None:
            raise Http404(_("No such proposed step."))
        if not user_decides_for_guide(request.user, guide):
            raise PermissionDenied
        action = request.POST.get("action")
        try:
            if action == "accept":
                step = services.step_proposal_accept(
                    proposal=proposal,
                    actor=request.user,
                    title=request.POST.get("title"),
                    body=request.POST.get("body"),
                )
                messages.success(
                    request,
                    _("Added as step %(position)d of the guide: “%(title)s”.")
                    % {"position": step.position, "title": step.title},
                )
            elif action == "dismiss":
                services.step_proposal_dismiss(proposal=proposal, actor=request.user)
                messages.success(request, _("Dismissed: “%(title)s”.") % {"title": proposal.title})
            else:
                messages.error(request, _("Choose to accept or to dismiss the step."))
        except ServiceError as error:
            request.session[_proposal_draft_key(proposal.pk)] = {
                "title": request.POST.get("title", "")[:1000],
                "body": request.POST.get("body", "")[: services.STEP_PROPOSAL_BODY_MAX_LENGTH],
            }
            messages.error(request, error.message)
        page = reverse("admin:guides_guide_change", args=[guide.pk])
        return redirect(f"{page}#proposals")


def _proposal_draft_key(proposal_id: int) -> str:
    return f"guides.proposal_draft.{proposal_id}"


@admin.register(StepProposal)
class StepProposalAdmin(admin.ModelAdmin):
    """The proposals the user may decide on, across guides, open and decided (filter by
    status): each links to its guide's page, where it is accepted, edited or dismissed."""

    list_display = ["title_link", "guide", "language", "status", "tickets_solved", "created_at"]
    list_display_links = None
    list_filter = ["status", "language", "guide__company"]
    list_select_related = ["guide", "guide__company"]
    # Not the sources: a join on them would multiply the counts of tickets_solved.
    search_fields = ["title", "body", "guide__title"]
    ordering = ["-created_at", "-pk"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[StepProposal]:
        return step_proposals_with_counts(step_proposals_visible_to(request.user))

    @admin.display(description=_("proposed step"), ordering="title")
    def title_link(self, proposal: StepProposal) -> str:
        page = reverse("admin:guides_guide_change", args=[proposal.guide_id])
        return format_html(
            '<a href="{}#proposal-{}"><bdi dir="auto">{}</bdi></a>',
            page,
            proposal.pk,
            proposal.title,
        )

    @admin.display(description=_("solved tickets"), ordering="tickets_solved")
    def tickets_solved(self, proposal: StepProposal) -> int:
        return proposal.tickets_solved  # type: ignore[attr-defined]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


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
