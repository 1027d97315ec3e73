"""``{% visitor_part ["state"] [name …] %}…{% endvisitor_part %}``: a part of a page that
depends on the visitor (helpdesk.page_parts)."""

from __future__ import annotations

from django import template
from django.template.base import Parser, Token

from helpdesk.page_parts import visitor_part

register = template.Library()


class VisitorPartNode(template.Node):
    def __init__(self, nodelist: template.NodeList, state: str | None, names: list[str]) -> None:
        self.nodelist = nodelist
        self.state = state
        self.names = names

    def render(self, context: template.Context) -> str:
        return visitor_part(context, self.nodelist, self.state, self.names)


@register.tag("visitor_part")
def do_visitor_part(parser: Parser, token: Token) -> VisitorPartNode:
    bits = token.split_contents()[1:]
    state = None
    if bits and bits[0][:1] in "\"'":
        if len(bits[0]) < 3 or bits[0][-1] != bits[0][0]:
            raise template.TemplateSyntaxError("visitor_part: the state is a quoted name")
        state, bits = bits[0][1:-1], bits[1:]
    if not all(bit.isidentifier() for bit in bits):
        raise template.TemplateSyntaxError("visitor_part: the names are plain variable names")
    nodelist = parser.parse(("endvisitor_part",))
    parser.delete_first_token()
    return VisitorPartNode(nodelist, state, bits)
