from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml
from django.core.management import CommandError, call_command

from guides.guide_format import GuideFileError, parse_guide_text
from guides.models import Company, Guide, Step

VALID = {
    "company": {
        "slug": "nile-telecom",
        "name": "Nile Telecom",
        "website": "https://nile-telecom.example/",
        "support": {"phone": "+20 555 0100", "email": "care@nile-telecom.example"},
    },
    "slug": "no-mobile-data",
    "language": "en",
    "translation_key": "no-mobile-data",
    "status": "published",
    "title": "Mobile data stopped working",
    "summary": "Data can stop after a SIM swap.\n\nTry these in order.",
    "tags": ["data", "SIM"],
    "steps": [
        {"position": 1, "kind": "procedure", "title": "Check the APN", "body": "1. Open settings"},
        {"position": 2, "kind": "alternative", "title": "Restart the phone", "body": "Hold power."},
        {"position": 3, "kind": "last_resort", "title": "Swap the SIM", "body": "Visit a shop."},
    ],
}


def valid_data() -> dict:
    return copy.deepcopy(VALID)


def write(folder: Path, name: str, data: dict | str) -> Path:
    path = folder / name
    text = data if isinstance(data, str) else yaml.safe_dump(data, allow_unicode=True)
    path.write_text(text, encoding="utf-8")
    return path


def errors_of(data: dict | str) -> list[str]:
    text = data if isinstance(data, str) else yaml.safe_dump(data, allow_unicode=True)
    with pytest.raises(GuideFileError) as excinfo:
        parse_guide_text(text)
    return [str(error) for error in excinfo.value.errors]


def import_files(*paths: Path, verbosity: int = 1) -> None:
    call_command("import_guides", *[str(p) for p in paths], verbosity=verbosity)


# --- validation: every error names its field ------------------------------------------------


def test_it_accepts_the_valid_document():
    document = parse_guide_text(yaml.safe_dump(VALID))
    assert document.tags == ("data", "sim")
    assert [step.position for step in document.steps] == [1, 2, 3]


@pytest.mark.parametrize(
    ("field", "expected"),
    [
        ("title", "title: this field is required"),
        ("slug", "slug: this field is required"),
        ("language", "language: this field is required"),
        ("translation_key", "translation_key: this field is required"),
        ("steps", "steps: this field is required"),
        ("company", "company: this field is required"),
    ],
)
def test_it_reports_a_missing_top_level_field(field, expected):
    data = valid_data()
    del data[field]
    assert expected in errors_of(data)


def test_it_reports_missing_company_and_step_fields():
    data = valid_data()
    del data["company"]["name"]
    del data["steps"][1]["title"]
    errors = errors_of(data)
    assert "company.name: this field is required" in errors
    assert "steps[1].title: this field is required" in errors


def test_it_reports_an_unknown_step_kind():
    data = valid_data()
    data["steps"][1]["kind"] = "workaround"
    assert errors_of(data) == [
        "steps[1].kind: unknown step kind 'workaround' (known: procedure, alternative, last_resort)"
    ]


def test_it_reports_a_duplicate_position():
    data = valid_data()
    data["steps"][2]["position"] = 1
    assert errors_of(data) == ["steps[2].position: duplicate position 1 (also used by steps[0])"]


def test_it_reports_an_unknown_language():
    data = valid_data()
    data["language"] = "fr"
    assert errors_of(data) == ["language: unknown language 'fr' (known: ar, en)"]


def test_it_reports_malformed_yaml_with_its_line():
    errors = errors_of("title: [unclosed\nslug: x\n")
    assert len(errors) == 1
    assert errors[0].startswith("(yaml): line 2, column")
    assert "malformed YAML" in errors[0]


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (lambda d: d.update(title=42), "title: must be text, not a number (quote it in YAML)"),
        (lambda d: d.update(tags="data"), "tags: must be a list, not text"),
        (lambda d: d.update(steps={"a": 1}), "steps: must be a list, not a mapping"),
        (lambda d: d.update(company="Nile"), "company: must be a mapping, not text"),
        (
            lambda d: d["steps"][0].update(position="one"),
            "steps[0].position: must be a whole number, not text",
        ),
        (
            lambda d: d["steps"][0].update(position=True),
            "steps[0].position: must be a whole number, not a boolean",
        ),
        (lambda d: d["steps"].__setitem__(0, "Check"), "steps[0]: must be a mapping, not text"),
        (lambda d: d.update(status=True), "status: must be text, not a boolean (quote it in YAML)"),
    ],
)
def test_it_reports_wrong_types(mutate, expected):
    data = valid_data()
    mutate(data)
    assert expected in errors_of(data)


