"""Proof that the collector properties catch bugs: the zoo of broken collectors, and the catch rate.

Each broken collector in ``collector_zoo.ZOO`` must be caught by the property it breaks, with a
shrunk reproducer; the correct collectors (the zoo's own and rollcheck's reference collector)
must pass every property.
"""

from __future__ import annotations

import subprocess
import sys
import warnings
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import given

from collector_zoo import ZOO, correct_collect
from rollcheck.properties.collector.catalog import COLLECTOR_PROPERTIES
from rollcheck.properties.collector.validate import check_case, collector_cases, validate_collector

HERE = Path(__file__).parent
EXAMPLES = 30


def _quiet(fn, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)   # the naive softmax overflows, on purpose
        return fn(*args, **kwargs)


def test_zoo_covers_the_issue_list_and_names_real_properties():
    wanted = {"collect_off_by_one_state", "collect_wrong_action_log_prob", "collect_next_value_after_reset",
              "collect_done_ignores_truncation", "collect_rng_not_advanced", "collect_short_rollout",
              "collect_aliased_states", "collect_naive_softmax", "collect_flags_swapped"}
    assert wanted <= set(ZOO)
    assert len(ZOO) >= len(wanted) + 5
    for _fn, pid in ZOO.values():
        COLLECTOR_PROPERTIES[pid]


def test_every_zoo_collector_is_caught_by_the_property_it_breaks(capsys, record_property):
    caught, missed = [], []
    for name, (fn, pid) in ZOO.items():
        report = _quiet(validate_collector, fn, examples=EXAMPLES, database=None, only=[pid])
        result = report.result(pid)
        (caught if result.status == "failed" else missed).append(name)
        if result.status == "failed":
            f = result.findings[0]
            assert f.reproducer and f"only=[{pid!r}]" in f.reproducer and f"import {name}" in f.reproducer
            assert f.context["lean"] == result.lean and f.context["property"] == pid
    line = f"collector zoo catch rate: {len(caught)}/{len(ZOO)}" + (f" (missed: {', '.join(missed)})" if missed else "")
    record_property("rollcheck_summary", line)   # shown in the terminal summary, also under xdist
    with capsys.disabled():
        print("\n" + line)
    assert not missed


def test_the_zoo_correct_collector_passes_every_property():
    report = validate_collector(correct_collect, examples=EXAMPLES, database=None)
    assert report.exit_code == 0, [(r.id, r.findings[0].message) for r in report.failed]
    assert len(report.results) == len(COLLECTOR_PROPERTIES)
    assert all(r.examples >= EXAMPLES // 2 for r in report.results)   # distinct cases (Hypothesis may repeat one)


def test_the_reference_collector_passes_every_property():
    from rollcheck.impl.collect import collect_rollout_session_with

    report = validate_collector(collect_rollout_session_with, examples=EXAMPLES, database=None)
    assert report.exit_code == 0, "\n".join(f"{r.id}: {r.findings[0].message}\n{r.findings[0].reproducer}"
                                            for r in report.failed)


@given(collector_cases().map(lambda c: replace(c, buffers="fresh")))
def test_the_reference_collector_agrees_with_the_spec_expectations_on_fresh_buffers(case):
    """rollcheck.impl's collector and the properties' spec-derived expectations are independent code."""
    from rollcheck.impl.collect import collect_rollout_session_with

    assert check_case(collect_rollout_session_with, case) == []


def test_a_shrunk_reproducer_runs_as_pasted_and_shows_the_violation(tmp_path):
    fn, pid = ZOO["collect_next_value_after_reset"]
    report = validate_collector(fn, examples=EXAMPLES, database=None, only=[pid])
    finding = report.result(pid).findings[0]
    assert "horizon=1" in finding.reproducer and "n_actions=1" in finding.reproducer   # shrunk
    script = tmp_path / "repro.py"
    script.write_text(finding.reproducer)
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120,
                         env={"PYTHONPATH": str(HERE), "PATH": ""}, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert "next_value is not predict_value" in out.stdout


@pytest.mark.slow
def test_thorough_zoo_matrix(capsys, record_property):
    """Every zoo collector against every property with many examples; prints the catch matrix."""
    rows = []
    for name, (fn, pid) in ZOO.items():
        report = _quiet(validate_collector, fn, examples=300, database=None)
        failed = {r.id for r in report.failed}
        rows.append((name, pid in failed, sorted(failed)))
    record_property("rollcheck_summary", f"thorough zoo catch rate: {sum(ok for _n, ok, _f in rows)}/{len(rows)}")
    with capsys.disabled():
        print(f"\nthorough zoo catch rate: {sum(ok for _n, ok, _f in rows)}/{len(rows)}")
        for name, ok, failed in rows:
            print(f"  {'caught' if ok else 'MISSED'} {name}: {', '.join(failed)}")
    assert all(ok for _n, ok, _f in rows)
    assert validate_collector(correct_collect, examples=300, database=None).exit_code == 0
