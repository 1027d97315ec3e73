"""The statistics API: what self-help achieves, for integrations (read-only).

A guide's funnel and per-step figures, the deflection series, and a step's failure notes, all
read by guides.statistics (the day tallies the rollup keeps; the notes from the outcomes
themselves). Here because the tokens are the tickets app's; guides has no API token of its
own, and it never imports tickets.

Who sees what: guides.view_all_statistics (supervisors) every guide; guides.view_statistics
(authors) the guides of the companies they write for (Company.authors); anyone else nothing
(403). A guide outside the user's scope is a 404, as if it did not exist.
"""

from __future__ import annotations

from django.db.models import QuerySet
from django.http import Http404
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import permissions, serializers
from rest_framework.authentication import SessionAuthentication
from rest_framework.exceptions import ValidationError
from rest_framework.generics import GenericAPIView
from rest_framework.request import Request
from rest_framework.response import Response

from guides import statistics
from guides.models import Company, Guide, Language, StepOutcome
from helpdesk.api.errors import ErrorSerializer
from helpdesk.api.inputs import SLUG_PATTERN
from helpdesk.api.pagination import PageNumberPagination
from helpdesk.api.schema import ERROR_RESPONSES
from helpdesk.api.throttling import UserRateThrottle
from tickets.api.authentication import ApiTokenAuthentication
from tickets.api.filters import SEARCH_PATTERN

STATISTICS_ERRORS = {
    **ERROR_RESPONSES,
    401: OpenApiResponse(ErrorSerializer, description="No token, or a wrong or revoked one."),
    403: OpenApiResponse(
        ErrorSerializer, description="Only authors (their guides) and supervisors see these."
    ),
}
GUIDE_ID = OpenApiParameter(
    "guide_id", int, location=OpenApiParameter.PATH, description="The guide's id."
)
STEP_ID = OpenApiParameter(
    "step_id", int, location=OpenApiParameter.PATH,
    description="The step's id: its identity across the guide's versions.",
)  # fmt: skip


# An empty value is no filter (as in the ticket list's filters), so the schema says "a date or
# nothing" rather than format: date, which would call the empty value invalid.
DATE_PATTERN = r"^([0-9]{4}-[0-9]{2}-[0-9]{2})?$"
GUIDE_ID_PATTERN = r"^([1-9][0-9]{0,8})?$"
RANGE_PARAMETERS = [
    OpenApiParameter(
        "language", str, enum=["", *Language.values], description="Only customers of this language."
    ),
    OpenApiParameter(
        "date_from", str, pattern=DATE_PATTERN,
        description="From this day (UTC, YYYY-MM-DD), inclusive: attempts by the day they started.",
    ),
    OpenApiParameter(
        "date_to", str, pattern=DATE_PATTERN,
        description="To this day (UTC, YYYY-MM-DD), inclusive; not before date_from.",
    ),
]  # fmt: skip
DEFLECTION_PARAMETERS = [
    *RANGE_PARAMETERS,
    OpenApiParameter(
        "per", str, enum=["", *statistics.DEFLECTION_BREAKDOWNS],
        description="Break each week down by company, guide or language (default: not at all).",
    ),
    OpenApiParameter(
        "company", str, pattern=SLUG_PATTERN, description="Only this company's guides (its slug)."
    ),
    OpenApiParameter(
        "guide", str, pattern=GUIDE_ID_PATTERN, description="Only this guide (its id)."
    ),
]  # fmt: skip
NOTES_PARAMETERS = [
    *RANGE_PARAMETERS,
    OpenApiParameter(
        "q", str, pattern=SEARCH_PATTERN, description="Only notes containing this (any case)."
    ),
]


class CanViewStatistics(permissions.BasePermission):
    def has_permission(self, request: Request, view) -> bool:
        return statistics.statistics_allowed(request.user)


class _StatisticsView(GenericAPIView):
    authentication_classes = [ApiTokenAuthentication, SessionAuthentication]
    permission_classes = [CanViewStatistics]
    throttle_classes = [UserRateThrottle]

    def guide(self, request: Request, guide_id: int) -> Guide:
        guide = (
            statistics.statistics_guides_for(request.user)
            .select_related("company")
            .filter(pk=guide_id)
            .first()
        )
        if guide is None:
            raise Http404
        return guide


# --- inputs --------------------------------------------------------------------------------


