"""The guide editor in the admin: the guide's form (slug from the title, the translation key
explained and taken from the guide it translates), the step form, and the small endpoints the
editor's script calls (guides/static/guides/editor.js): a slug for a title, the Markdown
preview, the guide a translation is made from, and the signed link to a draft's public page.

Everything works without the script: the server fills an empty slug and translation key, and
the positions typed in the steps are renumbered 1..n on save (guides.authoring).
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseNotAllowed,
    HttpResponseRedirect,
    JsonResponse,
)
from django.template.loader import render_to_string
from django.urls import path, reverse
from django.utils.translation import gettext_lazy as _

from guides import authoring, selectors
from guides.markdown import render_markdown
from guides.models import Guide, Language, Step
from guides.preview_links import preview_path
from helpdesk.limits import AddressLimit

# The live preview posts as the author pauses typing (editor.js waits PREVIEW_PAUSE_MS): a
# steady author sends one or two a second at most; this bounds a stuck or scripted one.
MARKDOWN_PREVIEW_LIMIT = AddressLimit(name="markdown-preview", limit=180, window=60)
# The longest text previewed: a step body or summary well past any real one.
MARKDOWN_PREVIEW_MAX_CHARS = 20_000
SLUG_TITLE_MAX_CHARS = 300


class TranslationOfSelect(forms.Select):
    """A select of guides whose options carry the key, language and company the editor's
    script needs to fill the translation key and show the guide beside the form."""

    def create_option(self, name, value, label, selected, index, subindex=None, attrs=None):
        option = super().create_option(name, value, label, selected, index, subindex, attrs)
        guide = getattr(value, "instance", None)
        if guide is not None:
            option["attrs"].update(
                {
                    "data-translation-key": guide.translation_key,
                    "data-language": guide.language,
                    "data-company": guide.company_id,
                }
            )
        return option


class TranslationOfField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Guide) -> str:
        return f"{obj.company.name} · {obj.get_language_display()} · {obj.title}"


class GuideEditorForm(forms.ModelForm):
    translation_of = TranslationOfField(
        queryset=Guide.objects.select_related("company").order_by(
            "company__name", "title", "language"
        ),
        required=False,
        widget=TranslationOfSelect,
        label=_("Translation of"),
        help_text=_(
            "The guide of the same company, in another language, that this guide translates: "
            "its translation key is copied to this one, and it is shown beside the steps."
        ),
    )

    class Meta:
        model = Guide
        # What the editor may change (the admin's fieldsets choose which are shown to whom).
        fields = [
            "company", "title", "slug", "language", "status", "tags", "translation_key",
            "summary", "alternatives_pinned",
        ]  # fmt: skip
        widgets = {
            "summary": forms.Textarea(attrs={"rows": 4, "data-markdown": "", "dir": "auto"}),
            "title": forms.TextInput(attrs={"dir": "auto", "data-slug-source": ""}),
        }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        slug = self.fields.get("slug")
        if slug is not None:
            slug.required = False
            slug.help_text = _(
                "The guide's address. Filled from the title as you type (Arabic letters "
                "written in Latin ones); left empty, it is made when you save."
            )
            slug.widget.attrs["data-slug"] = ""
        key = self.fields.get("translation_key")
        if key is not None:
            key.required = False
            key.help_text = _(
                "Guides with the same key are translations of each other: their pages link "
                "to one another. Left empty, it is the key of the guide chosen under "
                "“Translation of”, or else the slug."
            )
            key.widget.attrs["data-translation-key"] = ""
        source = self.fields.get("translation_of")
        guide = self.instance
        if source is not None and guide.pk is not None:
            # Editing: the guides of this company in the other languages.
            source.queryset = source.queryset.filter(company_id=guide.company_id).exclude(  # type: ignore[attr-defined]
                language=guide.language
            )
            self.initial.setdefault(
                "translation_of",
                source.queryset.filter(translation_key=guide.translation_key)  # type: ignore[attr-defined]
                .values_list("pk", flat=True)
                .first(),
            )

    def clean(self) -> dict[str, Any]:
        cleaned: dict[str, Any] = super().clean() or self.cleaned_data
        company = cleaned.get("company")
        language = cleaned.get("language")
        source: Guide | None = cleaned.get("translation_of")
        if source is not None and "translation_of" in self.changed_data:
            if company is not None and source.company_id != company.pk:
                self.add_error("translation_of", _("Choose a guide of the same company."))
            elif language and source.language == language:
                self.add_error(
                    "translation_of", _("Choose a guide in another language than this one.")
                )
            elif not cleaned.get("translation_key"):
                cleaned["translation_key"] = source.translation_key
            elif cleaned["translation_key"] != source.translation_key:
                self.add_error(
                    "translation_key",
                    _(
                        "The guide this one translates has the key “%(key)s”: use it, or "
                        "leave the key empty."
                    )
                    % {"key": source.translation_key},
                )
        title = cleaned.get("title")
        if "slug" in self.fields and not cleaned.get("slug") and title and language:
            cleaned["slug"] = authoring.guide_slug_suggest(
                title=title,
                company_id=company.pk if company is not None else None,
                language=language,
                exclude_pk=self.instance.pk,
            )
        if (
            "translation_key" in self.fields
            and not cleaned.get("translation_key")
            and cleaned.get("slug")
        ):
            cleaned["translation_key"] = cleaned["slug"]
        return cleaned


class StepEditorForm(forms.ModelForm):
    class Meta:
        model = Step
        fields = ["position", "kind", "title", "body"]
        widgets = {
            "title": forms.TextInput(attrs={"dir": "auto", "data-step-title": ""}),
            "body": forms.Textarea(attrs={"rows": 5, "data-markdown": "", "dir": "auto"}),
        }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["position"].help_text = _(
            "Steps are numbered 1, 2, 3… in this order when saved. Move them with the handle "
            "or the buttons, or type positions (e.g. 15 to put a step between 1 and 2)."
        )
        self.fields["position"].widget.attrs["data-step-position"] = ""


class GuideEditorPages:
    """The editor's endpoints and page context, mixed into the guide's ModelAdmin."""

    def get_urls(self):
        view = self.admin_site.admin_view  # type: ignore[attr-defined]
        own = [
            path("editor/slug/", view(self.slug_suggestion_view), name="guides_guide_slug"),
            path(
                "editor/markdown/",
                view(self.markdown_preview_view),
                name="guides_guide_markdown_preview",
            ),
            path(
                "editor/translation-source/<int:guide_id>/",
                view(self.translation_source_view),
                name="guides_guide_translation_source",
            ),
            path(
                "<int:guide_id>/preview-link/",
                view(self.preview_link_view),
                name="guides_guide_preview_link",
            ),
        ]
        return own + super().get_urls()  # type: ignore[misc]

    def _may_author(self, request: HttpRequest) -> bool:
        return self.has_add_permission(request) or self.has_change_permission(request)  # type: ignore[attr-defined]

    def slug_suggestion_view(self, request: HttpRequest) -> HttpResponse:
        """{"slug": …} for a title, unique in the company and language when they are given."""
        if not self._may_author(request):
            raise PermissionDenied
        title = request.GET.get("title", "")[:SLUG_TITLE_MAX_CHARS]
        language = request.GET.get("language", "")
        if language not in Language.values:
            language = Language.ENGLISH
        try:
            company_id: int | None = int(request.GET.get("company", ""))
        except ValueError:
            company_id = None
        try:
            exclude_pk: int | None = int(request.GET.get("guide", ""))
        except ValueError:
            exclude_pk = None
        slug = (
            authoring.guide_slug_suggest(
                title=title, company_id=company_id, language=language, exclude_pk=exclude_pk
            )
            if title.strip()
            else ""
        )
        return JsonResponse({"slug": slug})

    def markdown_preview_view(self, request: HttpRequest) -> HttpResponse:
        """{"html": …}: the text rendered by the same renderer as the public page."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        if not self._may_author(request):
            raise PermissionDenied
        retry_after = MARKDOWN_PREVIEW_LIMIT.take(f"user:{request.user.pk}")
        if retry_after is not None:
            response = JsonResponse({"error": str(_("Too many previews: wait a minute."))})
            response.status_code = 429
            response["Retry-After"] = str(retry_after)
            return response
        text = request.POST.get("text", "")
        if len(text) > MARKDOWN_PREVIEW_MAX_CHARS:
            return JsonResponse({"error": str(_("Too long to preview."))}, status=400)
        return JsonResponse({"html": render_markdown(text)})

    def translation_source_view(self, request: HttpRequest, guide_id: int) -> HttpResponse:
        """The panel showing a guide beside the editor (its title and steps)."""
        if not self._may_author(request):
            raise PermissionDenied
        guide = selectors.guide_with_steps(pk=guide_id)
        if guide is None:
            raise Http404(_("No such guide."))
        return HttpResponse(
            render_to_string(
                "admin/guides/guide/_translation_source.html", {"sources": [guide]}, request
            )
        )

    def preview_link_view(self, request: HttpRequest, guide_id: int) -> HttpResponse:
        """To the guide's public page with a fresh signed preview link (staff who may change
        the guide only: an agent reads guides but makes no link to a draft)."""
        guide = self.get_queryset(request).filter(pk=guide_id).first()  # type: ignore[attr-defined]
        if guide is None:
            raise Http404(_("No such guide."))
        if not self.has_change_permission(request, guide):  # type: ignore[attr-defined]
            raise PermissionDenied
        return HttpResponseRedirect(preview_path(guide=guide))

    def view_on_site(self, guide: Guide) -> str | None:
        """ "View on site" for a published guide only: a draft's page is a 404 to customers
        (its staff preview link is in the object tools instead)."""
        if guide.status != Guide.Status.PUBLISHED:
            return None
        return guide.public_path()

    def render_change_form(
        self, request: HttpRequest, context, add=False, change=False, form_url="", obj=None
    ):
        context = {**context, **self._editor_context(request, context, obj)}
        return super().render_change_form(request, context, add, change, form_url, obj)  # type: ignore[misc]

    def _editor_context(self, request: HttpRequest, context: dict, obj: Guide | None) -> dict:
        may_change = obj is not None and self.has_change_permission(request, obj)  # type: ignore[attr-defined]
        preview_link_url = (
            reverse("admin:guides_guide_preview_link", args=[obj.pk])
            if obj is not None and may_change
            else None
        )
        sources: list[Guide] = []
        if obj is not None:
            sources = list(selectors.guide_translations_with_steps(guide=obj))
        else:
            # A new guide: the one chosen under "Translation of" (from "Translate into …", or
            # the form sent back with an error), if it names a guide at all.
            form = context.get("adminform")
            source_id = (
                str(form.form["translation_of"].value() or "")
                if form is not None and "translation_of" in form.form.fields
                else ""
            )
            source = selectors.guide_with_steps(pk=int(source_id)) if source_id.isdigit() else None
            sources = [source] if source is not None else []
        return {
            # The editor's tools, for those who may write (an agent only reads the guide).
            "guide_editor": may_change or (obj is None and self.has_add_permission(request)),  # type: ignore[attr-defined]
            "preview_link_url": preview_link_url,
            "translation_sources": sources,
            # "Translate into …": a new guide, so for those who may add one.
            "translate_into": [
                (code, label)
                for code, label in Language.choices
                if code != obj.language and code not in {source.language for source in sources}
            ]
            if obj is not None and self.has_add_permission(request)  # type: ignore[attr-defined]
            else [],
        }

    def history_view(self, request: HttpRequest, object_id: str, extra_context=None):
        # The versions of the steps beside who changed what (the admin's log).
        try:
            guide = Guide.objects.filter(pk=int(unquote(object_id))).first()
        except ValueError:
            guide = None
        extra = {"guide_versions": list(selectors.guide_versions(guide=guide)) if guide else []}
        return super().history_view(request, object_id, {**(extra_context or {}), **extra})  # type: ignore[misc]

    def save_related(self, request: HttpRequest, form, formsets, change: bool) -> None:
        super().save_related(request, form, formsets, change)  # type: ignore[misc]
        # Before the guide's version is recorded (GuideAdmin.save_related, after this): the
        # version's snapshot holds the positions customers see.
        authoring.guide_steps_renumber(guide=form.instance)
