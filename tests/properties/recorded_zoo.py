"""Recordings for the recorded-file tests: episodes of a real Gymnasium env as flat columns."""

from __future__ import annotations

import gymnasium as gym
import numpy as np


def record(env_id="CartPole-v1", episodes=3, seed=0, max_steps=40):
    """Episode after episode from one env: flat columns plus episode boundaries."""
    env = gym.make(env_id, max_episode_steps=max_steps)
    rng = np.random.default_rng(seed)
    cols = {k: [] for k in ("obs", "actions", "rewards", "terminated", "truncated", "next_obs")}
    for ep in range(episodes):
        obs, _ = env.reset(seed=seed if ep == 0 else None)
        done = False
        while not done:
            a = env.action_space.sample() if env_id != "CartPole-v1" else int(rng.integers(2))
            nxt, r, te, tr, _ = env.step(a)
            for k, v in (("obs", obs), ("actions", a), ("rewards", r), ("terminated", te), ("truncated", tr),
                         ("next_obs", nxt)):
                cols[k].append(v)
            obs, done = nxt, te or tr
    env.close()
    return {k: np.asarray(v) for k, v in cols.items()}
