"""Every planted bug in env_zoo_wrappers is caught by the property it breaks (and only by the
properties it may also break); the catch-rate table is printed (pytest -rA shows it)."""

from __future__ import annotations

import functools
import re
import warnings

import pytest
from gymnasium.utils.env_checker import check_env

import env_zoo_wrappers as zoo
from rollcheck.properties.env.target import resolve_target
from rollcheck.properties.env.fuzz import fuzz_env

BUDGET = dict(max_examples=12, max_steps=120, shrink_seconds=2.0)


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
                      max_steps=80, shrink_seconds=2.0,
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
