"""User-style torch collectors through the Python API and the CLI (extra: torch).

A correct float32 ``Categorical`` collector with its own generator passes every property under
``--sampler any`` with the derived tolerances (a fixed 1e-9 would reject its float32 log-probs);
argmax, inverted, uniform, seed-ignored and global-RNG variants each fail the property they break.
The example in ``examples/torch_ppo_collector.py`` passes too.
"""

from __future__ import annotations

from pathlib import Path

import pytest

torch = pytest.importorskip("torch", reason="optional extra torch not installed: .ci/run installs the extras and runs these tests under -m extras")
pytestmark = pytest.mark.torch

from hypothesis import settings  # noqa: E402

from rollcheck import validate_collector  # noqa: E402
from rollcheck.cli import main  # noqa: E402

from torch_zoo import TORCH_ZOO, torch_collect  # noqa: E402
import torch_zoo  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]


def test_correct_float32_torch_collector_passes_with_its_own_sampler():
    report = validate_collector(torch_collect, sampler="any", examples=10, database=None)
    assert report.exit_code == 0, report.to_markdown()
    strict = validate_collector(torch_collect, sampler="any", examples=5, database=None, tolerance=1e-9,
                                only=["step.old_log_prob_is_log_softmax"])
    assert [r.id for r in strict.failed] == ["step.old_log_prob_is_log_softmax"]


@pytest.mark.parametrize("bug", sorted(TORCH_ZOO))
def test_each_wrong_torch_sampler_fails_its_property(bug):
    report = validate_collector(getattr(torch_zoo, f"torch_collect_{bug}"), sampler="any", examples=5,
                                database=None)
    assert TORCH_ZOO[bug] in {r.id for r in report.failed}, report.to_markdown()


@pytest.fixture
def cli_env(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(Path(__file__).resolve().parent))
    monkeypatch.syspath_prepend(str(ROOT))
    profile = settings.get_current_profile_name()
    yield tmp_path
    settings.load_profile(profile)


def test_cli_verdicts_both_ways(cli_env, capsys):
    assert main(["collector", "examples.torch_ppo_collector:collect", "--sampler", "any", "--examples", "5",
                 "--env", "CartPole-v1"]) == 0, capsys.readouterr().out
    assert main(["collector", "torch_zoo:torch_collect_inverted", "--sampler", "any", "--examples", "5"]) == 1
    assert "FAIL sampler.actions_follow_policy" in capsys.readouterr().out
    assert main(["collector", "torch_zoo:torch_collect_global_torch_rng", "--sampler", "any", "--examples", "5"]) == 1
    assert "FAIL collector.no_global_rng" in capsys.readouterr().out
