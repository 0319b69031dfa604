"""run_supervised: every way a subject can end, the call it names, and nothing left running."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from rollcheck.impl.supervisor import Outcome, run_supervised, supported
from rollcheck.spec.errors import ArgumentError

pytestmark = pytest.mark.skipif(not supported(), reason="the supervisor forks its worker (os.fork, os.setpgid): "
                                "without them there is no worker to test and rollcheck runs user code in-process")


USER_ENV = """
import ctypes, os, re, subprocess, sys, time


class Env:
    def step(self, action, mode):
        if mode == "raise":
            raise ValueError("boom")
        if mode == "exit":
            sys.exit(3)
        if mode == "os_exit":
            os._exit(4)
        if mode == "segfault":
            ctypes.string_at(0)
        if mode == "sleep":
            time.sleep(1000)
        if mode == "spin":
            while True:
                pass
        if mode == "c_hang":   # catastrophic backtracking: C code holding the GIL
            re.match(r"(a+)+$", "a" * 64 + "b")
        if mode == "child":
            subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)", "supervisor-test-child"],
                             start_new_session=True)
            time.sleep(1000)
        return action * 2
"""


@pytest.fixture(autouse=True)
def user_module(tmp_path, monkeypatch):
    """The subject lives in a file of its own, outside the harness (as a user's env does)."""
    (tmp_path / "supervised_user_env.py").write_text(USER_ENV)
    monkeypatch.syspath_prepend(str(tmp_path))
    yield
    sys.modules.pop("supervised_user_env", None)


def harness_call(mode):
    """Stands in for rollcheck code calling into the user's env (this file counts as harness below)."""
    import supervised_user_env

    return supervised_user_env.Env().step(21, mode)


def _run(mode, timeout=1.0):
    return run_supervised(harness_call, mode, timeout=timeout, harness=(__name__,))


def _alive(marker):
    out = subprocess.run(["ps", "-eww", "-o", "args="], capture_output=True, text=True).stdout
    return [ln for ln in out.splitlines() if marker in ln and "ps -eww" not in ln]


def test_returned():
    o = _run("ok")
    assert o.kind == "returned" and o.value == 42 and o.ok


@pytest.mark.parametrize("mode, kind, text", [
    ("raise", "raised", "ValueError: boom"),
    ("exit", "raised", "SystemExit: 3"),
    ("os_exit", "exited", "status 4"),
    ("segfault", "crashed", "SIGSEGV"),
])
def test_broken_subjects_are_outcomes_not_crashes(mode, kind, text):
    o = _run(mode)
    assert o.kind == kind and not o.ok and text in o.describe()
    if kind == "raised":
        assert o.call == f"Env.step(action=21, mode={mode!r})"
        assert o.where.endswith(f"in step") and "supervised_user_env.py" in o.where
        assert "Traceback" in o.traceback
    if kind == "crashed":
        assert "supervised_user_env.py" in o.where and "in step" in o.where


@pytest.mark.parametrize("mode", ["sleep", "spin", "c_hang"])
def test_hangs_end_within_the_timeout(mode):
    start = time.monotonic()
    o = _run(mode, timeout=1.0)
    elapsed = time.monotonic() - start
    assert o.kind == "hung" and "did not return within 1 s" in o.describe()
    assert elapsed < 1.0 + 3.0, elapsed
    assert "supervised_user_env.py" in (o.where or ""), o
    if mode != "c_hang":
        assert o.call == f"Env.step(action=21, mode={mode!r})"


def test_no_descendant_outlives_the_call():
    o = _run("child", timeout=1.0)
    assert o.kind == "hung"
    deadline = time.monotonic() + 2
    while _alive("supervisor-test-child") and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive("supervisor-test-child")


def test_arguments_are_checked():
    with pytest.raises(ArgumentError, match="timeout=0"):
        run_supervised(harness_call, "ok", timeout=0)
    with pytest.raises(ArgumentError, match="kind='weird'"):
        Outcome("weird")


def test_module_reference_and_kwargs():
    o = run_supervised("os.path:join", "a", "b", timeout=5)
    assert o.kind == "returned" and o.value == os.path.join("a", "b")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="bind_to_parent arms Linux's PR_SET_PDEATHSIG; "
                    "elsewhere it does nothing, so there is nothing to check")
def test_a_worker_whose_parent_is_already_gone_exits_at_once():
    """bind_to_parent(pid) in a fork: if the parent that forked it is not ``pid`` any more (it died before the
    death signal was armed, so none will come), the worker ends itself instead of running on as an orphan."""
    from rollcheck.impl.supervisor import bind_to_parent

    for parent, expected in ((os.getpid(), 0), (os.getpid() + 10_000_000, 70)):
        pid = os.fork()
        if pid == 0:  # pragma: no cover — the fork
            bind_to_parent(parent)
            os._exit(0)
        assert os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) == expected
