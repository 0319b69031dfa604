"""Validate a CleanRL-style rollout buffer (plain ``(T, N)`` arrays) against the env, the policy and the spec.

Mirrors TorchLean's ``PPO.collectRolloutFromCallbacks`` (what each step must record),
``Boundary.Core.checkTransitionFin`` (the contract) and ``Runtime.RL.Core.generalizedAdvantageEstimationVec``
with Gymnasium's split flags (:mod:`rollcheck.spec.advantage`), for buffers laid out as in CleanRL's
``ppo.py``: ``T`` steps (axis 0) of ``N`` sub-environments (axis 1).

Array names and shapes (``arrays`` is a dict; numpy arrays or anything ``np.asarray`` accepts, e.g.
CPU torch tensors):

==============  ==================  =========================================================
key             shape               meaning
==============  ==================  =========================================================
``obs``         ``(T, N, *obs)``    observation the policy saw before step ``t``
``actions``     ``(T, N)``          action taken at step ``t`` (integral)
``logprobs``    ``(T, N)``          ``log_softmax(logits(obs[t]))[actions[t]]`` at collection
``rewards``     ``(T, N)``          reward of step ``t``
``dones``       ``(T, N)``          done flags, convention below
``values``      ``(T, N)``          ``V(obs[t])`` at collection
``advantages``  ``(T, N)``          optional; checked against the spec's GAE
``returns``     ``(T, N)``          optional; checked to be ``advantages + values``
``terminated``  ``(T, N)``          optional; step ``t`` reached a terminal state
``truncated``   ``(T, N)``          optional; step ``t`` was cut by a time limit
``next_obs``    ``(N, *obs)``       optional; CleanRL's ``next_obs`` after the last step
``next_done``   ``(N,)``            optional; CleanRL's ``next_done`` after the last step
``next_value``  ``(N,)``            optional; CleanRL's bootstrap ``V(next_obs)``
==============  ==================  =========================================================

The ``dones`` convention (parameter ``dones_convention``):

- ``"episode_start"`` (default, CleanRL): ``dones[t]`` is the done flag *of the observation*
  ``obs[t]``, i.e. CleanRL's ``next_done`` stored before step ``t``: ``dones[t] = terminated[t-1]
  or truncated[t-1]`` (``dones[0]`` comes from the previous rollout and is not checked) and the done
  flag of the last step is ``next_done``;
- ``"step"``: ``dones[t] = terminated[t] or truncated[t]``, the done flag of step ``t`` itself.

Where the split flags come from: ``terminated``/``truncated`` arrays if given, else the ``trace``,
else every done is assumed a termination (and ``arrays.truncation_bootstrapped`` is skipped).
The spec's GAE needs ``V(s_{t+1})`` of each step: ``values[t+1]`` inside an episode,
``next_value`` at the last step, and on a truncation ``V(final observation)``, computed from the
``policy`` at the trace's true next observation; without them those entries are not compared
(counted in the report's meta). The classic bug of treating truncation as termination (CleanRL's
``nextnonterminal = 1 - dones[t+1]``) is reported by ``arrays.truncation_bootstrapped`` with the
size of the error it causes, not as a crash.

Module layout: this file reads the buffer and runs the checks in order — shapes, then trace and
contract, then policy (here), then done flags and advantages (:mod:`.arrays_gae`); the property
table :data:`ARRAY_PROPERTIES` and the result helpers live in :mod:`.array_properties` (re-exported
here, so ``from rollcheck.properties.rollout.arrays import ARRAY_PROPERTIES`` keeps working).

Tolerances: float64 buffers are compared at ``1e-9`` (relative and absolute), buffers holding any
float32 (CleanRL's default) at ``2e-4``; pass ``rtol``/``atol`` to override.
"""

from __future__ import annotations

import time
from typing import Any, Callable

import numpy as np

from rollcheck.impl.fast_checks import action_bad_mask, observation_bad_mask, reward_bad_mask
from rollcheck.spec.contract import Contract, observation_violations, reward_violations
from rollcheck.spec.errors import ArgumentError

from rollcheck.properties.rollout.arrays_catalog import ARRAY_PROPERTIES, compare_result, positions, property_result, skip_result
from rollcheck.properties.rollout.arrays_gae import gae_checks, split_flags, step_done
from rollcheck.properties.rollout.recording import VecTrace
from rollcheck.properties.core.report import Finding, PropertyResult, Report

