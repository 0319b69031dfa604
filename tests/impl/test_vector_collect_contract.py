"""The vectorised collector checks every sub-env like the reference session, and rejects what it cannot run.

A contract violation in sub-env ``i`` raises :class:`VectorContractViolation` carrying the spec's
violations (same field, rule, message, value) that the reference collection of sub-env ``i`` raises,
located at sub-env ``i`` and at that sub-env's transition index.
"""

from __future__ import annotations

import math

import gymnasium as gym
import numpy as np
import pytest
from gymnasium import spaces
from gymnasium.vector import AutoresetMode, SyncVectorEnv, VectorWrapper

from rollcheck.impl.collect import collect_rollout_checked_session_with
from rollcheck.impl.policy import MlpActorCritic
from rollcheck.impl.session import CheckedSession
from rollcheck.impl.toy_envs import CounterEnv
from rollcheck.impl.vector_collect import VectorContractViolation, VectorRollout, collect_rollout_vector_with
from rollcheck.spec import Contract, ContractViolation, ArgumentError
from rollcheck.spec.random_stream import MASK64

MODES = [AutoresetMode.SAME_STEP, AutoresetMode.NEXT_STEP]
POLICY = MlpActorCritic(1, 2, hidden=(4,), seed=0, exact=True)


def identity(x):
    return x


def nan_reward_at(k):
    return lambda t, a: math.nan if t == k else float(t)


class BadResetEnv(CounterEnv):
    """Its second and later resets return a NaN observation."""

    def reset(self, *, seed=None, options=None):
        obs, info = super().reset(seed=seed, options=options)
        return (np.full_like(obs, np.nan) if self.resets > 1 else obs), info


def run_vector(factories, mode, horizon=6, contract=Contract(), policy=POLICY, **kwargs):
    vec = SyncVectorEnv(factories, autoreset_mode=mode)
    args = dict(rng_seeds=[1] * len(factories), rng_counters=[0] * len(factories), horizon=horizon,
                contract=contract, reset_seeds=[0] * len(factories))
    args.update(kwargs)
    return collect_rollout_vector_with(vec, identity, identity, policy.predict_logits_batch, policy.predict_value_batch,
                                       **args)


def reference_error(make, horizon=6, contract=Contract()):
    with CheckedSession.gymnasium(make(), seed=0, contract=contract) as sess:
        with pytest.raises(ContractViolation) as err:
            collect_rollout_checked_session_with(sess, identity, identity, POLICY.predict_logits, POLICY.predict_value,
                                                 1, 0, horizon=horizon)
    return err.value


def same_violations(got, ref):
    return [(v.field, v.rule, v.message, repr(v.value)) for v in got] == \
        [(v.field, v.rule, v.message, repr(v.value)) for v in ref]


@pytest.mark.parametrize("mode", MODES)
def test_nan_reward_in_one_sub_env_raises_the_reference_violation(mode):
    good = lambda: CounterEnv()  # noqa: E731
    bad = lambda: CounterEnv(reward_fn=nan_reward_at(2))  # noqa: E731
    with pytest.raises(VectorContractViolation) as err:
        run_vector([good, bad, good], mode)
    assert err.value.env_indices == (1,)
    assert same_violations(err.value.for_env(1), reference_error(bad).violations)
    assert err.value.first.index == 2 and err.value.rules == ("Contract.check_reward_finite",)
    assert str(err.value).startswith('sub-env 1, transition 2, field "reward"')
    assert isinstance(err.value, ContractViolation)


@pytest.mark.parametrize("mode", MODES)
def test_every_bad_sub_env_of_a_step_is_reported_with_every_violation(mode):
    contract = Contract(reward_range=(0.0, 1.0), obs_range=(0.0, 2.0))
    bad_reward = lambda: CounterEnv(reward_fn=lambda t, a: 5.0 if t == 1 else 0.0)  # noqa: E731
    both = lambda: CounterEnv(reward_fn=lambda t, a: 9.0 if t == 1 else 0.0,  # noqa: E731
                              obs_fn=lambda t: 3.0 if t == 2 else 0.0)
    with pytest.raises(VectorContractViolation) as err:
        run_vector([lambda: CounterEnv(reward_fn=lambda t, a: 0.0), bad_reward, both], mode, contract=contract)
    assert err.value.env_indices == (1, 2, 2)
    assert same_violations(err.value.for_env(1), reference_error(bad_reward, contract=contract).violations)
    assert same_violations(err.value.for_env(2), reference_error(both, contract=contract).violations)
    assert err.value.fields == ("reward", "reward", "next_observation")


