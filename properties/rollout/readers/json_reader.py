"""Reading TorchLean's interchange JSON into columns (with or without an exporter ``meta`` block).

Mirrors TorchLean's ``NN.Runtime.RL.Boundary.Json`` (``loadRolloutAll``: one result per
transition). The document is streamed by :mod:`~rollcheck.properties.rollout.readers.json_stream`
(bounded depth, no duplicate keys, exact action numbers, batch by batch), or read whole by
:func:`rollcheck.spec.boundary_json.parse_document` when the stream hands it back (the same
strictness; see there). Each batch is one chunk. Rows whose every field is plainly
well-typed (an ``int`` action, ``bool`` flags, float/int leaves of exactly ``obs_shape``) become
array rows and are judged by the one contract judge; every other row is judged by the spec's
``parse_transition_json`` itself, so the violations are the spec's own, word for word.

Continuous actions (rollcheck's extension, :mod:`rollcheck.spec.boundary_json`): with a
:class:`~rollcheck.spec.box.Box` as the action space (given, or from the file's ``action_space``
header) an action is a nested float array of the Box's shape; plain rows of that shape become
``(k, *box.shape)`` action arrays, judged by the same judge.

A top-level ``meta`` object (an exporter's) is read for ``obs_shape``, ``n_actions``, ``env_id``
and ``seed`` (each optional); any other top-level key is ignored, as Lean ignores it.
"""

from __future__ import annotations

from typing import Any, Callable, Iterator

import numpy as np

from rollcheck.spec.boundary_json import parse_document, parse_transition_json
from rollcheck.spec.box import Box
from rollcheck.spec.contract import Contract
from rollcheck.spec.errors import ContractViolation, Violation
from rollcheck.spec.shape import Shape

from rollcheck.properties.rollout.readers.chunk import Chunk, RecordedData, ReplayInfo
from rollcheck.properties.rollout.readers.errors import RolloutFileError
from rollcheck.properties.rollout.readers.json_stream import DEFAULT_BATCH_ROWS
from rollcheck.properties.rollout.readers.source import RolloutSource

__all__ = ["META_KEYS", "document_batches", "json_document", "json_meta", "read_json", "spec_row_violations"]

META_KEYS = ("obs_shape", "n_actions", "env_id", "seed")
_BIG = 1e300  # ints beyond this go to the spec (float conversion, overflow messages)
_FLOAT_ONLY = frozenset({float})


def _leaf(x: Any) -> bool:
    t = type(x)
    return t is float or (t is int and -_BIG < x < _BIG)


def _plain_tensor(x: Any, dims: tuple[int, ...], depth: int = 0) -> bool:
    if depth == len(dims):
        return _leaf(x)
    if type(x) is not list or len(x) != dims[depth]:
        return False
    if depth == len(dims) - 1:  # the innermost list: plain floats (the common case) in one C-level pass
        return set(map(type, x)) <= _FLOAT_ONLY or all(map(_leaf, x))
    return all(_plain_tensor(y, dims, depth + 1) for y in x)


def _plain_row(tj: Any, dims: tuple[int, ...], action_dims: "tuple[int, ...] | None" = None) -> bool:
    """Every field present and of exactly the JSON type the arrays can hold without loss
    (``action_dims``: a Box action of that shape instead of an ``int``)."""
    if type(tj) is not dict:
        return False
    try:
        a, r = tj["action"], tj["reward"]
        te, tr, o, no = tj["terminated"], tj["truncated"], tj["obs"], tj["next_obs"]
    except KeyError:
        return False
    action_ok = _plain_tensor(a, action_dims) if action_dims is not None else type(a) is int and 0 <= a < 2 ** 62
    return (action_ok and type(te) is bool and type(tr) is bool
            and _leaf(r) and _plain_tensor(o, dims) and _plain_tensor(no, dims))


def spec_row_violations(tj: Any, i: int, shape: Shape, n_actions: int, contract: Contract) -> list[Violation]:
    """The spec's violations of transition ``i`` (``parse_transition_json``), each at index ``i``."""
    try:
        parse_transition_json(tj, shape, n_actions, contract)
    except ContractViolation as exc:
        return list(exc.at(i).violations)
    return []


def json_document(data: "str | bytes") -> dict:
    """The checked top-level object, or :class:`RolloutFileError` naming what is wrong."""
    try:
        return parse_document(data)
    except ContractViolation as exc:
        raise RolloutFileError(str(exc)) from None


