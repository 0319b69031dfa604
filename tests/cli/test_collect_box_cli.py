"""``rollcheck collect Pendulum-v1``: continuous actions end to end — the rollout file (with its Box
header) reads back, validates, and matches the spec's Gaussian conventions."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from rollcheck import Box, load_rollout
from rollcheck.cli import main
from rollcheck.impl.policy import GaussianMlpActorCritic
from rollcheck.spec.box import clip_to_box
from rollcheck.spec.gaussian import gaussian_policy_step


def test_collect_pendulum_writes_a_box_rollout_that_reads_back(tmp_path, capsys):
    assert main(["collect", "Pendulum-v1", "--horizon", "250", "--seed", "2", "--out", str(tmp_path)]) == 0
    (path,) = tmp_path.glob("collect-Pendulum-v1-2-*.rollout.json")   # names end in an options digest
    doc = json.loads(path.read_text())
    assert doc["action_space"] == {"type": "box", "shape": [1], "low": [-2.0], "high": [2.0], "dtype": "float32"}
    transitions = load_rollout(path, [3], None)                 # the space from the file's header
    assert len(transitions) == 250 and transitions == load_rollout(path, [3], Box((1,), -2.0, 2.0))
    assert all(-2.0 <= t.action[0] <= 2.0 for t in transitions)
    assert [i for i, t in enumerate(transitions) if t.truncated] == [199]   # TimeLimit 200, then auto-reset
    (summary_path,) = tmp_path.glob("collect-Pendulum-v1-2-*.summary.json")
    summary = json.loads(summary_path.read_text())
    assert summary["status"] == "ok" and summary["rng_counter_end"] == 2 * 250 and summary["n_actions"] is None
    assert summary["action_space"]["shape"] == [1] and summary["squash"] is False
    assert summary["old_log_prob"]["max"] <= -0.5 * math.log(2 * math.pi) + 1e-12   # log N ≤ its mode, σ = 1
    # the first env action is the clipped spec draw of the seeded MLP at the first observation
    policy = GaussianMlpActorCritic(3, 1, seed=2)
    mean, log_std = policy.predict_gaussian(transitions[0].observation)
    draw = gaussian_policy_step(2, 0, mean, log_std, Box((1,), -2.0, 2.0))
    assert transitions[0].action.tolist() == list(clip_to_box(Box((1,), -2.0, 2.0), draw.action))
    assert "250 checked steps from Pendulum-v1" in capsys.readouterr().out


def test_collect_pendulum_squashed_and_random(tmp_path):
    assert main(["collect", "Pendulum-v1", "--horizon", "40", "--seed", "1", "--squash", "--log-std-init", "-1",
                 "--out", str(tmp_path / "sq.json")]) == 0
    assert json.loads((tmp_path / "sq.summary.json").read_text())["squash"] is True
    assert len(load_rollout(tmp_path / "sq.json", [3], None)) == 40
    assert main(["collect", "Pendulum-v1", "--horizon", "40", "--seed", "1", "--policy", "random",
                 "--out", str(tmp_path / "r.json")]) == 0
    a = np.array([t.action[0] for t in load_rollout(tmp_path / "r.json", [3], None)])
    assert a.std() > 0.3 and np.all(np.abs(a) <= 2.0)


def test_a_discrete_rollout_file_keeps_the_torchlean_schema(tmp_path):
    assert main(["collect", "CartPole-v1", "--horizon", "8", "--seed", "0", "--out", str(tmp_path / "c.json")]) == 0
    assert list(json.loads((tmp_path / "c.json").read_text())) == ["transitions"]
    with pytest.raises(Exception, match="no \"action_space\" header"):
        load_rollout(tmp_path / "c.json", [4], None)


def test_bad_continuous_options_are_exit_two(tmp_path, capsys):
    assert main(["collect", "Pendulum-v1", "--horizon", "4", "--seed", "0", "--log-std-init", "inf",
                 "--out", str(tmp_path)]) == 2
    assert "--log-std-init" in capsys.readouterr().err


def test_rollcheck_rollout_validates_the_continuous_file(tmp_path, capsys):
    assert main(["collect", "Pendulum-v1", "--horizon", "60", "--seed", "4", "--out", str(tmp_path / "p.json")]) == 0
    assert main(["rollout", str(tmp_path / "p.json"), "--obs-shape", "3", "--report-dir", str(tmp_path / "r")]) == 0
    assert "all 60 transitions satisfy the contract" in capsys.readouterr().out
    doc = json.loads((tmp_path / "p.json").read_text())
    del doc["action_space"]                      # no header: --box-actions gives the bounds
    doc["transitions"][5]["action"] = [3.5]
    (tmp_path / "bad.json").write_text(json.dumps(doc))
    assert main(["rollout", str(tmp_path / "bad.json"), "--obs-shape", "3", "--box-actions", "-2", "2",
                 "--report-dir", str(tmp_path / "r")]) == 1
    out = capsys.readouterr().out
    assert "transition 5" in out and "Box.bounds" in out
