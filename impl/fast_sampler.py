"""The vectorised PPO action sampler: one categorical draw per sub-env, bit-equal to the spec's.

Mirrors TorchLean's ``Spec.Random.keyOf`` / ``sampleNat`` / ``uniform`` and
``NN.Runtime.RL.Algorithms.PolicyGradient.sampleActionFromLogits`` / ``actionLogSoftmax`` run on a
batch of ``N`` independent RNG streams ``(seeds[i], counters[i])`` (rollcheck's oracles:
:func:`rollcheck.spec.uniform`, :func:`rollcheck.spec.sample_action_from_logits`,
:func:`rollcheck.spec.action_log_softmax`; TorchLean commit 0f845313599795032960d487708c309e1fb2f40e).
The fast path of :mod:`rollcheck.impl.vector_collect`.

Invariant enforced (tested with Hypothesis against the spec): row ``i`` of
:func:`uniform_batch` is ``uniform(seeds[i], counters[i])`` and row ``i`` of
:func:`sample_actions_from_logits_batch` is ``sample_action_from_logits(seeds[i], counters[i],
logits[i])`` with its ``action_log_softmax``, *bit for bit*:

- the uniforms are ``splitmix64(splitmix64(seed + counter)) % 2**32 / 2**32`` in numpy ``uint64``
  arithmetic (:func:`uniform_u64`; ``uint64`` arrays wrap modulo ``2**64`` exactly as Lean's
  ``UInt64`` does, and a 32-bit integer times ``2**-32`` is exact in float64);
- the categorical draw and the log-softmax run the spec's scalar float operations row by row on
  Python floats (:func:`sample_rows`: Lean's max fold, the left-fold sum from ``0.0``, the running
  ``cum > u`` test), so no BLAS or SIMD reduction reorders a sum;
- seeds and counters are any non-negative ints, wrapped mod ``2**64`` as Lean's ``UInt64.ofNat``
  does (:func:`rng_words`); non-finite logits are sampled as TorchLean samples them (the last
  action, a NaN log-probability) — the collectors refuse them before calling here
  (:func:`raise_bad_logits`). Counters are never advanced here: the caller adds one per draw.

References: Steele, Lea & Flood, "Fast splittable pseudorandom number generators" (OOPSLA 2014).
"""

from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np

from rollcheck.spec import ArgumentError, sample_action_from_logits
from rollcheck.spec.policy_gradient import finite_logits, lean_exp, lean_log, max_vec
from rollcheck.spec.random_stream import GOLDEN_GAMMA, MASK64

__all__ = ["raise_bad_logits", "rng_nats", "rng_words", "sample_actions_from_logits_batch", "sample_rows", "uniform_batch",
           "uniform_u64"]

_U = np.uint64
_GOLDEN, _M1, _M2 = _U(GOLDEN_GAMMA), _U(0xBF58476D1CE4E5B9), _U(0x94D049BB133111EB)
_S27, _S30, _S31, _LOW32 = _U(27), _U(30), _U(31), _U(0xFFFFFFFF)


def _splitmix64(x: np.ndarray) -> np.ndarray:
    z = x + _GOLDEN  # uint64 arrays wrap mod 2**64, as Lean's UInt64
    z = (z ^ (z >> _S30)) * _M1
    z = (z ^ (z >> _S27)) * _M2
    return z ^ (z >> _S31)


def uniform_u64(seeds: np.ndarray, counters: np.ndarray) -> np.ndarray:
    """``uniform(seed, counter)`` elementwise on ``uint64`` arrays (broadcast); no argument checks.

    ``keyOf = splitmix64(seed + counter)``; ``sampleNat key 0 = splitmix64(key + 0) % 2**32``; the
    uniform is that integer over ``2**32`` (exact: a 32-bit integer scaled by a power of two).
    """
    with np.errstate(over="ignore"):
        key = _splitmix64(seeds + counters)
        word = _splitmix64(key)
    return (word & _LOW32).astype(np.float64) * (2.0 ** -32)


def rng_nats(name: str, values: Any, n: "int | None" = None) -> list[int]:
    """``values`` as Python ints after checking each is a non-negative int (Lean ``Nat``, any size)
    and, with ``n``, that there is one per sub-env; the error names ``name`` and the offending entry."""
    if isinstance(values, (list, tuple)):
        items = list(values)
    else:
        items = list(np.asarray(values, dtype=object).reshape(-1))
    if n is not None and len(items) != n:
        raise ArgumentError(f"{name} has {len(items)} entries; expected one per sub-env (num_envs={n})")
    for i, v in enumerate(items):
        if isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, np.integer)) or v < 0:
            raise ArgumentError(f"{name}[{i}]={v!r} should be a non-negative int (Lean Nat)")
    return [int(v) for v in items]


