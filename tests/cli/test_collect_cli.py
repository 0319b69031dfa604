"""``rollcheck collect``: files written and readable back, determinism, exit statuses, contract
options, and in-process vs bridge equality."""

from __future__ import annotations

import json

import pytest

from rollcheck.cli import main
from rollcheck.spec import load_rollout


def one(folder, pattern):
    """The single file matching ``pattern`` (default names end in a digest of the options)."""
    found = list(folder.glob(pattern))
    assert len(found) == 1, found
    return found[0]


def test_collect_cartpole_writes_rollout_and_summaries(tmp_path, capsys):
    assert main(["collect", "CartPole-v1", "--horizon", "64", "--seed", "0", "--out", str(tmp_path)]) == 0
    rollout = one(tmp_path, "collect-CartPole-v1-0-*.rollout.json")
    summary = json.loads(one(tmp_path, "collect-CartPole-v1-0-*.summary.json").read_text())
    transitions = load_rollout(rollout, [4], 2)
    assert len(transitions) == 64
    assert summary["status"] == "ok" and summary["horizon"] == 64 and summary["rng_counter_end"] == 64
    assert summary["obs_shape"] == [4] and summary["n_actions"] == 2 and summary["policy"] == "mlp"
    assert summary["episodes_completed"] == sum(t.done for t in transitions)
    assert summary["advantages_zscored"]["std"] == pytest.approx(1.0)
    assert summary["contract"]["check_obs_finite"] is True
    md = one(tmp_path, "collect-CartPole-v1-0-*.md").read_text()
    assert md.startswith("# rollcheck collect — CartPole-v1 (seed 0)") and "episode_return" in md
    assert "64 checked steps" in capsys.readouterr().out
    assert not list(tmp_path.glob(".*.tmp"))  # atomic writes leave no temporaries


def test_same_seed_same_file_other_seed_other_file(tmp_path):
    for name, seed in (("a.json", "3"), ("b.json", "3"), ("c.json", "4")):
        assert main(["collect", "CartPole-v1", "--horizon", "32", "--seed", seed, "--out", str(tmp_path / name)]) == 0
    a, b, c = ((tmp_path / n).read_text() for n in ("a.json", "b.json", "c.json"))
    assert a == b and a != c
    assert (tmp_path / "a.summary.json").exists() and (tmp_path / "a.md").exists()


def test_random_policy_counter_env_with_make_kwargs(tmp_path):
    out = tmp_path / "counter.rollout.json"
    assert main(["collect", "rollcheck/Counter-v0", "--horizon", "7", "--seed", "0", "--policy", "random",
                 "--make-kwargs", '{"terminate_at": 3, "n_actions": 3}', "--counter", "10", "--out", str(out)]) == 0
    transitions = load_rollout(out, [1], 3)
    assert [t.observation.tolist() for t in transitions] == [[0.0], [1.0], [2.0], [0.0], [1.0], [2.0], [0.0]]
    assert [t.terminated for t in transitions] == [False, False, True] * 2 + [False]
    summary = json.loads((tmp_path / "counter.summary.json").read_text())
    assert summary["rng_counter_start"] == 10 and summary["rng_counter_end"] == 17
    assert summary["episodes_completed"] == 2 and summary["value"]["max"] == 0.0


def test_contract_violation_exits_1_and_is_reported(tmp_path, capsys):
    status = main(["collect", "rollcheck/Counter-v0", "--horizon", "10", "--seed", "0", "--reward-range", "-1", "1.25",
                   "--out", str(tmp_path)])
    assert status == 1
    err = capsys.readouterr().err
    assert 'field "reward"' in err and "Contract.reward_range" in err
    summary = json.loads(one(tmp_path, "collect-rollcheck_Counter-v0-0-*.summary.json").read_text())
    assert summary["status"] == "contract_violation" and summary["violations"][0]["field"] == "reward"
    assert summary["violations"][0]["index"] == summary["steps_collected"] >= 1
    assert not list(tmp_path.glob("collect-rollcheck_Counter-v0-0-*.rollout.json"))


def test_exclusive_done_flags_option(tmp_path):
    args = ["collect", "rollcheck/Counter-v0", "--horizon", "3", "--seed", "0", "--out", str(tmp_path),
            "--make-kwargs", '{"terminate_at": 2, "truncate_at": 2}']
    assert main(args) == 0
    assert main(args + ["--exclusive-done-flags"]) == 1


