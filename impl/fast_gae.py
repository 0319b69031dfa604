"""Vectorised GAE and λ-returns over ``(T, N)`` arrays (the numpy fast path).

Mirrors TorchLean's ``Runtime.RL.Core.generalizedAdvantageEstimationVec`` and
``returnsFromAdvantagesVec`` for ``N`` rollouts at once (one column per sub-environment of a
vector env): the pure-Python oracle is :func:`rollcheck.spec.generalized_advantage_estimation`,
and column ``i`` of :func:`generalized_advantage_estimation_batch` is *bit-identical* to the
oracle on column ``i``. Same split-flag semantics:

    delta_t = r_t + gamma * (1 - terminated_t) * V(s_{t+1}) - V(s_t)
    A_t     = delta_t + gamma * lam * (1 - done_t) * A_{t+1}          (A_T = 0)

Why bit-identical (not merely close): every float operation is elementwise IEEE-754 double
arithmetic performed in the oracle's order — ``(r + (gamma * b) * nv) - v`` for delta and
``delta + ((gamma * lam) * c) * A_next`` for the scan, with ``b, c ∈ {0.0, 1.0}`` and
``gamma * lam`` rounded once as a Python float, as in the oracle. numpy ufuncs round each
operation exactly like Python floats and never fuse multiply-adds, so no reassociation or
contraction can change a last bit. The right-to-left scan is a loop over ``T``, vectorised over
``N``; the deltas, which do not depend on the scan, are computed for the whole array at once.

Invariants enforced: the five columns have one common shape, ``(T,)`` or ``(T, N)``; the flags
are boolean arrays; ``terminated[t, i] → dones[t, i]`` (reported with its index).

References: Schulman et al., "High-Dimensional Continuous Control Using Generalized Advantage
Estimation" (2015), https://arxiv.org/abs/1506.02438; :mod:`rollcheck.spec.advantage`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from rollcheck.spec.errors import ArgumentError
from rollcheck.spec.arguments import check_real

__all__ = ["generalized_advantage_estimation_batch", "returns_from_advantages_batch"]


def _real_column(name: str, value: Any) -> np.ndarray:
    arr = np.asarray(value)
    if arr.dtype.kind not in ("f", "i", "u"):
        raise ArgumentError(f"{name} has dtype {arr.dtype}; a real array is required")
    return arr.astype(np.float64, copy=False)


def _bool_column(name: str, value: Any) -> np.ndarray:
    arr = np.asarray(value)
    if arr.dtype != np.bool_:
        raise ArgumentError(f"{name} has dtype {arr.dtype}; a boolean array is required")
    return arr


def _columns(rewards: Any, values: Any, next_values: Any, dones: Any, terminated: Any):
    cols = (_real_column("rewards", rewards), _real_column("values", values),
            _real_column("next_values", next_values), _bool_column("dones", dones),
            _bool_column("terminated", terminated))
    shapes = {name: list(c.shape) for name, c in
              zip(("rewards", "values", "next_values", "dones", "terminated"), cols)}
    if len({tuple(s) for s in shapes.values()}) > 1:
        raise ArgumentError(f"columns have different shapes: {shapes}")
    if cols[0].ndim not in (1, 2):
        raise ArgumentError(f"columns have shape {shapes['rewards']}; expected (T,) or (T, N)")
    return cols


def generalized_advantage_estimation_batch(gamma: float, lam: float, rewards: Any, values: Any,
                                           next_values: Any, dones: Any, terminated: Any) -> np.ndarray:
    """GAE advantages, shape ``(T, N)`` (or ``(T,)``), column ``i`` equal bit for bit to the oracle.

    ``rewards, values, next_values`` are real arrays; ``dones, terminated`` boolean arrays; all of
    the same shape with time on axis 0.
    """
    g = check_real("gamma", gamma)
    lam_f = check_real("lam", lam)
    r, v, nv, d, te = _columns(rewards, values, next_values, dones, terminated)
    bad = te & ~d
    if bad.any():
        where = tuple(int(k) for k in np.argwhere(bad)[0])
        at = where[0] if len(where) == 1 else where
        raise ArgumentError(f"terminated[{at}]=True but dones[{at}]=False (done = terminated or truncated)")
    # delta = (r + (gamma * bootstrap) * nv) - v, exactly the oracle's evaluation order.
    gamma_bootstrap = np.where(te, g * 0.0, g * 1.0)
    delta = (r + gamma_bootstrap * nv) - v
    # carry coefficient ((gamma * lam) * carry); gamma * lam rounded once, as in the oracle.
    gl = g * lam_f
    coef = np.where(d, gl * 0.0, gl * 1.0)
    out = np.empty_like(delta)
    adv_next = np.zeros(delta.shape[1:], dtype=np.float64)
    for t in range(delta.shape[0] - 1, -1, -1):
        adv_next = delta[t] + coef[t] * adv_next
        out[t] = adv_next
    return out


def returns_from_advantages_batch(advantages: Any, values: Any) -> np.ndarray:
    """λ-returns ``R = A + V`` elementwise (the oracle's ``returns_from_advantages`` per column)."""
    a = _real_column("advantages", advantages)
    v = _real_column("values", values)
    if a.shape != v.shape:
        raise ArgumentError(f"advantages has shape {list(a.shape)} but values has shape {list(v.shape)}")
    return a + v
