"""The reference PPO rollout collector: every step contract-checked, every draw reproducible.

Mirrors TorchLean's ``NN.Runtime.RL.PPO.Collect`` (``NN/Runtime/RL/PPO/Collect.lean``,
lean-dojo/TorchLean at commit 0f845313599795032960d487708c309e1fb2f40e; the older generations are
in the README's "Versions" table and behind ``generation="seed_api"``):

- :func:`collect_rollout_session_with` — ``collectRolloutSessionWith`` (the seed API), newer
  ``collectRolloutFromCallbacks`` (alias :data:`collect_rollout_from_callbacks`);
- :func:`collect_rollout_checked_session_with` — ``collectRolloutCheckedSessionWith``, newer
  ``collectRolloutFromSession`` (aliases :data:`collect_rollout_from_session`, :data:`collect`);
- :func:`collect_rollout_with` — ``collectRolloutWith``, newer ``collectRolloutFromGymnasium``
  (the subprocess bridge; alias :data:`collect_rollout_from_gymnasium`).
- :func:`collect_rollout_box_session_with` / :func:`collect_rollout_box_checked_session_with` — the
  same loop for a ``Box`` action space with a diagonal-Gaussian policy (rollcheck's extension of
  TorchLean, which collects discrete actions only; conventions in :mod:`rollcheck.spec.gaussian`).

Per step ``t`` (in this order, read top to bottom in :func:`collect_rollout_session_with`)::

    obs            = cast_obs(observe(sess))
    logits         = predict_logits(obs)
    (counter, a)   = sample_action_from_logits(rng_seed, counter, logits)   # TorchLean's sampler, bit for bit
    old_log_prob   = action_log_softmax(logits, a)   # generation="seed_api": action_log_probability
    value          = predict_value(obs)
    (tr, sess)     = step_checked(sess, a)
    next_value     = predict_value(cast_obs(tr.next_observation))   # before any auto-reset
    steps[t]       = Step(obs, tr.action, old_log_prob, cast_reward(tr.reward),
                          tr.terminated or tr.truncated, value, next_value, tr.terminated)

Invariants enforced: the rollout has exactly ``horizon`` steps (``steps_size_eq_horizon``); the
returned counter is ``rng_counter + horizon`` (one draw per step); the result is a pure function of
the inputs (the sampler is the spec's counter-based one, no global RNG), so the same inputs give the
same rollout bit for bit. ``cast_obs`` receives the session's read-only float64 observation and
``cast_reward`` the transition's float reward (Lean's ``castObservation``/``castReward``, applied to
the whole tensor rather than per entry, so ``cast_obs`` must keep ``obs_shape``: the rollout checks
every state against it). Passing ``on_transition=`` receives each checked
``Transition`` as it is collected (the CLI keeps them to write the interchange file).

References: Schulman et al., "Proximal Policy Optimization Algorithms" (2017),
https://arxiv.org/abs/1707.06347; CleanRL ``ppo.py`` (rollout phase).
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from rollcheck.spec import (Box, ContractViolation, ArgumentError, Rollout, Step, Transition, Violation,
                            action_log_softmax, as_shape, gaussian_policy_step,
                            sample_action_from_logits)
from rollcheck.spec.policy_gradient import action_log_probability, finite_logits
from rollcheck.spec.transition import is_own_frozen, same_action

from .session import CheckedSession
from rollcheck.spec.arguments import check_count, check_nat

__all__ = ["GENERATIONS", "collect", "collect_rollout_box_checked_session_with", "collect_rollout_box_session_with",
           "collect_rollout_checked_session_with", "collect_rollout_from_callbacks",
           "collect_rollout_from_gymnasium", "collect_rollout_from_session", "collect_rollout_session_with",
           "collect_rollout_with"]


def _nat(name: str, value: Any) -> int:
    """A Lean ``Nat`` (any non-negative int; the sampler wraps it mod 2**64 as ``UInt64.ofNat``)."""
    return check_nat(name, value)


GENERATIONS = ("callbacks", "seed_api")
"""TorchLean collector generations whose recorded ``old_log_prob`` rollcheck can reproduce (README
"Versions"): ``"callbacks"`` records ``actionLogSoftmax`` (``collectRolloutFromCallbacks`` at
0f845313599795032960d487708c309e1fb2f40e); ``"seed_api"`` records the ε-clamped
``actionLogProbability`` (``collectRolloutSessionWith`` at 411682f6c3d913e5cdbc27d4546b3ab7ac0e3e9c,
and ``collectRolloutFromCallbacks`` at 4ec1f62bf8308e2dc7f4d73e64205e66270ccfd1)."""


def _log_prob_rule(generation: Any) -> Callable[[Any, int], float]:
    if generation == "callbacks":
        return action_log_softmax
    if generation == "seed_api":
        return action_log_probability
    raise ArgumentError(f"generation={generation!r} should be one of {list(GENERATIONS)}")


def _snapshot(obs: Any) -> Any:
    """A read-only copy of an array observation, taken the moment it is read.

    Lean tensors are values: ``state := obs`` is the observation as it was *before* ``stepChecked``.
    A session (or ``cast_obs``) may hand out a buffer it later overwrites in place, so the collector
    copies it before anything else can run; the policy then sees the same frozen value. An array that
    is already an immutable value (read-only and owning its memory, as a checked session's
    observations are) is kept as it is.
    """
    if isinstance(obs, np.ndarray) and not is_own_frozen(obs, None):
        obs = obs.copy()
        obs.setflags(write=False)
    return obs


def _session_error(message: str, value: Any) -> ContractViolation:
    return ContractViolation([Violation("transition", value, "CheckedSession.step_checked", message)])


def collect_rollout_session_with(start: Callable[[], Any], observe: Callable[[Any], Any],
                                 step_checked: Callable[[Any, int], "tuple[Transition, Any]"],
                                 cast_obs: Callable[[Any], Any], cast_reward: Callable[[float], Any],
                                 predict_logits: Callable[[Any], Any], predict_value: Callable[[Any], Any],
                                 rng_seed: int, rng_counter: int, *, horizon: int, n_actions: int,
                                 obs_shape: Any,
                                 on_transition: "Callable[[Transition], None] | None" = None,
                                 generation: str = "callbacks",
                                 ) -> "tuple[Rollout, int]":
    """Collect exactly ``horizon`` checked PPO steps (Lean ``collectRolloutFromCallbacks``).

    Returns ``(rollout, rng_counter + horizon)``. ``rng_seed`` and ``rng_counter`` are any
    non-negative ints (Lean ``Nat``s; the sampler wraps them mod 2**64). ``generation`` picks the
    recorded ``old_log_prob`` (:data:`GENERATIONS`). Raises ``ArgumentError`` for bad arguments
    and for non-finite logits (TorchLean would sample the last action), and lets the session's
    ``ContractViolation`` propagate (nothing unchecked is ever recorded).
    """
    horizon = check_count("horizon", horizon)
    n_actions = check_count("n_actions", n_actions)
    shape = as_shape(obs_shape)
    seed = _nat("rng_seed", rng_seed)
    counter = _nat("rng_counter", rng_counter)
    log_prob = _log_prob_rule(generation)

    sess = start()                                                     # let mut sess ← start
    steps: list[Step] = []
    for _t in range(horizon):
        obs = _snapshot(cast_obs(observe(sess)))                       # obs := map castObservation (observe sess)
        logits = finite_logits(predict_logits(obs), f"step {_t}: logits")  # logits := predictLogits obs
        counter, a = sample_action_from_logits(seed, counter, logits)  # sampleActionFromLogits seed counter
        old_log_prob = log_prob(logits, a)                             # lp := actionLogSoftmax logits a
        value = predict_value(obs)                                     # v := predictValue obs
        tr, sess = step_checked(sess, a)                               # (tr, sess') ← stepChecked sess a
        if type(tr) is not Transition or tr.action != a:
            raise _session_error(f"step_checked(sess, {a}) returned {tr!r:.80}, not a Transition "
                                 f"for action {a}", tr)
        next_value = predict_value(cast_obs(tr.next_observation))     # nv := predictValue nextObs (pre-reset)
        steps.append(Step(state=obs, action=tr.action, old_log_prob=old_log_prob,
                          reward=cast_reward(tr.reward), done=tr.terminated or tr.truncated, value=value,
                          next_value=next_value, terminated=tr.terminated))
        if on_transition is not None:
            on_transition(tr)
    return Rollout(steps=tuple(steps), horizon=horizon, n_actions=n_actions, obs_shape=shape), counter


def collect_rollout_checked_session_with(sess: CheckedSession, cast_obs: Callable[[Any], Any],
                                         cast_reward: Callable[[float], Any],
                                         predict_logits: Callable[[Any], Any],
                                         predict_value: Callable[[Any], Any], rng_seed: int, rng_counter: int,
                                         *, horizon: int,
                                         on_transition: "Callable[[Transition], None] | None" = None,
                                         generation: str = "callbacks",
                                         ) -> "tuple[Rollout, int]":
    """Collect from a :class:`CheckedSession` (Lean ``collectRolloutFromSession``); the session stays open."""
    if not isinstance(sess, CheckedSession):
        raise ArgumentError(f"sess={sess!r:.80} should be a rollcheck.impl.session.CheckedSession")
    if isinstance(sess.action_space, Box):
        raise ArgumentError(f"sess.action_space={sess.action_space.describe()} is continuous; use "
                            "collect_rollout_box_checked_session_with")
    return collect_rollout_session_with(sess.start, sess.observe, sess.step_checked, cast_obs, cast_reward,
                                        predict_logits, predict_value, rng_seed, rng_counter, horizon=horizon,
                                        n_actions=sess.n_actions, obs_shape=sess.obs_shape,
                                        on_transition=on_transition, generation=generation)


def collect_rollout_with(cast_obs: Callable[[Any], Any], cast_reward: Callable[[float], Any], gym_client: Any,
                         predict_logits: Callable[[Any], Any], predict_value: Callable[[Any], Any],
                         rng_seed: int, rng_counter: int, reset_seed: int, *, horizon: int,
                         on_transition: "Callable[[Transition], None] | None" = None,
                         generation: str = "callbacks") -> "tuple[Rollout, int]":
    """Collect over the subprocess bridge (Lean ``collectRolloutFromGymnasium``).

    The first reset uses ``reset_seed``; episodes auto-reset on ``done``. The client's contract is
    enforced; the client stays open (close it with its context manager).
    """
    reset_seed = _nat("reset_seed", reset_seed)
    sess = CheckedSession.subprocess(gym_client, seed=reset_seed, reset_on_done=True)
    return collect_rollout_checked_session_with(sess, cast_obs, cast_reward, predict_logits, predict_value,
                                                rng_seed, rng_counter, horizon=horizon,
                                                on_transition=on_transition, generation=generation)


# TorchLean's newer names for the same three functions (README "Versions"): the callbacks API of
# ``NN/Runtime/RL/PPO/Collect.lean`` at 4ec1f62bf830... and 0f8453135997..., and ``collect``, the
# session-first name of the newest API. Each is the same function object, not a wrapper.
collect_rollout_from_callbacks = collect_rollout_session_with
collect_rollout_from_session = collect_rollout_checked_session_with
collect_rollout_from_gymnasium = collect_rollout_with
collect = collect_rollout_checked_session_with


def _tensor(values: "tuple[float, ...]", dims: tuple[int, ...]) -> np.ndarray:
    """A read-only float64 array of ``dims`` owning its data (``Step``/``Transition`` keep it as is)."""
    arr = np.array(values, dtype=np.float64).reshape(dims).copy()
    arr.setflags(write=False)
    return arr


def collect_rollout_box_session_with(start: Callable[[], Any], observe: Callable[[Any], Any],
                                     step_checked: Callable[[Any, Any], "tuple[Transition, Any]"],
                                     cast_obs: Callable[[Any], Any], cast_reward: Callable[[float], Any],
                                     predict_gaussian: Callable[[Any], Any], predict_value: Callable[[Any], Any],
                                     rng_seed: int, rng_counter: int, *, horizon: int, action_space: Box,
                                     obs_shape: Any, squash: bool = False,
                                     on_transition: "Callable[[Transition], None] | None" = None,
                                     ) -> "tuple[Rollout, int]":
    """Collect exactly ``horizon`` checked PPO steps with a diagonal-Gaussian policy over a ``Box``.

    The continuous counterpart of :func:`collect_rollout_session_with` (rollcheck's extension; TorchLean
    collects discrete actions only). Per step ``t``, in this order::

        obs          = cast_obs(observe(sess))
        mean, log_std = predict_gaussian(obs)
        g            = gaussian_policy_step(rng_seed, counter, mean, log_std, action_space, squash=squash)
        value        = predict_value(obs)
        (tr, sess)   = step_checked(sess, g.env_action)        # clipped (or rescaled from tanh) into the Box
        next_value   = predict_value(cast_obs(tr.next_observation))
        steps[t]     = Step(obs, g.action, g.log_prob, cast_reward(tr.reward), tr.done, value, next_value,
                            tr.terminated)                       # the UNclipped sample and its log-prob

    Returns ``(rollout, rng_counter + 2·d·horizon)`` (``d = action_space.size``: two uniforms per entry).
    """
    horizon = check_count("horizon", horizon)
    if not isinstance(action_space, Box):
        raise ArgumentError(f"action_space={action_space!r:.80} should be a rollcheck.spec.Box")
    if not isinstance(squash, bool):
        raise ArgumentError(f"squash={squash!r} should be a bool")
    if squash and not action_space.bounded:
        raise ArgumentError(f"squash=True needs a bounded Box; got {action_space.describe()}")
    shape = as_shape(obs_shape)
    dims = action_space.shape.dims
    seed = _nat("rng_seed", rng_seed)
    counter = _nat("rng_counter", rng_counter)   # Lean Nats: the uniforms wrap them mod 2**64

    sess = start()
    steps: list[Step] = []
    for _t in range(horizon):
        obs = _snapshot(cast_obs(observe(sess)))
        mean, log_std = predict_gaussian(obs)
        g = gaussian_policy_step(seed, counter, mean, log_std, action_space, squash=squash)
        counter = g.counter
        value = predict_value(obs)
        env_action = _tensor(g.env_action, dims)
        tr, sess = step_checked(sess, env_action)
        if type(tr) is not Transition or not same_action(tr.action, env_action):
            raise _session_error(f"step_checked(sess, {env_action.tolist()}) returned {tr!r:.80}, not a "
                                 "Transition for that action", tr)
        next_value = predict_value(cast_obs(tr.next_observation))
        steps.append(Step(state=obs, action=_tensor(g.action, dims), old_log_prob=g.log_prob,
                          reward=cast_reward(tr.reward), done=tr.terminated or tr.truncated, value=value,
                          next_value=next_value, terminated=tr.terminated))
        if on_transition is not None:
            on_transition(tr)
    return Rollout(steps=tuple(steps), horizon=horizon, obs_shape=shape, action_space=action_space), counter


def collect_rollout_box_checked_session_with(sess: CheckedSession, cast_obs: Callable[[Any], Any],
                                             cast_reward: Callable[[float], Any],
                                             predict_gaussian: Callable[[Any], Any],
                                             predict_value: Callable[[Any], Any], rng_seed: int,
                                             rng_counter: int, *, horizon: int, squash: bool = False,
                                             on_transition: "Callable[[Transition], None] | None" = None,
                                             ) -> "tuple[Rollout, int]":
    """:func:`collect_rollout_box_session_with` on a :class:`CheckedSession` whose action space is a Box."""
    if not isinstance(sess, CheckedSession):
        raise ArgumentError(f"sess={sess!r:.80} should be a rollcheck.impl.session.CheckedSession")
    if not isinstance(sess.action_space, Box):
        raise ArgumentError(f"sess.action_space={sess.action_space!r} is discrete; use "
                            "collect_rollout_checked_session_with")
    return collect_rollout_box_session_with(sess.start, sess.observe, sess.step_checked, cast_obs, cast_reward,
                                            predict_gaussian, predict_value, rng_seed, rng_counter,
                                            horizon=horizon, action_space=sess.action_space,
                                            obs_shape=sess.obs_shape, squash=squash, on_transition=on_transition)
