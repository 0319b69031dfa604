"""``rollcheck rollout FILE``: exit 0 valid, 1 violations (all listed), 2 unreadable file or bad usage."""

from __future__ import annotations

import json

import numpy as np
import pytest

from rollcheck.cli import main
from rollcheck.commands.rollout import parse_obs_shape
from rollcheck.spec import ArgumentError, Shape


def _write_npz(path, n=5, **override):
    cols = {"obs": np.zeros((n, 2)), "actions": np.zeros(n, int), "rewards": np.ones(n),
            "terminated": np.zeros(n, bool), "truncated": np.zeros(n, bool), "next_obs": np.zeros((n, 2))}
    cols.update(override)
    np.savez(path, **cols)
    return str(path)


def test_valid_file_exits_0(tmp_path, capsys):
    assert main(["rollout", _write_npz(tmp_path / "a.npz"), "--obs-shape", "2", "--n-actions", "2"]) == 0
    assert "all 5 transitions satisfy the contract" in capsys.readouterr().out


def test_violations_exit_1_and_every_bad_transition_is_listed(tmp_path, capsys):
    rewards = np.ones(5)
    rewards[[1, 2, 4]] = 3.0
    path = _write_npz(tmp_path / "b.npz", rewards=rewards)
    code = main(["rollout", path, "--obs-shape", "2", "--n-actions", "2", "--reward-range", "-1", "1",
                 "--report-dir", str(tmp_path / "rep")])
    out = capsys.readouterr().out
    assert code == 1
    assert "3 of 5 transitions are bad" in out and "recorded.reward_contract" in out and "bad transitions: 1-2, 4" in out
    assert 'transition 4, field "reward": reward out of range' in out
    (saved_path,) = (tmp_path / "rep").glob("rollout-b-*.json")   # the name ends in a digest of the path
    saved = json.loads(saved_path.read_text())
    assert saved["exit_code"] == 1
    assert saved_path.with_suffix(".junit.xml").exists() and saved_path.with_suffix(".md").exists()


def test_contract_options_are_applied(tmp_path, capsys):
    obs = np.zeros((3, 2))
    obs[1, 1] = np.nan
    te = np.array([False, True, False])
    next_obs = np.zeros((3, 2))
    next_obs[0] = obs[1]  # the chain holds (row 1 ends its episode)
    path = _write_npz(tmp_path / "c.npz", n=3, obs=obs, next_obs=next_obs, terminated=te, truncated=te)
    assert main(["rollout", path, "--obs-shape", "2", "--n-actions", "1"]) == 1
    assert main(["rollout", path, "--obs-shape", "2", "--n-actions", "1", "--no-obs-finite"]) == 0
    assert main(["rollout", path, "--obs-shape", "2", "--n-actions", "1", "--no-obs-finite",
                 "--exclusive-done-flags"]) == 1
    out = capsys.readouterr().out
    assert "require_exclusive_done_flags" in out


def test_json_file_and_show_limit(tmp_path, capsys):
    rows = [{"obs": 0.0, "action": a, "reward": 0.0, "terminated": False, "truncated": False, "next_obs": 0.0}
            for a in range(6)]
    (tmp_path / "r.json").write_text(json.dumps({"transitions": rows}))
    assert main(["rollout", str(tmp_path / "r.json"), "--obs-shape", "--n-actions", "2", "--show", "1"]) == 1
    out = capsys.readouterr().out
    assert "bad transitions: 2-5" in out and "... 3 more" in out


@pytest.mark.parametrize("argv", [
    ["--obs-shape", "2", "--n-actions", "0"],
    ["--obs-shape", "x", "--n-actions", "2"],
    ["--obs-shape", "2", "--n-actions", "2", "--obs-range", "1", "-1"],
])
def test_bad_usage_exits_2(tmp_path, capsys, argv):
    assert main(["rollout", _write_npz(tmp_path / "d.npz"), *argv]) == 2
    assert "ArgumentError" in capsys.readouterr().err


