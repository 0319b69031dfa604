"""Every invariant of the reference collector (TorchLean ``collectRolloutFromCallbacks``), checked
against the scripted counter environment whose observations (``t``) and rewards (``t + a/2``) are
known: episodes ending by termination, by truncation and both at once, horizon 1, one action,
scalar observations, buffer-reusing environments, contract violations and argument errors."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, strategies as st

from rollcheck.impl.collect import collect_rollout_checked_session_with, collect_rollout_session_with
from rollcheck.impl.session import CheckedSession
from rollcheck.impl.toy_envs import CounterEnv, counter_spec_env, default_reward
from rollcheck.spec import (Contract, ContractViolation, ArgumentError, Step, action_log_softmax,
                            sample_action_from_logits)


def logits_of(n_actions):
    def predict_logits(obs):
        s = float(np.sum(obs))
        return np.array([math.sin(s * (k + 1) + k) * 3.0 for k in range(n_actions)])
    return predict_logits


def value_of(obs):
    return float(np.cos(np.sum(obs))) + 0.25 * float(np.sum(obs))


def cast_obs(obs):
    return obs * 2.0


def cast_reward(r):
    return r - 1.0


@st.composite
def configs(draw):
    return dict(n_actions=draw(st.integers(1, 4)), obs_shape=draw(st.sampled_from([(), (1,), (2,), (2, 2)])),
                terminate_at=draw(st.one_of(st.none(), st.integers(1, 5))),
                truncate_at=draw(st.one_of(st.none(), st.integers(1, 5))))


seeds = st.integers(0, 2 ** 64 - 1)
counters = st.integers(0, 2 ** 40)
horizons = st.integers(1, 16)


def collect(sess, seed, counter, horizon, **kw):
    return collect_rollout_checked_session_with(sess, cast_obs, cast_reward, logits_of(sess.n_actions), value_of,
                                                seed, counter, horizon=horizon, **kw)


def expected_steps(cfg, seed, counter, horizon):
    """The rollout written out by hand from the counter environment's definition."""
    n, dims = cfg["n_actions"], cfg["obs_shape"]
    te_at, tr_at = cfg["terminate_at"], cfg["truncate_at"]
    t_ep, out = 0, []
    for t in range(horizon):
        state = np.full(dims, 2.0 * t_ep)
        logits = logits_of(n)(state)
        c, a = sample_action_from_logits(seed, counter + t, logits)
        assert c == counter + t + 1
        te = te_at is not None and t_ep + 1 >= te_at
        tr = tr_at is not None and t_ep + 1 >= tr_at
        out.append(Step(state=state, action=a, old_log_prob=action_log_softmax(logits, a),
                        reward=default_reward(t_ep, a) - 1.0, done=te or tr, value=value_of(state),
                        next_value=value_of(np.full(dims, 2.0 * (t_ep + 1))), terminated=te))
        t_ep = 0 if (te or tr) else t_ep + 1
    return out


@given(configs(), seeds, counters, horizons, st.booleans())
def test_rollout_is_the_hand_written_rollout(cfg, seed, counter, horizon, reuse):
    transitions = []
    sess = CheckedSession.gymnasium(CounterEnv(reuse_buffer=reuse, **cfg), seed=seed % 1000)
    rollout, counter_out = collect(sess, seed, counter, horizon, on_transition=transitions.append)
    assert len(rollout.steps) == rollout.horizon == horizon
    assert counter_out == counter + horizon
    assert rollout.n_actions == cfg["n_actions"] and rollout.obs_shape.dims == cfg["obs_shape"]
    expected = expected_steps(cfg, seed, counter, horizon)
    for t, (got, want) in enumerate(zip(rollout.steps, expected, strict=True)):
        assert got == want, f"step {t}: {got} != {want}"
        assert got.state.dtype == np.float64 and not got.state.flags.writeable
    assert len(transitions) == horizon
    for step, tr in zip(rollout.steps, transitions):
        assert np.array_equal(step.state, cast_obs(tr.observation))  # state_t = observation before step t
        assert step.action == tr.action and step.reward == cast_reward(tr.reward)
        assert step.done == (tr.terminated or tr.truncated) and step.terminated == tr.terminated
        assert step.next_value == value_of(cast_obs(tr.next_observation))  # before the auto-reset


@given(configs(), seeds, counters, horizons)
def test_same_inputs_same_rollout_bit_for_bit(cfg, seed, counter, horizon):
    a, ca = collect(CheckedSession.gymnasium(CounterEnv(**cfg)), seed, counter, horizon)
    b, cb = collect(CheckedSession.gymnasium(CounterEnv(reuse_buffer=True, **cfg)), seed, counter, horizon)
    assert a == b and ca == cb
    for x, y in zip(a.steps, b.steps):
        assert (x.old_log_prob, x.value, x.next_value, x.reward) == (y.old_log_prob, y.value, y.next_value, y.reward)


@given(configs(), seeds, counters, horizons)
def test_of_env_session_collects_the_same_rollout(cfg, seed, counter, horizon):
    env_sess = CheckedSession.of_env(counter_spec_env(**cfg), Contract(), obs_shape=cfg["obs_shape"],
                                     n_actions=cfg["n_actions"])
    assert collect(env_sess, seed, counter, horizon) == collect(CheckedSession.gymnasium(CounterEnv(**cfg)),
                                                                seed, counter, horizon)


