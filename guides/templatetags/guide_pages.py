from __future__ import annotations

from typing import Any

from django import template

register = template.Library()


@register.filter
def outcome_of(current_outcomes: dict[int, Any] | None, step: Any) -> Any:
    """What the visitor says of this step now (guides.selectors.current_outcomes), or None."""
    return (current_outcomes or {}).get(step.pk)
