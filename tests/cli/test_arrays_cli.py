"""``rollcheck arrays FILE.npz``: a dumped CleanRL buffer plus trace, exit statuses 0/1/2 both ways."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

from rollcheck.cli import main
from rollcheck.impl.policy import MlpActorCritic
from rollcheck.properties.rollout.arrays_file import load_arrays_file, save_arrays_file

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "properties"))
from test_arrays_cleanrl import cleanrl_collect, make_envs  # noqa: E402

POLICY = "from rollcheck.impl.policy import MlpActorCritic\n\ndef make():\n    return MlpActorCritic(4, 2, hidden=(16,), seed=3)\n"


@pytest.fixture
def dumped(tmp_path, monkeypatch):
    (tmp_path / "mypolicy.py").write_text(POLICY)
    monkeypatch.syspath_prepend(str(tmp_path))
    agent = MlpActorCritic(4, 2, hidden=(16,), seed=3)
    good, trace = cleanrl_collect(make_envs(), agent, dtype=np.float32)
    bad, bad_trace = cleanrl_collect(make_envs(), agent, dtype=np.float32, bootstrap_truncation=False)
    return save_arrays_file(tmp_path / "good.npz", good, trace), save_arrays_file(tmp_path / "bad", bad, bad_trace)


def test_a_correct_buffer_is_exit_zero_and_the_classic_bug_exit_one(dumped, tmp_path, capsys):
    good, bad = dumped
    args = ["--policy", "mypolicy:make", "--max-episode-steps", "20", "--report-dir", str(tmp_path / "out")]
    assert main(["arrays", str(good), *args]) == 0, capsys.readouterr().out
    out = capsys.readouterr().out
    assert "held    arrays.time_limit_truncates" in out and "PASS" in out
    saved = json.loads((tmp_path / "out" / "arrays-good.json").read_text())
    assert saved["ok"] and saved["meta"]["N"] == 3
    assert main(["arrays", str(bad), *args]) == 1
    out = capsys.readouterr().out
    assert "failed  arrays.truncation_bootstrapped" in out and "diagnosis: no truncation bootstrap" in out


def test_without_policy_and_trace_what_cannot_be_checked_is_skipped(dumped, tmp_path, capsys):
    good, _ = dumped
    arrays, trace = load_arrays_file(good)
    assert trace is not None and trace.num_envs == 3
    only = save_arrays_file(tmp_path / "only.npz", arrays)
    assert main(["arrays", str(only), "--report-dir", str(tmp_path / "out")]) == 0
    out = capsys.readouterr().out
    assert "skipped arrays.logprob_matches_policy — no policy= given" in out


def test_unusable_files_and_options_are_exit_two(tmp_path, capsys):
    (tmp_path / "junk.npz").write_bytes(b"not a zip")
    assert main(["arrays", str(tmp_path / "junk.npz")]) == 2
    assert "is not a readable .npz file" in capsys.readouterr().err
    assert main(["arrays", str(tmp_path / "missing.npz")]) == 2
    assert "is not a file" in capsys.readouterr().err
    np.savez(tmp_path / "partial.npz", obs=np.zeros((2, 1, 4)), trace_obs=np.zeros((2, 1, 4)))
    assert main(["arrays", str(tmp_path / "partial.npz")]) == 2
    assert "missing ['trace_actions'" in capsys.readouterr().err
    assert main(["arrays", str(tmp_path / "partial.npz"), "--tolerance", "nope=1"]) == 2
    assert "quantity 'nope' is unknown" in capsys.readouterr().err
