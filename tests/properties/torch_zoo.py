"""User-style torch collectors (float32, ``Categorical``): the correct one and the classic wrong samplers.

``torch_collect(bug=None)`` is ``examples/torch_ppo_collector.py`` with one change per bug:
``argmax`` (greedy), ``inverted`` (``Categorical(logits=-logits)``), ``uniform``, ``seed_ignored``
(the generator seeded from the counter only), ``global_torch_rng`` (``torch.manual_seed`` and the
global generator). ``TORCH_ZOO`` maps each bug to the property that must catch it.
"""

from __future__ import annotations

import functools

import numpy as np
import torch
from torch.distributions import Categorical

from rollcheck import Rollout, Step


def torch_collect(start, observe, step_checked, cast_obs, cast_reward, predict_logits, predict_value, rng_seed,
                  rng_counter, *, horizon, n_actions, obs_shape, bug=None):
    key = [rng_counter] if bug == "seed_ignored" else [rng_seed, rng_counter]
    gen = torch.Generator().manual_seed(int(np.random.SeedSequence(key).generate_state(1, np.uint64)[0]))
    if bug == "global_torch_rng":
        torch.manual_seed(rng_seed % 2**63)
        gen = None
    sess, steps = start(), []
    with torch.no_grad():
        for _ in range(horizon):
            state = np.array(cast_obs(observe(sess)), copy=True)
            logits = torch.as_tensor(np.asarray(predict_logits(state)), dtype=torch.float32)
            dist = Categorical(logits=logits)
            if bug == "argmax":
                a = torch.argmax(logits)
            else:
                draw_from = {"inverted": Categorical(logits=-logits).probs,
                             "uniform": torch.full((n_actions,), 1.0 / n_actions)}.get(bug, dist.probs)
                a = torch.multinomial(draw_from, 1, generator=gen)[0]
            tr, sess = step_checked(sess, int(a))
            steps.append(Step(state=state, action=int(a), old_log_prob=float(dist.log_prob(a)),
                              reward=cast_reward(tr.reward), done=tr.terminated or tr.truncated,
                              value=float(torch.tensor(predict_value(state), dtype=torch.float32)),
                              next_value=float(torch.tensor(predict_value(cast_obs(tr.next_observation)),
                                                            dtype=torch.float32)),
                              terminated=tr.terminated))
    return Rollout(steps=tuple(steps), horizon=horizon), rng_counter + horizon


TORCH_ZOO = {
    "argmax": "sampler.actions_follow_policy",
    "inverted": "sampler.actions_follow_policy",
    "uniform": "sampler.actions_follow_policy",
    "seed_ignored": "sampler.seed_changes_actions",
    "global_torch_rng": "collector.no_global_rng",
}


def _named(bug):
    f = functools.partial(torch_collect, bug=bug)
    f.__name__ = f.__qualname__ = f"torch_collect_{bug}"
    f.__module__ = __name__
    return f


torch_collect_argmax = _named("argmax")
torch_collect_inverted = _named("inverted")
torch_collect_uniform = _named("uniform")
torch_collect_seed_ignored = _named("seed_ignored")
torch_collect_global_torch_rng = _named("global_torch_rng")
