"""The stateful machines of rollcheck.properties.machines: clean envs and sessions pass, planted bugs
(env_zoo_wrappers.PLANTED) and deliberately broken sessions fail with the property id that names
the bug, and a machine run leaves the global RNG states as it found them."""

from __future__ import annotations

import dataclasses
import functools
import random
import warnings

import gymnasium as gym
from typing import Any, NamedTuple

import numpy as np
import pytest
from hypothesis import HealthCheck, Phase, settings
from hypothesis.stateful import run_state_machine_as_test

import env_zoo_wrappers as zoo
from rollcheck.impl.session import CheckedSession
from rollcheck.impl.toy_envs import CounterEnv, counter_spec_env
from rollcheck.properties.core.profiles import rollcheck_settings
from rollcheck.properties.env.runner import PropertyFailure
from rollcheck.properties.env.target import TargetError
from rollcheck.properties.machines import (ENV_MACHINE_PROPERTIES, SESSION_MACHINE_PROPERTIES, env_machine,
                                           session_machine)
from rollcheck.spec import ArgumentError, Transition, check_action

BOUNDED = settings(max_examples=15, stateful_step_count=25, deadline=None, derandomize=True, database=None,
                   report_multiple_bugs=False, suppress_health_check=list(HealthCheck),
                   phases=[Phase.generate, Phase.shrink])
PLANTED = {p.name: p for p in zoo.PLANTED}

# What users write: the machine's TestCase, run with the active profile's settings.
TestCartPoleMachine = env_machine("CartPole-v1").TestCase


def _run(machine, **changes):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Gymnasium's passive checker warns about the planted bugs
        run_state_machine_as_test(machine, settings=settings(BOUNDED, **changes))


def _caught(machine, **changes) -> PropertyFailure:
    with pytest.raises(PropertyFailure) as info:
        _run(machine, **changes)
    return info.value


# ---------------------------------------------------------------------------------------------
# env_machine
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("make_env", [
    "CartPole-v1",
    "FrozenLake-v1",  # a scalar int observation, a slippery (seeded) transition
    functools.partial(CounterEnv, n_actions=3, obs_shape=(2,), terminate_at=6, truncate_at=9),
], ids=["CartPole", "FrozenLake", "CounterEnv"])
def test_env_machine_passes_clean_envs(make_env):
    _run(env_machine(make_env))


def test_testcase_uses_the_profile_and_a_sensible_step_count():
    assert TestCartPoleMachine.settings.stateful_step_count == 50
    assert TestCartPoleMachine.settings.max_examples == rollcheck_settings().max_examples
    assert TestCartPoleMachine.__name__ == "EnvMachine_CartPole_v1.TestCase"


@pytest.mark.parametrize("name", [
    "NaN reward after a run of one action", "int terminated flag", "info a list from episode 2",
    "global-RNG noise", "episode counter survives reset(seed)", "shared observation buffer", "shared info dict",
    "inner layer leaves its space, outer clips", "obs dtype float64",
])
def test_env_machine_catches_planted_bug(name):
    planted = PLANTED[name]
    exc = _caught(env_machine(planted.env, wrappers=planted.wrappers))
    assert exc.pid == planted.catches, str(exc)
    assert str(exc).startswith(planted.catches + ": ")
    assert "reset(seed=" in str(exc) and ("action" in str(exc) or "initial reset" in str(exc)), str(exc)


def test_nan_reward_shrinks_to_the_sixth_repeat():
    exc = _caught(env_machine("CartPole-v1", wrappers=PLANTED["NaN reward after a run of one action"].wrappers))
    assert exc.step == 5
    assert "[action 5 (= 0; episode 0, step 6 of the episode); 6 step(s) since reset(seed=0)]" in str(exc)


def test_env_machine_catches_a_reused_buffer_that_sessions_survive():
    make = functools.partial(CounterEnv, terminate_at=5, reuse_buffer=True)
    exc = _caught(env_machine(make))
    assert exc.pid == "aliasing.no_shared_memory"  # the memory check sees it at once, before a value changes
    exc = _caught(env_machine(make, skip=["aliasing.no_shared_memory"]))
    assert exc.pid == "aliasing.no_mutation"


def test_max_episode_steps_is_the_limit_checked():
    make = functools.partial(CounterEnv, terminate_at=None)  # never ends by itself
    _run(env_machine(make))
    exc = _caught(env_machine(make, max_episode_steps=4))
    assert exc.pid == "episode.truncated_at_limit" and "max_episode_steps=4" in str(exc)


def test_skip_leaves_a_property_out():
    planted = PLANTED["int terminated flag"]
    exc = _caught(env_machine(planted.env, wrappers=planted.wrappers, skip=["numerics.done_flags"]))
    assert exc.pid == "wrapper.layer_contract"  # the next property the same bug breaks


