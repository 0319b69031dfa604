"""Categorical policies from logits: softmax, log-softmax and the inverse-CDF sampler, as TorchLean computes them.

Mirrors TorchLean's ``NN/Runtime/RL/Algorithms/PolicyGradient.lean`` (``actionPolicy``,
``actionProbability``, ``actionLogProbability``, ``actionLogSoftmax``, ``sampleCategorical``,
``sampleActionFromLogits``) over ``Activation.maxVecSpec`` / ``maxShiftedExpVecSpec`` /
``softmaxVecSpec`` / ``logSoftmaxVecSpec`` and ``Tensor.sumSpec`` (lean-dojo/TorchLean, read at
commit 0f845313599795032960d487708c309e1fb2f40e), in Lean's ``Float`` (IEEE float64), operation
for operation:

    m      = foldl (fun acc x => max acc x) z[0] z[1:]     # Lean's max: if acc <= x then x else acc
    e_i    = exp(z_i - m)
    total  = foldl (+) 0.0 e                               # sumSpec: a left fold from 0 (not fsum)
    p_i    = e_i / total                                   # actionPolicy (softmaxVecSpec)
    logp_a = (z_a - m) - log(total)                        # actionLogSoftmax (logSoftmaxVecSpec)
    clamped_a = min(1 - eps, max(eps, p_a)); log(clamped_a)  # actionLogProbability, eps = 1e-6
    sampleCategorical seed counter p: u = uniform(seed, counter); cum = 0.0;
        for k: cum = cum + p_k; if cum > u: return (counter + 1, k)
        return (counter + 1, n - 1)                        # the ``default`` index

Non-finite logits are computed as Lean computes them (no exception): a NaN or ``+inf`` logit makes
every probability NaN, so ``cum > u`` never holds and the sampler returns the last action, with a
NaN log-probability. The collectors refuse such logits before sampling (a deliberate deviation,
README "Deviations"): a checker that silently recorded action ``n - 1`` with ``old_log_prob = nan``
would hide the policy's bug. :func:`finite_logits` is that check.

Invariants enforced: logits are a non-empty vector of reals (``Tensor Float [nActions]`` with
``NeZero nActions``); actions are ``Fin nActions``; no global RNG state is touched.
"""

from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np

from .arguments import check_index, check_reals
from .errors import ArgumentError
from .random_stream import uniform

__all__ = ["DEFAULT_EPSILON", "action_log_probability", "action_log_softmax", "action_policy", "action_probability",
           "as_logits", "categorical_index", "finite_logits", "lean_exp", "lean_log", "lean_max", "lean_min",
           "lean_sum", "max_vec", "sample_action_from_logits", "sample_categorical"]

DEFAULT_EPSILON = 1e-6  # ``Context.defaultEpsilon`` of TorchLean's ``Context Float`` instance


def lean_max(a: float, b: float) -> float:
    """Lean's ``max`` on ``Float`` (``maxOfLe``): ``if a <= b then b else a``."""
    return b if a <= b else a


def lean_min(a: float, b: float) -> float:
    """Lean's ``min`` on ``Float`` (``minOfLe``): ``if a <= b then a else b``."""
    return a if a <= b else b


def lean_exp(x: float) -> float:
    """``Float.exp`` (C ``exp``): overflows to ``inf`` instead of raising."""
    try:
        return math.exp(x)
    except OverflowError:
        return math.inf


def lean_log(x: float) -> float:
    """``Float.log`` (C ``log``): ``log 0 = -inf``, ``log`` of a negative number or NaN is NaN."""
    if x > 0.0:
        return math.log(x)
    return -math.inf if x == 0.0 else math.nan


def _lean_div(a: float, b: float) -> float:
    """IEEE division as Lean's ``Float`` does it (``x / 0`` is ``±inf`` or NaN, never an exception)."""
    if b != 0.0:
        return a / b
    if a == 0.0 or math.isnan(a):
        return math.nan
    return math.copysign(math.inf, a) * math.copysign(1.0, b)


def lean_sum(xs: Sequence[float]) -> float:
    """``Tensor.sumSpec``: ``foldl (+) 0`` over the entries, left to right (each addition rounded)."""
    total = 0.0
    for x in xs:
        total = total + x
    return total


def max_vec(zs: Sequence[float]) -> float:
    """``Activation.maxVecSpec``: ``foldl max z[0] z[1:]`` with Lean's ``max``."""
    m = zs[0]
    for z in zs[1:]:
        m = z if m <= z else m
    return m