def test_unreadable_files_exit_2(tmp_path, capsys):
    assert main(["rollout", str(tmp_path / "nope.json"), "--obs-shape", "2", "--n-actions", "2"]) == 2
    (tmp_path / "garbage.json").write_text("[1, 2")
    assert main(["rollout", str(tmp_path / "garbage.json"), "--obs-shape", "2", "--n-actions", "2"]) == 2
    path = _write_npz(tmp_path / "obj.npz", obs=np.array([None] * 5))
    assert main(["rollout", path, "--obs-shape", "2", "--n-actions", "2"]) == 2
    err = capsys.readouterr().err
    assert "cannot read" in err and "bad JSON" in err and "object array" in err


def test_parse_obs_shape():
    assert parse_obs_shape(["2", "3"]) == Shape((2, 3))
    assert parse_obs_shape(["2,3"]) == Shape((2, 3))
    assert parse_obs_shape(["[2, 3]"]) == Shape((2, 3))
    assert parse_obs_shape([]) == parse_obs_shape(["scalar"]) == Shape.scalar()
    with pytest.raises(ArgumentError, match="'-1'|dimension -1"):
        parse_obs_shape(["-1"])


def _record_cartpole(episodes=2, seed=0):
    import gymnasium as gym

    env = gym.make("CartPole-v1")
    rng = np.random.default_rng(seed)
    cols = {k: [] for k in ("obs", "actions", "rewards", "terminated", "truncated", "next_obs")}
    for ep in range(episodes):
        obs, _ = env.reset(seed=seed if ep == 0 else None)
        done = False
        while not done:
            a = int(rng.integers(2))
            nxt, r, te, tr, _ = env.step(a)
            for k, v in zip(cols, (obs, a, r, te, tr, nxt)):
                cols[k].append(v)
            obs, done = nxt, te or tr
    return {k: np.asarray(v) for k, v in cols.items()}


def test_replay_reports_the_first_divergent_step(tmp_path, capsys):
    cols = _record_cartpole()
    np.savez(tmp_path / "ok.npz", **cols)
    args = ["--n-actions", "2", "--replay", "CartPole-v1", "--seed", "0", "--report-dir", str(tmp_path / "rep")]
    assert main(["rollout", str(tmp_path / "ok.npz"), *args]) == 0
    cols["rewards"][5] = 0.5
    np.savez(tmp_path / "bad.npz", **cols)
    assert main(["rollout", str(tmp_path / "bad.npz"), *args]) == 1
    out = capsys.readouterr().out
    assert "recorded.replay_reproduces" in out and "episode 0, step 5: transition 5" in out
    assert "reward: env 1.0 vs recorded 0.5" in out
    assert main(["rollout", str(tmp_path / "ok.npz"), "--n-actions", "2", "--replay", "NoSuchEnv-v9"]) == 2
    assert "NoSuchEnv-v9" in capsys.readouterr().err


def test_box_actions_and_missing_action_space(tmp_path, capsys):
    n = 4
    np.savez(tmp_path / "b.npz", obs=np.zeros((n, 3)), actions=np.array([[0.5], [1.9], [-2.0], [2.5]]),
             rewards=np.zeros(n), terminated=np.ones(n, bool), truncated=np.zeros(n, bool), next_obs=np.zeros((n, 3)))
    assert main(["rollout", str(tmp_path / "b.npz"), "--box-actions", "-2", "2"]) == 1
    out = capsys.readouterr().out
    assert "1 of 4 transitions are bad" in out and "transition 3" in out
    assert main(["rollout", str(tmp_path / "b.npz")]) == 2
    assert "--box-actions" in capsys.readouterr().err


def test_a_missing_path_or_a_fifo_writes_no_report(tmp_path, capsys):
    import os

    reports = tmp_path / "reports"
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    for path in (tmp_path / "typo.json", fifo):
        assert main(["rollout", str(path), "--obs-shape", "4", "--n-actions", "2",
                     "--report-dir", str(reports)]) == 2
        assert "RolloutFileError" in capsys.readouterr().err
    assert not reports.exists() or not any(reports.iterdir())
    bad = tmp_path / "bad.json"  # a file that exists but is broken still gets its report
    bad.write_text("{bad")
    assert main(["rollout", str(bad), "--obs-shape", "4", "--n-actions", "2", "--report-dir", str(reports)]) == 2
    assert any(reports.iterdir())
