"""Recipe: validate a CleanRL ``ppo.py`` rollout buffer, as CleanRL writes it, with rollcheck.

CleanRL's loop, unchanged (numpy here so it runs without torch; with torch the same arrays are
tensors and rollcheck accepts them as they are): float32 buffers, float32 ``actions`` and
``dones``, ``next_done`` stored before each step. The only additions are the two rollcheck lines:
wrap the vector env in ``RecordingVecEnv`` (the env's own record, the ground truth) and hand the
buffer to ``validate_arrays`` — or dump it with ``save_arrays_file`` and run
``rollcheck arrays buffer.npz --policy examples.validate_cleanrl_buffer:make_agent --max-episode-steps 50``.

    python examples/validate_cleanrl_buffer.py          # exit status 0 (the fixed loop) ...
    python examples/validate_cleanrl_buffer.py --bug    # ... 1: CleanRL's truncation-as-termination
"""

from __future__ import annotations

import sys

import gymnasium as gym
import numpy as np

from rollcheck import MlpActorCritic, RecordingVecEnv, save_arrays_file, validate_arrays

NUM_ENVS, NUM_STEPS, GAMMA, LAM, MAX_STEPS = 4, 128, 0.99, 0.95, 50


def make_agent():
    return MlpActorCritic(4, 2, hidden=(32,), seed=1)


def rollout(bootstrap_truncation: bool = True, seed: int = 0):
    envs = RecordingVecEnv(gym.make_vec("CartPole-v1", num_envs=NUM_ENVS, vectorization_mode="sync",
                                        max_episode_steps=MAX_STEPS,
                                        vector_kwargs={"autoreset_mode": gym.vector.AutoresetMode.SAME_STEP}))
    agent, rng = make_agent(), np.random.default_rng(seed)
    obs = np.zeros((NUM_STEPS, NUM_ENVS, 4), np.float32)
    actions, logprobs, rewards, dones, values = (np.zeros((NUM_STEPS, NUM_ENVS), np.float32) for _ in range(5))
    final_values = np.zeros((NUM_STEPS, NUM_ENVS), np.float32)
    terms, truncs = np.zeros((NUM_STEPS, NUM_ENVS), bool), np.zeros((NUM_STEPS, NUM_ENVS), bool)
    next_obs, _ = envs.reset(seed=seed)
    next_done = np.zeros(NUM_ENVS, np.float32)
    for step in range(NUM_STEPS):
        obs[step], dones[step] = next_obs, next_done
        logits = agent.predict_logits_batch(next_obs)
        probs = np.exp(logits - logits.max(1, keepdims=True))
        probs /= probs.sum(1, keepdims=True)
        action = (rng.random((NUM_ENVS, 1)) > np.cumsum(probs, 1)).sum(1).clip(0, 1)
        actions[step], logprobs[step] = action, np.log(probs[np.arange(NUM_ENVS), action])
        values[step] = agent.predict_value_batch(next_obs)
        next_obs, reward, terminations, truncations, infos = envs.step(action)
        rewards[step], next_done = reward, np.logical_or(terminations, truncations).astype(np.float32)
        terms[step], truncs[step] = terminations, truncations
        for i in np.flatnonzero(truncations & ~terminations):   # the fix: V(final observation)
            final_values[step, i] = agent.predict_value(infos["final_obs"][i])
    next_value = agent.predict_value_batch(next_obs).astype(np.float32)
    advantages = np.zeros_like(rewards)
    lastgaelam = 0.0
    for t in reversed(range(NUM_STEPS)):
        nextnonterminal = 1.0 - (next_done if t == NUM_STEPS - 1 else dones[t + 1])
        nextvalues = next_value if t == NUM_STEPS - 1 else values[t + 1]
        if bootstrap_truncation:   # bootstrap a time-limit cut from V(final obs), end only terminations
            nextvalues = np.where(truncs[t] & ~terms[t], final_values[t], nextvalues)
            delta = rewards[t] + GAMMA * nextvalues * (1.0 - terms[t]) - values[t]
        else:                      # CleanRL's ppo.py as published
            delta = rewards[t] + GAMMA * nextvalues * nextnonterminal - values[t]
        advantages[t] = lastgaelam = delta + GAMMA * LAM * nextnonterminal * lastgaelam
    buffer = dict(obs=obs, actions=actions, logprobs=logprobs, rewards=rewards, dones=dones, values=values,
                  advantages=advantages, returns=advantages + values, next_obs=next_obs, next_done=next_done,
                  next_value=next_value)
    return buffer, envs.trace(), agent


def main(argv: "list[str] | None" = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    buffer, trace, agent = rollout(bootstrap_truncation="--bug" not in argv)
    if "--save" in argv:
        save_arrays_file(argv[argv.index("--save") + 1], buffer, trace)
    report = validate_arrays(buffer, trace=trace, policy=agent, gamma=GAMMA, lam=LAM, n_actions=2,
                             max_episode_steps=MAX_STEPS)
    print(report.verdict, report.count_line())
    for r in report.failed:
        print(" ", r.id, "—", r.findings[0].message)
    return report.exit_code


if __name__ == "__main__":
    raise SystemExit(main())
