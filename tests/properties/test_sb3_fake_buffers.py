"""The SB3 buffer checks without SB3 or torch: SB3-layout buffers built in numpy (SB3's
collect_rollouts + compute_returns_and_advantage re-enacted on a recorded Gymnasium vector env),
correct and with planted mistakes, each caught by the property it breaks."""

from __future__ import annotations

from types import SimpleNamespace

import gymnasium as gym
import numpy as np
import pytest

from rollcheck.impl.policy import MlpActorCritic
from rollcheck.properties.rollout.arrays import log_softmax_rows
from rollcheck.properties.rollout.recording import RecordingVecEnv
from rollcheck.properties.rollout.sb3 import check_sb3_buffer, check_value_fold, import_sb3

GAMMA, LAM, T, N = 0.99, 0.95, 64, 3


def sb3_like(agent, *, fold="final", wrong_action_logprob=False, seed=0):
    """SB3's rollout: float32 buffer, episode_starts, value fold on TimeLimit.truncated, SB3's GAE."""
    envs = RecordingVecEnv(gym.make_vec("CartPole-v1", num_envs=N, vectorization_mode="sync", max_episode_steps=18,
                                        vector_kwargs={"autoreset_mode": gym.vector.AutoresetMode.SAME_STEP}))
    rng = np.random.default_rng(seed)
    f32 = np.float32
    b = SimpleNamespace(observations=np.zeros((T, N, 4), f32), actions=np.zeros((T, N, 1), f32),
                        rewards=np.zeros((T, N), f32), episode_starts=np.zeros((T, N), f32),
                        values=np.zeros((T, N), f32), log_probs=np.zeros((T, N), f32))
    obs, _ = envs.reset(seed=seed)
    starts = np.ones(N, bool)
    for t in range(T):
        lp = log_softmax_rows(agent.predict_logits_batch(obs))
        a = (rng.random((N, 1)) > np.cumsum(np.exp(lp), axis=1)).sum(axis=1).clip(0, 1)
        v = agent.predict_value_batch(obs)
        new_obs, r, te, tr, info = envs.step(a)
        r = r.astype(f32)
        for i in np.flatnonzero(tr & ~te):  # SB3: TimeLimit.truncated = truncated and not terminated
            if fold == "final":
                r[i] += GAMMA * agent.predict_value(info["final_obs"][i])
            elif fold == "stale":  # the value of the observation *before* the last step
                r[i] += GAMMA * v[i]
        b.observations[t], b.actions[t, :, 0], b.rewards[t], b.episode_starts[t] = obs, a, r, starts
        b.values[t] = v
        b.log_probs[t] = lp[np.arange(N), 1 - a if wrong_action_logprob else a]
        obs, starts = new_obs, te | tr
    last_values = agent.predict_value_batch(obs).astype(f32)
    b.advantages = np.zeros((T, N), f32)
    last = np.zeros(N, f32)
    for t in reversed(range(T)):
        if t == T - 1:
            nonterminal, nv = 1.0 - starts.astype(f32), last_values
        else:
            nonterminal, nv = 1.0 - b.episode_starts[t + 1], b.values[t + 1]
        delta = b.rewards[t] + GAMMA * nv * nonterminal - b.values[t]
        last = delta + GAMMA * LAM * nonterminal * last
        b.advantages[t] = last
    b.returns = b.advantages + b.values
    return b, envs.trace()


@pytest.fixture(scope="module")
def agent():
    return MlpActorCritic(4, 2, hidden=(16,), seed=5)


def check(agent, b, trace):
    return check_sb3_buffer(b, trace, agent, gamma=GAMMA, lam=LAM, n_actions=2)


def test_sb3_like_collection_passes(agent):
    b, trace = sb3_like(agent)
    assert (trace.truncated & ~trace.terminated).any()
    report = check(agent, b, trace)
    assert report.exit_code == 0, report.to_markdown()
    assert report.result("sb3.truncation_value_folded").status == "held"
    assert report.result("arrays.truncation_bootstrapped").status == "held"
    assert report.meta["episode_starts_row0_all_true"] and report.meta["fold_max_abs_error"] < 1e-5


def test_truncation_not_bootstrapped_is_caught(agent):
    b, trace = sb3_like(agent, fold="none")
    report = check(agent, b, trace)
    failed = {r.id for r in report.failed}
    assert failed == {"sb3.truncation_value_folded", "arrays.truncation_bootstrapped", "arrays.gae_matches_spec"}
    assert "not folded at all" in report.result("sb3.truncation_value_folded").findings[0].message
    assert "off by up to" in report.result("arrays.truncation_bootstrapped").findings[0].message


def test_fold_with_a_stale_value_is_caught(agent):
    b, trace = sb3_like(agent, fold="stale")
    report = check(agent, b, trace)
    assert "sb3.truncation_value_folded" in {r.id for r in report.failed}


def test_logprob_of_the_wrong_action_is_caught(agent):
    b, trace = sb3_like(agent, wrong_action_logprob=True)
    report = check(agent, b, trace)
    assert {r.id for r in report.failed} == {"arrays.logprob_matches_policy"}
    assert "log-prob of action" in report.result("arrays.logprob_matches_policy").findings[0].message


def test_shifted_rewards_are_caught(agent):
    b, trace = sb3_like(agent)
    b.rewards = np.roll(b.rewards, 1, axis=0)
    report = check(agent, b, trace)
    assert "arrays.rewards_match_trace" in {r.id for r in report.failed}


def test_value_fold_skips_when_nothing_was_truncated(agent):
    b, trace = sb3_like(agent)
    quiet = SimpleNamespace(**{k: getattr(trace, k) for k in ("rewards", "terminated", "next_obs")},
                            truncated=np.zeros_like(trace.truncated))
    res, rewards, err = check_value_fold(b.rewards, quiet, np.zeros(trace.rewards.shape), GAMMA)
    assert res.status == "skipped" and err is None and rewards is b.rewards


def test_missing_sb3_names_the_extra(monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "stable_baselines3", None)
    with pytest.raises(ImportError, match=r"rollcheck\[sb3\]"):
        import_sb3()
