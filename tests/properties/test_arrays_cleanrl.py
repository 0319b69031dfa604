"""validate_arrays on CleanRL-style buffers collected from a real Gymnasium vector env: a correct
collector passes every property, and each planted mistake is caught by the property it breaks."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

from rollcheck.impl.policy import MlpActorCritic
from rollcheck.properties.core.property import BufferProperty
from rollcheck.properties.rollout.arrays import ARRAY_PROPERTIES, arrays_case, log_softmax_rows, validate_arrays
from rollcheck.properties.rollout.arrays_catalog import (ARRAYS_CONTRACT, ARRAYS_GAE_MATCHES_SPEC, BufferCase,
                                                         compare_result)
from rollcheck.properties.rollout.recording import RecordingVecEnv, VecTrace
from rollcheck.spec import Contract, ArgumentError

GAMMA, LAM, T, N = 0.99, 0.95, 64, 3


def make_envs(max_steps=20, mode=gym.vector.AutoresetMode.SAME_STEP):
    envs = gym.make_vec("CartPole-v1", num_envs=N, vectorization_mode="sync", max_episode_steps=max_steps,
                        vector_kwargs={"autoreset_mode": mode})
    return RecordingVecEnv(envs)


def cleanrl_collect(envs, agent, *, bootstrap_truncation=True, dtype=np.float32, seed=0):
    """CleanRL ppo.py's rollout loop and GAE, in numpy (optionally with the truncation fix)."""
    rng = np.random.default_rng(seed)
    obs_b = np.zeros((T, N, 4), dtype)
    actions, logprobs, rewards, dones, values = (np.zeros((T, N), dtype) for _ in range(5))
    term, trunc = np.zeros((T, N), bool), np.zeros((T, N), bool)
    final_v = np.zeros((T, N))
    next_obs, _ = envs.reset(seed=seed)
    next_done = np.zeros(N, bool)
    for step in range(T):
        obs_b[step], dones[step] = next_obs, next_done
        lp = log_softmax_rows(agent.predict_logits_batch(next_obs))
        a = (rng.random((N, 1)) > np.cumsum(np.exp(lp), axis=1)).sum(axis=1).clip(0, 1)
        actions[step], logprobs[step] = a, lp[np.arange(N), a]
        values[step] = agent.predict_value_batch(next_obs)
        next_obs, r, te, tr, info = envs.step(a)
        next_done = te | tr
        rewards[step], term[step], trunc[step] = r, te, tr
        for i in np.flatnonzero(tr & ~te):
            final = info["final_obs"][i] if "final_obs" in info else next_obs[i]  # NEXT_STEP returns it
            final_v[step, i] = agent.predict_value(final)
    next_value = agent.predict_value_batch(next_obs)
    adv = np.zeros((T, N), dtype)
    last = 0.0
    for t in reversed(range(T)):
        if t == T - 1:
            nonterminal, nextvalues = 1.0 - next_done, next_value
        else:
            nonterminal, nextvalues = 1.0 - dones[t + 1], values[t + 1]
        if bootstrap_truncation:
            nextvalues = np.where(trunc[t] & ~term[t], final_v[t], nextvalues)
            delta = rewards[t] + GAMMA * nextvalues * (1.0 - term[t]) - values[t]
        else:  # the classic bug: a time-limit cut ends the return as if terminal
            delta = rewards[t] + GAMMA * nextvalues * nonterminal - values[t]
        adv[t] = last = delta + GAMMA * LAM * nonterminal * last
    arrays = {"obs": obs_b, "actions": actions, "logprobs": logprobs, "rewards": rewards, "dones": dones,
              "values": values, "advantages": adv, "returns": adv + values, "next_obs": next_obs,
              "next_done": next_done, "next_value": next_value.astype(dtype)}
    return arrays, envs.trace()


@pytest.fixture(scope="module")
def agent():
    return MlpActorCritic(4, 2, hidden=(16,), seed=3)


