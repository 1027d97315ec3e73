"""The order of a guide's alternatives (guides.ordering): pure functions, no database.

The tallies read like the seed's Spotify guide: PayPal, a private window, Wi-Fi instead of the
hotspot, the community forum, in the authors' order.
"""

from __future__ import annotations

import random
from collections import Counter

import pytest

from guides import ordering
from guides.ordering import AlternativeTally as T

PAYPAL, PRIVATE, WIFI, FORUM = 11, 12, 13, 14


# --- the bound ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("worked", "tried", "expected"),
    [
        # Worked out by hand from the Wilson score interval with z = 1.959964.
        (0, 0, 0.0),
        (0, 10, 0.0),
        (5, 10, 0.2366),
        (10, 10, 0.7225),
        (60, 100, 0.5020),
        (4, 5, 0.3755),
        (640, 1000, 0.6098),
    ],
)
def test_the_wilson_lower_bound(worked, tried, expected):
    assert ordering.wilson_lower_bound(worked, tried) == pytest.approx(expected, abs=1e-4)


def test_the_bound_rewards_evidence_not_only_the_rate():
    # 4 of 5 is the better rate; 60 of 100 the better evidence.
    assert 4 / 5 > 60 / 100
    assert ordering.wilson_lower_bound(4, 5) < ordering.wilson_lower_bound(60, 100)


