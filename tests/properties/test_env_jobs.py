"""``fuzz_env(jobs=N)`` / ``rollcheck env --jobs N``: the parts of a run in worker processes, one
merged report, the same for every N; workers never outlive the run."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import warnings
from pathlib import Path

import pytest

import env_zoo_wrappers as zoo
from rollcheck.properties.env.fuzz import WorkerBroke, fuzz_env
from rollcheck.properties.env.jobs import PARTS, default_jobs, run_parts
from rollcheck.spec.errors import ArgumentError

SMALL = dict(max_examples=6, max_steps=60, time_budget=None)  # unbounded: the content must not depend on the load
ZOO = str(Path(zoo.__file__).parent)


def _content(report):
    data = report.to_dict()
    for key in ("duration_s", "started", "provenance"):
        data.pop(key)
    data["meta"].pop("measured_cost_s")
    data["meta"].pop("jobs")
    return data


def _quiet(*args, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fuzz_env(*args, **kw)


@pytest.mark.parametrize("wrappers", [(zoo.NaNRewardAfterRun, zoo.LeakyEpisodeCounter), ()], ids=["bugs", "clean"])
def test_jobs_1_and_jobs_2_give_the_same_report(wrappers):
    one = _quiet("CartPole-v1", wrappers=wrappers, jobs=1, **SMALL)
    two = _quiet("CartPole-v1", wrappers=wrappers, jobs=2, **SMALL)
    assert _content(one) == _content(two)
    assert one.meta["parts"] == ["calls", "replays", "static"]
    if wrappers:  # a per-call bug and a replay bug, found by different parts, both in the one report
        assert {r.id for r in two.failed} >= {"numerics.reward", "reset.purity"}
        assert all(f.reproducer for r in two.failed for f in r.findings)
    else:
        assert two.exit_code == 0 and not two.failed


def test_parts_cover_every_property_once_and_skip_and_vector_follow():
    ids = [pid for pid in fuzz_env.__globals__["ENV_PROPERTIES"].ids]
    owners = {pid: [name for name, members, _ in PARTS if any(pid == m or pid.startswith(m + ".") for m in members)]
              for pid in ids}
    assert all(len(names) == 1 for names in owners.values()), owners
    report = _quiet("CartPole-v1", jobs=2, skip=["determinism", "reset"], vector=2, **SMALL)
    assert report.meta["parts"] == ["calls", "static", "vector"]
    assert report.result("reset.purity").status == "skipped"
    assert report.result("vector.batch_in_space").status == "held" and report.exit_code == 0


def test_bad_jobs_is_an_argument_error():
    for bad in (0, -1, True, 1.5):
        with pytest.raises(ArgumentError, match="jobs"):
            fuzz_env("CartPole-v1", jobs=bad, **SMALL)
    assert default_jobs() >= 1


HANGING = textwrap.dedent("""
    import time
    import gymnasium as gym
    import numpy as np
    from gymnasium import spaces

    class Hangs(gym.Env):
        observation_space = spaces.Box(-1.0, 1.0, (2,), np.float64)
        action_space = spaces.Discrete(2)

        def reset(self, *, seed=None, options=None):
            super().reset(seed=seed)
            self.t = 0
            return np.zeros(2), {}

        def step(self, action):
            self.t += 1
            if self.t >= 5:
                time.sleep(10_000)
            return np.zeros(2), 1.0, False, False, {}

    def make_env():
        return Hangs()
