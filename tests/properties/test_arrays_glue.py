"""validate_arrays on buffers as libraries write them, and the named diagnoses, each both ways.

CleanRL's own layout (float32 actions, float32 0/1 dones and next_done) is accepted; a bad array
fails arrays.shapes and skips only the properties that read it, naming it; each classic mistake
planted in a correct buffer is caught with its name, and the correct buffer gets no diagnosis;
an episode reaching the time limit without truncated is flagged even when the trace agrees with
the buffer; argmax actions fail arrays.actions_follow_policy; recomputed values are reported as
tautological.
"""

from __future__ import annotations

import numpy as np
import pytest

from rollcheck import validate_arrays
from rollcheck.impl.policy import MlpActorCritic
from rollcheck.properties.rollout.arrays_diagnoses import MISTAKES
from rollcheck.properties.rollout.arrays_time_limit import time_limit_violations
from rollcheck.spec import ArgumentError

from test_arrays_cleanrl import GAMMA, LAM, T, N, cleanrl_collect, make_envs


@pytest.fixture(scope="module")
def agent():
    return MlpActorCritic(4, 2, hidden=(16,), seed=3)


@pytest.fixture(scope="module")
def good(agent):
    return cleanrl_collect(make_envs(), agent, dtype=np.float64)


def check(arrays, trace, agent, **kw):
    return validate_arrays(arrays, trace=trace, policy=agent, gamma=GAMMA, lam=LAM, **kw)


def message(report, pid):
    res = report.result(pid)
    assert res.status == "failed", (pid, res.status, res.skip_reason)
    return res.findings[0].message


def test_cleanrl_float32_layout_is_accepted(agent):
    arrays, trace = cleanrl_collect(make_envs(), agent, dtype=np.float32, seed=2)
    arrays = dict(arrays, actions=arrays["actions"].astype(np.float32), dones=arrays["dones"].astype(np.float32),
                  next_done=arrays["next_done"].astype(np.float32))
    report = check(arrays, trace, agent, max_episode_steps=20)
    assert report.exit_code == 0, report.to_markdown()
    assert report.result("arrays.dones_match_flags").status == "held"


def test_a_bad_flag_array_fails_shapes_and_skips_only_its_readers(good, agent):
    arrays, trace = good
    bad = dict(arrays, next_done=arrays["next_done"].astype(np.float32) + 0.5)
    report = check(bad, trace, agent)
    assert any("next_done holds 0.5" in f.message for f in report.result("arrays.shapes").findings)
    gae = report.result("arrays.gae_matches_spec")
    assert gae.status == "error" and "next_done holds 0.5" in gae.error_reason
    assert report.result("arrays.logprob_matches_policy").status == "held"
    assert report.result("arrays.obs_match_trace").status == "held"
    wrong_shape = dict(arrays, values=arrays["values"][:, :2])
    report = check(wrong_shape, trace, agent)
    assert report.result("arrays.value_matches_critic").error_reason.startswith("not evaluated: values has shape")
    assert report.result("arrays.actions_match_trace").status == "held"
    frac = dict(arrays, actions=arrays["actions"] + 0.5)
    assert "non-integral" in report_text(check(frac, trace, agent))


def report_text(report):
    return " ".join(f.message for r in report.results for f in r.findings)


def spec_gae(arrays, trace):
    """Keys to plant bugs into: the correct buffer's arrays in float64."""
    return {k: np.asarray(v, dtype=np.float64) for k, v in arrays.items()}


def cleanrl_gae(a, trace, *, next_values, carry, bootstrap):
    """CleanRL's backward loop with the pieces a planted bug replaces."""
    from rollcheck.properties.rollout.arrays_diagnoses import gae_with_masks
    return gae_with_masks(GAMMA, LAM, a["rewards"], a["values"], next_values, bootstrap, carry)


def truth(arrays, trace, agent):
    te, tr = trace.terminated, trace.truncated
    nv = np.zeros((T, N))
    nv[:-1] = arrays["values"][1:]
    nv[-1] = arrays["next_value"]
    cut = tr & ~te
    nv[cut] = agent.predict_value_batch(trace.next_obs[cut])
    return te, tr, nv


def test_correct_buffer_gets_no_diagnosis(good, agent):
    arrays, trace = good
    report = check(arrays, trace, agent)
    assert "diagnosis" not in report_text(report) and report.exit_code == 0


