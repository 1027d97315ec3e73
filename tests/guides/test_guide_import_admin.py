"""The admin's import pages and export action: Ann (author of Nile Telecom) uploads, reads the
dry run, applies; Bob (an agent) may do none of it; nobody sees another's upload."""

from __future__ import annotations

import copy
import io
import zipfile

import pytest
import yaml
from django.contrib.admin import helpers
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from guides import imports
from guides.models import Guide, GuideImport
from tests.factories import CompanyFactory, GuideFactory, StepFactory

VALID = {
    "company": {"slug": "nile-telecom", "name": "Nile Telecom"},
    "slug": "no-mobile-data",
    "language": "en",
    "translation_key": "no-mobile-data",
    "status": "published",
    "title": "Mobile data stopped working",
    "steps": [{"kind": "procedure", "title": "Check the APN"}],
}


def guide_file(name: str, **changes) -> SimpleUploadedFile:
    data = copy.deepcopy(VALID)
    data.update(changes)
    text = yaml.safe_dump(data, allow_unicode=True).encode()
    return SimpleUploadedFile(name, text, "application/yaml")


@pytest.fixture
def nile(ann):
    company = CompanyFactory(slug="nile-telecom", name="Nile Telecom", website="")
    company.authors.add(ann)
    return company


def upload(client, *files) -> GuideImport:
    response = client.post(reverse("admin:guides_guide_import"), {"guide_files": list(files)})
    assert response.status_code == 302, response.content.decode()[:2000]
    return GuideImport.objects.latest("pk")


def test_it_shows_the_dry_run_with_the_errors_and_applies_the_good_files(client, ann, nile):
    client.force_login(ann)
    assert b"import-link" in client.get(reverse("admin:guides_guide_changelist")).content

    checked = upload(
        client, guide_file("good.en.yaml"), guide_file("bad.en.yaml", slug="b", language="fr")
    )
    review = reverse("admin:guides_guide_import_review", args=[checked.pk])
    page = client.get(review).content.decode()

    assert "good.en.yaml" in page and "bad.en.yaml" in page
    assert "language</code>: <bdi>unknown language &#x27;fr&#x27;" in page
    assert not Guide.objects.exists()

    response = client.post(reverse("admin:guides_guide_import_apply", args=[checked.pk]))
    assert response.status_code == 302 and response["Location"] == review
    # No worker runs in this test: do what it does.
    imports.guide_import_apply(guide_import_id=checked.pk)

    progress = client.get(reverse("admin:guides_guide_import_progress", args=[checked.pk]))
    assert progress.json()["percent"] == 100 and progress.json()["state"] == "done"
    page = client.get(review).content.decode()
    assert "Import finished." in page
    assert Guide.objects.get().title in page
    assert Guide.objects.get().slug == "no-mobile-data"


def test_it_tells_of_an_upload_too_big_on_the_form(client, ann, nile, monkeypatch):
    monkeypatch.setattr(imports, "MAX_FILES", 1)
    client.force_login(ann)

    response = client.post(
        reverse("admin:guides_guide_import"),
        {"guide_files": [guide_file("a.yaml"), guide_file("b.yaml")]},
    )

    assert response.status_code == 200
    assert "More than 1 guide files" in response.content.decode()
    assert not GuideImport.objects.exists()


def test_it_refuses_files_far_larger_than_an_upload_may_hold_unread(client, ann, monkeypatch):
    monkeypatch.setattr(imports, "MAX_TOTAL_BYTES", 100)
    client.force_login(ann)

    response = client.post(
        reverse("admin:guides_guide_import"),
        {"guide_files": [SimpleUploadedFile("big.zip", b"PK" + b"\x00" * 300)]},
    )

    assert response.status_code == 200
    assert "The files add up to more than 200 bytes" in response.content.decode()
    assert not GuideImport.objects.exists()


def test_it_asks_for_files_when_none_are_guide_files(client, ann, nile):
    client.force_login(ann)
    empty = io.BytesIO()
    zipfile.ZipFile(empty, "w").writestr("readme.txt", "hello")

    response = client.post(
        reverse("admin:guides_guide_import"),
        {"guide_files": [SimpleUploadedFile("x.zip", empty.getvalue())]},
    )

    assert response.status_code == 200
    assert "No guide files" in response.content.decode()


def test_nobody_sees_or_applies_another_ones_upload(client, ann, sue, nile):
    client.force_login(ann)
    checked = upload(client, guide_file("good.en.yaml"))

    client.force_login(sue)
    for name in ("review", "progress"):
        url = reverse(f"admin:guides_guide_import_{name}", args=[checked.pk])
        assert client.get(url).status_code == 404
    assert client.get(reverse("admin:guides_guide_import")).status_code == 403
    apply_url = reverse("admin:guides_guide_import_apply", args=[checked.pk])
    assert client.post(apply_url).status_code == 403
    client.logout()
    progress = client.get(reverse("admin:guides_guide_import_progress", args=[checked.pk]))
    assert progress.status_code == 302  # to the admin's sign-in
    assert GuideImport.objects.get().state == GuideImport.State.CHECKED


def test_a_second_apply_says_it_was_imported_already(client, ann, nile):
    client.force_login(ann)
    checked = upload(client, guide_file("good.en.yaml"))
    apply_url = reverse("admin:guides_guide_import_apply", args=[checked.pk])
    client.post(apply_url)

    response = client.post(apply_url, follow=True)

    assert "imported already" in response.content.decode()


def test_the_export_action_gives_the_selected_guides_as_a_zip(client, ann, nile):
    chosen, other = GuideFactory(company=nile), GuideFactory(company=nile)
    for guide in (chosen, other):
        StepFactory(guide=guide, position=1)
    client.force_login(ann)

    response = client.post(
        reverse("admin:guides_guide_changelist"),
        {"action": "export_selected_as_zip", helpers.ACTION_CHECKBOX_NAME: [chosen.pk]},
    )

    assert response.status_code == 200
    assert response["Content-Type"] == "application/zip"
    archive = zipfile.ZipFile(io.BytesIO(response.content))
    assert archive.namelist() == [f"nile-telecom--{chosen.slug}.en.yaml"]
    assert f"title: {chosen.title}" in archive.read(archive.namelist()[0]).decode()
