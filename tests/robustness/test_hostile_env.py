"""``rollcheck env`` against envs that raise, exit, crash and hang: an earned verdict every time.

Each hostile env breaks on its third step (or in its factory / reset), so the harness has already
started its search. Whatever it does, rollcheck ends with exit 2, a report whose properties are all
``error`` (never ``held``) in all three formats, naming the call that broke, within the timeout
plus a few seconds, with no process left behind.
"""

from __future__ import annotations

import pytest

from robust import CHILD_MARKER, counts_in_every_format, rollcheck, survivors, write_module

HOSTILE_ENV = '''
import ctypes, os, subprocess, sys, time
import numpy as np
import gymnasium as gym
from gymnasium import spaces

MODE = os.environ["HOSTILE"]
MARKER = os.environ.get("ROLLCHECK_TEST_CHILD_MARKER", "rollcheck-robustness-child")
CHILD = [sys.executable, "-c", "import time; time.sleep(300)", MARKER]


class Unprintable:
    def __repr__(self):
        raise RuntimeError("no repr")
    __str__ = __repr__


class Hostile(gym.Env):
    observation_space = spaces.Box(-1.0, 1.0, (2,), np.float64)
    action_space = spaces.Discrete(2)

    def __init__(self):
        self.t = 0

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.t = 0
        if MODE == "reset_exit0":
            sys.exit(0)
        return np.zeros(2), {}

    def step(self, action):
        self.t += 1
        if self.t >= 3:
            if MODE == "exit0":
                sys.exit(0)
            if MODE == "exit1":
                sys.exit(1)
            if MODE == "os_exit":
                os._exit(0)
            if MODE == "segfault":
                ctypes.string_at(0)
            if MODE == "hang":
                time.sleep(10_000)
            if MODE == "hang_with_child":
                subprocess.Popen(CHILD, start_new_session=True)
                time.sleep(10_000)
            if MODE == "keyboard_interrupt":
                raise KeyboardInterrupt
            if MODE == "generator_exit":
                raise GeneratorExit
            if MODE == "unprintable":
                return np.zeros(2), 1.0, False, False, {"bad": Unprintable()}
        return np.zeros(2), 1.0, self.t >= 10, False, {}


def make_env():
    if MODE == "factory_raises":
        raise RuntimeError("factory is broken")
    if MODE == "factory_exit0":
        sys.exit(0)
    if MODE == "factory_hang":
        time.sleep(10_000)
    if MODE == "factory_child_hang":
        subprocess.Popen(CHILD, start_new_session=True)
        time.sleep(10_000)
    return Hostile()
'''

TIMEOUT = 2.0
CASES = {   # mode: (what the error names, where)
    "factory_raises": ("RuntimeError: factory is broken", None),
    "factory_exit0": ("make_env() raised SystemExit: 0", "in make_env"),
    "factory_hang": ("make_env() did not return within 2 s", "in make_env"),
    "reset_exit0": ("raised SystemExit: 0", "in reset"),
    "exit0": ("Hostile.step(action=", "raised SystemExit: 0"),
    "exit1": ("Hostile.step(action=", "raised SystemExit: 1"),
    "os_exit": ("exited with status 0", None),
    "segfault": ("crashed (SIGSEGV)", "in step"),
    "hang": ("Hostile.step(action=", "did not return within 2 s"),
    "hang_with_child": ("Hostile.step(action=", "did not return within 2 s"),
    # the fuzzer reads any KeyboardInterrupt as Ctrl-C and stops its search; raised by user code in the
    # worker it is still an error report, not an interrupted run (exit 2, not 130)
    "keyboard_interrupt": ("raised", "interrupt"),
    "generator_exit": ("Hostile.step(action=", "raised GeneratorExit"),
}


@pytest.mark.parametrize("mode", list(CASES))
def test_hostile_env_is_an_error_report_never_a_pass(tmp_path, mode):
    write_module(tmp_path, "hostile_env", HOSTILE_ENV)
    run = rollcheck(tmp_path, "env", "hostile_env:make_env", "--max-examples", "5", "--timeout", str(TIMEOUT),
                    "--report-dir", "out", HOSTILE=mode)
    assert run.code == 2, (run.out, run.err)
    counts = counts_in_every_format(tmp_path / "out")
    total = len(counts["data"]["results"])
    assert total >= 15 and counts["held"] == counts["failed"] == 0 and counts["error"] == total, counts
    first, second = CASES[mode]
    error = counts["data"]["error"]
    assert first in error and (second is None or second in error), error
    assert first in run.err
    assert counts["line"] in run.out          # the terminal counts the same four numbers
    if "hang" in mode:
        assert run.seconds < TIMEOUT + 8, run.seconds
    assert "hostile_env.py" in error or mode in ("factory_raises", "os_exit", "keyboard_interrupt")   # the user file
    assert not survivors(CHILD_MARKER)


def test_traceback_on_request_reaches_the_users_file(tmp_path):
    write_module(tmp_path, "hostile_env", HOSTILE_ENV)
    run = rollcheck(tmp_path, "env", "hostile_env:make_env", "--max-examples", "5", "--traceback",
                    "--report-dir", "out", HOSTILE="exit1")
    assert run.code == 2
    assert "Traceback (most recent call last)" in run.err and 'hostile_env.py", line' in run.err
    assert "sys.exit(1)" in run.err
    counts = counts_in_every_format(tmp_path / "out")
    assert "Traceback" in counts["data"]["error"]


def test_result_whose_repr_raises_does_not_take_the_harness_down(tmp_path):
    write_module(tmp_path, "hostile_env", HOSTILE_ENV)
    run = rollcheck(tmp_path, "env", "hostile_env:make_env", "--max-examples", "5", "--report-dir", "out",
                    HOSTILE="unprintable")
    # the info dict is well formed; the harness never calls the object's __repr__ (findings render it
    # as <module.Class object>), so nothing breaks and the run passes
    assert run.code == 0, (run.out, run.err)
    counts = counts_in_every_format(tmp_path / "out")   # the harness lived to write its report
    assert counts["failed"] == counts["error"] == 0 and counts["held"] >= 14
    # from the third step on no episode ever ends: episode.never_past_done was never exercised, and says so
    skipped = {r["id"]: r["skip_reason"] for r in counts["data"]["results"] if r["status"] == "skipped"}
    assert sorted(skipped) == ["episode.never_past_done", "episode.truncated_at_limit"], skipped
    assert skipped["episode.truncated_at_limit"].startswith("no known max_episode_steps")
    assert skipped["episode.never_past_done"].startswith("not exercised: no layer returned terminated or truncated")


def test_good_env_still_passes(tmp_path):
    write_module(tmp_path, "hostile_env", HOSTILE_ENV)
    run = rollcheck(tmp_path, "env", "hostile_env:make_env", "--max-examples", "5", "--report-dir", "out",
                    "--skip", "episode.truncated_at_limit", HOSTILE="none")
    assert run.code == 0, (run.out, run.err)
    counts = counts_in_every_format(tmp_path / "out")
    assert counts["failed"] == counts["error"] == 0 and counts["held"] >= 1
    versions = counts["data"]["provenance"]["versions"]
    assert {"python", "rollcheck", "numpy", "gymnasium", "hypothesis"} <= set(versions)
    assert counts["data"]["provenance"]["command"].startswith("rollcheck env hostile_env:make_env")
    assert counts["data"]["provenance"]["seeds"] == {"seed": 0}
