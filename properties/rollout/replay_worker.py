"""Replaying a recording in a supervised worker: a hanging or crashing env cannot wedge the harness.

Not a TorchLean definition. TorchLean keeps its env behind a process boundary (the Gymnasium
bridge); ``rollcheck rollout --replay ENV`` runs the env the same way every other command runs
user code: :func:`replay_supervised` reads the recording in a worker process supervised by
:func:`rollcheck.impl.supervisor.run_supervised` and drives
:class:`~rollcheck.properties.rollout.replay.Replayer` there. Invariants enforced:

- **the harness survives the env.** Whatever the env does in the worker (raise any
  ``BaseException``, ``os._exit``, segfault, hang in Python or C), the caller gets a
  :class:`ReplayResult`; one env call is given at most the whole ``time_budget`` (then it hung),
  and the worker stops itself before any ``reset``/``step`` once the budget is spent;
- **partial findings survive the worker.** Every divergence is appended to a file the supervisor
  reads as it is found, and the call in flight — transition, episode, step — and the episode
  counters sit in memory shared with the supervisor, so a worker that never returns still yields
  the divergences found before it broke and the episode and step where it broke
  (:attr:`ReplayResult.stopped_at`);
- **one replay semantics.** The worker runs the same ``Replayer`` over the same chunks and the
  same episode/step locator (:class:`~rollcheck.properties.rollout.recorded_checks.StreamRun`)
  as an in-process replay; without ``os.fork`` (not POSIX) the replay runs in-process.
"""

from __future__ import annotations

import mmap
import pickle
import struct
import tempfile
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from rollcheck.impl.supervisor import Outcome, run_supervised, supported
from rollcheck.spec.box import Box
from rollcheck.spec.contract import Contract
from rollcheck.spec.shape import Shape

from rollcheck.properties.rollout.readers.chunk import RecordedData
from rollcheck.properties.rollout.recorded_checks import StreamRun
from rollcheck.properties.rollout.replay import Replayer

__all__ = ["ReplayResult", "describe", "replay_in_process", "replay_supervised"]

_RECORD = struct.Struct("!I")
_POSITION = 5  # transition, episode, step of the call in flight; episodes checked, reproduced


@dataclass(frozen=True)
class ReplayResult:
    """What a replay found. ``rows`` are the transitions where an episode stopped reproducing
    (sorted, all of them); ``words[i]`` is ``(episode, step, what)`` for the first ``cap`` of them;
    when the worker did not return, ``outcome`` says how it ended and ``stopped_at`` is the
    ``(transition, episode, step)`` of the call in flight (also in ``rows``)."""

    rows: np.ndarray
    words: dict
    episodes_checked: int
    episodes_reproduced: int
    out_of_time: bool
    outcome: "Outcome | None" = None
    stopped_at: "tuple[int, int, int] | None" = None

    @classmethod
    def of(cls, found: "list[tuple]", cap: int, checked: int, reproduced: int, out_of_time: bool,
           outcome: "Outcome | None" = None, stopped_at: "tuple[int, int, int] | None" = None) -> "ReplayResult":
        rows = [f[0] for f in found]
        words = {f[0]: f[1:] for f in found[:cap] if len(f) == 4}
        if stopped_at is not None:
            rows.append(stopped_at[0])
            words.setdefault(stopped_at[0], (stopped_at[1], stopped_at[2],
                                             f"the replay stopped here: {describe(outcome) if outcome else 'broke'}"))
        return cls(np.unique(np.asarray(rows, dtype=np.int64)), words, checked, reproduced, out_of_time, outcome,
                   stopped_at)


def describe(outcome: Outcome) -> str:
    """The supervisor's one line, naming the option that bounds a replay's call (``--time-budget``)."""
    return outcome.describe().replace("(--timeout)", "(--time-budget)")


def _replay(data: RecordedData, contract: Contract, shape: Shape, actions: "int | Box", cap: int,
            replayer: Replayer) -> ReplayResult:
    run = StreamRun(data, contract, shape, actions, cap=cap)  # the episode/step locator of the checks
    try:
        for chunk in data.chunks():
            run.begin(chunk)
            ep, st = run.where(np.arange(len(chunk)))
            replayer.rows(chunk.index, ep, st, chunk.obs, chunk.next_obs, chunk.actions, chunk.rewards, run.te, run.tr)
            run.end(chunk)
            if replayer.out_of_time:
                break
        replayer.finish()
    finally:
        replayer.close()
    return ReplayResult.of(replayer.divergences, cap, replayer.episodes_checked, replayer.episodes_reproduced,
                           replayer.out_of_time)


def replay_in_process(data: RecordedData, contract: Contract, shape: Shape, actions: "int | Box", cap: int,
                      make_env: Callable[[], Any], seeds: tuple, seed: "int | None", time_budget: float) -> ReplayResult:
    """The replay in this process (no protection: for platforms without ``fork``)."""
    return _replay(data, contract, shape, actions, cap, Replayer(make_env, seeds=seeds, seed=seed,
                                                                time_budget=time_budget))


def _read_records(fh: Any) -> list:
    fh.seek(0)
    data = fh.read()
    out, pos = [], 0
    while pos + _RECORD.size <= len(data):
        (n,) = _RECORD.unpack_from(data, pos)
        if pos + _RECORD.size + n > len(data):
            break  # a record cut short by the worker's death
        out.append(pickle.loads(data[pos + _RECORD.size:pos + _RECORD.size + n]))
        pos += _RECORD.size + n
    return out


def replay_supervised(open_data: Callable[[], RecordedData], contract: Contract, shape: Shape, actions: "int | Box",
                      cap: int, make_env: Callable[[], Any], seeds: tuple, seed: "int | None",
                      time_budget: float) -> ReplayResult:
    """Replay the recording ``open_data()`` returns (called in the worker) with ``make_env``'s env,
    in a supervised worker (see the module docstring)."""
    if not supported():
        return replay_in_process(open_data(), contract, shape, actions, cap, make_env, seeds, seed, time_budget)
    shared = mmap.mmap(-1, _POSITION * 8)  # anonymous and shared: the worker's writes are seen here
    position = np.frombuffer(shared, dtype=np.int64, count=_POSITION)
    position[:] = (-1, -1, -1, 0, 0)
    try:
        with tempfile.TemporaryFile() as log:
            written = [0]

            def note(item: tuple) -> None:  # in the worker: one divergence, appended as it is found
                blob = pickle.dumps(item if written[0] < cap else (item[0],))  # past the cap: the row only
                log.write(_RECORD.pack(len(blob)) + blob)
                log.flush()
                written[0] += 1

            def work() -> ReplayResult:
                replayer = Replayer(make_env, seeds=seeds, seed=seed, time_budget=time_budget, position=position,
                                    on_divergence=note)
                return _replay(open_data(), contract, shape, actions, cap, replayer)

            outcome = run_supervised(work, timeout=max(float(time_budget), 0.5))
            if outcome.ok:
                return outcome.value
            where = tuple(int(x) for x in position[:3])
            return ReplayResult.of(_read_records(log), cap, int(position[3]), int(position[4]), False, outcome,
                                   where if where[0] >= 0 else None)
    finally:
        del position
        shared.close()
