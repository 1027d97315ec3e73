"""The admin's guide import (upload, dry run, apply with progress) and export (a zip of the
selected guides). The work is guides.imports'; these are the pages around it."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_POST

from guides import imports, tasks
from guides.models import Guide, GuideImport
from guides.selectors import guides_for_export
from helpdesk.celery import task_send


class _MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class _MultipleFileField(forms.FileField):
    widget = _MultipleFileInput

    def clean(self, data: Any, initial: Any = None) -> list[Any]:
        single = super().clean
        if isinstance(data, list | tuple):
            return [single(item, initial) for item in data]
        return [single(data, initial)]


class GuideImportForm(forms.Form):
    guide_files = _MultipleFileField(
        label=_("Guide files"),
        help_text=_(
            "One or more guide files (.yaml, .yml) or zip files of them. Nothing is imported "
            "yet: the next page shows what the import would do."
        ),
        widget=_MultipleFileInput(attrs={"accept": ".yaml,.yml,.zip"}),
    )

    def clean_guide_files(self) -> list[Any]:
        files = self.cleaned_data["guide_files"]
        # What is read of them is bounded (guides.imports), but files far larger than all the
        # guide text an upload may hold are refused before a byte of them is opened (twice
        # the limit: room for a zip's own bytes and for the entries it holds that are ignored).
        if sum(upload.size for upload in files) > imports.MAX_TOTAL_BYTES * 2:
            raise forms.ValidationError(
                _("The files add up to more than %(limit)s bytes; import them in parts.")
                % {"limit": f"{imports.MAX_TOTAL_BYTES * 2:,}"}
            )
        return files


def _may_import(model_admin: admin.ModelAdmin, request: HttpRequest) -> bool:
    return model_admin.has_add_permission(request) and model_admin.has_change_permission(request)


def _own_import(request: HttpRequest, import_id: int) -> GuideImport:
    found = imports.guide_import_for(user=request.user, guide_import_id=import_id)
    if found is None:
        raise Http404
    return found


def import_urls(model_admin: admin.ModelAdmin) -> list[URLPattern]:
    """The import pages, under the guide list (GuideAdmin.get_urls)."""
    wrap = model_admin.admin_site.admin_view

    def view(function, *, post_only: bool = False):
        def bound(request: HttpRequest, **kwargs: Any) -> HttpResponse:
            return function(model_admin, request, **kwargs)

        return wrap(require_POST(bound) if post_only else bound)

    return [
        path("import/", view(import_upload), name="guides_guide_import"),
        path("import/<int:import_id>/", view(import_review), name="guides_guide_import_review"),
        path(
            "import/<int:import_id>/apply/",
            view(import_apply, post_only=True),
            name="guides_guide_import_apply",
        ),
        path(
            "import/<int:import_id>/progress/",
            view(import_progress),
            name="guides_guide_import_progress",
        ),
    ]


def _context(model_admin: admin.ModelAdmin, request: HttpRequest, **extra: Any) -> dict:
    return {
        **model_admin.admin_site.each_context(request),
        "opts": model_admin.model._meta,
        **extra,
    }


def import_upload(model_admin: admin.ModelAdmin, request: HttpRequest) -> HttpResponse:
    if not _may_import(model_admin, request):
        raise PermissionDenied
    form = GuideImportForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        uploads = [(upload.name, upload) for upload in form.cleaned_data["guide_files"]]
        try:
            files = imports.guide_files_read(uploads)
        except imports.GuideImportError as error:
            form.add_error("guide_files", error.message)
        else:
            if not files:
                form.add_error(
                    "guide_files", _("No guide files (.yaml, .yml) in what was uploaded.")
                )
            else:
                checked = imports.guide_import_check(user=request.user, files=files)
                return redirect("admin:guides_guide_import_review", import_id=checked.pk)
    context = _context(
        model_admin,
        request,
        title=_("Import guides"),
        form=form,
        max_files=imports.MAX_FILES,
        max_file_bytes=imports.MAX_FILE_BYTES,
        max_total_bytes=imports.MAX_TOTAL_BYTES,
    )
    return TemplateResponse(request, "admin/guides/guide/import.html", context)


def import_review(
    model_admin: admin.ModelAdmin, request: HttpRequest, import_id: int
) -> HttpResponse:
    guide_import = _own_import(request, import_id)
    files = list(guide_import.files.select_related("guide", "guide__company"))
    progress = imports.guide_import_progress(guide_import)
    checked = guide_import.state == GuideImport.State.CHECKED
    context = _context(
        model_admin,
        request,
        title=_("Import guides: what the import would do") if checked else _("Import guides"),
        guide_import=guide_import,
        files=files,
        progress=progress,
        checked=checked,
        can_apply=checked
        and guide_import.created_at >= timezone.now() - imports.CHECK_VALID_FOR
        and any(file.checked_outcome != "failed" for file in files),
    )
    return TemplateResponse(request, "admin/guides/guide/import_review.html", context)


def import_apply(
    model_admin: admin.ModelAdmin, request: HttpRequest, import_id: int
) -> HttpResponse:
    if not _may_import(model_admin, request):
        raise PermissionDenied
    guide_import = _own_import(request, import_id)
    try:
        imports.guide_import_apply_start(guide_import=guide_import, user=request.user)
    except imports.GuideImportError as error:
        messages.error(request, error.message)
    else:
        # Applied by a worker, which records each file's outcome as the page polls. Should the
        # broker not take the task, the import runs here instead: slower, but it runs.
        if not task_send(tasks.apply_guide_import, guide_import.pk, timeout=5):
            imports.guide_import_apply(guide_import_id=guide_import.pk)
    return redirect("admin:guides_guide_import_review", import_id=guide_import.pk)


def import_progress(
    model_admin: admin.ModelAdmin, request: HttpRequest, import_id: int
) -> JsonResponse:
    guide_import = _own_import(request, import_id)
    return JsonResponse(imports.guide_import_progress(guide_import))


@admin.action(description=_("Export selected as zip"), permissions=["view"])
def export_selected_as_zip(
    model_admin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet[Guide]
) -> HttpResponse:
    guides = guides_for_export().filter(pk__in=queryset.values("pk"))
    response = HttpResponse(imports.guides_export_zip(guides), content_type="application/zip")
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
    response["Content-Disposition"] = f'attachment; filename="guides-{stamp}.zip"'
    return response
