"""Benchmark: the Gymnasium subprocess bridge against in-process stepping and a naive bridge.

Side by side in one run on CartPole-v1, the same pre-drawn random action sequence (reset on done):

(a)  in-process ``gymnasium.make(...).step``;
(b)  the naive bridge: ``benchmarks/naive_bridge_server.py`` (text pipes, ``readline``,
     ``json.loads``/``json.dumps``, flush per line) driven by a naive client of the same style;
(c)  rollcheck's bridge, the plain per-step protocol: ``GymnasiumClient.step`` (fast decoding with
     the strict fallback, the contract check on every reply), default adaptive spin
     (``spin_us=DEFAULT_SPIN_US``); (c0) the same with ``spin_us=0`` (blocking reads only);
(d)  ``bridge_session(...).step_checked`` (a checked ``Transition`` per step, auto-reset) — what
     the PPO collector pays per step, one observation back before each next action; (d0) the same
     with ``spin_us=0``;
(e)  [batched, open loop] the ``step_many`` extension with ``reset_on_done`` (actions fixed in
     advance, one round trip per batch: replays, fuzzing, random policies — not PPO);
(f)  [batched, policy in the loop] the ``vec_step`` extension: the server hosts ``--num-envs``
     sub-environments, one round trip steps them all with per-env actions a batched policy chose
     from the previous observations (here a fixed linear policy), checked with the contract;
     steps/s counts environment steps;
with ``--pinned``, also (b'), (d') with client and server pinned to one CPU (``pin_cpu=True``).

Cases are interleaved round by round so load drift hits all alike. Prints, per case, the best
steps/s over ``--repeats`` rounds, the ratio of bests to the naive bridge, and the median over
rounds of the per-round ratio to the naive bridge (robust to a busy machine). Target (issue 4):
the per-step path >= 3x the naive bridge. Run:

    python benchmarks/bench_bridge.py [--steps 20000] [--repeats 3] [--batch 256] [--num-envs 8]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import gymnasium as gym
import numpy as np

from rollcheck.impl.bridge_client import GymnasiumClient, bridge_session
from rollcheck.impl.bridge_io import DEFAULT_SPIN_US

ENV_ID = "CartPole-v1"
NAIVE_SERVER = Path(__file__).with_name("naive_bridge_server.py")


def in_process(actions: np.ndarray) -> float:
    env = gym.make(ENV_ID)
    env.reset(seed=0)
    t0 = time.perf_counter()
    for a in actions.tolist():
        _obs, _r, terminated, truncated, _ = env.step(a)
        if terminated or truncated:
            env.reset()
    elapsed = time.perf_counter() - t0
    env.close()
    return len(actions) / elapsed


def _pin(pid: int) -> "set[int]":
    """Pin ``pid`` and this thread to one CPU (as ``GymnasiumClient.spawn(pin_cpu=True)`` does)."""
    before = os.sched_getaffinity(0)
    os.sched_setaffinity(pid, {max(before)})
    os.sched_setaffinity(0, {max(before)})
    return before


def naive_bridge(actions: np.ndarray, pin: bool = False) -> float:
    proc = subprocess.Popen([sys.executable, str(NAIVE_SERVER), ENV_ID], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)
    before = _pin(proc.pid) if pin else None

    def request(obj: dict) -> dict:
        proc.stdin.write(json.dumps(obj) + "\n")
        proc.stdin.flush()
        return json.loads(proc.stdout.readline())

    try:
        request({"cmd": "describe"})
        request({"cmd": "reset", "seed": 0})
        t0 = time.perf_counter()
        for a in actions.tolist():
            reply = request({"cmd": "step", "action": a})
            if reply["terminated"] or reply["truncated"]:
                request({"cmd": "reset"})
        elapsed = time.perf_counter() - t0
        request({"cmd": "close"})
    finally:
        proc.stdin.close()
        proc.wait(5)
        if before is not None:
            os.sched_setaffinity(0, before)
    return len(actions) / elapsed


def ours_step(actions: np.ndarray, pin: bool = False, spin_us: int = DEFAULT_SPIN_US) -> float:
    with GymnasiumClient.spawn(ENV_ID, obs_shape=[4], n_actions=2, pin_cpu=pin or None,
                               spin_us=spin_us) as client:
        client.reset(seed=0)
        step, reset = client.step, client.reset
        t0 = time.perf_counter()
        for a in actions.tolist():
            _obs, _r, terminated, truncated = step(a)
            if terminated or truncated:
                reset()
        elapsed = time.perf_counter() - t0
    return len(actions) / elapsed


def ours_session(actions: np.ndarray, pin: bool = False, spin_us: int = DEFAULT_SPIN_US) -> float:
    with GymnasiumClient.spawn(ENV_ID, obs_shape=[4], n_actions=2, pin_cpu=pin or None,
                               spin_us=spin_us) as client:
        sess_def = bridge_session(client, seed=0)
        sess = sess_def.start()
        step_checked = sess_def.step_checked
        t0 = time.perf_counter()
        for a in actions.tolist():
            _tr, sess = step_checked(sess, a)
        elapsed = time.perf_counter() - t0
    return len(actions) / elapsed


def ours_step_many(actions: np.ndarray, batch: int) -> float:
    with GymnasiumClient.spawn(ENV_ID, obs_shape=[4], n_actions=2) as client:
        client.reset(seed=0)
        acts = actions.tolist()
        t0 = time.perf_counter()
        for i in range(0, len(acts), batch):
            client.step_many(acts[i:i + batch], reset_on_done=True)
        elapsed = time.perf_counter() - t0
    return len(acts) / elapsed


def ours_vec_step(total_steps: int, num_envs: int) -> float:
    """Policy in the loop: each round trip's actions are computed from the previous observations."""
    weights = np.array([0.0, 0.0, 1.0, 0.5])  # a fixed linear policy on CartPole's observation
    with GymnasiumClient.spawn(ENV_ID, obs_shape=[4], n_actions=2) as client:
        obs = client.vec_reset(num_envs, seed=0)
        rounds = max(1, total_steps // num_envs)
        t0 = time.perf_counter()
        for _ in range(rounds):
            batch = client.vec_step((obs @ weights > 0).astype(np.int64).tolist())
            obs = batch.obs
            if len(batch.reset_obs):
                obs = obs.copy()
                obs[batch.done] = batch.reset_obs
        elapsed = time.perf_counter() - t0
    return rounds * num_envs / elapsed


def main(argv: "list[str] | None" = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=20000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--num-envs", type=int, default=8)
    parser.add_argument("--pinned", action="store_true", help="also run the pin_cpu=True variants")
    args = parser.parse_args(argv)
    actions = np.random.default_rng(0).integers(0, 2, size=args.steps)
    naive_name = "(b) naive bridge (json per line)"
    cases = [
        ("(a) in-process gymnasium", lambda: in_process(np.tile(actions, 5))),
        (naive_name, lambda: naive_bridge(actions)),
        (f"(c) ours: step, spin_us={DEFAULT_SPIN_US}", lambda: ours_step(actions)),
        ("(c0) ours: step, spin_us=0", lambda: ours_step(actions, spin_us=0)),
        (f"(d) ours: step_checked (PPO), spin={DEFAULT_SPIN_US}", lambda: ours_session(actions)),
        ("(d0) ours: step_checked (PPO), spin_us=0", lambda: ours_session(actions, spin_us=0)),
        (f"(e) [batched, open loop] step_many {args.batch}", lambda: ours_step_many(actions, args.batch)),
        (f"(f) [batched, policy] vec_step x{args.num_envs}", lambda: ours_vec_step(args.steps, args.num_envs)),
    ]
    if args.pinned and hasattr(os, "sched_setaffinity"):
        cases += [("(b') naive bridge, pinned like ours", lambda: naive_bridge(actions, pin=True)),
                  ("(d') ours: step_checked, pin_cpu=True", lambda: ours_session(actions, pin=True))]
    runs: dict[str, list[float]] = {name: [] for name, _ in cases}
    for _ in range(args.repeats):  # interleaved, so machine-load drift hits every case alike
        for name, run in cases:
            runs[name].append(run())
    best = {name: max(v) for name, v in runs.items()}
    naive, inproc = best[naive_name], best["(a) in-process gymnasium"]
    print(f"{ENV_ID}, {args.steps} steps per bridge run, {args.repeats} interleaved rounds, "
          f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f} at the end")
    print(f"{'case':46s} {'best/s':>8s} {'x naive':>8s} {'median x':>9s} {'% in-proc':>10s}  per round")
    for name, _ in cases:
        per_round = statistics.median(r / n for r, n in zip(runs[name], runs[naive_name]))
        rounds = " ".join(f"{r:.0f}" for r in runs[name])
        print(f"{name:46s} {best[name]:8.0f} {best[name] / naive:8.2f} {per_round:9.2f} "
              f"{100 * best[name] / inproc:9.1f}%  {rounds}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