@pytest.fixture(scope="module")
def good(agent):
    return cleanrl_collect(make_envs(), agent, dtype=np.float64)


def statuses(report):
    return {r.id: r.status for r in report.results}


def test_correct_collector_passes_every_property(good, agent):
    arrays, trace = good
    assert trace.truncated.any() and trace.terminated.any()  # both kinds of episode end happen
    report = validate_arrays(arrays, trace=trace, policy=agent, gamma=GAMMA, lam=LAM, n_actions=2,
                             max_episode_steps=20)
    assert report.exit_code == 0, report.to_markdown()
    st = statuses(report)
    assert set(st) == set(ARRAY_PROPERTIES.ids)
    assert all(s == "held" for s in st.values()), st
    assert report.meta["gae_entries_not_compared"] == 0


def test_float32_buffers_pass_with_float32_tolerance(agent):
    arrays, trace = cleanrl_collect(make_envs(), agent, dtype=np.float32, seed=1)
    report = validate_arrays(arrays, trace=trace, policy=agent, gamma=GAMMA, lam=LAM)
    assert report.exit_code == 0, report.to_markdown()
    assert report.meta["arrays.logprob_matches_policy.max_abs_error"] < 1e-6


def test_truncation_treated_as_termination_is_reported_with_its_size(agent):
    arrays, trace = cleanrl_collect(make_envs(), agent, bootstrap_truncation=False, dtype=np.float64)
    report = validate_arrays(arrays, trace=trace, policy=agent, gamma=GAMMA, lam=LAM)
    failed = {r.id for r in report.failed}
    assert failed == {"arrays.truncation_bootstrapped", "arrays.gae_matches_spec"}
    finding = report.result("arrays.truncation_bootstrapped").findings[0]
    assert "truncation treated as termination" in finding.message and "off by up to" in finding.message
    assert finding.expected != pytest.approx(finding.actual)
    assert report.exit_code == 1


def test_truncation_bug_is_found_without_policy_from_flags_alone(agent):
    arrays, trace = cleanrl_collect(make_envs(), agent, bootstrap_truncation=False, dtype=np.float64)
    arrays = dict(arrays, terminated=trace.terminated, truncated=trace.truncated)
    report = validate_arrays(arrays, gamma=GAMMA, lam=LAM)
    res = report.result("arrays.truncation_bootstrapped")
    assert res.status == "failed" and "pass policy= and trace=" in res.findings[0].message
    assert report.result("arrays.logprob_matches_policy").status == "skipped"
    # entries whose correct value needs V(final obs) are not compared, the rest must match
    assert report.result("arrays.gae_matches_spec").status == "held"
    assert report.meta["gae_entries_not_compared"] > 0


def test_logprob_of_the_wrong_action_is_caught(good, agent):
    arrays, trace = good
    lp = log_softmax_rows(agent.predict_logits_batch(arrays["obs"].reshape(-1, 4))).reshape(T, N, 2)
    wrong = dict(arrays, logprobs=np.take_along_axis(lp, 1 - arrays["actions"].astype(int)[..., None], 2)[..., 0])
    report = validate_arrays(wrong, trace=trace, policy=agent, gamma=GAMMA, lam=LAM)
    assert {r.id for r in report.failed} == {"arrays.logprob_matches_policy"}
    msg = report.result("arrays.logprob_matches_policy").findings[0].message
    assert "log-prob of action" in msg and "not of the action taken" in msg


def test_shifted_rewards_are_caught(good, agent):
    arrays, trace = good
    shifted = np.roll(arrays["rewards"], 1, axis=0)
    shifted[0] = 0.0
    report = validate_arrays(dict(arrays, rewards=shifted), trace=trace, policy=agent, gamma=GAMMA, lam=LAM)
    res = report.result("arrays.rewards_match_trace")
    assert res.status == "failed"
    assert "shifted one step later" in res.findings[0].message and res.findings[0].step == 0


