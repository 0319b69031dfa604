"""Generalized Advantage Estimation, λ-returns and z-score normalisation.

Mirrors TorchLean's ``Runtime.RL.Core.generalizedAdvantageEstimationVec``,
``returnsFromAdvantagesVec``, ``discountedReturnsVecDone`` (``NN/Runtime/RL/Core.lean``, over
``Spec.RL.continueMask``/``discountedBackup`` in ``NN/Spec/RL/Core.lean``) and
``Spec.normalizeZscoreSpec`` (lean-dojo/TorchLean, read at commit
0f845313599795032960d487708c309e1fb2f40e), bit for bit in float64: the same operations in the same
order (``delta = (r + (gamma * mask) * nv) - v``, ``A = delta + ((gamma * lam) * mask) * A_next``,
sums as left folds from ``0.0``).

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
from typing import Iterable, Sequence

from .errors import ArgumentError

__all__ = ["discounted_returns_done", "generalized_advantage_estimation", "generalized_advantages", "normalize_zscore",
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
    """``discountedReturnsVecDone``: ``G_t = r_t + (gamma * continueMask done_t) * G_{t+1}``, ``G_T = bootstrap``.

    TorchLean *multiplies* by the continue mask (``discountedBackup``), it does not branch: an
    infinite or NaN ``G_{t+1}`` after a ``done`` gives ``0 * inf = NaN``, as in Lean.
    """
    n = _same_length(rewards=rewards, dones=dones)
    gamma = float(gamma)
    out = [0.0] * n
    g = float(bootstrap)
    for t in range(n - 1, -1, -1):
        mask = 0.0 if dones[t] else 1.0
        g = float(rewards[t]) + gamma * mask * g
        out[t] = g
    return out


def normalize_zscore(xs: Sequence[float]) -> list[float]:
    """``Spec.normalizeZscoreSpec``, operation for operation in float64.

    ``mean = foldl (+) 0 xs / n``; ``c_i = x_i - mean``; ``var = foldl (+) 0 (c_i * c_i) / n``;
    ``std = sqrt var``; the result is ``c_i / std`` when ``std > 0`` and ``c`` otherwise (and the
    empty input is returned as is). So a constant input whose mean rounds away from it (``[0.1] * 3``)
    is divided by a tiny std and becomes ``[-1.0] * 3``, squares that overflow give ``std = inf`` and
    zeros, and NaN or ±inf inputs propagate NaN: exactly TorchLean's values.

    post: len(__return__) == len(xs)
    """
    n = len(xs)
    if n == 0:
        return []
    count = float(n)
    mean = _left_sum(float(x) for x in xs) / count
    centred = [float(x) - mean for x in xs]
    variance = _left_sum(c * c for c in centred) / count
    std = math.sqrt(variance) if variance >= 0.0 else math.nan  # NaN stays NaN (Lean's Float.sqrt)
    if std > 0.0:
        return [c / std for c in centred]
    return centred


def _left_sum(xs: Iterable[float]) -> float:
    """``Tensor.sumSpec``: a left fold of ``+`` from ``0.0``."""
    total = 0.0
    for x in xs:
        total = total + x
    return total


# TorchLean's newer names (``Core.generalizedAdvantageEstimation`` at 4ec1f62bf830...): the same function.
generalized_advantages = generalized_advantage_estimation
