from __future__ import annotations

from typing import Any

from django import template

register = template.Library()

# The helpful tally is shown from this many answers on: below it, one or two votes would
# read as "0 %" or "100 %" and say nothing about the guide.
HELPFUL_TALLY_MIN_VOTES = 10


@register.filter
def of_step(by_step: dict[int, Any] | None, step: Any) -> Any:
    """The value a mapping keyed by step id holds for this step (e.g. what the visitor says
    of it now, guides.selectors.current_outcomes), or None."""
    return (by_step or {}).get(step.pk)


# The name the templates used first.
outcome_of = register.filter("outcome_of", of_step)


@register.filter
def helpful_percent(guide: Any) -> int | None:
    """The share of "was this helpful?" answers that said yes, in whole percent; None below
    HELPFUL_TALLY_MIN_VOTES answers."""
    votes = guide.helpful_count + guide.needs_work_count
    if votes < HELPFUL_TALLY_MIN_VOTES:
        return None
    return round(100 * guide.helpful_count / votes)
