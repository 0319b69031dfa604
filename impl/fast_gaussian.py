"""Batched diagonal-Gaussian log-probabilities, bit-equal to the spec's (the numpy fast path).

Mirrors :func:`rollcheck.spec.gaussian.diag_gaussian_log_prob` and
:func:`rollcheck.spec.gaussian.squashed_log_prob` (rollcheck's continuous-action extension of
TorchLean's ``PolicyGradient.actionLogSoftmax``) on ``N`` rows at once: ``mean``, ``log_std`` and
``actions`` are ``(N, d)`` (``log_std`` may be ``(d,)``, a state-independent parameter as in SB3
and CleanRL), the result is ``(N,)``.

Invariant enforced (tested with Hypothesis against the spec): row ``i`` equals the spec on row ``i``
*bit for bit*. How:

- the arithmetic (``-, *, /``) is elementwise IEEE float64 in numpy, evaluated in the spec's order;
- the transcendental functions are **not** numpy's: numpy's SIMD ``exp``/``log``/``tanh`` differ from
  the C library's in the last bit for a few percent of inputs (measured on this project's CI
  machine), so ``exp`` is taken with ``math.exp`` on the *distinct* ``log_std`` values only (one per
  action entry for a state-independent ``log_std``), and ``tanh``/``log`` of the correction with
  ``math`` entry by entry;
- the sum over the action entries is a left fold from ``0.0``, one column at a time, exactly the
  spec's loop (numpy's pairwise ``sum`` would reorder it).

References: :mod:`rollcheck.spec.gaussian`; NumPy's SIMD math (``numpy/_core/src/umath``).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from rollcheck.spec.errors import ArgumentError
from rollcheck.spec.gaussian import LOG_SQRT_2PI, SQUASH_EPSILON, ieee_exp

__all__ = ["diag_gaussian_log_prob_batch", "squashed_log_prob_batch", "tanh_correction_batch"]


def _rows(name: str, value: Any, n: "int | None" = None, d: "int | None" = None) -> np.ndarray:
    arr = np.asarray(value, dtype=np.float64)
    if arr.ndim == 1 and d is not None and n is not None and name == "log_std":
        arr = np.broadcast_to(arr, (n, arr.shape[0]))
    if arr.ndim != 2 or (n is not None and arr.shape[0] != n) or (d is not None and arr.shape[1] != d):
        want = f"({n if n is not None else 'N'}, {d if d is not None else 'd'})"
        raise ArgumentError(f"{name} has shape {list(arr.shape)}; expected {want}")
    return arr


def _map(fn: Any, arr: np.ndarray) -> np.ndarray:
    """``fn`` (a ``math`` function) on every entry, computed once per distinct value."""
    values, inverse = np.unique(arr, return_inverse=True)
    mapped = np.array([fn(v) for v in values.tolist()], dtype=np.float64)
    return mapped[inverse.reshape(arr.shape)]


def diag_gaussian_log_prob_batch(mean: Any, log_std: Any, actions: Any) -> np.ndarray:
    """Row ``i``: ``diag_gaussian_log_prob(mean[i], log_std[i], actions[i])``, bit for bit."""
    mu = _rows("mean", mean)
    n, d = mu.shape
    ls = _rows("log_std", log_std, n, d)
    x = _rows("actions", actions, n, d)
    if not (np.isfinite(mu).all() and np.isfinite(ls).all()):
        raise ArgumentError("mean and log_std should be finite (the spec rejects them otherwise)")
    sigma = _map(ieee_exp, ls)
    total = np.zeros(n)
    with np.errstate(all="ignore"):
        for j in range(d):
            dj = x[:, j] - mu[:, j]
            total = total + ((-(dj * dj)) / (2.0 * (sigma[:, j] * sigma[:, j])) - ls[:, j] - LOG_SQRT_2PI)
    return total   # numpy's x / 0.0 is the spec's ieee_div (±inf, NaN for 0/0): no special case needed


def tanh_correction_batch(gaussian_actions: Any, epsilon: float = SQUASH_EPSILON) -> np.ndarray:
    """Row ``i``: ``tanh_correction(gaussian_actions[i])`` (``Σ_j log(1 - tanh(u_j)² + ε)``), bit for bit."""
    u = _rows("gaussian_actions", gaussian_actions)
    a = _map(math.tanh, u)
    inner = 1.0 - a * a + epsilon
    logs = _map(_ieee_log, inner)
    total = np.zeros(u.shape[0])
    for j in range(u.shape[1]):
        total = total + logs[:, j]
    return total


def _ieee_log(x: float) -> float:
    return math.log(x) if x > 0 else (math.nan if x != x or x < 0 else -math.inf)


def squashed_log_prob_batch(mean: Any, log_std: Any, gaussian_actions: Any,
                            epsilon: float = SQUASH_EPSILON) -> np.ndarray:
    """Row ``i``: ``squashed_log_prob(mean[i], log_std[i], gaussian_actions[i])``, bit for bit."""
    return diag_gaussian_log_prob_batch(mean, log_std, gaussian_actions) - tanh_correction_batch(
        gaussian_actions, epsilon)
