"""Benchmark: the Gymnasium subprocess bridge against in-process stepping and a naive bridge.

Side by side in one run on CartPole-v1, the same pre-drawn random action sequence (reset on done):

(a)  in-process ``gymnasium.make(...).step``;
(b)  the naive bridge: ``benchmarks/naive_bridge_server.py`` (text pipes, ``readline``,
     ``json.loads``/``json.dumps``, flush per line) driven by a naive client of the same style;
(b') the same naive bridge with client thread and server pinned to one CPU, as (c') does — shown
     so the effect of pinning is not mistaken for the effect of the code;
(c)  rollcheck's bridge, the plain per-step protocol: ``GymnasiumClient.step`` (strict decoding and
     the contract check on every reply); (c') the same with ``pin_cpu=True``;
(d)  ``bridge_session(...).step_checked`` (a checked ``Transition`` per step, auto-reset) — what the
     collector pays per step; (d') the same with ``pin_cpu=True``;
(e)  rollcheck's ``step_many`` extension with ``reset_on_done`` (open-loop batches of actions, one
     round trip per batch).

Prints steps/s (best of ``--repeats``, cases interleaved so load drift hits all alike) and ratios
against the naive bridge and in-process stepping. Target (issue 4): ours >= 3x the naive bridge.
The per-step cases are bounded by the pipe round trip (two process wake-ups per step), which the
naive bridge pays too; the batched extension is what clears 3x. Run:

    python benchmarks/bench_bridge.py [--steps 20000] [--repeats 3] [--batch 256]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import gymnasium as gym
import numpy as np

from rollcheck.impl.bridge_client import GymnasiumClient, bridge_session

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


def ours_step(actions: np.ndarray, pin: bool = False) -> float:
    with GymnasiumClient.spawn(ENV_ID, obs_shape=[4], n_actions=2, pin_cpu=pin or None) as client:
        client.reset(seed=0)
        step, reset = client.step, client.reset
        t0 = time.perf_counter()
        for a in actions.tolist():
            _obs, _r, terminated, truncated = step(a)
            if terminated or truncated:
                reset()
        elapsed = time.perf_counter() - t0
    return len(actions) / elapsed


def ours_session(actions: np.ndarray, pin: bool = False) -> float:
    with GymnasiumClient.spawn(ENV_ID, obs_shape=[4], n_actions=2, pin_cpu=pin or None) as client:
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


def main(argv: "list[str] | None" = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=20000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--batch", type=int, default=256)
    args = parser.parse_args(argv)
    actions = np.random.default_rng(0).integers(0, 2, size=args.steps)
    cases = [
        ("(a) in-process gymnasium", lambda: in_process(np.tile(actions, 5))),
        ("(b) naive bridge (json per line)", lambda: naive_bridge(actions)),
        ("(b') naive bridge, pinned like ours", lambda: naive_bridge(actions, pin=True)),
        ("(c) ours: GymnasiumClient.step", lambda: ours_step(actions)),
        ("(c') ours: step, pin_cpu=True", lambda: ours_step(actions, pin=True)),
        ("(d) ours: bridge_session.step_checked", lambda: ours_session(actions)),
        ("(d') ours: step_checked, pin_cpu=True", lambda: ours_session(actions, pin=True)),
        (f"(e) ours: step_many (batch {args.batch})", lambda: ours_step_many(actions, args.batch)),
    ]
    best = {name: 0.0 for name, _ in cases}
    for _ in range(args.repeats):  # interleaved, so machine-load drift hits every case alike
        for name, run in cases:
            best[name] = max(best[name], run())
    naive = best["(b) naive bridge (json per line)"]
    inproc = best["(a) in-process gymnasium"]
    print(f"{ENV_ID}, {args.steps} steps per bridge run, best of {args.repeats}")
    print(f"{'case':42s} {'steps/s':>10s} {'x naive':>8s} {'% in-proc':>10s}")
    for name, _ in cases:
        print(f"{name:42s} {best[name]:10.0f} {best[name] / naive:8.2f} {100 * best[name] / inproc:9.1f}%")
    return 0


if __name__ == "__main__":
    sys.exit(main())