def test_the_bound_stays_below_the_rate_and_rises_with_the_sample():
    bounds = [ordering.wilson_lower_bound(n * 6 // 10, n) for n in (10, 100, 1000, 10000)]
    assert bounds == sorted(bounds)
    assert all(bound < 0.6 for bound in bounds)


def test_a_tally_cannot_have_more_worked_than_tried():
    with pytest.raises(ValueError):
        T(PAYPAL, tried=3, worked=4)


# --- the exploit order and the minimum sample ----------------------------------------------------


def test_without_enough_data_the_authors_order_stands():
    tallies = [T(PAYPAL, 5, 0), T(PRIVATE, 29, 29), T(WIFI, 0, 0), T(FORUM, 12, 11)]
    assert ordering.exploit_order(tallies) == [PAYPAL, PRIVATE, WIFI, FORUM]


def test_alternatives_with_enough_tries_are_ordered_by_their_lower_bound():
    tallies = [T(PAYPAL, 100, 30), T(PRIVATE, 200, 150), T(WIFI, 40, 20), T(FORUM, 30, 29)]
    # bounds: PAYPAL 0.22, PRIVATE 0.69, WIFI 0.35, FORUM 0.83
    assert ordering.exploit_order(tallies) == [FORUM, PRIVATE, WIFI, PAYPAL]


def test_an_alternative_below_the_minimum_sample_keeps_its_slot():
    # PRIVATE (second) has too few tries: it stays second; PAYPAL and WIFI swap around it.
    tallies = [T(PAYPAL, 300, 60), T(PRIVATE, 3, 3), T(WIFI, 300, 240)]
    assert ordering.exploit_order(tallies) == [WIFI, PRIVATE, PAYPAL]


def test_the_minimum_sample_is_reached_at_thirty_tries():
    just_under = [T(PAYPAL, 30, 3), T(PRIVATE, 29, 29)]
    reached = [T(PAYPAL, 30, 3), T(PRIVATE, 30, 30)]
    assert ordering.MIN_SAMPLE == 30
    assert ordering.exploit_order(just_under) == [PAYPAL, PRIVATE]
    assert ordering.exploit_order(reached) == [PRIVATE, PAYPAL]


def test_equal_bounds_keep_the_authors_order():
    tallies = [T(PAYPAL, 50, 25), T(PRIVATE, 50, 25), T(WIFI, 50, 25)]
    assert ordering.exploit_order(tallies) == [PAYPAL, PRIVATE, WIFI]


def test_the_numbers_behind_the_order():
    paypal, private = ordering.numbers([T(PAYPAL, 100, 60), T(PRIVATE, 4, 1)])
    assert (paypal.tried, paypal.worked, paypal.ranked, paypal.rate) == (100, 60, True, 0.6)
    assert paypal.lower_bound == pytest.approx(0.5020, abs=1e-4)
    assert (private.ranked, private.rate) == (False, 0.25)
    assert ordering.numbers([T(WIFI, 0, 0)])[0].rate is None


# --- exploration -------------------------------------------------------------------------------

DRAWS = 20_000


def test_the_exploration_share_over_many_draws():
    rng = random.Random(12)
    tallies = [T(PAYPAL, 500, 400), T(PRIVATE, 500, 100), T(WIFI, 0, 0)]
    explored = sum(
        ordering.alternatives_order(tallies, pinned=False, rng=rng).explored for _ in range(DRAWS)
    )
    # Binomial(20,000, 0.1): 2,000 expected, standard deviation 42; four of them either way.
    assert abs(explored - DRAWS * ordering.EXPLORATION_SHARE) < 4 * 42


def test_an_attempt_not_drawn_to_explore_gets_the_exploit_order():
    rng = random.Random(3)
    tallies = [T(PAYPAL, 500, 100), T(PRIVATE, 500, 400)]
    for _ in range(200):
        choice = ordering.alternatives_order(tallies, pinned=False, rng=rng)
        if not choice.explored:
            assert choice.alternatives == [PRIVATE, PAYPAL]


def test_exploration_tries_a_new_alternative_first_now_and_then():
    """A new alternative (no tries) next to a proven one: in the exploit order it stays where
    the authors put it (last); Thompson sampling puts it first in about half the explored
    attempts, and a proven poor one almost never."""
    rng = random.Random(7)
    tallies = [T(PAYPAL, 1000, 700), T(FORUM, 1000, 50), T(WIFI, 0, 0)]
    firsts = Counter(ordering.thompson_order(tallies, rng=rng)[0] for _ in range(DRAWS))
    # P(uniform draw > PAYPAL's ~0.70) = 0.30.
    assert firsts[WIFI] / DRAWS == pytest.approx(0.30, abs=0.02)
    assert firsts[FORUM] / DRAWS < 0.001
    assert ordering.exploit_order(tallies)[-1] == WIFI


def test_the_exploration_share_can_be_set():
    rng = random.Random(5)
    tallies = [T(PAYPAL, 0, 0), T(PRIVATE, 0, 0)]
    never = [
        ordering.alternatives_order(tallies, pinned=False, rng=rng, exploration_share=0.0)
        for _ in range(500)
    ]
    always = [
        ordering.alternatives_order(tallies, pinned=False, rng=rng, exploration_share=1.0)
        for _ in range(500)
    ]
    assert not any(choice.explored for choice in never)
    assert all(choice.explored for choice in always)
    # With no data at all, exploring orders are drawn evenly.
    assert Counter(choice.alternatives[0] for choice in always)[PAYPAL] == pytest.approx(
        250, abs=60
    )


# --- pinning and the fixed ends ----------------------------------------------------------------


def test_pinned_is_the_authors_order_for_everyone():
    rng = random.Random(1)
    tallies = [T(PAYPAL, 500, 10), T(PRIVATE, 500, 490)]
    choices = [ordering.alternatives_order(tallies, pinned=True, rng=rng) for _ in range(1000)]
    assert all(c.alternatives == [PAYPAL, PRIVATE] and not c.explored for c in choices)
    assert ordering.shown_order(tallies, pinned=True) == [PAYPAL, PRIVATE]
    assert ordering.shown_order(tallies, pinned=False) == [PRIVATE, PAYPAL]


def test_a_single_alternative_is_never_explored():
    rng = random.Random(1)
    choices = [
        ordering.alternatives_order([T(PAYPAL, 0, 0)], pinned=False, rng=rng, exploration_share=1)
        for _ in range(10)
    ]
    assert all(c == ordering.OrderChoice([PAYPAL], explored=False) for c in choices)


def test_the_procedure_comes_first_and_the_last_resort_last_in_every_draw():
    rng = random.Random(9)
    procedure, last_resort = [1, 2, 3], [99]
    tallies = [T(PAYPAL, 40, 30), T(PRIVATE, 0, 0), T(WIFI, 100, 10), T(FORUM, 5, 1)]
    for _ in range(2000):
        choice = ordering.alternatives_order(tallies, pinned=False, rng=rng)
        order = ordering.step_order(procedure, choice.alternatives, last_resort)
        assert order[:3] == procedure
        assert order[-1:] == last_resort
        assert sorted(order[3:-1]) == [PAYPAL, PRIVATE, WIFI, FORUM]


@pytest.mark.parametrize(
    ("order", "fits"),
    [
        ([1, 2, 12, 11, 99], True),
        ([1, 2, 11, 12, 99], True),
        ([2, 1, 11, 12, 99], False),  # the procedure out of order
        ([1, 2, 11, 99, 12], False),  # the last resort not last
        ([1, 2, 11, 11, 99], False),  # an alternative twice, one missing
        ([1, 2, 11, 12, 13, 99], False),  # a step that is not the guide's
        ([1, 2, 11, 99], False),
        ([], False),
    ],
)
def test_an_order_sent_back_must_fit_the_steps(order, fits):
    steps = {"procedure": [1, 2], "alternatives": [11, 12], "last_resort": [99]}
    assert ordering.is_step_order(order, **steps) is fits


def test_a_recorded_order_is_applied_to_the_current_alternatives():
    # 13 was deleted since; 15 was added since: it comes after the recorded ones.
    assert ordering.arranged([11, 12, 14, 15], [14, 13, 11, 12]) == [14, 11, 12, 15]
