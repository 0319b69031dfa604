"""Validate a recorded rollout file (interchange JSON or ``.npz``) and report *every* bad transition.

Mirrors TorchLean's ``NN.Runtime.RL.Boundary.Json.loadRolloutAll`` (one result per transition,
never stopping early) on top of ``Boundary.Core.checkTransitionFin``. Two formats:

- **JSON** — the interchange schema of :mod:`rollcheck.spec.boundary_json`
  (``{"transitions": [{"obs", "action", "reward", "terminated", "truncated", "next_obs"}, ...]}``),
  parsed exactly as strictly as the spec (``NaN``/``Infinity`` tokens, booleans as numbers, a
  negative or fractional action, ragged tensors are all violations). The document is parsed once;
  the rows whose every field is plainly well-typed go into numpy arrays and through
  :mod:`rollcheck.impl.fast_checks`; the spec's ``parse_transition_json`` then runs only on the
  rows that are not plain or that the masks flag, so the violations are the spec's own, word for
  word (tested against ``rollcheck.spec.parse_rollout_text``).
- **npz** — ``numpy.savez`` arrays named ``obs (N, *obs_shape)``, ``actions (N,)``, ``rewards (N,)``,
  ``terminated (N,)``, ``truncated (N,)``, ``next_obs (N, *obs_shape)``, loaded with
  ``allow_pickle=False`` (object arrays are refused with an error naming the array). Row ``i`` is
  judged by ``rollcheck.spec.transition_violations`` on ``(obs[i], next_obs[i], actions[i], ...)``.
  A whole column of a dtype or row shape the contract refuses (``terminated`` stored as ``int8``,
  ``obs`` of shape ``(N, 3)`` for ``obs_shape=[4]``) is reported once for the column, naming how
  many transitions it covers, and the other columns are still checked row by row.

Each violated rule is a named property (``recorded.action_in_range``, ``recorded.done_flags``,
``recorded.reward_contract``, ``recorded.observation_contract``,
``recorded.next_observation_contract``, ``recorded.transition_schema``), with one finding per
violation (the transition index is the finding's ``step``). An unreadable file (missing, bad JSON,
no ``transitions``, a missing or object ``.npz`` array, columns of different lengths) is
``Report.error`` (exit status 2).
"""

from __future__ import annotations

import time
import zipfile
from pathlib import Path
from typing import Any, Iterable

import numpy as np

from rollcheck.impl.fast_checks import batch_bad_mask, batch_transition_violations
from rollcheck.spec.boundary_json import _parse_document, parse_transition_json
from rollcheck.spec.contract import Contract, transition_violations
from rollcheck.spec.errors import RollcheckError, ContractViolation, ArgumentError, Violation
from rollcheck.spec.shape import Shape, as_shape

from rollcheck.properties.core.property import Property, PropertySet
from rollcheck.properties.core.report import Finding, PropertyResult, Report

__all__ = ["NPZ_ARRAYS", "RECORDED_PROPERTIES", "RolloutFileError", "json_rollout_violations",
           "load_npz_columns", "npz_rollout_violations", "validate_rollout_file"]

NPZ_ARRAYS = ("obs", "actions", "rewards", "terminated", "truncated", "next_obs")


class RolloutFileError(RollcheckError, ValueError):
    """The file cannot be read as a rollout at all (exit status 2)."""


def _of_fields(*fields: str):
    def check(violations: "list[Violation]") -> list[Violation]:
        return [v for v in violations if v.field in fields]
    return check


RECORDED_PROPERTIES = PropertySet([
    Property("recorded.transition_schema", "Boundary.Json.parseTransitionJson",
             "every transition is a JSON object with the six fields", _of_fields("transition")),
    Property("recorded.action_in_range", "Boundary.Core.checkAction",
             "every action is an integer in [0, n_actions)", _of_fields("action", "actions")),
    Property("recorded.done_flags", "Boundary.Core.checkDoneFlags",
             "terminated and truncated are booleans (exclusive when the contract says so)",
             _of_fields("terminated", "truncated")),
    Property("recorded.reward_contract", "Boundary.Core.checkReward",
             "every reward is a real number satisfying the contract", _of_fields("reward", "rewards")),
    Property("recorded.observation_contract", "Boundary.Core.checkObservation",
             "every observation has obs_shape and satisfies the contract", _of_fields("obs", "observation")),
    Property("recorded.next_observation_contract", "Boundary.Core.checkObservation",
             "every next observation has obs_shape and satisfies the contract",
             _of_fields("next_obs", "next_observation")),
])
_KNOWN_FIELDS = {"transition", "action", "actions", "terminated", "truncated", "reward", "rewards", "obs",
                 "observation", "next_obs", "next_observation"}


