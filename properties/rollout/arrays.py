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

Continuous actions (``action_space=Box(...)``, rollcheck's extension of TorchLean; ``squash=True``
for a tanh-squashed policy): ``actions`` is ``(T, N, *box.shape)``, the policy's unclipped sample (or
``tanh(u)``), ``logprobs`` its Gaussian log-probability, the trace holds what the env received
(clipped, or rescaled) and the policy has ``predict_gaussian``; see :mod:`.arrays_box`.

The ``dones`` convention (parameter ``dones_convention``):

- ``"episode_start"`` (default, CleanRL): ``dones[t]`` is the done flag *of the observation*
  ``obs[t]``, i.e. CleanRL's ``next_done`` stored before step ``t``: ``dones[t] = terminated[t-1]
  or truncated[t-1]`` (``dones[0]`` comes from the previous rollout and is not checked) and the done
  flag of the last step is ``next_done``;
- ``"step"``: ``dones[t] = terminated[t] or truncated[t]``, the done flag of step ``t`` itself.

Where the split flags come from: ``terminated``/``truncated`` arrays if given, else the ``trace``,
else unknown: an episode that ends inside the buffer may have been cut by a time limit, so its
advantages are not compared (counted in ``gae_entries_not_compared``) and
``arrays.truncation_bootstrapped`` is skipped.
The spec's GAE needs ``V(s_{t+1})`` of each step: ``values[t+1]`` inside an episode,
``next_value`` at the last step, and on a truncation ``V(final observation)``, computed from the
``policy`` at the trace's true next observation; without them those entries are not compared
(counted in the report's meta). The classic bug of treating truncation as termination (CleanRL's
``nextnonterminal = 1 - dones[t+1]``) is reported by ``arrays.truncation_bootstrapped`` with the
size of the error it causes, not as a crash.

CleanRL's buffers are accepted as CleanRL writes them: torch tensors, float32 ``actions`` holding
whole numbers, float32 ``dones``/``next_done`` holding exactly 0 and 1. A shape or dtype problem
fails ``arrays.shapes`` naming the array, and each other property that reads that array
(:data:`~.arrays_catalog.NEEDS`) is ``error`` ("not evaluated", naming it); the properties that do
not read it still run.

Module layout: this file reads the buffer and runs the checks in order — shapes, then trace and
contract (here), then policy (:mod:`.arrays_policy`), then done flags and advantages
(:mod:`.arrays_gae`, with the named diagnoses of :mod:`.arrays_diagnoses`) and the time limit
(:mod:`.arrays_time_limit`); the property table :data:`ARRAY_PROPERTIES` and the result helpers
live in :mod:`.arrays_catalog`.

Tolerances: derived per quantity from the dtype each array holds (float32 or float64) and the
magnitudes involved (:mod:`rollcheck.properties.core.tolerances`); ``tolerance=`` fixes one or all.
Where a library recomputes values or log-probabilities from the stored observations after
collection (``recomputed=("values", "logprobs")``), the property comparing them with the policy is
skipped as tautological, saying so, since it would compare the policy with itself.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from rollcheck.impl.contract_judge import action_bad_mask, observation_bad_mask, reward_bad_mask
from rollcheck.spec.arguments import check_count, check_real
from rollcheck.spec.box import Box
from rollcheck.spec.contract import Contract, observation_violations, reward_violations
from rollcheck.spec.errors import ArgumentError

from rollcheck.properties.core.property import BufferProperty
from rollcheck.properties.core.report import Finding, PropertyResult, Report
from rollcheck.properties.core.tolerances import Tolerances
from rollcheck.properties.rollout.arrays_catalog import (ARRAYS_ACTIONS_MATCH_TRACE, ARRAYS_CONTRACT,
                                                         ARRAYS_DONES_MATCH_FLAGS, ARRAYS_LOGPROB_MATCHES_POLICY,
                                                         ARRAYS_NO_AUTORESET_STEPS, ARRAYS_OBS_MATCH_TRACE,
                                                         ARRAYS_REWARDS_MATCH_TRACE, ARRAYS_SHAPES,
                                                         ARRAYS_VALUE_MATCHES_CRITIC, ARRAY_PROPERTIES, NEEDS, BufferCase,
                                                         compare_result, positions, property_result, skip_result)
from rollcheck.properties.rollout.arrays_box import box_policy_checks, env_actions, gaussian_fns
from rollcheck.properties.rollout.arrays_gae import gae_checks, split_flags, step_done
from rollcheck.properties.rollout.arrays_policy import log_softmax_rows, policy_checks, policy_fns
from rollcheck.properties.rollout.arrays_time_limit import time_limit_result
from rollcheck.properties.rollout.recording import VecTrace

