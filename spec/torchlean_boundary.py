"""TorchLean's own verdict on a rollout file: what ``loadRolloutAll`` would accept and say.

Mirrors ``NN/Runtime/RL/Boundary/Json.lean`` (``parseNatStrict``, ``parseBool``, ``parseFloat``,
``parseTensorE``, ``parseTransitionJson``, ``loadRollout``, ``loadRolloutAll``; read at
lean-dojo/TorchLean 411682f6c3d913e5cdbc27d4546b3ab7ac0e3e9c) over ``Boundary/Core.lean``'s
``checkTransition`` (read at 0f845313599795032960d487708c309e1fb2f40e) and
``Import.PyTorch.parseTensor``, with TorchLean's control flow and TorchLean's wording:

- a file-level problem (bad JSON — which includes every ``NaN``/``Infinity`` token, since Lean's
  ``Json.parse`` reads JSON numbers only —, a non-object top level, a missing or non-array
  ``transitions``) makes ``loadRolloutAll`` throw: nothing of the file is accepted;
- otherwise each transition gets ``ok`` or the *first* error of ``parseTransitionJson``: the six
  fields are looked up in the order ``obs, next_obs, action, reward, terminated, truncated``, then
  parsed in that order, then ``checkTransition`` checks the action range, the done flags, the
  reward, ``observation`` and ``nextObservation`` — one message, TorchLean stops there;
- numbers go through ``Float`` as in Lean (an action ``2**53 + 1`` is read as ``2**53``, ``2**64``
  as ``2**64 - 1``, larger ones fail ``parseNatStrict``; ``-0.0`` is read as ``0.0``), and floats in messages are printed as Lean's
  ``Float.toString`` prints them (C's ``%f``: ``1.500000``, ``NaN``, ``inf``).

Two things are rollcheck's approximation, not TorchLean's text: the parser's own message after
``RL boundary: bad JSON:`` (Python's ``json`` wording, not Lean's), and Lean's ``getObj?`` message
("object expected"), which rollcheck reproduces from Lean core, not from a TorchLean file.
rollcheck's own checker (:mod:`rollcheck.spec.boundary_json`) deliberately differs — every
violation of every transition, a NaN token failing only its transition — see the README's
"Deviations" table; this module exists so a user can ask what TorchLean itself would do.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Union

from .arguments import check_count
from .contract import Contract, checked_transition_value
from .errors import ContractViolation, Violation
from .shape import Shape, as_shape
from .transition import Transition

__all__ = ["LEAN_FIELD_ORDER", "TorchLeanFileError", "TorchLeanVerdict", "lean_float_str", "lean_rollout_results",
           "torchlean_verdict"]

LEAN_FIELD_ORDER = ("obs", "next_obs", "action", "reward", "terminated", "truncated")
RULE = "TorchLean Boundary.Json.loadRolloutAll"

LeanResult = Union[Transition, str]  # Lean's ``Except String (Transition obsShape nActions)``


class TorchLeanFileError(ContractViolation):
    """``loadRolloutAll`` itself throws (``IO.userError``): the whole file is refused."""

    def __init__(self, message: str) -> None:
        super().__init__([Violation("file", None, RULE, message)])
        self.lean_message = message


def lean_float_str(x: float) -> str:
    """Lean's ``toString`` on ``Float`` (``lean_float_to_string``: ``NaN``, ``inf``, ``-inf``, else C ``%f``)."""
    if math.isnan(x):
        return "NaN"
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    return f"{x:f}"


def _lean_float(n: Any) -> float:
    """``JsonNumber.toFloat``: the nearest double; beyond the float range, ``±inf``; and ``+0.0`` for
    zero (a ``JsonNumber`` is an ``Int`` mantissa and a decimal exponent: ``-0.0`` has no sign)."""
    try:
        f = float(n)
    except OverflowError:
        return math.inf if n > 0 else -math.inf
    return 0.0 if f == 0.0 else f


def _is_num(j: Any) -> bool:
    return isinstance(j, (int, float)) and not isinstance(j, bool)


def _parse_tensor(shape: "tuple[int, ...]", j: Any) -> Any:
    """``Import.PyTorch.parseTensor``: numbers at ``.scalar``, arrays of exactly ``n`` at ``.dim n s``; else ``None``."""
    if not shape:
        return _lean_float(j) if _is_num(j) else None
    if not isinstance(j, list) or len(j) != shape[0]:
        return None
    out = []
    for x in j:
        v = _parse_tensor(shape[1:], x)
        if v is None:
            return None
        out.append(v)
    return out


def _parse_nat_strict(j: Any) -> "int | str":
    if not _is_num(j):
        return "RL boundary: expected a JSON number."
    f = _lean_float(j)
    if math.isnan(f) or math.isinf(f):
        return f"RL boundary: expected integer JSON number, got {lean_float_str(f)}."
    if f < 0:
        return f"RL boundary: expected nonnegative integer, got {lean_float_str(f)}."
    u = min(int(f), 2**64 - 1) if f >= 1 else 0  # Float.toUInt64 truncates and saturates
    if float(u) == f:
        return u
    return f"RL boundary: expected integer JSON number, got {lean_float_str(f)}."


def _all(values: Any, pred: Any) -> bool:
    if isinstance(values, list):
        return all(_all(v, pred) for v in values)
    return pred(values)


