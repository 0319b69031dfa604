"""Small pure spec properties that run under either Hypothesis backend.

With the default profiles these are ordinary Hypothesis tests; with ``ROLLCHECK_PROFILE=crosshair``
(``properties/profiles.py``: ``backend="crosshair"``, from ``hypothesis-crosshair``) the very same
tests are explored symbolically by CrossHair through Hypothesis. Nothing is skipped either way. The
strategies are plain scalars and short lists (no numpy), which the CrossHair backend can model.
"""

from __future__ import annotations

import math

from hypothesis import given, strategies as st

from rollcheck.spec import (Contract, action_violations, done_flags_holds, done_flags_violations,
                            generalized_advantage_estimation, is_finite_float, normalize_zscore,
                            observation_holds, observation_violations, reward_holds, reward_violations)
from rollcheck.spec.policy_gradient import categorical_index

small = st.floats(-1e6, 1e6)
bounds = st.tuples(st.floats(allow_nan=False), st.floats(allow_nan=False)).map(lambda p: (min(p), max(p)))


@given(st.floats())
def test_is_finite_float_matches_its_definition(x):
    assert is_finite_float(x) == (x == x and x not in (math.inf, -math.inf))


@given(st.booleans(), st.none() | bounds, st.floats())
def test_reward_checker_iff_reward_holds(finite, rng, r):
    c = Contract(check_reward_finite=finite, reward_range=rng)
    assert (reward_violations(c, r) == []) == reward_holds(c, r)


@given(st.booleans(), st.none() | bounds, st.lists(st.floats(), max_size=3))
def test_observation_checker_iff_observation_holds(finite, rng, xs):
    c = Contract(check_obs_finite=finite, obs_range=rng)
    assert (observation_violations(c, xs, [len(xs)]) == []) == observation_holds(c, xs)


@given(st.booleans(), st.booleans(), st.booleans())
def test_done_flags_checker_iff_done_flags_hold(exclusive, te, tr):
    c = Contract(require_exclusive_done_flags=exclusive)
    assert (done_flags_violations(c, te, tr) == []) == done_flags_holds(c, te, tr)


@given(st.integers(1, 64), st.integers(-100, 100))
def test_action_accepted_iff_in_fin(n, a):
    assert (action_violations(n, a) == []) == (0 <= a < n)


@given(st.floats(0.0, 1.0, exclude_max=True), st.lists(st.floats(0.0, 1.0), min_size=1, max_size=4))
def test_categorical_index_is_in_range_and_never_a_zero_probability(u, probs):
    k = categorical_index(u, probs)
    assert 0 <= k < len(probs) and (probs[k] > 0.0 or k == len(probs) - 1)


@given(st.integers(-2**20, 2**20), st.integers(1, 4))
def test_zscore_of_an_exactly_summed_constant_is_zero(x, n):
    assert normalize_zscore([float(x)] * n) == [0.0] * n


@given(st.floats(0.0, 1.0), st.floats(0.0, 1.0), st.lists(st.tuples(small, small, small, st.booleans()), min_size=1,
                                                            max_size=3))
def test_gae_with_every_step_done_is_the_one_step_td_error(gamma, lam, rows):
    rewards, values, next_values, terms = (list(col) for col in zip(*rows))
    adv = generalized_advantage_estimation(gamma, lam, rewards, values, next_values, [True] * len(rows), terms)
    assert adv == [r + (0.0 if te else gamma * nv) - v for r, v, nv, te in rows]
