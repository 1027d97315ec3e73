"""The guide editor in the admin (guides.admin_editor): Ann, who writes guides, adds and edits
guides; Alice, an agent, only reads them."""

from __future__ import annotations

import json

import pytest
from django.contrib.admin.models import LogEntry
from django.test import Client
from django.urls import reverse

from guides.admin_editor import MARKDOWN_PREVIEW_LIMIT
from guides.models import Guide, Step
from tests.factories import CompanyFactory, GuideFactory, StepFactory

pytestmark = pytest.mark.django_db

ARABIC_TITLE = "لا يمكن تسجيل الدخول إلى سبوتيفاي"


def add_form_data(company, **fields) -> dict:
    data = {
        "company": company.pk,
        "title": ARABIC_TITLE,
        "slug": "",
        "language": "ar",
        "status": "draft",
        "translation_key": "",
        "translation_of": "",
        "summary": "",
        "steps-TOTAL_FORMS": 0,
        "steps-INITIAL_FORMS": 0,
        "steps-MIN_NUM_FORMS": 0,
        "steps-MAX_NUM_FORMS": 1000,
    }
    data.update(fields)
    return data


def with_steps(data: dict, steps: list[dict], *, initial: int = 0) -> dict:
    data = {**data, "steps-TOTAL_FORMS": len(steps), "steps-INITIAL_FORMS": initial}
    for index, step in enumerate(steps):
        for key, value in step.items():
            data[f"steps-{index}-{key}"] = value
    return data


def test_it_fills_an_empty_slug_and_key_from_an_arabic_title(client, ann):
    spotify = CompanyFactory(slug="spotify")
    GuideFactory(company=spotify, language="ar", slug="la-ymkn-tsjyl-aldkhwl-ila-sbwtyfay")
    client.force_login(ann)

    response = client.post(reverse("admin:guides_guide_add"), add_form_data(spotify))

    assert response.status_code == 302, response.content.decode()[:3000]
    guide = Guide.objects.get(title=ARABIC_TITLE, pk__gt=0, status="draft")
    assert guide.slug == "la-ymkn-tsjyl-aldkhwl-ila-sbwtyfay-2"
    assert guide.translation_key == guide.slug


def test_choosing_the_guide_it_translates_gives_its_key(client, ann):
    english = GuideFactory(
        language="en", slug="cant-log-in", translation_key="login-fails", title="Cannot log in"
    )
    client.force_login(ann)

    response = client.post(
        reverse("admin:guides_guide_add"),
        add_form_data(english.company, translation_of=english.pk),
    )

    assert response.status_code == 302
    arabic = Guide.objects.get(language="ar")
    assert arabic.translation_key == "login-fails"
    page = client.get(reverse("admin:guides_guide_change", args=[arabic.pk])).content.decode()
    assert 'class="translation-source"' in page  # the English guide beside the steps
    assert english.title in page


@pytest.mark.parametrize(
    ("source_fields", "error"),
    [
        ({"language": "ar"}, "Choose a guide in another language than this one."),
        ({"company": None}, "Choose a guide of the same company."),
    ],
)
def test_a_translation_of_the_wrong_guide_is_a_form_error(client, ann, source_fields, error):
    company = CompanyFactory()
    fields = {"company": company, "language": "en", **source_fields}
    if fields["company"] is None:
        fields["company"] = CompanyFactory()
    source = GuideFactory(**fields)
    client.force_login(ann)

    response = client.post(
        reverse("admin:guides_guide_add"), add_form_data(company, translation_of=source.pk)
    )

    assert response.status_code == 200
    assert error in response.content.decode()
    assert not Guide.objects.filter(title=ARABIC_TITLE).exists()


def test_positions_typed_out_of_order_are_renumbered_and_versioned(client, ann):
    client.force_login(ann)
    company = CompanyFactory()
    data = with_steps(
        add_form_data(company, language="en", title="Can't log in"),
        [
            {"position": 30, "kind": "procedure", "title": "Third", "body": ""},
            {"position": 10, "kind": "procedure", "title": "First", "body": ""},
            {"position": 20, "kind": "procedure", "title": "Second", "body": ""},
        ],
    )

    assert client.post(reverse("admin:guides_guide_add"), data).status_code == 302

    guide = Guide.objects.get(title="Can't log in")
    assert list(guide.steps.order_by("position").values_list("position", "title")) == [
        (1, "First"),
        (2, "Second"),
        (3, "Third"),
    ]
    # The version customers are shown holds the renumbered positions.
    assert [s["position"] for s in guide.versions.get().steps] == [1, 2, 3]


