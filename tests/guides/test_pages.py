from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.core.management import call_command
from django.urls import reverse

from guides.models import Guide
from tests.helpers import guide_url


@pytest.fixture
def demo_guides(db):
    call_command("import_guides", str(Path("guides/demo_guides")), verbosity=0)


def test_the_home_page_lists_companies_and_guides(client, demo_guides):
    response = client.get("/")
    body = response.content.decode()
    assert response.status_code == 200
    assert "Spotify" in body
    assert "Nile Telecom" in body
    assert 'lang="ar" dir="rtl"' in body  # each Arabic guide link carries its own direction


def test_drafts_are_not_shown(client, demo_guides):
    draft = Guide.objects.get(status=Guide.Status.DRAFT)
    assert client.get(guide_url("guide-detail", draft)).status_code == 404
    assert draft.title not in client.get("/").content.decode()


def test_an_arabic_guide_renders_right_to_left_with_its_translation_linked(client, demo_guides):
    guide = Guide.objects.get(company__slug="spotify", language="ar")
    english = Guide.objects.get(company__slug="spotify", language="en")

    response = client.get(guide_url("guide-detail", guide))

    body = response.content.decode()
    assert response.status_code == 200
    assert re.search(r'<html lang="ar" dir="rtl">', body)
    assert guide.title in body
    assert f'href="{guide_url("guide-detail", english)}"' in body
    # Procedure first, then the alternatives, the last resort last and marked.
    positions = [body.index(step.title) for step in guide.steps.order_by("position")]
    assert positions == sorted(positions)
    assert body.index('class="last-resort"') < body.index(guide.steps.last().title)


def test_an_english_guide_renders_left_to_right(client, demo_guides):
    guide = Guide.objects.get(company__slug="spotify", language="en")
    body = client.get(guide_url("guide-detail", guide)).content.decode()
    assert '<html lang="en" dir="ltr">' in body
    assert "<ol>" in body  # the numbered procedure survives Markdown rendering


def test_the_company_page_shows_its_own_support_channels(client, demo_guides):
    response = client.get(reverse("guides:company-detail", kwargs={"company": "nile-telecom"}))
    body = response.content.decode()
    assert response.status_code == 200
    company = Guide.objects.filter(company__slug="nile-telecom").first().company
    assert company.support_phone and company.support_phone in body
    assert f"mailto:{company.support_email}" in body


def test_unknown_pages_are_404(client, db):
    assert client.get("/companies/nobody/").status_code == 404
    assert client.get("/guides/nobody/en/nothing/").status_code == 404


@pytest.mark.parametrize("path", ["/", "/companies/spotify/", "/api/docs/", "/admin/login/"])
def test_every_page_carries_a_content_security_policy(client, demo_guides, path):
    response = client.get(path)
    assert response.status_code == 200
    policy = response["Content-Security-Policy"]
    assert "script-src 'self'" in policy
    assert "unsafe-inline" not in policy
    assert "object-src 'none'" in policy


def test_our_pages_have_no_inline_scripts_or_styles(client, demo_guides):
    guide = Guide.objects.get(company__slug="spotify", language="ar")
    for path in ["/", "/companies/spotify/", guide_url("guide-detail", guide), "/api/docs/"]:
        body = client.get(path).content.decode()
        for script in re.findall(r"<script\b[^>]*>", body):
            assert "src=" in script, f"{path}: inline script {script}"
        assert "<style" not in body, path
        assert not re.search(r"\sstyle=", body), path
        assert not re.search(r"\son[a-z]+=", body), path


def test_healthz_reports_database_and_cache(client, db):
    response = client.get("/healthz")
    # Its status also depends on the worker and beat (tests/helpdesk/test_health.py).
    assert response.json()["database"] == {"status": "ok"}
    assert response.json()["cache"] == {"status": "ok"}


def test_the_guide_page_shows_what_the_seed_page_shows(client, db):
    from guides.models import Attempt
    from guides.templatetags.guide_pages import HELPFUL_TALLY_MIN_VOTES
    from tests.factories import GuideFactory

    guide = GuideFactory(tags=["payment", "card"], language="ar")
    Guide.objects.filter(pk=guide.pk).update(
        view_count=2352683, helpful_count=5, needs_work_count=1
    )
    GuideFactory(company=guide.company, language="ar", tags=["card"], title="شقيق")
    opened = GuideFactory(company=guide.company, language="ar", title="فُتح بعده")
    GuideFactory(company=guide.company, language="en", tags=["card"], title="Other language")
    GuideFactory(tags=["card"], language="ar", title="Other company")
    attempt = Attempt.objects.create(
        guide=guide, company=guide.company, language="ar", token_hash="x" * 64
    )
    attempt.opened_guides.add(opened)

    body = client.get(guide_url("guide-detail", guide)).content.decode()

    assert "شوهد 2,352,683 مرة" in body  # grouped as Arabic with Latin digits (CLDR)
    assert "من القرّاء مفيدًا" not in body  # 6 votes: too few
    assert "كُتب في" in body  # the date through Arabic's DATE_FORMAT ("j F، Y")
    assert '<li dir="auto">card</li>' in body and '<li dir="auto">payment</li>' in body
    related = body[body.index('id="related-heading"') :]
    assert related.index("شقيق") < related.index("فُتح بعده")  # shared tags first, then opened
    assert "Other language" not in related and "Other company" not in related

    Guide.objects.filter(pk=guide.pk).update(
        helpful_count=HELPFUL_TALLY_MIN_VOTES, needs_work_count=2
    )
    from guides.page_cache import guide_pages_forget

    guide_pages_forget()
    body = client.get(guide_url("guide-detail", guide)).content.decode()
    assert "وجده 83 % من القرّاء مفيدًا" in body
