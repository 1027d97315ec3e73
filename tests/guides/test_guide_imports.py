"""Guide files imported through guides.imports, the path of the admin (and, file by file, of
the command line): a dry run that writes nothing, an apply that imports each good file once,
the limits of an upload and who may import into which company.

Ann writes Nile Telecom's guides; Cedar Bank is someone else's; Root administers everything."""

from __future__ import annotations

import copy
import io
import zipfile
from datetime import timedelta

import pytest
import yaml

from guides import imports
from guides.imports import GuideFileUpload, GuideImportError, guide_files_read
from guides.models import Company, Guide, GuideImport, GuideImportFile
from guides.selectors import guides_for_export
from tests.factories import CompanyFactory, GuideFactory, StepFactory, UserFactory

VALID = {
    "company": {"slug": "nile-telecom", "name": "Nile Telecom"},
    "slug": "no-mobile-data",
    "language": "en",
    "translation_key": "no-mobile-data",
    "status": "published",
    "title": "Mobile data stopped working",
    "summary": "Data can stop after a SIM swap.",
    "tags": ["data"],
    "steps": [
        {"position": 1, "kind": "procedure", "title": "Check the APN", "body": "Open settings."},
        {"position": 2, "kind": "last_resort", "title": "Swap the SIM", "body": "Visit a shop."},
    ],
}


def guide_text(**changes) -> bytes:
    data = copy.deepcopy(VALID)
    data.update(changes)
    return yaml.safe_dump(data, allow_unicode=True).encode()


def zip_of(entries: dict[str, bytes]) -> io.BytesIO:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    buffer.seek(0)
    return buffer


@pytest.fixture
def nile(ann) -> Company:
    company = CompanyFactory(slug="nile-telecom", name="Nile Telecom", website="")
    company.authors.add(ann)
    return company


@pytest.fixture
def root(db):
    return UserFactory(username="root", is_staff=True, is_superuser=True)


def check(user, files: dict[str, bytes]) -> GuideImport:
    uploads = guide_files_read((name, io.BytesIO(data)) for name, data in files.items())
    return imports.guide_import_check(user=user, files=uploads)


def apply(user, checked: GuideImport) -> GuideImport:
    imports.guide_import_apply_start(guide_import=checked, user=user)
    applied = imports.guide_import_apply(guide_import_id=checked.pk)
    assert applied is not None
    return applied


def outcomes(guide_import: GuideImport, *, checked: bool = False) -> dict[str, str]:
    name = "checked_outcome" if checked else "outcome"
    return dict(guide_import.files.values_list("name", name))


def test_it_shows_what_each_file_would_do_and_writes_nothing(ann, nile):
    kept_guide = GuideFactory(company=nile, slug="kept", translation_key="kept", title="Kept")
    StepFactory(guide=kept_guide, position=1, title="Restart the phone")
    existing = imports.guide_file_import(data=guide_text(slug="old", translation_key="old"))
    assert existing.outcome == "created"
    kept = imports.guides_export_zip(guides_for_export().filter(slug="kept"))
    guides_before = set(Guide.objects.values_list("pk", "title", "updated_at"))

    checked = check(
        ann,
        {
            "new.en.yaml": guide_text(),
            "old.en.yaml": guide_text(slug="old", translation_key="old", title="Reworded"),
            "broken.yaml": guide_text(steps=[{"kind": "procedure"}]),
            "kept.zip": kept,
        },
    )

    assert outcomes(checked, checked=True) == {
        "new.en.yaml": "created",
        "old.en.yaml": "updated",
        "broken.yaml": "failed",
        "kept.zip: nile-telecom--kept.en.yaml": "unchanged",
    }
    assert set(Guide.objects.values_list("pk", "title", "updated_at")) == guides_before
    broken = checked.files.get(name="broken.yaml")
    assert broken.errors == [{"field": "steps[0].title", "message": "this field is required"}]
    assert checked.state == GuideImport.State.CHECKED
    assert imports.guide_import_progress(checked)["counts"] == {
        "created": 1, "updated": 1, "unchanged": 1, "failed": 1
    }  # fmt: skip


def test_it_imports_the_good_files_and_skips_the_bad_ones(ann, nile):
    checked = check(
        ann,
        {
            "first.en.yaml": guide_text(),
            "bad.en.yaml": guide_text(language="fr"),
            "second.en.yaml": guide_text(slug="second", translation_key="second"),
        },
    )

    applied = apply(ann, checked)

    assert applied.state == GuideImport.State.DONE
    assert applied.finished_at is not None
    assert outcomes(applied) == {
        "first.en.yaml": "created",
        "bad.en.yaml": "failed",
        "second.en.yaml": "created",
    }
    assert set(Guide.objects.values_list("slug", flat=True)) == {"no-mobile-data", "second"}
    assert applied.files.get(name="first.en.yaml").guide.slug == "no-mobile-data"
    assert imports.guide_import_progress(applied) == {
        "state": "done",
        "done": 3,
        "total": 3,
        "percent": 100,
        "counts": {"created": 2, "updated": 0, "unchanged": 0, "failed": 1},
    }


