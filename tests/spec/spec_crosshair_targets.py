"""CrossHair targets: PEP 316 contracts stating the spec's pure functions against their Props.

Not collected by pytest (no ``test_`` prefix); ``test_crosshair_spec.py`` runs ``crosshair check``
on each function here in a subprocess. Each function takes symbolic inputs, bounded by ``pre:``
(lists of at most 3-4 entries), calls the spec, and its ``post:`` is the property: a checker
accepts exactly when the independently written predicate holds, a result has the promised form.
A counterexample CrossHair finds is a real spec bug. ``spec_crosshair_broken.py`` holds the same
properties over deliberately broken copies, to prove the checks can fail.
"""

from __future__ import annotations

import math

from rollcheck.spec import (Contract, action_violations, done_flags_holds, done_flags_violations,
                            generalized_advantage_estimation, is_finite_float, observation_holds,
                            observation_violations, reward_holds, reward_violations, tensor_finite,
                            tensor_in_closed_interval)
from rollcheck.spec.policy_gradient import categorical_index


def finite_float_is_not_nan_nor_inf(x: float) -> bool:
    """
    post: __return__
    """
    return is_finite_float(x) == (x == x and x != math.inf and x != -math.inf)


def tensor_finite_is_all_finite(xs: list[float]) -> bool:
    """
    pre: len(xs) <= 3
    post: __return__
    """
    return tensor_finite(xs) == all(x == x and abs(x) != math.inf for x in xs)


def closed_interval_is_inclusive(lo: float, hi: float, xs: list[float]) -> bool:
    """
    pre: len(xs) <= 3
    post: __return__
    """
    bounds_ok = lo == lo and hi == hi  # a NaN bound admits nothing
    return tensor_in_closed_interval(lo, hi, xs) == all(bounds_ok and x == x and not (x < lo or x > hi) for x in xs)


def _contract(finite: bool, use_range: bool, lo: float, hi: float, exclusive: bool = False) -> Contract:
    rng = (lo, hi) if use_range else None
    return Contract(check_obs_finite=finite, check_reward_finite=finite, obs_range=rng, reward_range=rng,
                    require_exclusive_done_flags=exclusive)


def reward_checker_iff_reward_holds(finite: bool, use_range: bool, lo: float, hi: float, r: float) -> bool:
    """
    pre: lo == lo and hi == hi and lo <= hi
    post: __return__
    """
    c = _contract(finite, use_range, lo, hi)
    return (reward_violations(c, r) == []) == reward_holds(c, r)


def observation_checker_iff_observation_holds(finite: bool, use_range: bool, lo: float, hi: float,
                                              xs: list[float]) -> bool:
    """
    pre: lo == lo and hi == hi and lo <= hi
    pre: len(xs) <= 3
    post: __return__
    """
    c = _contract(finite, use_range, lo, hi)
    return (observation_violations(c, xs, [len(xs)]) == []) == observation_holds(c, xs)


def done_flags_checker_iff_done_flags_hold(exclusive: bool, terminated: bool, truncated: bool) -> bool:
    """
    post: __return__
    """
    c = Contract(require_exclusive_done_flags=exclusive)
    return (done_flags_violations(c, terminated, truncated) == []) == done_flags_holds(c, terminated, truncated)


def action_accepted_iff_in_fin(n_actions: int, action: int) -> bool:
    """
    pre: 1 <= n_actions <= 64
    post: __return__
    """
    return (action_violations(n_actions, action) == []) == (0 <= action < n_actions)


def gae_stops_at_done(gamma: float, lam: float, rewards: list[float], values: list[float],
                      next_values: list[float], terminated: list[bool]) -> bool:
    """With every step done, each advantage is its own one-step TD error (nothing flows back).

    pre: 0.0 <= gamma <= 1.0 and 0.0 <= lam <= 1.0
    pre: 1 <= len(rewards) <= 3
    pre: len(values) == len(rewards) == len(next_values) == len(terminated)
    pre: all(abs(x) <= 1e6 for x in rewards + values + next_values)
    post: __return__
    """
    dones = [True] * len(rewards)
    adv = generalized_advantage_estimation(gamma, lam, rewards, values, next_values, dones, terminated)
    return adv == [r + (0.0 if te else gamma * nv) - v
                   for r, v, nv, te in zip(rewards, values, next_values, terminated)]


def categorical_index_in_range(u: float, probs: list[float]) -> bool:
    """
    pre: 0.0 <= u < 1.0
    pre: 1 <= len(probs) <= 4
    pre: all(0.0 <= p <= 1.0 for p in probs)
    post: __return__
    """
    k = categorical_index(u, probs)
    return 0 <= k < len(probs) and (probs[k] > 0.0 or k == len(probs) - 1)
