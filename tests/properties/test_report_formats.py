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
    (("passed", "skipped"), None, 0),
    (("passed", "failed"), None, 1),
    (("passed",), "cannot import pkg", 2),
])
def test_exit_code(statuses, error, code):
    assert _report(*statuses, error=error).exit_code == code


def test_json_is_strict_and_keeps_non_finite_values_as_text():
    data = json.loads(_report("failed").to_json(), parse_constant=lambda t: pytest.fail(t))
    finding = data["results"][0]["findings"][0]
    assert finding["expected"] == "nan" and finding["actual"] == [1.0, "inf"]
    assert data["exit_code"] == 1 and data["ok"] is False


def test_junit_counts_failures_skips_and_errors():
    suite = ET.fromstring(_report("passed", "failed", "skipped", error="boom").to_junit_xml())
    assert (suite.get("tests"), suite.get("failures"), suite.get("skipped"), suite.get("errors")) == ("3", "1", "1", "1")
    failure = suite.find("testcase[@name='p.n1']/failure")
    assert failure is not None and "repro" in failure.text


def test_markdown_names_failed_property_step_and_reproducer():
    md = _report("passed", "failed").to_markdown()
    assert "**FAIL**" in md and "`p.n1`" in md and "first failing step: 3" in md and "print('repro')" in md


def test_write_produces_three_files(tmp_path):
    paths = _report("passed").write(tmp_path / "out", "stem")
    assert sorted(p.name for p in paths.values()) == ["stem.json", "stem.junit.xml", "stem.md"]
    assert all(p.stat().st_size > 0 for p in paths.values())


def test_unknown_status_rejected_with_value():
    with pytest.raises(ArgumentError, match="status='weird'"):
        PropertyResult(id="p.x", lean="L", statement="s", status="weird")