def as_logits(logits: Any, field: str = "logits") -> list[float]:
    """``logits`` (list, tuple or 1-D numpy array) as a non-empty list of floats (NaN and ±inf kept)."""
    if type(logits) is list and logits and all(type(x) is float for x in logits):
        return list(logits)  # already what this returns (e.g. finite_logits' list): a fresh copy, unchecked again
    if hasattr(logits, "tolist") and not isinstance(logits, (list, tuple)):
        shape = getattr(logits, "shape", None)
        if shape is not None and len(shape) != 1:
            raise ArgumentError(f"{field} has shape {list(shape)}; a vector [n_actions] is required")
        logits = logits.tolist()
    if not isinstance(logits, (list, tuple)):
        raise ArgumentError(f"{field}={logits!r:.80} should be a vector of floats")
    if any(isinstance(x, (list, tuple)) for x in logits):
        raise ArgumentError(f"{field}={logits!r:.80} is nested; a vector [n_actions] is required")
    out = check_reals(field, logits)
    if not out:
        raise ArgumentError(f"{field} is empty; n_actions must be positive (NeZero nActions)")
    return out


def finite_logits(logits: Any, field: str = "logits") -> list[float]:
    """:func:`as_logits`, then reject NaN and ±inf (the collectors' check; see the module docstring)."""
    if (type(logits) is np.ndarray and logits.ndim == 1 and logits.size and logits.dtype.kind == "f"
            and logits.dtype.itemsize <= 8):
        zs = logits.tolist()  # a policy's 1-D float output: exactly the floats as_logits reads from it
    else:
        zs = as_logits(logits, field)
    if math.isfinite(sum(zs)):  # NaN or ±inf entries make the sum non-finite; an overflow is checked below
        return zs
    for i, x in enumerate(zs):
        if math.isnan(x) or math.isinf(x):
            raise ArgumentError(f"{field}[{i}]={x} is not finite (TorchLean would sample action {len(zs) - 1} "
                                "from it and record a NaN log-probability)")
    return zs


def _shifted_exps(zs: list[float]) -> tuple[float, list[float], float]:
    m = max_vec(zs)
    exps = [lean_exp(z - m) for z in zs]
    return m, exps, lean_sum(exps)


def action_policy(logits: Any) -> list[float]:
    """``actionPolicy``: max-shifted softmax, ``exp(z - m) / foldl (+) 0 exp(z - m)``."""
    _, exps, total = _shifted_exps(as_logits(logits))
    return [_lean_div(e, total) for e in exps]


def _fin(action: Any, n: int) -> int:
    return check_index("action", action, n)


def action_log_softmax(logits: Any, action: int) -> float:
    """``actionLogSoftmax``: ``(z_a - m) - log(foldl (+) 0 exp(z - m))``, unclamped (what TorchLean
    records as ``oldLogProb`` since ``collectRolloutFromCallbacks`` uses it, so the PPO ratio starts at 1)."""
    zs = as_logits(logits)
    a = _fin(action, len(zs))
    m, _, total = _shifted_exps(zs)
    return (zs[a] - m) - lean_log(total)


def action_probability(logits: Any, action: int, epsilon: float = DEFAULT_EPSILON) -> float:
    """``actionProbability``: ``min (1 - eps) (max eps p_a)`` with ``p = actionPolicy logits``."""
    zs = as_logits(logits)
    a = _fin(action, len(zs))
    p = action_policy(zs)[a]
    eps = float(epsilon)
    return lean_min(1.0 - eps, lean_max(eps, p))


def action_log_probability(logits: Any, action: int, epsilon: float = DEFAULT_EPSILON) -> float:
    """``actionLogProbability``: ``log`` of the ε-clamped probability (the seed API's ``oldLogProb``)."""
    return lean_log(action_probability(logits, action, epsilon))


def categorical_index(u: float, probs: Sequence[float]) -> int:
    """The inverse-CDF index: the first ``k`` whose running sum of ``probs`` exceeds ``u``, else the last.

    Split out of :func:`sample_categorical` so the index logic can be checked symbolically (CrossHair
    cannot see through the SplitMix64 hash; the known-answer vectors pin that part).

    pre: 0.0 <= u < 1.0
    pre: 1 <= len(probs) <= 4
    pre: all(0.0 <= p <= 1.0 for p in probs)
    post: 0 <= __return__ < len(probs)
    post: probs[__return__] > 0.0 or __return__ == len(probs) - 1
    """
    cum = 0.0
    for k, p in enumerate(probs):
        cum = cum + p
        if cum > u:
            return k
    return len(probs) - 1


def sample_categorical(seed: int, counter: int, probs: Sequence[float]) -> tuple[int, int]:
    """``sampleCategorical seed counter probs``: inverse-CDF draw with ``uniform(seed, counter)``;
    returns ``(counter + 1, a)``. ``seed`` and ``counter`` are any non-negative ints (wrapped mod 2**64)."""
    if len(probs) == 0:
        raise ArgumentError("probs is empty; n_actions must be positive (NeZero nActions)")
    u = uniform(seed, counter)  # validates seed and counter as Lean Nats
    return int(counter) + 1, categorical_index(u, probs)


def sample_action_from_logits(seed: int, counter: int, logits: Any) -> tuple[int, int]:
    """``sampleActionFromLogits``: :func:`action_policy` then :func:`sample_categorical`."""
    return sample_categorical(seed, counter, action_policy(logits))