def _check_transition(c: Contract, n_actions: int, obs: Any, next_obs: Any, action: int, reward: float,
                      terminated: bool, truncated: bool) -> "str | None":
    """``checkTransition``: the first failing check's message, or ``None``."""
    if not action < n_actions:
        return f"RL boundary: action out of range: {action} (nActions={n_actions})."
    if c.require_exclusive_done_flags and terminated and truncated:
        return "RL boundary: both `terminated` and `truncated` are true (contract requires exclusivity)."
    if c.check_reward_finite and not math.isfinite(reward):
        return f"RL boundary: expected finite reward, got {lean_float_str(reward)}."
    if c.reward_range is not None:
        lo, hi = c.reward_range
        if not (lo <= reward and reward <= hi):
            return (f"RL boundary: reward out of range: got {lean_float_str(reward)}, expected in "
                    f"[{lean_float_str(lo)}, {lean_float_str(hi)}].")
    for field, tensor in (("observation", obs), ("nextObservation", next_obs)):
        if c.check_obs_finite and not _all(tensor, math.isfinite):
            return f"RL boundary: expected finite {field} tensor (no NaNs/Infs)."
        if c.obs_range is not None:
            lo, hi = c.obs_range
            if not _all(tensor, lambda x: lo <= x and x <= hi):
                return (f"RL boundary: {field} tensor out of range: expected all entries in "
                        f"[{lean_float_str(lo)}, {lean_float_str(hi)}].")
    return None


def _parse_transition(c: Contract, shape: Shape, n_actions: int, j: Any) -> LeanResult:
    """``parseTransitionJson``: a checked ``Transition`` or TorchLean's first error message."""
    if not isinstance(j, dict):
        return "RL boundary: transition must be an object: object expected"
    for field in LEAN_FIELD_ORDER:
        if field not in j:
            return f"RL boundary: transition missing field `{field}`."
    obs = _parse_tensor(shape.dims, j["obs"])
    if obs is None:
        return f"RL boundary: `obs` did not match the expected shape {shape.pretty()}."
    next_obs = _parse_tensor(shape.dims, j["next_obs"])
    if next_obs is None:
        return f"RL boundary: `next_obs` did not match the expected shape {shape.pretty()}."
    action = _parse_nat_strict(j["action"])
    if isinstance(action, str):
        return action
    if not _is_num(j["reward"]):
        return "RL boundary: expected `reward` to be a JSON number."
    reward = _lean_float(j["reward"])
    for field in ("terminated", "truncated"):
        if not isinstance(j[field], bool):
            return f"RL boundary: expected `{field}` to be a JSON boolean."
    error = _check_transition(c, n_actions, obs, next_obs, action, reward, j["terminated"], j["truncated"])
    if error is not None:
        return error
    return checked_transition_value(obs, next_obs, action, reward, j["terminated"], j["truncated"], shape)


def _reject_token(token: str) -> Any:
    raise ValueError(f"non-standard token {token} (JSON has no NaN/Infinity)")


def lean_rollout_results(text: str, obs_shape: "Shape | Iterable[int]", n_actions: int,
                         contract: "Contract | None" = None) -> list[LeanResult]:
    """``loadRolloutAll`` on ``text``: one ``Transition`` or TorchLean message per transition.

    Raises :class:`TorchLeanFileError` (TorchLean's message) where ``loadRolloutAll`` throws.
    """
    n_actions = check_count("n_actions", n_actions)
    c = Contract() if contract is None else contract
    shape = as_shape(obs_shape)
    try:
        doc = json.loads(text, parse_constant=_reject_token)
    except ValueError as exc:
        raise TorchLeanFileError(f"RL boundary: bad JSON: {exc}") from None
    if not isinstance(doc, dict):
        raise TorchLeanFileError("RL boundary: top-level JSON must be an object: object expected")
    if "transitions" not in doc:
        raise TorchLeanFileError("RL boundary: missing required field `transitions`")
    if not isinstance(doc["transitions"], list):
        raise TorchLeanFileError("RL boundary: field `transitions` must be an array")
    return [_parse_transition(c, shape, n_actions, tj) for tj in doc["transitions"]]


@dataclass(frozen=True)
class TorchLeanVerdict:
    """What TorchLean would do with a file: ``file_error`` if ``loadRolloutAll`` throws, else one
    ``(index, message)`` per transition it returns as ``error`` (``n_transitions`` in all).

    ``accepted`` means ``loadRollout`` returns every transition (no error at all).
    """

    file_error: "str | None"
    errors: "tuple[tuple[int, str], ...]"
    n_transitions: int

    @property
    def accepted(self) -> bool:
        return self.file_error is None and not self.errors

    @property
    def first_error(self) -> "str | None":
        """The message ``loadRollout`` would throw (``None`` when the file is accepted)."""
        if self.file_error is not None:
            return self.file_error
        return self.errors[0][1] if self.errors else None

    def summary(self) -> str:
        if self.file_error is not None:
            return f"TorchLean's loadRolloutAll would refuse the file: {self.file_error}"
        if not self.errors:
            return f"TorchLean's loadRolloutAll would accept all {self.n_transitions} transitions"
        index, message = self.errors[0]
        return (f"TorchLean's loadRolloutAll would return {len(self.errors)} error(s) among {self.n_transitions} "
                f"transitions; loadRollout would stop at transition {index}: {message}")


def torchlean_verdict(path: "str | Path", obs_shape: "Shape | Iterable[int]", n_actions: int,
                      contract: "Contract | None" = None) -> TorchLeanVerdict:
    """Read ``path`` and answer "would TorchLean's ``loadRolloutAll`` accept it, and what would it say"."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        return TorchLeanVerdict(f"cannot read {path}: {exc}", (), 0)
    try:
        results = lean_rollout_results(text, obs_shape, n_actions, contract)
    except TorchLeanFileError as exc:
        return TorchLeanVerdict(exc.lean_message, (), 0)
    errors = tuple((i, r) for i, r in enumerate(results) if isinstance(r, str))
    return TorchLeanVerdict(None, errors, len(results))
