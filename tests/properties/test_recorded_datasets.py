"""Recorded datasets in the formats people keep, built with the real libraries: Minari's
DataCollector (CartPole, Pendulum), an h5py D4RL-style file, npz in every naming. Each validates
clean; each planted fault (NaN reward, out-of-space observation, broken chain, missing episode
end, bookkeeping that disagrees, a replay divergence) is named by episode and step."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

from recorded_zoo import record
from rollcheck.properties.rollout.recorded import validate_rollout_file
from rollcheck.spec import Box


def _first(report, pid):
    return report.result(pid).findings[0]


# ---------------------------------------------------------------------------------------------
# npz: every naming reads, and the chain is checked
# ---------------------------------------------------------------------------------------------

NAMES = {"rollcheck": ("obs", "actions", "rewards", "terminated", "truncated", "next_obs"),
         "interchange": ("obs", "action", "reward", "terminated", "truncated", "next_obs"),
         "d4rl": ("observations", "actions", "rewards", "terminals", "timeouts", "next_observations")}


@pytest.mark.parametrize("naming", sorted(NAMES))
def test_npz_in_each_naming_validates_clean_and_names_a_broken_chain(tmp_path, naming):
    cols = record()
    arrays = dict(zip(NAMES[naming], cols.values()))
    if naming == "d4rl":  # D4RL stores flags as float32
        arrays["terminals"] = arrays["terminals"].astype(np.float32)
        arrays["timeouts"] = arrays["timeouts"].astype(np.float32)
    np.savez(tmp_path / "ok.npz", **arrays)
    report = validate_rollout_file(tmp_path / "ok.npz", [4], 2)
    assert report.exit_code == 0, report.to_markdown()
    assert report.meta["naming"] == naming and report.meta["episodes_ended"] == 3
    ends = np.flatnonzero(cols["terminated"] | cols["truncated"])
    t = int(ends[0]) + 3  # episode 1, step 2
    arrays[NAMES[naming][5]] = arrays[NAMES[naming][5]].copy()
    arrays[NAMES[naming][5]][t, 1] += 0.5
    np.savez(tmp_path / "bad.npz", **arrays)
    report = validate_rollout_file(tmp_path / "bad.npz", [4], 2)
    assert report.exit_code == 1
    (f,) = report.result("recorded.next_obs_chain").findings
    assert f.step == t and f.context["episode"] == 1 and f.context["step_in_episode"] == 2
    assert f.message.startswith(f"episode 1, step 2: transition {t}: next_obs differs from obs of transition {t + 1}")


def test_npz_missing_episode_end_is_named_where_the_chain_breaks(tmp_path):
    cols = record()
    end = int(np.flatnonzero(cols["terminated"] | cols["truncated"])[0])
    cols["terminated"][end] = cols["truncated"][end] = False
    np.savez(tmp_path / "r.npz", **cols)
    report = validate_rollout_file(tmp_path / "r.npz", [4], 2)
    (f,) = report.result("recorded.next_obs_chain").findings
    assert f.step == end and f.context["episode"] == 0 and f.context["step_in_episode"] == end
    assert "missing episode end" in f.message


def test_d4rl_flags_must_be_exactly_zero_or_one(tmp_path):
    cols = record()
    arrays = dict(zip(NAMES["d4rl"], cols.values()))
    arrays["terminals"] = arrays["terminals"].astype(np.float32)
    arrays["terminals"][4] = 0.5
    np.savez(tmp_path / "r.npz", **arrays)
    report = validate_rollout_file(tmp_path / "r.npz", [4], 2)
    (f,) = report.result("recorded.done_flags").findings
    assert f.step == 4 and "0.5 is not exactly 0 or 1" in f.message and f.message.startswith("episode 0, step 4")


def test_box_actions_out_of_bounds_are_named(tmp_path):
    cols = record("Pendulum-v1", episodes=2, max_steps=20)
    np.savez(tmp_path / "ok.npz", **cols)
    box = Box((1,), -2.0, 2.0)
    assert validate_rollout_file(tmp_path / "ok.npz", [3], action_space=box).exit_code == 0
    assert validate_rollout_file(tmp_path / "ok.npz", [3], box_bounds=(-2.0, 2.0)).exit_code == 0
    assert validate_rollout_file(tmp_path / "ok.npz", [3], action_space=gym.spaces.Box(-2, 2, (1,))).exit_code == 0
    cols["actions"][25, 0] = 2.5
    np.savez(tmp_path / "bad.npz", **cols)
    report = validate_rollout_file(tmp_path / "bad.npz", [3], action_space=box)
    (f,) = report.result("recorded.action_in_range").findings
    assert f.step == 25 and f.context["episode"] == 1 and f.context["step_in_episode"] == 5
    assert "2.5" in f.message and f.context["rule"] == "Box.bounds"


# ---------------------------------------------------------------------------------------------
# D4RL-style HDF5 through h5py
# ---------------------------------------------------------------------------------------------

def _write_d4rl(path, cols, next_obs=True):
    h5py = pytest.importorskip("h5py", reason="optional extra rollcheck[datasets] (h5py) not installed: .ci/run installs the extras and runs these tests under -m extras")
    with h5py.File(path, "w") as f:
        f["observations"] = cols["obs"].astype(np.float32)
        f["actions"] = cols["actions"]
        f["rewards"] = cols["rewards"].astype(np.float32)
        f["terminals"] = cols["terminated"].astype(np.float32)
        f["timeouts"] = cols["truncated"]
        if next_obs:
            f.create_dataset("next_observations", data=cols["next_obs"].astype(np.float32), compression="gzip",
                             chunks=(8, 4))


@pytest.mark.h5py
def test_d4rl_hdf5_validates_clean_and_names_nan_reward_and_broken_chain(tmp_path):
    cols = record()
    _write_d4rl(tmp_path / "ok.hdf5", cols)
    report = validate_rollout_file(tmp_path / "ok.hdf5", [4], 2, chunk_rows=16)  # many chunks
    assert report.exit_code == 0, report.to_markdown()
    assert report.meta["format"] == "hdf5" and report.meta["naming"] == "d4rl"
    ends = np.flatnonzero(cols["terminated"] | cols["truncated"])
    t = int(ends[1]) + 1  # episode 2, step 0
    cols["rewards"][t] = np.nan
    cols["next_obs"][15, 0] += 1.0  # chunk boundary row (chunk_rows=16)
    _write_d4rl(tmp_path / "bad.hdf5", cols)
    report = validate_rollout_file(tmp_path / "bad.hdf5", [4], 2, chunk_rows=16)
    assert report.exit_code == 1
    f = _first(report, "recorded.reward_contract")
    assert f.step == t and f.message.startswith(f"episode 2, step 0: transition {t}") and "not finite" in f.message
    (chain,) = report.result("recorded.next_obs_chain").findings
    assert chain.step == 15
    _write_d4rl(tmp_path / "flat.hdf5", cols, next_obs=False)
    report = validate_rollout_file(tmp_path / "flat.hdf5", [4], 2)
    assert report.result("recorded.next_obs_chain").status == "skipped"


@pytest.mark.h5py
def test_d4rl_hdf5_layout_problems_are_errors(tmp_path):
    h5py = pytest.importorskip("h5py", reason="optional extra rollcheck[datasets] (h5py) not installed: .ci/run installs the extras and runs these tests under -m extras")
    with h5py.File(tmp_path / "x.hdf5", "w") as f:
        f["observations"] = np.zeros((3, 4))
        f["actions"] = np.zeros(3, int)
    report = validate_rollout_file(tmp_path / "x.hdf5", [4], 2)
    assert report.exit_code == 2 and "closest is 'd4rl', missing array(s) ['rewards', 'terminals', 'timeouts']" \
        in report.error


# ---------------------------------------------------------------------------------------------
# Minari, through its DataCollector
# ---------------------------------------------------------------------------------------------

@pytest.fixture
def minari_store(tmp_path, monkeypatch):
    pytest.importorskip("minari", reason="optional extra rollcheck[datasets] (minari) not installed: .ci/run installs the extras and runs these tests under -m extras")
    monkeypatch.setenv("MINARI_DATASETS_PATH", str(tmp_path / "minari"))
    return tmp_path / "minari"


def make_minari(env_id, dataset_id, episodes=3, max_steps=30, seed=0):
    import minari

    env = minari.DataCollector(gym.make(env_id, max_episode_steps=max_steps), record_infos=False)
    for ep in range(episodes):
        env.reset(seed=seed + ep)
        done = False
        while not done:
            _, _, te, tr, _ = env.step(env.action_space.sample())
            done = te or tr
    dataset = env.create_dataset(dataset_id=dataset_id, algorithm_name="random", description="rollcheck test",
                                 author="rollcheck", author_email="rollcheck@example.invalid",
                                 code_permalink="https://example.invalid/rollcheck")
    env.close()
    return dataset


def _episode_file(store, dataset_id):
    return store / dataset_id / "data" / "main_data.hdf5"


@pytest.mark.minari
@pytest.mark.parametrize("env_id, dataset_id", [("CartPole-v1", "cartpole/test-v0"),
                                                 ("Pendulum-v1", "pendulum/test-v0")])
def test_minari_datasets_validate_clean_and_replay(minari_store, env_id, dataset_id):
    make_minari(env_id, dataset_id)
    for path in (dataset_id, minari_store / dataset_id):  # by id and by folder
        report = validate_rollout_file(path, replay="dataset")
        assert report.exit_code == 0, report.to_markdown()
        assert report.meta["format"] == "minari" and report.meta["episodes"] == 3
        assert report.meta["replay_episodes_reproduced"] == 3
        assert report.result("recorded.observation_in_space").status == "held"
        assert report.result("recorded.episode_metadata").status == "held"
        assert report.result("recorded.next_obs_chain").status == "skipped"  # by construction


@pytest.mark.minari
def test_minari_planted_faults_are_named_by_episode_and_step(minari_store):
    import h5py

    make_minari("CartPole-v1", "cartpole/faults-v0", episodes=4)
    with h5py.File(_episode_file(minari_store, "cartpole/faults-v0"), "a") as f:
        f["episode_1/rewards"][3] = np.nan  # NaN reward
        f["episode_2/observations"][2, 2] = 1.0  # pole angle beyond the observation space's 0.418
        f["episode_0/terminations"][-1] = False  # missing episode end
        f["episode_0/truncations"][-1] = False
        f["episode_3"].attrs["total_steps"] = 999  # bookkeeping disagrees with the arrays
        lengths = [len(f[f"episode_{k}/actions"]) for k in range(4)]
    report = validate_rollout_file("cartpole/faults-v0", max_findings=10)
    assert report.exit_code == 1
    reward = _first(report, "recorded.reward_contract")
    assert (reward.context["episode"], reward.context["step_in_episode"]) == (1, 3)
    assert reward.message.startswith("episode 1, step 3: ")
    space = report.result("recorded.observation_in_space").findings
    # observation 2 of episode 2 is the obs of step 2 and the next_obs of step 1
    assert sorted((f.context["episode"], f.context["step_in_episode"], f.context["field"]) for f in space) == [
        (2, 1, "next_obs"), (2, 2, "obs")]
    assert all("entry 2 = 1.0 lies outside" in f.message for f in space)
    (end,) = report.result("recorded.episode_ends").findings
    assert (end.context["episode"], end.context["step_in_episode"]) == (0, lengths[0] - 1)
    assert "missing episode end" in end.message
    (meta,) = report.result("recorded.episode_metadata").findings
    assert "stored total_steps is 999" in meta.message and meta.context["episode"] == 3


@pytest.mark.minari
def test_minari_replay_divergence_names_the_first_step(minari_store):
    import h5py

    make_minari("CartPole-v1", "cartpole/replay-v0", episodes=3)
    with h5py.File(_episode_file(minari_store, "cartpole/replay-v0"), "a") as f:
        f["episode_1/actions"][4] = 1 - f["episode_1/actions"][4]  # the recorded obs no longer follow
    report = validate_rollout_file("cartpole/replay-v0", replay="dataset")
    (f,) = report.result("recorded.replay_reproduces").findings
    assert (f.context["episode"], f.context["step_in_episode"]) == (1, 4)
    assert "next_obs: env" in f.message
    assert report.meta["replay_episodes_reproduced"] == 2 and report.meta["replay_episodes_checked"] == 3
    # contract, chain and spaces still hold: only the replay can see this fault
    assert [r.id for r in report.failed] == ["recorded.replay_reproduces"]


def test_replay_of_a_flat_file_with_env_and_seed(tmp_path):
    cols = record(episodes=2)
    np.savez(tmp_path / "r.npz", **cols)
    report = validate_rollout_file(tmp_path / "r.npz", [4], 2, replay="CartPole-v1", seed=0)
    assert report.meta["replay_episodes_checked"] == 2
    # max_episode_steps=40 was used to record; the registered env's 500 would not truncate: it diverges
    assert report.exit_code in (0, 1)
    env_40 = lambda: gym.make("CartPole-v1", max_episode_steps=40)  # noqa: E731
    report = validate_rollout_file(tmp_path / "r.npz", [4], 2, replay=env_40, seed=0)
    assert report.exit_code == 0 and report.meta["replay_episodes_reproduced"] == 2, report.to_markdown()
    report = validate_rollout_file(tmp_path / "r.npz", [4], 2, replay=env_40, seed=1)
    f = report.result("recorded.replay_reproduces").findings[0]
    assert (f.step, f.context["episode"]) == (0, 0) and "reset observation differs" in f.message
    report = validate_rollout_file(tmp_path / "r.npz", [4], 2, replay=env_40, seed=0, time_budget=1e-9)
    assert report.meta["replay_episodes_checked"] <= 1
