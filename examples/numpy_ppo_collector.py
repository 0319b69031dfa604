"""A CleanRL-style PPO rollout collector in plain numpy, in the shape ``rollcheck collector`` expects.

It samples its own way — a ``numpy.random.Generator`` seeded from ``(rng_seed, rng_counter)`` —
so validate it with ``--sampler any``::

    rollcheck collector examples.numpy_ppo_collector:collect --sampler any --env CartPole-v1

The callback contract (TorchLean's ``collectRolloutFromCallbacks``; rollcheck passes instrumented
versions of each):

- ``start() -> sess``: call once; returns the session value to thread through the loop;
- ``observe(sess) -> obs``: the observation the env presents now (an array of ``obs_shape``);
  copy it if you keep it — the session may reuse the buffer;
- ``step_checked(sess, action) -> (transition, sess')``: steps the env with ``action`` (an int in
  ``0..n_actions-1``); ``transition`` has ``next_observation`` (before any auto-reset), ``reward``,
  ``terminated``, ``truncated``, ``done``; always continue with ``sess'``;
- ``cast_obs(obs)``, ``cast_reward(r)``: the scalar backend's casts; store their results;
- ``predict_logits(state) -> logits``, ``predict_value(state) -> float``: the policy and critic.

Return ``(Rollout, counter)``: a :class:`rollcheck.Rollout` of exactly ``horizon`` steps (state,
action, old log-prob, reward, done, value, next value before the auto-reset, terminated) and the
advanced counter ``rng_counter + horizon``.
"""

from __future__ import annotations

import numpy as np

from rollcheck import Rollout, Step


def log_softmax(logits):
    z = np.asarray(logits, dtype=np.float64)
    z = z - z.max()
    return z - np.log(np.exp(z).sum())


def collect(start, observe, step_checked, cast_obs, cast_reward, predict_logits, predict_value, rng_seed,
            rng_counter, *, horizon, n_actions, obs_shape):
    rng = np.random.default_rng([rng_seed, rng_counter])   # our own sampler, seeded by the inputs
    sess = start()
    steps = []
    for _t in range(horizon):
        state = np.array(cast_obs(observe(sess)), copy=True)
        logp = log_softmax(predict_logits(state))
        action = int(rng.choice(n_actions, p=np.exp(logp) / np.exp(logp).sum()))
        value = predict_value(state)
        tr, sess = step_checked(sess, action)
        next_value = predict_value(cast_obs(tr.next_observation))   # before the auto-reset
        steps.append(Step(state=state, action=action, old_log_prob=float(logp[action]),
                          reward=cast_reward(tr.reward), done=tr.terminated or tr.truncated, value=value,
                          next_value=next_value, terminated=tr.terminated))
    return Rollout(steps=tuple(steps), horizon=horizon), rng_counter + horizon
