"""Continuous (``Box``) actions in a rollout buffer: mapped env actions, Gaussian log-probs, the action law.

rollcheck's extension of TorchLean (whose collector records ``Fin nActions`` only), hooked into
:func:`rollcheck.properties.rollout.arrays.validate_arrays` (``action_space=Box(...)``) and
:func:`rollcheck.properties.rollout.sb3.validate_sb3` (SB3 PPO/A2C on a ``Box``). A continuous
buffer stores ``actions (T, N, *box.shape)``: the policy's *sample* — unclipped, or ``tanh(u)`` when
squashed — and ``logprobs (T, N)`` its log-probability (SB3's ``RolloutBuffer`` and CleanRL's
``ppo_continuous_action.py`` both do). The environment received ``clip(action, low, high)``, or
``low + (a + 1)(high - low)/2`` when squashed (:func:`env_actions`); that is what the trace holds.

The policy is anything with ``predict_gaussian(obs) -> (mean, log_std)`` (``predict_gaussian_batch``
used when present) and ``predict_value``. The properties keep the discrete ids:

- ``arrays.logprob_matches_policy`` — ``logprobs`` equals the spec's diagonal-Gaussian log-probability
  of the stored action (:mod:`rollcheck.spec.gaussian`, via the bit-equal fast path), with the tanh
  correction when squashed (the pre-tanh value is recovered with ``atanh``, as SB3's
  ``TanhBijector.inverse`` does; entries with ``|a| = 1`` cannot be inverted and are not compared).
  Named diagnoses: the log-probability of the *clipped* action; a missing tanh correction;
- ``arrays.actions_follow_policy`` — the standardised actions ``z = (u - mean)/exp(log_std)`` of every
  compared entry are jointly N(0, 1): a two-sided test on their mean and on their sum of squares
  (chi-square, Wilson–Hilferty), each at false-alarm probability 5e-7, so at most 1e-6 per buffer.
  A collector that ignores the log-std, takes the mean action, or swaps mean and std fails it.

Invariant enforced: the expected side comes from the policy alone; tolerances follow
:class:`~rollcheck.properties.core.tolerances.Tolerances` (quantity ``log_prob``) with a scale
that is the magnitude of the Gaussian terms summed.
"""

from __future__ import annotations

import math
from typing import Any, Callable

import numpy as np

from rollcheck.impl.fast_gaussian import diag_gaussian_log_prob_batch, squashed_log_prob_batch
from rollcheck.spec.box import Box
from rollcheck.spec.errors import ArgumentError

from rollcheck.properties.core.report import Finding, PropertyResult
from rollcheck.properties.core.tolerances import Tolerances, produced_eps
from rollcheck.properties.rollout.arrays_catalog import (ARRAYS_ACTIONS_FOLLOW_POLICY, ARRAYS_LOGPROB_MATCHES_POLICY,
                                                         ARRAYS_NEXT_VALUE_MATCHES_CRITIC,
                                                         ARRAYS_VALUE_MATCHES_CRITIC, compare_result,
                                                         property_result, skip_result, within)

__all__ = ["FALSE_ALARM", "box_policy_checks", "env_actions", "gaussian_fns", "gaussian_law_test"]

FALSE_ALARM = 1e-6
_Z = 5.0263   # two-sided N(0,1) quantile for 5e-7 (each of the two statistics; Bonferroni to 1e-6)


def gaussian_fns(policy: Any) -> "tuple[Callable, Callable]":
    """``(gaussian_batch, values_batch)``: ``gaussian_batch(obs (B, *obs)) -> (mean (B, d), log_std (B, d))``."""
    if not (hasattr(policy, "predict_gaussian") and hasattr(policy, "predict_value")):
        raise ArgumentError(f"policy={policy!r:.80} should have predict_gaussian/predict_value for a Box action space")
    gauss_b = getattr(policy, "predict_gaussian_batch", None)
    value_b = getattr(policy, "predict_value_batch", None)

    def gauss_rows(x: Any) -> "tuple[np.ndarray, np.ndarray]":
        pairs = [policy.predict_gaussian(o) for o in x]
        return (np.stack([np.asarray(m, dtype=np.float64).reshape(-1) for m, _ in pairs]),
                np.stack([np.asarray(s, dtype=np.float64).reshape(-1) for _, s in pairs]))

    return gauss_b or gauss_rows, value_b or (lambda x: np.array([float(policy.predict_value(o)) for o in x]))


