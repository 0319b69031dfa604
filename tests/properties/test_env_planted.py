"""Every planted bug in env_zoo_wrappers is caught by the property it breaks (and only by the
properties it may also break); the catch-rate table is printed (pytest -rA shows it)."""

from __future__ import annotations

import functools
import re
import subprocess
import sys
import warnings
from pathlib import Path

import pytest
from gymnasium.utils.env_checker import check_env

import env_zoo_wrappers as zoo
from rollcheck.properties.env.target import resolve_target
from rollcheck.properties.env.fuzz import fuzz_env

BUDGET = dict(max_examples=12, max_steps=120, time_budget=None)  # unbounded: the verdicts must not depend on the load


@functools.cache
def _report(name):
    return _fuzz(next(p for p in zoo.PLANTED if p.name == name))


def _fuzz(planted, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        budget = {**BUDGET, **({"max_steps": planted.max_steps} if planted.max_steps else {}), **kw}
        return fuzz_env(planted.env, wrappers=planted.wrappers, **budget)


@pytest.mark.parametrize("planted", zoo.PLANTED, ids=[p.name for p in zoo.PLANTED])
def test_planted_bug_is_caught_by_its_property(planted):
    report = _report(planted.name)
    failed = {r.id for r in report.failed}
    assert report.error is None
    assert planted.catches in failed, report.to_markdown()
    assert failed <= {planted.catches, *planted.also}, f"unexpected failures {failed - {planted.catches, *planted.also}}"
    finding = report.result(planted.catches).findings[0]
    assert finding.reproducer and "env = make()" in finding.reproducer or "replay(" in finding.reproducer
    assert report.exit_code == 1


def test_vector_autoreset_bug_is_caught():
    report = fuzz_env("CartPole-v1", vector=2, vector_wrappers=(zoo.StickyDoneVector,), max_examples=12,
                      max_steps=80, time_budget=20.0,
                      skip=["determinism", "reset", "aliasing", "actions", "episode", "wrapper"])
    failed = {r.id for r in report.failed}
    assert "vector.autoreset_next_step" in failed
    assert failed <= {"vector.autoreset_next_step", "vector.sub_env_matches_single"}
    finding = report.result("vector.autoreset_next_step").findings[0]
    assert "SyncVectorEnv" in finding.reproducer and "autoreset" in finding.message


def test_minimal_reproducer_is_short():
    """The NaN-after-a-run bug shrinks to seed 0 and six repeats of one action."""
    planted = next(p for p in zoo.PLANTED if p.catches == "numerics.reward")
    finding = _report(planted.name).result("numerics.reward").findings[0]
    assert finding.context["seed"] == 0
    assert finding.context["n_actions"] == 6
    assert "] * 6" in finding.reproducer


def _check_env_verdict(env_id, wrappers):
    """What gymnasium's check_env says about a stack: (exception or None, warnings)."""
    env = resolve_target(env_id, wrappers).make()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            check_env(env, skip_render_check=True)
            raised = None
        except Exception as exc:
            raised = f"{type(exc).__name__}: {str(exc).splitlines()[0][:90]}"
    messages = {re.sub(r"\x1b\[\d+m", "", str(w.message)) for w in caught}
    return raised, {m for m in messages if "is different from the unwrapped version" not in m}


def catch_table():
    """Rows (bug, rollcheck property, rollcheck caught, check_env verdict) for every planted bug."""
    rows = []
    for planted in zoo.PLANTED:
        failed = {r.id for r in _report(planted.name).failed}
        raised, warned = _check_env_verdict(planted.env, planted.wrappers)
        _, baseline = _check_env_verdict(planted.env, ())
        new = sorted(warned - baseline)
        verdict = f"raises {raised}" if raised else (f"warns: {new[0][:90]}" if new else "misses")
        rows.append((planted.name, planted.catches, planted.catches in failed, verdict))
    return rows


def test_catch_rate_table_rollcheck_catches_every_planted_bug(capsys):
    rows = catch_table()
    lines = ["| planted bug | rollcheck property | rollcheck | check_env |", "|---|---|---|---|"]
    lines += [f"| {n} | `{p}` | {'caught' if c else 'MISSED'} | {v} |" for n, p, c, v in rows]
    ours = sum(c for _, _, c, _ in rows)
    theirs = sum(not v.startswith("misses") for *_, v in rows)
    lines.append(f"catch rate: rollcheck {ours}/{len(rows)}, check_env {theirs}/{len(rows)}")
    with capsys.disabled():
        print("\n" + "\n".join(lines))
    assert ours == len(rows)


def test_layer_contract_names_the_first_layer_that_breaks():
    """The outer ClipToSpace hides the bug from the outside; the report names the inner layer."""
    planted = next(p for p in zoo.PLANTED if p.catches == "wrapper.layer_contract")
    finding = _report(planted.name).result("wrapper.layer_contract").findings[0]
    assert "layer 1 (ScaleObsKeepSpace)" in finding.message
    assert _report(planted.name).result("spaces.observation_in_space").status == "held"


def test_never_past_done_blames_the_wrapper_that_steps_past_done():
    planted = next(p for p in zoo.PLANTED if p.catches == "episode.never_past_done")
    finding = _report(planted.name).result("episode.never_past_done").findings[0]
    assert "was stepped by layer 0 (FrameSkipPastDone)" in finding.message


def _run_snippet(snippet: str, tmp_path, name: str):
    script = tmp_path / f"{re.sub(r'[^A-Za-z0-9]+', '_', name)}.py"
    script.write_text(snippet)
    return subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120, cwd=tmp_path,
                          env={"PYTHONPATH": str(Path(zoo.__file__).parent), "PATH": "/usr/bin:/bin"})


def test_every_printed_reproducer_runs_in_a_fresh_interpreter(tmp_path):
    """Item 7: each finding's snippet (Dict/Tuple/Box actions, histories) runs as printed; a
    probe or step that raised in the search raises the same way in the snippet, every other one
    runs to its end and shows the failing value."""
    ran = 0
    for planted in zoo.PLANTED:
        for r in _report(planted.name).failed:
            for f in r.findings:
                out = _run_snippet(f.reproducer, tmp_path, f"{planted.name}-{r.id}")
                ran += 1
                if r.id == "actions.accepted":
                    assert out.returncode != 0 and "Error" in out.stderr, (planted.name, f.reproducer, out.stderr)
                    assert "NameError" not in out.stderr, out.stderr
                else:
                    assert out.returncode == 0, (planted.name, r.id, f.reproducer, out.stderr)
                if r.id == "aliasing.no_shared_memory":
                    assert "sharing memory" in out.stdout, out.stdout
                if r.id == "numerics.reward":
                    assert "nan" in out.stdout, out.stdout
    assert ran >= len(zoo.PLANTED)


def test_dict_and_tuple_actions_are_rebuilt_with_real_imports():
    dict_finding = _report("NaN reward for a Dict action").result("numerics.reward").findings[0]
    assert "np.array([" in dict_finding.reproducer and "'force':" in dict_finding.reproducer
    assert "array([" not in dict_finding.reproducer.replace("np.array([", "")
    tuple_finding = _report("Tuple action rejected").result("actions.accepted").findings[0]
    assert "dtype=np.float32)" in tuple_finding.reproducer
