"""Issue 15's "done when", per format: one recording (CartPole, three episodes, episode after episode)
written as .npz in each naming, as D4RL-style HDF5 and as interchange JSON validates clean; each
planted fault — a NaN reward, an observation outside the declared range, a broken chain, a missing
episode end, a replay divergence — is named by its episode and step, in every format."""

from __future__ import annotations

import json

import gymnasium as gym
import numpy as np
import pytest

from recorded_zoo import record
from rollcheck.properties.rollout.recorded import validate_rollout_file
from rollcheck.spec import Contract

CONTRACT = Contract(obs_range=(-10.0, 10.0))
FORMATS = ["npz-rollcheck", "npz-interchange", "npz-d4rl", pytest.param("hdf5", marks=pytest.mark.h5py), "json"]


def write(path, fmt, cols):
    if fmt == "json":
        rows = [{"obs": cols["obs"][i].astype(float).tolist(), "action": int(cols["actions"][i]),
                 "reward": float(cols["rewards"][i]), "terminated": bool(cols["terminated"][i]),
                 "truncated": bool(cols["truncated"][i]), "next_obs": cols["next_obs"][i].astype(float).tolist()}
                for i in range(len(cols["actions"]))]
        path = path.with_suffix(".json")
        path.write_text(json.dumps({"transitions": rows}, allow_nan=True))
        return path
    names = {"npz-rollcheck": ("obs", "actions", "rewards", "terminated", "truncated", "next_obs"),
             "npz-interchange": ("obs", "action", "reward", "terminated", "truncated", "next_obs")}
    d4rl = ("observations", "actions", "rewards", "terminals", "timeouts", "next_observations")
    arrays = dict(zip(names.get(fmt, d4rl), cols.values()))
    if fmt in ("npz-d4rl", "hdf5"):
        arrays["terminals"] = arrays["terminals"].astype(np.float32)
        arrays["timeouts"] = arrays["timeouts"].astype(np.float32)
    if fmt == "hdf5":
        import h5py
        path = path.with_suffix(".hdf5")
        with h5py.File(path, "w") as f:
            for k, v in arrays.items():
                f[k] = v
        return path
    path = path.with_suffix(".npz")
    np.savez(path, **arrays)
    return path


@pytest.fixture(scope="module")
def cols():
    return record(max_steps=12)


def _where(f):
    return f.context["episode"], f.context["step_in_episode"]


@pytest.mark.parametrize("fmt", FORMATS)
def test_clean_in_every_format_and_each_planted_fault_named_by_episode_and_step(tmp_path, cols, fmt):
    if fmt == "hdf5":
        pytest.importorskip("h5py", reason="optional extra rollcheck[datasets] (h5py) not installed: .ci/run installs the extras and runs these tests under -m extras")
    ends = np.flatnonzero(cols["terminated"] | cols["truncated"])
    e1 = int(ends[0]) + 1  # the first row of episode 1
    path = write(tmp_path / "ok", fmt, cols)
    report = validate_rollout_file(path, [4], 2, CONTRACT)
    assert report.exit_code == 0, report.to_markdown()
    assert report.meta["episodes_ended"] == 3

    def planted(name, change):
        bad = {k: v.copy() for k, v in cols.items()}
        change(bad)
        return validate_rollout_file(write(tmp_path / name, fmt, bad), [4], 2, CONTRACT)

    def nan_reward(c):
        c["rewards"] = c["rewards"].astype(np.float64)
        c["rewards"][e1 + 2] = np.nan
    (f,) = planted("nan", nan_reward).result("recorded.reward_contract").findings
    assert _where(f) == (1, 2) and f.message.startswith(f"episode 1, step 2: transition {e1 + 2}")

    def far_obs(c):
        c["obs"][e1 + 3, 1] = 50.0  # outside obs_range, and a broken chain with the row before
    report = planted("far", far_obs)
    (f,) = report.result("recorded.observation_contract").findings
    assert _where(f) == (1, 3)
    (f,) = report.result("recorded.next_obs_chain").findings
    assert _where(f) == (1, 2)

    def broken_chain(c):
        c["next_obs"][e1 + 4, 0] += 0.25
    (f,) = planted("chain", broken_chain).result("recorded.next_obs_chain").findings
    assert _where(f) == (1, 4) and "broken chain, or a missing episode end" in f.message

    def missing_end(c):
        c["terminated"][ends[1]] = c["truncated"][ends[1]] = False
    report = planted("end", missing_end)
    (f,) = report.result("recorded.next_obs_chain").findings
    assert _where(f) == (1, int(ends[1]) - e1) and "missing episode end" in f.message

    def replay_divergence(c):
        c["actions"][e1 + 1] = 1 - c["actions"][e1 + 1]  # the recorded next observation no longer follows
    bad = {k: v.copy() for k, v in cols.items()}
    replay_divergence(bad)
    report = validate_rollout_file(write(tmp_path / "replay", fmt, bad), [4], 2, CONTRACT,
                                   replay=lambda: gym.make("CartPole-v1", max_episode_steps=12), seed=0)
    (f,) = report.result("recorded.replay_reproduces").findings
    assert _where(f) == (1, 1) and "next_obs: env" in f.message
    assert [r.id for r in report.failed] == ["recorded.replay_reproduces"]
    assert report.meta["replay_episodes_reproduced"] == 2