""")


def _children(pid):
    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    if int(f.read().rsplit(")", 1)[1].split()[1]) == pid:
                        out.append(int(entry))
            except (OSError, ValueError, IndexError):
                pass
    return out


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="lists the worker processes from Linux's "
                    "/proc; tests/robustness asserts with ps that a run leaves no process behind")
def test_a_hang_in_a_part_names_the_call_stops_the_run_and_leaves_no_worker(tmp_path, monkeypatch):
    (tmp_path / "hanging_env.py").write_text(HANGING)
    monkeypatch.syspath_prepend(str(tmp_path))
    before = set(_children(os.getpid()))  # another test in this worker may have left a child of its own
    with pytest.raises(WorkerBroke, match=r"step\(.*did not return within 2 s") as caught:
        fuzz_env("hanging_env:make_env", jobs=2, call_timeout=2.0, max_examples=4, max_steps=20, time_budget=20)
    assert caught.value.outcome.kind == "hung" and "hanging_env.py" in caught.value.outcome.where
    left = set(_children(os.getpid())) - before
    assert not left, {pid: _command(pid) for pid in left}


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="lists the worker processes from Linux's "
                    "/proc; tests/robustness asserts with ps that a run leaves no process behind")
def test_ctrl_c_kills_and_reaps_every_worker(tmp_path):
    script = tmp_path / "interrupt.py"
    script.write_text(textwrap.dedent(f"""
        import os, signal, sys, threading, time
        sys.path.insert(0, {str(Path(__file__).parent)!r})
        from rollcheck.properties.env.jobs import run_parts
        from test_env_jobs import _children

        def sleeper():
            time.sleep(60)
            return 1

        threading.Timer(2.0, lambda: os.kill(os.getpid(), signal.SIGINT)).start()
        started = time.monotonic()
        try:
            run_parts([("a", sleeper), ("b", sleeper), ("c", sleeper)], jobs=2, deadline_s=None)
        except KeyboardInterrupt:
            print("interrupted", round(time.monotonic() - started), _children(os.getpid()))
    """))
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=60)
    assert out.stdout.split()[:1] == ["interrupted"], (out.stdout, out.stderr)
    seconds, children = out.stdout.split(maxsplit=2)[1:]
    assert int(seconds) < 10 and children.strip() == "[]"


def test_results_come_back_in_part_order_and_a_deadline_ends_a_slow_part():
    import time

    def slow():
        time.sleep(30)

    out = run_parts([("slow", slow), ("quick", lambda: 2), ("quicker", lambda: 3)], jobs=3, deadline_s=3)
    assert [o.name for o in out] == ["slow", "quick", "quicker"]
    assert [o.value for o in out[1:]] == [2, 3] and not out[0].ok and "within 3 s" in out[0].reason


def test_the_cli_takes_jobs_and_writes_the_same_report_for_1_and_2(tmp_path):
    def run(jobs):
        out = subprocess.run([sys.executable, "-m", "rollcheck", "env", "CartPole-v1", "--wrapper",
                              "env_zoo_wrappers:NaNRewardAfterRun", "--max-examples", "5", "--max-steps", "50",
                              "--time-budget", "60", "--jobs", str(jobs), "--report-dir", str(tmp_path / str(jobs))],
                             capture_output=True, text=True, cwd=ZOO, timeout=300)
        assert out.returncode == 1, out.stderr
        (path,) = (tmp_path / str(jobs)).glob("*.json")
        data = json.loads(path.read_text())
        return {r["id"]: (r["status"], [f["message"] for f in r["findings"]]) for r in data["results"]}, path.name

    (one, name1), (two, name2) = run(1), run(2)
    assert one == two and name1 == name2  # the report name does not depend on --jobs either
    assert one["numerics.reward"][0] == "failed"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="a process escaping into a session of its own is "
                    "re-parented to a child subreaper only on Linux; elsewhere the run can kill only its own children")
def test_ctrl_c_also_ends_what_a_subject_started_in_a_session_of_its_own(tmp_path):
    """The part worker is SIGKILLed on Ctrl-C, so its own cleanup never runs: the subject's child (in a
    session of its own, beyond any process group) is re-parented to the run, which kills it."""
    marker = f"rollcheck-jobs-escapee-{os.getpid()}"
    script = tmp_path / "escape.py"
    script.write_text(textwrap.dedent(f"""
        import os, signal, subprocess, sys, threading, time
        from rollcheck.properties.env.jobs import run_parts

        def escapes():
            subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)", {marker!r}],
                             start_new_session=True)
            time.sleep(60)

        def started():
            for _ in range(300):
                if any({marker!r} in open(f"/proc/{{p}}/cmdline", errors="replace").read()
                       for p in os.listdir("/proc") if p.isdigit() and os.path.exists(f"/proc/{{p}}/cmdline")):
                    break
                time.sleep(0.1)
            os.kill(os.getpid(), signal.SIGINT)

        threading.Thread(target=started, daemon=True).start()
        try:
            run_parts([("a", escapes), ("b", escapes)], jobs=2, deadline_s=None)
        except KeyboardInterrupt:
            print("interrupted")
    """))
    try:
        out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=60)
        assert out.stdout.split() == ["interrupted"], (out.stdout, out.stderr)
        alive = [p for p in os.listdir("/proc") if p.isdigit() and _cmdline_has(p, marker)]
        assert alive == [], alive
    finally:
        subprocess.run(["pkill", "-f", marker])


def _command(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().replace(b"\0", b" ").decode(errors="replace").strip() or "(no command line: a zombie?)"
    except OSError:
        return "(gone)"


def _cmdline_has(pid: str, marker: str) -> bool:
    try:
        with open(f"/proc/{pid}/cmdline", errors="replace") as f:
            return marker in f.read()
    except OSError:
        return False
