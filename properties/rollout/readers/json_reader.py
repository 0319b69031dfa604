"""Reading TorchLean's interchange JSON into columns (with or without an exporter ``meta`` block).

Mirrors TorchLean's ``NN.Runtime.RL.Boundary.Json`` (``loadRolloutAll``: one result per
transition). The document is read once by :func:`rollcheck.spec.boundary_json.parse_document`
(bounded depth, no duplicate keys, exact action numbers). Rows whose every field is plainly
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

from typing import Any, Iterator

import numpy as np

from rollcheck.spec.boundary_json import parse_document, parse_transition_json
from rollcheck.spec.box import Box
from rollcheck.spec.contract import Contract
from rollcheck.spec.errors import ContractViolation, Violation
from rollcheck.spec.shape import Shape

from rollcheck.properties.rollout.readers.chunk import Chunk, RecordedData, ReplayInfo
from rollcheck.properties.rollout.readers.errors import RolloutFileError
from rollcheck.properties.rollout.readers.source import RolloutSource

__all__ = ["META_KEYS", "json_document", "json_meta", "read_json", "spec_row_violations"]

META_KEYS = ("obs_shape", "n_actions", "env_id", "seed")
_BIG = 1e300  # ints beyond this go to the spec (float conversion, overflow messages)


def _leaf(x: Any) -> bool:
    t = type(x)
    return t is float or (t is int and -_BIG < x < _BIG)


def _plain_tensor(x: Any, dims: tuple[int, ...], depth: int = 0) -> bool:
    if depth == len(dims):
        return _leaf(x)
    if type(x) is not list or len(x) != dims[depth]:
        return False
    if depth == len(dims) - 1:
        return all(_leaf(y) for y in x)
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


def read_json(source: RolloutSource, doc: dict, shape: Shape, n_actions: "int | Box",
              contract: Contract) -> RecordedData:
    """The plain rows of ``doc`` as one array chunk; the other rows judged by the spec (see above)."""
    rows = doc["transitions"]
    n = len(rows)
    action_dims = n_actions.shape.dims if isinstance(n_actions, Box) else None
    plain = np.fromiter((_plain_row(tj, shape.dims, action_dims) for tj in rows), dtype=bool, count=n)
    idx = np.flatnonzero(plain)
    dims = shape.dims

    def chunks() -> Iterator[Chunk]:
        if idx.size == 0:
            return
        sel = [rows[i] for i in idx.tolist()]
        k = len(sel)
        obs = np.array([tj["obs"] for tj in sel], dtype=np.float64).reshape(k, *dims)
        nxt = np.array([tj["next_obs"] for tj in sel], dtype=np.float64).reshape(k, *dims)
        if action_dims is None:
            act = np.fromiter((tj["action"] for tj in sel), dtype=np.int64, count=k)
        else:
            act = np.array([tj["action"] for tj in sel], dtype=np.float64).reshape(k, *action_dims)
        rew = np.fromiter((tj["reward"] for tj in sel), dtype=np.float64, count=k)
        te = np.fromiter((tj["terminated"] for tj in sel), dtype=bool, count=k)
        tr = np.fromiter((tj["truncated"] for tj in sel), dtype=bool, count=k)
        # Episodes are counted over every row whose flags are booleans (the others end none).
        done = np.fromiter(((type(tj) is dict and (tj.get("terminated") is True or tj.get("truncated") is True))
                            for tj in rows), dtype=bool, count=n)
        episode_all = np.cumsum(done) - done
        starts = np.flatnonzero(np.concatenate(([True], done[:-1])))
        step_all = np.arange(n) - starts[np.searchsorted(starts, np.arange(n), side="right") - 1]
        yield Chunk(idx, obs, nxt, act, rew, te, tr, episode=episode_all[idx], step=step_all[idx])

    def spec_rows() -> Iterator[tuple[int, list[Violation]]]:
        for i in np.flatnonzero(~plain).tolist():
            yield i, spec_row_violations(rows[i], i, shape, n_actions, contract)

    meta = json_meta(doc)
    replay = ReplayInfo(env=meta.get("env_id"), seeds=(meta["seed"],) if "seed" in meta else ())
    return RecordedData(format="json", naming="interchange", n=n, chunks=chunks, names={},
                        schema_violations=spec_rows, replay=replay, obs_row_shape=dims,
                        action_row_shape=() if action_dims is None else action_dims,
                        meta={"exporter_meta": meta} if meta else {},
                        word_row=lambda i: spec_row_violations(rows[i], i, shape, n_actions, contract))