class NanInSecondEpisode(CounterEnv):
    """Episodes of 2 steps; the first step of the second episode observes NaN."""

    def __init__(self):
        super().__init__(truncate_at=2)

    def _obs(self):
        obs = super()._obs()
        return np.full_like(obs, np.nan) if self.resets == 2 and self.t == 1 else obs


@pytest.mark.parametrize("mode", MODES)
def test_nan_next_observation_after_an_episode_boundary(mode):
    # Sub-env 1 lags sub-env 0 by nothing here, but under NEXT_STEP its transition index (2) is not
    # the vector step index (3): the reset step in between is not a transition.
    with pytest.raises(VectorContractViolation) as err:
        run_vector([lambda: CounterEnv(truncate_at=2), NanInSecondEpisode], mode)
    assert err.value.env_indices == (1,) and err.value.first.index == 2
    assert err.value.fields == ("next_observation",)
    assert same_violations(err.value.violations, reference_error(NanInSecondEpisode).violations)


@pytest.mark.parametrize("mode", MODES)
def test_a_bad_reset_observation_is_caught_like_the_session_does(mode):
    make = lambda: BadResetEnv(terminate_at=2)  # noqa: E731
    with pytest.raises(VectorContractViolation) as err:
        run_vector([lambda: CounterEnv(terminate_at=2), make], mode)
    assert err.value.env_indices == (1,) and err.value.first.index is None
    assert same_violations(err.value.violations, reference_error(make).violations)
    assert err.value.fields == ("observation",)


def test_a_bad_first_observation_is_caught_at_reset():
    make = lambda: CounterEnv(obs_fn=lambda t: math.inf)  # noqa: E731
    with pytest.raises(VectorContractViolation) as err:
        run_vector([make, make], AutoresetMode.SAME_STEP)
    assert err.value.env_indices == (0, 1)
    assert same_violations(err.value.for_env(0), reference_error(make).violations)


def test_exclusive_done_flags_contract():
    contract = Contract(require_exclusive_done_flags=True)
    make = lambda: CounterEnv(terminate_at=3, truncate_at=3)  # noqa: E731
    with pytest.raises(VectorContractViolation) as err:
        run_vector([make], AutoresetMode.SAME_STEP, contract=contract)
    assert err.value.first.index == 2 and err.value.rules == ("Contract.require_exclusive_done_flags",)
    assert same_violations(err.value.violations, reference_error(make, contract=contract).violations)


def test_non_finite_logits_raise_the_spec_sampler_error():
    class NanPolicy:
        def predict_logits_batch(self, obs):
            return np.where(obs >= 2, np.nan, 0.0) * np.ones((len(obs), 2))

        def predict_value_batch(self, obs):
            return np.zeros(len(obs))

    with pytest.raises(ArgumentError, match=r"sub-env 0: logits\[0\]=nan is not finite"):
        run_vector([lambda: CounterEnv()], AutoresetMode.SAME_STEP, policy=NanPolicy())


def test_final_obs_missing_under_same_step_is_a_clear_error():
    class DropInfo(VectorWrapper):
        def step(self, actions):
            obs, r, te, tr, _info = self.env.step(actions)
            return obs, r, te, tr, {}

    vec = DropInfo(SyncVectorEnv([lambda: CounterEnv(terminate_at=1)], autoreset_mode=AutoresetMode.SAME_STEP))
    with pytest.raises(ArgumentError, match=r"SAME_STEP\) reported done without info\['final_obs'\]"):
        collect_rollout_vector_with(vec, identity, identity, POLICY.predict_logits_batch, POLICY.predict_value_batch,
                                    [0], [0], horizon=3)


