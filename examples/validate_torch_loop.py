"""Recipe: validate a hand-written torch PPO rollout loop (float32, ``Categorical``) with rollcheck.

A typical user loop: an ``nn.Module`` actor-critic, ``torch.distributions.Categorical`` sampling
with torch's own RNG, float32 tensors in the buffer, GAE with the truncation fix. rollcheck needs
two additions: ``RecordingVecEnv`` around the vector env, and ``validate_arrays`` on the tensors
(torch tensors are accepted as they are; tolerances follow their float32 dtype).

    pip install torch==2.13.0 && python examples/validate_torch_loop.py   # exit status 0
"""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import torch
from torch import nn
from torch.distributions import Categorical

from rollcheck import RecordingVecEnv, TorchPolicy, validate_arrays

NUM_ENVS, NUM_STEPS, GAMMA, LAM, MAX_STEPS = 4, 128, 0.99, 0.95, 40


class Agent(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.critic = nn.Sequential(nn.Linear(4, 32), nn.Tanh(), nn.Linear(32, 1))
        self.actor = nn.Sequential(nn.Linear(4, 32), nn.Tanh(), nn.Linear(32, 2))


def main() -> int:
    torch.manual_seed(0)   # the user's script seeds torch once, before rollcheck is involved
    envs = RecordingVecEnv(gym.make_vec("CartPole-v1", num_envs=NUM_ENVS, vectorization_mode="sync",
                                        max_episode_steps=MAX_STEPS,
                                        vector_kwargs={"autoreset_mode": gym.vector.AutoresetMode.SAME_STEP}))
    agent = Agent()
    obs = torch.zeros((NUM_STEPS, NUM_ENVS, 4))
    actions, logprobs, rewards, dones, values = (torch.zeros((NUM_STEPS, NUM_ENVS)) for _ in range(5))
    terms, truncs, final_v = (torch.zeros((NUM_STEPS, NUM_ENVS)) for _ in range(3))
    next_obs = torch.tensor(envs.reset(seed=0)[0])
    next_done = torch.zeros(NUM_ENVS)
    with torch.no_grad():
        for step in range(NUM_STEPS):
            obs[step], dones[step] = next_obs, next_done
            dist = Categorical(logits=agent.actor(next_obs))
            action = dist.sample()
            actions[step], logprobs[step] = action, dist.log_prob(action)
            values[step] = agent.critic(next_obs).flatten()
            o, r, te, tr, info = envs.step(action.numpy())
            rewards[step], terms[step], truncs[step] = torch.tensor(r), torch.tensor(te), torch.tensor(tr)
            cut = np.flatnonzero(tr & ~te)
            if cut.size:
                final_v[step, cut] = agent.critic(torch.tensor(info["final_obs"][cut])).flatten()
            next_obs, next_done = torch.tensor(o), torch.tensor(te | tr, dtype=torch.float32)
        next_value = agent.critic(next_obs).flatten()
        advantages = torch.zeros_like(rewards)
        last = torch.zeros(NUM_ENVS)
        for t in reversed(range(NUM_STEPS)):
            nextvalues = next_value if t == NUM_STEPS - 1 else values[t + 1]
            nextvalues = torch.where(truncs[t].bool() & ~terms[t].bool(), final_v[t], nextvalues)
            carry = 1.0 - torch.maximum(terms[t], truncs[t])
            delta = rewards[t] + GAMMA * nextvalues * (1.0 - terms[t]) - values[t]
            advantages[t] = last = delta + GAMMA * LAM * carry * last
    buffer = dict(obs=obs, actions=actions, logprobs=logprobs, rewards=rewards, dones=dones, values=values,
                  advantages=advantages, returns=advantages + values, next_obs=next_obs, next_done=next_done,
                  next_value=next_value)
    policy = TorchPolicy(agent.actor, lambda x: agent.critic(x).flatten())
    report = validate_arrays(buffer, trace=envs.trace(), policy=policy, gamma=GAMMA, lam=LAM, n_actions=2,
                             max_episode_steps=MAX_STEPS)
    print(report.verdict, report.count_line())
    for r in report.failed:
        print(" ", r.id, "—", r.findings[0].message)
    return report.exit_code


if __name__ == "__main__":
    raise SystemExit(main())