__all__ = ["ARRAY_PROPERTIES", "FLAG_KEYS", "REQUIRED_KEYS", "arrays_case", "log_softmax_rows", "validate_arrays"]

REQUIRED_KEYS = ("obs", "actions", "logprobs", "rewards", "dones", "values")
OPTIONAL_KEYS = ("advantages", "returns", "terminated", "truncated", "next_obs", "next_done", "next_value")
FLAG_KEYS = ("dones", "terminated", "truncated", "next_done")
CONVENTIONS = ("episode_start", "step")
RECOMPUTABLE = ("values", "logprobs")
SAMPLERS = ("any",)


def _as_numpy(value: Any) -> np.ndarray:
    if hasattr(value, "detach"):  # a torch tensor
        value = value.detach().cpu().numpy()
    return np.asarray(value)


def _flag_array(k: str, a: np.ndarray) -> "tuple[np.ndarray | None, str | None]":
    """A flag array as bool: bool and integer 0/1 as they are, floats (CleanRL's float32 ``dones``)
    when every entry is exactly 0 or 1."""
    if a.dtype.kind == "b":
        return a, None
    if a.dtype.kind in "iuf":
        with np.errstate(invalid="ignore"):
            ok = (a == 0) | (a == 1)
        if ok.all():
            return a.astype(bool), None
        bad = np.argwhere(~ok)[0].tolist() if a.ndim else []
        return None, (f"{k} holds {a[~ok].reshape(-1)[0].item()!r} at {bad}; flags must be exactly 0 or 1 "
                      f"({int((~ok).sum())} entries are not)")
    return None, f"{k} has dtype {a.dtype}; flags must be boolean (or exactly 0/1 numbers)"


def _actions_array(a: np.ndarray) -> "tuple[np.ndarray | None, str | None]":
    """Actions as int64: integers as they are, floats (CleanRL's float32 ``actions``) when integral."""
    if a.dtype.kind in "iu":
        return a, None
    if a.dtype.kind == "f":
        with np.errstate(invalid="ignore"):
            integral = np.isfinite(a) & (np.floor(a) == a)
        if integral.all():
            return a.astype(np.int64), None
        return None, (f"actions holds the non-integral {a[~integral].reshape(-1)[0].item()!r} at "
                      f"{np.argwhere(~integral)[0].tolist()}; Discrete actions must be whole numbers")
    return None, f"actions has dtype {a.dtype}; integral actions are required"


def _box_actions_array(a: np.ndarray) -> "tuple[np.ndarray | None, str | None]":
    """Continuous actions as float64: real and finite (the stored sample is unclipped: no bounds)."""
    if a.dtype.kind not in "fiu":
        return None, f"actions has dtype {a.dtype}; Box actions must be real"
    a = a.astype(np.float64)
    if not np.isfinite(a).all():
        return None, (f"actions holds the non-finite {a[~np.isfinite(a)][0]!r} at "
                      f"{np.argwhere(~np.isfinite(a))[0].tolist()}; Box actions must be finite")
    return a, None