def test_a_deleted_step_leaves_no_gap(client, ann, guide_with_steps):
    client.force_login(ann)
    guide = guide_with_steps
    steps = list(guide.steps.order_by("position"))
    data = {
        "company": guide.company_id, "title": guide.title, "slug": guide.slug,
        "language": guide.language, "status": guide.status,
        "translation_key": guide.translation_key, "summary": guide.summary,
        "steps-MIN_NUM_FORMS": 0, "steps-MAX_NUM_FORMS": 1000,
    }  # fmt: skip
    rows = [
        {"id": s.pk, "guide": guide.pk, "position": s.position, "kind": s.kind,
         "title": s.title, "body": s.body}
        for s in steps
    ]  # fmt: skip
    rows[1]["DELETE"] = "on"

    response = client.post(
        reverse("admin:guides_guide_change", args=[guide.pk]),
        with_steps(data, rows, initial=len(rows)),
    )

    assert response.status_code == 302, response.content.decode()[:3000]
    assert list(guide.steps.order_by("position").values_list("position", flat=True)) == [1, 2, 3]
    entry = LogEntry.objects.get(object_id=str(guide.pk))
    assert "Deleted" in entry.get_change_message()  # the history names the step removed


def test_the_history_page_shows_who_changed_what_and_the_versions(client, ann, guide_with_steps):
    from guides import services

    services.guide_version_record(guide=guide_with_steps)
    client.force_login(ann)
    url = reverse("admin:guides_guide_change", args=[guide_with_steps.pk])
    step = guide_with_steps.steps.order_by("position").first()
    form = client.get(url).context["adminform"].form
    assert form is not None
    data = {
        "company": guide_with_steps.company_id, "title": "A clearer title",
        "slug": guide_with_steps.slug, "language": "en", "status": "published",
        "translation_key": guide_with_steps.translation_key, "summary": "",
        "steps-MIN_NUM_FORMS": 0, "steps-MAX_NUM_FORMS": 1000,
    }  # fmt: skip
    rows = [
        {"id": s.pk, "guide": guide_with_steps.pk, "position": s.position, "kind": s.kind,
         "title": "Restart the app" if s == step else s.title, "body": s.body}
        for s in guide_with_steps.steps.order_by("position")
    ]  # fmt: skip
    assert client.post(url, with_steps(data, rows, initial=len(rows))).status_code == 302

    history = client.get(reverse("admin:guides_guide_history", args=[guide_with_steps.pk]))

    body = history.content.decode()
    assert history.status_code == 200
    assert "ann" in body
    assert "Changed Title" in body or "Changed title" in body
    assert "Restart the app" in body  # the step named in the change, and in version 2
    assert 'id="versions"' in body
    assert guide_with_steps.versions.count() == 2


def test_view_on_site_only_for_a_published_guide(client, ann):
    published = GuideFactory(status=Guide.Status.PUBLISHED)
    draft = GuideFactory(status=Guide.Status.DRAFT)
    client.force_login(ann)

    on_published = client.get(reverse("admin:guides_guide_change", args=[published.pk]))
    on_draft = client.get(reverse("admin:guides_guide_change", args=[draft.pk]))

    assert on_published.context["has_absolute_url"]
    assert not on_draft.context["has_absolute_url"]
    assert reverse("admin:guides_guide_preview_link", args=[draft.pk]) in on_draft.content.decode()


def test_an_agent_reads_a_guide_without_the_authoring_tools(client, alice, guide_with_steps):
    client.force_login(alice.user)

    page = client.get(reverse("admin:guides_guide_change", args=[guide_with_steps.pk]))

    assert page.status_code == 200
    assert "preview-link" not in page.content.decode()
    assert 'id="guide-editor"' not in page.content.decode()
    assert "Translate into" not in page.content.decode()
    assert client.get(reverse("admin:guides_guide_slug"), {"title": "x"}).status_code == 403
    preview = client.post(reverse("admin:guides_guide_markdown_preview"), {"text": "**x**"})
    assert preview.status_code == 403