class RangeInputSerializer(serializers.Serializer):
    """The filters every statistics read takes. Days are UTC; an attempt counts on the day it
    started."""

    language = serializers.ChoiceField(
        choices=Language.choices, required=False, allow_blank=True,
        help_text="Only customers of this language.",
    )  # fmt: skip
    date_from = serializers.DateField(required=False, help_text="From this day (UTC), inclusive.")
    date_to = serializers.DateField(required=False, help_text="To this day (UTC), inclusive.")

    def validate(self, attrs: dict) -> dict:
        date_from, date_to = attrs.get("date_from"), attrs.get("date_to")
        if date_from and date_to and date_from > date_to:
            raise ValidationError({"date_to": ["Must be on or after date_from."]})
        return attrs


class DeflectionInputSerializer(RangeInputSerializer):
    per = serializers.ChoiceField(
        choices=[("", "week only"), *[(key, key) for key in statistics.DEFLECTION_BREAKDOWNS]],
        required=False, allow_blank=True,
        help_text="Break each week down by company, guide or language (default: none).",
    )  # fmt: skip
    company = serializers.RegexField(
        SLUG_PATTERN, max_length=100, required=False, allow_blank=True,
        help_text="Only this company's guides (its slug).",
    )  # fmt: skip
    guide = serializers.IntegerField(
        min_value=1, max_value=999_999_999, required=False, help_text="Only this guide (its id)."
    )


class FailureNotesInputSerializer(RangeInputSerializer):
    q = serializers.RegexField(
        SEARCH_PATTERN, max_length=200, required=False, allow_blank=True,
        help_text="Only notes that contain this text (in any case).",
    )  # fmt: skip


def _query(serializer_class: type[serializers.Serializer], request: Request) -> dict:
    serializer = serializer_class(data=request.query_params)
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)


def _range(data: dict) -> dict:
    return {
        "language": data.get("language") or None,
        "date_from": data.get("date_from"),
        "date_to": data.get("date_to"),
    }


# --- outputs -------------------------------------------------------------------------------


class GuideSummarySerializer(serializers.Serializer):
    id = serializers.IntegerField()
    title = serializers.CharField()
    language = serializers.ChoiceField(choices=Language.choices)
    company = serializers.CharField(source="company.slug", help_text="The company's slug.")


class FunnelSerializer(serializers.Serializer):
    views = serializers.IntegerField(help_text="Page views counted on the days in range.")
    attempts = serializers.IntegerField()
    resolved = serializers.IntegerField(help_text="A step worked.")
    abandoned = serializers.IntegerField()
    escalated = serializers.IntegerField(help_text="Handed to a person.")
    in_progress = serializers.IntegerField()
    tickets_solved = serializers.IntegerField()
    tickets_reopened = serializers.IntegerField(help_text="Solved tickets reopened at least once.")
    median_solve_seconds = serializers.FloatField(
        allow_null=True, help_text="From the escalation to the solving, median (approximate)."
    )
    deflection_rate = serializers.FloatField(
        allow_null=True, help_text="resolved / (resolved + escalated); null when both are 0."
    )


class ResolvedAtSerializer(serializers.Serializer):
    step = serializers.IntegerField()
    title = serializers.CharField()
    worked = serializers.IntegerField(help_text="Attempts this step resolved.")


class StepFiguresSerializer(serializers.Serializer):
    version = serializers.IntegerField(help_text="The guide version's number.")
    step = serializers.IntegerField(help_text="The step's id, stable across versions.")
    language = serializers.ChoiceField(choices=Language.choices)
    position = serializers.IntegerField(allow_null=True)
    kind = serializers.CharField()
    title = serializers.CharField(help_text="As the version showed it.")
    shown = serializers.IntegerField()
    tried = serializers.IntegerField(help_text="worked + did_not_work + could_not_do")
    worked = serializers.IntegerField()
    did_not_work = serializers.IntegerField()
    could_not_do = serializers.IntegerField()
    skipped = serializers.IntegerField()
    abandoned_here = serializers.IntegerField()
    success_rate = serializers.FloatField(allow_null=True, help_text="worked / tried")
    success_low = serializers.SerializerMethodField(help_text="95 % Wilson interval, low end.")
    success_high = serializers.SerializerMethodField(help_text="95 % Wilson interval, high end.")
    median_seconds = serializers.FloatField(allow_null=True)

    def get_success_low(self, figures: statistics.StepFigures) -> float | None:
        interval = figures.success_interval
        return None if interval is None else interval[0]

    def get_success_high(self, figures: statistics.StepFigures) -> float | None:
        interval = figures.success_interval
        return None if interval is None else interval[1]


class GuideStatisticsSerializer(serializers.Serializer):
    guide = GuideSummarySerializer()
    language = serializers.CharField(allow_null=True)
    date_from = serializers.DateField(allow_null=True)
    date_to = serializers.DateField(allow_null=True)
    funnel = FunnelSerializer()
    resolved_by_step = ResolvedAtSerializer(many=True)
    steps = StepFiguresSerializer(many=True)