__all__ = ["ARRAY_PROPERTIES", "REQUIRED_KEYS", "validate_arrays"]

REQUIRED_KEYS = ("obs", "actions", "logprobs", "rewards", "dones", "values")
OPTIONAL_KEYS = ("advantages", "returns", "terminated", "truncated", "next_obs", "next_done", "next_value")
CONVENTIONS = ("episode_start", "step")

def _policy_fns(policy: Any) -> tuple[Callable, Callable]:
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


def _shapes(arrays: dict, trace: "VecTrace | None", n_actions: "int | None") -> tuple[PropertyResult, dict]:
    res = property_result("arrays.shapes", examples=1)
    cols: dict[str, np.ndarray] = {}
    problems: list[str] = []
    unknown = sorted(set(arrays) - set(REQUIRED_KEYS) - set(OPTIONAL_KEYS))
    if unknown:
        problems.append(f"unknown key(s) {unknown}; known: {list(REQUIRED_KEYS + OPTIONAL_KEYS)}")
    missing = [k for k in REQUIRED_KEYS if k not in arrays]
    if missing:
        problems.append(f"missing required array(s) {missing}")
    for k in REQUIRED_KEYS + OPTIONAL_KEYS:
        if k in arrays and arrays[k] is not None:
            value = arrays[k]
            if hasattr(value, "detach"):  # a torch tensor
                value = value.detach().cpu().numpy()
            cols[k] = np.asarray(value)
            if cols[k].dtype.kind not in "fiub":
                problems.append(f"{k} has dtype {cols[k].dtype}; a real or boolean array is required")
    if "obs" in cols and cols["obs"].ndim < 2:
        problems.append(f"obs has shape {list(cols['obs'].shape)}; expected (T, N, *obs_shape)")
    if not problems:
        t, n = cols["obs"].shape[:2]
        obs_shape = cols["obs"].shape[2:]
        want = {k: (t, n) for k in REQUIRED_KEYS[1:] + OPTIONAL_KEYS[:4]}
        want.update(next_obs=(n, *obs_shape), next_done=(n,), next_value=(n,))
        for k, shape in want.items():
            if k in cols and cols[k].shape != shape:
                problems.append(f"{k} has shape {list(cols[k].shape)}; expected {list(shape)} (T={t}, N={n})")
        for k in ("terminated", "truncated", "next_done"):
            if k in cols and cols[k].dtype.kind not in "biu":
                problems.append(f"{k} has dtype {cols[k].dtype}; flags must be boolean (or 0/1 integers)")
        if "actions" in cols and n_actions is not None and cols["actions"].size:
            bad = action_bad_mask(n_actions, cols["actions"].reshape(-1))
            if bad.any():
                problems.append(f"actions out of Fin {n_actions} at (step, env) {positions(bad.reshape(t, n), 20)}")
        if trace is not None:
            if trace.actions.shape != (t, n) or trace.obs.shape[2:] != obs_shape:
                problems.append(f"trace holds {list(trace.actions.shape)} steps of obs {list(trace.obs.shape[2:])}; "
                                f"the buffer has (T, N) = {[t, n]} of obs {list(obs_shape)}")
        res.steps = t
    for p in problems:
        res.fail(Finding(message=p))
    return res, cols


