"""Continuous-action (Box) collectors for the collector validation tests: one correct, one per planted bug.

Each is a complete collector with the continuous signature of
:mod:`rollcheck.properties.collector.box_run` (``predict_gaussian``, ``action_space``, ``squash``),
written the way a user would: the correct one follows SB3/CleanRL (log-probability of the unclipped
sample, the clipped action to the env, the tanh correction when squashed); each bug changes one line.
"""

from __future__ import annotations

import numpy as np

from rollcheck import Rollout, Step
from rollcheck.spec.box import clip_to_box
from rollcheck.spec.gaussian import diag_gaussian_log_prob, gaussian_policy_step, squashed_log_prob, unscale_action


def _collector(bug: "str | None"):
    def collect(start, observe, step_checked, cast_obs, cast_reward, predict_gaussian, predict_value, rng_seed,
                rng_counter, *, horizon, action_space, obs_shape, squash=False):
        dims = action_space.shape.dims
        sess, counter, steps = start(), rng_counter, []
        for _t in range(horizon):
            obs = np.array(cast_obs(observe(sess)), copy=True)
            mean, log_std = predict_gaussian(obs)
            if bug == "log_std_ignored":
                log_std = np.zeros_like(np.asarray(log_std))
            if bug == "mean_std_swapped":
                mean, log_std = log_std, mean
            g = gaussian_policy_step(rng_seed, counter, mean, log_std, action_space, squash=squash)
            counter = g.counter
            log_prob = g.log_prob
            if bug == "log_prob_of_clipped" and not squash:
                log_prob = diag_gaussian_log_prob(mean, log_std, g.env_action)
            if bug == "no_tanh_correction" and squash:
                log_prob = diag_gaussian_log_prob(mean, log_std, g.sample)
            env_action = g.action if bug == "not_clipped" and not squash else g.env_action
            value = predict_value(obs)
            tr, sess = step_checked(sess, np.array(env_action).reshape(dims))
            steps.append(Step(state=obs, action=np.array(g.action).reshape(dims), old_log_prob=log_prob,
                              reward=cast_reward(tr.reward), done=tr.done, value=value,
                              next_value=predict_value(cast_obs(tr.next_observation)), terminated=tr.terminated))
        return Rollout(steps=tuple(steps), horizon=horizon, obs_shape=obs_shape, action_space=action_space), counter
    collect.__name__ = collect.__qualname__ = f"box_{bug or 'correct'}"
    return collect


box_correct = _collector(None)
box_log_prob_of_clipped = _collector("log_prob_of_clipped")
box_no_tanh_correction = _collector("no_tanh_correction")
box_log_std_ignored = _collector("log_std_ignored")
box_not_clipped = _collector("not_clipped")
box_mean_std_swapped = _collector("mean_std_swapped")


def box_numpy_own_sampler(start, observe, step_checked, cast_obs, cast_reward, predict_gaussian, predict_value,
                          rng_seed, rng_counter, *, horizon, action_space, obs_shape, squash=False):
    """CleanRL-style: samples with its own generator (right distribution, not the spec's stream)."""
    rng = np.random.default_rng(rng_seed)
    dims = action_space.shape.dims
    sess, steps = start(), []
    for _t in range(horizon):
        obs = np.array(cast_obs(observe(sess)), copy=True)
        mean, log_std = (np.asarray(x, dtype=np.float64) for x in predict_gaussian(obs))
        u = mean + np.exp(log_std) * rng.standard_normal(mean.shape)
        if squash:
            a = np.tanh(u)
            env_action, log_prob = unscale_action(action_space, a.tolist()), squashed_log_prob(mean, log_std, u)
        else:
            a = u
            env_action, log_prob = clip_to_box(action_space, u.tolist()), diag_gaussian_log_prob(mean, log_std, u)
        tr, sess = step_checked(sess, np.array(env_action).reshape(dims))
        steps.append(Step(state=obs, action=a.reshape(dims), old_log_prob=log_prob, reward=cast_reward(tr.reward),
                          done=tr.done, value=predict_value(obs),
                          next_value=predict_value(cast_obs(tr.next_observation)), terminated=tr.terminated))
    return (Rollout(steps=tuple(steps), horizon=horizon, obs_shape=obs_shape, action_space=action_space),
            rng_counter + 2 * action_space.size * horizon)


# the planted bugs, and the property that must name each
BOX_BUGS = {
    "box_log_prob_of_clipped": "step.old_log_prob_is_gaussian_log_prob",
    "box_no_tanh_correction": "step.old_log_prob_is_gaussian_log_prob",
    "box_log_std_ignored": "step.action_is_spec_sample",
    "box_not_clipped": "step.env_action_in_box",
    "box_mean_std_swapped": "step.action_is_spec_sample",
}