class DeflectionPointSerializer(serializers.Serializer):
    week = serializers.CharField(help_text="ISO week, e.g. 2026-W45.")
    week_start = serializers.DateField(help_text="Its Monday.")
    key = serializers.SerializerMethodField(
        help_text="The company's or guide's id, or the language; null without `per`."
    )
    name = serializers.CharField(
        source="label", help_text="The company's name, the guide's title or the language."
    )
    resolved = serializers.IntegerField()
    escalated = serializers.IntegerField()
    rate = serializers.FloatField(allow_null=True)

    def get_key(self, point: statistics.DeflectionPoint) -> str | None:
        return None if point.key is None else str(point.key)


class DeflectionSerializer(serializers.Serializer):
    per = serializers.CharField(allow_null=True)
    results = DeflectionPointSerializer(many=True)


class FailureNoteSerializer(serializers.ModelSerializer):
    language = serializers.CharField(source="attempt.language")
    version = serializers.IntegerField(source="attempt.guide_version_id", allow_null=True)

    class Meta:
        model = StepOutcome
        fields = ["id", "recorded_at", "outcome", "note", "language", "version"]


# --- views ---------------------------------------------------------------------------------


class GuideStatisticsView(_StatisticsView):
    @extend_schema(
        summary="A guide's funnel and per-step figures (authors: their guides; supervisors)",
        description="From the day tallies the statistics rollup keeps (every few minutes): "
        "views → attempts → resolved (and by which step) → abandoned → escalated → tickets "
        "solved, and per guide version, step and language: shown, tried, each outcome, "
        "success rate with its 95 % Wilson interval, median time spent.",
        parameters=[GUIDE_ID, *RANGE_PARAMETERS],
        responses={200: GuideStatisticsSerializer, **STATISTICS_ERRORS},
    )
    def get(self, request: Request, guide_id: int) -> Response:
        data = _query(RangeInputSerializer, request)
        guide = self.guide(request, guide_id)
        figures = statistics.guide_statistics(guide=guide, **_range(data))
        payload = {
            "guide": guide,
            **_range(data),
            "funnel": figures.funnel,
            "resolved_by_step": figures.resolved_by_step,
            "steps": figures.steps,
        }
        return Response(GuideStatisticsSerializer(payload).data)


class DeflectionView(_StatisticsView):
    @extend_schema(
        summary="Deflection per ISO week (authors: their guides; supervisors: all)",
        description="resolved / (resolved + escalated) of the attempts started each week, "
        "optionally per company, guide or language.",
        parameters=DEFLECTION_PARAMETERS,
        responses={200: DeflectionSerializer, **STATISTICS_ERRORS},
    )
    def get(self, request: Request) -> Response:
        data = _query(DeflectionInputSerializer, request)
        company_id = None
        if data.get("company"):
            company_id = (
                Company.objects.filter(slug=data["company"]).values_list("pk", flat=True).first()
            )
            if company_id is None:
                raise ValidationError({"company": ["No company has this slug."]})
        guides: QuerySet[Guide] | None = None
        if not request.user.has_perm(statistics.VIEW_ALL_PERMISSION):
            guides = statistics.statistics_guides_for(request.user)
        per = data.get("per") or None
        points = statistics.deflection_series(
            guides=guides, company_id=company_id, guide_id=data.get("guide"), per=per,
            **_range(data),
        )  # fmt: skip
        return Response(DeflectionSerializer({"per": per, "results": points}).data)


class FailureNotesPagination(PageNumberPagination):
    page_size = 20


class StepFailureNotesView(_StatisticsView):
    pagination_class = FailureNotesPagination
    queryset = StepOutcome.objects.none()  # for the schema; the selector makes the real one

    @extend_schema(
        summary="What customers wrote when a step failed, newest first",
        description='The notes of "didn\'t work" and "couldn\'t do this" outcomes at the '
        "step, in every version of the guide.",
        parameters=[GUIDE_ID, STEP_ID, *NOTES_PARAMETERS],
        responses={200: FailureNoteSerializer(many=True), **STATISTICS_ERRORS},
    )
    def get(self, request: Request, guide_id: int, step_id: int) -> Response:
        data = _query(FailureNotesInputSerializer, request)
        guide = self.guide(request, guide_id)
        notes = statistics.step_failure_notes(
            guide=guide, step=step_id, search=data.get("q") or None, **_range(data)
        )
        page = self.paginate_queryset(notes)
        return self.get_paginated_response(FailureNoteSerializer(page, many=True).data)