def validate_arrays(arrays: dict, *, trace: "VecTrace | None" = None, policy: Any = None, gamma: float = 0.99,
                    lam: float = 0.95, n_actions: "int | None" = None, contract: "Contract | None" = None,
                    rng: Any = None, dones_convention: str = "episode_start", policy_sample: "int | None" = None,
                    rtol: "float | None" = None, atol: "float | None" = None) -> Report:
    """Check a CleanRL-style buffer (see the module docstring); every property is in the report.

    ``policy_sample`` re-evaluates the policy on that many (step, env) entries chosen with ``rng``
    (a ``numpy.random.Generator`` or a seed) instead of on all ``T*N``.
    """
    if dones_convention not in CONVENTIONS:
        raise ArgumentError(f"dones_convention={dones_convention!r} should be one of {CONVENTIONS}")
    for name, value in (("gamma", gamma), ("lam", lam)):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
            raise ArgumentError(f"{name}={value!r} should be a real number in [0, 1]")
    if n_actions is not None and (isinstance(n_actions, bool) or not isinstance(n_actions, int) or n_actions <= 0):
        raise ArgumentError(f"n_actions={n_actions!r} should be a positive int")
    contract = Contract() if contract is None else contract
    fns = _policy_fns(policy) if policy is not None else None
    start = time.perf_counter()
    report = Report(title="rollcheck arrays", target="CleanRL-style buffer",
                    meta={"dones_convention": dones_convention, "gamma": gamma, "lam": lam})
    shapes, cols = _shapes(arrays, trace, n_actions)
    report.results.append(shapes)
    if shapes.status == "failed":
        for pid in list(ARRAY_PROPERTIES)[1:]:
            report.results.append(skip_result(pid, "arrays.shapes failed"))
        report.duration_s = time.perf_counter() - start
        return report
    t_len, n_env = cols["actions"].shape
    floats32 = any(c.dtype == np.float32 for c in cols.values())
    rtol = (2e-4 if floats32 else 1e-9) if rtol is None else rtol
    atol = (2e-4 if floats32 else 1e-9) if atol is None else atol
    report.meta.update(T=t_len, N=n_env, obs_shape=list(cols["obs"].shape[2:]), rtol=rtol, atol=atol)
    report.results += _trace_and_contract(cols, trace, contract, n_actions, dones_convention)
    report.results += _policy_checks(cols, trace, fns, rng, policy_sample, rtol, atol, report.meta)
    report.results += gae_checks(cols, trace, fns, gamma, lam, dones_convention, rtol, atol, report.meta)
    report.duration_s = time.perf_counter() - start
    return report


def _trace_and_contract(cols: dict, trace: "VecTrace | None", contract: Contract, n_actions: "int | None",
                        convention: str) -> list[PropertyResult]:
    out = []
    t_len, n_env = cols["actions"].shape
    obs_flat = cols["obs"].reshape(t_len * n_env, *cols["obs"].shape[2:])
    res = property_result("arrays.contract", examples=1, steps=t_len * n_env)
    bad_obs = observation_bad_mask(contract, obs_flat, obs_flat.shape[1:])
    bad_rew = reward_bad_mask(contract, cols["rewards"].reshape(-1))
    for k in np.flatnonzero(bad_obs | bad_rew).tolist():
        t, i = divmod(k, n_env)
        vs = (observation_violations(contract, obs_flat[k], obs_flat.shape[1:], "obs") if bad_obs[k] else []) + \
             (reward_violations(contract, cols["rewards"].reshape(-1)[k]) if bad_rew[k] else [])
        for v in vs:
            res.fail(Finding(message=f"step {t}, env {i}: {v}", step=t, actual=v.value, expected=v.rule,
                             context={"env": i, "field": v.field, "rule": v.rule}))
    out.append(res)
    if trace is None:
        for pid in ("arrays.obs_match_trace", "arrays.actions_match_trace", "arrays.rewards_match_trace"):
            out.append(skip_result(pid, "no trace= given (record the env with RecordingVecEnv)"))
    else:
        # The buffer may store a narrower dtype than the env (CleanRL keeps float32): compare in the buffer's.
        out.append(compare_result("arrays.obs_match_trace", "obs", trace.obs.astype(cols["obs"].dtype), cols["obs"],
                                  0, 0, exact=True, hint="obs[t] should be the observation presented before step t"))
        out.append(compare_result("arrays.actions_match_trace", "actions", trace.actions, cols["actions"], 0, 0,
                                  exact=True))
        out.append(compare_result("arrays.rewards_match_trace", "rewards",
                                  trace.rewards.astype(cols["rewards"].dtype), cols["rewards"], 0, 0, exact=True,
                                  hint=_shift_hint(trace.rewards, cols["rewards"])))
    if trace is None:
        out.append(skip_result("arrays.no_autoreset_steps", "no trace= given"))
    else:
        res = property_result("arrays.no_autoreset_steps", examples=1, steps=t_len * n_env)
        if trace.autoreset_step.any():
            t, i = (int(k) for k in np.argwhere(trace.autoreset_step)[0])
            res.fail(Finding(
                message=(f"{int(trace.autoreset_step.sum())} buffer entries are auto-reset steps of a NEXT_STEP "
                         f"vector env (first: step {t}, env {i}): the env ignored the action and returned the "
                         "reset observation with reward 0, so the buffer holds a transition from one episode's "
                         "last observation to the next episode's first; use AutoresetMode.SAME_STEP or drop them"),
                step=t, context={"env": i, "positions": positions(trace.autoreset_step)}))
        out.append(res)
    te, tr = split_flags(cols, trace)
    if te is None:
        out.append(skip_result("arrays.dones_match_flags", "no terminated/truncated arrays and no trace"))
    else:
        done, known = step_done(cols, convention)
        out.append(compare_result("arrays.dones_match_flags",
                                  f"done of each step (dones, convention {convention!r})",
                                  te | tr, done, 0, 0, checked=known, exact=True))
    return out