def test_env_machine_rejects_bad_arguments():
    with pytest.raises(ArgumentError, match="contract="):
        env_machine("CartPole-v1", contract="strict")
    with pytest.raises(ArgumentError, match="max_episode_steps=0"):
        env_machine("CartPole-v1", max_episode_steps=0)
    with pytest.raises(ArgumentError, match="vector"):
        env_machine("CartPole-v1", skip=["vector"])
    with pytest.raises(TargetError, match="NoSuchEnv-v0"):
        env_machine("NoSuchEnv-v0")
    assert "determinism.fresh_instances" in ENV_MACHINE_PROPERTIES.ids


# ---------------------------------------------------------------------------------------------
# Global RNG
# ---------------------------------------------------------------------------------------------

def _global_rng():
    return random.getstate(), np.random.get_state()


def _same_rng(a, b) -> bool:
    return a[0] == b[0] and all(np.array_equal(x, y) if isinstance(x, np.ndarray) else x == y
                                for x, y in zip(a[1], b[1]))


def test_a_machine_run_leaves_global_rng_untouched():
    before = _global_rng()
    _run(env_machine("CartPole-v1"), max_examples=3)
    assert _same_rng(before, _global_rng())


def test_teardown_restores_global_rng_an_env_consumed():
    """Driven by hand (outside Hypothesis, which also restores it): the env draws from np.random."""
    machine = env_machine("CartPole-v1", wrappers=PLANTED["global-RNG noise"].wrappers)
    before = _global_rng()
    m = machine()
    with pytest.raises(PropertyFailure, match="^determinism.fresh_instances: "):
        m.reset_first(seed=3)
    assert not _same_rng(before, _global_rng())  # the wrapper did consume it
    m.teardown()
    assert _same_rng(before, _global_rng())


def test_session_machine_teardown_restores_global_rng():
    noisy = functools.partial(gym.make, "CartPole-v1", disable_env_checker=True)
    machine = session_machine(lambda: CheckedSession.gymnasium(zoo.GlobalRNGNoise(noisy()), seed=0))
    before = _global_rng()
    m = machine()
    m.start()
    m.step_checked(action=1)
    assert not _same_rng(before, _global_rng())
    m.teardown()
    assert _same_rng(before, _global_rng())


# ---------------------------------------------------------------------------------------------
# session_machine: correct sessions
# ---------------------------------------------------------------------------------------------

def _gym_counter(**kw):
    return lambda: CheckedSession.gymnasium(CounterEnv(**kw), seed=0)


def _of_env_counter(n_actions=2, obs_shape=(1,), **kw):
    return lambda: CheckedSession.of_env(counter_spec_env(n_actions, obs_shape, **kw), obs_shape=obs_shape,
                                         n_actions=n_actions)


@pytest.mark.parametrize("make_session, reference", [
    (_gym_counter(terminate_at=5, truncate_at=7), counter_spec_env(terminate_at=5, truncate_at=7)),
    (_gym_counter(terminate_at=4, reuse_buffer=True), counter_spec_env(terminate_at=4)),  # sessions copy
    (_of_env_counter(terminate_at=3), counter_spec_env(terminate_at=3)),
    (_gym_counter(n_actions=3, obs_shape=(2, 3), terminate_at=6),
     _of_env_counter(n_actions=3, obs_shape=(2, 3), terminate_at=6)),  # a session as the reference
], ids=["gymnasium", "gymnasium-reuse-buffer", "of_env", "gymnasium-vs-of_env"])
def test_session_machine_passes_correct_sessions(make_session, reference):
    _run(session_machine(make_session, reference=reference))


def test_session_machine_without_reset_on_done():
    make = lambda: CheckedSession.of_env(counter_spec_env(terminate_at=2), obs_shape=(1,), n_actions=2,  # noqa: E731
                                         reset_on_done=False)
    _run(session_machine(make, reference=counter_spec_env(terminate_at=2), reset_on_done=False))
    exc = _caught(session_machine(make, reference=counter_spec_env(terminate_at=2)))
    assert exc.pid == "session.matches_reference"


@pytest.mark.parametrize("env_id", ["CartPole-v1", "FrozenLake-v1"])
def test_gymnasium_session_matches_a_second_instance(env_id):
    # Out-of-range actions are rejected with ContractViolation before env.step ever sees them.
    make = lambda: CheckedSession.gymnasium(gym.make(env_id), seed=0)  # noqa: E731
    _run(session_machine(make, reference=make), max_examples=8)


# ---------------------------------------------------------------------------------------------
# session_machine: deliberately broken sessions
# ---------------------------------------------------------------------------------------------

