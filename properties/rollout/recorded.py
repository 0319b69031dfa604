"""Validate a recorded rollout file and report *every* bad transition (counted exactly, listed capped).

Mirrors TorchLean's ``NN.Runtime.RL.Boundary.Json.loadRolloutAll`` (one result per transition,
never stopping early) on top of ``Boundary.Core.checkTransitionFin``, for the formats people
keep. :func:`validate_rollout_file` opens the path safely
(:mod:`~rollcheck.properties.rollout.readers.source`: regular files or ``-``, ``max_bytes``),
detects the format from its first bytes (never consuming them) and reads it with one reader:

- **interchange JSON** (TorchLean's, optionally with an exporter ``meta`` block) —
  :mod:`~rollcheck.properties.rollout.readers.json_reader`;
- **.npz** in rollcheck's plural naming, the JSON's singular naming or D4RL's —
  :mod:`~rollcheck.properties.rollout.readers.npz_reader`;
- **D4RL-style HDF5** (``observations, actions, rewards, terminals, timeouts``, optional
  ``next_observations``) — :mod:`~rollcheck.properties.rollout.readers.hdf5_reader` (h5py);
- **Minari datasets** by folder or dataset id — :mod:`~rollcheck.properties.rollout.readers.minari_reader`.

Every property (:data:`~rollcheck.properties.rollout.recorded_checks.RECORDED_PROPERTIES`) is
checked in one streaming pass. Exit status: 0 when every applicable property held over at least
one transition, 1 when any failed, 2 when the file cannot be read at all or holds no transitions
(an empty rollout proves nothing).
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable

import gymnasium as gym
import numpy as np

from rollcheck.spec.box import Box, box_from_json
from rollcheck.spec.contract import Contract
from rollcheck.spec.errors import ArgumentError
from rollcheck.spec.shape import Shape, as_shape

from rollcheck.properties.core.report import Finding, PropertyResult, Report
from rollcheck.properties.rollout.readers.chunk import DEFAULT_CHUNK_ROWS, RecordedData
from rollcheck.properties.rollout.readers.errors import RolloutFileError
from rollcheck.properties.rollout.readers.json_reader import document_batches, json_document, json_meta, read_json
from rollcheck.properties.rollout.readers.json_stream import DEFAULT_BATCH_ROWS, open_layout, transition_batches
from rollcheck.properties.rollout.readers.npz_reader import read_npz
from rollcheck.properties.rollout.readers.source import DEFAULT_MAX_BYTES, RolloutSource, open_source
from rollcheck.properties.rollout.recorded_checks import DEFAULT_CAP, RECORDED_PROPERTIES, StreamRun, check_stream
from rollcheck.properties.rollout.recorded_spaces import ObservationBox, action_space_of, describe_action_space
from rollcheck.properties.rollout.replay_worker import ReplayResult, describe, replay_supervised

__all__ = ["RECORDED_PROPERTIES", "RolloutFileError", "detect_format", "open_recording", "validate_rollout_file"]

_HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"


def detect_format(source: RolloutSource) -> str:
    """``json``, ``npz``, ``hdf5`` or ``minari`` from the first bytes (or a dataset folder)."""
    if source.is_dir:
        return "minari"
    head = source.head
    if head.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        return "npz"
    if head.startswith(_HDF5_MAGIC):
        return "hdf5"
    offset = 512  # an HDF5 superblock may follow a user block of 512, 1024, 2048, ... bytes
    while offset + len(_HDF5_MAGIC) <= source.size and not head.startswith((b"{", b"[")):
        if source.bytes_at(offset, len(_HDF5_MAGIC)) == _HDF5_MAGIC:
            return "hdf5"
        offset *= 2
    if head.startswith(b"\x93NUMPY"):
        raise RolloutFileError(f"{source.name!r} is a single .npy array; a rollout is an .npz archive of columns")
    return "json"


def _is_dataset_id(name: str) -> bool:
    return name != "-" and not os.path.lexists(name) and "/" in name and not Path(name).suffix


def _check_cap(cap: Any) -> int:
    if isinstance(cap, bool) or not isinstance(cap, int) or cap < 1:
        raise ArgumentError(f"max_findings={cap!r} should be a positive int (findings kept per property)")
    return cap


def open_recording(path: "str | Path", *, obs_shape: "Shape | Iterable[int] | None", action_space: "int | Box | None",
                   contract: Contract, max_bytes: int = DEFAULT_MAX_BYTES, chunk_rows: int = DEFAULT_CHUNK_ROWS,
                   box_bounds: "tuple[float, float] | None" = None) -> "tuple[RecordedData, Shape, int | Box]":
    """Open ``path`` with the reader its format needs; ``(data, obs_shape, action_space)`` as declared
    by the caller or, where the caller left them out, by the file (a JSON ``meta`` block, Minari's spaces)."""
    name = os.fspath(path)
    if _is_dataset_id(name):
        from rollcheck.properties.rollout.readers.minari_reader import read_minari_id
        data = read_minari_id(name, chunk_rows=chunk_rows)
        return _declared(data, obs_shape, action_space, box_bounds)
    source = open_source(name, max_bytes)
    fmt = detect_format(source)
    if fmt == "json":
        doc, batches, first_row = _json_parts(source, min(chunk_rows, DEFAULT_BATCH_ROWS))
        meta = json_meta(doc)
        shape = _merge_shape(obs_shape, meta.get("obs_shape"))
        if action_space is None and "n_actions" in meta:
            action_space = meta["n_actions"]
        elif action_space is not None and "n_actions" in meta and action_space != meta["n_actions"]:
            raise RolloutFileError(f"the file's meta says n_actions {meta['n_actions']} but n_actions "
                                   f"{action_space} was given")
        if action_space is None and "action_space" in doc:   # a continuous file's header (spec.boundary_json)
            try:
                action_space = box_from_json(doc["action_space"])
            except ArgumentError as exc:
                raise RolloutFileError(f"the file's action_space header: {exc}") from None
        first = first_row() if action_space is None and box_bounds is not None else None
        if first is not None:
            dims = np.shape(first.get("action")) if isinstance(first, dict) else ()
            action_space = Box(tuple(int(d) for d in dims), box_bounds[0], box_bounds[1], "float64")
        if shape is None or action_space is None:
            raise ArgumentError("an interchange JSON file needs obs_shape and n_actions (--obs-shape, --n-actions; "
                                "--box-actions LO HI or an action_space header for Box actions) unless its meta "
                                "block states them")
        return read_json(source, doc, batches, shape, action_space, contract), shape, action_space
    if fmt == "npz":
        data = read_npz(source, chunk_rows)
    elif fmt == "hdf5":
        from rollcheck.properties.rollout.readers.hdf5_reader import read_hdf5
        data = read_hdf5(source, chunk_rows)
    else:
        from rollcheck.properties.rollout.readers.minari_reader import read_minari_path
        data = read_minari_path(source.path, chunk_rows=chunk_rows)
    return _declared(data, obs_shape, action_space, box_bounds)


def _json_parts(source: RolloutSource, batch_rows: int) -> "tuple[dict, Callable[[], Any], Callable[[], Any]]":
    """``(top-level members but transitions, batches of transitions, the first transition or None)``:
    streamed where :func:`open_layout` finds the document plain, else read whole (its own words)."""
    layout = open_layout(source)
    if layout is None:
        doc = json_document(source.read_bytes())
        rows = doc["transitions"]
        return ({k: v for k, v in doc.items() if k != "transitions"}, document_batches(doc, batch_rows),
                lambda: rows[0] if rows else None)

    def batches(size: int = batch_rows) -> Any:
        try:
            yield from transition_batches(source, layout, size)
        except ValueError as exc:  # not JSON after all: the whole-document reader words it
            json_document(source.read_bytes())
            raise RolloutFileError(f"bad JSON in {source.name!r}: {exc}") from None

    def first_row() -> Any:
        for _, rows in batches(1):
            return rows[0]
        return None
    return layout.members, batches, first_row


def _merge_shape(given: "Shape | Iterable[int] | None", stored: "list[int] | None") -> "Shape | None":
    shape = None if given is None else as_shape(given)
    if stored is not None:
        if shape is not None and shape.dims != tuple(stored):
            raise RolloutFileError(f"the file's meta says obs_shape {list(stored)} but obs_shape "
                                   f"{list(shape.dims)} was given")
        shape = Shape(tuple(stored))
    return shape


def _declared(data: RecordedData, obs_shape: Any, action_space: "int | Box | None",
              box_bounds: "tuple[float, float] | None") -> "tuple[RecordedData, Shape, int | Box]":
    stored_obs, stored_actions = data.observation_space, data.action_space
    shape = as_shape(obs_shape) if obs_shape is not None else (
        Shape(stored_obs.shape) if stored_obs is not None else None)
    if shape is None:
        shape = Shape(tuple(data.obs_row_shape or ()))
        data.meta["obs_shape_from"] = "the file's arrays (no --obs-shape given)"
    if action_space is None and box_bounds is not None:  # --box-actions LO HI: the shape is the file's
        action_space = Box(tuple(data.action_row_shape or ()), box_bounds[0], box_bounds[1], "float64")
    if action_space is None:
        action_space = stored_actions
    if action_space is None:
        raise ArgumentError(f"{data.format} file: give the action space (--n-actions N for Discrete, "
                            "--box-actions LOW HIGH for Box)")
    if not isinstance(action_space, Box) and data.action_row_shape not in (None, ()):
        raise RolloutFileError(f"actions have row shape {list(data.action_row_shape)}; Discrete actions are one "
                               "integer per transition (for continuous actions give --box-actions LOW HIGH)")
    return data, shape, action_space


@dataclass(frozen=True)
class _ReplayPlan:
    """What ``--replay`` asked for, checked before the file is read: the env factory, the seeds."""

    make_env: Callable[[], Any]
    seeds: tuple
    seed: "int | None"
    time_budget: float


def _replay_plan(replay: Any, data: RecordedData, seed: "int | None", time_budget: float) -> "_ReplayPlan | None":
    if replay is None:
        return None
    if isinstance(time_budget, bool) or not isinstance(time_budget, (int, float)) or not time_budget > 0:
        raise ArgumentError(f"time_budget={time_budget!r} should be a positive number of seconds")
    seeds = data.replay.seeds if data.replay is not None else ()
    if callable(replay):
        make = replay
    else:
        env_ref = replay
        if replay == "dataset":
            env_ref = data.replay.env if data.replay is not None else None
            if env_ref is None:
                raise ArgumentError(f"--replay without ENV needs a file that names its env (a Minari dataset's env "
                                    f"spec, a JSON meta env_id); this {data.format} file does not")
        if not isinstance(env_ref, (str, gym.envs.registration.EnvSpec)):
            raise ArgumentError(f"replay={replay!r:.60} should be an env id, an EnvSpec, 'dataset' or a factory")
        if isinstance(env_ref, str):
            try:  # a bad env id is a usage error now (the registry only: no env code runs here)
                gym.spec(env_ref)
            except gym.error.Error as exc:
                raise ArgumentError(f"--replay {env_ref!r}: {exc}") from None

        def make() -> Any:  # runs in the replay's worker
            return gym.make(env_ref)
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int) or seed < 0):
        raise ArgumentError(f"seed={seed!r} should be a non-negative int")
    return _ReplayPlan(make, tuple(seeds) if seed is None else (), seed, float(time_budget))