def rng_words(name: str, values: Any, n: "int | None" = None) -> np.ndarray:
    """:func:`rng_nats` as a ``uint64`` array of Lean ``UInt64.ofNat`` words (each wrapped mod ``2**64``)."""
    return np.array([v & MASK64 for v in rng_nats(name, values, n)], dtype=np.uint64)


def uniform_batch(seeds: Sequence[int], counters: Sequence[int]) -> np.ndarray:
    """``[uniform(seeds[i], counters[i]) for i]`` as a float64 array, bit for bit."""
    s = rng_words("seeds", seeds)
    return uniform_u64(s, rng_words("counters", counters, len(s)))


def sample_rows(rows: list, us: list) -> tuple[list[int], list[float]]:
    """The spec's ``action_policy`` + ``sample_categorical`` + ``action_log_softmax`` float operations.

    ``rows`` are logit rows (lists of Python floats), ``us`` their uniforms. Two finite actions (the
    common case) take a shortcut with the same floats: Lean's max of two is ``z1 if z0 <= z1 else
    z0``; the left-fold sum ``(0.0 + e0) + e1`` equals ``e0 + e1`` (``e0 >= 0``, so ``0.0 + e0 ==
    e0``); the running sum starts at ``0.0 + p0 == p0``; and when ``p0 <= u`` the answer is index 1
    whether or not ``p0 + p1 > u`` (the spec's default is the last index). Other rows run the
    general loop, which is the spec's code path for NaN and ±inf too.
    """
    actions, log_probs = [], []
    exp, log, isfinite = math.exp, math.log, math.isfinite
    for zs, u in zip(rows, us):
        if len(zs) == 2 and isfinite(zs[0]) and isfinite(zs[1]):
            z0, z1 = zs
            m = z1 if z0 <= z1 else z0
            e0 = exp(z0 - m)
            total = e0 + exp(z1 - m)
            a = 0 if e0 / total > u else 1
            actions.append(a)
            log_probs.append(((z1 if a else z0) - m) - log(total))
            continue
        m = max_vec(zs)
        exps = [lean_exp(z - m) for z in zs]
        total = 0.0
        for e in exps:
            total = total + e
        cum, a = 0.0, len(zs) - 1
        for k, e in enumerate(exps):
            cum = cum + e / total
            if cum > u:
                a = k
                break
        actions.append(a)
        log_probs.append((zs[a] - m) - lean_log(total))
    return actions, log_probs


def raise_bad_logits(logits: np.ndarray, seeds: np.ndarray, counters: np.ndarray) -> None:
    """The collectors' check: raise for the first row of ``logits`` that is not all finite (if any).

    TorchLean would sample the last action from such a row and record a NaN log-probability; the
    collectors refuse it instead (README "Deviations"). ``seeds``/``counters`` are kept for callers.
    """
    del seeds, counters
    for i in np.flatnonzero(~np.isfinite(logits).all(axis=1)).tolist():
        finite_logits(logits[i], f"sub-env {i}: logits")  # raises the spec's error, naming the row


def sample_actions_from_logits_batch(seeds: Sequence[int], counters: Sequence[int],
                                     logits: Any) -> tuple[np.ndarray, np.ndarray]:
    """Row ``i``: ``sample_action_from_logits(seeds[i], counters[i], logits[i])`` and its
    ``action_log_softmax``, bit for bit (non-finite rows included: the last action and a NaN
    log-probability, as TorchLean); returns ``(actions int64 (N,), log_probs float64 (N,))``.
    Counters are not advanced here (the caller adds one per draw)."""
    s = rng_words("seeds", seeds)
    c = rng_words("counters", counters, len(s))
    raw = np.asarray(logits)
    if raw.dtype.kind not in "fiu" and raw.ndim == 2 and raw.shape[0] == len(s) and raw.shape[1] > 0:
        for i in range(len(s)):  # not a real dtype (booleans, objects): the spec judges each row
            sample_action_from_logits(int(s[i]), int(c[i]), raw[i])  # raises the spec's error
    arr = raw.astype(np.float64, copy=False)
    if arr.ndim != 2 or arr.shape[0] != len(s) or arr.shape[1] == 0:
        raise ArgumentError(f"logits has shape {list(arr.shape)}; expected [{len(s)}, n_actions > 0]")
    actions, log_probs = sample_rows(arr.tolist(), uniform_u64(s, c).tolist())
    return np.array(actions, dtype=np.int64), np.array(log_probs, dtype=np.float64)
