"""Run the independent parts of one ``rollcheck env`` search in worker processes (``--jobs N``).

A fuzzing run splits into parts that share nothing but the target and the seed (the per-call
search, the replay search, the static checks, the vector search: :data:`PARTS`); each part is a
:func:`~rollcheck.properties.env.fuzz.fuzz_env` run of its own properties with a fixed share of
the time budget. :func:`run_parts` runs them ``jobs`` at a time, each in a forked worker that runs
its part under :func:`rollcheck.impl.supervisor.run_supervised` (so a crash, a hang in the env or
an exception ends that part with a reason instead of the run), and hands back each part's result
in part order. Which part runs where or when never changes what it computes, so the merged report
is the same for every ``jobs`` (up to timings and what a time budget cut).

Not a TorchLean definition. Invariants enforced: no worker outlives :func:`run_parts` (each is
killed and reaped on return, on an exception, on a timeout and on Ctrl-C, a worker forked in the
instant before a Ctrl-C included, and dies with its parent through ``PR_SET_PDEATHSIG``), and
neither does any process the subject started in a killed worker, even in a session of its own
(the run is a child subreaper on Linux: :func:`~rollcheck.impl.supervisor.reaping_descendants`);
results come back in part order whatever the finishing order.
"""

from __future__ import annotations

import os
import pickle
import select
import signal
import time
import traceback
from dataclasses import dataclass
from typing import Any, Callable, Sequence

from rollcheck.impl.supervisor import DEFAULT_TIMEOUT, bind_to_parent, reaping_descendants, run_supervised, supported
from rollcheck.spec.arguments import check_count
from rollcheck.spec.errors import ArgumentError

__all__ = ["PARTS", "PartOutcome", "default_jobs", "run_parts"]

#: the parts of a run, in report order: (name, property ids or prefixes, share of the time budget)
PARTS = (
    ("calls", ("spaces.observation_in_space", "numerics", "episode", "wrapper", "actions", "aliasing"), 0.45),
    ("replays", ("determinism.fresh_instances", "determinism.reseeded_instance", "reset"), 0.35),
    ("static", ("spaces.well_formed", "determinism.seeds_differ"), 0.2),
    ("vector", ("vector",), 0.3),
)


@dataclass(frozen=True)
class PartOutcome:
    """What one part's worker gave back: ``value`` when ``ok``, else ``reason`` (why it ended) and,
    when the subject broke the worker (raised a ``BaseException``, exited, crashed or hung), the
    supervisor's :class:`~rollcheck.impl.supervisor.Outcome` naming the call."""

    name: str
    ok: bool
    value: Any = None
    reason: str = ""
    broken: Any = None