def env_actions(actions: np.ndarray, box: Box, squash: bool) -> np.ndarray:
    """What the environment received for stored ``actions (..., *box.shape)``: clipped, or rescaled."""
    a = np.asarray(actions, dtype=np.float64).reshape(*np.shape(actions)[:-box.shape.rank or None], box.size)
    if squash:
        if not box.bounded:
            raise ArgumentError(f"a tanh-squashed policy needs a bounded Box; got {box.describe()}")
        lo, hi = np.asarray(box.low), np.asarray(box.high)
        out = lo + 0.5 * (a + 1.0) * (hi - lo)
    else:
        out = np.clip(a, np.asarray(box.lows()), np.asarray(box.highs()))
    return out.reshape(np.shape(actions))


def gaussian_law_test(z: np.ndarray) -> "tuple[bool, dict]":
    """Is ``z`` (any shape) a sample of iid N(0, 1)? ``(rejected, details)`` at false alarm <= 1e-6."""
    z = np.asarray(z, dtype=np.float64).reshape(-1)
    z = z[np.isfinite(z)]
    n = int(z.size)
    if n < 8:
        return False, {"n": n, "note": "fewer than 8 standardised entries: not tested"}
    s_mean = float(z.sum() / math.sqrt(n))
    q = float((z * z).sum())
    s_var = ((q / n) ** (1.0 / 3.0) - (1.0 - 2.0 / (9.0 * n))) / math.sqrt(2.0 / (9.0 * n))
    rejected = abs(s_mean) > _Z or abs(s_var) > _Z
    return rejected, {"n": n, "mean_statistic": s_mean, "spread_statistic": s_var, "threshold": _Z,
                      "false_alarm": FALSE_ALARM, "mean_z": float(z.mean()), "mean_z2": q / n}


