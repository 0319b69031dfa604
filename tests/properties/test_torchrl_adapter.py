"""A real TorchRL ``Collector`` on CartPole through ``validate_torchrl``: correct passes, planted bugs fail.

The env's own record comes from ``SubEnvRecorder`` wrapping each gymnasium sub-env inside TorchRL's
``GymWrapper``/``SerialEnv`` (and ``ParallelEnv``, whose sub-envs live in worker processes).
``max_episode_steps=12`` makes truncations common, so the truncation checks really run.
"""

from __future__ import annotations

from functools import partial

import gymnasium
import numpy as np
import pytest

pytestmark = pytest.mark.torchrl
torch = pytest.importorskip("torch", reason="optional extra torch (rollcheck[torchrl]) not installed: .ci/run installs the extras and runs these tests under -m extras")
pytest.importorskip("torchrl", reason="optional extra rollcheck[torchrl] not installed: .ci/run installs the extras and runs these tests under -m extras")

from tensordict.nn import TensorDictModule  # noqa: E402
from torchrl.collectors import Collector  # noqa: E402
from torchrl.envs import GymWrapper, ParallelEnv, SerialEnv  # noqa: E402
from torchrl.modules import ProbabilisticActor, ValueOperator  # noqa: E402
from torchrl.objectives.value import GAE  # noqa: E402

from rollcheck.properties.rollout.recording import SubEnvRecorder  # noqa: E402
from rollcheck.properties.rollout.torchrl import torchrl_arrays, torchrl_policy, validate_torchrl  # noqa: E402
from rollcheck.spec import ArgumentError  # noqa: E402

N, T = 2, 64


def make_env():
    return gymnasium.make("CartPole-v1", max_episode_steps=12)


def torchrl_env(factory, categorical=True):
    return GymWrapper(factory(), categorical_action_encoding=categorical)


def _collect(categorical=True):
    """One batch of a TorchRL PPO-style setup, the recorder's trace of it, and the networks."""
    torch.manual_seed(0)
    recorder = SubEnvRecorder(N)
    env = SerialEnv(N, [partial(torchrl_env, f, categorical) for f in recorder.wrap_all(make_env)])
    env.set_seed(0)
    logits = TensorDictModule(torch.nn.Linear(4, 2), in_keys=["observation"], out_keys=["logits"])
    actor = ProbabilisticActor(logits, in_keys=["logits"], distribution_class=torch.distributions.Categorical,
                               return_log_prob=True)
    value = ValueOperator(torch.nn.Linear(4, 1), in_keys=["observation"])
    collector = Collector(env, actor, frames_per_batch=N * T, total_frames=N * T,
                          auto_register_policy_transforms=False)
    batch = next(iter(collector))
    collector.shutdown()
    trace = recorder.take()
    recorder.close()
    return batch, trace, value, torchrl_policy(logits, value)


@pytest.fixture(scope="module")
def collected():
    return _collect()


def _gae(batch, value):
    with torch.no_grad():
        return GAE(gamma=0.99, lmbda=0.95, value_network=value, average_gae=False)(batch)


def _failed(report):
    return sorted(r.id for r in report.failed)


def test_a_correct_torchrl_collector_passes_with_the_truncation_checks_run(collected):
    batch, trace, value, policy = collected
    assert trace.truncated.any()  # the truncation checks have something to check
    report = validate_torchrl(_gae(batch.clone(), value), trace=trace, policy=policy, n_actions=2,
                              values_recomputed=True)
    assert _failed(report) == [] and report.ok
    held = {r.id for r in report.held}
    assert {"arrays.actions_match_trace", "arrays.obs_match_trace", "arrays.gae_matches_spec",
            "arrays.truncation_bootstrapped", "arrays.logprob_matches_policy",
            "arrays.next_value_matches_critic"} <= held
    assert report.meta["gae_entries_not_compared"] == 0  # every advantage was really compared
    assert report.meta["tautological"] and report.meta["source"] == "torchrl"