# ---------------------------------------------------------------------------------------------
# JSON
# ---------------------------------------------------------------------------------------------

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


def _plain_row(tj: Any, dims: tuple[int, ...]) -> bool:
    """Every field present and of exactly the JSON type the arrays can hold without loss."""
    if type(tj) is not dict:
        return False
    try:
        a, r = tj["action"], tj["reward"]
        te, tr, o, no = tj["terminated"], tj["truncated"], tj["obs"], tj["next_obs"]
    except KeyError:
        return False
    return (type(a) is int and 0 <= a < 2 ** 62 and type(te) is bool and type(tr) is bool
            and _leaf(r) and _plain_tensor(o, dims) and _plain_tensor(no, dims))


def _spec_row(tj: Any, i: int, shape: Shape, n_actions: int, contract: Contract) -> list[Violation]:
    try:
        parse_transition_json(tj, shape, n_actions, contract)
    except ContractViolation as exc:
        return list(exc.at(i).violations)
    return []


def json_rollout_violations(text: str, obs_shape: "Shape | Iterable[int]", n_actions: int,
                            contract: "Contract | None" = None) -> tuple[int, list[Violation]]:
    """``(number of transitions, every violation)`` of an interchange document, in transition order.

    Equal to the violations of ``rollcheck.spec.parse_rollout_text`` (the oracle). Raises
    :class:`RolloutFileError` when the document itself is unreadable.
    """
    contract = Contract() if contract is None else contract
    shape = as_shape(obs_shape)
    _check_n_actions(n_actions)
    try:
        rows = _parse_document(text)
    except ContractViolation as exc:
        raise RolloutFileError(str(exc)) from None
    plain = np.fromiter((_plain_row(tj, shape.dims) for tj in rows), dtype=bool, count=len(rows))
    idx = np.flatnonzero(plain)
    suspect = set(np.flatnonzero(~plain).tolist())
    if idx.size:
        sel = [rows[i] for i in idx.tolist()]
        obs = np.array([tj["obs"] for tj in sel], dtype=np.float64).reshape(len(sel), *shape.dims)
        nxt = np.array([tj["next_obs"] for tj in sel], dtype=np.float64).reshape(len(sel), *shape.dims)
        act = np.fromiter((tj["action"] for tj in sel), dtype=np.int64, count=len(sel))
        rew = np.fromiter((tj["reward"] for tj in sel), dtype=np.float64, count=len(sel))
        te = np.fromiter((tj["terminated"] for tj in sel), dtype=bool, count=len(sel))
        tr = np.fromiter((tj["truncated"] for tj in sel), dtype=bool, count=len(sel))
        bad = batch_bad_mask(contract, obs, nxt, act, rew, te, tr, obs_shape=shape, n_actions=n_actions)
        suspect.update(idx[bad].tolist())
    out: list[Violation] = []
    for i in sorted(suspect):
        out.extend(_spec_row(rows[i], i, shape, n_actions, contract))
    return len(rows), out


# ---------------------------------------------------------------------------------------------
# npz
# ---------------------------------------------------------------------------------------------