def _shift_hint(true_rewards: np.ndarray, rewards: np.ndarray) -> str:
    r = rewards.astype(np.float64)
    if len(r) > 1 and np.array_equal(r[1:], true_rewards[:-1]):
        return "rewards are shifted one step later: rewards[t] holds the reward of step t-1"
    if len(r) > 1 and np.array_equal(r[:-1], true_rewards[1:]):
        return "rewards are shifted one step earlier: rewards[t] holds the reward of step t+1"
    return ""


def _policy_checks(cols: dict, trace: "VecTrace | None", fns: "tuple | None", rng: Any, sample: "int | None",
                   rtol: float, atol: float, meta: dict) -> list[PropertyResult]:
    pids = ("arrays.logprob_matches_policy", "arrays.value_matches_critic", "arrays.next_value_matches_critic")
    if fns is None:
        return [skip_result(pid, "no policy= given") for pid in pids]
    logits_fn, value_fn = fns
    t_len, n_env = cols["actions"].shape
    obs_flat = cols["obs"].reshape(t_len * n_env, *cols["obs"].shape[2:])
    checked = np.ones(t_len * n_env, bool)
    if sample is not None and sample < t_len * n_env:
        gen = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
        checked[:] = False
        checked[gen.choice(t_len * n_env, size=sample, replace=False)] = True
    rows = np.flatnonzero(checked)
    logp_all = np.full((t_len * n_env, 1), np.nan)
    values = np.full(t_len * n_env, np.nan)
    if rows.size:
        lp = log_softmax_rows(logits_fn(obs_flat[rows]))
        logp_all = np.full((t_len * n_env, lp.shape[1]), np.nan)
        logp_all[rows] = lp
        values[rows] = np.asarray(value_fn(obs_flat[rows]), dtype=np.float64).reshape(-1)
    acts = cols["actions"].reshape(-1).astype(np.int64)
    expected = logp_all[np.arange(acts.size), np.clip(acts, 0, logp_all.shape[1] - 1)]
    got = cols["logprobs"].reshape(-1)
    res = compare_result(pids[0], "logprobs", expected.reshape(t_len, n_env), got.reshape(t_len, n_env), rtol,
                         atol, checked=checked.reshape(t_len, n_env), meta=meta)
    if res.findings:
        # Which action's log-prob was recorded instead? (the classic 'log-prob of the wrong action')
        k = int(np.ravel_multi_index(tuple(res.findings[0].context["positions"][0]), (t_len, n_env)))
        close = [a for a in range(logp_all.shape[1]) if a != acts[k]
                 and np.isclose(float(got[k]), logp_all[k, a], rtol=rtol, atol=atol)]
        if close:
            res.findings[0].message += (f"; the recorded value is the log-prob of action {close[0]}, "
                                        "not of the action taken")
    out = [res, compare_result(pids[1], "values", values.reshape(t_len, n_env), cols["values"], rtol, atol,
                               checked=checked.reshape(t_len, n_env), meta=meta)]
    if "next_value" in cols and "next_obs" in cols:
        nv = np.asarray(value_fn(cols["next_obs"]), dtype=np.float64).reshape(-1)
        out.append(compare_result(pids[2], "next_value", nv, cols["next_value"], rtol, atol))
    else:
        out.append(skip_result(pids[2], "needs next_obs and next_value arrays"))
    return out
