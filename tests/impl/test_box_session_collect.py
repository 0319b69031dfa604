"""Box action spaces through checked sessions and the reference continuous collector (Pendulum-v1)."""

from __future__ import annotations

import math

import gymnasium
import numpy as np
import pytest

from rollcheck import Box, CheckedSession, ContractViolation
from rollcheck.impl.collect import (collect_rollout_box_checked_session_with, collect_rollout_box_session_with,
                                    collect_rollout_checked_session_with)
from rollcheck.impl.policy import GaussianMlpActorCritic, standard_gaussian_policy
from rollcheck.spec import ArgumentError, Env, StepResult
from rollcheck.spec.box import clip_to_box
from rollcheck.spec.gaussian import diag_gaussian_log_prob, squashed_log_prob, unscale_action


def _identity(x):
    return x


class _CountingPendulum(gymnasium.Wrapper):
    def __init__(self):
        super().__init__(gymnasium.make("Pendulum-v1"))
        self.actions = []

    def step(self, action):
        self.actions.append(np.array(action, copy=True))
        return self.env.step(action)


def test_gymnasium_session_over_a_box():
    env = _CountingPendulum()
    with CheckedSession.gymnasium(env, seed=0) as sess:
        assert isinstance(sess.action_space, Box) and sess.n_actions is None
        assert sess.action_space.low == (-2.0,) and sess.action_space.high == (2.0,)
        s = sess.start()
        tr, s = sess.step_checked(s, np.array([1.5], dtype=np.float32))
        assert tr.action.tolist() == [1.5] and tr.action.dtype == np.float64 and not tr.action.flags.writeable
        tr, s = sess.step_checked(s, [0.25])            # a list is a real tensor too
        assert tr.action.tolist() == [0.25]
        for bad, rule in [(np.array([2.5]), "Box.bounds"), (np.array([math.nan]), "Box.finite"),
                          (np.array([0.0, 0.0]), "Spec.Shape"), (1, "Spec.Shape")]:
            with pytest.raises(ContractViolation) as info:
                sess.step_checked(s, bad)
            assert rule in info.value.rules
        assert len(env.actions) == 2                    # the env never saw a bad action


def test_session_argument_errors():
    with pytest.raises(ArgumentError, match="continuous"):
        CheckedSession.gymnasium(gymnasium.make("Pendulum-v1"), n_actions=2)
    with pytest.raises(ArgumentError, match="None for a Box"):
        CheckedSession(start=lambda: None, observe=lambda s: s, step_checked=lambda s, a: None, obs_shape=(1,),
                       n_actions=2, action_space=Box((1,)))
    sess = CheckedSession.gymnasium(gymnasium.make("Pendulum-v1"), seed=0)
    with pytest.raises(ArgumentError, match="continuous; use collect_rollout_box_checked_session_with"):
        collect_rollout_checked_session_with(sess, _identity, _identity, lambda o: np.zeros(1), lambda o: 0.0, 0, 0,
                                             horizon=2)
    sess.close()


def test_of_env_with_a_box():
    env = Env(initial_state=0.0, observe=lambda s: np.array([s]),
              step=lambda s, a: StepResult(state=s + float(a[0]), reward=-abs(float(a[0])), terminated=False,
                                           truncated=False))
    sess = CheckedSession.of_env(env, obs_shape=(1,), action_space=Box((1,), -1.0, 1.0))
    s = sess.start()
    tr, s = sess.step_checked(s, np.array([0.5]))
    assert tr.next_observation.tolist() == [0.5] and tr.reward == -0.5
    with pytest.raises(ContractViolation, match="Box.bounds"):
        sess.step_checked(s, np.array([1.5]))


