"""Vectorised checked collection (rollcheck) vs Stable-Baselines3 ``PPO.collect_rollouts``, side by side.

Not a TorchLean definition: the speed target of issue 4 for
:func:`rollcheck.impl.vector_collect.collect_rollout_vector_with`. One run measures, on CartPole-v1
with ``--envs`` (default 8) sub-environments and ``--horizon`` steps per sub-env per round:

- ``raw``  — ``gymnasium.vector.SyncVectorEnv.step`` with precomputed random actions (no policy,
  no checks, no recording): the ceiling for any collector on this vector env;
- ``ours`` — the checked vectorised collector (every sub-env transition contract-checked, spec
  sampler, ``(T, N)`` rollout) with the numpy ``MlpActorCritic`` (64x64 tanh, separate actor and
  critic, like SB3's default ``MlpPolicy``) plus the GAE of the rollout (SB3's ``collect_rollouts``
  computes its GAE too);
- ``sb3``  — ``PPO("MlpPolicy", ...).collect_rollouts`` on SB3's own ``DummyVecEnv`` of the same
  env, ``n_steps = horizon``, CPU (SB3's ``raw`` stepping of its DummyVecEnv is printed as context).

Rounds are interleaved (raw, ours, sb3, raw, ours, sb3, ...) so machine load hits every method
alike; the medians give the ratios (best round in brackets). Fairness: ``torch.set_num_threads``
is set to ``--torch-threads`` (default 1: for a 64x64 MLP on 8 rows one thread is SB3's fastest
setting here; pass another value to compare), and OpenBLAS/OMP are limited to one thread before
numpy is imported (8x64 products are too small for OpenBLAS to split across threads anyway). Target: ours >= 3x sb3.

Exits 0 with a clear message when stable-baselines3/torch are not installed (install the extra:
``pip install 'rollcheck[sb3]'``), still printing ours vs raw.

Usage: ``python benchmarks/bench_vector_vs_sb3.py [--envs 8] [--horizon 256] [--rounds 7]
[--mode same_step|next_step] [--torch-threads 1]``
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import gymnasium as gym  # noqa: E402
import numpy as np  # noqa: E402
from gymnasium.vector import AutoresetMode  # noqa: E402

from rollcheck.impl.policy import MlpActorCritic  # noqa: E402
from rollcheck.impl.vector_collect import collect_rollout_vector_with  # noqa: E402

ENV_ID = "CartPole-v1"


def _identity(x):
    return x


def make_raw(n_envs: int, horizon: int, mode: AutoresetMode):
    env = gym.make_vec(ENV_ID, num_envs=n_envs, vectorization_mode="sync", vector_kwargs={"autoreset_mode": mode})
    env.reset(seed=0)
    actions = np.random.default_rng(0).integers(0, 2, size=(horizon, n_envs))

    def run() -> None:
        for a in actions:
            env.step(a)
    return run


def make_ours(n_envs: int, horizon: int, mode: AutoresetMode):
    env = gym.make_vec(ENV_ID, num_envs=n_envs, vectorization_mode="sync", vector_kwargs={"autoreset_mode": mode})
    policy = MlpActorCritic(4, 2, hidden=(64, 64), seed=0)
    seeds = list(range(n_envs))
    state = {"counters": [0] * n_envs, "round": 0}

    def run() -> None:
        state["round"] += 1
        rollout, state["counters"] = collect_rollout_vector_with(
            env, _identity, _identity, policy.predict_logits_batch, policy.predict_value_batch, seeds,
            state["counters"], horizon=horizon, reset_seeds=[1000 * state["round"] + i for i in range(n_envs)])
        rollout.advantages(0.99, 0.95)
    return run


def make_sb3(n_envs: int, horizon: int, torch_threads: int):
    import torch
    from stable_baselines3 import PPO
    from stable_baselines3.common.env_util import make_vec_env

    torch.set_num_threads(torch_threads)
    venv = make_vec_env(ENV_ID, n_envs=n_envs, seed=0)
    model = PPO("MlpPolicy", venv, n_steps=horizon, batch_size=64, device="cpu", seed=0, verbose=0)
    _total, callback = model._setup_learn(10 ** 12, callback=None, progress_bar=False)

    def run() -> None:
        model.collect_rollouts(model.env, callback, model.rollout_buffer, n_rollout_steps=horizon)

    raw_venv = make_vec_env(ENV_ID, n_envs=n_envs, seed=1)
    raw_venv.reset()
    actions = np.random.default_rng(1).integers(0, 2, size=(horizon, n_envs))

    def run_raw() -> None:
        for a in actions:
            raw_venv.step(a)
    hidden = [m.out_features for m in model.policy.mlp_extractor.policy_net if hasattr(m, "out_features")]
    note = f"torch {torch.__version__}, torch threads {torch.get_num_threads()}, SB3 MlpPolicy hidden {hidden}"
    return run, run_raw, note


def sb3_available() -> "str | None":
    try:
        import stable_baselines3  # noqa: F401
        import torch  # noqa: F401
    except ImportError as exc:
        return str(exc)
    return None


def main(argv: "list[str] | None" = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--envs", type=int, default=8)
    parser.add_argument("--horizon", type=int, default=256, help="steps per sub-env per round")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--mode", choices=("same_step", "next_step"), default="same_step")
    parser.add_argument("--torch-threads", type=int, default=1)
    args = parser.parse_args(argv)
    for name in ("envs", "horizon", "rounds", "torch_threads"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')}={getattr(args, name)} should be at least 1")
    mode = AutoresetMode.SAME_STEP if args.mode == "same_step" else AutoresetMode.NEXT_STEP

    methods = {"raw": make_raw(args.envs, args.horizon, mode), "ours": make_ours(args.envs, args.horizon, mode)}
    missing = sb3_available()
    note = ""
    if missing is None:
        methods["sb3"], methods["sb3 raw DummyVecEnv"], note = make_sb3(args.envs, args.horizon, args.torch_threads)
    for run in methods.values():  # warm-up (imports, allocations, first-call caches)
        run()
    steps = args.envs * args.horizon
    rates: dict[str, list[float]] = {name: [] for name in methods}
    for r in range(args.rounds):
        names = list(methods)
        names = names[r % len(names):] + names[:r % len(names)]  # rotate the order every round
        for name in names:
            t0 = time.perf_counter()
            methods[name]()
            rates[name].append(steps / (time.perf_counter() - t0))

    print(f"{ENV_ID}, {args.envs} envs x {args.horizon} steps per round, {args.rounds} interleaved rounds, "
          f"gymnasium autoreset {mode.name}, numpy {np.__version__}, OPENBLAS_NUM_THREADS="
          f"{os.environ.get('OPENBLAS_NUM_THREADS')}")
    if note:
        print(note)
    med = {name: statistics.median(v) for name, v in rates.items()}
    for name, v in rates.items():
        print(f"  {name:<22} {med[name]:>10,.0f} env-steps/s (median; best {max(v):,.0f})")
    print(f"ours / raw = {med['ours'] / med['raw']:.2f}  (share of raw stepping kept by checked collection)")
    if missing is not None:
        print(f"stable-baselines3 is not installed ({missing}); install it with `pip install 'rollcheck[sb3]'` "
              "to measure the SB3 baseline. Showing ours vs raw only.")
        return 0
    ratio = med["ours"] / med["sb3"]
    print(f"ours / sb3 = {ratio:.2f}  (target >= 3.0: {'met' if ratio >= 3.0 else 'NOT met'})")
    print(f"sb3 / raw  = {med['sb3'] / med['raw']:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
