"""``rollcheck collector MODULE:FUNC --action-space box``: a continuous collector through the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import settings

from rollcheck.cli import main
from rollcheck.properties.collector.box_validate import BOX_COLLECTOR_PROPERTIES

ZOO_DIR = Path(__file__).resolve().parents[1] / "properties"


@pytest.fixture
def in_tmp(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(ZOO_DIR))
    profile = settings.get_current_profile_name()
    yield tmp_path
    settings.load_profile(profile)


def test_the_correct_gaussian_collector_is_exit_zero(in_tmp, capsys):
    code = main(["collector", "box_collector_zoo:box_correct", "--action-space", "box", "--examples", "20",
                 "--report-dir", "out"])
    out = capsys.readouterr().out
    n = len(BOX_COLLECTOR_PROPERTIES)
    assert code == 0, out
    assert f"{n} held, 0 failed" in out and "step.old_log_prob_is_gaussian_log_prob" in out
    (path,) = (in_tmp / "out").glob("collector-box_collector_zoo_box_correct-*.json")   # target + options digest
    data = json.loads(path.read_text())
    assert data["ok"] is True


@pytest.mark.parametrize("name, pid", [("box_log_prob_of_clipped", "step.old_log_prob_is_gaussian_log_prob"),
                                       ("box_no_tanh_correction", "step.old_log_prob_is_gaussian_log_prob"),
                                       ("box_log_std_ignored", "step.action_is_spec_sample"),
                                       ("box_not_clipped", "step.env_action_in_box"),
                                       ("box_mean_std_swapped", "step.action_is_spec_sample")])
def test_each_planted_bug_is_exit_one_naming_the_property(in_tmp, capsys, name, pid):
    code = main(["collector", f"box_collector_zoo:{name}", "--action-space", "box", "--examples", "30",
                 "--report-dir", "out"])
    out = capsys.readouterr().out
    assert code == 1
    assert f"FAIL {pid}" in out and f"from box_collector_zoo import {name}" in out


def test_a_discrete_env_is_exit_two(in_tmp, capsys):
    code = main(["collector", "box_collector_zoo:box_correct", "--action-space", "box", "--env", "CartPole-v1",
                 "--examples", "2"])
    assert code == 2
    assert "a Box space is required" in capsys.readouterr().err
