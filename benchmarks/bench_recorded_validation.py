"""Benchmark: validating a recorded CartPole rollout against the contract, vectorised vs the spec.

Records ``--transitions`` (default 1,000,000) real CartPole-v1 transitions with Gymnasium's
numpy-vectorised CartPole (random actions), saves them as ``.npz``, then times on the same data:

- ours: ``rollcheck.properties.rollout.recorded.validate_rollout_file`` (np.load + the vectorised checks of
  ``rollcheck.impl.fast_checks`` + the report), and the fast check alone;
- the spec: ``rollcheck.spec.transition_violations`` row by row (the pure-Python oracle), measured on
  a subset of ``--spec-subset`` rows and extrapolated per transition (it says so in the output).

Then the same for the interchange JSON on ``--json-transitions`` rows: our single-parse fast path
(``validate_rollout_file`` on the .json) vs ``rollcheck.spec.parse_rollout_text``, both measured in full.

Run: ``python benchmarks/bench_recorded_validation.py [--transitions N] [--spec-subset K]``
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import gymnasium as gym
import numpy as np

from rollcheck.impl.fast_checks import batch_transition_violations
from rollcheck.properties.rollout.recorded import validate_rollout_file
from rollcheck.spec import Contract, parse_rollout_text, transition_violations

CONTRACT = Contract(obs_range=(-1e6, 1e6), reward_range=(-1.0, 1.0), require_exclusive_done_flags=True)


def record_cartpole(n: int, num_envs: int = 1000, seed: int = 0) -> dict[str, np.ndarray]:
    """``n`` transitions laid out episode after episode (each sub-env's finished episodes in turn),
    so the chain ``next_obs[t] == obs[t+1]`` holds inside every episode, as a dataset stores it."""
    envs = gym.make_vec("CartPole-v1", num_envs=num_envs, vectorization_mode="vector_entry_point")
    obs, _ = envs.reset(seed=seed)
    rng = np.random.default_rng(seed)
    keys = ("obs", "actions", "rewards", "terminated", "truncated", "next_obs")
    cols = {k: [] for k in keys}
    env_ids = []
    fresh = np.zeros(num_envs, dtype=bool)  # next step is the auto-reset step (not a transition)
    total = 0
    while total < 1.3 * n + 10 * num_envs:
        actions = rng.integers(0, 2, size=num_envs)
        nxt, rew, term, trunc, _ = envs.step(actions)
        keep = ~fresh
        for k, v in (("obs", obs), ("actions", actions), ("rewards", rew), ("terminated", term),
                     ("truncated", trunc), ("next_obs", nxt)):
            cols[k].append(np.asarray(v)[keep])
        env_ids.append(np.flatnonzero(keep))
        total += int(keep.sum())
        fresh = term | trunc
        obs = nxt
    envs.close()
    flat = {k: np.concatenate(v) for k, v in cols.items()}
    order = np.argsort(np.concatenate(env_ids), kind="stable")  # each sub-env's steps in time order
    flat = {k: v[order] for k, v in flat.items()}
    done = np.flatnonzero(flat["terminated"] | flat["truncated"])
    cut = int(done[np.searchsorted(done, n - 1)]) + 1 if done.size and done[-1] >= n - 1 else len(done)
    # keep whole episodes only: drop each sub-env's unfinished tail
    env_of = np.concatenate(env_ids)[order]
    last_done_of_env = {}
    for i in done.tolist():
        last_done_of_env[int(env_of[i])] = i
    keep = np.zeros(len(env_of), dtype=bool)
    start = 0
    for e in range(num_envs):
        stop = start + int((env_of == e).sum())
        if e in last_done_of_env:
            keep[start:last_done_of_env[e] + 1] = True
        start = stop
    del cut
    return {k: v[keep][:n] for k, v in flat.items()}


def best_of(fn, repeat: int = 3) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--transitions", type=int, default=1_000_000)
    ap.add_argument("--spec-subset", type=int, default=20_000)
    ap.add_argument("--json-transitions", type=int, default=20_000)
    args = ap.parse_args()

    t0 = time.perf_counter()
    cols = record_cartpole(args.transitions)
    n = len(cols["actions"])
    print(f"recorded {n:,} CartPole-v1 transitions in {time.perf_counter() - t0:.1f} s "
          f"(obs dtype {cols['obs'].dtype}); contract {CONTRACT}")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "cartpole.npz"
        np.savez(path, **cols)
        report = validate_rollout_file(path, [4], 2, CONTRACT)
        assert report.exit_code == 0, report.to_markdown()
        ours_file = best_of(lambda: validate_rollout_file(path, [4], 2, CONTRACT))
    ours_check = best_of(lambda: batch_transition_violations(
        CONTRACT, cols["obs"], cols["next_obs"], cols["actions"], cols["rewards"], cols["terminated"],
        cols["truncated"], obs_shape=[4], n_actions=2))
    k = min(args.spec_subset, n)
    sub = {key: v[:k] for key, v in cols.items()}

    def spec_rows() -> None:
        for i in range(k):
            assert not transition_violations(CONTRACT, sub["obs"][i], sub["next_obs"][i], sub["actions"][i],
                                             sub["rewards"][i], sub["terminated"][i], sub["truncated"][i],
                                             obs_shape=[4], n_actions=2)

    spec_per = best_of(spec_rows, repeat=1) / k
    spec_full = spec_per * n
    print(f"\n.npz, {n:,} transitions (same data for both):")
    print(f"  ours  validate_rollout_file (load + checks + report): {ours_file * 1e3:8.1f} ms  "
          f"= {n / ours_file:,.0f} transitions/s")
    print(f"  ours  batch_transition_violations (checks only):      {ours_check * 1e3:8.1f} ms  "
          f"= {n / ours_check:,.0f} transitions/s")
    print(f"  spec  transition_violations row by row: measured on {k:,} rows "
          f"({spec_per * 1e6:.2f} us/transition), extrapolated to {n:,}: {spec_full:8.1f} s  "
          f"= {1 / spec_per:,.0f} transitions/s")
    print(f"  ratio spec / ours: {spec_full / ours_file:,.0f}x (whole file), {spec_full / ours_check:,.0f}x (checks only)")

    m = min(args.json_transitions, n)
    doc = {"transitions": [{"obs": cols["obs"][i].astype(float).tolist(), "action": int(cols["actions"][i]),
                            "reward": float(cols["rewards"][i]), "terminated": bool(cols["terminated"][i]),
                            "truncated": bool(cols["truncated"][i]),
                            "next_obs": cols["next_obs"][i].astype(float).tolist()} for i in range(m)]}
    text = json.dumps(doc)
    with tempfile.TemporaryDirectory() as tmp:
        jpath = Path(tmp) / "cartpole.json"
        jpath.write_text(text)
        ours_json = best_of(lambda: validate_rollout_file(jpath, [4], 2, CONTRACT))
    spec_json = best_of(lambda: parse_rollout_text(text, [4], 2, CONTRACT), repeat=1)
    print(f"\ninterchange JSON, {m:,} transitions ({len(text) / 1e6:.1f} MB), both measured in full:")
    print(f"  ours  validate_rollout_file:   {ours_json * 1e3:8.1f} ms = {m / ours_json:,.0f} transitions/s")
    print(f"  spec  parse_rollout_text:      {spec_json * 1e3:8.1f} ms = {m / spec_json:,.0f} transitions/s")
    print(f"  ratio spec / ours: {spec_json / ours_json:.1f}x")


if __name__ == "__main__":
    main()
