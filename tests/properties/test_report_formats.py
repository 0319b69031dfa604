"""Reports: verdicts and exit codes, strict JSON, well-formed JUnit XML, atomic files."""

import json
import math
from xml.etree import ElementTree as ET

import pytest

from rollcheck.properties.core.report import Finding, PropertyResult, Report
from rollcheck.spec import ArgumentError


def _report(*statuses, error=None):
    results = [PropertyResult(id=f"p.n{i}", lean="Lean.def", statement="holds", status=s)
               for i, s in enumerate(statuses)]
    for r in results:
        if r.status == "failed":
            r.findings.append(Finding("broke", step=3, expected=math.nan, actual=[1.0, math.inf],
                                      reproducer="print('repro')"))
    return Report(title="t", target="pkg:collect", results=results, error=error)


@pytest.mark.parametrize("statuses, error, code", [
    (("held", "skipped"), None, 0),
    (("held", "failed"), None, 1),
    (("held",), "cannot import pkg", 2),
    (("held", "error"), None, 2),
    (("failed", "error"), None, 1),       # a violation found before the subject broke is still one
    (("skipped", "skipped"), None, 2),    # nothing was checked: not a pass
    ((), None, 2),
    (("failed",), "the env hung", 1),
])
def test_exit_code(statuses, error, code):
    assert _report(*statuses, error=error).exit_code == code


def test_broken_run_claims_nothing_held():
    report = _report("held", "held", "skipped", "failed", error="factory raised RuntimeError: boom")
    assert report.counts() == {"held": 0, "failed": 1, "skipped": 1, "error": 2, "total": 4}
    assert report.results[0].error_reason == "not evaluated: factory raised RuntimeError: boom"
    assert report.verdict == "FAIL" and report.count_line() == "0 held, 1 failed, 2 error, 1 skipped of 4 properties"


def test_every_format_counts_the_same_four_numbers():
    report = _report("held", "held", "failed", "skipped", "error")
    counts = report.counts()
    assert counts == {"held": 2, "failed": 1, "skipped": 1, "error": 1, "total": 5}
    data = json.loads(report.to_json())
    assert data["counts"] == counts and [r["status"] for r in data["results"]] == \
        ["held", "held", "failed", "skipped", "error"]
    suite = ET.fromstring(report.to_junit_xml())
    assert (suite.get("tests"), suite.get("failures"), suite.get("errors"), suite.get("skipped")) == ("5", "1", "1", "1")
    assert len(suite.findall("testcase/error")) == 1 and len(suite.findall("testcase/skipped")) == 1
    assert "(2 held, 1 failed, 1 error, 1 skipped of 5 properties)" in report.to_markdown()


def test_from_dict_round_trips_the_verdict():
    report = _report("held", "failed", "skipped", "error")
    again = Report.from_dict(report.to_dict())
    assert again.counts() == report.counts() and again.to_markdown() == report.to_markdown()


def test_values_whose_repr_raises_are_described():
    class Hostile:
        def __repr__(self):
            raise RuntimeError("no repr for you")

    report = _report("failed")
    report.results[0].findings[0].actual = Hostile()
    data = json.loads(report.to_json())
    assert "Hostile object>" in data["results"][0]["findings"][0]["actual"]   # its __repr__ is never run
    assert "Hostile object>" in report.to_markdown()


def test_status_passed_is_renamed():
    with pytest.raises(ArgumentError, match="'passed' is now 'held'"):
        PropertyResult(id="p.x", lean="L", statement="s", status="passed")


def test_json_is_strict_and_keeps_non_finite_values_as_text():
    data = json.loads(_report("failed").to_json(), parse_constant=lambda t: pytest.fail(t))
    finding = data["results"][0]["findings"][0]
    assert finding["expected"] == "nan" and finding["actual"] == [1.0, "inf"]
    assert data["exit_code"] == 1 and data["ok"] is False


def test_junit_counts_failures_skips_and_errors():
    suite = ET.fromstring(_report("held", "failed", "skipped", error="boom").to_junit_xml())
    assert (suite.get("tests"), suite.get("failures"), suite.get("skipped"), suite.get("errors")) == ("3", "1", "1", "1")
    failure = suite.find("testcase[@name='p.n1']/failure")
    assert failure is not None and "repro" in failure.text


def test_markdown_names_failed_property_step_and_reproducer():
    md = _report("held", "failed").to_markdown()
    assert "**FAIL**" in md and "`p.n1`" in md and "first failing step: 3" in md and "print('repro')" in md


def test_write_produces_three_files(tmp_path):
    paths = _report("held").write(tmp_path / "out", "stem")
    assert sorted(p.name for p in paths.values()) == ["stem.json", "stem.junit.xml", "stem.md"]
    assert all(p.stat().st_size > 0 for p in paths.values())


def test_unknown_status_rejected_with_value():
    with pytest.raises(ArgumentError, match="status='weird'"):
        PropertyResult(id="p.x", lean="L", statement="s", status="weird")
