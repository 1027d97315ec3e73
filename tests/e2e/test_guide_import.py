"""An author imports a zip of guides in a real browser, with a real worker: the dry run shows
the bad file's error with its field, applying imports the others while the progress bar climbs
to 100 %, and the guides are in the list. The import pages pass axe-core in both languages."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest
import yaml
from playwright.sync_api import expect

from guides.models import Guide
from tests.e2e.page_checks import axe_serious_violations, watch_console
from tests.factories import CompanyFactory, staff_user
from tests.processes import (
    configured_broker_env,
    process_env,
    running,
    test_database_url,
    worker_args,
)
from tickets import roles

pytestmark = [pytest.mark.e2e, pytest.mark.worker, pytest.mark.django_db(transaction=True)]

PASSWORD = "correct horse battery staple"
SHOTS = Path("var/test/screenshots")


def guide(slug: str, title: str, language: str = "en", **changes) -> str:
    data = {
        "company": {"slug": "nile-telecom", "name": "Nile Telecom"},
        "slug": slug,
        "language": language,
        "translation_key": slug,
        "status": "published",
        "title": title,
        "steps": [
            {"kind": "procedure", "title": "Restart the phone"},
            {"kind": "last_resort", "title": "Visit a shop"},
        ],
        **changes,
    }
    return yaml.safe_dump(data, allow_unicode=True, sort_keys=False)


def axe_clean(page, label: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{label}.png"), full_page=True)
    assert axe_serious_violations(page) == [], label


def in_language(page, url: str, language: str) -> None:
    page.context.add_cookies([{"name": "django_language", "value": language, "url": url}])
    page.reload()
    page.wait_for_load_state()


def test_an_author_imports_a_zip_with_one_bad_file(page, live_server, tmp_path: Path):
    nile = CompanyFactory(slug="nile-telecom", name="Nile Telecom", website="")
    nadia = staff_user("nadia", roles.AUTHOR)
    nadia.set_password(PASSWORD)
    nadia.save(update_fields=["password"])
    nile.authors.add(nadia)
    upload = tmp_path / "nile-guides.zip"
    with zipfile.ZipFile(upload, "w") as archive:
        archive.writestr("guides/roaming.en.yaml", guide("roaming", "No service abroad"))
        archive.writestr("guides/sim.ar.yaml", guide("sim", "الشريحة الجديدة لا تعمل", "ar"))
        archive.writestr("guides/broken.en.yaml", guide("broken", "Broken", status="live"))
    page.set_viewport_size({"width": 1366, "height": 900})

    page.goto(f"{live_server.url}/admin/")
    page.get_by_label("Username").fill("nadia")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_load_state()
    problems = watch_console(page)  # from here: the sign-in page's missing favicon is not ours
    page.goto(f"{live_server.url}/admin/guides/guide/")
    page.get_by_role("link", name="Import guides").click()
    page.wait_for_load_state()
    axe_clean(page, "guide-import-upload-en")
    in_language(page, live_server.url, "ar")
    expect(page.locator("html")).to_have_attribute("dir", "rtl")
    axe_clean(page, "guide-import-upload-ar")
    in_language(page, live_server.url, "en")

    page.get_by_label("Guide files").set_input_files(str(upload))
    page.get_by_role("button", name="Check the files").click()
    page.wait_for_load_state()

    rows = page.locator("#import-files tbody tr")
    expect(rows).to_have_count(3)
    bad = rows.filter(has_text="broken.en.yaml")
    expect(bad.locator(".import-outcome")).to_have_text("failed")
    expect(bad.locator(".import-errors")).to_contain_text("status: unknown status 'live'")
    expect(rows.filter(has_text="roaming.en.yaml").locator(".import-outcome")).to_have_text(
        "created"
    )
    assert not Guide.objects.exists()
    axe_clean(page, "guide-import-dry-run-en")
    in_language(page, live_server.url, "ar")
    expect(page.locator(".import-counts")).to_contain_text("فشل")
    axe_clean(page, "guide-import-dry-run-ar")
    in_language(page, live_server.url, "en")

    env = process_env(
        tmp_path, DATABASE_URL=test_database_url(), EMAIL_URL="console://",
        **configured_broker_env(),
    )  # fmt: skip
    with running(worker_args(), env, tmp_path / "worker.log"):
        page.get_by_role("button", name="Import the files without errors").click()
        page.wait_for_load_state()
        # The script polls the progress and reloads the page once every file is done.
        expect(page.locator(".import-progress-text")).to_contain_text(
            "Import finished.", timeout=60_000
        )

    expect(page.locator(".import-progress-bar")).to_have_attribute("value", "100")
    expect(page.locator(".import-progress-percent")).to_have_text("100")
    expect(page.locator(".import-counts")).to_contain_text("2 created")
    expect(page.locator(".import-counts")).to_contain_text("1 failed")
    axe_clean(page, "guide-import-done-en")
    in_language(page, live_server.url, "ar")
    axe_clean(page, "guide-import-done-ar")
    in_language(page, live_server.url, "en")

    page.get_by_role("link", name="Back to the guides").click()
    page.wait_for_load_state()
    listed = page.locator("#result_list")
    expect(listed).to_contain_text("No service abroad")
    expect(listed).to_contain_text("الشريحة الجديدة لا تعمل")
    expect(listed).not_to_contain_text("Broken")
    assert sorted(Guide.objects.values_list("slug", flat=True)) == ["roaming", "sim"]
    assert problems == []