def test_it_reports_every_problem_of_a_file_at_once():
    data = valid_data()
    data["language"] = "xx"
    data["slug"] = "Not A Slug"
    data["steps"][0]["kind"] = "nope"
    data["titel"] = "typo"
    errors = errors_of(data)
    assert len(errors) == 4
    assert "titel: unknown field" in errors


def test_it_rejects_a_last_resort_before_an_alternative():
    data = valid_data()
    data["steps"][1]["kind"] = "last_resort"
    data["steps"][2]["kind"] = "alternative"
    assert errors_of(data) == [
        "steps[2].kind: a last_resort step must come after every procedure and alternative step"
    ]


def test_it_rejects_bad_company_contacts_and_positions_out_of_range():
    data = valid_data()
    data["company"]["support"]["email"] = "not-an-email"
    data["company"]["website"] = "javascript:alert(1)"
    data["steps"][0]["position"] = 501
    errors = errors_of(data)
    assert "company.support.email: 'not-an-email' is not an e-mail address" in errors
    assert "company.website: 'javascript:alert(1)' is not an http(s) URL" in errors
    assert "steps[0].position: must be between 1 and 500" in errors


# --- the command ----------------------------------------------------------------------------


def test_it_imports_a_guide_with_its_company_tags_and_steps(db, tmp_path):
    import_files(write(tmp_path, "guide.yaml", valid_data()))

    guide = Guide.objects.get(slug="no-mobile-data", language="en")
    assert guide.company.name == "Nile Telecom"
    assert guide.company.support_email == "care@nile-telecom.example"
    assert guide.status == Guide.Status.PUBLISHED
    assert sorted(guide.tags.values_list("slug", flat=True)) == ["data", "sim"]
    assert list(guide.steps.values_list("position", "kind", "title")) == [
        (1, "procedure", "Check the APN"),
        (2, "alternative", "Restart the phone"),
        (3, "last_resort", "Swap the SIM"),
    ]


def test_it_reimports_without_duplicating_and_reports_unchanged(db, tmp_path, capsys):
    path = write(tmp_path, "guide.yaml", valid_data())
    import_files(path)
    step_ids = list(Step.objects.order_by("position").values_list("pk", flat=True))
    updated_at = Guide.objects.get().updated_at

    import_files(path, verbosity=2)

    assert Guide.objects.count() == 1
    assert Company.objects.count() == 1
    assert list(Step.objects.order_by("position").values_list("pk", flat=True)) == step_ids
    assert Guide.objects.get().updated_at == updated_at
    assert "guide.yaml: unchanged" in capsys.readouterr().out


def test_it_updates_in_place_and_keeps_the_ids_of_unchanged_steps(db, tmp_path):
    path = write(tmp_path, "guide.yaml", valid_data())
    import_files(path)
    ids = dict(Step.objects.values_list("title", "pk"))
    guide_id = Guide.objects.get().pk

    data = valid_data()
    data["title"] = "Mobile data does not work"
    # A new step goes in second place, the restart step moves down and is reworded,
    # and the SIM swap disappears.
    data["steps"] = [
        data["steps"][0],
        {"position": 2, "kind": "alternative", "title": "Toggle airplane mode", "body": ""},
        {"position": 3, "kind": "alternative", "title": "Restart the phone", "body": "Longer."},
        {"position": 4, "kind": "last_resort", "title": "Factory reset", "body": "Back up."},
    ]
    write(tmp_path, "guide.yaml", data)
    import_files(path)

    guide = Guide.objects.get()
    assert guide.pk == guide_id
    assert guide.title == "Mobile data does not work"
    steps = {step.title: step for step in guide.steps.all()}
    assert [s.title for s in guide.steps.order_by("position")] == [
        "Check the APN",
        "Toggle airplane mode",
        "Restart the phone",
        "Factory reset",
    ]
    assert steps["Check the APN"].pk == ids["Check the APN"]
    assert steps["Restart the phone"].pk == ids["Restart the phone"]
    assert steps["Restart the phone"].body == "Longer."
    # The step that left the file is deleted; the two new ones are new rows.
    assert not Step.objects.filter(pk=ids["Swap the SIM"]).exists()
    assert steps["Toggle airplane mode"].pk not in ids.values()
    assert Step.objects.count() == 4