def _replay(plan: _ReplayPlan, data: RecordedData, path: Any, shape: Shape, action_space: "int | Box",
            contract: Contract, cap: int, max_bytes: int, chunk_rows: int) -> ReplayResult:
    """Run ``plan`` in a supervised worker, which reads the recording itself (a path is opened
    afresh there; standard input's bytes are already in memory)."""
    name = os.fspath(path)

    def open_data() -> RecordedData:
        if name == "-":
            return data
        return open_recording(path, obs_shape=shape, action_space=action_space, contract=contract,
                              max_bytes=max_bytes, chunk_rows=chunk_rows)[0]
    return replay_supervised(open_data, contract, shape, action_space, cap, plan.make_env, plan.seeds, plan.seed,
                             plan.time_budget)


def _skip_reason(pid: str, data: RecordedData, obs_space: "ObservationBox | None",
                 replayed: "ReplayResult | None") -> "str | None":
    if pid == "recorded.observation_in_space" and obs_space is None:
        return "no observation space declared beyond the contract's obs_shape"
    if pid == "recorded.next_obs_chain" and not data.next_obs_stored:
        return (f"{data.format} stores one observation sequence per episode: next_obs[t] is obs[t+1] by construction"
                if data.explicit_episodes else f"{data.format} file stores no next observations")
    if pid == "recorded.episode_ends" and not data.explicit_episodes:
        return ("episodes are delimited by the flags themselves in a flat file; an end that was not flagged "
                "shows as a break of recorded.next_obs_chain")
    if pid == "recorded.episode_metadata" and data.format != "minari":
        return f"{data.format} stores no per-episode bookkeeping"
    if pid == "recorded.replay_reproduces":
        if replayed is None:
            return "no --replay ENV given"
        if replayed.episodes_checked == 0 and replayed.outcome is None and not replayed.rows.size:
            return "the time budget ran out before the first episode"
    if pid == "recorded.transition_schema" and data.format != "json":
        return f"{data.format} columns are typed arrays (their layout was checked when the file was opened)"
    return None


