"""Env fuzzer throughput vs raw ``env.step``, measured side by side in one run (issue 14 item 4).

For each env: raw steps/s of a plain loop (``env.step`` with random actions, ``reset`` on done) and
the fuzzer's env steps/s (every step it takes on every instance: checked runs, determinism
replays, probes) over the same wall time, then their ratio. Targets: >= 50% on CartPole, >= 80% on
envs costing >= 1 ms a step (here CartPole with a 1 ms sleep per step, and Hopper-v5 when MuJoCo is
installed).

    python benchmarks/bench_fuzz_throughput.py [--seconds 20]
"""

from __future__ import annotations

import argparse
import time
import warnings

import gymnasium as gym

from rollcheck import fuzz_env


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
    args = ap.parse_args()
    cases = [("CartPole-v1", ()), ("CartPole-v1", (Sleep1ms,))]
    try:
        import mujoco  # noqa: F401
        cases.append(("Hopper-v5", ()))
    except ImportError:
        pass
    print(f"{'env':28s} {'raw steps/s':>12s} {'fuzz steps/s':>13s} {'ratio':>6s}  target")
    for env_id, wrappers in cases:
        def make(env_id=env_id, wrappers=wrappers):
            env = gym.make(env_id)
            for w in wrappers:
                env = w(env)
            return env
        raw = raw_steps_per_second(make, args.seconds / 4)
        fuzz, report = fuzz_steps_per_second(env_id, wrappers, args.seconds)
        raw_after = raw_steps_per_second(make, args.seconds / 4)  # the machine's load may drift: average
        raw = (raw + raw_after) / 2
        name = env_id + "".join(f"+{w.__name__}" for w in wrappers)
        target = ">= 50%" if 1 / raw < 1e-3 else ">= 80%"
        print(f"{name:28s} {raw:12.0f} {fuzz:13.0f} {fuzz / raw:6.0%}  {target}  "
              f"({report.meta['explored']} programs, {report.meta['checked_steps']} checked steps)")


if __name__ == "__main__":
    main()