def test_stale_values_and_obs_are_caught(good, agent):
    arrays, trace = good
    report = validate_arrays(dict(arrays, values=arrays["values"] + 1e-3), trace=trace, policy=agent)
    assert report.result("arrays.value_matches_critic").status == "failed"
    obs = arrays["obs"].copy()
    obs[5, 1] = obs[4, 1]  # the previous step's observation (an off-by-one state)
    report = validate_arrays(dict(arrays, obs=obs), trace=trace, policy=agent)
    res = report.result("arrays.obs_match_trace")
    assert res.status == "failed" and res.findings[0].step == 5 and res.findings[0].context["env"] == 1


def test_dones_convention_is_checked(good):
    arrays, trace = good
    assert validate_arrays(arrays, trace=trace).result("arrays.dones_match_flags").status == "held"
    report = validate_arrays(arrays, trace=trace, dones_convention="step")
    assert report.result("arrays.dones_match_flags").status == "failed"
    step_dones = dict(arrays, dones=trace.terminated | trace.truncated)
    assert validate_arrays(step_dones, trace=trace, dones_convention="step").result(
        "arrays.dones_match_flags").status == "held"


def test_contract_violations_in_the_buffer(good):
    arrays, _ = good
    obs = arrays["obs"].copy()
    obs[3, 2, 1] = np.nan
    report = validate_arrays(dict(arrays, obs=obs), contract=Contract(reward_range=(0.0, 0.5)))
    res = report.result("arrays.contract")
    assert res.status == "failed"
    assert any("step 3, env 2" in f.message and "check_obs_finite" in f.message for f in res.findings)
    assert sum("reward_range" in f.message for f in res.findings) == T * N  # every reward is 1.0


def test_shape_problems_fail_and_skip_the_rest(good):
    arrays, _ = good
    report = validate_arrays({k: v for k, v in arrays.items() if k != "logprobs"} | {"logits": 1})
    assert report.exit_code == 1
    msgs = [f.message for f in report.result("arrays.shapes").findings]
    assert any("missing required array(s) ['logprobs']" in m for m in msgs)
    assert any("unknown key(s) ['logits']" in m for m in msgs)
    lp = report.result("arrays.logprob_matches_policy")
    assert lp.status == "error" and "logprobs is missing" in lp.error_reason
    assert report.result("arrays.contract").status == "held"   # what does not read logprobs still runs
    bad = dict(arrays, values=arrays["values"][:-1])
    assert "values has shape" in validate_arrays(bad).result("arrays.shapes").findings[0].message
    assert "actions out of Fin 1" in validate_arrays(arrays, n_actions=1).result("arrays.shapes").findings[0].message


def test_policy_sample_and_callable_pair(good, agent):
    arrays, trace = good
    report = validate_arrays(arrays, policy=(agent.predict_logits, agent.predict_value), policy_sample=10, rng=0)
    assert report.result("arrays.value_matches_critic").steps == 10
    assert report.result("arrays.logprob_matches_policy").status == "held"


def test_bad_arguments_are_named(good):
    arrays, _ = good
    with pytest.raises(ArgumentError, match="dones_convention='next'"):
        validate_arrays(arrays, dones_convention="next")
    with pytest.raises(ArgumentError, match="gamma=1.5"):
        validate_arrays(arrays, gamma=1.5)
    with pytest.raises(ArgumentError, match="policy="):
        validate_arrays(arrays, policy=object())
    with pytest.raises(ArgumentError, match="VecTrace.actions"):
        VecTrace(*(np.zeros(3),) * 7)