def test_truncation_treated_as_termination_is_named(collected):
    batch, trace, value, policy = collected
    bad = batch.clone()
    bad["next", "terminated"] = bad["next", "done"].clone()  # the GAE now ends the return at time limits
    report = validate_torchrl(_gae(bad, value), trace=trace, policy=policy, n_actions=2)
    assert _failed(report) == ["arrays.gae_matches_spec", "arrays.truncation_bootstrapped"]
    message = report.failed[1].findings[0].message
    assert "truncation treated as termination" in message


def test_a_dropped_truncation_flag_is_caught_by_the_env_record(collected):
    batch, trace, value, policy = collected
    bad = batch.clone()
    cut = bad["next", "truncated"].clone()
    bad["next", "done"] = bad["next", "done"] & ~cut
    bad["next", "truncated"] = torch.zeros_like(cut)
    report = validate_torchrl(_gae(bad, value), trace=trace, policy=policy, n_actions=2)
    assert "arrays.dones_match_flags" in _failed(report)


def test_shuffled_steps_are_caught(collected):
    batch, trace, value, policy = collected
    shuffled = _gae(batch.clone(), value)[:, torch.randperm(T, generator=torch.Generator().manual_seed(1))]
    report = validate_torchrl(shuffled, trace=trace, policy=policy, n_actions=2)
    assert {"arrays.obs_match_trace", "arrays.actions_match_trace"} <= set(_failed(report))


def test_a_categorical_policy_on_a_one_hot_spec_is_caught_sending_the_wrong_actions():
    """TorchRL's GymWrapper reads a one-hot action spec with argmax: integer actions from a
    ``Categorical`` then all reach the env as action 0. Only the env's own record shows it."""
    batch, trace, value, policy = _collect(categorical=False)
    report = validate_torchrl(_gae(batch, value), trace=trace, policy=policy, n_actions=2)
    assert "arrays.actions_match_trace" in _failed(report)
    assert (trace.actions == 0).all() and (torchrl_arrays(batch)["actions"] == 1).any()


def test_torchrl_arrays_layout_and_errors(collected):
    batch, _, value, _ = collected
    done = _gae(batch.clone(), value)
    arrays = torchrl_arrays(done)
    assert arrays["obs"].shape == (T, N, 4) and arrays["actions"].shape == (T, N)
    assert arrays["rewards"].shape == (T, N) and arrays["advantages"].shape == (T, N)
    assert arrays["next_obs"].shape == (N, 4) and arrays["next_value"].shape == (N,)
    assert np.array_equal(arrays["obs"][:, 1], batch["observation"][1].numpy())  # (N, T) -> (T, N)
    one_hot = done.clone()
    one_hot["action"] = torch.nn.functional.one_hot(done["action"], 2)
    assert np.array_equal(torchrl_arrays(one_hot)["actions"], arrays["actions"])
    with pytest.raises(ArgumentError, match="the TorchRL batch has no key 'state_value'"):
        torchrl_arrays(batch)  # the collector's policy had no value module and no GAE ran
    with pytest.raises(ArgumentError, match="should be a TensorDict from a TorchRL collector"):
        torchrl_arrays(done[0, 0])


def test_parallel_env_sub_envs_in_worker_processes_are_recorded():
    recorder = SubEnvRecorder(N)
    env = ParallelEnv(N, [partial(torchrl_env, f) for f in recorder.wrap_all(make_env)])
    try:
        env.set_seed(0)
        rollout = env.rollout(10, break_when_any_done=False)
    finally:
        env.close()
    trace = recorder.take()
    recorder.close()
    assert trace.horizon == 10
    assert np.array_equal(trace.actions, rollout["action"].numpy().T)
    assert np.array_equal(trace.obs, rollout["observation"].numpy().swapaxes(0, 1))
    assert np.array_equal(trace.truncated, rollout["next", "truncated"].numpy()[..., 0].T)
