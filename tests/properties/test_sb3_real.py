"""validate_sb3 on a real Stable-Baselines3 PPO (optional extra rollcheck[sb3]): SB3's own
collect_rollouts passes, and a collector that hides the time limit from SB3 is caught."""

from __future__ import annotations

import numpy as np
import pytest

sb3 = pytest.importorskip("stable_baselines3", reason="optional extra rollcheck[sb3] not installed: .ci/run installs the extras and runs these tests under -m extras")
pytestmark = pytest.mark.sb3

from stable_baselines3 import A2C, PPO  # noqa: E402
from stable_baselines3.common.env_util import make_vec_env  # noqa: E402
from stable_baselines3.common.vec_env import VecEnvWrapper  # noqa: E402

from rollcheck.properties.rollout.sb3 import validate_sb3  # noqa: E402
from rollcheck.spec import ArgumentError  # noqa: E402


def make_model(cls=PPO, n_steps=64, wrap=None):
    env = make_vec_env("CartPole-v1", n_envs=2, seed=0, env_kwargs={"max_episode_steps": 20})
    env = wrap(env) if wrap is not None else env
    kwargs = {"batch_size": 64} if issubclass(cls, PPO) else {}
    return cls("MlpPolicy", env, n_steps=n_steps, seed=0, device="cpu", policy_kwargs={"net_arch": [16]}, **kwargs)


class HideTimeLimit(VecEnvWrapper):
    """Drops infos["TimeLimit.truncated"], so SB3 sees every time-limit cut as a termination."""

    def reset(self):
        return self.venv.reset()

    def step_wait(self):
        obs, rewards, dones, infos = self.venv.step_wait()
        for info in infos:
            info.pop("TimeLimit.truncated", None)
        return obs, rewards, dones, infos


class NoBootstrapPPO(PPO):
    def collect_rollouts(self, env, callback, rollout_buffer, n_rollout_steps):
        return super().collect_rollouts(HideTimeLimit(env), callback, rollout_buffer, n_rollout_steps)


def test_real_sb3_ppo_passes_on_cartpole():
    model = make_model()
    report = validate_sb3(model, seed=0)
    assert report.exit_code == 0, report.to_markdown()
    assert report.meta["truncations"] > 0
    assert report.result("sb3.truncation_value_folded").status == "held"
    assert report.meta["arrays.gae_matches_spec.max_abs_error"] < 1e-4
    assert model.env is not None and model._last_obs is None  # env restored, next learn resets


def test_real_sb3_without_the_time_limit_flag_is_caught():
    report = validate_sb3(make_model(NoBootstrapPPO), seed=0)
    failed = {r.id for r in report.failed}
    assert {"sb3.truncation_value_folded", "arrays.truncation_bootstrapped"} <= failed


def test_real_sb3_a2c_passes_on_cartpole():
    report = validate_sb3(make_model(A2C, n_steps=32), seed=0)
    assert report.exit_code == 0, report.to_markdown()
    assert report.meta["truncations"] > 0 and report.meta["max_episode_steps"] == 20
    assert report.result("arrays.time_limit_truncates").status == "held"
    assert report.result("arrays.actions_follow_policy").status == "held"
    assert report.target.startswith("A2C(")


@pytest.mark.parametrize("cls", [PPO, A2C])
def test_a_wrapper_below_sb3_that_drops_the_time_limit_is_caught(cls):
    """The recorder and SB3 read the same (tampered) info dict: only the episode count tells."""
    report = validate_sb3(make_model(cls, wrap=HideTimeLimit), seed=0)
    failed = {r.id for r in report.failed}
    assert "arrays.time_limit_truncates" in failed, report.to_markdown()
    assert "reached max_episode_steps=20 without truncated" in \
        report.result("arrays.time_limit_truncates").findings[0].message


def test_n_steps_override_and_bad_arguments():
    model = make_model()
    report = validate_sb3(model, n_steps=8, seed=1)
    assert report.meta["n_steps"] == 8 and report.exit_code == 0
    with pytest.raises(ArgumentError, match="n_steps=0"):
        validate_sb3(model, n_steps=0)
    sde = PPO("MlpPolicy", make_vec_env("Pendulum-v1", n_envs=1), n_steps=8, batch_size=8, device="cpu",
              use_sde=True)
    with pytest.raises(ArgumentError, match="gSDE"):   # state-dependent noise is not a diagonal Gaussian
        validate_sb3(sde)
    assert np.isfinite(report.duration_s)