def box_policy_checks(cols: dict, fns: "tuple | None", box: Box, squash: bool, rng: Any, sample: "int | None",
                      tolerances: Tolerances, meta: dict) -> list[PropertyResult]:
    """The continuous counterparts of the policy checks (same ids; module docstring)."""
    props = (ARRAYS_LOGPROB_MATCHES_POLICY, ARRAYS_VALUE_MATCHES_CRITIC, ARRAYS_NEXT_VALUE_MATCHES_CRITIC,
            ARRAYS_ACTIONS_FOLLOW_POLICY)
    if fns is None:
        return [skip_result(prop, "no policy= given") for prop in props]
    gauss_fn, value_fn = fns
    t_len, n_env = cols["logprobs"].shape[:2]
    k = t_len * n_env
    obs_flat = cols["obs"].reshape(k, *cols["obs"].shape[2:])
    acts = np.asarray(cols["actions"], dtype=np.float64).reshape(k, box.size)
    checked = np.ones(k, bool)
    if sample is not None and sample < k:
        gen = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
        checked[:] = False
        checked[gen.choice(k, size=sample, replace=False)] = True
    rows = np.flatnonzero(checked)
    mean = np.full((k, box.size), np.nan)
    log_std = np.full((k, box.size), np.nan)
    values = np.full(k, np.nan)
    if rows.size:
        m, s = gauss_fn(obs_flat[rows])
        mean[rows] = np.asarray(m, dtype=np.float64).reshape(rows.size, box.size)
        log_std[rows] = np.broadcast_to(np.asarray(s, dtype=np.float64).reshape(-1, box.size), (rows.size, box.size))
        values[rows] = np.asarray(value_fn(obs_flat[rows]), dtype=np.float64).reshape(-1)
    if squash:
        invertible = np.all(np.abs(acts) < 1.0, axis=1)
        with np.errstate(divide="ignore", invalid="ignore"):
            u = np.arctanh(np.clip(acts, -1.0, 1.0))
    else:
        invertible = np.ones(k, bool)
        u = acts
    compare = checked & invertible
    idx = np.flatnonzero(compare)
    expected = np.full(k, np.nan)
    plain = np.full(k, np.nan)
    if idx.size:
        plain[idx] = diag_gaussian_log_prob_batch(mean[idx], log_std[idx], u[idx])
        expected[idx] = squashed_log_prob_batch(mean[idx], log_std[idx], u[idx]) if squash else plain[idx]
    got = cols["logprobs"].reshape(-1).astype(np.float64)
    with np.errstate(invalid="ignore", over="ignore"):
        zs = (u - mean) * np.exp(-log_std)
        scale = 1.0 + np.nansum(np.abs(zs * zs) + np.abs(log_std) + 1.0, axis=1)
    allowed = tolerances.allowed("log_prob", expected, produced_eps(cols["logprobs"]), scale)
    res = compare_result(props[0], "logprobs", expected.reshape(t_len, n_env), got.reshape(t_len, n_env),
                         allowed.reshape(t_len, n_env), checked=compare.reshape(t_len, n_env), meta=meta)
    if res.findings:
        res.findings[0].message += _log_prob_diagnosis(got, mean, log_std, acts, box, squash, plain, allowed, idx)
    v_allowed = tolerances.allowed("value", values, produced_eps(cols["values"]),
                                   float(np.nanmean(np.abs(values))) if idx.size else 0.0)
    out = [res, compare_result(props[1], "values", values.reshape(t_len, n_env), cols["values"],
                               v_allowed.reshape(t_len, n_env), checked=checked.reshape(t_len, n_env), meta=meta)]
    if "next_value" in cols and "next_obs" in cols:
        nv = np.asarray(value_fn(cols["next_obs"]), dtype=np.float64).reshape(-1)
        out.append(compare_result(props[2], "next_value", nv, cols["next_value"],
                                  tolerances.allowed("value", nv, produced_eps(cols["next_value"]), 0.0)))
    else:
        out.append(skip_result(props[2], "needs next_obs and next_value arrays"))
    law = property_result(props[3], examples=1, steps=int(idx.size))
    rejected, details = gaussian_law_test(zs[idx])
    meta[props[3]] = details
    if rejected:
        law.fail(Finding(message=("the buffer's actions are not draws from N(mean, exp(log_std)) at the stored "
                                  f"observations: standardised actions have mean {details['mean_z']:+.4g} and mean "
                                  f"square {details['mean_z2']:.4g} over {details['n']} entries (N(0, 1): 0 and 1; "
                                  f"statistics {details['mean_statistic']:+.3g}, {details['spread_statistic']:+.3g}, "
                                  f"threshold ±{_Z:.3g}, false alarm {FALSE_ALARM:g})"),
                         expected="z = (u - mean) / exp(log_std) ~ N(0, 1)", context=details))
    out.append(law)
    return out


def _log_prob_diagnosis(got: np.ndarray, mean: np.ndarray, log_std: np.ndarray, acts: np.ndarray, box: Box,
                        squash: bool, plain: np.ndarray, allowed: np.ndarray, idx: np.ndarray) -> str:
    """Named diagnoses: the log-probability of the clipped action; the tanh correction left out."""
    if squash:
        if idx.size and within(plain[idx], got[idx], allowed[idx]).mean() >= 0.9:
            return ("; diagnosis: the tanh correction is missing — logprobs equal the Gaussian log-probability of "
                    "the pre-tanh sample without - sum log(1 - tanh(u)^2 + eps)")
        return ""
    clipped = env_actions(acts, box, False)
    moved = idx[np.any(clipped[idx] != acts[idx], axis=1)]
    if moved.size:
        of_clipped = diag_gaussian_log_prob_batch(mean[moved], log_std[moved], clipped[moved])
        if within(of_clipped, got[moved], allowed[moved]).mean() >= 0.9:
            return ("; diagnosis: log-probability of the clipped action — where the sample was clipped, logprobs "
                    "equal log pi(clip(a)), not log pi(a) of the unclipped sample (SB3/CleanRL record the latter)")
    return ""
