"""``CheckedSession.gymnasium`` and ``CheckedSession.of_env``: TorchLean's session semantics
(seeded first reset, auto-reset after done, next_observation before the reset, copies), argument
errors, and agreement with the spec's ``rollout_from`` and with each other."""

from __future__ import annotations

import math

import gymnasium
import numpy as np
import pytest
from gymnasium import spaces
from hypothesis import given, strategies as st

from rollcheck.impl.session import CheckedSession
from rollcheck.impl.toy_envs import COUNTER_ENV_ID, CounterEnv, counter_spec_env, register_toy_envs
from rollcheck.spec import Contract, ContractViolation, ArgumentError, rollout_from


class SpyCounter(CounterEnv):
    """Records the seed of every reset and counts close() calls."""

    def __init__(self, **kw):
        super().__init__(**kw)
        self.reset_seeds = []
        self.closed = 0

    def reset(self, *, seed=None, options=None):
        self.reset_seeds.append(seed)
        return super().reset(seed=seed, options=options)

    def close(self):
        self.closed += 1


def run(sess, actions):
    s = sess.start()
    out = []
    for a in actions:
        tr, s = sess.step_checked(s, a)
        out.append((tr, sess.observe(s)))
    return out


# ---------------------------------------------------------------------------------------------
# Arguments
# ---------------------------------------------------------------------------------------------

def test_gymnasium_infers_spaces():
    sess = CheckedSession.gymnasium(CounterEnv(n_actions=3, obs_shape=(2, 2)))
    assert sess.n_actions == 3 and sess.obs_shape.dims == (2, 2)


def test_gymnasium_rejects_other_action_spaces_naming_them():
    env = CounterEnv()
    env.action_space = spaces.MultiBinary(2)   # a Box is accepted (continuous actions: test_box_session_collect.py)
    with pytest.raises(ArgumentError, match=r"action_space=MultiBinary.*neither a gymnasium.spaces.Discrete nor a Box"):
        CheckedSession.gymnasium(env)


def test_gymnasium_rejects_shifted_discrete():
    env = CounterEnv()
    env.action_space = spaces.Discrete(2, start=1)
    with pytest.raises(ArgumentError, match="starts at 1"):
        CheckedSession.gymnasium(env)


@pytest.mark.parametrize("kwargs, pattern", [
    ({"obs_shape": [3]}, r"obs_shape=\[3\] does not match env.observation_space.shape=\(1,\)"),
    ({"n_actions": 5}, "n_actions=5 does not match"),
    ({"seed": -1}, "seed=-1 should be at least 0"),
    ({"reset_on_done": 1}, "reset_on_done=1 should be a bool"),
    ({"contract": "strict"}, "contract='strict' should be a rollcheck.spec.Contract"),
])
def test_gymnasium_argument_errors(kwargs, pattern):
    with pytest.raises(ArgumentError, match=pattern):
        CheckedSession.gymnasium(CounterEnv(), **kwargs)


def test_gymnasium_accepts_matching_explicit_spaces():
    sess = CheckedSession.gymnasium(CounterEnv(n_actions=2, obs_shape=()), obs_shape=[], n_actions=2)
    assert sess.obs_shape.dims == ()


def test_of_env_argument_errors():
    env = counter_spec_env()
    with pytest.raises(ArgumentError, match="n_actions=0 should be at least 1"):
        CheckedSession.of_env(env, Contract(), obs_shape=[1], n_actions=0)
    with pytest.raises(ArgumentError, match="should be a rollcheck.spec.Env"):
        CheckedSession.of_env(CounterEnv(), Contract(), obs_shape=[1], n_actions=2)


# ---------------------------------------------------------------------------------------------
# Semantics
# ---------------------------------------------------------------------------------------------

def test_first_reset_seeded_later_resets_unseeded_and_next_obs_before_reset():
    env = SpyCounter(terminate_at=2)
    sess = CheckedSession.gymnasium(env, seed=7)
    steps = run(sess, [0, 1, 1, 0, 1])
    assert env.reset_seeds == [7, None, None]
    (t0, o0), (t1, o1), (t2, o2), (t3, o3), (t4, o4) = steps
    assert t0.observation.tolist() == [0.0] and t0.next_observation.tolist() == [1.0] and o0.tolist() == [1.0]
    assert t1.next_observation.tolist() == [2.0] and t1.terminated and not t1.truncated
    assert o1.tolist() == [0.0]  # observe after done: the reset observation
    assert t2.observation.tolist() == [0.0]
    assert [t.reward for t, _ in steps] == [0.0, 1.5, 0.5, 1.0, 0.5]
    assert t3.done and o4.tolist() == [1.0]


def test_no_reset_on_done_keeps_last_observation():
    env = SpyCounter(truncate_at=1)
    sess = CheckedSession.gymnasium(env, seed=0, reset_on_done=False)
    (t0, o0), = run(sess, [1])
    assert t0.truncated and not t0.terminated and o0.tolist() == [1.0] and env.reset_seeds == [0]


def test_terminated_and_truncated_at_once():
    sess = CheckedSession.gymnasium(CounterEnv(terminate_at=1, truncate_at=1))
    (t0, o0), = run(sess, [0])
    assert t0.terminated and t0.truncated and o0.tolist() == [0.0]
    strict = CheckedSession.gymnasium(CounterEnv(terminate_at=1, truncate_at=1),
                                      contract=Contract(require_exclusive_done_flags=True))
    with pytest.raises(ContractViolation) as info:
        run(strict, [0])
    assert info.value.rules == ("Contract.require_exclusive_done_flags",)


