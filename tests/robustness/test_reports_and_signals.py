"""Reports as a unit, report-directory problems, interrupted runs, ``collect`` on hostile envs."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from robust import CHILD_MARKER, counts_in_every_format, environment, report_files, rollcheck, survivors, write_module
from test_hostile_env import HOSTILE_ENV

REGISTERED = HOSTILE_ENV + '''
gym.register("Hostile-v0", entry_point=make_env, max_episode_steps=50)
'''


def _snapshot(folder):
    return {p.name: p.read_bytes() for p in report_files(folder)}


def test_report_dir_that_is_a_file_is_exit_2_after_the_results(tmp_path):
    write_module(tmp_path, "hostile_env", HOSTILE_ENV)
    (tmp_path / "out").write_text("I am a file")
    run = rollcheck(tmp_path, "env", "hostile_env:make_env", "--max-examples", "3", "--report-dir", "out",
                    "--skip", "episode.truncated_at_limit", HOSTILE="none")
    assert run.code == 2
    assert "held, 0 failed, 0 error" in run.out                     # the results were printed first
    assert "cannot write the reports" in run.err and "'out'" in run.err and "Traceback" not in run.err
    assert (tmp_path / "out").read_text() == "I am a file"


def test_full_disk_replaces_no_report(tmp_path, monkeypatch, capsys):
    """ENOSPC on the second file: the previous set of three stays as it was, and exit 2."""
    from rollcheck.cli import main
    from rollcheck.impl import atomic_io

    write_module(tmp_path, "hostile_env", HOSTILE_ENV)
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("HOSTILE", "none")
    args = ["env", "hostile_env:make_env", "--max-examples", "3", "--report-dir", "out", "--skip",
            "episode.truncated_at_limit"]
    assert main(args) == 0
    before = _snapshot(tmp_path / "out")
    monkeypatch.setenv("HOSTILE", "exit0")    # the next run's reports would differ
    real = atomic_io.os.replace
    calls = []

    def enospc(src, dst):
        calls.append(dst)
        if len(calls) == 2:
            raise OSError(28, "No space left on device")
        return real(src, dst)

    monkeypatch.setattr(atomic_io.os, "replace", enospc)
    assert main(args) == 2
    captured = capsys.readouterr()
    assert "No space left on device" in captured.err and "0 held, 0 failed, 16 error" in captured.out
    assert _snapshot(tmp_path / "out") == before and len(before) == 3


def test_usage_errors_write_nothing(tmp_path):
    write_module(tmp_path, "hostile_env", HOSTILE_ENV)
    for args in (["env", "CartPol-v1"], ["env", "no_such_module:make_env"], ["env", "hostile_env:nope"],
                 ["env", "hostile_env:make_env", "--skip", "no.such.property"],
                 ["env", "hostile_env:make_env", "--timeout", "0"],
                 ["collect", "NoSuchEnv-v0", "--horizon", "3", "--seed", "0"]):
        run = rollcheck(tmp_path, *args, "--report-dir" if args[0] == "env" else "--out", "out", HOSTILE="none")
        assert run.code == 2, (args, run.out, run.err)
    assert not (tmp_path / "out").exists()


def test_wrappers_get_their_own_report(tmp_path):
    write_module(tmp_path, "hostile_env", HOSTILE_ENV)
    write_module(tmp_path, "wrappers", "from gymnasium.wrappers import TimeLimit\n"
                                       "def limit(env):\n    return TimeLimit(env, 20)\n")
    common = ["--max-examples", "3", "--report-dir", "out"]
    assert rollcheck(tmp_path, "env", "hostile_env:make_env", "--skip", "episode.truncated_at_limit", *common,
                     HOSTILE="none").code == 0
    assert rollcheck(tmp_path, "env", "hostile_env:make_env", "--wrapper", "wrappers:limit", *common,
                     HOSTILE="none").code == 0
    assert len({p.name.rsplit("-", 1)[1] for p in (tmp_path / "out").glob("*.json")}) == 2


def test_failed_collect_never_leaves_an_earlier_rollout(tmp_path):
    write_module(tmp_path, "hostile_env", REGISTERED)
    args = ["collect", "hostile_env:Hostile-v0", "--horizon", "20", "--seed", "0", "--policy", "random",
            "--timeout", "2", "--out", "out"]
    assert rollcheck(tmp_path, *args, HOSTILE="none").code == 0
    assert len(list((tmp_path / "out").glob("*.rollout.json"))) == 1
    for mode in ("exit0", "segfault", "hang"):
        run = rollcheck(tmp_path, *args, HOSTILE=mode)
        assert run.code == 2, (mode, run.out, run.err)
        assert not list((tmp_path / "out").glob("*.rollout.json"))
        summary = json.loads(next((tmp_path / "out").glob("*.summary.json")).read_text())
        assert summary["status"] == "error" and "hostile_env.py" in summary["error"] and "in step" in summary["error"]
        assert summary["provenance"]["versions"]["rollcheck"]


@pytest.mark.parametrize("sig, code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
@pytest.mark.parametrize("command", ["env", "collector", "collect"])
def test_signals_end_the_run_without_touching_reports_or_leaving_children(tmp_path, sig, code, command):
    write_module(tmp_path, "hostile_env", REGISTERED)
    write_module(tmp_path, "slow_collector", '''
import os, subprocess, sys, time
def collect(*args, **kwargs):
    subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)", os.environ["ROLLCHECK_TEST_CHILD_MARKER"]],
                     start_new_session=True)
    time.sleep(10_000)
''')
    out = tmp_path / "out"
    out.mkdir()
    (out / "previous.md").write_text("previous good report")
    args = {"env": ["env", "hostile_env:make_env", "--max-examples", "3", "--report-dir", "out"],
            "collector": ["collector", "slow_collector:collect", "--examples", "3", "--report-dir", "out"],
            "collect": ["collect", "hostile_env:Hostile-v0", "--horizon", "20", "--seed", "0", "--out", "out"]}[command]
    proc = subprocess.Popen([sys.executable, "-m", "rollcheck", *args, "--timeout", "60"], cwd=tmp_path,
                            env=environment(HOSTILE="factory_child_hang"), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        deadline = time.monotonic() + 30
        while not survivors(CHILD_MARKER) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert survivors(CHILD_MARKER), "the subject never started its child"
        start = time.monotonic()
        proc.send_signal(sig)
        _, err = proc.communicate(timeout=15)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == code, err
    assert time.monotonic() - start < 5
    assert [p.name for p in out.iterdir()] == ["previous.md"]
    assert (out / "previous.md").read_text() == "previous good report"
    assert not survivors(CHILD_MARKER)


def test_version():
    run = subprocess.run([sys.executable, "-m", "rollcheck", "--version"], capture_output=True, text=True)
    assert run.returncode == 0
    for name in ("rollcheck", "python", "numpy", "gymnasium", "hypothesis"):
        assert name in run.stdout


def test_sb3_model_must_be_a_regular_file(tmp_path):
    (tmp_path / "model.zip").mkdir()
    for path in ("/dev/zero", str(tmp_path / "model.zip"), str(tmp_path / "missing.zip")):
        run = rollcheck(tmp_path, "sb3", "CartPole-v1", "--model", path, "--report-dir", "out")
        assert run.code == 2 and "not a regular file" in run.err and "pickle" in run.err
    help_text = subprocess.run([sys.executable, "-m", "rollcheck", "sb3", "--help"], capture_output=True,
                               text=True).stdout
    assert "pickles" in help_text and "runs the code" in " ".join(help_text.split())
    assert not (tmp_path / "out").exists()
