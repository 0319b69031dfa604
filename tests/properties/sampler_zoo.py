"""Collectors that sample their own way (not the ``(seed, counter)`` stream), correct and broken.

Each has the seed's signature and differs from ``own_sampler_collect`` only in how it draws the
action (or seeds its generator): ``argmax``, an inverted softmax, uniform, the seed ignored,
fresh OS entropy (nondeterministic), numpy's global generator. ``SAMPLER_ZOO`` maps each bug to
the property that must catch it under ``sampler="any"``.
"""

from __future__ import annotations

import functools

import numpy as np

from rollcheck import Rollout, Step


def _log_softmax(z):
    z = np.asarray(z, dtype=np.float64)
    z = z - z.max()
    return z - np.log(np.exp(z).sum())


def _draw(bug, rng, logits):
    n = len(logits)
    if bug == "argmax":
        return int(np.argmax(logits))
    if bug == "inverted":
        p = np.exp(_log_softmax(-np.asarray(logits, dtype=np.float64)))
    elif bug == "uniform":
        p = np.full(n, 1.0 / n)
    else:
        p = np.exp(_log_softmax(logits))
    if bug == "global_rng":
        return int(np.random.choice(n, p=p / p.sum()))
    return int(rng.choice(n, p=p / p.sum()))


def own_sampler_collect(start, observe, step_checked, cast_obs, cast_reward, predict_logits, predict_value, rng_seed,
                        rng_counter, *, horizon, n_actions, obs_shape, bug=None):
    if bug == "seed_ignored":
        rng = np.random.default_rng(rng_counter)
    elif bug == "fresh_entropy":
        rng = np.random.default_rng()
    else:
        rng = np.random.default_rng([rng_seed, rng_counter])
    sess = start()
    steps = []
    for _ in range(horizon):
        state = np.array(cast_obs(observe(sess)), copy=True)
        logits = np.asarray(predict_logits(state), dtype=np.float64)
        a = _draw(bug, rng, logits)
        value = predict_value(state)
        tr, sess = step_checked(sess, a)
        steps.append(Step(state=state, action=a, old_log_prob=float(_log_softmax(logits)[a]),
                          reward=cast_reward(tr.reward), done=tr.terminated or tr.truncated, value=value,
                          next_value=predict_value(cast_obs(tr.next_observation)), terminated=tr.terminated))
    return Rollout(steps=tuple(steps), horizon=horizon), rng_counter + horizon


SAMPLER_ZOO = {
    "argmax": "sampler.actions_follow_policy",
    "inverted": "sampler.actions_follow_policy",
    "uniform": "sampler.actions_follow_policy",
    "seed_ignored": "sampler.seed_changes_actions",
    "fresh_entropy": "sampler.deterministic",
    "global_rng": "collector.no_global_rng",
}


def broken(bug):
    f = functools.partial(own_sampler_collect, bug=bug)
    f.__name__ = f.__qualname__ = f"own_sampler_{bug}"
    f.__module__ = __name__
    return f


collect_argmax = broken("argmax")
collect_inverted = broken("inverted")
collect_uniform = broken("uniform")
collect_seed_ignored = broken("seed_ignored")
