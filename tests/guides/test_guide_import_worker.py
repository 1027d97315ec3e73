"""An applied import is the worker's: Ann uploads 30 guide files (one bad), applies them, and a
real worker process (on this run's broker and database) imports the 29 others, recording each
file's outcome; the progress Ann's page polls climbs to 100 % and says done."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from guides.models import Guide, GuideImport
from tests.factories import CompanyFactory
from tests.processes import (
    configured_broker_env,
    process_env,
    running,
    test_database_url,
    wait_for,
    worker_args,
)

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def guide_file(number: int) -> SimpleUploadedFile:
    data = {
        "company": {"slug": "nile-telecom", "name": "Nile Telecom"},
        "slug": f"guide-{number}",
        "language": "en",
        "translation_key": f"guide-{number}",
        "status": "published",
        "title": f"Question number {number}",
        "steps": [{"kind": "procedure", "title": "Restart the phone"}],
    }
    if number == 7:
        data["steps"] = [{"kind": "someday", "title": "Wait"}]
    return SimpleUploadedFile(f"guide-{number}.en.yaml", yaml.safe_dump(data).encode())


def test_the_worker_applies_an_import_and_its_progress_reaches_100(client, ann, tmp_path: Path):
    CompanyFactory(slug="nile-telecom", name="Nile Telecom", website="").authors.add(ann)
    client.force_login(ann)
    files = [guide_file(number) for number in range(30)]
    client.post(reverse("admin:guides_guide_import"), {"guide_files": files})
    checked = GuideImport.objects.get()
    progress_url = reverse("admin:guides_guide_import_progress", args=[checked.pk])
    assert client.get(progress_url).json()["counts"]["failed"] == 1
    env = process_env(
        tmp_path, DATABASE_URL=test_database_url(), EMAIL_URL="console://",
        **configured_broker_env(),
    )  # fmt: skip
    log = tmp_path / "worker.log"

    with running(worker_args(), env, log):
        client.post(reverse("admin:guides_guide_import_apply", args=[checked.pk]))
        seen = wait_for(
            lambda: (p := client.get(progress_url).json())["state"] == "done" and p,
            timeout=90, what="the import done", log=log,
        )  # fmt: skip

    assert "guides.tasks.apply_guide_import" in log.read_text()  # the worker's, not the page's
    assert seen["done"] == seen["total"] == 30 and seen["percent"] == 100
    assert seen["counts"] == {"created": 29, "updated": 0, "unchanged": 0, "failed": 1}
    assert Guide.objects.count() == 29
    assert not Guide.objects.filter(slug="guide-7").exists()
    failed = checked.files.get(name="guide-7.en.yaml")
    assert failed.outcome == "failed" and failed.errors[0]["field"] == "steps[0].kind"