def load_npz_columns(path: "str | Path") -> dict[str, np.ndarray]:
    """The six arrays of a rollout ``.npz`` (no pickle), or :class:`RolloutFileError` naming the problem."""
    try:
        archive = np.load(path, allow_pickle=False)
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as exc:
        raise RolloutFileError(f"cannot read {str(path)!r} as .npz: {exc}") from None
    with archive:
        if not hasattr(archive, "files"):
            raise RolloutFileError(f"{str(path)!r} holds a single array, not an .npz archive of {NPZ_ARRAYS}")
        missing = [name for name in NPZ_ARRAYS if name not in archive.files]
        if missing:
            raise RolloutFileError(f"{str(path)!r} is missing array(s) {missing}; it holds {sorted(archive.files)} "
                                   f"and a rollout needs {list(NPZ_ARRAYS)}")
        cols = {}
        for name in NPZ_ARRAYS:
            try:
                cols[name] = archive[name]
            except ValueError as exc:
                raise RolloutFileError(
                    f"array {name!r} in {str(path)!r} is an object array ({exc}); rollcheck reads .npz "
                    "with allow_pickle=False, so store numeric (and bool) arrays only") from None
    _check_columns(cols)
    return cols


def _check_columns(cols: dict[str, np.ndarray]) -> None:
    for name, arr in cols.items():
        if arr.dtype.kind == "O":
            raise RolloutFileError(f"array {name!r} has dtype object; store numeric (and bool) arrays only")
        if arr.ndim == 0:
            raise RolloutFileError(f"array {name!r} is 0-d; every array needs a leading dimension N")
        if name not in ("obs", "next_obs") and arr.ndim != 1:
            raise RolloutFileError(f"array {name!r} has shape {list(arr.shape)}; expected (N,)")
    lengths = {name: int(arr.shape[0]) for name, arr in cols.items()}
    if len(set(lengths.values())) > 1:
        raise RolloutFileError(f"arrays have different lengths: {lengths}")


def _neutral(name: str, n: int, shape: Shape, contract: Contract) -> np.ndarray:
    """A column that satisfies the contract, standing in for a column reported as a whole."""
    if name in ("obs", "next_obs"):
        fill = contract.obs_range[0] if contract.obs_range else 0.0
        return np.full((n, *shape.dims), fill)
    if name == "rewards":
        return np.full(n, contract.reward_range[0] if contract.reward_range else 0.0)
    if name == "actions":
        return np.zeros(n, dtype=np.int64)
    return np.zeros(n, dtype=bool)


def npz_rollout_violations(cols: dict[str, np.ndarray], obs_shape: "Shape | Iterable[int]", n_actions: int,
                           contract: "Contract | None" = None) -> tuple[list[Violation], list[Violation]]:
    """``(column_violations, row_violations)`` of the six arrays (see the module docstring)."""
    contract = Contract() if contract is None else contract
    shape = as_shape(obs_shape)
    _check_n_actions(n_actions)
    _check_columns(cols)
    n = int(cols["obs"].shape[0])
    column_violations: list[Violation] = []
    use = dict(cols)
    for name in NPZ_ARRAYS:
        arr = cols[name]
        refused_dtype = arr.dtype.kind not in ("f", "i", "u", "b") or (
            name in ("terminated", "truncated") and arr.dtype != np.bool_) or (
            name in ("actions", "rewards") and arr.dtype == np.bool_) or (
            name in ("obs", "next_obs") and (arr.dtype == np.bool_ or tuple(arr.shape[1:]) != shape.dims))
        if not refused_dtype or n == 0:
            continue
        # Word the column's problem exactly as the spec words it for row 0.
        row0 = {k: (cols[k][0] if k == name else _neutral(k, 1, shape, contract)[0]) for k in NPZ_ARRAYS}
        example = transition_violations(contract, row0["obs"], row0["next_obs"], row0["actions"], row0["rewards"],
                                        row0["terminated"], row0["truncated"], obs_shape=shape, n_actions=n_actions)
        first = example[0] if example else None
        what = f"dtype {arr.dtype}, row shape {list(arr.shape[1:])}"
        message = (f"every one of the {n} transitions: {first.message if first else 'refused'} "
                   f"(column `{name}` has {what})")
        column_violations.append(Violation(name, what, first.rule if first else "Spec.Tensor Float", message))
        use[name] = _neutral(name, n, shape, contract)
    rows = batch_transition_violations(contract, use["obs"], use["next_obs"], use["actions"], use["rewards"],
                                       use["terminated"], use["truncated"], obs_shape=shape, n_actions=n_actions)
    return column_violations, rows


# ---------------------------------------------------------------------------------------------
# The report
# ---------------------------------------------------------------------------------------------

