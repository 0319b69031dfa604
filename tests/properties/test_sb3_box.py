"""validate_sb3 on a real Stable-Baselines3 PPO/A2C with a Box action space (Pendulum): SB3's own
collect_rollouts passes (unclipped sample and its log-prob stored, clipped action to the env), and a
subclass that stores the log-probability of the clipped action is caught (optional extra rollcheck[sb3])."""

from __future__ import annotations

import numpy as np
import pytest

sb3 = pytest.importorskip("stable_baselines3", reason="optional extra rollcheck[sb3] not installed: .ci/run installs the extras and runs these tests under -m extras")
pytestmark = pytest.mark.sb3

import torch as th  # noqa: E402
from stable_baselines3 import A2C, PPO  # noqa: E402
from stable_baselines3.common.env_util import make_vec_env  # noqa: E402

from rollcheck import ArgumentError, validate_sb3  # noqa: E402


def make_model(cls=PPO, **kwargs):
    env = make_vec_env("Pendulum-v1", n_envs=2, seed=0, env_kwargs={"max_episode_steps": 50})
    extra = {"batch_size": 64} if issubclass(cls, PPO) else {}
    # log_std_init=0.5: std 1.65 on a [-2, 2] box, so a good share of the samples is clipped
    return cls("MlpPolicy", env, n_steps=64, seed=0, device="cpu",
               policy_kwargs={"net_arch": [16], "log_std_init": 0.5}, **extra, **kwargs)


@pytest.mark.parametrize("cls", [PPO, A2C])
def test_sb3_on_pendulum_passes(cls):
    report = validate_sb3(make_model(cls))
    bad = {r.id: (r.findings[0].message if r.findings else r.error_reason) for r in report.results
           if r.status in ("failed", "error")}
    assert bad == {}
    held = {r.id for r in report.held}
    assert {"arrays.logprob_matches_policy", "arrays.actions_match_trace", "arrays.actions_follow_policy",
            "arrays.value_matches_critic", "sb3.truncation_value_folded"} <= held
    assert "Box([1]" in report.meta["action_space"]


class ClippedLogProbPPO(PPO):
    """Stores log pi(clip(a)) instead of log pi(a): the bug SB3's own code avoids."""

    def collect_rollouts(self, env, callback, rollout_buffer, n_rollout_steps):
        add = rollout_buffer.add
        policy = self.policy
        low, high = (th.as_tensor(x) for x in (self.action_space.low, self.action_space.high))

        def add_clipped(obs, action, reward, episode_start, value, log_prob):
            with th.no_grad():
                dist = policy.get_distribution(policy.obs_to_tensor(obs)[0])
                clipped = th.clamp(th.as_tensor(action), low, high)
                log_prob = dist.log_prob(clipped)
            return add(obs, action, reward, episode_start, value, log_prob)

        rollout_buffer.add = add_clipped
        try:
            return super().collect_rollouts(env, callback, rollout_buffer, n_rollout_steps)
        finally:
            del rollout_buffer.add


def test_log_prob_of_the_clipped_action_is_caught():
    report = validate_sb3(make_model(ClippedLogProbPPO))
    result = report.result("arrays.logprob_matches_policy")
    assert result.status == "failed"
    assert "log-probability of the clipped action" in result.findings[0].message


def test_gsde_is_refused():
    with pytest.raises(ArgumentError, match="gSDE"):
        validate_sb3(make_model(PPO, use_sde=True))
