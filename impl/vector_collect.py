"""The vectorised PPO collector over ``gymnasium.vector`` environments, every sub-env step checked.

Mirrors TorchLean's ``NN.Runtime.RL.PPO.Collect.collectRolloutFromCallbacks`` run on ``N``
independent sessions at once (rollcheck's reference is :mod:`rollcheck.impl.collect`): batched
policy calls, the same contract per sub-env, per-sub-env RNG streams ``(rng_seeds[i],
rng_counters[i])``, and a rollout of shape ``(horizon, N)``.

Invariant enforced (tested): sub-env ``i`` of the result, ``VectorRollout.env_rollout(i)``, EQUALS
the reference collection ``collect_rollout_checked_session_with(CheckedSession.gymnasium(
gym.make(id), seed=reset_seeds[i]), ..., rng_seeds[i], rng_counters[i], horizon=horizon)`` with a
policy whose single-observation predict equals the batch predict's row (bit for bit with
``MlpActorCritic(exact=True)``; to BLAS rounding otherwise), and the returned counters are
``rng_counters[i] + horizon``. Per recorded step, in the reference's order: logits on the cast
observation batch; one draw per sub-env with the spec sampler's semantics; ``old_log_prob``; the
value; ``vec_env.step``; every sub-env transition checked against ``contract``; ``next_value`` on
the true last observation (before auto-reset); reset observations checked as they appear.

Autoreset modes (both supported; ``DISABLED`` and a missing ``metadata["autoreset_mode"]`` are
rejected, as are non-``Discrete`` action spaces and observation spaces without a shape):

- ``SAME_STEP``: a ``done`` sub-env is reset inside the same ``step``; the returned observation is
  the reset one and the true last observation (for ``next_value`` and the contract check) is
  ``info["final_obs"][i]``. Exactly ``horizon`` vector steps, no wasted step. Preferred.
- ``NEXT_STEP`` (Gymnasium's default): the step after a ``done`` is a reset whose action is ignored
  and whose reward/flags are placeholders; it never becomes a transition and draws no random
  number. Sub-envs therefore fall out of step: the collector steps until every sub-env has
  ``horizon`` transitions (sub-envs already complete take action 0, unrecorded and unchecked),
  then packs column ``i`` from sub-env ``i``'s first ``horizon`` transitions.

Checks, per vector step: the contract judge (:mod:`rollcheck.impl.contract_judge`) passes clean
steps (:func:`_batch_clean`); otherwise :func:`~rollcheck.impl.contract_judge.batch_bad_mask`
picks the rows and the spec
(:func:`rollcheck.spec.transition_violations`, :func:`rollcheck.spec.check_observation`) gives
their exact violations, raised together as :class:`VectorContractViolation` (which sub-env, and
which of its transitions). Actions need no check (the sampler returns ``Fin n_actions``) and a
step's ``observation`` was checked when it arrived, as a reset or as the previous next
observation — the reference session's reasoning too. Reset observations are checked as they
appear, as the session does; one NEXT_STEP edge differs: a reset that Gymnasium defers past the
end of the collection (the last recorded step ended an episode) is checked by the next
``vec_env.step`` caller, not here.

The uniform draws are SplitMix64 in numpy ``uint64`` arithmetic (:mod:`rollcheck.impl.fast_sampler`,
bit-equal to :func:`rollcheck.spec.uniform`; computed ahead — by chunks under SAME_STEP, all
``(T, N)`` under NEXT_STEP — since draw ``k`` of sub-env ``i`` is ``uniform(seed_i, counter_i + k)``);
the categorical draw and the log-softmax run the spec's scalar float operations row by row, so
actions and log-probs are bit-identical to ``sample_action_from_logits`` / ``action_log_softmax``.
Under SAME_STEP the true last observations come from :mod:`rollcheck.impl.vector_autoreset`.

Module layout: this file is the collector loop and its checks. The values it returns,
:class:`VectorRollout` and :class:`VectorContractViolation`, live in
:mod:`rollcheck.impl.vector_rollout`, and the batch sampler (:func:`uniform_batch`,
:func:`sample_actions_from_logits_batch`) in :mod:`rollcheck.impl.fast_sampler`; all four are
re-exported here, so ``from rollcheck.impl.vector_collect import VectorRollout`` keeps working.

``cast_obs`` receives a read-only float64 ``(N, *obs_shape)`` batch and ``cast_reward`` a float64
``(N,)`` array: they must act row by row (Lean's ``castObservation``/``castReward`` are maps, so
any elementwise function qualifies). Observations are what Gymnasium batched: an env returning a
dtype other than its observation space's is rounded to the space's dtype by the vector env
(the reference session sees the unrounded value).

References: Gymnasium vector autoreset modes, https://farama.org/Vector-Autoreset-Mode;
Steele, Lea & Flood, "Fast splittable pseudorandom number generators" (OOPSLA 2014).
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np
from gymnasium import spaces
from gymnasium.vector import AutoresetMode, VectorEnv

from rollcheck.spec import Contract, ContractViolation, ArgumentError, Shape, check_observation, transition_violations

from .contract_judge import (batch_bad_mask, column_bad_mask, done_flags_all_ok, observation_bad_mask,
                             observation_ok, reward_ok)
from .fast_sampler import (raise_bad_logits, rng_nats, rng_words, sample_actions_from_logits_batch, sample_rows, uniform_batch,
                           uniform_u64)
from .vector_autoreset import true_next_observations
from .vector_rollout import VectorContractViolation, VectorRollout
from rollcheck.spec.arguments import check_count, check_seed

__all__ = ["VectorContractViolation", "VectorRollout", "collect_rollout_vector_with",
           "sample_actions_from_logits_batch", "uniform_batch"]

_SMALL_BATCH = 64  # up to this many sub-envs, a step's batch is judged with the scalar predicates
_DRAW_CHUNK = 512  # uniform draws computed ahead, per chunk of vector steps (bounded memory)


# --------------------------------------------------------------------------------------------
# The collector
# --------------------------------------------------------------------------------------------

def _vector_spaces(vec_env: Any) -> tuple[int, Shape, int, str]:
    if not isinstance(vec_env, VectorEnv):
        raise ArgumentError(f"vec_env={vec_env!r:.80} should be a gymnasium.vector.VectorEnv")
    act = vec_env.single_action_space
    if not isinstance(act, spaces.Discrete) or int(act.start) != 0:
        raise ArgumentError(f"vec_env.single_action_space={act!r} should be Discrete(n) starting at 0 "
                              "(actions are Fin n_actions)")
    dims = getattr(vec_env.single_observation_space, "shape", None)
    if dims is None:
        raise ArgumentError(f"vec_env.single_observation_space={vec_env.single_observation_space!r} "
                              "has no shape; a tensor (Box-like) observation space is required")
    mode = vec_env.metadata.get("autoreset_mode")
    try:
        mode = AutoresetMode(mode)
    except ValueError:
        raise ArgumentError(f"vec_env.metadata['autoreset_mode']={mode!r} should be AutoresetMode.SAME_STEP "
                              "or NEXT_STEP") from None
    if mode not in (AutoresetMode.SAME_STEP, AutoresetMode.NEXT_STEP):
        raise ArgumentError(f"vec_env.metadata['autoreset_mode']={mode} is not supported: the collector "
                              "needs Gymnasium's auto-reset (SAME_STEP or NEXT_STEP)")
    return int(vec_env.num_envs), Shape(tuple(int(d) for d in dims)), int(act.n), mode.name


def _check_resets(contract: Contract, raw: np.ndarray, rows: np.ndarray, shape: Shape) -> None:
    """``check_observation`` on the reset observations ``raw[rows]`` (numpy mask, then the spec)."""
    idx = np.flatnonzero(rows)
    bad = idx[observation_bad_mask(contract, raw[idx], shape)]
    found, envs = [], []
    for i in bad.tolist():
        try:
            check_observation(contract, raw[i], shape)
        except ContractViolation as exc:
            found += exc.violations
            envs += [i] * len(exc.violations)
    if found:
        raise VectorContractViolation(found, envs)


def _batch_clean(contract: Contract, next64: np.ndarray, rew: Any, te: Any, tr: Any, n: int) -> bool:
    """Quick whole-batch test: ``True`` only if the judge finds no row of the step suspect.

    Only what the collector does not already know is judged: actions come from the sampler
    (``Fin n_actions`` by construction) and each current observation was judged when it arrived
    (as a reset or as a next observation).
    """
    if not (isinstance(rew, np.ndarray) and isinstance(te, np.ndarray) and isinstance(tr, np.ndarray)
            and rew.shape == te.shape == tr.shape == (n,)):
        return False
    if n <= _SMALL_BATCH and rew.dtype.kind == "f" and rew.dtype.itemsize <= 8:
        # A few sub-envs: the judge's one-transition predicates beat building masks. ``next64`` is the
        # collector's float64 (n, *obs_shape) copy (observation_ok judges every entry), and a float
        # reward column's tolist() holds exactly the floats the spec judges.
        return (done_flags_all_ok(contract, te, tr) and observation_ok(contract, next64)
                and all([reward_ok(contract, r) for r in rew.tolist()]))
    return not column_bad_mask(contract, obs_shape=next64.shape[1:], next_observation=next64, reward=rew,
                               terminated=te, truncated=tr).any()


def _frozen64(raw: Any) -> np.ndarray:
    out = np.array(raw, dtype=np.float64)
    out.setflags(write=False)
    return out


def _batch(name: str, value: Any, shape: tuple[int, ...]) -> np.ndarray:
    """A policy/cast output as a real array of ``shape`` (``(N, 1)`` accepted for values)."""
    if type(value) is np.ndarray and value.shape == shape and value.dtype.kind in "fiu":
        return value
    arr = np.asarray(value)
    if arr.shape != shape and not (name == "predict_value_batch" and arr.shape == (*shape, 1)):
        raise ArgumentError(f"{name} returned shape {list(arr.shape)}; expected {list(shape)}")
    if arr.dtype.kind not in "fiu":
        raise ArgumentError(f"{name} returned dtype {arr.dtype}; a real array is required")
    return arr.reshape(shape)


def _check_arguments(vec_env: Any, rng_seeds: Any, rng_counters: Any, horizon: Any, contract: Any,
                     reset_seeds: Any) -> tuple:
    horizon = check_count("horizon", horizon)
    if not isinstance(contract, Contract):
        raise ArgumentError(f"contract={contract!r:.80} should be a rollcheck.spec.Contract")
    n, shape, n_actions, mode = _vector_spaces(vec_env)
    seeds = rng_words("rng_seeds", rng_seeds, n)
    ctr = rng_words("rng_counters", rng_counters, n)  # Lean Nats, wrapped mod 2**64 as UInt64.ofNat does
    if reset_seeds is not None:
        reset_seeds = list(reset_seeds)
        if len(reset_seeds) != n:
            raise ArgumentError(f"reset_seeds has {len(reset_seeds)} entries; expected num_envs={n}")
        reset_seeds = [check_seed(f"reset_seeds[{i}]", s) for i, s in enumerate(reset_seeds)]
    return horizon, n, shape, n_actions, mode == "SAME_STEP", seeds, ctr, reset_seeds


def collect_rollout_vector_with(vec_env: Any, cast_obs: Callable[[np.ndarray], Any],
                                cast_reward: Callable[[np.ndarray], Any],
                                predict_logits_batch: Callable[[Any], Any], predict_value_batch: Callable[[Any], Any],
                                rng_seeds: Sequence[int], rng_counters: Sequence[int], *, horizon: int,
                                contract: Contract = Contract(),
                                reset_seeds: "Sequence[int | None] | None" = None,
                                ) -> "tuple[VectorRollout, tuple[int, ...]]":
    """Collect ``horizon`` checked steps from each of ``vec_env``'s ``N`` sub-envs (see the module docstring).

    Resets ``vec_env`` first (``reset_seeds[i]`` for sub-env ``i``). Returns the ``(horizon, N)``
    rollout and the counters ``rng_counters[i] + horizon``. Raises ``ArgumentError`` for bad
    arguments and :class:`VectorContractViolation` as soon as a sub-env breaks the contract.
    """
    T, n, shape, n_actions, same_step, seeds, ctr0, reset_seeds = _check_arguments(
        vec_env, rng_seeds, rng_counters, horizon, contract, reset_seeds)
    obs_dims, env_idx = (n, *shape.dims), np.arange(n)
    # SAME_STEP: the draws of the next steps, by chunks; NEXT_STEP: all (T, N) draws up front
    draws: Any = [] if same_step else uniform_u64(seeds[None, :],
                                                   ctr0[None, :] + np.arange(T, dtype=np.uint64)[:, None])

    raw = np.array(vec_env.reset(seed=reset_seeds)[0], copy=True)  # vector envs reuse their buffers
    _check_resets(contract, raw, np.ones(n, dtype=bool), shape)
    obs64 = _frozen64(raw)                              # the sessions' read-only float64 observations
    obs_c = _batch("cast_obs", cast_obs(obs64), obs_dims)
    value = _batch("predict_value_batch", predict_value_batch(obs_c), (n,)).astype(np.float64)

    cap = T if same_step else T + T // 4 + 4
    buf = _buffers(cap, obs_dims, obs_c.dtype)
    states, actions_b, log_probs_b, rewards_b, dones_b, terminated_b, values_b, next_values_b, valid_b = buf.values()
    counts = np.zeros(n, dtype=np.int64)                # transitions recorded per sub-env
    prev_done = np.zeros(n, dtype=bool)                 # NEXT_STEP: this step is a reset for these rows
    check_reset = np.zeros(n, dtype=bool)               # ... after a recorded done (the reference resets too)
    s = 0
    while (s < T) if same_step else (counts.min() < T):
        active = None if same_step else (counts < T) & ~prev_done   # None: every sub-env records
        if s == cap:
            cap += cap // 2 + 4
            buf = {k: np.concatenate([v, np.zeros((cap - s, *v.shape[1:]), v.dtype)]) for k, v in buf.items()}
            states, actions_b, log_probs_b, rewards_b, dones_b, terminated_b, values_b, next_values_b, valid_b = \
                buf.values()
        # 1. policy on the current observations, one draw per recording sub-env; sub-env i's
        #    k-th draw is uniform(seeds[i], ctr0[i] + k) with k = counts[i] (= s under SAME_STEP)
        logits = _batch("predict_logits_batch", predict_logits_batch(obs_c), (n, n_actions)).astype(
            np.float64, copy=False)                     # the spec reads logits as Python floats
        if same_step:
            if s % _DRAW_CHUNK == 0:
                ks = np.arange(s, min(s + _DRAW_CHUNK, T), dtype=np.uint64)
                draws = uniform_u64(seeds[None, :], ctr0[None, :] + ks[:, None]).tolist()
            rows, us = None, draws[s % _DRAW_CHUNK]
        else:
            rows = None if active.all() else np.flatnonzero(active)
            us = (draws[counts, env_idx] if rows is None else draws[counts[rows], rows]).tolist()
        lg = logits if rows is None else logits[rows]
        if not np.isfinite(lg).all():
            mask = np.ones(n, bool) if active is None else active
            raise_bad_logits(np.where(mask[:, None], logits, 0.0), seeds, ctr0 + counts.astype(np.uint64))
        acts, lps = sample_rows(lg.tolist(), us)
        if rows is None:
            actions, log_probs = np.array(acts, dtype=np.int64), lps
        else:
            actions, log_probs = np.zeros(n, dtype=np.int64), np.zeros(n)
            actions[rows], log_probs[rows] = acts, lps
        # 2. the environment step; the true last observations (SAME_STEP: info["final_obs"])
        next_raw, rew, te, tr, info = vec_env.step(actions)
        done = te | tr if type(te) is np.ndarray and te.dtype == np.bool_ else np.logical_or(te, tr)
        next64 = np.array(next_raw, dtype=np.float64) if getattr(next_raw, "dtype", np.dtype("O")).kind in "fiu" \
            else None
        if next64 is None or next64.shape != obs_dims:  # a malformed batch: the spec judges each row
            _malformed_batch(contract, obs64, next_raw, actions, rew, te, tr, active, counts, shape, n_actions)
        true64, finals, misfit = next64, None, []
        if same_step and done.any():
            true64, finals, misfit = true_next_observations(next64, info, done, shape.dims)
        true64.setflags(write=False)
        # 3. the contract, per recording sub-env: quick test, then numpy mask, then the spec's violations
        if misfit or not _batch_clean(contract, true64, rew, te, tr, n):
            _raise_step_violations(contract, obs64, true64, next_raw, finals or {}, misfit, actions, rew, te, tr,
                                   active, counts, shape, n_actions)
        if finals:                                      # SAME_STEP: the resets are in this step's output
            _check_resets(contract, next_raw, done, shape)
        elif not same_step and check_reset.any():       # NEXT_STEP: one step after the recorded done
            _check_resets(contract, next_raw, check_reset, shape)
        if finals:   # one critic call: the true last observations, then the reset ones of the done rows
            idx = np.array(sorted(finals))
            next64.setflags(write=False)
            next_c = _batch("cast_obs", cast_obs(true64), obs_dims)
            reset_c = _batch("cast_obs", cast_obs(next64), obs_dims)
            both = _batch("predict_value_batch", predict_value_batch(np.concatenate([next_c, reset_c[idx]])),
                          (n + len(idx),))
            next_value = both[:n]
        else:
            next_c = _batch("cast_obs", cast_obs(true64), obs_dims)
            next_value = _batch("predict_value_batch", predict_value_batch(next_c), (n,))
        # 4. record
        states[s] = obs_c
        actions_b[s] = actions
        log_probs_b[s] = log_probs
        rewards_b[s] = _batch("cast_reward", cast_reward(np.asarray(rew, dtype=np.float64)), (n,))
        dones_b[s] = done
        terminated_b[s] = te
        values_b[s] = value
        next_values_b[s] = next_value
        s += 1
        if active is None:
            counts += 1
        else:
            valid_b[s - 1] = active
            counts += active
            check_reset = done & active
            prev_done = done
        # 5. the next observations (SAME_STEP: the reset ones replace the finals)
        if finals:
            obs64, obs_c = next64, reset_c
            value = np.array(next_value, dtype=np.float64)
            value[idx] = both[n:]
        else:
            obs64, obs_c, value = true64, next_c, next_value
    if same_step:
        valid_b[:] = True
    counters = tuple(c + T for c in rng_nats("rng_counters", rng_counters, n))  # Nat arithmetic, unwrapped
    return _pack(buf, s, T, env_idx, n_actions), counters


def _buffers(cap: int, obs_dims: tuple, obs_dtype: Any) -> dict:
    return {"states": np.empty((cap, *obs_dims), dtype=obs_dtype), "actions": np.zeros((cap, obs_dims[0]), np.int64),
            **{k: np.zeros((cap, obs_dims[0])) for k in ("old_log_prob", "rewards")},
            **{k: np.zeros((cap, obs_dims[0]), bool) for k in ("dones", "terminated")},
            **{k: np.zeros((cap, obs_dims[0])) for k in ("values", "next_values")},
            "valid": np.zeros((cap, obs_dims[0]), bool)}


def _raise_step_violations(contract: Contract, obs64: np.ndarray, true64: "np.ndarray | None", next_raw: Any,
                           finals: dict, misfit: list, actions: np.ndarray, rew: Any, te: Any, tr: Any,
                           active: "np.ndarray | None", counts: np.ndarray, shape: Shape, n_actions: int) -> None:
    """Raise :class:`VectorContractViolation` with the spec's violations of every bad recording row."""
    n = len(actions)
    try:
        bad = batch_bad_mask(contract, obs64, true64, actions, rew, te, tr, obs_shape=shape, n_actions=n_actions)
    except (ArgumentError, TypeError, ValueError):
        bad = np.ones(n, dtype=bool)                    # malformed step output: let the spec judge each row
    bad[misfit] = True
    if active is not None:
        bad &= active
    found, envs = [], []
    for i in np.flatnonzero(bad).tolist():
        nxt = finals[i] if i in finals else next_raw[i]
        for v in transition_violations(contract, obs64[i], nxt, int(actions[i]), rew[i], te[i], tr[i],
                                       obs_shape=shape, n_actions=n_actions):
            found.append(v.at(int(counts[i])))
            envs.append(i)
    if found:
        raise VectorContractViolation(found, envs)