def _check_n_actions(n_actions: Any) -> None:
    if isinstance(n_actions, bool) or not isinstance(n_actions, int) or n_actions <= 0:
        raise ArgumentError(f"n_actions={n_actions!r} should be a positive int (NeZero nActions)")


def _reproducer(path: Path, fmt: str, shape: Shape, n_actions: int, contract: Contract, index: "int | None") -> str:
    if fmt == "json":
        return (f"from rollcheck.spec import Contract, load_rollout_all\n"
                f"results = load_rollout_all({str(path)!r}, {shape.to_list()}, {n_actions}, {contract!r})\n"
                f"print(results[{index}])")
    return (f"import numpy as np\nfrom rollcheck.spec import Contract, transition_violations\n"
            f"d = np.load({str(path)!r}, allow_pickle=False); i = {index if index is not None else 0}\n"
            f"print(transition_violations({contract!r}, d['obs'][i], d['next_obs'][i], d['actions'][i], "
            f"d['rewards'][i], d['terminated'][i], d['truncated'][i], obs_shape={shape.to_list()}, "
            f"n_actions={n_actions}))")


def _detect_format(path: Path) -> str:
    if path.suffix.lower() == ".npz":
        return "npz"
    try:
        with open(path, "rb") as fh:
            magic = fh.read(4)
    except OSError as exc:
        raise RolloutFileError(f"cannot read rollout file {str(path)!r}: {exc}") from None
    return "npz" if magic == b"PK\x03\x04" else "json"


def validate_rollout_file(path: "str | Path", obs_shape: "Shape | Iterable[int]", n_actions: int,
                          contract: "Contract | None" = None) -> Report:
    """Check every transition of a recorded rollout (JSON or ``.npz``) against ``contract``.

    Returns a :class:`Report`: exit code 0 when every transition satisfies the contract, 1 when
    any does not (every bad transition is a finding), 2 when the file cannot be read.
    """
    contract = Contract() if contract is None else contract
    if not isinstance(contract, Contract):
        raise ArgumentError(f"contract={contract!r:.80} should be a rollcheck.spec.Contract")
    shape = as_shape(obs_shape)
    _check_n_actions(n_actions)
    path = Path(path)
    start = time.perf_counter()
    report = Report(title="rollcheck rollout", target=str(path),
                    meta={"obs_shape": shape.pretty(), "n_actions": n_actions, "contract": repr(contract)})
    try:
        fmt = _detect_format(path)
        report.meta["format"] = fmt
        if fmt == "json":
            try:
                text = path.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as exc:
                raise RolloutFileError(f"cannot read rollout file {str(path)!r}: {exc}") from None
            n, violations = json_rollout_violations(text, shape, n_actions, contract)
            columns: list[Violation] = []
        else:
            cols = load_npz_columns(path)
            n = int(cols["obs"].shape[0])
            columns, violations = npz_rollout_violations(cols, shape, n_actions, contract)
    except RolloutFileError as exc:
        report.error = f"RolloutFileError: {exc}"
        report.duration_s = time.perf_counter() - start
        return report
    all_violations = columns + violations
    for prop in RECORDED_PROPERTIES:
        mine = prop.check(all_violations)
        if prop.id == "recorded.transition_schema":
            mine += [v for v in all_violations if v.field not in _KNOWN_FIELDS]
        result = PropertyResult(prop.id, prop.lean, prop.statement, examples=1, steps=n)
        for k, v in enumerate(mine):
            message = str(v) if v.index is not None else f'field "{v.field}": {v.message} ({v.rule})'
            reproducer = _reproducer(path, fmt, shape, n_actions, contract, v.index) if k == 0 else None
            result.fail(Finding(message=message, step=v.index, expected=v.rule, actual=v.value, reproducer=reproducer,
                                context={"field": v.field, "rule": v.rule}))
        report.results.append(result)
    bad = sorted({v.index for v in violations}) if not columns else list(range(n))
    report.meta.update({"transitions": n, "bad_transitions": len(bad),
                        "violations": len(all_violations), "bad_transition_indices": bad[:1000]})
    report.duration_s = time.perf_counter() - start
    return report
