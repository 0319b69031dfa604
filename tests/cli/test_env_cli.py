"""``rollcheck env``: exit statuses 0 / 1 / 2, reports on disk, --skip, --wrapper."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ZOO = Path(__file__).resolve().parents[1] / "properties"


def one(folder, pattern):
    """The single file matching ``pattern`` (report names end in a digest of the options)."""
    found = list(folder.glob(pattern))
    assert len(found) == 1, found
    return found[0]


def _run(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "rollcheck", "env", *args], capture_output=True, text=True,
                          timeout=120, cwd=cwd)


def test_clean_env_exits_0_and_writes_reports(tmp_path):
    out = _run("CartPole-v1", "--max-examples", "5", "--max-steps", "80", "--report-dir", str(tmp_path))
    assert out.returncode == 0, out.stdout + out.stderr
    assert "PASS" in out.stdout and "checked steps" in out.stdout
    data = json.loads(one(tmp_path, "env-CartPole-v1-*.json").read_text())
    assert data["exit_code"] == 0 and len(data["results"]) == 16
    assert one(tmp_path, "env-CartPole-v1-*.md") and one(tmp_path, "env-CartPole-v1-*.junit.xml")
    assert out.stderr == ""  # no progress bar when stderr is not a terminal


def test_planted_bug_exits_1_with_a_replay_snippet():
    out = _run("CartPole-v1", "--wrapper", "env_zoo_wrappers:NaNRewardAfterRun", "--max-examples", "8",
               "--max-steps", "100", "--skip", "determinism", cwd=ZOO)
    assert out.returncode == 1, out.stdout + out.stderr
    assert "FAIL numerics.reward" in out.stdout
    assert "env = NaNRewardAfterRun(env)" in out.stdout and "skip determinism.fresh_instances" in out.stdout


def test_unimportable_targets_exit_2_with_the_reason():
    out = _run("no_such_module_xyz:make")
    assert out.returncode == 2 and "cannot import module 'no_such_module_xyz'" in out.stderr
    out = _run("CartPole-v1", "--wrapper", "env_zoo_wrappers:NoSuchWrapper", cwd=ZOO)
    assert out.returncode == 2 and "has no attribute 'NoSuchWrapper'" in out.stderr
    out = _run("CartPole-v1", "--max-steps", "0")
    assert out.returncode == 2 and "max_steps=0 should be at least 1" in out.stderr


def test_progress_goes_to_stderr_when_asked():
    out = _run("CartPole-v1", "--max-examples", "3", "--max-steps", "40", "--progress",
               "--skip", "determinism", "--skip", "reset")
    assert out.returncode == 0
    assert "checked steps" in out.stderr and "3/3" in out.stderr


def test_contract_ranges_make_kwargs_and_budget_reach_the_fuzzer(tmp_path):
    out = _run("CartPole-v1", "--time-budget", "8", "--reward-range", "0", "0.5", "--max-episode-steps", "25",
               "--make-kwargs", '{"sutton_barto_reward": false}', "--skip", "determinism", "--report-dir", str(tmp_path))
    assert out.returncode == 1, out.stdout + out.stderr
    assert "numerics.reward" in out.stdout and "reward_range" in out.stdout
    data = json.loads(one(tmp_path, "env-CartPole-v1-*.json").read_text())
    assert data["meta"]["max_episode_steps"] == 25 and data["meta"]["time_budget_s"] == 8.0
    assert data["duration_s"] < 8 + 5


@pytest.mark.parametrize("extra, reason", [
    (["--make-kwargs", "{not json"], "is not JSON"),
    (["--make-kwargs", "[1]"], "should be a JSON object"),
    (["--obs-range", "1", "0"], "obs_range"),
    (["--time-budget", "0"], "time_budget=0.0"),
])
def test_bad_env_options_are_exit_two(tmp_path, extra, reason):
    out = _run("CartPole-v1", *extra, "--report-dir", str(tmp_path))
    assert out.returncode == 2 and reason in out.stderr, out.stderr


def test_directory_database_is_written(tmp_path):
    out = _run("CartPole-v1", "--wrapper", "env_zoo_wrappers:NaNRewardAfterRun", "--time-budget", "10",
               "--skip", "determinism", "--database", str(tmp_path / "db"), "--report-dir", str(tmp_path), cwd=ZOO)
    assert out.returncode == 1, out.stdout + out.stderr
    assert any(p.is_file() for p in (tmp_path / "db").rglob("*"))


@pytest.mark.parametrize("env_id", ["CartPole-v1", "Acrobot-v1", "MountainCar-v0", "MountainCarContinuous-v0",
                                    "Pendulum-v1", "FrozenLake-v1", "Taxi-v4", "Blackjack-v1", "CliffWalking-v1"])
def test_classic_control_and_toy_text_matrix_within_budget(env_id, tmp_path):
    """The default-budget matrix of issue 14, with a 4 s budget so the default suite stays fast (the
    sizing and deadline logic is the same at 60 s; the real-env matrix in test_env_real.py uses 20 s).
    Every property holds or is skipped for a stated reason, and the run ends within budget + slack."""
    budget = 4.0
    out = _run(env_id, "--time-budget", str(budget), "--report-dir", str(tmp_path))
    assert out.returncode == 0, out.stdout + out.stderr
    data = json.loads(next(tmp_path.glob("*.json")).read_text())
    assert data["duration_s"] < budget + 4.0
    assert all(r["status"] in ("held", "skipped") for r in data["results"])
    assert data["meta"]["explored"] > 0
