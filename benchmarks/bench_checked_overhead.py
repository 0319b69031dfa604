"""Checked-collection overhead: the reference collector vs an unchecked hand-written loop.

Issue 4's speed target: ``collect_rollout_checked_session_with`` over ``CheckedSession.gymnasium``
(every transition contract-checked, observations copied, ``Step``/``Rollout`` invariants enforced)
should cost at most 1.3x the time per step of a plain CleanRL-style loop that does the same work
without any checks: same environment (CartPole-v1), same numpy MLP actor-critic (64x64 tanh), same
sampler (the spec's ``sample_action_from_logits`` / ``action_log_softmax``), same two critic calls
per step (``V(s_t)`` and ``V(s_{t+1})`` before the auto-reset), results stored in preallocated
numpy buffers.

A third column shows the same collector with the pure-Python spec checker in the session instead of
the numpy fast path (what the fast path saves).

Repetitions are interleaved (A, B, C, A, B, C, ...) so machine noise hits all variants alike; the
figures are medians. Run:  python benchmarks/bench_checked_overhead.py [--horizon 4000] [--repeats 9]
"""

from __future__ import annotations

import argparse
import statistics
import time

import gymnasium as gym
import numpy as np

from rollcheck.impl.collect import collect_rollout_checked_session_with
from rollcheck.impl.policy import MlpActorCritic
from rollcheck.impl.session import CheckedSession, SessionState, checked_observation
from rollcheck.spec import action_log_softmax, check_transition_fin, sample_action_from_logits


def identity(x):
    return x


def checked(env, policy, seed, horizon):
    sess = CheckedSession.gymnasium(env, seed=seed)
    start = time.perf_counter()
    rollout, _ = collect_rollout_checked_session_with(sess, identity, identity, policy.predict_logits,
                                                      policy.predict_value, seed, 0, horizon=horizon)
    return time.perf_counter() - start, rollout


def spec_checked(env, policy, seed, horizon):
    """The same collector, with a session that calls the spec's ``check_transition_fin`` directly."""
    fast = CheckedSession.gymnasium(env, seed=seed)
    shape, n, contract = fast.obs_shape, fast.n_actions, fast.contract

    def step_checked(sess, action):
        next_obs, reward, terminated, truncated, _ = env.step(action)
        tr = check_transition_fin(contract, sess.observation, next_obs, action, reward, terminated, truncated,
                                  obs_shape=shape, n_actions=n)
        if tr.done:
            obs, _ = env.reset()
            return tr, SessionState(checked_observation(contract, obs, shape))
        return tr, SessionState(tr.next_observation)

    sess = CheckedSession(start=fast.start, observe=fast.observe, step_checked=step_checked, obs_shape=shape,
                          n_actions=n)
    start = time.perf_counter()
    rollout, _ = collect_rollout_checked_session_with(sess, identity, identity, policy.predict_logits,
                                                      policy.predict_value, seed, 0, horizon=horizon)
    return time.perf_counter() - start, rollout


def unchecked(env, policy, seed, horizon):
    """CleanRL-style: no checks, no copies beyond the buffers, no Step/Rollout objects."""
    obs_dim = int(np.prod(env.observation_space.shape))
    states = np.zeros((horizon, obs_dim))
    actions = np.zeros(horizon, dtype=np.int64)
    log_probs, rewards, values, next_values = (np.zeros(horizon) for _ in range(4))
    dones, terminateds = np.zeros(horizon, dtype=bool), np.zeros(horizon, dtype=bool)
    start = time.perf_counter()
    obs, _ = env.reset(seed=seed)
    obs = np.asarray(obs, dtype=np.float64)
    counter = 0
    for t in range(horizon):
        logits = policy.predict_logits(obs)
        counter, a = sample_action_from_logits(seed, counter, logits)
        log_probs[t] = action_log_softmax(logits, a)
        values[t] = policy.predict_value(obs)
        next_obs, reward, terminated, truncated, _ = env.step(a)
        next_obs = np.asarray(next_obs, dtype=np.float64)
        next_values[t] = policy.predict_value(next_obs)
        states[t], actions[t], rewards[t] = obs, a, reward
        dones[t], terminateds[t] = terminated or truncated, terminated
        if terminated or truncated:
            next_obs, _ = env.reset()
            next_obs = np.asarray(next_obs, dtype=np.float64)
        obs = next_obs
    return time.perf_counter() - start, (actions, rewards, values)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--env", default="CartPole-v1")
    parser.add_argument("--horizon", type=int, default=4000)
    parser.add_argument("--repeats", type=int, default=9)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    env = gym.make(args.env)
    policy = MlpActorCritic(int(np.prod(env.observation_space.shape)), int(env.action_space.n), seed=args.seed)
    variants = {"checked (fast path)": checked, "checked (spec checker)": spec_checked, "unchecked loop": unchecked}
    for fn in variants.values():  # warm-up
        fn(env, policy, args.seed, 200)
    # Same work: the three variants take the same actions and see the same rewards.
    _, ro = checked(env, policy, args.seed, 500)
    _, (acts, rews, vals) = unchecked(env, policy, args.seed, 500)
    assert ro.actions == acts.tolist() and ro.rewards == rews.tolist() and ro.values == vals.tolist()

    times: dict[str, list[float]] = {name: [] for name in variants}
    for _ in range(args.repeats):
        for name, fn in variants.items():
            times[name].append(fn(env, policy, args.seed, args.horizon)[0] / args.horizon * 1e6)
    base = statistics.median(times["unchecked loop"])
    print(f"{args.env}, horizon {args.horizon}, {args.repeats} interleaved repeats, MLP 64x64, spec sampler")
    print(f"{'variant':<26}{'median us/step':>16}{'steps/s':>12}{'ratio':>8}")
    for name, ts in times.items():
        med = statistics.median(ts)
        print(f"{name:<26}{med:>16.2f}{1e6 / med:>12.0f}{med / base:>8.3f}")
    per_rep = [c / u for c, u in zip(times["checked (fast path)"], times["unchecked loop"])]
    print(f"checked/unchecked: median of per-repeat ratios {statistics.median(per_rep):.3f} "
          f"(min {min(per_rep):.3f}, max {max(per_rep):.3f}); target <= 1.3")


if __name__ == "__main__":
    main()
