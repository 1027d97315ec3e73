from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest
from django.urls import reverse

from guides.markdown import render_markdown
from tests.factories import GuideFactory, StepFactory

HOSTILE = [
    "<script>alert(1)</script>",
    "<style>body{display:none}</style>",
    '<iframe src="https://evil.example"></iframe>',
    '<img src="x" onerror="alert(1)">',
    "[click me](javascript:alert(1))",
    '<a href="javascript:alert(1)" onclick="alert(2)">x</a>',
    "[data](data:text/html;base64,PHNjcmlwdD4=)",
]
DANGEROUS_TAGS = {"script", "style", "iframe", "object", "embed", "img"}


class _ElementCollector(HTMLParser):
    def __init__(self):
        super().__init__()
        self.elements: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag, attrs):
        self.elements.append((tag, dict(attrs)))


def assert_clean(html: str, allowed_tags: frozenset[str] = frozenset()) -> None:
    """No dangerous element, event handler or script URL in the markup (text is harmless)."""
    collector = _ElementCollector()
    collector.feed(html)
    for tag, attrs in collector.elements:
        assert tag in allowed_tags or tag not in DANGEROUS_TAGS, tag
        for name, value in attrs.items():
            assert not name.startswith("on"), f"{tag} {name}"
            if name in {"href", "src", "action", "formaction"} and value:
                scheme = value.strip().lower()
                assert not scheme.startswith(("javascript:", "data:", "vbscript:")), value


@pytest.mark.parametrize("source", HOSTILE)
def test_it_strips_dangerous_markup(source):
    assert_clean(render_markdown(source))


def test_it_keeps_arabic_text_and_numbered_lists():
    source = "خطوات التحديث:\n\n1. افتح موقع Spotify.\n2. سجّل الدخول.\n3. اختر **خطتك**."
    html = render_markdown(source)
    assert "<ol>" in html
    assert html.count("<li>") == 3
    assert "سجّل الدخول" in html
    assert "<strong>خطتك</strong>" in html


def test_links_stay_but_open_safely():
    html = render_markdown("[help](https://support.example/)")
    assert 'href="https://support.example/"' in html
    assert 'rel="noopener noreferrer nofollow"' in html


@pytest.fixture
def hostile_guide(db):
    guide = GuideFactory(summary="\n\n".join(HOSTILE))
    StepFactory(guide=guide, position=1, body="\n\n".join(HOSTILE))
    return guide


def test_the_guide_page_shows_no_hostile_markup(client, hostile_guide):
    url = reverse(
        "guides:guide-detail",
        kwargs={
            "company": hostile_guide.company.slug,
            "language": hostile_guide.language,
            "slug": hostile_guide.slug,
        },
    )
    response = client.get(url)
    assert response.status_code == 200
    body = response.content.decode()
    # The page's only script elements are our own static files (CSP: script-src 'self'), so
    # any other script or style element would be the payload.
    assert_clean(re.sub(r'<script src="/static/[-\w/.]+\.js" defer></script>', "", body))
    assert "&lt;script&gt;alert(1)" in body  # shown as text, not executed


def test_the_api_returns_no_hostile_markup(client, hostile_guide):
    response = client.get(f"/api/v1/guides/{hostile_guide.pk}/")
    assert response.status_code == 200
    data = response.json()
    assert_clean(data["summary_html"])
    assert_clean(data["steps"][0]["body_html"])
    assert "&lt;iframe" in data["steps"][0]["body_html"]


def test_the_admin_preview_shows_no_hostile_markup(admin_client, hostile_guide):
    response = admin_client.get(reverse("admin:guides_guide_change", args=[hostile_guide.pk]))
    assert response.status_code == 200
    preview = response.content.decode().split('class="guide-preview"', 1)[1]
    # The admin page has scripts of its own; the preview must not add any.
    assert_clean(preview.split("</div>", 1)[0])
