"""``validate_arrays`` on continuous (Box) buffers, CleanRL ``ppo_continuous_action.py``-style: correct
passes; each planted Gaussian bug fails with the property (and diagnosis) that names it."""

from __future__ import annotations

import gymnasium
import numpy as np
import pytest

from rollcheck import Box, GaussianMlpActorCritic, RecordingVecEnv, validate_arrays
from rollcheck.properties.rollout.arrays_box import env_actions, gaussian_law_test
from rollcheck.spec.gaussian import diag_gaussian_log_prob, squashed_log_prob

BOX = Box((1,), -2.0, 2.0)
T, N = 128, 2


def _buffer(bug=None, squash=False, seed=0):
    """A CleanRL-style rollout of a Gaussian MLP on N Pendulums, recorded; ``bug`` plants one mistake."""
    policy = GaussianMlpActorCritic(3, 1, seed=seed, log_std_init=0.3)
    rng = np.random.default_rng(seed)
    env = RecordingVecEnv(gymnasium.vector.SyncVectorEnv([lambda: gymnasium.make("Pendulum-v1")] * N))
    obs, _ = env.reset(seed=seed)
    cols = {k: [] for k in ("obs", "actions", "logprobs", "rewards", "dones", "values")}
    done = np.zeros(N, bool)
    for _t in range(T):
        mean, log_std = policy.predict_gaussian_batch(obs)
        std = np.exp(log_std)
        if bug == "log_std_ignored":
            std = np.ones_like(std)
        if bug == "mean_std_swapped":
            mean, std = std, np.exp(mean)
        u = (mean + std * rng.standard_normal(mean.shape)).astype(np.float32)   # torch float32, as CleanRL
        a = np.tanh(u) if squash else u
        sent = env_actions(a, BOX, squash)
        lp = []
        for i in range(N):
            m, s = policy.predict_gaussian(obs[i])
            if squash:
                lp.append(diag_gaussian_log_prob(m, s, u[i]) if bug == "no_tanh_correction"
                          else squashed_log_prob(m, s, u[i]))
            else:
                lp.append(diag_gaussian_log_prob(m, s, sent[i] if bug == "log_prob_of_clipped" else u[i]))
        for k, v in (("obs", obs), ("actions", a), ("logprobs", lp), ("dones", done),
                     ("values", policy.predict_value_batch(obs))):
            cols[k].append(np.array(v, dtype=np.float32 if k != "dones" else np.float32))
        obs, reward, term, trunc, _ = env.step(u if bug == "not_clipped" else sent)
        cols["rewards"].append(np.asarray(reward, np.float32))
        done = term | trunc
    arrays = {k: np.stack(v) for k, v in cols.items()}
    arrays.update(next_obs=obs.astype(np.float32), next_done=done.astype(np.float32),
                  next_value=policy.predict_value_batch(obs).astype(np.float32))
    return arrays, env.trace(), policy


@pytest.mark.parametrize("squash", [False, True])
def test_a_correct_continuous_buffer_holds(squash):
    arrays, trace, policy = _buffer(squash=squash)
    report = validate_arrays(arrays, trace=trace, policy=policy, action_space=BOX, squash=squash)
    bad = {r.id: (r.findings[0].message if r.findings else r.error_reason) for r in report.results
           if r.status in ("failed", "error")}
    assert bad == {}
    held = {r.id for r in report.held}
    assert {"arrays.logprob_matches_policy", "arrays.actions_match_trace", "arrays.actions_follow_policy",
            "arrays.value_matches_critic"} <= held


@pytest.mark.parametrize("bug, squash, pid, words", [
    ("log_prob_of_clipped", False, "arrays.logprob_matches_policy", "log-probability of the clipped action"),
    ("no_tanh_correction", True, "arrays.logprob_matches_policy", "tanh correction is missing"),
    ("log_std_ignored", False, "arrays.actions_follow_policy", "not draws from N(mean, exp(log_std))"),
    ("mean_std_swapped", False, "arrays.actions_follow_policy", "not draws"),
    ("not_clipped", False, "arrays.actions_match_trace", "clip(sample, low, high)"),
])
def test_each_planted_bug_is_named(bug, squash, pid, words):
    arrays, trace, policy = _buffer(bug, squash=squash)
    report = validate_arrays(arrays, trace=trace, policy=policy, action_space=BOX, squash=squash)
    result = report.result(pid)
    assert result.status == "failed" and words in result.findings[0].message


def test_gaussian_law_test_false_alarm_and_power():
    rng = np.random.default_rng(0)
    alarms = sum(gaussian_law_test(rng.standard_normal(500))[0] for _ in range(300))
    assert alarms == 0
    assert gaussian_law_test(np.zeros(200))[0]                          # the mean action (argmax-like)
    assert gaussian_law_test(1.5 * rng.standard_normal(400))[0]         # std too wide
    assert gaussian_law_test(rng.standard_normal(400) + 0.5)[0]         # a shifted mean
    assert not gaussian_law_test(np.zeros(5))[0]                        # too few entries: not tested


def test_box_arguments_and_shapes():
    arrays, trace, policy = _buffer()
    with pytest.raises(Exception, match="squash"):
        validate_arrays(arrays, action_space=Box((1,)), squash=True)
    flat = dict(arrays, actions=arrays["actions"][..., 0])
    report = validate_arrays(flat, trace=trace, policy=policy, action_space=BOX)
    assert report.result("arrays.shapes").status == "failed"
    assert "actions has shape [128, 2]; expected [128, 2, 1]" in report.result("arrays.shapes").findings[0].message


def test_rollcheck_arrays_cli_on_a_continuous_buffer(tmp_path, monkeypatch, capsys):
    from rollcheck.cli import main
    from rollcheck.properties.rollout.arrays_file import save_arrays_file

    header = '{"type": "box", "shape": [1], "low": [-2.0], "high": [2.0]}'
    good, trace, _ = _buffer()
    bad, bad_trace, _ = _buffer("log_prob_of_clipped")
    save_arrays_file(tmp_path / "good.npz", good, trace)
    save_arrays_file(tmp_path / "bad.npz", bad, bad_trace)
    (tmp_path / "box_policy.py").write_text(
        "from rollcheck import GaussianMlpActorCritic\npolicy = GaussianMlpActorCritic(3, 1, seed=0, log_std_init=0.3)\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    args = ["--policy", "box_policy:policy", "--action-space", header, "--report-dir", "out"]
    assert main(["arrays", "good.npz", *args]) == 0
    assert main(["arrays", "bad.npz", *args]) == 1
    assert "log-probability of the clipped action" in capsys.readouterr().out
    assert main(["arrays", "good.npz", "--action-space", "{not json"]) == 2