def _base(terminate_at=3):
    return CheckedSession.of_env(counter_spec_env(terminate_at=terminate_at), obs_shape=(1,), n_actions=2)


def leaky_buffer_session():
    """observe returns one internal, writable buffer, overwritten by the next observe."""
    inner, buf = _base(), np.zeros(1)

    def observe(sess):
        buf[...] = inner.observe(sess)
        return buf
    return dataclasses.replace(inner, observe=observe)


def post_reset_next_observation_session():
    """On done, the transition's next_observation is the observation after the auto-reset."""
    inner = _base()

    def step_checked(sess, action):
        tr, new = inner.step_checked(sess, action)
        if tr.done:
            tr = Transition(tr.observation, tr.action, tr.reward, inner.observe(new), tr.terminated, tr.truncated)
        return tr, new
    return dataclasses.replace(inner, step_checked=step_checked)


def next_observation_ahead_session():
    """The transition reports the observation one step further on."""
    inner = _base(terminate_at=None)

    def step_checked(sess, action):
        tr, new = inner.step_checked(sess, action)
        ahead = np.asarray(tr.next_observation) + 1.0
        return Transition(tr.observation, tr.action, tr.reward, ahead, tr.terminated, tr.truncated), new
    return dataclasses.replace(inner, step_checked=step_checked)


def stale_observation_session():
    """The transition's observation is the one from before the previous step."""
    inner, last = _base(terminate_at=None), []

    def step_checked(sess, action):
        tr, new = inner.step_checked(sess, action)
        obs = last[-1] if last else tr.observation
        last.append(tr.observation)
        return Transition(obs, tr.action, tr.reward, tr.next_observation, tr.terminated, tr.truncated), new
    return dataclasses.replace(inner, step_checked=step_checked)


def clipping_session():
    """Out-of-range actions are clipped into range instead of rejected."""
    inner = _base()
    return dataclasses.replace(inner, step_checked=lambda sess, a: inner.step_checked(sess, min(max(a, 0), 1)))


class EnvSessionState(NamedTuple):
    """A hand-written session value: the latent state and its observation."""

    state: Any
    observation: np.ndarray


def unchecked_reward_session():
    """Checks the action but builds transitions without the contract check; the env's reward is NaN
    at episode step 2."""
    env = counter_spec_env(reward_fn=lambda t, a: float("nan") if t == 2 else float(t))

    def step_checked(sess, action):
        out = env.step(sess.state, check_action(2, action))
        tr = Transition(sess.observation, action, out.reward, env.observe(out.state), out.terminated, out.truncated)
        return tr, EnvSessionState(out.state, tr.next_observation)
    return dataclasses.replace(_base(), start=lambda: EnvSessionState(0, np.zeros(1)), step_checked=step_checked)


def impure_observe_session():
    """observe reads a counter it advances: two looks at one session value differ."""
    inner, looks = _base(), [0]

    def observe(sess):
        looks[0] += 1
        return np.asarray(inner.observe(sess)) + (looks[0] % 2)
    return dataclasses.replace(inner, observe=observe)


@pytest.mark.parametrize("make_session, reference, pid", [
    (leaky_buffer_session, None, "aliasing.no_mutation"),
    (post_reset_next_observation_session, counter_spec_env(terminate_at=3), "session.matches_reference"),
    (next_observation_ahead_session, None, "session.next_observation_threaded"),
    (stale_observation_session, None, "session.observation_threaded"),
    (clipping_session, None, "session.rejects_invalid_action"),
    (unchecked_reward_session, None, "session.contract_holds"),
    (impure_observe_session, None, "session.observe_pure"),
], ids=lambda v: getattr(v, "__name__", None) if callable(v) else None)
def test_session_machine_catches_broken_session(make_session, reference, pid):
    exc = _caught(session_machine(make_session, reference=reference))
    assert exc.pid == pid, str(exc)
    assert str(exc).startswith(pid + ": ") and "step " in str(exc)


def test_post_reset_bug_is_invisible_without_a_reference():
    _run(session_machine(post_reset_next_observation_session))


def test_session_machine_rejects_bad_arguments():
    with pytest.raises(ArgumentError, match="make_session"):
        session_machine(lambda: "not a session")
    with pytest.raises(ArgumentError, match="make_session"):
        session_machine(42)
    with pytest.raises(ArgumentError, match="reference="):
        session_machine(_base, reference=3)
    with pytest.raises(ArgumentError, match="reset_on_done="):
        session_machine(_base, reset_on_done=1)
    with pytest.raises(ArgumentError, match="numerics"):
        session_machine(_base, skip=["numerics"])
    assert {"aliasing.no_mutation", "session.contract_holds"} <= set(SESSION_MACHINE_PROPERTIES.ids)
