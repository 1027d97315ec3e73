"""Signed links that show a guide on its real public page before it is published.

A staff member who may change the guide makes one (guides.admin_editor); whoever holds it sees
the guide as it stands now (the draft of the moment, not a copy made with the link) on its
public address with ``?preview=<token>``, for PREVIEW_MAX_AGE seconds, with a "Preview — not
published" banner, never from the page cache and never indexed (guides.views.guide_detail).
The token names the guide by id and is signed with the site's key and a salt of its own, so a
token made for anything else (or for another guide) opens nothing.
"""

from __future__ import annotations

from urllib.parse import urlencode

from django.core import signing

from guides.models import Guide

SALT = "guides.preview-link"
PREVIEW_MAX_AGE = 60 * 60  # an hour: long enough to review a draft, short enough to leak little
QUERY_PARAMETER = "preview"


class PreviewLinkExpired(Exception):
    """A genuine token, older than PREVIEW_MAX_AGE: the page says so (410)."""


class PreviewLinkInvalid(Exception):
    """A token that was not made here, or not for this guide (404)."""


def preview_token_make(*, guide: Guide) -> str:
    return signing.dumps({"guide": guide.pk}, salt=SALT, compress=False)


def preview_guide_id(token: str, *, max_age: int = PREVIEW_MAX_AGE) -> int:
    """The id of the guide a token was made for; raises PreviewLinkExpired or
    PreviewLinkInvalid."""
    try:
        value = signing.loads(token, salt=SALT, max_age=max_age)
    except signing.SignatureExpired as error:
        raise PreviewLinkExpired from error
    except signing.BadSignature as error:
        raise PreviewLinkInvalid from error
    guide_id = value.get("guide") if isinstance(value, dict) else None
    if not isinstance(guide_id, int):
        raise PreviewLinkInvalid
    return guide_id


def preview_path(*, guide: Guide) -> str:
    """The guide's public address with a fresh preview token."""
    return f"{guide.public_path()}?{urlencode({QUERY_PARAMETER: preview_token_make(guide=guide)})}"
