"""Categorical policies from logits: softmax, log-softmax and the inverse-CDF sampler.

Mirrors TorchLean's ``NN.Runtime.RL.Algorithms.PolicyGradient``: ``actionPolicy`` (softmax),
``actionLogSoftmax`` (the *unclamped* log-softmax that TorchLean records as ``oldLogProb``, so the
PPO ratio starts at exactly 1), ``sampleCategorical`` and ``sampleActionFromLogits``.

Invariants enforced:
- logits are a non-empty vector of finite reals (``Tensor α [nActions]`` with ``NeZero nActions``);
- ``action_log_softmax`` is computed max-shifted with an exactly rounded sum (``math.fsum``), so it
  is finite and accurate for logits up to ±1e300;
- ``sample_categorical(seed, counter, probs)`` returns ``(counter + 1, a)`` where ``a`` is the
  first index whose running sum exceeds ``uniform(seed, counter)``, or the last index if rounding
  leaves the total at or below the draw (Lean's ``default``). No global RNG state is touched.
"""

from __future__ import annotations

import math
from typing import Any, Sequence

from .errors import ArgumentError
from .random_stream import uniform

__all__ = ["action_log_softmax", "action_policy", "as_logits", "categorical_index", "sample_action_from_logits",
           "sample_categorical"]


def as_logits(logits: Any, field: str = "logits") -> list[float]:
    """``logits`` (list, tuple or 1-D numpy array) as a list of finite floats; rejects the rest."""
    if hasattr(logits, "tolist") and not isinstance(logits, (list, tuple)):
        shape = getattr(logits, "shape", None)
        if shape is not None and len(shape) != 1:
            raise ArgumentError(f"{field} has shape {list(shape)}; a vector [n_actions] is required")
        logits = logits.tolist()
    if not isinstance(logits, (list, tuple)):
        raise ArgumentError(f"{field}={logits!r:.80} should be a vector of floats")
    out: list[float] = []
    for i, x in enumerate(logits):
        if isinstance(x, bool) or not isinstance(x, (int, float)):
            raise ArgumentError(f"{field}[{i}]={x!r} is not a real number")
        try:
            x = float(x)
        except OverflowError:
            raise ArgumentError(f"{field}[{i}]={x!r:.40} is too large for a float") from None
        if math.isnan(x) or math.isinf(x):
            raise ArgumentError(f"{field}[{i}]={x} is not finite")
        out.append(x)
    if not out:
        raise ArgumentError(f"{field} is empty; n_actions must be positive (NeZero nActions)")
    return out


def action_policy(logits: Any) -> list[float]:
    """Softmax probabilities (max-shifted, so large logits do not overflow)."""
    zs = as_logits(logits)
    m = max(zs)
    exps = [math.exp(z - m) for z in zs]
    total = math.fsum(exps)
    return [e / total for e in exps]


def action_log_softmax(logits: Any, action: int) -> float:
    """``log_softmax(logits)[action]``, unclamped (TorchLean ``actionLogSoftmax``)."""
    zs = as_logits(logits)
    if isinstance(action, bool) or not hasattr(action, "__index__") or not 0 <= int(action) < len(zs):
        raise ArgumentError(f"action={action!r} is not in Fin {len(zs)}")
    m = max(zs)
    log_total = math.log(math.fsum(math.exp(z - m) for z in zs))
    return (zs[int(action)] - m) - log_total


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
        cum += p
        if cum > u:
            return k
    return len(probs) - 1


def sample_categorical(seed: int, counter: int, probs: Sequence[float]) -> tuple[int, int]:
    """Inverse-CDF draw from ``probs`` with the uniform of ``(seed, counter)``; returns ``(counter + 1, a)``."""
    if len(probs) == 0:
        raise ArgumentError("probs is empty; n_actions must be positive (NeZero nActions)")
    u = uniform(seed, counter)  # validates seed and counter as words in [0, 2**64)
    return int(counter) + 1, categorical_index(u, probs)


def sample_action_from_logits(seed: int, counter: int, logits: Any) -> tuple[int, int]:
    """Softmax then :func:`sample_categorical` (TorchLean ``sampleActionFromLogits``)."""
    return sample_categorical(seed, counter, action_policy(logits))
