"""The recipes in examples/ run and give the verdicts the README promises (both ways where a bug is planted)."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def importable(monkeypatch):
    monkeypatch.syspath_prepend(str(ROOT))


def test_cleanrl_buffer_recipe_passes_and_the_published_loop_fails(tmp_path, capsys):
    recipe = importlib.import_module("examples.validate_cleanrl_buffer")
    assert recipe.main([]) == 0
    assert recipe.main(["--bug"]) == 1
    assert "diagnosis: no truncation bootstrap" in capsys.readouterr().out
    from rollcheck.cli import main
    assert recipe.main(["--save", str(tmp_path / "buffer.npz")]) == 0
    assert main(["arrays", str(tmp_path / "buffer.npz"), "--policy", "examples.validate_cleanrl_buffer:make_agent",
                 "--max-episode-steps", "50", "--report-dir", str(tmp_path)]) == 0


def test_numpy_collector_example_passes_under_sampler_any():
    from rollcheck import validate_collector
    example = importlib.import_module("examples.numpy_ppo_collector")
    report = validate_collector(example.collect, sampler="any", examples=5, database=None)
    assert report.exit_code == 0, report.to_markdown()


@pytest.mark.torch
def test_hand_written_torch_loop_recipe_passes():
    pytest.importorskip("torch", reason="optional extra torch not installed: .ci/run installs the extras and runs these tests under -m extras")
    assert importlib.import_module("examples.validate_torch_loop").main() == 0


@pytest.mark.sb3
def test_sb3_recipe_passes():
    pytest.importorskip("stable_baselines3", reason="optional extra rollcheck[sb3] not installed: .ci/run installs the extras and runs these tests under -m extras")
    assert importlib.import_module("examples.validate_sb3").main() == 0