def _malformed_batch(contract: Contract, obs64: np.ndarray, next_raw: Any, actions: np.ndarray, rew: Any, te: Any,
                     tr: Any, active: "np.ndarray | None", counts: np.ndarray, shape: Shape, n_actions: int) -> None:
    """An observation batch that is not a real ``(N, *obs_shape)`` array: the spec's violations of
    the recording rows if it has ``N`` rows, else (or if the spec finds none) ``ArgumentError``."""
    n = len(actions)
    if len(next_raw) == n:
        _raise_step_violations(contract, obs64, None, next_raw, {}, list(range(n)), actions, rew, te, tr,
                               active, counts, shape, n_actions)
    raise ArgumentError(f"vec_env.step returned an observation batch of shape {list(np.shape(next_raw))} and "
                          f"dtype {getattr(next_raw, 'dtype', type(next_raw).__name__)}; expected a real array "
                          f"of shape {[n, *shape.dims]}")


def _pack(buf: dict, s: int, T: int, env_idx: np.ndarray, n_actions: int) -> VectorRollout:
    """Column ``i`` := sub-env ``i``'s first ``T`` recorded transitions (all of them under SAME_STEP)."""
    valid = buf.pop("valid")[:s]
    if s == T and valid.all():
        cols = {k: v[:T] for k, v in buf.items()}
    else:
        order = np.argsort(~valid, axis=0, kind="stable")[:T]  # recorded rows first, in time order
        cols = {k: v[:s][order, env_idx[None, :]] for k, v in buf.items()}
    return VectorRollout(n_actions=n_actions, **cols)
