"""Diagonal-Gaussian policies for ``Box`` actions: the log-probability, the sampler, clipping and tanh.

**An extension of TorchLean**, whose policies are categorical only (``PolicyGradient.actionPolicy``,
``actionLogSoftmax``, ``sampleActionFromLogits``). This module is their continuous counterpart,
written the same way: pure Python floats, sums as left folds from ``0.0`` (the order TorchLean's
``foldl`` sums use), and every draw a pure function of the ``(seed, counter)`` stream.

The policy at a state is ``mean : [d]`` and ``log_std : [d]`` (``d = Box.size``, row-major).

- :func:`diag_gaussian_log_prob` — ``Σ_j -((x_j - μ_j)²) / (2 σ_j²) - log σ_j - log √(2π)`` with
  ``σ_j = exp(log_std_j)`` and ``log σ_j`` taken as ``log_std_j``: ``torch.distributions.Normal``'s
  ``log_prob`` summed over the action dimensions, as SB3's ``DiagGaussianDistribution.log_prob`` and
  CleanRL's ``probs.log_prob(action).sum(1)`` compute it.
- :func:`squashed_log_prob` — SB3's ``SquashedDiagGaussianDistribution.log_prob``: the Gaussian
  log-probability of the *pre-tanh* sample ``u`` minus ``Σ_j log(1 - tanh(u_j)² + ε)`` (the tanh
  Jacobian, ``ε = 1e-6`` as in SB3).
- :func:`standard_normal` — Box–Muller over two uniforms of the spec's stream:
  ``z = sqrt(-2 log(1 - uniform(seed, c))) · cos(2π · uniform(seed, c + 1))``. The uniforms come from
  :func:`rollcheck.spec.random_stream.uniform` (its public function, whatever generator it is);
  ``1 - u`` lies in ``(0, 1]``, so the logarithm is always finite.
- :func:`sample_diag_gaussian` — ``x_j = μ_j + σ_j · z_j`` with ``z_j = standard_normal(seed,
  counter + 2j)``; returns ``(counter + 2d, x)``: **two counter positions per action entry** (one
  per step for a categorical draw).
- :func:`gaussian_policy_step` — one whole policy step, the conventions real libraries use:
  ``squash=False`` (SB3 ``PPO`` with ``squash_output=False``, CleanRL): the recorded action is the
  *unclipped* sample ``x``, ``old_log_prob`` is the log-probability of ``x``, and the action sent to
  the environment is ``clip(x, low, high)``; ``squash=True`` (SB3's squashed Gaussian): the recorded
  action is ``a = tanh(u)``, ``old_log_prob = squashed_log_prob(u)``, and the environment gets
  ``low + (a + 1)·(high - low)/2`` (SB3 ``BasePolicy.unscale_action``).

Invariants enforced: ``mean``/``log_std`` are vectors of ``d`` finite floats; a squashed policy
needs a bounded Box; the sampler touches no global RNG; the log-probability of a recorded action
is always that of the sample the policy drew (never of the clipped action).

References: Box & Muller (1958), "A note on the generation of random normal deviates";
SB3 ``common/distributions.py`` and ``common/on_policy_algorithm.py``; CleanRL
``ppo_continuous_action.py``; Haarnoja et al. (2018), SAC, appendix C (the tanh correction).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Sequence

from .arguments import check_reals
from .box import Box, clip_to_box
from .errors import ArgumentError
from .random_stream import uniform

__all__ = ["LOG_SQRT_2PI", "SQUASH_EPSILON", "GaussianStep", "as_vector", "diag_gaussian_log_prob",
           "gaussian_policy_step", "ieee_div", "ieee_exp", "sample_diag_gaussian", "squashed_log_prob", "standard_normal",
           "tanh_correction", "unscale_action"]

LOG_SQRT_2PI = math.log(math.sqrt(2 * math.pi))   # torch.distributions.Normal's constant, same expression
SQUASH_EPSILON = 1e-6                              # SB3 SquashedDiagGaussianDistribution(epsilon=1e-6)
_TWO_PI = 2.0 * math.pi


def as_vector(values: Any, field: str, size: "int | None" = None, *, finite: bool = True) -> list[float]:
    """``values`` (a number, list, tuple or numpy array of any shape) as a row-major list of floats.

    Rejects booleans, non-real entries, a size other than ``size`` and (with ``finite``) NaN/±inf.
    """
    out = check_reals(field, values)
    if finite:
        for i, x in enumerate(out):
            if not math.isfinite(x):
                raise ArgumentError(f"{field}[{i}]={x} is not finite")
    if size is not None and len(out) != size:
        raise ArgumentError(f"{field} has {len(out)} entries; the action space has {size}")
    return out


def ieee_exp(x: float) -> float:
    """``math.exp`` with IEEE overflow (``inf``) instead of ``OverflowError``."""
    try:
        return math.exp(x)
    except OverflowError:
        return math.inf


def ieee_div(a: float, b: float) -> float:
    """``a / b`` with IEEE semantics at ``b == 0`` (``±inf``, or NaN for ``0/0`` and NaN) instead of
    ``ZeroDivisionError``, so the spec and a numpy fast path agree when ``σ²`` underflows to zero."""
    if b != 0.0:
        return a / b
    if a != a or a == 0.0:
        return math.nan
    return math.copysign(math.inf, a) * math.copysign(1.0, b)


def diag_gaussian_log_prob(mean: Any, log_std: Any, action: Any) -> float:
    """``log N(action; mean, diag(exp(log_std))²)``: the per-entry Normal log-densities, left-folded.

    Entry ``j`` is ``ieee_div(-((x_j - μ_j)·(x_j - μ_j)), 2·(σ_j·σ_j)) - log_std_j - LOG_SQRT_2PI``
    with ``σ_j = ieee_exp(log_std_j)``, evaluated in exactly this order.
    """
    mu = as_vector(mean, "mean")
    ls = as_vector(log_std, "log_std", len(mu))
    x = as_vector(action, "action", len(mu), finite=False)
    total = 0.0
    for xj, mj, lj in zip(x, mu, ls):
        sigma = ieee_exp(lj)
        d = xj - mj
        total += ieee_div(-(d * d), 2.0 * (sigma * sigma)) - lj - LOG_SQRT_2PI
    return total


def tanh_correction(gaussian_action: Any, epsilon: float = SQUASH_EPSILON) -> float:
    """``Σ_j log(1 - tanh(u_j)² + ε)`` (left fold): the log-Jacobian of ``a = tanh(u)``, SB3's form."""
    total = 0.0
    for u in as_vector(gaussian_action, "gaussian_action", finite=False):
        a = math.tanh(u)
        total += math.log(1.0 - a * a + epsilon)
    return total