def json_meta(doc: dict) -> dict:
    """The exporter ``meta`` block's known keys (``{}`` without one); a malformed block is an error."""
    meta = doc.get("meta")
    if meta is None:
        return {}
    if not isinstance(meta, dict):
        raise RolloutFileError(f"top-level `meta` is {type(meta).__name__}; an exporter's meta block is an object")
    out = {k: meta[k] for k in META_KEYS if k in meta}
    if "obs_shape" in out and not (isinstance(out["obs_shape"], list) and all(
            type(d) is int and d >= 0 for d in out["obs_shape"])):
        raise RolloutFileError(f"meta.obs_shape = {out['obs_shape']!r:.60} should be a list of non-negative integers")
    if "n_actions" in out and not (type(out["n_actions"]) is int and out["n_actions"] > 0):
        raise RolloutFileError(f"meta.n_actions = {out['n_actions']!r:.60} should be a positive integer")
    if "seed" in out and not (type(out["seed"]) is int and out["seed"] >= 0):
        raise RolloutFileError(f"meta.seed = {out['seed']!r:.60} should be a non-negative integer")
    return out


def read_json(source: RolloutSource, members: dict, batches: "Callable[[], Iterator[tuple[int, list]]]",
              shape: Shape, n_actions: "int | Box", contract: Contract) -> RecordedData:
    """The rows of ``batches()`` (``(first index, rows)``, in order) as array chunks, one per batch;
    the rows that are not plain are judged by the spec in the same chunk (see above). ``members``
    are the document's other top-level values (the ``meta`` block). ``n`` is known after a pass."""
    action_dims = n_actions.shape.dims if isinstance(n_actions, Box) else None
    dims = shape.dims
    current: dict = {}  # the batch being checked: index -> row, for word_row

    def chunks() -> Iterator[Chunk]:
        episode = step = 0  # carried across batches; episodes end at every row whose flags are True booleans
        total = 0
        for first, rows in batches():
            n = len(rows)
            total = first + n
            current.clear()
            current.update(zip(range(first, first + n), rows))
            plain = np.fromiter((_plain_row(tj, dims, action_dims) for tj in rows), dtype=bool, count=n)
            done = np.fromiter(((type(tj) is dict and (tj.get("terminated") is True or tj.get("truncated") is True))
                                for tj in rows), dtype=bool, count=n)
            ends_before = np.cumsum(done) - done
            episodes = episode + ends_before
            starts = np.flatnonzero(done[:-1]) + 1
            pos = np.arange(n)
            k = np.searchsorted(starts, pos, side="right")
            steps = np.where(k > 0, pos - starts[np.maximum(k - 1, 0)] if starts.size else pos, pos + step)
            if n:
                episode += int(done.sum())
                step = 0 if done[-1] else int(steps[-1]) + 1
            schema = tuple((first + i, spec_row_violations(rows[i], first + i, shape, n_actions, contract),
                            int(episodes[i]), int(steps[i])) for i in np.flatnonzero(~plain).tolist())
            sel = [rows[i] for i in np.flatnonzero(plain).tolist()]
            k = len(sel)
            idx = np.flatnonzero(plain) + first
            obs = np.array([tj["obs"] for tj in sel], dtype=np.float64).reshape(k, *dims)
            nxt = np.array([tj["next_obs"] for tj in sel], dtype=np.float64).reshape(k, *dims)
            if action_dims is None:
                act = np.fromiter((tj["action"] for tj in sel), dtype=np.int64, count=k)
            else:
                act = np.array([tj["action"] for tj in sel], dtype=np.float64).reshape(k, *action_dims)
            rew = np.fromiter((tj["reward"] for tj in sel), dtype=np.float64, count=k)
            te = np.fromiter((tj["terminated"] for tj in sel), dtype=bool, count=k)
            tr = np.fromiter((tj["truncated"] for tj in sel), dtype=bool, count=k)
            yield Chunk(idx, obs, nxt, act, rew, te, tr, episode=episodes[plain], step=steps[plain], schema=schema)
        data.n = total

    def word(i: int) -> list[Violation]:
        return spec_row_violations(current[i], i, shape, n_actions, contract)

    meta = json_meta(members)
    replay = ReplayInfo(env=meta.get("env_id"), seeds=(meta["seed"],) if "seed" in meta else ())
    data = RecordedData(format="json", naming="interchange", n=0, chunks=chunks, names={}, replay=replay,
                        obs_row_shape=dims, action_row_shape=() if action_dims is None else action_dims,
                        meta={"exporter_meta": meta} if meta else {}, word_row=word)
    return data


def document_batches(doc: dict, batch_rows: int = DEFAULT_BATCH_ROWS) -> "Callable[[], Iterator[tuple[int, list]]]":
    """A whole document's transitions as batches (the reader of a document already in memory)."""
    rows = doc["transitions"]
    return lambda: ((i, rows[i:i + batch_rows]) for i in range(0, len(rows), batch_rows))