def _shapes(arrays: dict, trace: "VecTrace | None", n_actions: "int | None",
            box: "Box | None" = None) -> "tuple[PropertyResult, dict, dict[str, str]]":
    """``(arrays.shapes result, usable arrays, {unusable key: why})`` — a bad array is left out of
    the usable ones and named, so only the properties that read it are skipped."""
    res = property_result(ARRAYS_SHAPES, examples=1)
    cols: dict[str, np.ndarray] = {}
    unusable: dict[str, str] = {}
    problems: list[str] = []
    unknown = sorted(set(arrays) - set(REQUIRED_KEYS) - set(OPTIONAL_KEYS))
    if unknown:
        problems.append(f"unknown key(s) {unknown}; known: {list(REQUIRED_KEYS + OPTIONAL_KEYS)}")
    missing = [k for k in REQUIRED_KEYS if k not in arrays or arrays[k] is None]
    if missing:
        problems.append(f"missing required array(s) {missing}")
        unusable.update({k: "is missing" for k in missing})
    for k in REQUIRED_KEYS + OPTIONAL_KEYS:
        if k in arrays and arrays[k] is not None:
            a = _as_numpy(arrays[k])
            why = None
            if a.dtype.kind not in "fiub":
                why = f"{k} has dtype {a.dtype}; a real or boolean array is required"
            elif k in FLAG_KEYS:
                a, why = _flag_array(k, a)
            elif k == "actions":
                a, why = _box_actions_array(a) if box is not None else _actions_array(a)
            if why is None:
                cols[k] = a
            else:
                problems.append(why)
                unusable[k] = why
    if "obs" in cols and cols["obs"].ndim < 2:
        why = f"obs has shape {list(cols.pop('obs').shape)}; expected (T, N, *obs_shape)"
        problems.append(why)
        unusable["obs"] = why
    if "obs" in cols:
        t, n = cols["obs"].shape[:2]
        obs_shape = cols["obs"].shape[2:]
        want = {k: (t, n) for k in REQUIRED_KEYS[1:] + OPTIONAL_KEYS[:4]}
        want.update(next_obs=(n, *obs_shape), next_done=(n,), next_value=(n,))
        if box is not None:
            want["actions"] = (t, n, *box.shape.dims)
        for k, shape in want.items():
            if k in cols and cols[k].shape != shape:
                why = f"{k} has shape {list(cols.pop(k).shape)}; expected {list(shape)} (T={t}, N={n})"
                problems.append(why)
                unusable[k] = why
        if "actions" in cols and n_actions is not None and cols["actions"].size:
            bad = action_bad_mask(n_actions, cols["actions"].reshape(-1))
            if bad.any():
                why = f"actions out of Fin {n_actions} at (step, env) {positions(bad.reshape(t, n), 20)}"
                problems.append(why)
                unusable["actions"] = why
                del cols["actions"]
        if trace is not None and (trace.actions.shape[:2] != (t, n) or trace.obs.shape[2:] != obs_shape):
            problems.append(f"trace holds {list(trace.actions.shape)} steps of obs {list(trace.obs.shape[2:])}; "
                            f"the buffer has (T, N) = {[t, n]} of obs {list(obs_shape)}")
            unusable["trace"] = "does not match the buffer's (T, N, *obs)"
        res.steps = t
    for p in problems:
        res.fail(Finding(message=p))
    return res, cols, unusable


def _placeholders(cols: dict, unusable: dict, box: "Box | None" = None) -> dict:
    """The usable arrays plus zeros for unusable required ones (only so the checks can run; every
    result that reads a placeholder is replaced by a skip naming the array)."""
    t, n = cols["obs"].shape[:2]
    full = dict(cols)
    for k in REQUIRED_KEYS:
        if k not in full:
            dims = (t, n, *box.shape.dims) if k == "actions" and box is not None else (t, n)
            full[k] = np.zeros(dims, dtype=np.int64 if k == "actions" and box is None else bool if k == "dones"
                               else np.float64)
    return full