def test_horizon_one_single_action_scalar_obs():
    sess = CheckedSession.gymnasium(CounterEnv(n_actions=1, obs_shape=(), terminate_at=1, truncate_at=1))
    rollout, counter = collect(sess, 0, 5, 1)
    (step,) = rollout.steps
    assert counter == 6 and step.action == 0 and step.old_log_prob == 0.0
    assert step.state.shape == () and step.done and step.terminated and step.reward == -1.0
    assert step.next_value == value_of(np.float64(2.0))


def test_nan_reward_raises_contract_violation_naming_the_field():
    sess = CheckedSession.gymnasium(CounterEnv(reward_fn=lambda t, a: math.nan if t == 3 else 0.0))
    with pytest.raises(ContractViolation) as info:
        collect(sess, 0, 0, 10)
    assert info.value.fields == ("reward",)
    assert collect(CheckedSession.gymnasium(CounterEnv(reward_fn=lambda t, a: math.nan if t == 3 else 0.0)),
                   0, 0, 3)[0].horizon == 3  # the first three steps are clean


def test_session_returning_another_action_is_refused():
    sess = CheckedSession.gymnasium(CounterEnv(n_actions=2))

    def wrong_step(s, a):
        return sess.step_checked(s, 1 - a)

    with pytest.raises(ContractViolation, match="not a Transition for action"):
        collect_rollout_session_with(sess.start, sess.observe, wrong_step, cast_obs, cast_reward,
                                     lambda o: np.array([0.0, 0.0]), value_of, 0, 0, horizon=4, n_actions=2,
                                     obs_shape=[1])


@pytest.mark.parametrize("kwargs, pattern", [
    ({"horizon": 0}, "horizon=0 should be at least 1"),
    ({"horizon": True}, "horizon=True should be an int, not a bool"),
    ({"n_actions": 0}, "n_actions=0 should be at least 1"),
    ({"rng_seed": -1}, r"rng_seed=-1 should be at least 0"),
    ({"rng_counter": -3}, r"rng_counter=-3 should be at least 0"),
    ({"rng_seed": 1.0}, "rng_seed=1.0 should be an int"),
    ({"rng_seed": True}, "rng_seed=True should be an int, not a bool"),
])
def test_argument_errors(kwargs, pattern):
    sess = CheckedSession.gymnasium(CounterEnv())
    args = dict(rng_seed=0, rng_counter=0, horizon=3, n_actions=2) | kwargs
    with pytest.raises(ArgumentError, match=pattern):
        collect_rollout_session_with(sess.start, sess.observe, sess.step_checked, cast_obs, cast_reward,
                                     logits_of(2), value_of, args["rng_seed"], args["rng_counter"],
                                     horizon=args["horizon"], n_actions=args["n_actions"], obs_shape=[1])


def test_seeds_and_counters_are_lean_nats_wrapped_mod_2_64():
    """TorchLean takes any Nat and wraps it (``UInt64.ofNat``); the returned counter is Nat arithmetic."""
    def run(seed, counter):
        sess = CheckedSession.gymnasium(CounterEnv())
        return collect_rollout_session_with(sess.start, sess.observe, sess.step_checked, cast_obs, cast_reward,
                                            logits_of(2), value_of, seed, counter, horizon=5, n_actions=2,
                                            obs_shape=[1])
    base, c0 = run(3, 2**64 - 2)                # crosses 2**64 during the rollout
    wrapped, c1 = run(3 + 2**64, 2**64 - 2 + 2**65)
    assert (c0, c1) == (2**64 + 3, 2**64 + 3 + 2**65) and base.actions == wrapped.actions


def test_non_finite_logits_are_refused_by_the_collector_naming_the_step():
    sess = CheckedSession.gymnasium(CounterEnv())
    with pytest.raises(ArgumentError, match=r"step 0: logits\[1\]=nan is not finite"):
        collect_rollout_session_with(sess.start, sess.observe, sess.step_checked, cast_obs, cast_reward,
                                     lambda o: [0.0, float("nan")], value_of, 0, 0, horizon=2, n_actions=2,
                                     obs_shape=[1])


def test_checked_session_wrapper_rejects_non_sessions():
    with pytest.raises(ArgumentError, match="should be a rollcheck.impl.session.CheckedSession"):
        collect_rollout_checked_session_with(object(), cast_obs, cast_reward, logits_of(2), value_of, 0, 0, horizon=1)


@given(st.sampled_from([np.float32, np.float64, np.int64, np.uint8]), st.sampled_from([(), (3,), (2, 2)]))
def test_step_keeps_an_owned_frozen_state_and_copies_anything_else(dtype, dims):
    frozen = np.ones(dims, dtype=dtype)
    frozen.setflags(write=False)
    kept = Step(state=frozen, action=0, old_log_prob=0.0, reward=0.0, done=False, value=0.0, next_value=0.0,
                terminated=False)
    assert kept.state is frozen  # an immutable value needs no copy
    writable = np.ones(dims, dtype=dtype)
    for state in (writable, frozen.view(), writable[...]):
        step = Step(state=state, action=0, old_log_prob=0.0, reward=0.0, done=False, value=0.0,
                    next_value=0.0, terminated=False)
        assert step.state is not state and not step.state.flags.writeable and step.state.dtype == dtype
    writable[...] = 7  # the steps hold copies
    assert np.all(step.state == 1)
