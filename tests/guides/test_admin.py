from __future__ import annotations

from django.urls import reverse

from guides.models import Guide, Step
from tests.factories import GuideFactory


def change_form_data(guide: Guide, steps: list[dict]) -> dict:
    """The POST body of the guide change form with its step inline."""
    data = {
        "company": guide.company_id,
        "title": guide.title,
        "slug": guide.slug,
        "language": guide.language,
        "status": guide.status,
        "tags": [tag.pk for tag in guide.tags.all()],
        "translation_key": guide.translation_key,
        "summary": guide.summary,
        "steps-TOTAL_FORMS": len(steps),
        "steps-INITIAL_FORMS": sum(1 for step in steps if step.get("id")),
        "steps-MIN_NUM_FORMS": 0,
        "steps-MAX_NUM_FORMS": 1000,
    }
    for index, step in enumerate(steps):
        for key, value in step.items():
            data[f"steps-{index}-{key}"] = value
        data[f"steps-{index}-guide"] = guide.pk
    return data


def test_an_author_swaps_two_steps_in_the_inline(admin_client, guide_with_steps):
    guide = guide_with_steps
    first, second, third, fourth = guide.steps.order_by("position")
    rows = [
        {"id": s.pk, "position": p, "kind": s.kind, "title": s.title, "body": s.body}
        for s, p in [(first, 2), (second, 1), (third, 3), (fourth, 4)]
    ]

    response = admin_client.post(
        reverse("admin:guides_guide_change", args=[guide.pk]), change_form_data(guide, rows)
    )

    assert response.status_code == 302, response.content.decode()[:2000]
    assert list(guide.steps.order_by("position").values_list("pk", flat=True)) == [
        second.pk,
        first.pk,
        third.pk,
        fourth.pk,
    ]


def test_two_steps_on_one_position_is_a_form_error_not_a_crash(admin_client, guide_with_steps):
    guide = guide_with_steps
    steps = list(guide.steps.order_by("position"))
    rows = [
        {"id": s.pk, "position": 1, "kind": s.kind, "title": s.title, "body": s.body}
        for s in steps[:2]
    ] + [
        {"id": s.pk, "position": s.position, "kind": s.kind, "title": s.title, "body": s.body}
        for s in steps[2:]
    ]

    response = admin_client.post(
        reverse("admin:guides_guide_change", args=[guide.pk]), change_form_data(guide, rows)
    )

    assert response.status_code == 200
    assert "Please correct the duplicate data for position" in response.content.decode()
    assert list(guide.steps.order_by("position").values_list("position", flat=True)) == [1, 2, 3, 4]


def test_a_position_beyond_the_authoring_range_is_a_form_error(admin_client, guide_with_steps):
    guide = guide_with_steps
    steps = list(guide.steps.order_by("position"))
    rows = [
        {"id": s.pk, "position": s.position, "kind": s.kind, "title": s.title, "body": s.body}
        for s in steps
    ]
    rows[0]["position"] = 700

    response = admin_client.post(
        reverse("admin:guides_guide_change", args=[guide.pk]), change_form_data(guide, rows)
    )

    assert response.status_code == 200
    assert "less than or equal to 500" in response.content.decode()
    assert Step.objects.filter(position=700).count() == 0


def test_the_change_page_links_translations_and_shows_a_preview(admin_client, guide_with_steps):
    guide = guide_with_steps
    arabic = GuideFactory(
        company=guide.company, slug=guide.slug, language="ar",
        translation_key=guide.translation_key, title="لا أستطيع تغيير البطاقة",
    )  # fmt: skip

    body = admin_client.get(reverse("admin:guides_guide_change", args=[guide.pk])).content.decode()

    assert reverse("admin:guides_guide_change", args=[arabic.pk]) in body
    assert "<strong>rejected</strong>" in body  # the summary's Markdown, rendered


def test_the_guide_list_filters_by_tag_and_searches_step_titles(admin_client, guide_with_steps):
    other = GuideFactory(tags=["login"])
    url = reverse("admin:guides_guide_changelist")

    def listed(query: str) -> set[int]:
        return {g.pk for g in admin_client.get(f"{url}?{query}").context["cl"].result_list}

    assert listed("q=alternative+2") == {guide_with_steps.pk}
    tag = guide_with_steps.tags.get(slug="payment")
    assert listed(f"tags__id__exact={tag.pk}") == {guide_with_steps.pk}
    assert listed("language__exact=en") == {guide_with_steps.pk, other.pk}


def test_staff_read_an_attempt_with_its_history(admin_client, guide_with_steps):
    from guides import services

    attempt, _ = services.attempt_start(guide=guide_with_steps)
    step = guide_with_steps.steps.first()
    services.step_outcome_record(
        attempt=attempt, step_id=step.pk, outcome="did_not_work", note="E-42 shown"
    )

    listing = admin_client.get(reverse("admin:guides_attempt_changelist"))
    detail = admin_client.get(reverse("admin:guides_attempt_change", args=[attempt.pk]))

    assert listing.status_code == 200
    body = detail.content.decode()
    assert "E-42 shown" in body
    assert step.title in body
    assert attempt.token_hash not in body  # the secret's hash is never shown
    assert admin_client.get(reverse("admin:guides_attempt_add")).status_code == 403
