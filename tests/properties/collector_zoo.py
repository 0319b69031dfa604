"""A zoo of deliberately broken rollout collectors (and one correct one), for the catch-rate test.

Every collector has the seed's signature (TorchLean ``PPO.collectRolloutFromCallbacks``):
``collect(start, observe, step_checked, cast_obs, cast_reward, predict_logits, predict_value,
rng_seed, rng_counter, *, horizon, n_actions, obs_shape) -> (Rollout, counter)``.
``correct_collect`` follows Collect.lean line by line; each ``collect_<bug>`` differs from it by
one realistic mistake. ``ZOO`` maps each broken collector to the property id that must catch it.
"""

from __future__ import annotations

import numpy as np

from rollcheck.spec import (Rollout, action_log_softmax, action_policy, sample_action_from_logits,
                            sample_categorical, steps_from_columns)


def _sample(bug, seed, counter, logits):
    if bug == "naive_softmax":          # exp without the max shift: inf/inf = nan on large logits
        z = np.asarray(logits, dtype=np.float64)
        probs = np.exp(z) / np.sum(np.exp(z))
        return sample_categorical(seed, counter, probs.tolist())
    if bug == "global_rng":             # numpy's global generator instead of (seed, counter)
        probs = np.asarray(action_policy(logits))
        return counter + 1, int(np.random.choice(len(probs), p=probs / probs.sum()))
    if bug == "argmax_action":          # greedy instead of sampled
        return counter + 1, int(np.argmax(logits))
    if bug == "seed_ignored":
        return sample_action_from_logits(0, counter, logits)
    return sample_action_from_logits(seed, counter, logits)


def _log_prob(bug, logits, a, n_actions):
    if bug == "naive_softmax":
        z = np.asarray(logits, dtype=np.float64)
        return float(np.log(np.exp(z[a]) / np.sum(np.exp(z))))
    if bug == "wrong_action_log_prob":
        return action_log_softmax(logits, (a + 1) % n_actions)
    return action_log_softmax(logits, a)


def _collect(start, observe, step_checked, cast_obs, cast_reward, predict_logits, predict_value, rng_seed,
             rng_counter, horizon, n_actions, bug=None):
    sess = start()
    counter = np.int64(rng_counter) if bug == "int64_counter" else rng_counter   # overflows past 2**63 - 1
    cols = {k: [] for k in ("states", "actions", "lps", "rewards", "dones", "values", "next_values", "terms")}
    n_steps = max(horizon - 1, 1) if bug == "short_rollout" else horizon + (1 if bug == "extra_step" else 0)
    first_sess = sess
    for _t in range(n_steps):
        if bug == "restart_each_step" and _t > 0:
            sess = start()
        obs = cast_obs(observe(sess))
        if bug != "aliased_states":
            obs = np.array(obs, copy=True)
        logits = predict_logits(obs)
        new_counter, a = _sample(bug, rng_seed, counter, logits)
        counter = counter if bug == "rng_not_advanced" else new_counter + (1 if bug == "counter_twice" else 0)
        lp = _log_prob(bug, logits, a, n_actions)
        if bug == "one_based_action":   # actions numbered 1..n when stepping
            a = a + 1
        v = predict_value(obs)
        tr, new_sess = step_checked(first_sess if bug == "stale_session" else sess, a)
        sess = new_sess
        next_obs = cast_obs(tr.next_observation)
        if bug == "next_value_after_reset":
            nv = predict_value(cast_obs(observe(sess)))
        elif bug == "next_value_is_value":
            nv = v
        else:
            nv = predict_value(next_obs)
        if bug == "value_of_next_state":
            v = nv
        terminated, truncated = tr.terminated, tr.truncated
        if bug == "flags_swapped":
            terminated, truncated = truncated, terminated
        done = terminated if bug == "done_ignores_truncation" else (terminated or truncated)
        if bug == "truncation_as_termination":   # no bootstrap on a time-limit cut
            terminated = done
        cols["states"].append(next_obs if bug == "off_by_one_state" else obs)
        cols["actions"].append(int(np.argmax(logits)) if bug == "records_greedy_action" else tr.action)
        cols["lps"].append(lp)
        cols["rewards"].append(tr.reward if bug == "reward_not_cast" else cast_reward(tr.reward))
        cols["dones"].append(done)
        cols["values"].append(v)
        cols["next_values"].append(nv)
        cols["terms"].append(terminated)
    # Build the steps at the end, CleanRL-style (the aliasing bug only bites here).
    steps = steps_from_columns(cols["states"], cols["actions"], cols["lps"], cols["rewards"], cols["dones"],
                               cols["values"], cols["next_values"], cols["terms"])
    if bug == "extra_step":
        steps = steps[:horizon]
    if bug == "returns_list":
        return list(steps), counter
    return Rollout(steps=steps, horizon=len(steps)), counter


def _make(bug):
    def collect(start, observe, step_checked, cast_obs, cast_reward, predict_logits, predict_value, rng_seed,
                rng_counter, *, horizon, n_actions, obs_shape):
        return _collect(start, observe, step_checked, cast_obs, cast_reward, predict_logits, predict_value,
                        rng_seed, rng_counter, horizon, n_actions, bug=bug)
    name = "correct_collect" if bug is None else f"collect_{bug}"
    collect.__name__ = collect.__qualname__ = name
    return collect


correct_collect = _make(None)

# broken collector -> the property id that must catch it
_BUGS = {
    "off_by_one_state": "step.state_is_presented_observation",
    "wrong_action_log_prob": "step.old_log_prob_is_log_softmax",
    "next_value_after_reset": "step.next_value_before_reset",
    "done_ignores_truncation": "step.done_is_terminated_or_truncated",
    "rng_not_advanced": "step.action_is_spec_sample",
    "short_rollout": "rollout.length_eq_horizon",
    "aliased_states": "step.state_not_aliased",
    "naive_softmax": "step.old_log_prob_is_log_softmax",
    "flags_swapped": "step.terminated_as_reported",
    "counter_twice": "rollout.counter_advanced",
    "value_of_next_state": "step.value_is_critic",
    "next_value_is_value": "step.next_value_before_reset",
    "reward_not_cast": "step.reward_is_cast_reward",
    "global_rng": "collector.no_global_rng",
    "seed_ignored": "collector.seed_changes_actions",
    "argmax_action": "step.action_is_spec_sample",
    "stale_session": "session.threaded",
    "restart_each_step": "session.started_once",
    "extra_step": "session.steps_eq_horizon",
    "returns_list": "collector.completes",
    "truncation_as_termination": "sample.matches_spec",
    "int64_counter": "collector.completes",
    "one_based_action": "step.action_in_range",
    "records_greedy_action": "step.action_is_stepped_action",
}

ZOO = {f"collect_{bug}": (_make(bug), pid) for bug, pid in _BUGS.items()}
globals().update({name: fn for name, (fn, _pid) in ZOO.items()})