@pytest.mark.parametrize("squash", [False, True])
def test_reference_collector_on_pendulum(squash):
    policy = GaussianMlpActorCritic(3, 1, seed=4, log_std_init=0.5)
    seen = []
    with CheckedSession.gymnasium(gymnasium.make("Pendulum-v1"), seed=1) as sess:
        rollout, counter = collect_rollout_box_checked_session_with(
            sess, _identity, _identity, policy.predict_gaussian, policy.predict_value, 9, 5, horizon=60,
            squash=squash, on_transition=seen.append)
    box = sess.action_space
    assert counter == 5 + 2 * 60 and rollout.horizon == 60 and rollout.action_space == box
    clipped = 0
    for st, tr in zip(rollout.steps, seen):
        mean, log_std = policy.predict_gaussian(st.state)
        a = st.action.tolist()
        if squash:
            assert all(-1.0 <= x <= 1.0 for x in a)
            assert tr.action.tolist() == list(unscale_action(box, a))
            u = [math.atanh(x) for x in a]
            assert math.isclose(st.old_log_prob, squashed_log_prob(mean, log_std, u), rel_tol=1e-6, abs_tol=1e-6)
        else:
            assert st.old_log_prob == diag_gaussian_log_prob(mean, log_std, a)      # of the UNclipped sample
            assert tr.action.tolist() == list(clip_to_box(box, a))
            clipped += tr.action.tolist() != a
    if not squash:
        assert clipped > 0     # std e^0.5 on a [-2, 2] box: some samples were clipped
    with CheckedSession.gymnasium(gymnasium.make("Pendulum-v1"), seed=1) as again:
        assert collect_rollout_box_checked_session_with(again, _identity, _identity, policy.predict_gaussian,
                                                        policy.predict_value, 9, 5, horizon=60,
                                                        squash=squash)[0] == rollout


def test_counters_are_lean_nats_wrapped_by_the_stream():
    env = Env(initial_state=0.0, observe=lambda s: np.array([s]),
              step=lambda s, a: StepResult(state=s, reward=0.0, terminated=False, truncated=False))
    sess = CheckedSession.of_env(env, obs_shape=(1,), action_space=Box((1,)))
    gauss = standard_gaussian_policy(1)
    wrapped, c1 = collect_rollout_box_checked_session_with(sess, _identity, _identity, gauss.predict_gaussian,
                                                           gauss.predict_value, 3, 2**64, horizon=3)
    plain, c0 = collect_rollout_box_checked_session_with(sess, _identity, _identity, gauss.predict_gaussian,
                                                         gauss.predict_value, 3, 0, horizon=3)
    assert (c0, c1) == (6, 2**64 + 6) and wrapped.actions[0].tolist() == plain.actions[0].tolist()


def test_collector_argument_errors():
    kwargs = dict(horizon=1, action_space=Box((1,)), obs_shape=(1,))
    args = (lambda: 0, lambda s: np.zeros(1), lambda s, a: None, _identity, _identity,
            lambda o: (np.zeros(1), np.zeros(1)), lambda o: 0.0, 0)
    with pytest.raises(ArgumentError, match="rng_counter"):
        collect_rollout_box_session_with(*args, -1, **kwargs)
    with pytest.raises(ArgumentError, match="bounded"):
        collect_rollout_box_session_with(*args, 0, **{**kwargs, "squash": True, "obs_shape": (1,)})


def test_policies():
    p = GaussianMlpActorCritic(3, 2, seed=0, log_std_init=-0.5)
    mean, log_std = p.predict_gaussian(np.zeros(3))
    assert mean.shape == (2,) and log_std.tolist() == [-0.5, -0.5] and not log_std.flags.writeable
    mb, lb = p.predict_gaussian_batch(np.zeros((4, 3)))
    assert mb.shape == (4, 2) and lb.shape == (4, 2)
    with pytest.raises(ArgumentError, match="log_std_init"):
        GaussianMlpActorCritic(3, 2, log_std_init=math.inf)
    z = standard_gaussian_policy(2)
    assert [x.tolist() for x in z.predict_gaussian(None)] == [[0.0, 0.0], [0.0, 0.0]]
