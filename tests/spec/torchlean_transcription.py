"""An independent transcription of the TorchLean definitions that ``rollcheck.spec`` claims to equal.

Written separately from ``rollcheck/spec`` (it imports nothing from rollcheck) and in the shape of
the Lean source rather than rollcheck's: folds are ``functools.reduce`` as Lean's ``foldl``, the
``UInt64`` arithmetic goes through :func:`u64`, ``Id.run do`` loops keep Lean's mutable variables
and ``Option`` (``chosen``), and each function names the Lean definition it transcribes. Source:
lean-dojo/TorchLean at commit 0f845313599795032960d487708c309e1fb2f40e (``NN/Spec/Core/Random.lean``,
``NN/Runtime/RL/Algorithms/PolicyGradient.lean``, ``NN/Runtime/RL/PPO/Collect.lean``,
``NN/Spec/Layers/Activation.lean``), 411682f6c3d913e5cdbc27d4546b3ab7ac0e3e9c
(``NN/Runtime/RL/Core.lean``, ``NN/Spec/RL/Core.lean``) and 4ec1f62bf8308e2dc7f4d73e64205e66270ccfd1
(``normalizeZscoreSpec``). Lean's ``Float`` is IEEE binary64, so Python floats are the same type;
``Float.exp``/``Float.log`` are C's ``exp``/``log`` (NaN/inf instead of Python exceptions).

The tests compare this module with ``rollcheck.spec`` under Hypothesis
(``test_torchlean_transcription.py``); no Lean toolchain runs here.
"""

from __future__ import annotations

import math
from functools import reduce
from typing import Any, Callable, Optional, Sequence

TWO64 = 2 ** 64


def u64(n: int) -> int:
    """``UInt64.ofNat n`` (and every ``UInt64`` operation's wrap)."""
    return n % TWO64


# --- NN/Spec/Core/Random.lean -------------------------------------------------------------------

def splitmix64(x: int) -> int:
    z1 = u64(x + 0x9E3779B97F4A7C15)
    z2 = u64((z1 ^ (z1 >> 30)) * 0xBF58476D1CE4E5B9)
    z3 = u64((z2 ^ (z2 >> 27)) * 0x94D049BB133111EB)
    return z3 ^ (z3 >> 31)


def keyOf(seed: int, counter: int) -> int:
    return splitmix64(u64(u64(seed) + u64(counter)))


def sampleNat(key: int, linearIndex: int, denom: int = 2 ** 32) -> int:
    n = splitmix64(u64(key + u64(linearIndex)))
    return n % denom if denom != 0 else n  # Lean: n % 0 = n


def sampleUnit(u: int, denom: int) -> float:
    return float(u) / float(denom)


def uniform_scalar(key: int) -> float:
    """``Spec.Random.uniform key (s := Shape.scalar)`` = ``Internal.uniform key 0`` at ``.scalar``."""
    denom = 2 ** 32
    return sampleUnit(sampleNat(key, 0, denom), denom)


# --- Float primitives as Lean evaluates them ----------------------------------------------------

def fexp(x: float) -> float:
    try:
        return math.exp(x)
    except OverflowError:
        return math.inf


def flog(x: float) -> float:
    if math.isnan(x) or x < 0.0:
        return math.nan
    if x == 0.0:
        return -math.inf
    return math.log(x)


def fdiv(a: float, b: float) -> float:
    try:
        return a / b
    except ZeroDivisionError:
        if a == 0.0 or math.isnan(a):
            return math.nan
        return math.inf if (a > 0) == (math.copysign(1.0, b) > 0) else -math.inf


def maxOfLe(x: float, y: float) -> float:
    return y if x <= y else x


def minOfLe(x: float, y: float) -> float:
    return x if x <= y else y


def sumSpec(xs: Sequence[float]) -> float:
    return reduce(lambda acc, x: acc + x, xs, 0.0)


# --- NN/Spec/Layers/Activation.lean --------------------------------------------------------------

def maxVecSpec(t: Sequence[float]) -> float:
    return reduce(lambda acc, x: maxOfLe(acc, x), t[1:], t[0])


def maxShiftedExpVecSpec(t: Sequence[float]) -> list[float]:
    m = maxVecSpec(t)
    return [fexp(x - m) for x in t]


def softmaxVecSpec(t: Sequence[float]) -> list[float]:
    ex = maxShiftedExpVecSpec(t)
    denom = sumSpec(ex)
    return [fdiv(e, denom) for e in ex]


def logSoftmaxVecSpec(t: Sequence[float]) -> list[float]:
    maxT = maxVecSpec(t)
    shifted = [x - maxT for x in t]
    denom = sumSpec(maxShiftedExpVecSpec(t))
    logDenom = flog(denom)
    return [s - logDenom for s in shifted]


# --- NN/Runtime/RL/Algorithms/PolicyGradient.lean ------------------------------------------------

DEFAULT_EPSILON = 1e-6  # Context Float: defaultEpsilon := 1e-6


def actionPolicy(logits: Sequence[float]) -> list[float]:
    return softmaxVecSpec(logits)


def actionProbability(logits: Sequence[float], action: int, epsilon: float = DEFAULT_EPSILON) -> float:
    p = actionPolicy(logits)[action]
    return minOfLe(1.0 - epsilon, maxOfLe(epsilon, p))


