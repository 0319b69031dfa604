"""Helpers (imported by the tests here) for driving hostile subjects through the real ``rollcheck`` command line.

Each test writes a tiny subject module into a temporary folder, runs ``python -m rollcheck ...``
there as a subprocess (a subject that kills its process must not take the test run with it), and
checks the exit status, the four counts in every report format, which files exist, how long it
took and, with ``ps``, that no process the run started is still alive.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from dataclasses import dataclass
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest

STATUSES = ("held", "failed", "skipped", "error")


@dataclass
class Run:
    code: int
    out: str
    err: str
    seconds: float
    pid: int


def write_module(folder: Path, name: str, source: str) -> Path:
    path = folder / f"{name}.py"
    path.write_text(textwrap.dedent(source))
    return path


# The token a subject's stray child carries on its command line: one per test process, so parallel
# workers (and other runs on the machine) never see each other's children as survivors.
CHILD_MARKER = f"rollcheck-robustness-child-{os.getpid()}"


def environment(**extra: str) -> dict:
    env = dict(os.environ)
    env["ROLLCHECK_TEST_CHILD_MARKER"] = CHILD_MARKER
    env.pop("PYTEST_XDIST_WORKER", None)
    env["PYTHONPATH"] = os.pathsep.join(p for p in [env.get("PYTHONPATH", "")] if p)
    env.update(extra)
    return env


def rollcheck(cwd: Path, *args: str, timeout: float = 120, **env: str) -> Run:
    """Run ``python -m rollcheck ARGS`` in ``cwd``; its exit status, output and wall time."""
    start = time.monotonic()
    proc = subprocess.Popen([sys.executable, "-m", "rollcheck", *args], cwd=cwd, env=environment(**env),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        pytest.fail(f"rollcheck {' '.join(args)} did not end within {timeout} s\n{out}\n{err}")
    return Run(proc.returncode, out, err, time.monotonic() - start, proc.pid)


def processes() -> list[tuple[int, int, int, str]]:
    """``(pid, ppid, pgid, command)`` of every process, from ``ps``."""
    text = subprocess.run(["ps", "-eww", "-o", "pid=,ppid=,pgid=,args="], capture_output=True, text=True,
                          check=True).stdout
    rows = []
    for line in text.splitlines():
        parts = line.split(None, 3)
        if len(parts) >= 3:
            rows.append((int(parts[0]), int(parts[1]), int(parts[2]), parts[3] if len(parts) > 3 else ""))
    return rows


def survivors(marker: str) -> list[str]:
    """Processes whose command line contains ``marker`` (a token only the test's subjects use)."""
    deadline = time.monotonic() + 2.0   # SIGKILLed processes may take a moment to leave the table
    while True:
        alive = [f"{pid} {cmd}" for pid, _, _, cmd in processes() if marker in cmd and "ps -eww" not in cmd]
        if not alive or time.monotonic() > deadline:
            return alive
        time.sleep(0.1)


def report_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.glob("*") if p.suffix in (".md", ".json", ".xml"))


def counts_in_every_format(folder: Path) -> dict:
    """The four counts of the single report in ``folder``, asserted equal in JSON, JUnit and Markdown."""
    jsons = [p for p in folder.glob("*.json")]
    assert len(jsons) == 1, jsons
    stem = jsons[0].name[: -len(".json")]
    data = json.loads(jsons[0].read_text())
    counts = {s: sum(r["status"] == s for r in data["results"]) for s in STATUSES}
    assert {s: data["counts"][s] for s in STATUSES} == counts
    suite = ET.fromstring((folder / f"{stem}.junit.xml").read_text())
    lone = 1 if data["error"] and not data["results"] else 0
    assert int(suite.get("tests")) == len(data["results"]) + lone
    assert int(suite.get("failures")) == counts["failed"] == len(suite.findall("testcase/failure"))
    assert int(suite.get("errors")) == counts["error"] + lone == len(suite.findall("testcase/error"))
    assert int(suite.get("skipped")) == counts["skipped"] == len(suite.findall("testcase/skipped"))
    md = (folder / f"{stem}.md").read_text()
    line = (f"{counts['held']} held, {counts['failed']} failed, {counts['error']} error, "
            f"{counts['skipped']} skipped of {len(data['results'])} properties")
    assert line in md
    return {**counts, "data": data, "markdown": md, "line": line}

