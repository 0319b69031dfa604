"""The vectorised PPO action sampler: one categorical draw per sub-env, bit-equal to the spec's.

Mirrors TorchLean's ``Spec.Random.uniform seed counter`` and
``NN.Runtime.RL.Algorithms.PolicyGradient.sampleActionFromLogits`` / ``actionLogSoftmax`` run on a
batch of ``N`` independent RNG streams ``(seeds[i], counters[i])`` (rollcheck's oracles:
:func:`rollcheck.spec.uniform`, :func:`rollcheck.spec.sample_action_from_logits`,
:func:`rollcheck.spec.action_log_softmax`). The fast path of :mod:`rollcheck.impl.vector_collect`.

Invariant enforced (tested with Hypothesis against the spec): row ``i`` of
:func:`uniform_batch` is ``uniform(seeds[i], counters[i])`` and row ``i`` of
:func:`sample_actions_from_logits_batch` is ``sample_action_from_logits(seeds[i], counters[i],
logits[i])`` with its ``action_log_softmax``, *bit for bit*:

- the uniforms are SplitMix64 in numpy ``uint64`` arithmetic (:func:`uniform_u64`; ``uint64``
  arrays wrap modulo ``2**64`` exactly as the spec masks with ``MASK64``, and the top 53 bits
  convert to float64 exactly);
- the categorical draw and the log-softmax run the spec's scalar float operations row by row on
  Python floats (:func:`sample_rows`), so no BLAS or SIMD reduction reorders a sum;
- seeds and counters are ints in ``[0, 2**64)`` (:func:`rng_words` rejects the rest, as the spec
  does: wrapping would alias streams); non-finite logits raise the spec's own error
  (:func:`raise_bad_logits`). Counters are never advanced here: the caller adds one per draw.

References: Steele, Lea & Flood, "Fast splittable pseudorandom number generators" (OOPSLA 2014);
Vigna's reference ``splitmix64.c``.
"""

from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np

from rollcheck.spec import ArgumentError, sample_action_from_logits
from rollcheck.spec.random_stream import GOLDEN_GAMMA, MASK64

__all__ = ["raise_bad_logits", "rng_words", "sample_actions_from_logits_batch", "sample_rows", "uniform_batch",
           "uniform_u64"]

_U = np.uint64
_GOLDEN, _M1, _M2 = _U(GOLDEN_GAMMA), _U(0xBF58476D1CE4E5B9), _U(0x94D049BB133111EB)
_S11, _S27, _S30, _S31, _ONE = _U(11), _U(27), _U(30), _U(31), _U(1)


def uniform_u64(seeds: np.ndarray, counters: np.ndarray) -> np.ndarray:
    """``uniform(seed, counter)`` elementwise on ``uint64`` arrays (broadcast); no argument checks."""
    z = seeds + (counters + _ONE) * _GOLDEN  # uint64 arrays wrap mod 2**64, as the spec's mask
    z = (z ^ (z >> _S30)) * _M1
    z = (z ^ (z >> _S27)) * _M2
    z = z ^ (z >> _S31)
    return (z >> _S11).astype(np.float64) * (2.0 ** -53)  # < 2**53: converted exactly


def rng_words(name: str, values: Any, n: "int | None" = None) -> np.ndarray:
    """``values`` as a ``uint64`` array after checking each is an int in ``[0, 2**64)`` (and, with
    ``n``, that there is one per sub-env); the error names ``name`` and the offending entry."""
    if isinstance(values, (list, tuple)):
        items = list(values)
    else:
        items = list(np.asarray(values, dtype=object).reshape(-1))
    if n is not None and len(items) != n:
        raise ArgumentError(f"{name} has {len(items)} entries; expected one per sub-env (num_envs={n})")
    for i, v in enumerate(items):
        if isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, np.integer)) or not 0 <= v <= MASK64:
            raise ArgumentError(f"{name}[{i}]={v!r} should be an int in [0, 2**64)")
    return np.array([int(v) for v in items], dtype=np.uint64)


def uniform_batch(seeds: Sequence[int], counters: Sequence[int]) -> np.ndarray:
    """``[uniform(seeds[i], counters[i]) for i]`` as a float64 array, bit for bit."""
    s = rng_words("seeds", seeds)
    return uniform_u64(s, rng_words("counters", counters, len(s)))


def sample_rows(rows: list, us: list) -> tuple[list[int], list[float]]:
    """The spec's ``action_policy`` + ``sample_categorical`` + ``action_log_softmax`` float operations.

    ``rows`` are finite logit rows (lists of Python floats), ``us`` their uniforms. Two actions (the
    common case) take a shortcut with the same floats: ``max`` keeps the first maximal entry;
    ``fsum`` of two doubles is their IEEE sum (both are the correctly rounded sum); the running sum
    starts at ``0.0 + p0 == p0`` (``p0 >= 0``); and when ``p0 <= u`` the answer is index 1 whether
    or not ``p0 + p1 > u`` (the spec's default is the last index).
    """
    actions, log_probs = [], []
    exp, fsum, log = math.exp, math.fsum, math.log
    if rows and len(rows[0]) == 2:
        for (z0, z1), u in zip(rows, us):
            m = z1 if z1 > z0 else z0
            e0 = exp(z0 - m)
            total = e0 + exp(z1 - m)
            a = 0 if e0 / total > u else 1
            actions.append(a)
            log_probs.append(((z1 if a else z0) - m) - log(total))
        return actions, log_probs
    for zs, u in zip(rows, us):
        m = max(zs)
        exps = [exp(z - m) for z in zs]
        total = fsum(exps)
        cum, a = 0.0, len(zs) - 1
        for k, e in enumerate(exps):
            cum += e / total
            if cum > u:
                a = k
                break
        actions.append(a)
        log_probs.append((zs[a] - m) - log(total))
    return actions, log_probs


def raise_bad_logits(logits: np.ndarray, seeds: np.ndarray, counters: np.ndarray) -> None:
    """Raise the spec's error for the first row of ``logits`` that is not all finite (if any)."""
    for i in np.flatnonzero(~np.isfinite(logits).all(axis=1)).tolist():
        sample_action_from_logits(int(seeds[i]), int(counters[i]), logits[i])  # raises the spec's error


def sample_actions_from_logits_batch(seeds: Sequence[int], counters: Sequence[int],
                                     logits: Any) -> tuple[np.ndarray, np.ndarray]:
    """Row ``i``: ``sample_action_from_logits(seeds[i], counters[i], logits[i])`` and its
    ``action_log_softmax``, bit for bit; returns ``(actions int64 (N,), log_probs float64 (N,))``.
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
    raise_bad_logits(arr, s, c)
    actions, log_probs = sample_rows(arr.tolist(), uniform_u64(s, c).tolist())
    return np.array(actions, dtype=np.int64), np.array(log_probs, dtype=np.float64)