def actionLogProbability(logits: Sequence[float], action: int, epsilon: float = DEFAULT_EPSILON) -> float:
    return flog(actionProbability(logits, action, epsilon))


def actionLogSoftmax(logits: Sequence[float], action: int) -> float:
    return logSoftmaxVecSpec(logits)[action]


def sampleCategorical(seed: int, counter: int, probs: Sequence[float]) -> tuple[int, int]:
    """The 0f845313 body: ``for k in idxs do if chosen.isNone then ... cum := cum + pk; if gt then chosen := k``."""
    nActions = len(probs)
    key = keyOf(seed, counter)
    u = uniform_scalar(key)
    default = nActions - 1
    cum = 0.0
    chosen: Optional[int] = None
    for k in range(nActions):
        if chosen is None:
            cum = cum + probs[k]
            if cum > u:
                chosen = k
    return counter + 1, (default if chosen is None else chosen)


def sampleActionFromLogits(seed: int, counter: int, logits: Sequence[float]) -> tuple[int, int]:
    return sampleCategorical(seed, counter, actionPolicy(logits))


# --- NN/Spec/RL/Core.lean and NN/Runtime/RL/Core.lean ---------------------------------------------

def continueMask(done: bool) -> float:
    return 0.0 if done else 1.0


def discountedBackup(reward: float, gamma: float, bootstrap: float, done: bool) -> float:
    return reward + gamma * continueMask(done) * bootstrap


def discountedReturnsVecDone(gamma: float, rewards: Sequence[float], dones: Sequence[bool],
                             bootstrap: float = 0.0) -> list[float]:
    n = len(rewards)
    returns = [0.0] * n
    g = bootstrap
    for t in range(n):
        idx = n - 1 - t
        g = discountedBackup(rewards[idx], gamma, g, dones[idx])
        returns[idx] = g
    return returns


def generalizedAdvantageEstimationVec(gamma: float, lam: float, rewards: Sequence[float], values: Sequence[float],
                                      nextValues: Sequence[float], dones: Sequence[bool]) -> list[float]:
    n = len(rewards)
    advs = [0.0] * n
    advNext = 0.0
    for t in range(n):
        idx = n - 1 - t
        mask = continueMask(dones[idx])
        delta = rewards[idx] + gamma * mask * nextValues[idx] - values[idx]
        adv = delta + gamma * lam * mask * advNext
        advNext = adv
        advs[idx] = adv
    return advs


def returnsFromAdvantagesVec(advantages: Sequence[float], values: Sequence[float]) -> list[float]:
    return [a + v for a, v in zip(advantages, values)]


# --- normalizeZscoreSpec (4ec1f62) ----------------------------------------------------------------

def normalizeZscoreSpec(vector: Sequence[float]) -> list[float]:
    n = len(vector)
    if n == 0:
        return list(vector)
    count = float(n)
    mean = sumSpec(vector) / count
    centered = [v - mean for v in vector]
    variance = sumSpec([c * c for c in centered]) / count
    std = math.sqrt(variance) if not (math.isnan(variance) or variance < 0.0) else math.nan
    if std > 0.0:
        return [c / std for c in centered]
    return centered


# --- NN/Runtime/RL/PPO/Collect.lean: collectRolloutFromCallbacks over a Gymnasium env -------------

def collectRolloutFromGymnasiumEnv(env: Any, reset_seed: int, predictLogits: Callable[[Any], Any],
                                   predictValue: Callable[[Any], Any], rngSeed: int, rngCounter: int,
                                   horizon: int, logProb: str = "actionLogSoftmax") -> tuple[list[dict], int]:
    """The callbacks loop with ``CheckedSession.gymnasium (seed? := some resetSeed) (resetOnDone := true)``.

    ``env`` is a Gymnasium env; ``castObservation`` is the identity on float64. Returns the steps
    as dicts (Lean's ``Step`` fields) and the final counter. ``logProb`` picks the generation's
    ``oldLogProb`` formula (``"actionLogSoftmax"`` at 0f845313, ``"actionLogProbability"`` before).
    """
    import numpy as np

    obs, _ = env.reset(seed=reset_seed)                         # let mut sess ← start
    steps: list[dict] = []
    counter = rngCounter
    for _t in range(horizon):
        state = np.array(obs, dtype=np.float64)                 # obs := map castObservation (observe sess)
        logits = [float(x) for x in np.asarray(predictLogits(state)).ravel()]
        counter, a = sampleActionFromLogits(rngSeed, counter, logits)
        lp = actionLogSoftmax(logits, a) if logProb == "actionLogSoftmax" else actionLogProbability(logits, a)
        v = float(predictValue(state))
        next_obs, reward, terminated, truncated, _ = env.step(a)  # (tr, sess') ← stepChecked sess a
        done = bool(terminated) or bool(truncated)
        nv = float(predictValue(np.array(next_obs, dtype=np.float64)))
        steps.append({"state": state, "action": a, "oldLogProb": lp, "reward": float(reward), "done": done,
                      "value": v, "nextValue": nv, "terminated": bool(terminated)})
        obs = env.reset()[0] if done else next_obs              # resetOnDone := true
    return steps, counter