def default_jobs() -> int:
    """The machine's cores (those this process may run on)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def _child(task: Callable[[], Any], name: str, write_fd: int, timeout: float, parent: int) -> None:  # pragma: no cover — forked
    try:
        bind_to_parent(parent)
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides what a Ctrl-C ends
        outcome = run_supervised(task, timeout=timeout)
        if outcome.ok:
            result = PartOutcome(name, True, outcome.value)
        else:
            result = PartOutcome(name, False, reason=outcome.describe(), broken=outcome)
        data = pickle.dumps(result)
    except BaseException as exc:
        data = pickle.dumps(PartOutcome(name, False, reason="".join(traceback.format_exception_only(type(exc), exc)).strip()))
    view = memoryview(data)
    while view:
        try:
            view = view[os.write(write_fd, view):]
        except OSError:
            break
    os._exit(0)


def _kill(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    try:
        os.waitpid(pid, 0)
    except ChildProcessError:
        pass


def run_parts(tasks: Sequence[tuple[str, Callable[[], Any]]], *, jobs: int, deadline_s: "float | None",
              call_timeout: float = DEFAULT_TIMEOUT) -> list[PartOutcome]:
    """Run each ``(name, task)`` (a picklable-result callable), ``jobs`` at a time, in part order.

    ``jobs=1`` runs them one after another in this process. Otherwise each runs in a forked worker
    (its user calls supervised with ``call_timeout``); a part still running ``deadline_s`` seconds
    after the start is killed and reported as not finished. When the subject breaks a worker the
    other parts would meet it too: the run stops there (the rest are killed or never started).
    ``KeyboardInterrupt`` kills every worker and propagates.
    """
    jobs = check_count("jobs", jobs)
    if jobs == 1 or len(tasks) <= 1 or not supported():
        out = []
        for name, task in tasks:
            out.append(PartOutcome(name, True, task()))
        return out
    if deadline_s is not None and not deadline_s > 0:
        raise ArgumentError(f"deadline_s={deadline_s!r} should be a positive number of seconds or None")
    end = None if deadline_s is None else time.monotonic() + deadline_s
    results: list["PartOutcome | None"] = [None] * len(tasks)
    waiting = list(range(len(tasks)))
    running: dict[int, tuple[int, int, bytearray]] = {}  # read fd -> (pid, part index, bytes so far)
    with reaping_descendants():  # also a worker forked just before a Ctrl-C, and what a killed worker's subject started
        try:
            _run_workers(tasks, jobs, deadline_s, end, call_timeout, results, waiting, running)
        finally:  # a Ctrl-C or an error of the loop itself: whatever still runs is killed
            _stop_all(tasks, results, running, waiting, "interrupted", "not started: the run was interrupted")
    return [r if r is not None else PartOutcome(tasks[i][0], False, reason="not run") for i, r in enumerate(results)]


def _run_workers(tasks: Sequence[tuple[str, Callable[[], Any]]], jobs: int, deadline_s: "float | None",
                 end: "float | None", call_timeout: float, results: list, waiting: list, running: dict) -> None:
    """:func:`run_parts`' loop: keep ``jobs`` workers busy, collect each result as its pipe closes."""
    parent = os.getpid()
    while waiting or running:
        while waiting and len(running) < jobs:
            i = waiting.pop(0)
            name, task = tasks[i]
            read_fd, write_fd = os.pipe()
            pid = os.fork()
            if pid == 0:  # pragma: no cover — the worker
                os.close(read_fd)
                _child(task, name, write_fd, call_timeout, parent)
            os.close(write_fd)
            running[read_fd] = (pid, i, bytearray())
        left = None if end is None else end - time.monotonic()
        if left is not None and left <= 0:
            _stop_all(tasks, results, running, waiting, f"did not finish within {deadline_s:.0f} s",
                      "not started: the run's deadline passed")
            break
        ready, _, _ = select.select(list(running), [], [], 0.5 if left is None else min(0.5, left))
        for fd in ready:
            pid, i, buf = running[fd]
            chunk = os.read(fd, 1 << 16)
            if chunk:
                buf += chunk
                continue
            del running[fd]
            os.close(fd)
            try:
                os.waitpid(pid, 0)
            except ChildProcessError:
                pass
            try:
                results[i] = pickle.loads(bytes(buf))
            except Exception:
                results[i] = PartOutcome(tasks[i][0], False, reason="the worker ended without a result")
            if results[i].broken is not None:  # the subject broke it: stop the run here
                broke = tasks[i][0]
                _stop_all(tasks, results, running, waiting, f"stopped: the {broke} part broke",
                          f"not started: the {broke} part broke")
                break


def _stop_all(tasks: Sequence[tuple[str, Callable[[], Any]]], results: list, running: dict, waiting: list,
              stopped: str, not_started: str) -> None:
    """Kill and reap every running worker (its part ends with the reason ``stopped``) and start none
    of the waiting parts (reason ``not_started``)."""
    for fd, (pid, i, _buf) in list(running.items()):
        _kill(pid)
        os.close(fd)
        results[i] = PartOutcome(tasks[i][0], False, reason=stopped)
    running.clear()
    for i in waiting:
        results[i] = PartOutcome(tasks[i][0], False, reason=not_started)
    waiting.clear()

