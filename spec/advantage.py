"""Generalized Advantage Estimation, λ-returns and z-score normalisation.

Mirrors TorchLean's ``Runtime.RL.Core.generalizedAdvantageEstimationVec``,
``returnsFromAdvantagesVec``, ``discountedReturnsVecDone`` and ``Spec.normalizeZscoreSpec``.

Bootstrapping with Gymnasium's split flags (the choice rollcheck makes, and why):

    delta_t = r_t + gamma * (1 - terminated_t) * V(s_{t+1}) - V(s_t)
    A_t     = delta_t + gamma * lam * (1 - done_t) * A_{t+1}          (A_T = 0)

On ``truncated`` (a time limit, not a terminal state) the one-step target still bootstraps from
``next_value`` (the critic at the true last observation, before auto-reset); on ``terminated`` it
does not. The λ-accumulation never crosses a ``done``, whichever flag ended the episode.
TorchLean's older spec masked both flags alike (``continueMask done`` in both places), which treats
a time-limit cut as a terminal state and biases values low; its ``PPO.Step`` now records
``terminated`` so the split can be made. With ``terminated == dones`` the two definitions agree.

Invariants enforced: all columns have the same length; ``terminated_t → done_t``.
References: Schulman et al., "High-Dimensional Continuous Control Using Generalized Advantage
Estimation" (2015), https://arxiv.org/abs/1506.02438.
"""

from __future__ import annotations

import math
from typing import Sequence

from .errors import ArgumentError

__all__ = ["discounted_returns_done", "generalized_advantage_estimation", "normalize_zscore",
           "returns_from_advantages"]


def _same_length(**columns: Sequence) -> int:
    lengths = {name: len(col) for name, col in columns.items()}
    if len(set(lengths.values())) > 1:
        raise ArgumentError(f"columns have different lengths: {lengths}")
    return next(iter(lengths.values()))


def generalized_advantage_estimation(gamma: float, lam: float, rewards: Sequence[float],
                                     values: Sequence[float], next_values: Sequence[float],
                                     dones: Sequence[bool], terminated: Sequence[bool]) -> list[float]:
    """GAE advantages ``A_0 .. A_{T-1}`` (right-to-left scan, see the module docstring)."""
    n = _same_length(rewards=rewards, values=values, next_values=next_values, dones=dones,
                     terminated=terminated)
    for t in range(n):
        if terminated[t] and not dones[t]:
            raise ArgumentError(f"terminated[{t}]=True but dones[{t}]=False (done = terminated or truncated)")
    gamma, lam = float(gamma), float(lam)  # Python floats (float64): numpy float32 inputs would compute in float32
    advantages = [0.0] * n
    adv_next = 0.0
    for t in range(n - 1, -1, -1):
        bootstrap = 0.0 if terminated[t] else 1.0
        carry = 0.0 if dones[t] else 1.0
        delta = float(rewards[t]) + gamma * bootstrap * float(next_values[t]) - float(values[t])
        adv_next = delta + gamma * lam * carry * adv_next
        advantages[t] = adv_next
    return advantages


def returns_from_advantages(advantages: Sequence[float], values: Sequence[float]) -> list[float]:
    """λ-returns ``R_t = A_t + V(s_t)`` (the critic's regression target)."""
    _same_length(advantages=advantages, values=values)
    return [a + v for a, v in zip(advantages, values)]


def discounted_returns_done(gamma: float, rewards: Sequence[float], dones: Sequence[bool],
                            bootstrap: float = 0.0) -> list[float]:
    """``G_t = r_t + gamma * (1 - done_t) * G_{t+1}`` with ``G_T = bootstrap``."""
    n = _same_length(rewards=rewards, dones=dones)
    out = [0.0] * n
    g = bootstrap
    for t in range(n - 1, -1, -1):
        g = rewards[t] + (0.0 if dones[t] else gamma * g)
        out[t] = g
    return out


def normalize_zscore(xs: Sequence[float]) -> list[float]:
    """Subtract the mean and divide by the population std (TorchLean ``normalizeZscoreSpec``).

    - a constant input (including a single value) maps to all zeros (mean-centred, nothing to scale);
    - otherwise the result has mean 0 and population std 1 up to rounding, for *every* finite input:
      the values are first scaled by a power of two (exact) and then by their largest deviation, so
      neither ``sum(x)`` nor ``(x - mean)**2`` can overflow or underflow to a zero std;
    - an input containing NaN or ±inf has no z-score: every output is NaN.

    pre: len(xs) <= 4
    post: len(__return__) == len(xs)
    post: not all(x == xs[0] for x in xs) or all(z == 0.0 for z in __return__)
    """
    n = len(xs)
    if n == 0:
        return []
    if not all(math.isfinite(x) for x in xs):
        return [math.nan] * n
    if all(x == xs[0] for x in xs):
        return [0.0] * n
    k = math.frexp(max(abs(x) for x in xs))[1]
    ys = [math.ldexp(x, -k) for x in xs]  # |y| < 1
    mean = math.fsum(ys) / n
    centred = [y - mean for y in ys]
    spread = max(abs(c) for c in centred)
    if spread == 0.0:  # unreachable for a non-constant input; kept so the division below is safe
        return [0.0] * n
    units = [c / spread for c in centred]  # |u| <= 1 and some |u| == 1, so the std is >= 1/sqrt(n)
    std = math.sqrt(math.fsum(u * u for u in units) / n)
    return [u / std for u in units]