def validate_arrays(arrays: dict, *, trace: "VecTrace | None" = None, policy: Any = None, gamma: float = 0.99,
                    lam: float = 0.95, n_actions: "int | None" = None, contract: "Contract | None" = None,
                    rng: Any = None, dones_convention: str = "episode_start", policy_sample: "int | None" = None,
                    tolerance: Any = None, sampler: str = "any", max_episode_steps: "int | None" = None,
                    recomputed: "tuple[str, ...]" = (), limit_reported: Any = None,
                    action_space: "Box | None" = None, squash: bool = False) -> Report:
    """Check a CleanRL-style buffer (see the module docstring); every property is in the report.

    ``policy_sample`` re-evaluates the policy on that many (step, env) entries chosen with ``rng``
    (a ``numpy.random.Generator`` or a seed) instead of on all ``T*N``. ``tolerance``: ``None``
    (derived per quantity), a float, or ``{quantity: float}``. ``sampler="any"``: a buffer carries
    no ``(seed, counter)``, so actions are tested in distribution against the policy
    (``arrays.actions_follow_policy``). ``max_episode_steps`` is the env's time limit, checked
    against the episode lengths counted from the trace (or the flags) by ``arrays.time_limit_truncates``;
    the trace must start at a reset (``limit_reported``: a ``(T, N)`` mask of steps where the env
    said explicitly how the limit was handled, see :mod:`.arrays_time_limit`). ``recomputed``
    names arrays (``"values"``, ``"logprobs"``) the library recomputed from the stored
    observations after collection. ``action_space`` (a :class:`~rollcheck.spec.Box`) and ``squash``
    make it a continuous buffer (module docstring; ``n_actions`` is then not given).
    """
    if action_space is not None and (not isinstance(action_space, Box) or n_actions is not None):
        raise ArgumentError(f"action_space={action_space!r:.80} should be a rollcheck.spec.Box (and then "
                            "n_actions is not given)")
    if not isinstance(squash, bool) or (squash and (action_space is None or not action_space.bounded)):
        raise ArgumentError(f"squash={squash!r} should be a bool, True only with a bounded Box action_space")
    if dones_convention not in CONVENTIONS:
        raise ArgumentError(f"dones_convention={dones_convention!r} should be one of {CONVENTIONS}")
    for name, value in (("gamma", gamma), ("lam", lam)):
        check_real(name, value, least=0.0, most=1.0)
    n_actions = None if n_actions is None else check_count("n_actions", n_actions)
    if sampler not in SAMPLERS:
        raise ArgumentError(f"sampler={sampler!r} should be one of {SAMPLERS}: a buffer carries no (seed, counter) "
                            "stream, so its actions can only be judged in distribution")
    max_episode_steps = None if max_episode_steps is None else check_count("max_episode_steps", max_episode_steps)
    bad = [r for r in recomputed if r not in RECOMPUTABLE]
    if bad:
        raise ArgumentError(f"recomputed={tuple(recomputed)!r}: {bad[0]!r} should be one of {RECOMPUTABLE}")
    tolerances = Tolerances.of(tolerance)
    contract = Contract() if contract is None else contract
    if policy is None:
        fns = None
    else:
        fns = gaussian_fns(policy) if action_space is not None else policy_fns(policy)
    start = time.perf_counter()
    report = Report(title="rollcheck arrays", target="CleanRL-style buffer",
                    meta={"dones_convention": dones_convention, "gamma": gamma, "lam": lam, "sampler": sampler,
                          "tolerance": tolerances.describe()})
    shapes, cols, unusable = _shapes(arrays, trace, n_actions, action_space)
    report.results.append(shapes)
    if "obs" not in cols:
        for prop in list(ARRAY_PROPERTIES)[1:]:
            report.results.append(_not_evaluated(prop, f"obs {unusable.get('obs', 'is unusable')}: (T, N) unknown "
                                                      "(see arrays.shapes)"))
        report.duration_s = time.perf_counter() - start
        return report
    if "trace" in unusable:
        trace = None
    full = _placeholders(cols, unusable, action_space)
    t_len, n_env = full["actions"].shape[:2]
    report.meta.update(T=t_len, N=n_env, obs_shape=list(full["obs"].shape[2:]))
    results = _trace_and_contract(full, trace, contract, n_actions, dones_convention, action_space, squash)
    if action_space is not None:
        report.meta.update(action_space=action_space.describe(), squash=squash)
        results += box_policy_checks(full, fns, action_space, squash, rng, policy_sample, tolerances, report.meta)
    else:
        results += policy_checks(full, trace, fns, rng, policy_sample, tolerances, report.meta)
    results += gae_checks(full, trace, fns, gamma, lam, dones_convention, tolerances, report.meta)
    accepted = None if limit_reported is None else np.asarray(limit_reported, bool).reshape(t_len, n_env)
    results.append(time_limit_result(full, trace, max_episode_steps, dones_convention, accepted))
    report.meta["max_episode_steps"] = max_episode_steps
    report.results += [_unless_unusable(r, unusable, recomputed) for r in results]
    report.duration_s = time.perf_counter() - start
    return report


def arrays_case(arrays: dict, **options: Any) -> BufferCase:
    """The evidence of an ``arrays.*`` property: ``ARRAYS_CONTRACT.check(arrays_case(arrays, n_actions=2))``
    is that property's findings from ``validate_arrays(arrays, n_actions=2)``."""
    return BufferCase(validate_arrays, arrays, options)


def _not_evaluated(prop: BufferProperty, reason: str) -> PropertyResult:
    """``prop`` in ``error``: an array it reads is unusable, so it could not be evaluated."""
    result = property_result(prop, examples=0)
    result.set_error(f"not evaluated: {reason}")
    return result


def _unless_unusable(result: PropertyResult, unusable: dict, recomputed: tuple) -> PropertyResult:
    """``result``, or a skip naming the unusable array it read, or a skip saying it is tautological."""
    prop = ARRAY_PROPERTIES[result.id]   # the property this result reports
    for k in NEEDS.get(prop, ()):
        if k in unusable:
            why = unusable[k] if unusable[k].startswith(k) else f"{k} {unusable[k]}"
            return _not_evaluated(prop, f"{why} (see arrays.shapes)")
    tautological = {ARRAYS_VALUE_MATCHES_CRITIC: "values", ARRAYS_LOGPROB_MATCHES_POLICY: "logprobs"}
    if tautological.get(prop) in recomputed:
        return skip_result(prop, f"tautological: the library recomputed {tautological[prop]} from the "
                                      "stored observations with the policy rollcheck re-runs, so this would compare "
                                      "the policy with itself")
    return result


