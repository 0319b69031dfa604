"""The rollout interchange file: strict parsing and validation of external transitions.

Mirrors TorchLean's ``NN.Runtime.RL.Boundary.Json`` (``NN/Runtime/RL/Boundary/Json.lean``,
lean-dojo/TorchLean at 411682f6c3d913e5cdbc27d4546b3ab7ac0e3e9c): the schema

    {"transitions": [{"obs": <nested arrays of obs_shape>, "action": <nat>, "reward": <float>,
                      "terminated": <bool>, "truncated": <bool>, "next_obs": <nested arrays>}, ...]}

``parseNatStrict``, ``parseBool``, ``parseFloat``, ``parseTensorE``, ``parseTransitionJson``,
``loadRollout`` (stops at the first bad transition) and ``loadRolloutAll`` (one result per
transition, never stops early).

Parsing is strict, stricter than Python's ``json`` module by default: the non-standard tokens
``NaN``, ``Infinity`` and ``-Infinity`` are rejected (as a violation of the transition and field
that holds them, so ``load_rollout_all`` still reports every other transition), booleans are not numbers, an action must be
a non-negative integral number, tensors must match ``obs_shape`` exactly, and every field must be
present. The text is read by :mod:`rollcheck.spec.strict_json`: nesting is bounded, a repeated key
is a violation naming it, and an action is judged from its decimal text (``0.99999999999999999``
is refused although its float is ``1.0``; Lean's ``parseNatStrict`` goes through ``Float`` and
would round it, rollcheck is stricter here on purpose). Each problem is a :class:`~rollcheck.spec.errors.Violation` naming the transition index
and the field; *all* problems of a transition are reported together.

**Continuous actions** (rollcheck's extension; TorchLean's files hold ``Fin nActions`` only): with a
:class:`~rollcheck.spec.box.Box` in place of ``n_actions`` the ``action`` of each transition is a
nested array of the Box's shape (``"action": [0.25]`` for Pendulum), checked by the Box contract
(real, finite, within the bounds: the file records the action the environment received, i.e. after
clipping). Such a file carries its space in an optional top-level header,
``"action_space": {"type": "box", "shape": [1], "low": [-2.0], "high": [2.0], "dtype": "float32"}``
(:func:`~rollcheck.spec.box.box_to_json`; ``null`` bounds are unbounded), which
:func:`rollout_action_space` reads; a loader given ``n_actions=None`` uses it.

The parsing functions are pure (text in, values out); ``load_rollout``/``load_rollout_all`` add the
single file read, which is this module's only I/O. Their ``torchlean=True`` mode answers as
TorchLean itself would (first error per transition, TorchLean's wording, a NaN token refusing the
whole file): :mod:`rollcheck.spec.torchlean_boundary`.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any, Iterable, Union

from .arguments import check_count
from .box import Box, box_from_json, box_to_json
from .contract import Contract, checked_transition_value, transition_violations
from .errors import ContractViolation, ArgumentError, Violation, format_value
from .shape import Shape, as_shape, unflatten
from .strict_json import DEFAULT_MAX_DEPTH, DuplicateKeyObject, InexactFloat, loads_strict
from .torchlean_boundary import RULE as LEAN_RULE, TorchLeanFileError, lean_rollout_results
from .transition import Transition

__all__ = ["TRANSITION_FIELDS", "TorchLeanFileError", "TransitionResult", "load_rollout", "load_rollout_all",
           "parse_document", "parse_rollout_text", "parse_transition_json", "rollout_action_space",
           "transitions_to_json", "dumps_rollout"]

TRANSITION_FIELDS = ("obs", "action", "reward", "terminated", "truncated", "next_obs")

TransitionResult = Union[Transition, ContractViolation]


class NonStandardToken:
    """A ``NaN``/``Infinity``/``-Infinity`` token read from the file (kept so the transition that
    holds it, and the field, can be named; it is never accepted as a number)."""

    __slots__ = ("token",)

    def __init__(self, token: str) -> None:
        self.token = token

    def __repr__(self) -> str:
        return self.token


def _contains_token(j: Any) -> "NonStandardToken | None":
    if isinstance(j, NonStandardToken):
        return j
    if isinstance(j, list):
        for item in j:
            found = _contains_token(item)
            if found is not None:
                return found
    return None


def _file_error(field: str, value: Any, message: str) -> ContractViolation:
    return ContractViolation([Violation(field, value, "Boundary.Json", message)])


def parse_document(text: "str | bytes", max_depth: int = DEFAULT_MAX_DEPTH) -> dict:
    """The top-level object of an interchange document, read by
    :func:`~rollcheck.spec.strict_json.loads_strict` (bounded depth; a repeated top-level key is a
    file error naming it; numbers exact where an action needs it); ``transitions`` is an array.
    Other top-level keys (an exporter's ``meta`` block) are kept for the caller, as Lean ignores them."""
    try:
        doc = loads_strict(text, max_depth=max_depth, exact_numbers=False, parse_constant=NonStandardToken)
        if isinstance(doc, dict) and isinstance(doc.get("transitions"), list) and any(
                isinstance(tj, dict) and type(tj.get("action")) is float
                for tj in doc["transitions"]):
            # A fractional action: read the numbers again from their text (0.99999999999999999 is not 1).
            doc = loads_strict(text, max_depth=max_depth, exact_numbers=True, parse_constant=NonStandardToken)
    except ValueError as exc:
        raise _file_error("file", format_value(text[:40]), f"bad JSON: {exc}") from None
    if not isinstance(doc, dict):
        raise _file_error("file", type(doc).__name__, "top-level JSON must be an object")
    if isinstance(doc, DuplicateKeyObject):
        raise _file_error(doc.duplicates[0], None, f"duplicate top-level key(s) {list(doc.duplicates)}: "
                          "a JSON object names each key once (a later copy would silently win)")
    if "transitions" not in doc:
        raise _file_error("transitions", None, "missing required field `transitions`")
    transitions = doc["transitions"]
    if not isinstance(transitions, list):
        raise _file_error("transitions", type(transitions).__name__, "field `transitions` must be an array")
    return doc


def _parse_document(text: "str | bytes") -> list[Any]:
    return parse_document(text)["transitions"]


def rollout_action_space(text: "str | bytes") -> "Box | None":
    """The ``Box`` of a rollout document's ``"action_space"`` header, or ``None`` when it has none."""
    doc = parse_document(text)
    if "action_space" not in doc:
        return None
    try:
        return box_from_json(doc["action_space"])
    except ArgumentError as exc:
        raise _file_error("action_space", format_value(doc["action_space"]), str(exc)) from None


def _space(text: "str | bytes", n_actions: Any) -> "int | Box":
    """``n_actions`` (an int or a Box) as given, else the document's ``action_space`` header."""
    if n_actions is None:
        space = rollout_action_space(text)
        if space is None:
            raise ArgumentError("n_actions=None but the file has no \"action_space\" header")
        return space
    if isinstance(n_actions, Box):
        return n_actions
    return check_count("n_actions", n_actions)


def _parse_action(j: Any) -> Any:
    """Lean ``parseNatStrict``: an integral, non-negative JSON number (``2`` or ``2.0``)."""
    if isinstance(j, bool) or not isinstance(j, (int, float)):
        return Violation("action", format_value(j), "Boundary.Json.parseNatStrict",
                         f"expected a non-negative integer JSON number, got {format_value(j)}")
    if isinstance(j, InexactFloat):
        return Violation("action", j.text, "Boundary.Json.parseNatStrict",
                         f"expected an exact integer JSON number, got {j.text} (its decimal value is not an integer)")
    if isinstance(j, float):
        if math.isnan(j) or math.isinf(j) or not j.is_integer():
            return Violation("action", j, "Boundary.Json.parseNatStrict",
                             f"expected an integer JSON number, got {j}")
        j = int(j)
    if j < 0:
        return Violation("action", j, "Boundary.Json.parseNatStrict", f"expected a non-negative integer, got {j}")
    return j


def parse_transition_json(j: Any, obs_shape: "Shape | Iterable[int]", n_actions: "int | Box",
                          contract: "Contract | None" = None) -> Transition:
    """Parse and validate one transition object (Lean ``parseTransitionJson``).

    ``n_actions`` is ``Fin n`` (an int) or a :class:`Box` (then ``action`` is a nested float array).
    Raises :class:`ContractViolation` with every problem found in this transition.
    """
    box = n_actions if isinstance(n_actions, Box) else None
    contract = Contract() if contract is None else contract
    shape = as_shape(obs_shape)
    if not isinstance(j, dict):
        raise ContractViolation([Violation("transition", format_value(j), "Boundary.Json",
                                           "transition must be a JSON object")])
    violations = [Violation(f, None, "Boundary.Json", f"transition missing field `{f}`")
                  for f in TRANSITION_FIELDS if f not in j]
    if isinstance(j, DuplicateKeyObject):
        violations += [Violation("transition", key, "Boundary.Json",
                                 f"duplicate key `{key}` in transition (each field is named once)")
                       for key in j.duplicates]
    # A missing field is reported and then stands in as a placeholder, so the other fields of the
    # transition are still checked (every problem of a transition is reported together).
    j = {"obs": [], "next_obs": [], "action": 0, "reward": 0.0, "terminated": False, "truncated": False, **j}
    for name in TRANSITION_FIELDS:
        token = _contains_token(j[name])
        if token is not None:
            violations.append(Violation(name, token.token, "Boundary.Json",
                                        f"non-standard JSON token {token.token} in `{name}` "
                                        "(NaN/Infinity are not JSON numbers)"))
    tokens = {v.field for v in violations}
    if box is not None:   # the Box contract below judges the nested array (shape, real, finite, bounds)
        action = j["action"] if "action" not in tokens else [0.0] * box.size
    else:
        action = _parse_action(j["action"]) if "action" not in tokens else 0
    if isinstance(action, Violation):
        violations.append(action)
        action = 0  # placeholder so the other fields are still checked
    for name in ("terminated", "truncated"):
        if name not in tokens and not isinstance(j[name], bool):
            violations.append(Violation(name, format_value(j[name]), "Boundary.Json.parseBool",
                                        f"expected `{name}` to be a JSON boolean"))
    if "reward" not in tokens and (isinstance(j["reward"], bool) or not isinstance(j["reward"], (int, float))):
        violations.append(Violation("reward", format_value(j["reward"]), "Boundary.Json.parseFloat",
                                    "expected `reward` to be a JSON number"))
    structural = {v.field for v in violations}
    rest = transition_violations(contract, j["obs"] if "obs" not in structural else [],
                                 j["next_obs"] if "next_obs" not in structural else [], action,
                                 j["reward"] if "reward" not in structural else 0.0,
                                 j["terminated"] if "terminated" not in structural else False,
                                 j["truncated"] if "truncated" not in structural else False,
                                 obs_shape=shape, action_space=n_actions)
    for v in rest:
        field = {"observation": "obs", "next_observation": "next_obs"}.get(v.field, v.field)
        if field not in structural:
            violations.append(Violation(field, v.value, v.rule, v.message.replace(v.field, field)))
    if violations:
        raise ContractViolation(violations)
    # ``transition_violations`` above found nothing: build the value without checking again.
    return checked_transition_value(j["obs"], j["next_obs"], action, j["reward"], j["terminated"], j["truncated"],
                                    shape, n_actions)


def parse_rollout_text(text: str, obs_shape: "Shape | Iterable[int]", n_actions: "int | Box | None",
                       contract: "Contract | None" = None) -> list[TransitionResult]:
    """One result per transition of an interchange document: a ``Transition`` or the ``ContractViolation``.

    ``n_actions``: an int (``Fin n``), a :class:`Box`, or ``None`` to use the file's ``action_space`` header.
    """
    n_actions = _space(text, n_actions)
    shape = as_shape(obs_shape)
    results: list[TransitionResult] = []
    for i, tj in enumerate(_parse_document(text)):
        try:
            results.append(parse_transition_json(tj, shape, n_actions, contract))
        except ContractViolation as exc:
            results.append(exc.at(i))
    return results


def _read(path: "str | Path") -> str:
    try:
        return Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise _file_error("file", str(path), f"cannot read rollout file: {exc}") from None


def _lean_results(path: "str | Path", obs_shape: Any, n_actions: int,
                  contract: "Contract | None") -> list[TransitionResult]:
    """TorchLean's ``loadRolloutAll`` (:mod:`rollcheck.spec.torchlean_boundary`), each error message
    as a one-violation ``ContractViolation`` at its transition."""
    out: list[TransitionResult] = []
    for i, r in enumerate(lean_rollout_results(_read(path), obs_shape, n_actions, contract)):
        out.append(ContractViolation([Violation("transition", None, LEAN_RULE, r, i)]) if isinstance(r, str) else r)
    return out


def load_rollout_all(path: "str | Path", obs_shape: "Shape | Iterable[int]", n_actions: "int | Box | None",
                     contract: "Contract | None" = None, *, torchlean: bool = False) -> list[TransitionResult]:
    """Load a rollout file; one result per transition (Lean ``loadRolloutAll``), never stopping early.

    ``torchlean=True`` answers as TorchLean would: its parse order, its first error per transition,
    its wording, and a NaN/Infinity token refusing the whole file (:class:`TorchLeanFileError`).
    """
    if torchlean:
        return _lean_results(path, obs_shape, n_actions, contract)
    return parse_rollout_text(_read(path), obs_shape, n_actions, contract)


def load_rollout(path: "str | Path", obs_shape: "Shape | Iterable[int]", n_actions: "int | Box | None",
                 contract: "Contract | None" = None, *, torchlean: bool = False) -> list[Transition]:
    """Load a rollout file; raise the first bad transition's ``ContractViolation`` (Lean ``loadRollout``).

    ``torchlean=True``: accept exactly what TorchLean's ``loadRollout`` accepts and raise its message
    (see :func:`load_rollout_all`).
    """
    if torchlean:
        accepted: list[Transition] = []
        for r in _lean_results(path, obs_shape, n_actions, contract):
            if isinstance(r, ContractViolation):
                raise r
            accepted.append(r)
        return accepted
    text = _read(path)
    n_actions = _space(text, n_actions)   # an int, a Box, or None: the file's action_space header
    shape = as_shape(obs_shape)
    out: list[Transition] = []
    for i, tj in enumerate(_parse_document(text)):
        try:
            out.append(parse_transition_json(tj, shape, n_actions, contract))
        except ContractViolation as exc:
            raise exc.at(i) from None
    return out


def _tensor_json(arr: Any, field: str, index: int) -> Any:
    flat = [float(x) for x in (arr.ravel().tolist() if hasattr(arr, "ravel") else [arr])]
    for x in flat:
        if math.isnan(x) or math.isinf(x):
            raise ArgumentError(f"transition {index}, field {field!r}: {x} cannot be written as a JSON number")
    return unflatten(flat, Shape(tuple(getattr(arr, "shape", ()))))


def transitions_to_json(transitions: Iterable[Transition], action_space: "Box | None" = None) -> dict:
    """The interchange document for ``transitions`` (finite values only; JSON has no NaN/inf).

    A continuous action (an array) is written as a nested float array; with ``action_space`` (a
    :class:`Box`) the document starts with its ``"action_space"`` header.
    """
    out = []
    for i, t in enumerate(transitions):
        if math.isnan(t.reward) or math.isinf(t.reward):
            raise ArgumentError(f"transition {i}, field 'reward': {t.reward} cannot be written as a JSON number")
        action = _tensor_json(t.action, "action", i) if hasattr(t.action, "shape") else t.action
        out.append({"obs": _tensor_json(t.observation, "obs", i), "action": action, "reward": t.reward,
                    "terminated": t.terminated, "truncated": t.truncated,
                    "next_obs": _tensor_json(t.next_observation, "next_obs", i)})
    if action_space is None:
        return {"transitions": out}
    if not isinstance(action_space, Box):
        raise ArgumentError(f"action_space={action_space!r:.80} should be a rollcheck.spec.Box")
    return {"action_space": box_to_json(action_space), "transitions": out}


def dumps_rollout(transitions: Iterable[Transition], action_space: "Box | None" = None) -> str:
    """:func:`transitions_to_json` as strict JSON text (``allow_nan=False``)."""
    return json.dumps(transitions_to_json(transitions, action_space), allow_nan=False)