@pytest.mark.parametrize("extra, message", [
    (["--horizon", "0"], "--horizon=0 should be at least 1"),
    (["--seed", "-1"], "--seed=-1 should be at least 0"),
    (["--gamma", "1.5"], "--gamma=1.5 should be in [0, 1]"),
    (["--obs-range", "1", "0"], "lo=1.0 should be at most hi=0.0"),
    (["--make-kwargs", "{oops"], "is not valid JSON"),
    (["--make-kwargs", "[1]"], "should be a JSON object"),
])
def test_bad_usage_exits_2(tmp_path, capsys, extra, message):
    args = ["collect", "CartPole-v1", "--horizon", "4", "--seed", "0", "--out", str(tmp_path)]
    assert main(args + extra) == 2
    assert message in capsys.readouterr().err


def test_unknown_env_and_continuous_actions_over_the_bridge_exit_2(tmp_path, capsys):
    assert main(["collect", "NoSuchEnv-v0", "--horizon", "4", "--seed", "0", "--out", str(tmp_path)]) == 2
    assert "cannot make environment 'NoSuchEnv-v0'" in capsys.readouterr().err
    # in-process Box actions are collected (tests/cli/test_collect_box_cli.py); the bridge is discrete only
    assert main(["collect", "Pendulum-v1", "--horizon", "4", "--seed", "0", "--bridge", "--out", str(tmp_path)]) == 2
    assert "Discrete" in capsys.readouterr().err


def test_bridge_collection_equals_in_process_collection(tmp_path):
    assert main(["collect", "CartPole-v1", "--horizon", "40", "--seed", "5", "--out", str(tmp_path / "inproc.json")]) == 0
    assert main(["collect", "CartPole-v1", "--horizon", "40", "--seed", "5", "--bridge",
                 "--out", str(tmp_path / "bridge.json")]) == 0
    assert (tmp_path / "inproc.json").read_text() == (tmp_path / "bridge.json").read_text()
    assert json.loads((tmp_path / "bridge.summary.json").read_text())["bridge"] is True


def test_bridge_unknown_env_exits_2(tmp_path, capsys):
    assert main(["collect", "NoSuchEnv-v0", "--horizon", "4", "--seed", "0", "--bridge", "--out", str(tmp_path)]) == 2
    assert "cannot start the bridge" in capsys.readouterr().err


def test_progress_bar_on_a_terminal(tmp_path, monkeypatch, capsys):
    import rollcheck.commands.collect as collect_command

    monkeypatch.setattr(collect_command, "PROGRESS_MIN_HORIZON", 10)
    monkeypatch.setattr("sys.stderr.isatty", lambda: True, raising=False)
    bars = []
    real = collect_command._Progress

    def spy(horizon, enabled, label):
        bars.append(real(horizon, enabled, label))
        return bars[-1]

    monkeypatch.setattr(collect_command, "_Progress", spy)
    assert main(["collect", "CartPole-v1", "--horizon", "600", "--seed", "0", "--in-process", "--out", str(tmp_path)]) == 0
    assert len(load_rollout(one(tmp_path, "collect-CartPole-v1-0-*.rollout.json"), [4], 2)) == 600
    assert bars[0].bar is not None and bars[0].bar.tasks[0].completed == 600
    assert main(["collect", "CartPole-v1", "--horizon", "600", "--seed", "0", "--no-progress", "--in-process",
                 "--out", str(tmp_path / "quiet.json")]) == 0
    assert bars[1].bar is None
    assert (tmp_path / "quiet.json").read_text() == one(tmp_path, "collect-CartPole-v1-0-*.rollout.json").read_text()


def test_bridge_failure_mid_run_exits_2(tmp_path, monkeypatch, capsys):
    from rollcheck.impl.bridge_client import BridgeTimeout

    def hang(*args, **kwargs):
        raise BridgeTimeout("no reply within 10.0 s")

    monkeypatch.setattr("rollcheck.impl.collect.collect_rollout_with", hang)
    assert main(["collect", "CartPole-v1", "--horizon", "4", "--seed", "0", "--bridge", "--out", str(tmp_path)]) == 2
    assert "bridge failed after 0 steps: no reply within 10.0 s" in capsys.readouterr().err
