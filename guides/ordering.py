"""In which order a guide's alternatives are shown: pure functions, no database, no cache.

A guide shows its procedure first and its last resort last, always. Between them, the
alternatives are ordered by what works for customers in the guide's language (docs/learning.md):

- An alternative with at least MIN_SAMPLE tries is *ranked*: ranked alternatives are sorted by
  the lower bound of the 95 % Wilson interval of worked / tried, best first. The bound, not the
  rate itself: 4 out of 5 is a better rate than 60 out of 100, but much weaker evidence.
- An alternative with fewer tries keeps the slot the authors gave it: the ranked alternatives
  are sorted into the remaining slots. So an alternative without enough data is neither buried
  nor promoted on the strength of a handful of customers; the authors' judgement stands until
  the customers' outweighs it.
- A share of attempts (EXPLORATION_SHARE) gets an order drawn by Thompson sampling instead:
  each alternative's success rate is drawn from Beta(1 + worked, 1 + tried - worked) and the
  draws are sorted. A new or rarely tried alternative has a wide distribution and often draws
  high, so it gets tried and gathers its sample; a well-known poor one rarely does.
- Pinned (Guide.alternatives_pinned): learning is off, the authors' order for everyone.

Tallies come in the authors' order (by position); the functions return step ids.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass

# Tries an alternative needs before its measured success moves it.
MIN_SAMPLE = 30
# The share of attempts that get an order drawn by Thompson sampling.
EXPLORATION_SHARE = 0.1
# The days of tallies the order is computed from: recent enough that an alternative that stopped
# working (a payment partner changing its rules) sinks within weeks, long enough for a sample.
WINDOW_DAYS = 90
# The normal quantile of a two-sided 95 % interval.
Z_95 = 1.959963984540054


@dataclass(frozen=True)
class AlternativeTally:
    """What customers did at one alternative: tried = worked + did not work + could not do."""

    step: int
    tried: int
    worked: int

    def __post_init__(self) -> None:
        if not 0 <= self.worked <= self.tried:
            raise ValueError(f"worked {self.worked} out of {self.tried} tried")


@dataclass(frozen=True)
class AlternativeNumbers:
    """An alternative's numbers as the order uses them (and as the admin shows them)."""

    step: int
    tried: int
    worked: int
    lower_bound: float
    ranked: bool  # tried at least MIN_SAMPLE times: its place follows its lower bound

    @property
    def rate(self) -> float | None:
        return self.worked / self.tried if self.tried else None


@dataclass(frozen=True)
class OrderChoice:
    alternatives: list[int]
    explored: bool  # drawn by Thompson sampling rather than the exploit order


def wilson_interval(successes: int, trials: int, z: float = Z_95) -> tuple[float, float] | None:
    """The Wilson score interval of successes / trials; None without trials.

    Unlike the plain rate plus or minus its standard error, it stays within [0, 1] and is
    sensible for small samples and rates near 0 or 1, which is where most alternatives start.
    The statistics pages show it (guides.statistics); the ordering ranks by its lower end."""
    if trials <= 0:
        return None
    rate = successes / trials
    z2 = z * z
    centre = rate + z2 / (2 * trials)
    margin = z * math.sqrt(rate * (1 - rate) / trials + z2 / (4 * trials * trials))
    denominator = 1 + z2 / trials
    return max(0.0, (centre - margin) / denominator), min(1.0, (centre + margin) / denominator)


def wilson_lower_bound(worked: int, tried: int, z: float = Z_95) -> float:
    """The lower end of the Wilson score interval of worked / tried (0 with no tries)."""
    interval = wilson_interval(worked, tried, z)
    return interval[0] if interval is not None else 0.0


def numbers(
    tallies: Sequence[AlternativeTally], *, min_sample: int = MIN_SAMPLE
) -> list[AlternativeNumbers]:
    return [
        AlternativeNumbers(
            step=tally.step,
            tried=tally.tried,
            worked=tally.worked,
            lower_bound=wilson_lower_bound(tally.worked, tally.tried),
            ranked=tally.tried >= min_sample,
        )
        for tally in tallies
    ]


def exploit_order(
    tallies: Sequence[AlternativeTally], *, min_sample: int = MIN_SAMPLE
) -> list[int]:
    """The order of what works: ranked alternatives by lower bound (ties keep the authors'
    order) in the slots of the ranked ones; the others where the authors put them."""
    scored = numbers(tallies, min_sample=min_sample)
    # sorted() is stable: equal bounds keep the authors' order.
    best_first = iter(
        sorted((n for n in scored if n.ranked), key=lambda n: n.lower_bound, reverse=True)
    )
    return [next(best_first).step if n.ranked else n.step for n in scored]


def thompson_order(tallies: Sequence[AlternativeTally], *, rng: random.Random) -> list[int]:
    """One draw of Thompson sampling: each alternative's rate drawn from its Beta posterior
    (a uniform prior), best draw first."""
    draws = [
        (rng.betavariate(1 + tally.worked, 1 + tally.tried - tally.worked), -index, tally.step)
        for index, tally in enumerate(tallies)
    ]
    return [step for _draw, _index, step in sorted(draws, reverse=True)]


def shown_order(
    tallies: Sequence[AlternativeTally], *, pinned: bool, min_sample: int = MIN_SAMPLE
) -> list[int]:
    """The order shown when not exploring: the authors' when pinned, else the exploit order."""
    if pinned:
        return [tally.step for tally in tallies]
    return exploit_order(tallies, min_sample=min_sample)


def alternatives_order(
    tallies: Sequence[AlternativeTally],
    *,
    pinned: bool,
    rng: random.Random,
    exploration_share: float = EXPLORATION_SHARE,
    min_sample: int = MIN_SAMPLE,
) -> OrderChoice:
    """The order for one new attempt: explored with probability ``exploration_share`` (never
    when pinned or with fewer than two alternatives: there is nothing to choose)."""
    if pinned or len(tallies) < 2:
        return OrderChoice([tally.step for tally in tallies], explored=False)
    if rng.random() < exploration_share:
        return OrderChoice(thompson_order(tallies, rng=rng), explored=True)
    return OrderChoice(exploit_order(tallies, min_sample=min_sample), explored=False)


def step_order(
    procedure: Sequence[int], alternatives: Sequence[int], last_resort: Sequence[int]
) -> list[int]:
    """An attempt's step order: the procedure first, the alternatives, the last resort last."""
    return [*procedure, *alternatives, *last_resort]


def is_step_order(
    order: Sequence[int],
    *,
    procedure: Sequence[int],
    alternatives: Sequence[int],
    last_resort: Sequence[int],
) -> bool:
    """Whether ``order`` is one these steps can be shown in: the procedure and the last resort
    in their places, the alternatives in any order between them."""
    start, end = len(procedure), len(order) - len(last_resort)
    return (
        len(order) == len(procedure) + len(alternatives) + len(last_resort)
        and list(order[:start]) == list(procedure)
        and list(order[end:]) == list(last_resort)
        and sorted(order[start:end]) == sorted(alternatives)
    )


def arranged(alternatives: Sequence[int], recorded: Sequence[int]) -> list[int]:
    """The alternatives in a recorded order: those it has in its order, then any added since
    in the order given."""
    rank = {step: index for index, step in enumerate(recorded)}
    known = sorted((step for step in alternatives if step in rank), key=rank.__getitem__)
    return [*known, *(step for step in alternatives if step not in rank)]