@pytest.mark.parametrize("mistake", ["no_truncation_bootstrap", "post_reset_bootstrap",
                                     "lambda_leaks_across_termination", "lambda_leaks_across_truncation",
                                     "done_shifted", "advantages_normalised"])
def test_each_planted_advantage_mistake_is_named(good, agent, mistake):
    arrays, trace = good
    te, tr, nv = truth(arrays, trace, agent)
    done = te | tr
    naive = np.zeros((T, N))
    naive[:-1] = arrays["values"][1:]
    naive[-1] = arrays["next_value"]
    shifted = np.zeros((T, N), bool)
    shifted[1:] = done[:-1]
    a = spec_gae(arrays, trace)
    plant = {
        "no_truncation_bootstrap": dict(next_values=nv, carry=~done, bootstrap=~done),
        "post_reset_bootstrap": dict(next_values=np.where(tr & ~te, naive, nv), carry=~done, bootstrap=~te),
        "lambda_leaks_across_termination": dict(next_values=nv, carry=np.ones((T, N), bool), bootstrap=~te),
        "lambda_leaks_across_truncation": dict(next_values=nv, carry=~te, bootstrap=~te),
        "done_shifted": dict(next_values=naive, carry=~shifted, bootstrap=~shifted),
    }
    if mistake == "advantages_normalised":
        adv = cleanrl_gae(a, trace, next_values=nv, carry=~done, bootstrap=~te)
        adv = (adv - adv.mean()) / (adv.std() + 1e-8)
    else:
        adv = cleanrl_gae(a, trace, **plant[mistake])
    report = check(dict(arrays, advantages=adv, returns=adv + arrays["values"]), trace, agent)
    msg = message(report, "arrays.gae_matches_spec")
    assert f"diagnosis: {MISTAKES[mistake]}" in msg, msg


def test_advantages_normalised_before_returns_is_named(good, agent):
    arrays, trace = good
    adv = arrays["advantages"]
    returns = (adv - adv.mean()) / (adv.std() + 1e-8) + arrays["values"]
    report = check(dict(arrays, returns=returns), trace, agent)
    assert MISTAKES["normalised_before_returns"] in message(report, "arrays.returns_are_advantages_plus_values")
    assert report.result("arrays.gae_matches_spec").status == "held"


def test_value_of_next_observation_is_named(good, agent):
    arrays, trace = good
    values = agent.predict_value_batch(trace.next_obs.reshape(-1, 4)).reshape(T, N)
    report = check(dict(arrays, values=values), trace, agent)
    assert "value of the next observation stored as the value" in message(report, "arrays.value_matches_critic")


def test_done_flags_shifted_against_the_env_are_named(good, agent):
    arrays, trace = good
    report = check(dict(arrays, dones=trace.terminated | trace.truncated), trace, agent)
    assert "done flags shifted by one" in message(report, "arrays.dones_match_flags")


def test_time_limit_without_truncated_is_flagged_even_when_trace_and_buffer_agree(agent):
    """A wrapper below the recorder turns the time limit into a termination: flags agree, GAE agrees."""
    import gymnasium as gym

    class TruncationAsTermination(gym.Wrapper):
        def step(self, action):
            obs, r, te, tr, info = self.env.step(action)
            return obs, r, te or tr, False, info

    envs = gym.vector.SyncVectorEnv([lambda: TruncationAsTermination(gym.make("CartPole-v1", max_episode_steps=20))
                                     for _ in range(N)], autoreset_mode=gym.vector.AutoresetMode.SAME_STEP)
    from rollcheck.properties.rollout.recording import RecordingVecEnv
    arrays, trace = cleanrl_collect(RecordingVecEnv(envs), agent, dtype=np.float64)
    assert not trace.truncated.any()
    report = check(arrays, trace, agent, max_episode_steps=20)
    assert {r.id for r in report.failed} == {"arrays.time_limit_truncates"}
    assert "reached max_episode_steps=20 without truncated" in message(report, "arrays.time_limit_truncates")
    good_arrays, good_trace = cleanrl_collect(make_envs(), agent, dtype=np.float64)
    assert check(good_arrays, good_trace, agent, max_episode_steps=20).result(
        "arrays.time_limit_truncates").status == "held"
    assert check(good_arrays, good_trace, agent).result("arrays.time_limit_truncates").status == "skipped"