def test_cleanrl_loop_on_a_next_step_autoreset_env_is_caught(agent):
    """Gymnasium 1.x's default autoreset: the step after a done is a reset, not a transition."""
    arrays, trace = cleanrl_collect(make_envs(mode=gym.vector.AutoresetMode.NEXT_STEP), agent, dtype=np.float64)
    assert trace.autoreset_step.any()
    report = validate_arrays(arrays, trace=trace, policy=agent, gamma=GAMMA, lam=LAM)
    res = report.result("arrays.no_autoreset_steps")
    assert res.status == "failed" and "auto-reset steps" in res.findings[0].message
    assert res.findings[0].context["positions"][0] == [int(k) for k in np.argwhere(trace.autoreset_step)[0]]


def test_recording_keeps_the_true_final_observation_and_copies():
    envs = make_envs(max_steps=5)
    obs, _ = envs.reset(seed=0)
    seen = []
    for _ in range(6):
        seen.append(obs.copy())
        obs, _, te, tr, info = envs.step(np.zeros(N, int))
        if (te | tr).any():
            final = info["final_obs"]
            done_mask = te | tr
        obs[...] = obs  # a buffer the env might reuse: the trace holds copies
    trace = envs.trace()
    assert np.array_equal(trace.obs, np.stack(seen))
    t = int(np.flatnonzero((trace.terminated | trace.truncated).any(axis=1))[0])
    i = int(np.flatnonzero(done_mask)[0])
    assert np.array_equal(trace.next_obs[t, i], final[i])  # before the auto-reset
    assert not np.array_equal(trace.next_obs[t, i], trace.obs[t + 1, i])  # obs[t+1] is the reset obs
    assert not trace.autoreset_step.any()  # SAME_STEP never spends a step on a reset
    with pytest.raises(ArgumentError, match="no recorded steps"):
        envs.trace(start=100)


def test_a_comparison_with_nothing_comparable_is_skipped_not_held():
    expected = np.full((4, 2), np.nan)
    res = compare_result(ARRAYS_GAE_MATCHES_SPEC, "advantages", expected, expected + 1.0,
                         allowed=1e-6, checked=np.zeros((4, 2), bool))
    assert res.status == "skipped" and "could be compared" in res.skip_reason
    held = compare_result(ARRAYS_GAE_MATCHES_SPEC, "advantages", np.zeros(3), np.zeros(3), allowed=1e-6)
    assert held.status == "held" and held.steps == 3


def test_no_property_holds_on_zero_compared_entries(good, agent):
    arrays, trace = good
    without_bootstrap = {k: v for k, v in arrays.items() if k != "next_value"}
    for report in (validate_arrays(arrays, trace=trace, policy=agent, gamma=GAMMA, lam=LAM),
                   validate_arrays(without_bootstrap, trace=trace, policy=agent, gamma=GAMMA, lam=LAM)):
        for r in report.results:
            if r.status == "held" and r.id in ("arrays.gae_matches_spec", "arrays.returns_are_advantages_plus_values"):
                assert r.steps > 0, (r.id, r.steps)


def test_buffer_properties_are_typed_objects_checked_on_a_buffer_case(good, agent):
    """Each arrays.* property is a BufferProperty; check(case) gives its findings, both ways."""
    arrays, trace = good
    assert all(isinstance(p, BufferProperty) and p.kind == "buffer" for p in ARRAY_PROPERTIES)
    case = arrays_case(arrays, trace=trace, policy=agent, gamma=GAMMA, lam=LAM, n_actions=2)
    assert ARRAYS_CONTRACT.check(case) == [] and ARRAYS_GAE_MATCHES_SPEC.check(case) == []
    bad = dict(arrays, rewards=np.array(arrays["rewards"], dtype=np.float64))
    bad["rewards"][3, 1] = np.nan
    found = ARRAYS_CONTRACT.check(arrays_case(bad, trace=trace, n_actions=2))
    assert found and "step 3, env 1" in found[0].message and "reward" in found[0].message
    with pytest.raises(ArgumentError, match="BufferCase"):
        ARRAYS_CONTRACT.check(arrays)
    with pytest.raises(ArgumentError, match="options"):
        BufferCase(validate_arrays, arrays, options=[("n_actions", 2)])
