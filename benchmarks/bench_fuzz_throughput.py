"""Env fuzzer throughput vs raw ``env.step``, measured side by side in one run (issue 14 item 4).

For each env: raw steps/s of a plain loop (``env.step`` with random actions, ``reset`` on done) and
the fuzzer's env steps/s (every step it takes on every instance: checked runs, determinism
replays, probes) over the same wall time, then their ratio. Targets: >= 50% on CartPole, >= 80% on
envs costing >= 1 ms a step (here CartPole with a 1 ms sleep per step, and Hopper-v5 when MuJoCo is
installed).

    python benchmarks/bench_fuzz_throughput.py [--seconds 20] [--repeat 3]

A one-second fuzz run first warms the process up (imports done once per process are not
throughput). Both sides step the same stack (``resolve_target(...).make()``, as the fuzzer builds
it). Each env is measured ``--repeat`` times (raw, fuzzer, raw again: the raw rate is the mean of the
two, so a load that drifts during the run is seen by both sides); the median ratio is printed.
"""

from __future__ import annotations

import argparse
import time
import warnings

import gymnasium as gym

from rollcheck import fuzz_env
from rollcheck.properties.env.target import resolve_target


class Sleep1ms(gym.Wrapper):
    """A costly simulator: 1 ms per step."""

    def step(self, action):
        time.sleep(0.001)
        return self.env.step(action)


def raw_steps_per_second(make, seconds: float) -> float:
    env = make()
    env.action_space.seed(0)
    env.reset(seed=0)
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        _, _, te, tr, _ = env.step(env.action_space.sample())
        n += 1
        if te or tr:
            env.reset()
    env.close()
    return n / (time.perf_counter() - t0)


def fuzz_steps_per_second(target, wrappers, seconds: float) -> "tuple[float, object]":
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        report = fuzz_env(target, wrappers=wrappers, time_budget=seconds, max_examples=10**6)
    return report.meta["env_steps"] / report.duration_s, report


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    cases = [("CartPole-v1", ()), ("CartPole-v1", (Sleep1ms,))]
    try:
        import mujoco  # noqa: F401
        cases.append(("Hopper-v5", ()))
    except ImportError:
        pass
    fuzz_steps_per_second("CartPole-v1", (), 1.0)  # warm-up (first imports, caches): not measured
    print(f"{'env':28s} {'raw steps/s':>12s} {'fuzz steps/s':>13s} {'ratio':>6s}  target  (median of {args.repeat})")
    for env_id, wrappers in cases:
        make = resolve_target(env_id, wrappers).make  # the very stack the fuzzer builds and steps
        runs = []
        for _ in range(args.repeat):
            raw_before = raw_steps_per_second(make, args.seconds / 4)
            fuzz, report = fuzz_steps_per_second(env_id, wrappers, args.seconds)
            raw = (raw_before + raw_steps_per_second(make, args.seconds / 4)) / 2  # the load may drift: average
            runs.append((fuzz / raw, raw, fuzz, report))
        ratio, raw, fuzz, report = sorted(runs, key=lambda r: r[0])[len(runs) // 2]
        name = env_id + "".join(f"+{w.__name__}" for w in wrappers)
        target = ">= 50%" if 1 / raw < 1e-3 else ">= 80%"
        print(f"{name:28s} {raw:12.0f} {fuzz:13.0f} {ratio:6.0%}  {target}  "
              f"(ratios {', '.join(f'{r[0]:.0%}' for r in runs)}; {report.meta['explored']} programs, "
              f"{report.meta['checked_steps']} checked steps)")


if __name__ == "__main__":
    main()
