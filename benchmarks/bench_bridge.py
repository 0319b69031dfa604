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
(g)-(i0) the reference PPO collector (``collect_rollout_checked_session_with``, a CleanRL-sized
     numpy ``MlpActorCritic``, horizon ``--steps``/4) on (g) an in-process ``CheckedSession``,
     (h) a session over the naive bridge checked by the spec's ``check_transition_fin``, (i) our
     ``bridge_session`` (default spin), (i0) the same with ``spin_us=0``; ratios against (h);
with ``--pinned``, also (b'), (d') with client and server pinned to one CPU (``pin_cpu=True``).

Cases are interleaved round by round so load drift hits all alike. Prints, per case, the best
steps/s over ``--repeats`` rounds, the ratio of bests to the naive bridge, the median over rounds
of the per-round ratio to the naive bridge, and every round's figure. Target (issue 4): the
per-step path >= 3x the naive bridge. Run:

    python benchmarks/bench_bridge.py [--steps 20000] [--repeats 3] [--batch 256] [--num-envs 8]

Measured 2026-11-25 on the 2-CPU project VM with the default spin budget of 300 us (12:17 UTC, quiet
machine, load average ~0.5-0.8; the command above with defaults). Steps/s, best of 3 rounds, then
x baseline as ratio of bests / median of per-round ratios (baseline (b) for (c)-(f), (h) for (i)):

    (a) in-process                      151485
    (b) naive bridge                      8694   1.00        (5.7% of in-process, the issue's "about 5%")
    (c) ours step, spin 300              45842   5.27/5.52
    (c0) ours step, spin 0                9369   1.08/1.07
    (d) ours step_checked, spin 300      39834   4.58/4.73   <- the PPO path: target >= 3x met
    (d0) ours step_checked, spin 0        9829   1.13/1.06
    (e) [batched, open loop] step_many   72393   8.33/8.75
    (f) [batched, policy] vec_step x8    53966   6.21/5.68
    (g) collector+MLP, in-process        26591
    (h) collector+MLP, naive bridge       5257   1.00
    (i) collector+MLP, ours spin 300     18464   3.51/3.34   (69% of the in-process collector)
    (i0) collector+MLP, ours spin 0       6644   1.26/1.26

With a 100 us budget (the earlier default) the same quiet-machine run gave (d) 4.06x but (i) only
2.13x: between two requests the client spends ~40 us in the MLP, sampler and bookkeeping, the
server's spin often ran out or was judged preempted and halved, and each miss cost a ~100 us
wake-up; 300 us covers that gap (measured on the collector alone: spin 0 / 100 / 300 / 1000 us
gave 6.0k / 11.1k / 16.7k / 17.1k steps/s against 4.7k for the naive bridge).

Earlier runs with the 100 us budget while other sessions loaded the machine (load average ~2):
naive 19.7-20.1k steps/s, ours (c) 24.9-44.1k, (d) 20.2-33.3k (1.0-1.7x), (i) 1.8-2.0x.

Reading it. Both bridges have two regimes, set by where the scheduler puts the two processes.
On *different* CPUs with idle time (a quiet machine), every blocking read pays the wake-up of an
idle virtual CPU (~100 us here): the naive bridge runs at 7-13k steps/s and ours, spinning
instead of sleeping, at 35-46k — the PPO path (d) 4.6x the naive bridge, the plain step 5.3x, the
full collector with its MLP 3.5x: the issue's 3x target is met there. On the *same* CPU (pipe
wake-ups are "sync" and pull the processes together, typically when the other CPU is busy with
other work, as in runs 1-2) the two simply alternate, wake-ups are cheap, spinning cannot help
(the adaptive spin switches itself off, costing ~5%), and both bridges are bound by Python CPU:
~20k for the naive bridge, 20-25k for ours — there the per-step path is only 1.0-1.3x and does
NOT meet 3x. No per-step bridge can do much better in that regime: the Python work on the
critical path of one step is ~25 us even without a wake-up (server: env.step 6.5-10 us, dispatch
and encoding ~4 us; client: decoding ~3.4 us, checked transition ~2 us, system calls), against
~50 us for the naive bridge at its best. With the real collector (MLP forward passes, sampling,
Step records; (g)-(i0)) the policy's own ~40 us per step dilutes every ratio: 3.5x on a quiet
machine with the 300 us budget, 1.8-2.0x under load.
Batching with the policy in the loop (f) scales with the number of sub-envs (57k steps/s with
``--num-envs 32`` in one run, 7.2x the naive bridge in that run). BLAS is limited to one thread
(``OPENBLAS_NUM_THREADS=1`` unless set): with the default thread pool, the in-process collector
alone drops from ~25k to ~16k steps/s.
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

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # tiny MLP matmuls: BLAS threads only add overhead