class DictObsEnv(gym.Env):
    observation_space = spaces.Dict({"x": spaces.Box(-1, 1, (1,))})
    action_space = spaces.Discrete(2)

    def reset(self, *, seed=None, options=None):
        return {"x": np.zeros(1, np.float32)}, {}

    def step(self, action):
        return {"x": np.zeros(1, np.float32)}, 0.0, False, False, {}


def shifted_actions_env():
    env = CounterEnv()
    env.action_space = spaces.Discrete(2, start=1)
    return env


@pytest.mark.parametrize("make_vec, message", [
    (lambda: SyncVectorEnv([CounterEnv], autoreset_mode=AutoresetMode.DISABLED),
     r"autoreset_mode'\]=AutoresetMode.DISABLED is not supported"),
    (lambda: gym.make_vec("Pendulum-v1", num_envs=1, vectorization_mode="sync"),
     r"single_action_space=Box.* should be Discrete\(n\) starting at 0"),
    (lambda: SyncVectorEnv([shifted_actions_env]), r"Discrete\(2, start=1\) should be Discrete\(n\) starting at 0"),
    (lambda: SyncVectorEnv([DictObsEnv]), r"single_observation_space=Dict.* has no shape"),
    (lambda: gym.make("CartPole-v1"), r"vec_env=.* should be a gymnasium.vector.VectorEnv"),
])
def test_unsupported_vector_envs_are_rejected(make_vec, message):
    with pytest.raises(ArgumentError, match=message):
        collect_rollout_vector_with(make_vec(), identity, identity, POLICY.predict_logits_batch,
                                    POLICY.predict_value_batch, [0], [0], horizon=2)


def test_missing_autoreset_metadata_is_rejected():
    vec = SyncVectorEnv([CounterEnv])
    vec.metadata = {}
    with pytest.raises(ArgumentError, match=r"autoreset_mode'\]=None should be"):
        collect_rollout_vector_with(vec, identity, identity, POLICY.predict_logits_batch,
                                    POLICY.predict_value_batch, [0], [0], horizon=2)


@pytest.mark.parametrize("kwargs, message", [
    (dict(horizon=0), r"horizon=0 should be at least 1"),
    (dict(horizon=True), r"horizon=True should be an int, not a bool"),
    (dict(rng_seeds=[1]), r"rng_seeds has 1 entries; expected one per sub-env \(num_envs=2\)"),
    (dict(rng_counters=[0, -1]), r"rng_counters\[1\]=-1 should be a non-negative int \(Lean Nat\)"),
    (dict(rng_seeds=[0, 1.5]), r"rng_seeds\[1\]=1.5 should be a non-negative int"),
    (dict(reset_seeds=[0]), r"reset_seeds has 1 entries; expected num_envs=2"),
    (dict(reset_seeds=[0, -3]), r"reset_seeds\[1\]=-3 should be at least 0"),
    (dict(contract="strict"), r"contract='strict' should be a rollcheck.spec.Contract"),
])
def test_bad_arguments_name_the_field_and_value(kwargs, message):
    with pytest.raises(ArgumentError, match=message):
        run_vector([CounterEnv, CounterEnv], AutoresetMode.SAME_STEP, **kwargs)


def test_policy_outputs_of_the_wrong_shape_are_rejected():
    class WrongLogits:
        predict_value_batch = staticmethod(POLICY.predict_value_batch)

        def predict_logits_batch(self, obs):
            return np.zeros((len(obs), 3))

    with pytest.raises(ArgumentError, match=r"predict_logits_batch returned shape \[2, 3\]; expected \[2, 2\]"):
        run_vector([CounterEnv, CounterEnv], AutoresetMode.SAME_STEP, policy=WrongLogits())


def _columns(t=2, n=3):
    return dict(states=np.zeros((t, n, 1)), actions=np.zeros((t, n), np.int64), old_log_prob=np.zeros((t, n)),
                rewards=np.zeros((t, n)), dones=np.zeros((t, n), bool), terminated=np.zeros((t, n), bool),
                values=np.zeros((t, n)), next_values=np.zeros((t, n)))


