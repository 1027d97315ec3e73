"""Guide versions: editing the steps makes a new version, a step keeps its id while only its
wording changes, and each attempt records the version and the order of steps it was shown.

Persona: Sue (staff) edits Spotify's payment guide in the admin or by importing its file.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path

import pytest
import yaml
from django.core.management import call_command
from django.urls import reverse

from guides import services
from guides.models import Attempt, Guide, GuideVersion, Step
from tests.factories import GuideFactory, StepFactory
from tests.helpers import at_once, skip_unless_row_locks

DEMO = Path("guides/demo_guides/spotify-payment-card.en.yaml")


def versions(guide: Guide) -> list[GuideVersion]:
    return list(GuideVersion.objects.filter(guide=guide).order_by("number"))


def snapshot_ids(version: GuideVersion) -> list[int]:
    return [step["step"] for step in version.steps]


# --- the service -------------------------------------------------------------------------------


def test_the_first_version_is_a_snapshot_of_the_steps(guide_with_steps):
    version = services.guide_version_record(guide=guide_with_steps)

    steps = list(guide_with_steps.steps.order_by("position"))
    assert version.number == 1
    assert version.steps == [
        {"step": s.pk, "position": s.position, "kind": s.kind, "title": s.title, "body": s.body}
        for s in steps
    ]


def test_unchanged_steps_keep_the_version(guide_with_steps, django_assert_num_queries):
    first = services.guide_version_record(guide=guide_with_steps)
    with django_assert_num_queries(2):  # the latest version, the steps
        assert services.guide_version_record(guide=guide_with_steps) == first
    assert len(versions(guide_with_steps)) == 1


@pytest.mark.parametrize(
    "edit",
    [
        pytest.param(lambda step: setattr(step, "title", "Check the expiry date"), id="title"),
        pytest.param(lambda step: setattr(step, "body", "Open **Settings**."), id="body"),
        pytest.param(lambda step: setattr(step, "kind", Step.Kind.ALTERNATIVE), id="kind"),
        pytest.param(lambda step: setattr(step, "position", 9), id="position"),
    ],
)
def test_any_edit_of_a_step_makes_the_next_version(guide_with_steps, edit):
    services.guide_version_record(guide=guide_with_steps)
    step = guide_with_steps.steps.get(position=1)
    edit(step)
    step.save()

    second = services.guide_version_record(guide=guide_with_steps)

    assert [v.number for v in versions(guide_with_steps)] == [1, 2]
    assert second.number == 2
    assert step.pk in snapshot_ids(second)
    edited = next(s for s in second.steps if s["step"] == step.pk)
    assert edited == {
        "step": step.pk,
        "position": step.position,
        "kind": step.kind,
        "title": step.title,
        "body": step.body,
    }


def test_a_guide_edit_that_leaves_the_steps_alone_makes_no_version(guide_with_steps):
    services.guide_version_record(guide=guide_with_steps)
    guide_with_steps.title = "My card is refused"
    guide_with_steps.summary = "Shorter."
    guide_with_steps.save()

    assert services.guide_version_record(guide=guide_with_steps).number == 1


def test_added_and_deleted_steps_make_versions(guide_with_steps):
    services.guide_version_record(guide=guide_with_steps)
    added = StepFactory(guide=guide_with_steps, position=5, kind=Step.Kind.ALTERNATIVE)
    assert added.pk in snapshot_ids(services.guide_version_record(guide=guide_with_steps))
    added.delete()
    third = services.guide_version_record(guide=guide_with_steps)
    assert third.number == 3
    assert added.pk not in snapshot_ids(third)


@pytest.mark.django_db(transaction=True)
def test_customers_starting_at_once_on_an_edited_guide_make_one_version():
    skip_unless_row_locks()
    guide = GuideFactory()
    StepFactory(guide=guide, position=1)
    services.guide_version_record(guide=guide)
    step = StepFactory(guide=guide, position=2)

    errors = at_once(*(partial(services.attempt_start, guide=guide) for _ in range(6)))

    assert not errors, errors
    assert [v.number for v in versions(guide)] == [1, 2]
    newest = versions(guide)[-1]
    assert step.pk in snapshot_ids(newest)
    assert set(Attempt.objects.values_list("guide_version", flat=True)) == {newest.pk}


# --- the admin ---------------------------------------------------------------------------------


def change_form(guide: Guide, rows: list[dict], **fields) -> dict:
    data = {
        "company": guide.company_id,
        "title": guide.title,
        "slug": guide.slug,
        "language": guide.language,
        "status": guide.status,
        "tags": [tag.pk for tag in guide.tags.all()] if guide.pk else [],
        "translation_key": guide.translation_key,
        "summary": guide.summary,
        "steps-TOTAL_FORMS": len(rows),
        "steps-INITIAL_FORMS": sum(1 for row in rows if row.get("id")),
        "steps-MIN_NUM_FORMS": 0,
        "steps-MAX_NUM_FORMS": 1000,
        **fields,
    }
    for index, row in enumerate(rows):
        data.update({f"steps-{index}-{key}": value for key, value in row.items()})
        data[f"steps-{index}-guide"] = guide.pk
    return data


def rows_of(guide: Guide) -> list[dict]:
    return [
        {"id": s.pk, "position": s.position, "kind": s.kind, "title": s.title, "body": s.body}
        for s in guide.steps.order_by("position")
    ]


def save_in_admin(client, guide: Guide, rows: list[dict], **fields) -> None:
    response = client.post(
        reverse("admin:guides_guide_change", args=[guide.pk]), change_form(guide, rows, **fields)
    )
    assert response.status_code == 302, response.content.decode()[:3000]


def test_sue_rewording_a_step_in_the_admin_makes_a_version_with_the_same_ids(
    admin_client, guide_with_steps
):
    services.guide_version_record(guide=guide_with_steps)
    rows = rows_of(guide_with_steps)
    rows[1]["title"] = "Pay with PayPal instead"

    save_in_admin(admin_client, guide_with_steps, rows)

    first, second = versions(guide_with_steps)
    assert snapshot_ids(second) == snapshot_ids(first)
    assert second.steps[1]["title"] == "Pay with PayPal instead"
    assert first.steps[1]["title"] != "Pay with PayPal instead"


def test_sue_saving_the_guide_without_touching_the_steps_makes_no_version(
    admin_client, guide_with_steps
):
    services.guide_version_record(guide=guide_with_steps)
    save_in_admin(admin_client, guide_with_steps, rows_of(guide_with_steps), title="Card refused")
    assert len(versions(guide_with_steps)) == 1


def test_sue_adding_swapping_and_deleting_steps_in_the_admin(admin_client, guide_with_steps):
    services.guide_version_record(guide=guide_with_steps)
    rows = rows_of(guide_with_steps)
    rows[1]["position"], rows[2]["position"] = 3, 2
    rows[3]["DELETE"] = "on"
    rows.append({"position": 6, "kind": "last_resort", "title": "Open a new account", "body": ""})

    save_in_admin(admin_client, guide_with_steps, rows)

    latest = versions(guide_with_steps)[-1]
    assert latest.number == 2
    assert snapshot_ids(latest) == list(
        guide_with_steps.steps.order_by("position").values_list("pk", flat=True)
    )
    assert [s["title"] for s in latest.steps] == [
        "procedure 1",
        "alternative 3",
        "alternative 2",
        "Open a new account",
    ]


def test_a_guide_created_in_the_admin_starts_at_version_one(admin_client, guide_with_steps):
    company = guide_with_steps.company
    data = change_form(
        GuideFactory.build(company=company, slug="new-guide", translation_key="new-guide"),
        [{"position": 1, "kind": "procedure", "title": "Restart the app", "body": ""}],
    )
    data.pop("steps-0-guide")
    response = admin_client.post(reverse("admin:guides_guide_add"), data)
    assert response.status_code == 302, response.content.decode()[:3000]

    guide = Guide.objects.get(slug="new-guide")
    assert [(v.number, [s["title"] for s in v.steps]) for v in versions(guide)] == [
        (1, ["Restart the app"])
    ]


def test_the_guide_page_in_the_admin_lists_its_versions(admin_client, guide_with_steps):
    services.guide_version_record(guide=guide_with_steps)
    services.attempt_start(guide=guide_with_steps)
    StepFactory(guide=guide_with_steps, position=7, title="Ask the community forum")
    services.attempt_start(guide=guide_with_steps)

    page = admin_client.get(reverse("admin:guides_guide_change", args=[guide_with_steps.pk]))

    assert page.status_code == 200
    listed = page.context["adminform"].form.instance
    assert listed == guide_with_steps
    body = page.content.decode()
    assert 'class="guide-versions"' in body
    assert body.count('class="guide-version"') == 2
    assert "Ask the community forum" in body


# --- the import --------------------------------------------------------------------------------


def test_an_import_makes_a_version_only_when_the_steps_change(db, tmp_path):
    call_command("import_guides", str(DEMO), verbosity=0)
    guide = Guide.objects.get(company__slug="spotify", language="en")
    (first,) = versions(guide)
    call_command("import_guides", str(DEMO), verbosity=0)
    assert versions(guide) == [first]

    document = yaml.safe_load(DEMO.read_text())
    document["title"] = "A new question"  # the guide, not its steps
    edited = tmp_path / DEMO.name
    edited.write_text(yaml.safe_dump(document, allow_unicode=True))
    call_command("import_guides", str(edited), verbosity=0)
    assert versions(guide) == [first]

    document["steps"][1]["body"] = "Reworded: pay with PayPal."
    edited.write_text(yaml.safe_dump(document, allow_unicode=True))
    call_command("import_guides", str(edited), verbosity=0)

    first, second = versions(guide)
    assert snapshot_ids(second) == snapshot_ids(first)  # a wording edit keeps the ids
    assert second.steps[1]["body"] == "Reworded: pay with PayPal."


# --- attempts ----------------------------------------------------------------------------------


def test_an_attempt_records_the_version_and_the_order_it_is_shown(guide_with_steps):
    attempt, _token = services.attempt_start(guide=guide_with_steps)

    version = GuideVersion.objects.get(guide=guide_with_steps)
    procedure, alt_2, alt_3, last = guide_with_steps.steps.order_by("position")
    attempt.refresh_from_db()
    assert attempt.guide_version == version
    assert attempt.step_order[0] == procedure.pk
    assert sorted(attempt.step_order[1:3]) == sorted([alt_2.pk, alt_3.pk])
    assert attempt.step_order[3] == last.pk


def test_an_attempt_after_an_edit_records_the_new_version(guide_with_steps):
    before, _ = services.attempt_start(guide=guide_with_steps)
    step = guide_with_steps.steps.get(position=2)
    step.title = "Pay with PayPal"
    step.save()

    after, _ = services.attempt_start(guide=guide_with_steps)

    assert (before.guide_version.number, after.guide_version.number) == (1, 2)
    assert after.step_order == before.step_order or sorted(after.step_order) == sorted(
        before.step_order
    )


def test_a_contact_form_request_has_no_version(db):
    attempt, _ = services.attempt_start_without_guide(language="ar")
    assert (attempt.guide_version, attempt.step_order) == (None, [])
