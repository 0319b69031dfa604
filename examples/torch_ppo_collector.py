"""A CleanRL-style PPO rollout collector in torch (float32, ``torch.distributions.Categorical``).

The shape ``rollcheck collector`` expects (the callback contract is documented in
``examples/numpy_ppo_collector.py`` and the README). It samples with its own ``torch.Generator``
seeded from ``(rng_seed, rng_counter)`` — never torch's global RNG — and computes log-probabilities
in float32, so validate it with ``--sampler any`` (tolerances are derived from the float32 values it
returns)::

    pip install torch==2.13.0          # the CPU build
    rollcheck collector examples.torch_ppo_collector:collect --sampler any --env CartPole-v1
"""

from __future__ import annotations

import numpy as np
import torch
from torch.distributions import Categorical

from rollcheck import Rollout, Step


def _generator(rng_seed: int, rng_counter: int) -> torch.Generator:
    seed = int(np.random.SeedSequence([rng_seed, rng_counter]).generate_state(1, np.uint64)[0])
    return torch.Generator().manual_seed(seed)


def collect(start, observe, step_checked, cast_obs, cast_reward, predict_logits, predict_value, rng_seed,
            rng_counter, *, horizon, n_actions, obs_shape):
    gen = _generator(rng_seed, rng_counter)
    sess = start()
    steps = []
    with torch.no_grad():
        for _t in range(horizon):
            state = np.array(cast_obs(observe(sess)), copy=True)
            logits = torch.as_tensor(np.asarray(predict_logits(state)), dtype=torch.float32)
            dist = Categorical(logits=logits)
            action = torch.multinomial(dist.probs, 1, generator=gen)[0]
            log_prob = dist.log_prob(action)
            value = torch.tensor(predict_value(state), dtype=torch.float32)
            tr, sess = step_checked(sess, int(action))
            next_value = torch.tensor(predict_value(cast_obs(tr.next_observation)), dtype=torch.float32)
            steps.append(Step(state=state, action=int(action), old_log_prob=float(log_prob),
                              reward=cast_reward(tr.reward), done=tr.terminated or tr.truncated,
                              value=float(value), next_value=float(next_value), terminated=tr.terminated))
    return Rollout(steps=tuple(steps), horizon=horizon), rng_counter + horizon