def test_it_swaps_step_positions_without_breaking_uniqueness(db, tmp_path):
    path = write(tmp_path, "guide.yaml", valid_data())
    import_files(path)
    ids = dict(Step.objects.values_list("title", "pk"))
    data = valid_data()
    data["steps"][0]["position"], data["steps"][1]["position"] = 2, 1
    data["steps"][0]["kind"] = "alternative"
    data["steps"][1]["kind"] = "procedure"
    write(tmp_path, "guide.yaml", data)

    import_files(path)

    assert list(Step.objects.order_by("position").values_list("title", "pk")) == [
        ("Restart the phone", ids["Restart the phone"]),
        ("Check the APN", ids["Check the APN"]),
        ("Swap the SIM", ids["Swap the SIM"]),
    ]


def test_a_bad_file_imports_nothing_and_the_others_still_import(db, tmp_path, capsys):
    good = write(tmp_path, "a-good.yaml", valid_data())
    bad_data = valid_data()
    bad_data["slug"] = "other-guide"
    bad_data["translation_key"] = "other-guide"
    bad_data["steps"][2]["kind"] = "nonsense"
    bad = write(tmp_path, "b-bad.yaml", bad_data)

    with pytest.raises(
        CommandError, match="2 guide files: 1 created, 0 updated, 0 unchanged, 1 failed"
    ):
        import_files(tmp_path)

    assert list(Guide.objects.values_list("slug", flat=True)) == ["no-mobile-data"]
    err = capsys.readouterr().err
    assert f"{bad}: steps[2].kind: unknown step kind 'nonsense'" in err
    assert str(good) not in err


def test_a_file_failing_in_the_database_leaves_nothing_behind(db, tmp_path, capsys):
    import_files(write(tmp_path, "first.yaml", valid_data()))
    clash = valid_data()
    clash["slug"] = "another-slug"  # same translation key and language as the first guide
    clash["company"]["name"] = "Renamed Telecom"
    path = write(tmp_path, "clash.yaml", clash)

    with pytest.raises(CommandError):
        import_files(path)

    assert "translation_key: 'no-mobile-data' already has a 'en' version" in capsys.readouterr().err
    # The company rename happened inside the failed file's transaction: rolled back.
    assert Company.objects.get().name == "Nile Telecom"
    assert Guide.objects.count() == 1


def test_it_reports_a_path_that_does_not_exist(db, tmp_path):
    with pytest.raises(CommandError, match="no-such-folder: no such file or folder"):
        import_files(tmp_path / "no-such-folder")


def test_it_reports_a_file_that_is_not_utf8(db, tmp_path, capsys):
    path = tmp_path / "latin1.yaml"
    path.write_bytes("title: caf\xe9".encode("latin-1"))
    with pytest.raises(CommandError):
        import_files(path)
    assert f"{path}: (file): cannot be read" in capsys.readouterr().err


def test_it_shows_progress_on_large_imports(db, tmp_path, capsys):
    for number in range(60):
        data = valid_data()
        data["slug"] = data["translation_key"] = f"guide-{number:02d}"
        write(tmp_path, f"guide-{number:02d}.yaml", data)

    import_files(tmp_path)

    out = capsys.readouterr().out
    assert "[6/60] files processed" in out
    assert "[60/60] files processed" in out
    assert "60 guide files: 60 created" in out
    assert Guide.objects.count() == 60


def test_the_demo_guides_import_cleanly_and_re_import_unchanged(db, capsys):
    call_command("import_guides", str(Path("guides/demo_guides")))
    count = Guide.objects.count()
    call_command("import_guides", str(Path("guides/demo_guides")))
    expected = f"{count} guide files: 0 created, 0 updated, {count} unchanged, 0 failed"
    assert expected in capsys.readouterr().out

    spotify = Guide.objects.filter(company__slug="spotify", translation_key="spotify-payment-card")
    assert set(spotify.values_list("language", flat=True)) == {"ar", "en"}
    assert Guide.objects.filter(language="ar").exclude(company__slug="spotify").count() >= 2
    assert Guide.objects.exclude(company__slug="spotify").count() >= 5
    for guide in spotify:
        kinds = list(guide.steps.values_list("kind", flat=True))
        assert kinds[0] == "procedure"
        assert kinds[-1] == "last_resort"
        assert kinds.count("alternative") == 4
