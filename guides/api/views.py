from __future__ import annotations

import django_filters
from django.conf import settings
from django.db.models import Case, QuerySet, When
from django.utils.translation import get_language
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import viewsets
from rest_framework.request import Request
from rest_framework.response import Response

from guides import search_log, selectors
from guides.api.attempts import TOKEN_HEADER_NAME
from guides.api.serializers import (
    CompanyOutputSerializer,
    GuideDetailOutputSerializer,
    GuideListOutputSerializer,
)
from guides.models import Guide, Language, SearchSource
from guides.search import search_guide_ids
from helpdesk import limits
from helpdesk.api.inputs import SLUG_PATTERN, SlugFilter
from helpdesk.api.schema import ERROR_RESPONSES, PUBLIC_AUTH
from helpdesk.api.throttling import CountedThrottlesMixin
from helpdesk.http import client_address

# Set on the request by GuideViewSet.check_throttles: whether its search may be logged.
SEARCH_LOG_ALLOWED = "search_log_allowed"


class GuideFilter(django_filters.FilterSet):
    q = django_filters.CharFilter(method="filter_search", max_length=200)
    company = SlugFilter(field_name="company__slug")
    language = django_filters.ChoiceFilter(choices=Language.choices)
    tag = SlugFilter(field_name="tags__slug")

    class Meta:
        model = Guide
        fields = ["q", "company", "language", "tag"]

    def filter_search(self, queryset: QuerySet[Guide], name: str, value: str) -> QuerySet[Guide]:
        # Best match first; the other filters narrow the same queryset.
        data = self.form.cleaned_data
        company = data.get("company") or None
        language = data.get("language") or None
        ids = search_guide_ids(query=value, company=company, language=language)
        if getattr(self.request, SEARCH_LOG_ALLOWED, False):
            search_log.search_record(
                query=value,
                company_slug=company,
                language=language or get_language() or settings.LANGUAGE_CODE,
                source=SearchSource.API,
                result_count=len(ids),
            )
        ranking = Case(*(When(pk=pk, then=rank) for rank, pk in enumerate(ids)), default=len(ids))
        return queryset.filter(pk__in=ids).order_by(ranking, "pk")


@extend_schema_view(
    list=extend_schema(
        summary="List companies that have published guides",
        auth=PUBLIC_AUTH,
        responses={200: CompanyOutputSerializer(many=True), **ERROR_RESPONSES},
    ),
    retrieve=extend_schema(
        summary="A company and its support channels",
        auth=PUBLIC_AUTH,
        responses={200: CompanyOutputSerializer, **ERROR_RESPONSES},
    ),
)
class CompanyViewSet(CountedThrottlesMixin, viewsets.ReadOnlyModelViewSet):
    serializer_class = CompanyOutputSerializer
    lookup_field = "slug"
    filter_backends: list = []

    def get_queryset(self):
        return selectors.companies_with_published_guides().order_by("name", "pk")


@extend_schema_view(
    list=extend_schema(
        summary="List published guides",
        auth=PUBLIC_AUTH,
        parameters=[
            OpenApiParameter(
                "q",
                str,
                pattern=r"^[^\u0000]{0,200}$",
                description="Words to search for in Arabic or English; results best first.",
            ),
            OpenApiParameter("company", str, pattern=SLUG_PATTERN, description="Company slug."),
            OpenApiParameter(
                "language", str, enum=["", *Language.values], description="Guide language."
            ),
            OpenApiParameter("tag", str, pattern=SLUG_PATTERN, description="Tag slug."),
        ],
        responses={200: GuideListOutputSerializer(many=True), **ERROR_RESPONSES},
    ),
    retrieve=extend_schema(
        summary="A published guide with its rendered steps",
        auth=PUBLIC_AUTH,
        parameters=[
            OpenApiParameter(
                TOKEN_HEADER_NAME,
                str,
                location=OpenApiParameter.HEADER,
                required=False,
                description=(
                    "The token of the customer's attempt at this guide, if they have one: the "
                    "steps come in the order that attempt recorded. Any other value is ignored."
                ),
            )
        ],
        responses={200: GuideDetailOutputSerializer, **ERROR_RESPONSES},
    ),
)
class GuideViewSet(CountedThrottlesMixin, viewsets.ReadOnlyModelViewSet):
    filterset_class = GuideFilter

    def check_throttles(self, request: Request) -> None:
        # A search is logged within the client's search-log budget (guides.search_log),
        # counted in the round trip of the view's throttles; GuideFilter reads the answer.
        if self.action != "list" or not request.query_params.get("q"):
            self.count_throttles(request)
            return
        (retry_after,) = self.count_throttles(
            request, [(limits.search_log_writes(), client_address(request))]
        )
        setattr(request, SEARCH_LOG_ALLOWED, retry_after is None)

    def get_queryset(self):
        if self.action == "retrieve":
            return selectors.published_guide_detail()
        return selectors.published_guides().order_by("company__name", "title", "pk")

    def get_serializer_class(self):
        if self.action == "retrieve":
            return GuideDetailOutputSerializer
        return GuideListOutputSerializer

    def retrieve(self, request: Request, *args, **kwargs) -> Response:
        guide = self.get_object()
        token = request.headers.get(TOKEN_HEADER_NAME, "").strip()
        attempt = selectors.attempt_by_token(token) if token else None
        step_order = attempt.step_order if attempt and attempt.guide_id == guide.pk else ()
        serializer = self.get_serializer(
            guide,
            context={
                **self.get_serializer_context(),
                "translations": list(selectors.guide_translations(guide=guide)),
                "shown": selectors.steps_shown(guide=guide, step_order=step_order),
            },
        )
        return Response(serializer.data)