def test_it_imports_each_file_once_when_the_task_runs_again(ann, nile):
    checked = check(ann, {"first.en.yaml": guide_text()})
    applied = apply(ann, checked)
    guide = Guide.objects.get()
    version_count = guide.versions.count()

    again = imports.guide_import_apply(guide_import_id=applied.pk)

    assert again is not None and again.state == GuideImport.State.DONE
    assert outcomes(again) == {"first.en.yaml": "created"}  # not "unchanged": not run again
    assert Guide.objects.get().versions.count() == version_count


def test_it_resumes_a_run_that_stopped_halfway(ann, nile):
    checked = check(
        ann,
        {
            "first.en.yaml": guide_text(),
            "second.en.yaml": guide_text(slug="b", translation_key="b"),
        },
    )
    imports.guide_import_apply_start(guide_import=checked, user=ann)
    # The worker died after the first file: its outcome is written, the second's is not.
    first = checked.files.get(number=1)
    done = imports.guide_file_import(text=first.text, user=ann)
    GuideImportFile.objects.filter(pk=first.pk).update(outcome=done.outcome)

    resumed = imports.guide_import_apply(guide_import_id=checked.pk)

    assert resumed is not None and resumed.state == GuideImport.State.DONE
    assert outcomes(resumed) == {"first.en.yaml": "created", "second.en.yaml": "created"}
    assert Guide.objects.count() == 2


def test_it_applies_an_upload_once_and_only_for_whoever_checked_it(ann, nile, root):
    checked = check(ann, {"first.en.yaml": guide_text()})

    with pytest.raises(GuideImportError):
        imports.guide_import_apply_start(guide_import=checked, user=root)
    apply(ann, checked)
    with pytest.raises(GuideImportError) as refused:
        imports.guide_import_apply_start(guide_import=checked, user=ann)
    assert refused.value.status == 409
    assert imports.guide_import_for(user=root, guide_import_id=checked.pk) is None


def test_it_does_not_apply_a_check_older_than_a_day(ann, nile):
    checked = check(ann, {"first.en.yaml": guide_text()})
    GuideImport.objects.filter(pk=checked.pk).update(
        created_at=checked.created_at - imports.CHECK_VALID_FOR
    )

    with pytest.raises(GuideImportError):
        imports.guide_import_apply_start(guide_import=checked, user=ann)
    assert not Guide.objects.exists()


def test_a_new_upload_clears_away_the_uploads_older_than_a_week(ann, nile):
    old = check(ann, {"first.en.yaml": guide_text()})
    recent = check(ann, {"first.en.yaml": guide_text()})
    GuideImport.objects.filter(pk=old.pk).update(
        created_at=old.created_at - imports.KEPT_FOR - timedelta(minutes=1)
    )

    newest = check(ann, {"first.en.yaml": guide_text()})

    assert set(GuideImport.objects.values_list("pk", flat=True)) == {recent.pk, newest.pk}
    assert not GuideImportFile.objects.filter(guide_import_id=old.pk).exists()


# --- who may import into which company -----------------------------------------------------


def test_an_author_imports_only_into_the_companies_they_write_for(ann, nile):
    CompanyFactory(slug="cedar-bank", name="Cedar Bank")
    cedar = {"slug": "cedar-bank", "name": "Cedar Bank", "website": "https://company.example/"}

    applied = apply(
        ann,
        check(
            ann,
            {
                "nile.en.yaml": guide_text(),
                "cedar.en.yaml": guide_text(company=cedar),
                "new.en.yaml": guide_text(company={"slug": "new-co", "name": "New Co"}),
                "renamed.en.yaml": guide_text(
                    slug="x", translation_key="x", company={"slug": "nile-telecom", "name": "Nile"}
                ),
            },
        ),
    )

    assert outcomes(applied) == {
        "nile.en.yaml": "created",
        "cedar.en.yaml": "failed",
        "new.en.yaml": "failed",
        "renamed.en.yaml": "failed",
    }
    fields = {file.name: file.errors[0]["field"] for file in applied.files.exclude(errors=[])}
    assert fields == {
        "cedar.en.yaml": "company.slug",
        "new.en.yaml": "company.slug",
        "renamed.en.yaml": "company.name",
    }
    assert list(Guide.objects.values_list("company__slug", flat=True)) == ["nile-telecom"]
    assert not Company.objects.filter(slug="new-co").exists()
    assert Company.objects.get(slug="nile-telecom").name == "Nile Telecom"