def test_the_markdown_preview_is_the_public_pages_sanitised_html(client, ann):
    client.force_login(ann)
    url = reverse("admin:guides_guide_markdown_preview")

    response = client.post(
        url, {"text": "1. Open **Settings**\n\n<script>alert(1)</script> [x](javascript:alert(1))"}
    )

    html = json.loads(response.content)["html"]
    assert "<strong>Settings</strong>" in html
    assert "<script" not in html
    assert "&lt;script&gt;" in html  # shown as text, as on the public page
    assert 'href="javascript' not in html
    assert client.get(url).status_code == 405
    too_long = client.post(url, {"text": "x" * 20_001})
    assert too_long.status_code == 400


def test_the_markdown_preview_needs_the_csrf_token(ann):
    client = Client(enforce_csrf_checks=True)
    client.force_login(ann)

    response = client.post(reverse("admin:guides_guide_markdown_preview"), {"text": "x"})

    assert response.status_code == 403


def test_the_markdown_preview_is_throttled_per_author(client, ann, settings):
    client.force_login(ann)
    url = reverse("admin:guides_guide_markdown_preview")
    MARKDOWN_PREVIEW_LIMIT.reset(f"user:{ann.pk}")
    for _ in range(MARKDOWN_PREVIEW_LIMIT.limit):
        assert client.post(url, {"text": "x"}).status_code == 200

    refused = client.post(url, {"text": "x"})

    assert refused.status_code == 429
    assert int(refused["Retry-After"]) > 0


def test_the_slug_endpoint_suggests_a_unique_slug(client, ann):
    spotify = CompanyFactory(slug="spotify")
    GuideFactory(company=spotify, language="ar", slug="la-ymkn-tsjyl-aldkhwl-ila-sbwtyfay")
    client.force_login(ann)
    url = reverse("admin:guides_guide_slug")

    taken = client.get(url, {"title": ARABIC_TITLE, "company": spotify.pk, "language": "ar"})
    bad_input = client.get(url, {"title": ARABIC_TITLE, "company": "x", "language": "zz"})

    assert taken.json() == {"slug": "la-ymkn-tsjyl-aldkhwl-ila-sbwtyfay-2"}
    assert bad_input.json() == {"slug": "la-ymkn-tsjyl-aldkhwl-ila-sbwtyfay"}


def test_the_editor_page_carries_the_scripts_hooks(client, ann):
    client.force_login(ann)

    body = client.get(reverse("admin:guides_guide_add")).content.decode()

    assert "guides/editor.js" in body
    assert 'id="guide-editor"' in body
    assert "data-step-position" in body
    assert "markdown-help" in body
    assert Step.objects.count() == 0


def test_the_add_page_shows_the_guide_to_translate_and_ignores_a_bad_one(client, ann):
    english = GuideFactory(language="en", title="Cannot pay")
    StepFactory(guide=english, position=1, title="Check the card's expiry date")
    client.force_login(ann)
    url = reverse("admin:guides_guide_add")

    page = client.get(url, {"translation_of": english.pk, "company": english.company_id})
    bad = client.get(url, {"translation_of": "1 OR 1=1"})
    missing = client.get(url, {"translation_of": 999999})

    assert "Check the card" in page.content.decode()
    assert 'class="translation-source"' in page.content.decode()
    assert bad.status_code == 200 and missing.status_code == 200
    assert 'class="translation-source"' not in bad.content.decode()


def test_the_add_page_leaves_out_the_empty_usage_section_and_the_change_page_keeps_it(
    client, ann, guide_with_steps
):
    client.force_login(ann)

    adding = client.get(reverse("admin:guides_guide_add")).content.decode()
    changing = client.get(
        reverse("admin:guides_guide_change", args=[guide_with_steps.pk])
    ).content.decode()

    assert 'name="view_count"' not in adding and "Usage" not in adding
    assert "Usage" in changing
