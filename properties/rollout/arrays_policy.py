"""The policy checks of a CleanRL-style rollout buffer: log-probs, values, next value, and the action distribution.

Mirrors TorchLean's ``PolicyGradient.actionLogSoftmax`` (``logprobs[t]``), ``collectRolloutFromCallbacks``'
``value := predictValue obs`` / ``nextValue`` and ``sampleActionFromLogits`` *in distribution*
(``arrays.actions_follow_policy``, :mod:`rollcheck.properties.core.sampler_test`), applied to the
``(T, N)`` arrays by :func:`rollcheck.properties.rollout.arrays.validate_arrays`: the policy is
re-run on the stored observations and compared within the tolerance derived from the dtype each
array holds (:mod:`rollcheck.properties.core.tolerances`).

Named diagnoses: a recorded log-prob that is another action's says which; values that equal the
critic at the *next* observation say "value of the next observation stored as the value".

Invariant enforced: the expected side comes from the policy alone, never from the buffer; the
action test's false-alarm probability is at most 1e-6 per buffer.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from rollcheck.spec.errors import ArgumentError

from rollcheck.properties.core.report import Finding, PropertyResult
from rollcheck.properties.core.sampler_test import actions_follow_policy
from rollcheck.properties.core.tolerances import Tolerances, produced_eps
from rollcheck.properties.rollout.arrays_catalog import (ARRAYS_ACTIONS_FOLLOW_POLICY, ARRAYS_LOGPROB_MATCHES_POLICY,
                                                         ARRAYS_NEXT_VALUE_MATCHES_CRITIC,
                                                         ARRAYS_VALUE_MATCHES_CRITIC, compare_result,
                                                         property_result, skip_result, within)
from rollcheck.properties.rollout.recording import VecTrace

__all__ = ["log_softmax_rows", "policy_checks", "policy_fns"]


def policy_fns(policy: Any) -> tuple[Callable, Callable]:
    """``(logits_batch, values_batch)`` from an object with ``predict_logits``/``predict_value``
    (``*_batch`` variants used when present) or a pair of single-observation callables."""
    if isinstance(policy, (tuple, list)) and len(policy) == 2 and all(callable(f) for f in policy):
        logits_one, value_one = policy
        return (lambda x: np.stack([np.asarray(logits_one(o), dtype=np.float64) for o in x]),
                lambda x: np.array([float(value_one(o)) for o in x]))
    if hasattr(policy, "predict_logits") and hasattr(policy, "predict_value"):
        logits_b = getattr(policy, "predict_logits_batch", None)
        value_b = getattr(policy, "predict_value_batch", None)
        return (logits_b or (lambda x: np.stack([np.asarray(policy.predict_logits(o), dtype=np.float64) for o in x])),
                value_b or (lambda x: np.array([float(policy.predict_value(o)) for o in x])))
    raise ArgumentError(f"policy={policy!r:.80} should have predict_logits/predict_value "
                        "or be a pair (predict_logits, predict_value) of callables")


def log_softmax_rows(logits: np.ndarray) -> np.ndarray:
    """Max-shifted log-softmax over the last axis (float64)."""
    z = np.asarray(logits, dtype=np.float64)
    m = z.max(axis=-1, keepdims=True)
    return (z - m) - np.log(np.exp(z - m).sum(axis=-1, keepdims=True))


def _value_scale(values: np.ndarray) -> float:
    finite = np.abs(values[np.isfinite(values)])
    return float(finite.mean()) if finite.size else 0.0


def policy_checks(cols: dict, trace: "VecTrace | None", fns: "tuple | None", rng: Any, sample: "int | None",
                  tolerances: Tolerances, meta: dict) -> list[PropertyResult]:
    """Results of the log-prob, value, next-value and action-distribution properties."""
    props = (ARRAYS_LOGPROB_MATCHES_POLICY, ARRAYS_VALUE_MATCHES_CRITIC, ARRAYS_NEXT_VALUE_MATCHES_CRITIC,
            ARRAYS_ACTIONS_FOLLOW_POLICY)
    if fns is None:
        return [skip_result(prop, "no policy= given") for prop in props]
    logits_fn, value_fn = fns
    t_len, n_env = cols["actions"].shape
    obs_flat = cols["obs"].reshape(t_len * n_env, *cols["obs"].shape[2:])
    checked = np.ones(t_len * n_env, bool)
    if sample is not None and sample < t_len * n_env:
        gen = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
        checked[:] = False
        checked[gen.choice(t_len * n_env, size=sample, replace=False)] = True
    rows = np.flatnonzero(checked)
    logits_all = np.full((t_len * n_env, 1), np.nan)
    values = np.full(t_len * n_env, np.nan)
    if rows.size:
        z = np.asarray(logits_fn(obs_flat[rows]), dtype=np.float64)
        logits_all = np.full((t_len * n_env, z.shape[1]), np.nan)
        logits_all[rows] = z
        values[rows] = np.asarray(value_fn(obs_flat[rows]), dtype=np.float64).reshape(-1)
    logp_all = log_softmax_rows(logits_all)
    acts = cols["actions"].reshape(-1).astype(np.int64)
    expected = logp_all[np.arange(acts.size), np.clip(acts, 0, logp_all.shape[1] - 1)]
    got = cols["logprobs"].reshape(-1)
    with np.errstate(invalid="ignore"):
        lp_scale = 1.0 + np.nanmax(np.abs(logits_all), axis=1, initial=0.0)
    lp_allowed = tolerances.allowed("log_prob", expected, produced_eps(cols["logprobs"]), lp_scale)
    res = compare_result(props[0], "logprobs", expected.reshape(t_len, n_env), got.reshape(t_len, n_env),
                         lp_allowed.reshape(t_len, n_env), checked=checked.reshape(t_len, n_env), meta=meta)
    if res.findings:
        # Which action's log-prob was recorded instead? (the classic 'log-prob of the wrong action')
        k = int(np.ravel_multi_index(tuple(res.findings[0].context["positions"][0]), (t_len, n_env)))
        close = [a for a in range(logp_all.shape[1]) if a != acts[k]
                 and within(logp_all[k, a], float(got[k]), lp_allowed[k])]
        if close:
            res.findings[0].message += (f"; the recorded value is the log-prob of action {close[0]}, "
                                        "not of the action taken")
    v_eps, v_scale = produced_eps(cols["values"]), _value_scale(values)
    v_allowed = tolerances.allowed("value", values, v_eps, v_scale).reshape(t_len, n_env)
    vres = compare_result(props[1], "values", values.reshape(t_len, n_env), cols["values"], v_allowed,
                          checked=checked.reshape(t_len, n_env), meta=meta)
    if vres.findings:
        vres.findings[0].message += _next_value_diagnosis(cols, trace, value_fn, v_allowed, checked)
    out = [res, vres]
    if "next_value" in cols and "next_obs" in cols:
        nv = np.asarray(value_fn(cols["next_obs"]), dtype=np.float64).reshape(-1)
        out.append(compare_result(props[2], "next_value", nv, cols["next_value"],
                                  tolerances.allowed("value", nv, produced_eps(cols["next_value"]), v_scale)))
    else:
        out.append(skip_result(props[2], "needs next_obs and next_value arrays"))
    out.append(_actions_follow(acts, logits_all, rows, t_len, n_env, meta))
    return out


def _next_value_diagnosis(cols: dict, trace: "VecTrace | None", value_fn: Callable, allowed: np.ndarray,
                          checked: np.ndarray) -> str:
    """Named diagnosis "value of the next observation stored as the value": values[t] = V(s_{t+1})."""
    t_len, n_env = cols["values"].shape
    if trace is not None:
        nxt = trace.next_obs.reshape(t_len * n_env, *trace.next_obs.shape[2:])
    elif t_len > 1:
        nxt = np.concatenate([cols["obs"][1:], cols.get("next_obs", cols["obs"][-1:][0])[None]], axis=0)
        nxt = nxt.reshape(t_len * n_env, *cols["obs"].shape[2:])
    else:
        return ""
    rows = np.flatnonzero(checked)
    v_next = np.asarray(value_fn(nxt[rows]), dtype=np.float64).reshape(-1)
    if within(v_next, cols["values"].reshape(-1)[rows], allowed.reshape(-1)[rows]).mean() >= 0.9:
        return ("; diagnosis: value of the next observation stored as the value — values[t] equals "
                "V(next observation of step t), not V(obs[t])")
    return ""


def _actions_follow(acts: np.ndarray, logits_all: np.ndarray, rows: np.ndarray, t_len: int, n_env: int,
                    meta: dict) -> PropertyResult:
    res = property_result(ARRAYS_ACTIONS_FOLLOW_POLICY, examples=1, steps=int(rows.size))
    probs = np.exp(log_softmax_rows(logits_all[rows]))
    test = actions_follow_policy(probs, acts[rows])
    meta[ARRAYS_ACTIONS_FOLLOW_POLICY.id] = test.as_meta()
    if test.rejected:
        res.fail(Finding(message=f"the buffer's actions are not draws from the policy at the stored observations: "
                                 f"{test.explain()}", expected="actions distributed as softmax(logits(obs[t]))",
                         actual=f"statistic {test.statistic:+.4g}, threshold ±{test.threshold:.4g}",
                         context=test.as_meta()))
    return res
