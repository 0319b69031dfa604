"""Symbolic checks of the pure spec with CrossHair, on a bounded budget.

Each test runs ``crosshair check --analysis_kind=PEP316`` in its own subprocess (so pytest-xdist
can spread them) on one function: either a spec function carrying its own PEP 316 contract
(``rollcheck.spec.contract.is_finite_float``, ``categorical_index``, ``normalize_zscore``, ...) or a
property wrapper in ``spec_crosshair_targets.py`` (checker ⇔ predicate on bounded flat lists, GAE
at ``done``, ...). A counterexample fails the test with CrossHair's witness.

The same properties over deliberately broken copies (``spec_crosshair_broken.py``: a finite check
that forgets -inf, ``<`` for ``<=``, an off-by-one action bound, GAE leaking across ``done``) must
yield a counterexample, so a silent CrossHair would be noticed.

CrossHair exits 1 both for counterexamples and for some internal failures, and 2 for others; the
output is parsed so that a crash (or a hung run) fails with its own message, after one retry,
rather than being reported as a counterexample. The budget (``max_uninteresting_iterations``
returns early on correct code; per-path and per-condition CPU caps) keeps the whole module near
20 s on one core. CrossHair cannot reason about SplitMix64; the known-answer vectors in
``test_spec_sampler_props.py`` pin it instead.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

pytestmark = pytest.mark.crosshair

HERE = Path(__file__).resolve().parent
BUDGET = ["--max_uninteresting_iterations", "20", "--per_path_timeout", "2", "--per_condition_timeout", "8"]
WALL_TIMEOUT = 60.0
ERROR_LINE = re.compile(r"^(?P<file>.+?):(?P<line>\d+): error: (?P<message>.*)$")
INTERNAL = re.compile(r"CrosshairInternal|CrossHairInternal|internal error|Traceback", re.IGNORECASE)


@dataclass(frozen=True)
class CrossHairRun:
    """The verdict of one ``crosshair check`` run: ``clean``, ``counterexample`` or ``crash``."""

    verdict: str
    returncode: "int | None"
    errors: tuple[str, ...]
    stdout: str
    stderr: str

    def describe(self) -> str:
        return f"exit {self.returncode}\n--- stdout\n{self.stdout}\n--- stderr\n{self.stderr[-3000:]}"


def classify(returncode: "int | None", stdout: str, stderr: str) -> CrossHairRun:
    """Tell a real counterexample from a CrossHair crash.

    A counterexample is exit 1 with ``file:line: error: ... when calling f(...)`` lines on stdout
    and nothing internal; exit 0 with no error lines is clean; everything else (exit 2, a
    traceback, an internal-error message, exit 1 without a witness, a timeout) is a crash.
    """
    errors = tuple(m.group("message") for line in stdout.splitlines() if (m := ERROR_LINE.match(line.strip())))
    if returncode == 0 and not errors:
        return CrossHairRun("clean", returncode, errors, stdout, stderr)
    if (returncode == 1 and errors and all("when calling" in e for e in errors)
            and not any(INTERNAL.search(e) for e in errors) and not INTERNAL.search(stderr)):
        return CrossHairRun("counterexample", returncode, errors, stdout, stderr)
    return CrossHairRun("crash", returncode, errors, stdout, stderr)


def crosshair(target: str, retries: int = 1) -> CrossHairRun:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(HERE), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    env.pop("CI", None)  # CrossHair's own settings do not depend on it; keep runs identical
    cmd = [sys.executable, "-m", "crosshair", "check", "--analysis_kind=PEP316", *BUDGET, target]
    for attempt in range(retries + 1):
        try:
            proc = subprocess.run(cmd, cwd=HERE, env=env, capture_output=True, text=True, timeout=WALL_TIMEOUT)
            run = classify(proc.returncode, proc.stdout, proc.stderr)
        except subprocess.TimeoutExpired as exc:  # subprocess.run kills and reaps the child
            run = CrossHairRun("crash", None, (), str(exc.stdout or ""), f"timed out after {WALL_TIMEOUT}s")
        if run.verdict != "crash":
            return run
    return run


SPEC_CONTRACTS = [
    "rollcheck.spec.contract.is_finite_float",
    "rollcheck.spec.contract.tensor_finite",
    "rollcheck.spec.contract.tensor_in_closed_interval",
    "rollcheck.spec.policy_gradient.categorical_index",
    "rollcheck.spec.advantage.normalize_zscore",
]
PROPERTIES = [
    "finite_float_is_not_nan_nor_inf",
    "tensor_finite_is_all_finite",
    "closed_interval_is_inclusive",
    "reward_checker_iff_reward_holds",
    "observation_checker_iff_observation_holds",
    "done_flags_checker_iff_done_flags_hold",
    "action_accepted_iff_in_fin",
    "gae_stops_at_done",
    "categorical_index_in_range",
]
BROKEN = {
    "finite_float_is_not_nan_nor_inf": 'float("-inf")',
    "closed_interval_is_inclusive": "closed_interval_is_inclusive(",
    "reward_range_is_closed": "reward_range_is_closed(True",
    "action_accepted_iff_in_fin": "action_accepted_iff_in_fin(",
    "gae_stops_at_done": "gae_stops_at_done(",
}


def _assert_clean(run: CrossHairRun) -> None:
    if run.verdict == "crash":
        pytest.fail("CrossHair crashed (this is NOT a counterexample):\n" + run.describe())
    assert run.verdict == "clean", "CrossHair found a counterexample:\n" + "\n".join(run.errors)


@pytest.mark.parametrize("target", SPEC_CONTRACTS)
def test_spec_contracts_hold(target):
    _assert_clean(crosshair(target))


@pytest.mark.parametrize("name", PROPERTIES)
def test_spec_properties_hold(name):
    _assert_clean(crosshair(f"spec_crosshair_targets.{name}"))


@pytest.mark.parametrize("name, witness", sorted(BROKEN.items()))
def test_broken_copies_are_caught(name, witness):
    run = crosshair(f"spec_crosshair_broken.{name}")
    if run.verdict == "crash":
        pytest.fail("CrossHair crashed on a broken copy (expected a counterexample):\n" + run.describe())
    assert run.verdict == "counterexample", "CrossHair missed a planted bug:\n" + run.describe()
    assert any(witness in e for e in run.errors), run.errors


def test_a_crash_is_not_reported_as_a_counterexample():
    run = crosshair("spec_crosshair_no_such_module.f", retries=0)
    assert run.verdict == "crash" and run.returncode == 2
    # canned outputs: exit 1 without a witness, or with an internal error, is a crash too
    assert classify(1, "", "Traceback (most recent call last):\n  ...").verdict == "crash"
    assert classify(1, "x.py:3: error: CrosshairInternal: boom when calling f(1)", "").verdict == "crash"
    assert classify(1, "x.py:3: error: false when calling f(1) (which returns False)", "").verdict == "counterexample"
    assert classify(0, "", "").verdict == "clean"
