from __future__ import annotations

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from guides import selectors
from guides.models import Company, Guide, Step


class CompanyOutputSerializer(serializers.ModelSerializer):
    class Meta:
        model = Company
        fields = [
            "slug",
            "name",
            "website",
            "support_phone",
            "support_email",
            "support_chat_url",
            "support_hours",
        ]


class CompanyRefSerializer(serializers.ModelSerializer):
    class Meta:
        model = Company
        fields = ["slug", "name"]


class GuideListOutputSerializer(serializers.ModelSerializer):
    company = CompanyRefSerializer(read_only=True)
    tags = serializers.SlugRelatedField(  # type: ignore[var-annotated]
        slug_field="slug", many=True, read_only=True
    )
    direction = serializers.CharField(source="text_direction", read_only=True)
    web_url = serializers.SerializerMethodField()

    class Meta:
        model = Guide
        fields = [
            "id",
            "company",
            "slug",
            "language",
            "direction",
            "translation_key",
            "title",
            "tags",
            "view_count",
            "helpful_count",
            "needs_work_count",
            "updated_at",
            "web_url",
        ]

    def get_web_url(self, guide: Guide) -> str:
        path = guide.public_path()
        request = self.context.get("request")
        return request.build_absolute_uri(path) if request else path


class StepOutputSerializer(serializers.ModelSerializer):
    body_html = serializers.CharField(read_only=True)

    class Meta:
        model = Step
        fields = ["id", "position", "kind", "title", "body_html"]


class TranslationRefSerializer(serializers.ModelSerializer):
    class Meta:
        model = Guide
        fields = ["id", "language", "title"]


class GuideDetailOutputSerializer(GuideListOutputSerializer):
    summary_html = serializers.CharField(read_only=True)
    steps = serializers.SerializerMethodField(
        help_text=(
            "In the order to show them: the procedure, the alternatives (in the order of the "
            "attempt named by X-Attempt-Token, else in the order of what works), the last "
            "resort."
        )
    )
    translations = serializers.SerializerMethodField()

    class Meta(GuideListOutputSerializer.Meta):
        fields = [*GuideListOutputSerializer.Meta.fields, "summary_html", "steps", "translations"]

    @extend_schema_field(StepOutputSerializer(many=True))
    def get_steps(self, guide: Guide) -> list[dict]:
        shown = self.context.get("shown") or selectors.steps_shown(guide=guide)
        return list(StepOutputSerializer(shown.steps, many=True).data)

    @extend_schema_field(TranslationRefSerializer(many=True))
    def get_translations(self, guide: Guide) -> list[dict]:
        translations = self.context.get("translations", [])
        return list(TranslationRefSerializer(translations, many=True).data)
