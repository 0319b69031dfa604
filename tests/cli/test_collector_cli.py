"""``rollcheck collector MODULE:FUNC``: exit statuses 0/1/2, output, reports."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import settings

from rollcheck.cli import main
from rollcheck.properties.collector.catalog import COLLECTOR_PROPERTIES

ZOO_DIR = Path(__file__).resolve().parents[1] / "properties"


def one(folder, pattern):
    """The single file matching ``pattern`` (report names end in a digest of the options)."""
    found = list(folder.glob(pattern))
    assert len(found) == 1, found
    return found[0]


@pytest.fixture
def in_tmp(tmp_path, monkeypatch):
    """Run in a fresh directory with the zoo importable; restore the Hypothesis profile the CLI loads."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(ZOO_DIR))
    profile = settings.get_current_profile_name()
    yield tmp_path
    settings.load_profile(profile)


def test_all_properties_hold_is_exit_zero_and_writes_reports(in_tmp, capsys):
    code = main(["collector", "collector_zoo:correct_collect", "--examples", "10", "--report-dir", "out"])
    out = capsys.readouterr().out
    assert code == 0
    n = len(COLLECTOR_PROPERTIES)
    assert f"PASS: {n} held, 0 failed, 0 error, 0 skipped of {n} properties" in out and "FAIL" not in out
    data = json.loads(one(in_tmp / "out", "collector-collector_zoo_correct_collect-*.json").read_text())
    assert data["ok"] is True and data["target"] == "collector_zoo:correct_collect"
    assert one(in_tmp / "out", "collector-collector_zoo_correct_collect-*.junit.xml")


def test_default_report_dir_is_reports(in_tmp, capsys):
    assert main(["collector", "collector_zoo:correct_collect", "--examples", "5"]) == 0
    assert one(in_tmp / "reports", "collector-collector_zoo_correct_collect-*.md")


def test_a_violation_is_exit_one_with_the_reproducer(in_tmp, capsys):
    code = main(["collector", "collector_zoo:collect_next_value_after_reset", "--examples", "30",
                 "--skip", "sample", "--report-dir", "out"])
    out = capsys.readouterr().out
    assert code == 1
    assert "FAIL step.next_value_before_reset" in out
    assert "first failing step: 0" in out and "from collector_zoo import collect_next_value_after_reset" in out
    assert "sample.matches_spec" not in out


@pytest.mark.parametrize("target, reason", [
    ("no_such_module_xyz:collect", "cannot import 'no_such_module_xyz'"),
    ("collector_zoo:no_such_function", "has no attribute 'no_such_function'"),
    ("collector_zoo", "should look like MODULE:FUNC"),
    ("collector_zoo:ZOO", "is not callable"),
    ("collector_zoo:_sample", "cannot be called as collect(start, observe"),
])
def test_targets_that_cannot_be_imported_or_called_are_exit_two(in_tmp, capsys, target, reason):
    assert main(["collector", target, "--examples", "5"]) == 2
    assert reason in capsys.readouterr().err


@pytest.mark.parametrize("extra, reason", [
    (["--env", "NoSuchEnv-v0"], "NoSuchEnv-v0"),
    (["--skip", "step.no_such_property"], "matches no property"),
    (["--profile", "no_such_profile"], "is not a rollcheck profile"),
    (["--tolerance", "-1"], "tolerance=-1.0"),
])
def test_unusable_arguments_are_exit_two(in_tmp, capsys, extra, reason):
    assert main(["collector", "collector_zoo:correct_collect", "--examples", "5", *extra]) == 2
    assert reason in capsys.readouterr().err


def test_examples_must_be_positive(in_tmp, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["collector", "collector_zoo:correct_collect", "--examples", "0"])
    assert exc.value.code == 2 and "should be at least 1" in capsys.readouterr().err


def test_env_and_horizon(in_tmp, capsys):
    assert main(["collector", "collector_zoo:correct_collect", "--env", "CartPole-v1", "--horizon", "3",
                 "--examples", "10", "--report-dir", "out"]) == 0
    meta = json.loads(one(in_tmp / "out", "collector-collector_zoo_correct_collect-*.json").read_text())["meta"]
    assert meta["env"] == "CartPole-v1" and meta["horizon"] == 3


def test_console_script_exit_status(tmp_path):
    env = {"PYTHONPATH": str(ZOO_DIR), "PATH": ""}
    out = subprocess.run([sys.executable, "-m", "rollcheck", "collector", "collector_zoo:collect_short_rollout",
                          "--examples", "20", "--report-dir", str(tmp_path)], capture_output=True, text=True,
                         timeout=300, env=env, cwd=tmp_path)
    assert out.returncode == 1, out.stderr
    assert "FAIL rollout.length_eq_horizon" in out.stdout


def test_sampler_any_judges_an_own_sampler_collector_both_ways(in_tmp, capsys):
    assert main(["collector", "sampler_zoo:own_sampler_collect", "--sampler", "any", "--examples", "5",
                 "--report-dir", "out"]) == 0
    out = capsys.readouterr().out
    assert "ok   sampler.actions_follow_policy" in out and "step.action_is_spec_sample" not in out
    assert main(["collector", "sampler_zoo:collect_argmax", "--sampler", "any", "--examples", "5",
                 "--report-dir", "out"]) == 1
    out = capsys.readouterr().out
    assert "FAIL sampler.actions_follow_policy" in out and "likeliest actions" in out
    assert main(["collector", "sampler_zoo:own_sampler_collect", "--examples", "5", "--report-dir", "out"]) == 1
    assert "FAIL step.action_is_spec_sample" in capsys.readouterr().out


def test_tolerance_per_quantity(in_tmp, capsys):
    assert main(["collector", "collector_zoo:correct_collect", "--examples", "3", "--tolerance", "log_prob=1e-6",
                 "--tolerance", "value=0.5", "--report-dir", "out"]) == 0
    (path,) = (in_tmp / "out").glob("collector-*correct_collect*.json")   # the name ends in an options digest
    data = json.loads(path.read_text())
    assert data["meta"]["tolerance"]["log_prob"] == 1e-6 and "derived" in data["meta"]["tolerance"]["reward"]
    assert main(["collector", "collector_zoo:correct_collect", "--tolerance", "logp=1"]) == 2
    assert "quantity 'logp' is unknown" in capsys.readouterr().err
