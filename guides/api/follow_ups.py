"""Follow-up questions over the API (guides.follow_up): an anonymous client asks, gets the
steps that answer with their snippets, and a token with which it later says whether they
answered. The same service as the follow-up box on the pages; limited per address like the
other anonymous writes (API_ANON_WRITE_RATE)."""

from __future__ import annotations

from django.conf import settings
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from guides import follow_up
from guides.models import Company, FollowUpSource, Guide, Language
from helpdesk.api.fields import (
    StrictBooleanField,
    StrictCharField,
    StrictChoiceField,
    StrictIntegerField,
)
from helpdesk.api.inputs import validated
from helpdesk.api.schema import ERROR_RESPONSES
from helpdesk.api.throttling import CountedThrottlesMixin, ScopedRateThrottle

# --- input ---------------------------------------------------------------------------------


class FollowUpAskInputSerializer(serializers.Serializer):
    question = StrictCharField(
        max_length=follow_up.MAX_QUESTION_CHARS,
        help_text="The customer's question, in their own words.",
    )
    guide = StrictIntegerField(
        required=False,
        min_value=1,
        help_text=(
            "The published guide the question is asked on: its company's guides in its "
            "language answer, and `company` and `language` are not needed."
        ),
    )
    company = serializers.SlugField(
        required=False,
        max_length=100,
        help_text="Without a guide: the company whose guides answer.",
    )
    language = StrictChoiceField(
        choices=Language.choices,
        required=False,
        help_text="Without a guide: the language of the guides that answer (required then).",
    )

    def validate_guide(self, value: int) -> Guide:
        guide = (
            Guide.objects.select_related("company")
            .filter(pk=value, status=Guide.Status.PUBLISHED)
            .first()
        )
        if guide is None:
            raise ValidationError("No published guide has this id.")
        return guide

    def validate_company(self, value: str) -> Company:
        company = Company.objects.filter(slug=value).first()
        if company is None:
            raise ValidationError("No company has this slug.")
        return company

    def validate_question(self, value: str) -> str:
        cleaned = follow_up.question_cleaned(value)
        if not cleaned:
            raise ValidationError("The question has nothing to look for.")
        return cleaned

    def validate(self, attrs: dict) -> dict:
        if "guide" not in attrs and "language" not in attrs:
            raise ValidationError({"language": ["Required when no guide is given."]})
        return attrs


class FollowUpVerdictInputSerializer(serializers.Serializer):
    token = StrictCharField(max_length=200, help_text="The token the question was answered with.")
    answered = StrictBooleanField(help_text="Whether the steps shown answered the question.")


# --- output --------------------------------------------------------------------------------


class FollowUpAnswerOutputSerializer(serializers.Serializer):
    step = serializers.IntegerField(help_text="The step's id.")
    guide = serializers.IntegerField(help_text="The id of the step's guide.")
    guide_title = serializers.CharField()
    position = serializers.IntegerField(help_text="The step's number in its guide.")
    title = serializers.CharField(help_text="The step's title, as written.")
    title_html = serializers.CharField(
        help_text="The title, HTML-escaped, with the question's words in <mark>."
    )
    snippet_html = serializers.CharField(
        help_text=(
            "The part of the step's text that holds most of the question's words, as plain "
            "text HTML-escaped, with those words in <mark> (and … where it was cut)."
        )
    )
    score = serializers.FloatField(
        help_text="The share of the question's words the step holds, from 0.5 to 1."
    )
    url = serializers.CharField(help_text="The step on its guide's page.")


class FollowUpOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    token = serializers.CharField(
        help_text="Send it back to say whether the answers answered the question (valid 7 days)."
    )
    question = serializers.CharField(
        help_text="The question as kept: without e-mail addresses, links and long numbers."
    )
    language = serializers.ChoiceField(choices=Language.choices)
    answers = FollowUpAnswerOutputSerializer(
        many=True, help_text="Best first; empty when nothing answers the question well enough."
    )
    answered = serializers.BooleanField(
        allow_null=True, help_text="What the customer said; null until they say."
    )
    person_url = serializers.CharField(
        help_text="Where a person takes the question over, with the question filled in."
    )


def follow_up_state(asked: follow_up.FollowUp) -> dict:
    stored = asked.question
    return {
        "id": stored.pk,
        "token": asked.token,
        "question": stored.question,
        "language": stored.language,
        "answers": [
            {
                "step": answer.step.pk,
                "guide": answer.step.guide_id,
                "guide_title": answer.step.guide.title,
                "position": answer.step.position,
                "title": answer.step.title,
                "title_html": str(answer.title_html),
                "snippet_html": str(answer.snippet_html),
                "score": round(answer.score, 3),
                "url": answer.url,
            }
            for answer in asked.answers
        ],
        "answered": stored.answered,
        "person_url": follow_up.person_url(stored),
    }


# --- views ---------------------------------------------------------------------------------


class _FollowUpView(CountedThrottlesMixin, APIView):
    # Anonymous customers, limited per address with the other anonymous writes.
    throttle_scope = "anon_write"
    authentication_classes: list = []

    def get_throttles(self):
        return [*super().get_throttles(), ScopedRateThrottle()]


class FollowUpAskView(_FollowUpView):
    @extend_schema(
        summary="Ask a follow-up question: the steps of the guides that answer it",
        request=FollowUpAskInputSerializer,
        responses={201: FollowUpOutputSerializer, **ERROR_RESPONSES},
    )
    def post(self, request: Request) -> Response:
        data = validated(FollowUpAskInputSerializer, request)
        guide = data.get("guide")
        asked = follow_up.follow_up_ask(
            question=data["question"],
            language=guide.language if guide else data.get("language", settings.LANGUAGE_CODE),
            source=FollowUpSource.API,
            company=data.get("company"),
            guide=guide,
        )
        return Response(follow_up_state(asked), status=status.HTTP_201_CREATED)


class FollowUpVerdictView(_FollowUpView):
    @extend_schema(
        summary="Say whether the answers to a follow-up question answered it (again: changes it)",
        request=FollowUpVerdictInputSerializer,
        responses={200: FollowUpOutputSerializer, **ERROR_RESPONSES},
    )
    def post(self, request: Request, follow_up_id: int) -> Response:
        data = validated(FollowUpVerdictInputSerializer, request)
        # The token names the question; a token of another question is as unknown as a bad one.
        if follow_up.follow_up_id_of(data["token"]) != follow_up_id:
            raise NotFound()
        asked = follow_up.follow_up_of(data["token"])
        if asked is None:
            raise NotFound()
        follow_up.follow_up_verdict_record(follow_up=asked.question, answered=data["answered"])
        return Response(follow_up_state(asked))