import gymnasium as gym  # noqa: E402
import numpy as np  # noqa: E402

from rollcheck.impl.bridge_client import GymnasiumClient  # noqa: E402
from rollcheck.impl.bridge_session import bridge_session  # noqa: E402
from rollcheck.impl.bridge_io import DEFAULT_SPIN_US  # noqa: E402
from rollcheck.impl.collect import collect_rollout_checked_session_with  # noqa: E402
from rollcheck.impl.policy import MlpActorCritic  # noqa: E402
from rollcheck.impl.session import CheckedSession  # noqa: E402
from rollcheck.spec import Contract, Shape, check_transition_fin  # noqa: E402

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


def _collect(sess: CheckedSession, horizon: int) -> float:
    """The reference PPO collector (CleanRL-sized numpy MLP, policy in the loop) on ``sess``."""
    policy = MlpActorCritic(4, 2, seed=0)
    t0 = time.perf_counter()
    collect_rollout_checked_session_with(sess, _identity, _identity, policy.predict_logits,
                                         policy.predict_value, 1, 0, horizon=horizon)
    return horizon / (time.perf_counter() - t0)


def _identity(x: object) -> object:
    return x


def collector_in_process(horizon: int) -> float:
    with CheckedSession.gymnasium(gym.make(ENV_ID), seed=0) as sess:
        return _collect(sess, horizon)


def collector_naive(horizon: int) -> float:
    """The collector over the naive bridge: a session doing json per line and the spec's check."""
    proc = subprocess.Popen([sys.executable, str(NAIVE_SERVER), ENV_ID], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)

    def request(obj: dict) -> dict:
        proc.stdin.write(json.dumps(obj) + "\n")
        proc.stdin.flush()
        return json.loads(proc.stdout.readline())

    contract, shape = Contract(), Shape((4,))

    def reset(seed: "int | None") -> np.ndarray:
        return np.array(request({"cmd": "reset", "seed": seed})["obs"], dtype=np.float64)

    def step_checked(obs: np.ndarray, action: int) -> tuple:
        r = request({"cmd": "step", "action": action})
        tr = check_transition_fin(contract, obs, r["obs"], action, r["reward"], r["terminated"],
                                  r["truncated"], obs_shape=shape, n_actions=2)
        return tr, (reset(None) if tr.done else tr.next_observation)

    sess = CheckedSession(start=lambda: reset(0), observe=lambda obs: obs, step_checked=step_checked,
                          obs_shape=shape, n_actions=2, contract=contract)
    try:
        request({"cmd": "describe"})
        return _collect(sess, horizon)
    finally:
        request({"cmd": "close"})
        proc.stdin.close()
        proc.wait(5)


def collector_ours(horizon: int, spin_us: int = DEFAULT_SPIN_US) -> float:
    with GymnasiumClient.spawn(ENV_ID, obs_shape=[4], n_actions=2, spin_us=spin_us) as client:
        return _collect(bridge_session(client, seed=0), horizon)


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
    horizon = max(1, args.steps // 4)
    cases += [
        ("(g) collector+MLP: in-process session", lambda: collector_in_process(horizon)),
        ("(h) collector+MLP: naive bridge", lambda: collector_naive(horizon)),
        (f"(i) collector+MLP: ours, spin_us={DEFAULT_SPIN_US}", lambda: collector_ours(horizon)),
        ("(i0) collector+MLP: ours, spin_us=0", lambda: collector_ours(horizon, spin_us=0)),
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
    baselines = {name: (naive_name, "(a) in-process gymnasium") for name, _ in cases}
    for name, _ in cases:
        if name.startswith(("(g)", "(h)", "(i")):  # the collector cases compare among themselves
            baselines[name] = ("(h) collector+MLP: naive bridge", "(g) collector+MLP: in-process session")
    print(f"{ENV_ID}, {args.steps} steps per bridge run, {args.repeats} interleaved rounds, "
          f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f} at the end")
    print(f"{'case':46s} {'best/s':>8s} {'x naive':>8s} {'median x':>9s} {'% in-proc':>10s}  per round")
    for name, _ in cases:
        base, ref = baselines[name]
        per_round = statistics.median(r / n for r, n in zip(runs[name], runs[base]))
        rounds = " ".join(f"{r:.0f}" for r in runs[name])
        print(f"{name:46s} {best[name]:8.0f} {best[name] / best[base]:8.2f} {per_round:9.2f} "
              f"{100 * best[name] / best[ref]:9.1f}%  {rounds}")
    print("(g)-(i0): the reference PPO collector (numpy MLP actor-critic, one observation back before "
          "each action); their ratios are against (h) and (g), horizon = steps/4")
    return 0


if __name__ == "__main__":
    sys.exit(main())
