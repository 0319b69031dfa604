"""A real Tianshou PPO ``Collector`` and ``VectorReplayBuffer`` on CartPole through ``validate_tianshou``.

The buffer plus the batch Tianshou's PPO preprocessing computes (``v_s``, ``logp_old``, ``adv``,
``returns``) are checked against the env's own record (``SubEnvRecorder`` below Tianshou's
``DummyVectorEnv``): a correct setup passes; truncation turned into termination above the recorder
and shuffled observations fail.
"""

from __future__ import annotations

import gymnasium
import numpy as np
import pytest

pytestmark = pytest.mark.tianshou
torch = pytest.importorskip("torch", reason="optional extra torch (rollcheck[tianshou]) not installed: .ci/run installs the extras and runs these tests under -m extras")
pytest.importorskip("tianshou", reason="optional extra rollcheck[tianshou] not installed: .ci/run installs the extras and runs these tests under -m extras")

from tianshou.algorithm import PPO  # noqa: E402
from tianshou.algorithm.modelfree.reinforce import DiscreteActorPolicy  # noqa: E402
from tianshou.algorithm.optim import AdamOptimizerFactory  # noqa: E402
from tianshou.data import Collector, VectorReplayBuffer  # noqa: E402
from tianshou.env import DummyVectorEnv  # noqa: E402
from tianshou.utils.net.common import Net  # noqa: E402
from tianshou.utils.net.discrete import DiscreteActor, DiscreteCritic  # noqa: E402

from rollcheck.properties.rollout.recording import SubEnvRecorder  # noqa: E402
from rollcheck.properties.rollout.tianshou import tianshou_arrays, validate_tianshou  # noqa: E402
from rollcheck.properties.rollout.torch_policy import TorchPolicy  # noqa: E402
from rollcheck.spec import ArgumentError  # noqa: E402

N, T = 2, 64


def make_env():
    return gymnasium.make("CartPole-v1", max_episode_steps=12)


class TruncationAsTermination(gymnasium.Wrapper):
    """The classic bug, above the recorder: a time-limit truncation reported as a termination."""

    def step(self, action):
        obs, reward, terminated, truncated, info = self.env.step(action)
        return obs, reward, terminated or truncated, False, info


def _collect(wrapper=None):
    torch.manual_seed(0)
    recorder = SubEnvRecorder(N)
    factories = recorder.wrap_all(make_env)
    if wrapper is not None:
        factories = [lambda f=f: wrapper(f()) for f in factories]
    envs = DummyVectorEnv(factories)
    envs.seed(0)
    space = gymnasium.spaces.Discrete(2)
    actor = DiscreteActor(preprocess_net=Net(state_shape=4, hidden_sizes=[16]), action_shape=2,
                          softmax_output=False)
    critic = DiscreteCritic(preprocess_net=Net(state_shape=4, hidden_sizes=[16]))
    algorithm = PPO(policy=DiscreteActorPolicy(actor=actor, action_space=space), critic=critic,
                    optim=AdamOptimizerFactory(lr=1e-3))
    buffer = VectorReplayBuffer(N * T, buffer_num=N)
    collector = Collector(algorithm, envs, buffer)
    collector.reset()
    collector.collect(n_step=N * T)
    envs.close()
    trace = recorder.take()
    recorder.close()
    batch, indices = buffer.sample(0)
    batch = algorithm._preprocess_batch(batch, buffer, indices)  # what PPO.update computes first
    return buffer, batch, indices, trace, TorchPolicy(lambda x: actor(x)[0], critic)


@pytest.fixture(scope="module")
def collected():
    return _collect()


def _failed(report):
    return sorted(r.id for r in report.failed)


def test_a_correct_tianshou_ppo_buffer_passes_with_the_truncation_checks_run(collected):
    buffer, batch, indices, trace, policy = collected
    assert trace.truncated.any()
    report = validate_tianshou(buffer, batch, indices, trace=trace, policy=policy, n_actions=2)
    assert _failed(report) == [] and report.ok
    held = {r.id for r in report.held}
    assert {"arrays.actions_match_trace", "arrays.rewards_match_trace", "arrays.dones_match_flags",
            "arrays.gae_matches_spec", "arrays.returns_are_advantages_plus_values",
            "arrays.truncation_bootstrapped"} <= held
    assert report.meta["gae_entries_not_compared"] == 0  # every advantage was really compared
    assert any("logprob_matches_policy" in t for t in report.meta["tautological"])


def test_truncation_reported_as_termination_above_the_recorder_is_named():
    buffer, batch, indices, trace, policy = _collect(TruncationAsTermination)
    assert trace.truncated.any() and not buffer.truncated.any()
    report = validate_tianshou(buffer, batch, indices, trace=trace, policy=policy, n_actions=2)
    assert _failed(report) == ["arrays.gae_matches_spec", "arrays.truncation_bootstrapped"]
    assert "truncation treated as termination" in next(
        r for r in report.failed if r.id == "arrays.truncation_bootstrapped").findings[0].message
    # the buffer's own flags would have vouched for it: without the trace nothing is truncated
    alone = validate_tianshou(buffer, batch, indices, policy=policy, n_actions=2)
    assert "arrays.truncation_bootstrapped" not in _failed(alone)


def test_shuffled_observations_are_caught(collected):
    buffer, batch, indices, trace, policy = collected
    arrays = tianshou_arrays(buffer, batch, indices, flags=False)
    from rollcheck.properties.rollout.arrays import validate_arrays

    arrays["obs"] = arrays["obs"][np.random.default_rng(0).permutation(T)]
    report = validate_arrays(arrays, trace=trace, policy=policy, n_actions=2, dones_convention="step")
    assert {"arrays.obs_match_trace", "arrays.logprob_matches_policy"} <= set(_failed(report))


def test_tianshou_arrays_layout_and_errors(collected):
    buffer, batch, indices, trace, _ = collected
    arrays = tianshou_arrays(buffer, batch, indices)
    assert arrays["obs"].shape == (T, N, 4) and arrays["logprobs"].shape == (T, N)
    assert np.array_equal(arrays["obs"], trace.obs) and np.array_equal(arrays["truncated"], trace.truncated)
    with pytest.raises(ArgumentError, match="batch=None: Tianshou computes logp_old and v_s only"):
        tianshou_arrays(buffer)
    raw, raw_indices = buffer.sample(0)
    with pytest.raises(ArgumentError, match=r"the batch has no field\(s\) \['logp_old', 'v_s'\]"):
        tianshou_arrays(buffer, raw, raw_indices)
    with pytest.raises(ArgumentError, match="should be a Tianshou ReplayBuffer"):
        tianshou_arrays({"obs": []}, batch)
    uneven = VectorReplayBuffer(8, buffer_num=2)
    from tianshou.data import Batch

    step = Batch(obs=np.zeros((1, 4)), act=np.zeros(1, int), rew=np.zeros(1), terminated=np.zeros(1, bool),
                 truncated=np.zeros(1, bool), obs_next=np.zeros((1, 4)), info=Batch())
    uneven.add(step, buffer_ids=[0])
    with pytest.raises(ArgumentError, match=r"sub-buffers hold \[1, 0\] steps"):
        tianshou_arrays(uneven, batch)