def _trace_and_contract(cols: dict, trace: "VecTrace | None", contract: Contract, n_actions: "int | None",
                        convention: str, box: "Box | None" = None, squash: bool = False) -> list[PropertyResult]:
    out = []
    t_len, n_env = cols["actions"].shape[:2]
    obs_flat = cols["obs"].reshape(t_len * n_env, *cols["obs"].shape[2:])
    res = property_result(ARRAYS_CONTRACT, examples=1, steps=t_len * n_env)
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
        for prop in (ARRAYS_OBS_MATCH_TRACE, ARRAYS_ACTIONS_MATCH_TRACE, ARRAYS_REWARDS_MATCH_TRACE):
            out.append(skip_result(prop, "no trace= given (record the env with RecordingVecEnv)"))
    else:
        # The buffer may store a narrower dtype than the env (CleanRL keeps float32): compare in the buffer's.
        out.append(compare_result(ARRAYS_OBS_MATCH_TRACE, "obs", trace.obs.astype(cols["obs"].dtype), cols["obs"],
                                  hint="obs[t] should be the observation presented before step t"))
        if box is None:
            out.append(compare_result(ARRAYS_ACTIONS_MATCH_TRACE, "actions", trace.actions, cols["actions"]))
        else:   # the env received clip(action) (or its rescaling from [-1, 1]); compared in the trace's dtype
            sent = env_actions(cols["actions"], box, squash)
            eps = float(np.finfo(trace.actions.dtype).eps) if trace.actions.dtype.kind == "f" else 0.0
            scale = max([1.0] + [abs(x) for x in box.lows() + box.highs() if np.isfinite(x)])
            out.append(compare_result(ARRAYS_ACTIONS_MATCH_TRACE, "env actions (clip, or rescaled tanh, of the "
                                      "stored actions)", trace.actions.astype(np.float64), sent,
                                      4 * eps * scale if squash else None,
                                      hint="the env must receive clip(sample, low, high) of the stored sample"))
        out.append(compare_result(ARRAYS_REWARDS_MATCH_TRACE, "rewards",
                                  trace.rewards.astype(cols["rewards"].dtype), cols["rewards"],
                                  hint=_shift_hint(trace.rewards, cols["rewards"])))
    if trace is None:
        out.append(skip_result(ARRAYS_NO_AUTORESET_STEPS, "no trace= given"))
    else:
        res = property_result(ARRAYS_NO_AUTORESET_STEPS, examples=1, steps=t_len * n_env)
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
        out.append(skip_result(ARRAYS_DONES_MATCH_FLAGS, "no terminated/truncated arrays and no trace"))
    else:
        done, known = step_done(cols, convention)
        out.append(compare_result(ARRAYS_DONES_MATCH_FLAGS,
                                  f"done of each step (dones, convention {convention!r})",
                                  te | tr, done, checked=known, hint=_done_shift_hint(te | tr, done, known)))
    return out


def _done_shift_hint(true_done: np.ndarray, done: np.ndarray, known: np.ndarray) -> str:
    """Named diagnosis "done flags shifted by one": the buffer's done of step t is the env's of t±1."""
    if true_done.shape[0] < 2 or not true_done.any():
        return ""
    for shift, words in ((1, "one step late: the done of step t is stored at t+1"),
                         (-1, "one step early: the done of step t is stored at t-1")):
        later = np.zeros_like(true_done)
        if shift == 1:
            later[1:] = true_done[:-1]
        else:
            later[:-1] = true_done[1:]
        inner = known.copy()
        inner[0 if shift == 1 else -1] = False
        if np.array_equal(done[inner], later[inner]):
            return (f"diagnosis: done flags shifted by one — {words} (check which convention the buffer uses: "
                    "dones_convention='episode_start' is CleanRL's next_done stored before the step)")
    return ""


def _shift_hint(true_rewards: np.ndarray, rewards: np.ndarray) -> str:
    r = rewards.astype(np.float64)
    if len(r) > 1 and np.array_equal(r[1:], true_rewards[:-1]):
        return "rewards are shifted one step later: rewards[t] holds the reward of step t-1"
    if len(r) > 1 and np.array_equal(r[:-1], true_rewards[1:]):
        return "rewards are shifted one step earlier: rewards[t] holds the reward of step t+1"
    return ""