def test_reused_buffer_does_not_corrupt_transitions():
    env = CounterEnv(obs_shape=(2,), terminate_at=3, reuse_buffer=True)
    sess = CheckedSession.gymnasium(env)
    steps = run(sess, [0] * 7)
    assert [t.observation[0] for t, _ in steps] == [0, 1, 2, 0, 1, 2, 0]
    assert [t.next_observation[0] for t, _ in steps] == [1, 2, 3, 1, 2, 3, 1]
    assert all(not t.observation.flags.writeable for t, _ in steps)


def test_nan_reward_raises_naming_the_field():
    sess = CheckedSession.gymnasium(CounterEnv(reward_fn=lambda t, a: math.nan if t == 1 else 1.0))
    with pytest.raises(ContractViolation) as info:
        run(sess, [0, 0, 0])
    assert info.value.fields == ("reward",) and "nan is not finite" in str(info.value)


def test_every_violation_of_a_step_is_reported():
    env = CounterEnv(reward_fn=lambda t, a: math.inf, obs_fn=lambda t: math.nan if t == 1 else float(t))
    with pytest.raises(ContractViolation) as info:
        run(CheckedSession.gymnasium(env, contract=Contract(reward_range=(0.0, 1.0))), [0])
    assert info.value.fields == ("reward", "reward", "next_observation")


def test_bad_reset_observation_raises():
    env = CounterEnv(obs_fn=lambda t: math.inf if t == 0 else 1.0)
    with pytest.raises(ContractViolation) as info:
        CheckedSession.gymnasium(env).start()
    assert info.value.fields == ("observation",)
    with pytest.raises(ContractViolation):
        CheckedSession.of_env(counter_spec_env(obs_fn=lambda t: math.inf), obs_shape=[1], n_actions=2).start()


def test_obs_range_contract():
    sess = CheckedSession.gymnasium(CounterEnv(), contract=Contract(obs_range=(0.0, 2.0)))
    with pytest.raises(ContractViolation) as info:
        run(sess, [0, 0, 0])
    assert info.value.rules == ("Contract.obs_range",) and info.value.fields == ("next_observation",)


def test_close_once_and_context_manager():
    env = SpyCounter()
    with CheckedSession.gymnasium(env) as sess:
        sess.close()
    assert env.closed == 1


def test_registered_counter_env_runs_through_a_session():
    register_toy_envs()
    register_toy_envs()  # idempotent
    env = gymnasium.make(COUNTER_ENV_ID, n_actions=3, terminate_at=2)
    (t0, _), (t1, o1) = run(CheckedSession.gymnasium(env, seed=1), [2, 2])
    assert t0.reward == 1.0 and t1.terminated and o1.tolist() == [0.0]


# ---------------------------------------------------------------------------------------------
# Agreement: of_env vs the spec's rollout_from; gymnasium vs of_env
# ---------------------------------------------------------------------------------------------

limits = st.one_of(st.none(), st.integers(1, 5))
dims = st.sampled_from([(), (1,), (2, 3)])


@given(st.integers(1, 4).flatmap(lambda n: st.tuples(st.just(n), st.lists(st.integers(0, n - 1), max_size=12))),
       limits, limits, dims)
def test_of_env_without_reset_equals_spec_rollout_from(n_actions_and_actions, te_at, tr_at, shape):
    n, actions = n_actions_and_actions
    env = counter_spec_env(n_actions=n, obs_shape=shape, terminate_at=te_at, truncate_at=tr_at)
    sess = CheckedSession.of_env(env, Contract(), reset_on_done=False, obs_shape=shape, n_actions=n)
    got = [tr for tr, _ in run(sess, actions)]
    assert got == rollout_from(env, env.initial_state, actions)


@given(st.integers(1, 4).flatmap(lambda n: st.tuples(st.just(n), st.lists(st.integers(0, n - 1), max_size=12))),
       limits, limits, dims, st.booleans())
def test_gymnasium_session_equals_of_env_session(n_actions_and_actions, te_at, tr_at, shape, reuse):
    n, actions = n_actions_and_actions
    kw = dict(n_actions=n, obs_shape=shape, terminate_at=te_at, truncate_at=tr_at)
    gym_sess = CheckedSession.gymnasium(CounterEnv(reuse_buffer=reuse, **kw), seed=3)
    env_sess = CheckedSession.of_env(counter_spec_env(**kw), Contract(), obs_shape=shape, n_actions=n)
    for (t_g, o_g), (t_e, o_e) in zip(run(gym_sess, actions), run(env_sess, actions), strict=True):
        assert t_g == t_e and np.array_equal(o_g, o_e) and o_g.shape == shape


@pytest.mark.parametrize("bad", [-1, 2, 7, True, 0.5, "1"])
def test_out_of_range_action_is_rejected_before_the_env_is_stepped(bad):
    calls = []

    class Spy(gymnasium.Wrapper):
        def step(self, action):
            calls.append(action)
            return super().step(action)

    sess_def = CheckedSession.gymnasium(Spy(gymnasium.make("CartPole-v1")), seed=0)
    sess = sess_def.start()
    with pytest.raises(ContractViolation) as info:
        sess_def.step_checked(sess, bad)
    assert info.value.fields == ("action",) and calls == []
