"""A draft on its real public page through a signed preview link (guides.preview_links,
guides.views.guide_detail): Ann, who writes guides, makes one; whoever holds it sees the draft
for an hour; nobody else does, and an agent cannot make one."""

from __future__ import annotations

import time

import pytest
from django.core import signing
from django.urls import reverse

from guides.models import Guide
from guides.preview_links import PREVIEW_MAX_AGE, SALT, preview_path, preview_token_make
from tests.factories import GuideFactory, StepFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def draft(db) -> Guide:
    guide = GuideFactory(
        slug="cant-log-in", title="I can't log in", status=Guide.Status.DRAFT, language="en"
    )
    StepFactory(guide=guide, position=1, title="Reset your password")
    return guide


class _SignedLongAgo(signing.TimestampSigner):
    def timestamp(self) -> str:
        return signing.b62_encode(int(time.time()) - PREVIEW_MAX_AGE - 5)


def _expired_token(guide: Guide) -> str:
    return _SignedLongAgo(salt=SALT).sign_object({"guide": guide.pk})


def test_it_shows_the_draft_with_a_banner_and_keeps_it_out_of_caches_and_indexes(client, draft):
    response = client.get(preview_path(guide=draft))

    assert response.status_code == 200
    body = response.content.decode()
    assert "Preview — not published" in body
    assert "Reset your password" in body
    assert '<meta name="robots" content="noindex, nofollow">' in body
    assert response["X-Robots-Tag"] == "noindex, nofollow"
    assert "no-store" in response["Cache-Control"]
    assert 'class="step-outcome"' not in body  # nothing a customer could record on a draft
    assert 'id="person-bar"' not in body  # no request for a person on a draft
    assert 'name="question"' not in body  # no follow-up stored from a preview


def test_without_a_token_the_draft_is_still_a_404(client, draft):
    assert client.get(draft.public_path()).status_code == 404


def test_a_forged_token_is_a_404(client, draft):
    token = preview_token_make(guide=draft)
    forged = token[:-3] + ("aaa" if not token.endswith("aaa") else "bbb")
    other_salt = signing.dumps({"guide": draft.pk}, salt="guides.search-click")

    for bad in (forged, other_salt, "", "not-a-token", "a:b:c"):
        response = client.get(draft.public_path(), {"preview": bad})
        assert response.status_code == 404, bad


def test_an_expired_token_is_a_410_saying_so(client, draft):
    response = client.get(draft.public_path(), {"preview": _expired_token(draft)})

    assert response.status_code == 410
    assert "This preview link has expired" in response.content.decode()
    assert "Reset your password" not in response.content.decode()


def test_a_token_opens_only_its_own_guide(client, draft):
    other = GuideFactory(company=draft.company, slug="other-draft", status=Guide.Status.DRAFT)
    token = preview_token_make(guide=other)

    assert client.get(draft.public_path(), {"preview": token}).status_code == 404
    assert client.get(other.public_path(), {"preview": token}).status_code == 200


def test_the_preview_is_not_kept_by_the_page_cache(client, draft):
    published = GuideFactory(title="Old words", status=Guide.Status.PUBLISHED)
    assert "Old words" in client.get(published.public_path()).content.decode()  # now kept
    Guide.objects.filter(pk=published.pk).update(title="New words")  # no signal: still kept

    preview = client.get(preview_path(guide=published)).content.decode()
    public = client.get(published.public_path()).content.decode()

    assert "New words" in preview  # read from the database, not the kept page
    assert "Old words" in public  # and the kept page was neither replaced nor dropped


def test_an_author_gets_a_link_and_an_agent_does_not(client, draft, ann, alice):
    url = reverse("admin:guides_guide_preview_link", args=[draft.pk])

    client.force_login(alice.user)
    assert client.get(url).status_code == 403
    client.force_login(ann)
    response = client.get(url)

    assert response.status_code == 302
    assert response["Location"].startswith(draft.public_path() + "?preview=")
    client.logout()
    assert client.get(response["Location"]).status_code == 200  # the link is the key


def test_a_link_for_a_guide_that_does_not_exist_is_a_404(client, ann):
    client.force_login(ann)
    assert client.get(reverse("admin:guides_guide_preview_link", args=[999999])).status_code == 404
