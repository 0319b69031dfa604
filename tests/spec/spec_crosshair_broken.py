"""Deliberately broken copies of spec checkers, for ``test_crosshair_spec.py`` to prove that the
CrossHair checks can fail: each function states the *same* property as its counterpart in
``spec_crosshair_targets.py`` over a copy with one classic bug, and CrossHair must find the
counterexample. Never imported by rollcheck itself.
"""

from __future__ import annotations

import math


def broken_is_finite_float(x: float) -> bool:
    return not (math.isnan(x) or x == math.inf)  # forgets -inf


def broken_tensor_in_closed_interval(lo: float, hi: float, xs: list[float]) -> bool:
    return all(lo <= x < hi for x in xs)  # < instead of <=: the closed interval loses hi


def broken_reward_ok(use_range: bool, lo: float, hi: float, r: float) -> bool:
    return (not use_range) or (lo < r <= hi)  # strict lower bound: off by one at lo


def broken_action_ok(n_actions: int, action: int) -> bool:
    return 0 <= action <= n_actions  # off by one: admits n_actions


def broken_gae(gamma: float, lam: float, rewards: list[float], values: list[float], next_values: list[float],
               dones: list[bool]) -> list[float]:
    out, nxt = [0.0] * len(rewards), 0.0
    for t in reversed(range(len(rewards))):
        nxt = rewards[t] + gamma * next_values[t] - values[t] + gamma * lam * nxt  # leaks across `done`
        out[t] = nxt
    return out


def finite_float_is_not_nan_nor_inf(x: float) -> bool:
    """
    post: __return__
    """
    return broken_is_finite_float(x) == (x == x and x != math.inf and x != -math.inf)


def closed_interval_is_inclusive(lo: float, hi: float, xs: list[float]) -> bool:
    """
    pre: len(xs) <= 3
    post: __return__
    """
    bounds_ok = lo == lo and hi == hi  # a NaN bound admits nothing
    return broken_tensor_in_closed_interval(lo, hi, xs) == all(bounds_ok and x == x and not (x < lo or x > hi) for x in xs)


def reward_range_is_closed(use_range: bool, lo: float, hi: float, r: float) -> bool:
    """
    pre: lo == lo and hi == hi and lo <= hi
    post: __return__
    """
    return broken_reward_ok(use_range, lo, hi, r) == ((not use_range) or (lo <= r and r <= hi))


def action_accepted_iff_in_fin(n_actions: int, action: int) -> bool:
    """
    pre: 1 <= n_actions <= 64
    post: __return__
    """
    return broken_action_ok(n_actions, action) == (0 <= action < n_actions)


def gae_stops_at_done(gamma: float, lam: float, rewards: list[float], values: list[float],
                      next_values: list[float]) -> bool:
    """
    pre: 0.0 <= gamma <= 1.0 and 0.0 <= lam <= 1.0
    pre: 1 <= len(rewards) <= 3
    pre: len(values) == len(rewards) == len(next_values)
    pre: all(abs(x) <= 1e6 for x in rewards + values + next_values)
    post: __return__
    """
    adv = broken_gae(gamma, lam, rewards, values, next_values, [True] * len(rewards))
    return adv == [r + gamma * nv - v for r, v, nv in zip(rewards, values, next_values)]
