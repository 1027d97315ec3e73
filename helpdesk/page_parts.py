"""A page rendered once and served many times, with the parts that depend on the visitor left
as holes that each request fills (the guide page: guides.page_cache).

A template marks such a part ``{% visitor_part %}…{% endvisitor_part %}`` (``{% load
page_parts %}``). Rendered as usual, the tag renders its content in place, so the page is the
same as without it. Rendered by ``render_with_holes``, each part becomes a hole that keeps its
compiled nodes, the loop variables it names and the language active there; the result, a
``PageWithHoles``, is the text between the holes, rendered once. ``PageWithHoles.fill`` renders
the holes for one request, in a context built as ``render()`` builds it, and joins them with the
text: the characters an ordinary render of the same request gives.

- ``{% visitor_part %}``: the part reads the request (its path, cookies, messages, user).
- ``{% visitor_part "attempt" step %}``: the part reads visitor state named "attempt" (any
  name) and the loop variable ``step``. A render for visitors whose "attempt" is known to be
  the same for all of them (``settled={"attempt"}``: those without one) renders it in place.
- ``{% csrf_token %}`` needs no tag: the context's ``csrf_token`` is a marker, so each one is a
  hole, filled with the request's token, one per page as ``render()`` gives.

The text may only depend on the context given to ``render_with_holes``; a synthetic request
stands in for the visitor's, so a part that reads the request outside a tag shows up as a
difference in the tests that compare both renders (tests/guides/test_guide_page_cache.py).
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

from django.http import HttpRequest
from django.middleware.csrf import get_token
from django.template import Context, NodeList
from django.template.context import make_context
from django.template.loader import get_template
from django.utils import translation
from django.utils.functional import SimpleLazyObject

# NUL cannot occur in a rendered page: the request guard refuses it in any input and the
# databases do not store it. The random part keeps a page from forging a hole anyway.
_MARK = f"\x00part-{secrets.token_hex(8)}:"


class _CsrfToken:
    """Where the request's CSRF token goes."""


_CSRF = _CsrfToken()
_HOLE = re.compile(re.escape(_MARK) + r"(\w+)\x00")
# Where render_with_holes puts its collector in the context; absent in an ordinary render.
COLLECTOR = "_page_parts_collector"


@dataclass(frozen=True)
class _Hole:
    nodelist: NodeList
    names: Mapping[str, Any]  # the loop variables the part reads, as they were
    language: str | None

    def render(self, context: Context) -> str:
        with context.push(self.names):
            if self.language == translation.get_language():
                return self.nodelist.render(context)
            with translation.override(self.language):
                return self.nodelist.render(context)


class _Collector:
    def __init__(self, settled: Collection[str]) -> None:
        self.settled = frozenset(settled)
        self.holes: list[_Hole] = []

    def hole(self, nodelist: NodeList, names: Mapping[str, Any]) -> str:
        self.holes.append(_Hole(nodelist, dict(names), translation.get_language()))
        return f"{_MARK}{len(self.holes) - 1}\x00"


def visitor_part(context: Context, nodelist: NodeList, state: str | None, names: list[str]) -> str:
    """The ``{% visitor_part %}`` tag (helpdesk.templatetags.page_parts)."""
    collector: _Collector | None = context.get(COLLECTOR)
    if collector is None or (state is not None and state in collector.settled):
        return nodelist.render(context)
    return collector.hole(nodelist, {name: context.get(name) for name in names})


@dataclass(frozen=True)
class PageWithHoles:
    template: Any  # the engine's template (django.template.backends.django.Template)
    pieces: tuple[str | _Hole | _CsrfToken, ...]

    def fill(self, request: HttpRequest, context: dict[str, Any]) -> str:
        """The page for this request: ``context`` is what the view would give ``render()``."""
        # One token for the whole page, taken when first needed, as render()'s context has it.
        csrf_token = SimpleLazyObject(lambda: get_token(request))
        if not any(isinstance(piece, _Hole) for piece in self.pieces):
            return "".join(
                piece if isinstance(piece, str) else str(csrf_token) for piece in self.pieces
            )
        bound = make_context({**context, "csrf_token": csrf_token}, request)
        with bound.bind_template(self.template.template):
            return "".join(
                piece if isinstance(piece, str)
                else piece.render(bound) if isinstance(piece, _Hole)
                else str(csrf_token)
                for piece in self.pieces
            )  # fmt: skip


def render_with_holes(
    template_name: str, context: dict[str, Any], *, settled: Collection[str] = ()
) -> PageWithHoles:
    """Render the template once for any visitor: ``context`` holds no visitor's data."""
    template = get_template(template_name)
    collector = _Collector(settled)
    html = template.render(
        {**context, COLLECTOR: collector, "csrf_token": f"{_MARK}csrf\x00"},
        HttpRequest(),
    )
    pieces: list[str | _Hole | _CsrfToken] = []
    for index, piece in enumerate(_HOLE.split(html)):
        if index % 2 == 0:
            if piece:
                pieces.append(piece)
        else:
            pieces.append(_CSRF if piece == "csrf" else collector.holes[int(piece)])
    return PageWithHoles(template, tuple(pieces))
