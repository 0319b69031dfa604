"""Benchmark: validating recorded rollouts end to end, in every array format, against a plain numpy pass.

Records ``--transitions`` (default 1,000,000) real CartPole-v1 transitions with Gymnasium's
numpy-vectorised CartPole (random actions), laid out episode after episode, and writes them as

- ``.npz`` in rollcheck's naming (stored, and compressed with ``np.savez_compressed``) and in
  D4RL's naming (flags as float32),
- a D4RL-style HDF5 file (h5py, if installed), contiguous (h5py's default) and chunked with gzip,
- a Minari dataset (Pendulum-v1, ``--minari-transitions`` steps, if minari is installed),
- interchange JSON (``--json-transitions`` rows).

For each it times, side by side on the same file: **ours** — ``validate_rollout_file`` (open,
read in chunks, every property: the contract through the judge, spaces, chain, episodes, the
report) — and **plain numpy** — reading the same arrays with the format's own library
(``np.load``, ``h5py``, ``minari``, ``json``) and one vectorised pass of the same checks
(finite observations/rewards, actions in range, the chain). It prints transitions/s and the
ratio ours / plain, each the median of ``--repeat`` runs with ours and plain alternating (a busy
machine slows both alike). The compressed rows show where decompression (zlib), not checking,
bounds the rate: the plain pass pays it too. Then the pure-Python spec row by row on a subset.

Run: ``python benchmarks/bench_recorded_validation.py [--transitions N] [--repeat K]``
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from pathlib import Path

import gymnasium as gym
import numpy as np

from rollcheck.properties.rollout.recorded import validate_rollout_file
from rollcheck.spec import Contract, transition_violations

CONTRACT = Contract(obs_range=(-1e6, 1e6), reward_range=(-1.0, 1.0), require_exclusive_done_flags=True)


def record_cartpole(n: int, num_envs: int = 1000, seed: int = 0) -> dict[str, np.ndarray]:
    """``n`` transitions laid out episode after episode (each sub-env's finished episodes in turn),
    so the chain ``next_obs[t] == obs[t+1]`` holds inside every episode, as a dataset stores it."""
    envs = gym.make_vec("CartPole-v1", num_envs=num_envs, vectorization_mode="vector_entry_point")
    obs, _ = envs.reset(seed=seed)
    rng = np.random.default_rng(seed)
    cols: dict[str, list] = {k: [] for k in ("obs", "actions", "rewards", "terminated", "truncated", "next_obs")}
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
    env_of = np.concatenate(env_ids)
    order = np.argsort(env_of, kind="stable")  # each sub-env's steps in time order
    flat = {k: np.concatenate(v)[order] for k, v in cols.items()}
    env_of = env_of[order]
    done = flat["terminated"] | flat["truncated"]
    keep = np.zeros(len(env_of), dtype=bool)  # whole episodes only: drop each sub-env's unfinished tail
    for e in range(num_envs):
        rows = np.flatnonzero(env_of == e)
        ends = rows[done[rows]]
        if ends.size:
            keep[rows[0]:ends[-1] + 1] = True
    return {k: v[keep][:n] for k, v in flat.items()}


def plain_checks(obs, next_obs, actions, rewards, terminated, truncated, n_actions=2) -> bool:
    """The same checks, one plain vectorised numpy pass (no wording, no report)."""
    done = np.asarray(terminated, bool) | np.asarray(truncated, bool)
    ok = bool(np.isfinite(obs).all() and np.isfinite(next_obs).all() and np.isfinite(rewards).all())
    ok &= bool(((actions >= 0) & (actions < n_actions)).all()) if n_actions else True
    ok &= bool(((next_obs[:-1] == obs[1:]).all(axis=1) | done[:-1]).all())
    return ok


def _timed(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def side_by_side(ours, plain, repeat: int) -> tuple[float, float]:
    """Median seconds of ``ours`` and ``plain``, run alternately (one warm-up each), so a busy
    machine slows both alike."""
    ours(), plain()
    a, b = [], []
    for _ in range(repeat):
        a.append(_timed(ours))
        b.append(_timed(plain))
    return statistics.median(a), statistics.median(b)


def row(label: str, n: int, ours_plain: tuple[float, float]) -> None:
    ours, plain = ours_plain
    print(f"  {label:<30} ours {ours * 1e3:8.1f} ms = {n / ours:12,.0f} transitions/s | plain numpy "
          f"{plain * 1e3:8.1f} ms = {n / plain:12,.0f}/s | ours/plain {ours / plain:5.2f}x")


def bench_npz(tmp: Path, cols: dict, repeat: int) -> None:
    n = len(cols["actions"])
    for label, save in ((".npz (rollcheck names)", np.savez), (".npz compressed (savez_compressed)",
                                                                np.savez_compressed)):
        path = tmp / f"cartpole-{save.__name__}.npz"
        save(path, **cols)
        assert validate_rollout_file(path, [4], 2, CONTRACT).exit_code == 0

        def plain(path=path) -> None:
            with np.load(path) as d:
                plain_checks(d["obs"], d["next_obs"], d["actions"], d["rewards"], d["terminated"], d["truncated"])
        row(label, n, side_by_side(lambda path=path: validate_rollout_file(path, [4], 2, CONTRACT), plain, repeat))
    d4rl = tmp / "cartpole-d4rl.npz"
    np.savez(d4rl, observations=cols["obs"], actions=cols["actions"], rewards=cols["rewards"],
             terminals=cols["terminated"].astype(np.float32), timeouts=cols["truncated"].astype(np.float32),
             next_observations=cols["next_obs"])
    assert validate_rollout_file(d4rl, [4], 2, CONTRACT).exit_code == 0

    def plain_d4rl() -> None:
        with np.load(d4rl) as d:
            plain_checks(d["observations"], d["next_observations"], d["actions"], d["rewards"], d["terminals"] == 1,
                         d["timeouts"] == 1)
    row(".npz (D4RL names, float flags)", n,
        side_by_side(lambda: validate_rollout_file(d4rl, [4], 2, CONTRACT), plain_d4rl, repeat))


def bench_hdf5(tmp: Path, cols: dict, repeat: int) -> None:
    try:
        import h5py
    except ImportError:
        print("  D4RL HDF5: h5py not installed, skipped")
        return
    n = len(cols["actions"])
    for label, extra in (("D4RL HDF5 (h5py, contiguous)", {}),
                         ("D4RL HDF5 (chunked, gzip)", {"compression": "gzip", "chunks": (1 << 15, 4)})):
        path = tmp / f"cartpole-{len(extra)}.hdf5"
        with h5py.File(path, "w") as f:
            for name, col in (("observations", cols["obs"]), ("next_observations", cols["next_obs"]),
                              ("actions", cols["actions"]), ("rewards", cols["rewards"]),
                              ("terminals", cols["terminated"].astype(np.float32)),
                              ("timeouts", cols["truncated"].astype(np.float32))):
                opts = dict(extra, chunks=extra["chunks"][:col.ndim]) if extra else {}
                f.create_dataset(name, data=col, **opts)
        assert validate_rollout_file(path, [4], 2, CONTRACT).exit_code == 0

        def plain(path=path) -> None:
            with h5py.File(path, "r") as f:
                plain_checks(f["observations"][:], f["next_observations"][:], f["actions"][:], f["rewards"][:],
                             f["terminals"][:] == 1, f["timeouts"][:] == 1)
        row(label, n, side_by_side(lambda path=path: validate_rollout_file(path, [4], 2, CONTRACT), plain, repeat))


def bench_minari(tmp: Path, n: int, repeat: int) -> None:
    try:
        import minari
        from minari.data_collector import EpisodeBuffer
    except ImportError:
        print("  Minari: minari not installed, skipped")
        return
    os.environ["MINARI_DATASETS_PATH"] = str(tmp / "minari")
    env = gym.make("Pendulum-v1")
    rng = np.random.default_rng(0)
    buffers, steps, ep = [], 0, 0
    while steps < n:
        obs, _ = env.reset(seed=ep)
        observations, actions, rewards, tr = [obs], [], [], []
        for _ in range(200):
            a = rng.uniform(-2, 2, size=(1,)).astype(np.float32)
            obs, r, _, trunc, _ = env.step(a)
            observations.append(obs), actions.append(a), rewards.append(r), tr.append(trunc)
        buffers.append(EpisodeBuffer(id=ep, seed=ep, observations=np.array(observations), actions=np.array(actions),
                                     rewards=np.array(rewards), terminations=np.zeros(200, bool),
                                     truncations=np.array(tr)))
        steps += 200
        ep += 1
    minari.create_dataset_from_buffers("pendulum/bench-v0", buffers, env="Pendulum-v1", algorithm_name="random",
                                       author="rollcheck", author_email="rollcheck@example.invalid",
                                       code_permalink="https://example.invalid/rollcheck", description="bench")
    report = validate_rollout_file("pendulum/bench-v0")
    assert report.exit_code == 0, report.to_markdown()

    def plain() -> None:
        ds = minari.load_dataset("pendulum/bench-v0")
        for e in ds.storage.get_episodes(ds.episode_indices):
            o = e["observations"]
            plain_checks(o[:-1], o[1:], e["actions"], e["rewards"], e["terminations"], e["truncations"], n_actions=0)
    row(f"Minari ({ep} episodes)", steps, side_by_side(lambda: validate_rollout_file("pendulum/bench-v0"), plain,
                                                         repeat))


def bench_json(tmp: Path, cols: dict, m: int, repeat: int) -> None:
    doc = {"transitions": [{"obs": cols["obs"][i].astype(float).tolist(), "action": int(cols["actions"][i]),
                            "reward": float(cols["rewards"][i]), "terminated": bool(cols["terminated"][i]),
                            "truncated": bool(cols["truncated"][i]),
                            "next_obs": cols["next_obs"][i].astype(float).tolist()} for i in range(m)]}
    path = tmp / "cartpole.json"
    path.write_text(json.dumps(doc))
    assert validate_rollout_file(path, [4], 2, CONTRACT).exit_code == 0

    def plain() -> None:
        rows = json.loads(path.read_text())["transitions"]
        plain_checks(np.array([r["obs"] for r in rows]), np.array([r["next_obs"] for r in rows]),
                     np.array([r["action"] for r in rows]), np.array([r["reward"] for r in rows]),
                     np.array([r["terminated"] for r in rows]), np.array([r["truncated"] for r in rows]))
    row(f"interchange JSON ({path.stat().st_size / 1e6:.0f} MB)", m,
        side_by_side(lambda: validate_rollout_file(path, [4], 2, CONTRACT), plain, repeat))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--transitions", type=int, default=1_000_000)
    ap.add_argument("--minari-transitions", type=int, default=200_000)
    ap.add_argument("--json-transitions", type=int, default=100_000)
    ap.add_argument("--spec-subset", type=int, default=20_000)
    ap.add_argument("--repeat", type=int, default=7)
    args = ap.parse_args()

    t0 = time.perf_counter()
    cols = record_cartpole(args.transitions)
    n = len(cols["actions"])
    print(f"recorded {n:,} CartPole-v1 transitions in {time.perf_counter() - t0:.1f} s "
          f"(obs {cols['obs'].dtype}); contract {CONTRACT}; medians of {args.repeat}, ours and plain alternating\n")
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        bench_npz(tmp, cols, args.repeat)
        bench_hdf5(tmp, cols, args.repeat)
        bench_minari(tmp, args.minari_transitions, args.repeat)
        bench_json(tmp, cols, min(args.json_transitions, n), args.repeat)
    k = min(args.spec_subset, n)

    def spec_rows() -> None:
        for i in range(k):
            assert not transition_violations(CONTRACT, cols["obs"][i], cols["next_obs"][i], cols["actions"][i],
                                             cols["rewards"][i], cols["terminated"][i], cols["truncated"][i],
                                             obs_shape=[4], n_actions=2)
    per = _timed(spec_rows) / k
    print(f"\n  spec transition_violations row by row (contract only), measured on {k:,} rows: "
          f"{per * 1e6:.2f} us/transition = {1 / per / 1e6:.3f} M transitions/s")


if __name__ == "__main__":
    main()