@pytest.mark.parametrize("change, message", [
    (dict(states=np.zeros((0, 3, 1))), r"states has shape \[0, 3, 1\]"),
    (dict(rewards=np.zeros((2, 2))), r"rewards has shape \[2, 2\]; expected \[2, 3\]"),
    (dict(dones=np.zeros((2, 3))), r"dones has dtype float64"),
    (dict(actions=np.full((2, 3), 2)), r"actions\[0, 0\]=2 is out of range \(n_actions=2\)"),
    (dict(terminated=np.eye(2, 3, dtype=bool)), r"terminated\[0, 0\]=True but dones\[0, 0\]=False"),
    (dict(actions=np.full((2, 3), -1)), r"actions\[0, 0\]=-1 is out of range"),
])
def test_vector_rollout_rejects_what_a_rollout_would_not_admit(change, message):
    cols = _columns()
    cols.update(change)
    with pytest.raises(ArgumentError, match=message):
        VectorRollout(n_actions=2, **cols)


def test_vector_rollout_stores_read_only_copies():
    cols = _columns()
    vr = VectorRollout(n_actions=2, **cols)
    cols["rewards"][0, 0] = 5.0
    assert vr.rewards[0, 0] == 0.0
    with pytest.raises(ValueError):
        vr.rewards[0, 0] = 1.0
    assert (vr.horizon, vr.num_envs) == (2, 3)
    assert vr.env_rollout(2).horizon == 2
    with pytest.raises(ArgumentError, match=r"i=3 should be in \[0, 3\)"):
        vr.env_rollout(3)


class ReshapeObs(VectorWrapper):
    """Returns a malformed observation batch from ``step``."""

    def __init__(self, env, how):
        super().__init__(env)
        self.how = how

    def step(self, actions):
        obs, r, te, tr, info = self.env.step(actions)
        return self.how(obs), r, te, tr, info


@pytest.mark.parametrize("how, error, message", [
    (lambda obs: obs[:, :0], VectorContractViolation,
     r'sub-env 0, transition 0, field "next_observation": shape \[0\] does not match the expected shape \[1\]'),
    (lambda obs: obs[:1], ArgumentError,
     r"observation batch of shape \[1, 1\] .* expected a real array of shape \[2, 1\]"),
    (lambda obs: obs.astype(bool), VectorContractViolation, r"array of dtype bool is not real-valued"),
])
def test_malformed_observation_batches_are_refused(how, error, message):
    vec = ReshapeObs(SyncVectorEnv([CounterEnv, CounterEnv], autoreset_mode=AutoresetMode.SAME_STEP), how)
    with pytest.raises(error, match=message):
        collect_rollout_vector_with(vec, identity, identity, POLICY.predict_logits_batch, POLICY.predict_value_batch,
                                    [0, 0], [0, 0], horizon=3)


class LongdoubleReward(VectorWrapper):
    """Returns the rewards as ``longdouble``, sub-env 1's first one beyond the float64 range."""

    def step(self, actions):
        obs, r, te, tr, info = self.env.step(actions)
        r = np.asarray(r, dtype=np.longdouble)
        r[1] = np.longdouble("1e400")  # finite in longdouble, ``inf`` as the spec's float(reward)
        return obs, r, te, tr, info


def test_longdouble_reward_beyond_float64_is_not_finite():
    # Where longdouble is float64 the reward is already inf; the verdict is the same either way.
    vec = LongdoubleReward(SyncVectorEnv([CounterEnv, CounterEnv], autoreset_mode=AutoresetMode.SAME_STEP))
    with pytest.raises(VectorContractViolation) as err, np.errstate(over="ignore"):
        collect_rollout_vector_with(vec, identity, identity, POLICY.predict_logits_batch, POLICY.predict_value_batch,
                                    [0, 0], [0, 0], horizon=3)
    assert err.value.env_indices == (1,) and err.value.rules == ("Contract.check_reward_finite",)