def squashed_log_prob(mean: Any, log_std: Any, gaussian_action: Any, epsilon: float = SQUASH_EPSILON) -> float:
    """``log π(tanh(u))`` for the pre-tanh sample ``u`` (SB3 ``SquashedDiagGaussianDistribution.log_prob``)."""
    return diag_gaussian_log_prob(mean, log_std, gaussian_action) - tanh_correction(gaussian_action, epsilon)


def standard_normal(seed: int, counter: int) -> float:
    """One N(0, 1) draw from the uniforms at ``(seed, counter)`` and ``(seed, counter + 1)`` (Box–Muller)."""
    u1 = uniform(seed, counter)
    u2 = uniform(seed, counter + 1)
    return math.sqrt(-2.0 * math.log(1.0 - u1)) * math.cos(_TWO_PI * u2)


def sample_diag_gaussian(seed: int, counter: int, mean: Any, log_std: Any) -> "tuple[int, tuple[float, ...]]":
    """``(counter + 2d, x)`` with ``x_j = mean_j + exp(log_std_j) · standard_normal(seed, counter + 2j)``."""
    mu = as_vector(mean, "mean")
    ls = as_vector(log_std, "log_std", len(mu))
    c = int(counter)
    x = tuple(mj + ieee_exp(lj) * standard_normal(seed, c + 2 * j) for j, (mj, lj) in enumerate(zip(mu, ls)))
    return c + 2 * len(mu), x


def unscale_action(space: Box, squashed: Sequence[float]) -> tuple[float, ...]:
    """``low + 0.5 · (a + 1) · (high - low)`` per entry (SB3 ``BasePolicy.unscale_action``)."""
    if not space.bounded:
        raise ArgumentError(f"a tanh-squashed policy needs a bounded Box; got {space.describe()}")
    return tuple(lo + 0.5 * (a + 1.0) * (hi - lo) for a, lo, hi in zip(squashed, space.low, space.high))


@dataclass(frozen=True)
class GaussianStep:
    """One Gaussian policy step: ``counter`` after the draw, the ``action`` recorded in the rollout
    (the unclipped sample, or ``tanh(u)`` when squashed), its ``log_prob``, the ``env_action`` sent to
    ``step_checked`` (clipped, or rescaled from ``[-1, 1]``) and the raw Gaussian ``sample`` (``u``)."""

    counter: int
    action: tuple[float, ...]
    log_prob: float
    env_action: tuple[float, ...]
    sample: tuple[float, ...]


def gaussian_policy_step(seed: int, counter: int, mean: Any, log_std: Any, space: Box, *,
                         squash: bool = False) -> GaussianStep:
    """Draw, score and map one action the way SB3/CleanRL do (see the module docstring)."""
    if not isinstance(space, Box):
        raise ArgumentError(f"space={space!r:.80} should be a rollcheck.spec.Box")
    if not isinstance(squash, bool):
        raise ArgumentError(f"squash={squash!r} should be a bool")
    mu = as_vector(mean, "mean", space.size)
    ls = as_vector(log_std, "log_std", space.size)
    if squash and not space.bounded:
        raise ArgumentError(f"a tanh-squashed policy needs a bounded Box; got {space.describe()}")
    new_counter, u = sample_diag_gaussian(seed, counter, mu, ls)
    if squash:
        a = tuple(math.tanh(x) for x in u)
        return GaussianStep(new_counter, a, squashed_log_prob(mu, ls, u), unscale_action(space, a), u)
    return GaussianStep(new_counter, u, diag_gaussian_log_prob(mu, ls, u), clip_to_box(space, u), u)