def test_staff_without_the_right_to_add_guides_import_nothing(nile):
    clerk = UserFactory(username="clerk", is_staff=True)
    nile.authors.add(clerk)

    checked = check(clerk, {"nile.en.yaml": guide_text()})

    assert outcomes(checked, checked=True) == {"nile.en.yaml": "failed"}


def test_an_administrator_creates_companies_and_changes_their_details(root, nile):
    applied = apply(
        root,
        check(
            root,
            {
                "new.en.yaml": guide_text(company={"slug": "new-co", "name": "New Co"}),
                "renamed.en.yaml": guide_text(company={"slug": "nile-telecom", "name": "Nile"}),
            },
        ),
    )

    assert outcomes(applied) == {"new.en.yaml": "created", "renamed.en.yaml": "created"}
    assert Company.objects.get(slug="nile-telecom").name == "Nile"


# --- reading an upload: zips, limits, encodings ----------------------------------------------


def test_it_reads_the_guide_files_of_a_zip_by_their_names_alone(ann, nile):
    upload = zip_of(
        {
            "../../etc/evil.en.yaml": guide_text(),
            "folder/sub/second.YML": guide_text(slug="b", translation_key="b"),
            "notes.txt": b"not a guide",
            "__MACOSX/folder/._second.YML": b"\x00\x05\x16\x07",
            ".hidden.yaml": b"x",
            "folder/": b"",
        }
    )

    files = guide_files_read([("guides.zip", upload)])

    assert [file.name for file in files] == ["guides.zip: evil.en.yaml", "guides.zip: second.YML"]
    applied = apply(ann, imports.guide_import_check(user=ann, files=files))
    assert outcomes(applied) == {
        "guides.zip: evil.en.yaml": "created",
        "guides.zip: second.YML": "created",
    }


def test_it_reports_a_file_in_another_encoding_and_a_broken_zip_file_by_file(ann, nile):
    latin1 = guide_text(title="Données mobiles").decode().encode("latin-1")

    checked = check(
        ann, {"latin1.en.yaml": latin1, "broken.zip": b"PK\x03\x04 not really", "a.txt": b"hello"}
    )

    errors = {file.name: file.errors for file in checked.files.all()}
    assert errors["latin1.en.yaml"][0]["field"] == "(file)"
    assert "cannot be read: 'utf-8' codec can't decode" in errors["latin1.en.yaml"][0]["message"]
    assert errors["broken.zip"] == [{"field": "(file)", "message": "is not a readable zip file"}]
    assert errors["a.txt"][0]["field"] == "(file)"
    assert set(outcomes(checked, checked=True).values()) == {"failed"}


def test_it_stops_reading_a_zip_bomb_at_the_limit_of_one_file(ann, nile):
    # 5 MB of zeros, a few kilobytes zipped: read no further than the limit says.
    bomb = zip_of({"bomb.en.yaml": b"\x00" * 5_000_000, "good.en.yaml": guide_text()})

    files = guide_files_read([("bomb.zip", bomb)])

    assert files[0].data is None and files[0].error is not None
    assert files[0].error.field == "(file)"
    assert files[1] == GuideFileUpload("bomb.zip: good.en.yaml", guide_text())


def test_it_refuses_an_upload_above_the_total_size_or_file_count(monkeypatch):
    monkeypatch.setattr(imports, "MAX_TOTAL_BYTES", 2 * len(guide_text()))
    with pytest.raises(GuideImportError):
        guide_files_read([("many.zip", zip_of({f"g{n}.yaml": guide_text() for n in range(3)}))])

    monkeypatch.setattr(imports, "MAX_FILES", 2)
    with pytest.raises(GuideImportError):
        guide_files_read([("many.zip", zip_of({f"g{n}.yaml": b"x" for n in range(3)}))])
    with pytest.raises(GuideImportError):
        guide_files_read([(f"g{n}.yaml", io.BytesIO(b"x")) for n in range(3)])


# --- export ------------------------------------------------------------------------------------


def test_an_export_dry_runs_back_as_all_unchanged(ann, nile):
    for number in range(3):
        guide = GuideFactory(company=nile, tags=["data", "sim"], status=Guide.Status.DRAFT)
        StepFactory(guide=guide, position=1, title=f"Restart {number}", body="Hold the button.")
    arabic = GuideFactory(company=nile, language="ar", title="البيانات لا تعمل")
    StepFactory(
        guide=arabic, position=1, title="أعد تشغيل الهاتف", body="اضغط **الزر**.\n\nثم انتظر."
    )

    exported = imports.guides_export_zip(guides_for_export())
    checked = check(ann, {"guides.zip": exported})

    assert list(outcomes(checked, checked=True).values()) == ["unchanged"] * 4
    names = zipfile.ZipFile(io.BytesIO(exported)).namelist()
    assert all(name.startswith("nile-telecom--") and name.endswith(".yaml") for name in names)