def test_time_limit_counting():
    done = np.zeros((6, 1), bool)
    tr = np.zeros((6, 1), bool)
    done[2] = tr[2] = True                      # truncated at length 3: fine; the next episode reaches 3 at t=5
    bad, reached = time_limit_violations(done, tr, 3)
    assert bad[:, 0].tolist() == [False] * 5 + [True] and reached == 2
    done[5] = tr[5] = True
    assert not time_limit_violations(done, tr, 3)[0].any()
    bad, _ = time_limit_violations(np.zeros((6, 1), bool), tr & False, 3)   # runs on past the limit
    assert bad[2, 0] and bad[5, 0]
    both = np.zeros((6, 1), bool)
    both[2] = both[5] = True                    # terminated at the limit, truncated lost (or SB3's "both")
    assert time_limit_violations(both, np.zeros((6, 1), bool), 3)[0][2, 0]
    assert not time_limit_violations(both, np.zeros((6, 1), bool), 3, accepted=both)[0].any()


def test_argmax_actions_fail_the_distribution_test(agent):
    envs = make_envs()
    arrays, trace = cleanrl_collect(envs, agent, dtype=np.float64)
    logits = agent.predict_logits_batch(arrays["obs"].reshape(-1, 4)).reshape(T, N, 2)
    sharp = MlpActorCritic(4, 2, hidden=(16,), seed=3)
    report = check(arrays, trace, agent)
    assert report.result("arrays.actions_follow_policy").status == "held"
    greedy = dict(arrays, actions=logits.argmax(-1))
    lp = np.take_along_axis(np.log(np.exp(logits) / np.exp(logits).sum(-1, keepdims=True)),
                            greedy["actions"][..., None], -1)[..., 0]
    report = validate_arrays(dict(greedy, logprobs=lp), policy=sharp, gamma=GAMMA, lam=LAM)
    test = report.meta["arrays.actions_follow_policy"]
    assert test["draws"] == T * N
    if abs(test["statistic"]) >= test["threshold"]:   # enough spread in this policy to have power
        assert "likeliest actions" in message(report, "arrays.actions_follow_policy")
    assert test["statistic"] > 0


def test_recomputed_values_are_reported_as_tautological(good, agent):
    arrays, trace = good
    report = check(arrays, trace, agent, recomputed=("values",))
    res = report.result("arrays.value_matches_critic")
    assert res.status == "skipped" and "tautological" in res.skip_reason
    with pytest.raises(ArgumentError, match="'advantages' should be one of"):
        check(arrays, trace, agent, recomputed=("advantages",))
    with pytest.raises(ArgumentError, match="sampler='spec'"):
        check(arrays, trace, agent, sampler="spec")
    with pytest.raises(ArgumentError, match="max_episode_steps=0"):
        check(arrays, trace, agent, max_episode_steps=0)


def test_wrong_logprobs_on_a_near_uniform_policy_are_caught(good):
    """CleanRL's initial policy is near-uniform (actor head std 0.01); the other action's log-prob
    differs by ~0.01 and must still be caught on >= 99% of entries (the old fixed 2e-4 let 42% pass)."""
    arrays, trace = good
    rng = np.random.default_rng(1)
    w = rng.normal(0, 0.01, size=(4, 2))
    policy = (lambda o: np.asarray(o, dtype=np.float64) @ w, lambda o: 0.0)
    z = arrays["obs"].reshape(-1, 4) @ w
    lp = (z - np.log(np.exp(z).sum(-1, keepdims=True))).astype(np.float32).reshape(T, N, 2)
    acts = arrays["actions"].astype(int)
    right = np.take_along_axis(lp, acts[..., None], -1)[..., 0]
    wrong = np.take_along_axis(lp, 1 - acts[..., None], -1)[..., 0]
    base = dict(arrays, values=np.zeros((T, N), np.float32))
    ok = validate_arrays(dict(base, logprobs=right), policy=policy)
    assert ok.result("arrays.logprob_matches_policy").status == "held"
    bad = validate_arrays(dict(base, logprobs=wrong), policy=policy)
    res = bad.result("arrays.logprob_matches_policy")
    assert res.findings[0].context["count"] >= 0.99 * T * N