def validate_rollout_file(path: "str | Path", obs_shape: "Shape | Iterable[int] | None" = None,
                          n_actions: "int | None" = None, contract: "Contract | None" = None, *,
                          action_space: Any = None, box_bounds: "tuple[float, float] | None" = None,
                          max_bytes: int = DEFAULT_MAX_BYTES,
                          max_findings: int = DEFAULT_CAP, chunk_rows: int = DEFAULT_CHUNK_ROWS,
                          replay: "str | Callable[[], Any] | None" = None, seed: "int | None" = None,
                          time_budget: float = 60.0) -> Report:
    """Check every transition of a recorded rollout against ``contract``, its spaces, chain and episodes.

    ``obs_shape``/``n_actions`` (or ``action_space``: an int, a :class:`~rollcheck.spec.Box` or a
    Gymnasium ``Discrete``/``Box``; or ``box_bounds=(low, high)`` for a Box of the file's action
    shape) may be left out where the file declares them (a JSON ``meta`` block, a Minari dataset). Returns a :class:`Report`: exit code 0
    when every applicable property holds, 1 when any does not (each bad transition counted, the
    first ``max_findings`` per property listed with episode and step), 2 when the file cannot be
    read or holds no transitions.

    ``replay`` re-simulates every episode with its recorded actions (``recorded.replay_reproduces``):
    an env id, a zero-argument env factory, or ``"dataset"`` for the env spec a Minari dataset
    stores; ``seed`` seeds the first episode's reset where the file stores no per-episode seeds;
    ``time_budget`` (seconds) bounds the replay. The env runs in a supervised worker process
    (:mod:`~rollcheck.properties.rollout.replay_worker`): an env that hangs, crashes or exits
    becomes a finding naming the episode and step it broke at (``meta["replay_stopped"]`` says how).
    """
    contract = Contract() if contract is None else contract
    if not isinstance(contract, Contract):
        raise ArgumentError(f"contract={contract!r:.80} should be a rollcheck.spec.Contract")
    cap = _check_cap(max_findings)
    if n_actions is not None:
        if action_space is not None:
            raise ArgumentError("give n_actions or action_space, not both")
        action_space = n_actions
    if action_space is not None:
        action_space = action_space_of(action_space)
    start = time.perf_counter()
    report = Report(title="rollcheck rollout", target=os.fspath(path),
                    meta={"contract": repr(contract), "max_findings_per_property": cap})
    data = None
    try:
        data, shape, action_space = open_recording(path, obs_shape=obs_shape, action_space=action_space,
                                                   contract=contract, max_bytes=max_bytes, chunk_rows=chunk_rows,
                                                   box_bounds=box_bounds)
        report.meta.update({"format": data.format, "naming": data.naming, "obs_shape": shape.pretty(),
                            "action_space": describe_action_space(action_space)})
        if not isinstance(action_space, Box):
            report.meta["n_actions"] = action_space
        report.meta.update(data.meta)
        plan = _replay_plan(replay, data, seed, time_budget)
        replayed = None
        if plan is not None:  # first, in a supervised worker: the main pass then reports its rows in order
            replayed = _replay(plan, data, path, shape, action_space, contract, cap, max_bytes, chunk_rows)
            report.meta.update({"replay_episodes_checked": replayed.episodes_checked,
                                "replay_episodes_reproduced": replayed.episodes_reproduced,
                                "replay_out_of_time": replayed.out_of_time})
            if replayed.outcome is not None:
                o = replayed.outcome
                report.meta["replay_stopped"] = {"outcome": o.kind, "call": o.call, "where": o.where,
                                                 "describe": describe(o), "at": replayed.stopped_at}
        run = StreamRun(data, contract, shape, action_space, obs_space=data.observation_space, cap=cap,
                        replayed=replayed)
        seen = check_stream(run)
    except RolloutFileError as exc:
        report.error = f"RolloutFileError: {exc}"
        report.duration_s = time.perf_counter() - start
        return report
    finally:
        if data is not None:
            data.close()
    n = seen if data.explicit_episodes else data.n  # Minari's n up front is its stored bookkeeping
    report.meta.update({"transitions": n, "episodes_ended": run.episodes_ended,
                        "final_episode_unfinished": bool(n and not run.last_done and not data.explicit_episodes
                                                         and seen == n)})
    if n == 0:
        report.error = (f"RolloutFileError: {report.target!r} holds no transitions: an empty rollout proves nothing "
                        "(nothing was checked)")
    for prop in RECORDED_PROPERTIES:
        result = PropertyResult(prop.id, prop.lean, prop.statement, examples=1, steps=n,
                                episodes=run.episodes_ended)
        reason = _skip_reason(prop.id, data, run.obs_space, run.replayed)
        for f in run.findings[prop.id]:
            result.fail(f)
        if prop.id == "recorded.replay_reproduces" and run.replayed is not None and run.replayed.outcome is not None \
                and run.replayed.stopped_at is None:  # the worker broke before its first env call
            result.fail(Finding(message=f"the replay stopped before its first env call: "
                                        f"{describe(run.replayed.outcome)}", context={"outcome": run.replayed.outcome.kind}))
        if reason is not None:
            result.skip(reason)  # a failure stays a failure
        report.results.append(result)
    report.meta.update({"bad_transitions": run.bad_rows_count,
                        "violations_by_property": {pid: c for pid, c in run.count.items() if c},
                        "bad_transition_indices": sorted(run.bad_rows)[:1000]})
    report.duration_s = time.perf_counter() - start
    return report
