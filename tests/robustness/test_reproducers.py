"""Printed reproducers paste: flush left, blank lines where the interpreter needs them, a blank line
at the end; each one printed by ``rollcheck env`` and ``rollcheck collector`` is piped into a fresh
``python -``, run as a file, and fed to the interactive interpreter (``python -i`` reading stdin).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from robust import environment, rollcheck, write_module
from rollcheck.properties.core.report import pasteable

ZOO_DIR = Path(__file__).resolve().parents[1] / "properties"

NAN_REWARD_ENV = '''
import numpy as np
import gymnasium as gym
from gymnasium import spaces


class NanReward(gym.Env):
    observation_space = spaces.Box(-1.0, 1.0, (2,), np.float64)
    action_space = spaces.Discrete(2)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.t = 0
        return np.zeros(2), {}

    def step(self, action):
        self.t += 1
        return np.zeros(2), float("nan") if self.t == 2 else 1.0, self.t >= 5, False, {}


def make_env():
    return NanReward()
'''


def _snippets(out: str, header: str) -> list[str]:
    """Every snippet printed after ``header``: up to the next finding, header or reports line."""
    found = []
    for chunk in out.split(header)[1:]:
        lines = chunk.split("\n")
        assert lines[0] == "", "a blank line separates the header from the snippet"
        body = []
        for ln in lines[1:]:
            if ln.startswith(("reports:", "FAIL:", "ERROR:", "PASS:")) or (body[-2:] == ["", ""] and ln):
                break
            body.append(ln)
        text = "\n".join(body).rstrip("\n") + "\n\n"
        found.append(text)
    return found


def _run_three_ways(snippet: str, cwd: Path, pythonpath: str = "") -> list[subprocess.CompletedProcess]:
    env = environment(PYTHONPATH=pythonpath)
    (cwd / "reproducer.py").write_text(snippet)
    return [subprocess.run([sys.executable, "-"], input=snippet, capture_output=True, text=True, cwd=cwd, env=env,
                           timeout=120),
            subprocess.run([sys.executable, "reproducer.py"], capture_output=True, text=True, cwd=cwd, env=env,
                           timeout=120),
            subprocess.run([sys.executable, "-i"], input=snippet, capture_output=True, text=True, cwd=cwd, env=env,
                           timeout=120)]


def _assert_pasteable(snippet: str) -> None:
    lines = snippet.split("\n")
    assert snippet.endswith("\n\n") and lines[0] and not lines[0].startswith(" "), snippet   # flush left
    for before, after in zip(lines, lines[1:]):
        if before.startswith(" ") and after and not after.startswith(" "):
            raise AssertionError(f"a block ends without a blank line before {after!r}:\n{snippet}")


def test_the_interactive_check_can_fail():
    """The third way really is the interpreter: a block not closed by a blank line is a SyntaxError."""
    bad = "for i in range(2):\n    print(i)\nprint('after')\n"
    run = subprocess.run([sys.executable, "-i"], input=bad, capture_output=True, text=True, timeout=60)
    assert "SyntaxError" in run.stderr
    good = pasteable(bad)
    run = subprocess.run([sys.executable, "-i"], input=good, capture_output=True, text=True, timeout=60)
    assert "Error" not in run.stderr and "after" in run.stdout


def test_env_reproducers_paste_into_a_fresh_interpreter(tmp_path):
    write_module(tmp_path, "nan_env", NAN_REWARD_ENV)
    run = rollcheck(tmp_path, "env", "nan_env:make_env", "--max-examples", "10", "--report-dir", "out")
    assert run.code == 1, (run.out, run.err)
    snippets = _snippets(run.out, "replay it with (paste into python, or save as a file):\n")
    assert snippets
    for snippet in snippets:
        _assert_pasteable(snippet)
        for way in _run_three_ways(snippet, tmp_path, str(tmp_path)):
            assert "Error" not in way.stderr and "Traceback" not in way.stderr, (snippet, way.stderr)
            assert way.stdout.strip(), snippet   # it shows the failing value
            assert "nan" in way.stdout or "numerics.reward" not in snippet, (snippet, way.stdout)


def test_collector_reproducers_paste_into_a_fresh_interpreter(tmp_path):
    run = rollcheck(tmp_path, "collector", "collector_zoo:collect_done_ignores_truncation", "--examples", "30",
                    "--report-dir", "out", PYTHONPATH=str(ZOO_DIR))
    assert run.code == 1, (run.out, run.err)
    snippets = _snippets(run.out, "Reproducer (paste into python, or save as a file):\n")
    assert snippets
    for snippet in snippets[:1]:
        _assert_pasteable(snippet)
        for way in _run_three_ways(snippet, tmp_path, str(ZOO_DIR)):
            assert "Error" not in way.stderr and "Traceback" not in way.stderr, (snippet, way.stderr)
            assert "expected" in way.stdout, (snippet, way.stdout)   # the finding is shown again


@pytest.mark.parametrize("snippet", [
    "    x = 1\n    print(x)",                                                    # indented
    "def f():\n    a = 1\n\n    return a\nprint(f())",                            # blank inside a block
    "for i in range(2):\n    if i:\n        print(i)\n    else:\n        print('zero')\nprint('done')",
])
def test_pasteable_runs_in_the_interactive_interpreter(snippet):
    run = subprocess.run([sys.executable, "-i"], input=pasteable(snippet), capture_output=True, text=True,
                         timeout=60)
    assert "Error" not in run.stderr, (pasteable(snippet), run.stderr)
