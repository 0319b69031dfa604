"""Statistical tests of a sampler nobody can replay: are the recorded actions draws from the policy?

Mirrors what TorchLean's ``PolicyGradient.sampleActionFromLogits`` promises *in distribution*
(``P(a | s) = actionPolicy(logits(s))[a]``) for collectors that sample their own way (torch's
``Categorical``, SB3, CleanRL): the exact ``(seed, counter)`` check cannot apply, so rollcheck
tests the recorded actions against the policy's probabilities at the recorded states, pooled over
every step of every run, with a stated false-alarm probability :data:`FALSE_ALARM` per run.

The test (:func:`actions_follow_policy`): each draw ``i`` with probabilities ``p_i`` and recorded
action ``a_i`` contributes ``Y_i = p_i[a_i] - sum_k p_i[k]**2``. Under the null (``a_i ~ p_i``,
given the state and everything before) ``E[Y_i] = 0``, ``|Y_i| <= 1`` and ``Var Y_i = sum p**3 -
(sum p**2)**2`` is known before ``a_i`` is drawn, so ``sum Y`` is a martingale and Freedman's
inequality bounds ``P(|sum Y| >= t and V <= v) <= 2 exp(-t**2 / (2 (v + t/3)))`` with ``V`` the
summed conditional variances. Since ``V`` is itself random, the threshold is taken at the grid
point ``v = 2**k`` just above the realised ``V`` with the false-alarm budget split over the
:data:`_LEVELS` grid points (a union bound), so the stated :data:`FALSE_ALARM` holds for every
policy and every trajectory the actions lead to. The statistic has power
against the classic wrong samplers: ``argmax`` (always the likeliest action: ``E[Y] = max p -
sum p**2 > 0``), an inverted softmax and a uniform sampler (both pick unlikely actions more often:
``E[Y] < 0`` by the rearrangement inequality), a temperature error, the wrong action index. An
action of probability exactly 0 is a violation outright (no correct sampler draws it).
:func:`chance_agreement` gives the probability that an independent correct draw reproduces a
recorded action sequence exactly — the seed-sensitivity and determinism judgements use it.

Invariant enforced: the false-alarm probability of :func:`actions_follow_policy` under a correct
sampler is at most ``alpha`` (default 1e-6) whatever the policies, and the result states the
threshold, the statistic and the smallest mean deviation per draw it could detect.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from rollcheck.spec.errors import ArgumentError

__all__ = ["FALSE_ALARM", "SamplerTest", "actions_follow_policy", "bernstein_threshold", "chance_agreement",
           "softmax_rows"]

FALSE_ALARM = 1e-6
_LEVELS = 64            # variance grid 2**-10 .. 2**53 (peeling for Freedman's inequality)
_V_MIN_EXP = -10


def softmax_rows(logits: np.ndarray) -> np.ndarray:
    """Max-shifted softmax over the last axis, float64 (rows of non-finite logits give NaN)."""
    z = np.asarray(logits, dtype=np.float64)
    with np.errstate(invalid="ignore", over="ignore"):
        e = np.exp(z - z.max(axis=-1, keepdims=True))
        return e / e.sum(axis=-1, keepdims=True)


def bernstein_threshold(variance: float, alpha: float) -> float:
    """The rejection threshold for summed conditional variance ``variance`` at false-alarm ``alpha``:
    the ``t`` with ``2 exp(-t**2 / (2 (v + t/3))) = alpha / _LEVELS`` at the grid point ``v = 2**k``
    just above ``variance`` (increments bounded by 1)."""
    if not 0 < alpha < 1:
        raise ArgumentError(f"alpha={alpha!r} should be in (0, 1)")
    k = max(_V_MIN_EXP, math.ceil(math.log2(variance))) if variance > 0 else _V_MIN_EXP
    if k - _V_MIN_EXP >= _LEVELS:
        raise ArgumentError(f"variance={variance!r} is beyond the test's grid (too many draws)")
    v = 2.0 ** k
    big_l = math.log(2.0 * _LEVELS / alpha)
    return big_l / 3.0 + math.sqrt((big_l / 3.0) ** 2 + 2.0 * big_l * v)


@dataclass(frozen=True)
class SamplerTest:
    """The outcome of :func:`actions_follow_policy` (all figures for the report)."""

    draws: int
    informative: int          # draws whose policy is not (numerically) deterministic or uniform
    statistic: float          # sum of Y_i
    threshold: float          # |statistic| >= threshold rejects
    variance: float
    impossible: tuple         # indices of draws of a probability-0 action (or out of range)
    alpha: float

    @property
    def rejected(self) -> bool:
        return bool(self.impossible) or abs(self.statistic) >= self.threshold

    @property
    def detectable_shift(self) -> float:
        """The mean deviation of ``p[a]`` per draw this many draws detect (``threshold / draws``)."""
        return self.threshold / self.draws if self.draws else math.inf

    def explain(self) -> str:
        if self.impossible:
            return (f"{len(self.impossible)} recorded action(s) have probability 0 under the policy at their "
                    f"state (first: draw {self.impossible[0]}) — no sampler of this policy draws them")
        mean = self.statistic / self.draws if self.draws else 0.0
        side = ("the likeliest actions are chosen more often than the policy says (an argmax or a too-low "
                "temperature)" if self.statistic > 0 else
                "unlikely actions are chosen more often than the policy says (a uniform, inverted or too-hot "
                "sampler, or the wrong action index)")
        return (f"over {self.draws} draws the recorded actions' mean probability exceeds its expectation by "
                f"{mean:+.4g} (sum {self.statistic:+.4g}, rejection threshold ±{self.threshold:.4g} for a "
                f"false-alarm probability {self.alpha:g}): {side}")

    def as_meta(self) -> dict:
        return {"draws": self.draws, "informative_draws": self.informative, "statistic": self.statistic,
                "threshold": self.threshold, "false_alarm": self.alpha,
                "detectable_mean_shift": self.detectable_shift}


def actions_follow_policy(probs: "list[np.ndarray]", actions: "list[int]", *,
                          alpha: float = FALSE_ALARM) -> SamplerTest:
    """Freedman (martingale Bernstein) test that ``actions[i] ~ probs[i]`` for every draw (module docstring).

    ``probs`` holds one probability vector per draw (a 2-D array, or a list whose rows may differ in length; each row
    is renormalised so float32 rounding of a user's softmax cannot bias the statistic).
    """
    if len(probs) != len(actions):
        raise ArgumentError(f"probs has {len(probs)} rows but actions has {len(actions)} entries")
    m = len(actions)
    if isinstance(probs, np.ndarray) and probs.ndim == 2:
        table = probs.astype(np.float64)
        sizes = np.full(m, probs.shape[1], dtype=np.int64)
    else:   # rows of different lengths, zero-padded (zeros change no sum)
        sizes = np.array([np.size(p) for p in probs], dtype=np.int64)
        table = np.zeros((m, max(int(sizes.max(initial=0)), 1)))
        for i, p in enumerate(probs):
            table[i, :sizes[i]] = np.asarray(p, dtype=np.float64).reshape(-1)
    acts = np.asarray([int(a) for a in actions], dtype=np.int64).reshape(-1)
    totals = table.sum(axis=1)
    usable = np.isfinite(table).all(axis=1) & (totals > 0)   # no distribution: judged elsewhere
    table = np.where(usable[:, None], table / np.where(usable, totals, 1.0)[:, None], 0.0)
    in_range = (acts >= 0) & (acts < sizes)
    chosen = np.where(in_range, table[np.arange(m), np.clip(acts, 0, table.shape[1] - 1)], 0.0)
    impossible = usable & (~in_range | (chosen == 0.0))
    ok = usable & ~impossible
    s2 = (table * table).sum(axis=1)
    v = np.maximum((table ** 3).sum(axis=1) - s2 * s2, 0.0)
    stat = float((chosen - s2)[ok].sum())
    var = float(v[ok].sum())
    return SamplerTest(draws=m, informative=int((ok & (v > 1e-12)).sum()), statistic=stat,
                       threshold=bernstein_threshold(var, alpha), variance=var,
                       impossible=tuple(int(k) for k in np.flatnonzero(impossible)), alpha=alpha)


def chance_agreement(probs: "list[np.ndarray]", actions: "list[int]") -> float:
    """``prod_i probs[i][actions[i]]``: the probability that independent correct draws at the same
    states reproduce ``actions`` exactly (1.0 for an empty sequence)."""
    log_p = 0.0
    for p, a in zip(probs, actions):
        p = np.asarray(p, dtype=np.float64)
        total = p.sum()
        if not np.isfinite(total) or total <= 0 or not 0 <= int(a) < p.size:
            continue
        q = float(p[int(a)]) / float(total)
        if q <= 0.0:
            return 0.0
        log_p += math.log(q)
    return math.exp(log_p)
