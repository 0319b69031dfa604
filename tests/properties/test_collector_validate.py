"""validate_collector: reports, errors, skips, real environments, the example database."""

from __future__ import annotations

import json
from xml.etree import ElementTree as ET

import numpy as np
import pytest
from hypothesis.database import InMemoryExampleDatabase

from collector_zoo import ZOO, correct_collect
from rollcheck.properties.collector.catalog import COLLECTOR_PROPERTIES
from rollcheck.properties.collector.validate import validate_collector
from rollcheck.spec import ArgumentError


def test_report_files_carry_every_property_and_the_reproducer(tmp_path):
    fn, pid = ZOO["collect_done_ignores_truncation"]
    report = validate_collector(fn, examples=40, database=None, report_dir=tmp_path)
    assert report.exit_code == 1 and pid in {r.id for r in report.failed}
    (path,) = tmp_path.glob("collector-collector_zoo_collect_done_ignores_truncation-*.json")
    stem = path.name[: -len(".json")]   # the full module:function, then a digest of the options
    data = json.loads(path.read_text())
    assert data["exit_code"] == 1 and len(data["results"]) == len(COLLECTOR_PROPERTIES)
    bad = next(r for r in data["results"] if r["id"] == pid)
    f = bad["findings"][0]
    assert bad["lean"].endswith("done := tr.terminated || tr.truncated")
    assert f["step"] is not None and f["expected"] is True and f["actual"] is False
    assert "check_case(collect, case" in f["reproducer"]
    suite = ET.parse(tmp_path / f"{stem}.junit.xml").getroot()
    assert int(suite.get("tests")) == len(COLLECTOR_PROPERTIES)
    assert int(suite.get("failures")) == len(report.failed)
    md = (tmp_path / f"{stem}.md").read_text()
    assert "**FAIL**" in md and "```python" in md and f"`{pid}`" in md
    assert not list(tmp_path.glob("*.tmp*"))           # atomic writes leave nothing behind


def test_passing_collector_report_is_exit_zero(tmp_path):
    report = validate_collector(correct_collect, examples=10, database=None, report_dir=tmp_path)
    assert report.exit_code == 0
    (path,) = tmp_path.glob("collector-collector_zoo_correct_collect-*.json")
    assert json.loads(path.read_text())["ok"] is True


@pytest.mark.parametrize("target, reason", [
    (42, "is not callable"),
    (lambda obs: obs, "cannot be called as collect(start, observe"),
])
def test_targets_that_cannot_be_called_are_exit_two(target, reason):
    report = validate_collector(target, examples=5, database=None)
    assert report.exit_code == 2 and reason in report.error and report.results == []


def test_an_unusable_env_is_exit_two_with_the_reason():
    report = validate_collector(correct_collect, env="NoSuchEnv-v0", examples=5, database=None)
    assert report.exit_code == 2 and "NoSuchEnv-v0" in report.error


@pytest.mark.parametrize("kwargs, message", [
    ({"examples": 0}, "examples=0 should be at least 1"),
    ({"skip": ["step.nope"]}, "matches no property"),
    ({"only": ["nope.nope"]}, "unknown property id"),
    ({"horizon": 0}, "horizon=0 should be at least 1"),
    ({"horizon": True}, "horizon=True should be an int, not a bool"),
    ({"examples": 2.0}, "examples=2.0 should be an int"),
    ({"tolerance": -1.0}, "tolerance=-1.0"),
])
def test_bad_arguments_are_named(kwargs, message):
    with pytest.raises(ArgumentError, match=message):
        validate_collector(correct_collect, database=None, **kwargs)


def test_numpy_ints_are_counts_like_python_ints():
    report = validate_collector(correct_collect, database=None, examples=np.int64(3), horizon=np.int32(2))
    assert report.exit_code == 0 and report.meta["horizon"] == 2


def test_skip_drops_properties_by_id_and_prefix():
    fn, _pid = ZOO["collect_flags_swapped"]
    report = validate_collector(fn, examples=20, database=None, skip=["step.terminated_as_reported", "sample"])
    ids = {r.id for r in report.results}
    assert "step.terminated_as_reported" not in ids and "sample.matches_spec" not in ids
    assert report.exit_code == 0


def test_a_fixed_horizon_is_used_for_every_case():
    fn, pid = ZOO["collect_short_rollout"]
    report = validate_collector(fn, horizon=5, examples=5, database=None, only=[pid])
    assert report.result(pid).findings[0].expected == 5


def test_real_gymnasium_environment_runs_alongside_the_scripted_sessions():
    report = validate_collector(correct_collect, env="CartPole-v1", examples=20, database=None)
    assert report.exit_code == 0, [r.findings[0].message for r in report.failed]
    fn, pid = ZOO["collect_next_value_after_reset"]
    assert validate_collector(fn, env="CartPole-v1", examples=20, database=None, only=[pid]).exit_code == 1


def test_failures_are_saved_to_and_replayed_from_the_example_database():
    db = InMemoryExampleDatabase()
    fn, pid = ZOO["collect_reward_not_cast"]
    first = validate_collector(fn, examples=30, database=db, only=[pid])
    assert first.exit_code == 1 and len(db.data) >= 1
    # The replay finds it again even with a search budget too small to find it from scratch.
    again = validate_collector(fn, examples=1, database=db, only=[pid])
    assert again.exit_code == 1
    assert again.result(pid).findings[0].reproducer == first.result(pid).findings[0].reproducer
