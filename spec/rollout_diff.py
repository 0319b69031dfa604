"""Two rollout files side by side: the first step and field where they differ.

The differential recipe of the README ("A TorchLean rollout beside a rollcheck one"): TorchLean's
collector and rollcheck's reference collector, run with the same env seed, ``rng_seed``,
``rng_counter`` and the same logits/value functions, must write the same interchange file
(``Boundary.Json``'s schema, ``NN/Runtime/RL/Boundary/Json.lean`` at lean-dojo/TorchLean
411682f6c3d913e5cdbc27d4546b3ab7ac0e3e9c; :mod:`rollcheck.spec.boundary_json`). :func:`first_difference` names
where two documents part: the step, the field (``obs[2]`` for a tensor entry) and both values.

Fields are compared per transition in TorchLean's order (``obs, action, reward, terminated,
truncated, next_obs``), then any other field either file carries (``old_log_prob``, ``value``, ...,
sorted by name). Numbers are equal when they are the same float — ``0.0`` and ``-0.0`` differ, NaN
equals NaN (both files may carry ``NaN`` tokens) — or, with ``atol > 0``, within ``atol``; a
boolean never equals a number. Invariant: ``first_difference(a, a) is None`` for every document,
and the answer names the earliest step (then the earliest field) that differs.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import ArgumentError, ContractViolation, Violation
from .arguments import check_real

__all__ = ["Difference", "compare_rollout_files", "first_difference", "read_rollout_document"]

FIELD_ORDER = ("obs", "action", "reward", "terminated", "truncated", "next_obs")


@dataclass(frozen=True)
class Difference:
    """Where two rollouts part: ``step`` (``None`` for the document itself), ``field``, both values."""

    step: "int | None"
    field: str
    left: Any
    right: Any
    reason: str

    def __str__(self) -> str:
        where = "document" if self.step is None else f"step {self.step}"
        return f"{where}, field {self.field}: {self.reason}"


def _same_number(a: float, b: float, atol: float) -> bool:
    a, b = float(a), float(b)
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    if atol > 0.0:
        return a == b or abs(a - b) <= atol
    return a == b and math.copysign(1.0, a) == math.copysign(1.0, b)


def _is_number(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def _short(x: Any) -> str:
    text = json.dumps(x) if not isinstance(x, float) else repr(x)
    return text if len(text) <= 60 else text[:57] + "..."


def _first_in_value(path: str, a: Any, b: Any, atol: float) -> "tuple[str, Any, Any, str] | None":
    if _is_number(a) and _is_number(b):
        if _same_number(a, b, atol):
            return None
        return path, a, b, f"{_short(a)} != {_short(b)}"
    if isinstance(a, list) and isinstance(b, list):
        for i, (x, y) in enumerate(zip(a, b)):
            found = _first_in_value(f"{path}[{i}]", x, y, atol)
            if found is not None:
                return found
        if len(a) != len(b):
            return path, len(a), len(b), f"length {len(a)} != {len(b)}"
        return None
    if type(a) is type(b) and a == b:
        return None
    return path, a, b, f"{_short(a)} != {_short(b)}"


def first_difference(left: Any, right: Any, atol: float = 0.0) -> "Difference | None":
    """The first difference between two interchange documents (``{"transitions": [...]}``), or ``None``."""
    atol = check_real("atol", atol, least=0.0)
    for name, doc in (("left", left), ("right", right)):
        if not isinstance(doc, dict) or not isinstance(doc.get("transitions"), list):
            raise ArgumentError(f"{name} document should be an object with a `transitions` array")
    ta, tb = left["transitions"], right["transitions"]
    for step, (a, b) in enumerate(zip(ta, tb)):
        if not isinstance(a, dict) or not isinstance(b, dict):
            if a != b:
                return Difference(step, "transition", a, b, "not both JSON objects")
            continue
        extra = sorted((set(a) | set(b)) - set(FIELD_ORDER))
        for field in (*FIELD_ORDER, *extra):
            if field not in a or field not in b:
                if field in a or field in b:
                    side = "left" if field not in a else "right"
                    return Difference(step, field, a.get(field), b.get(field), f"missing in the {side} file")
                continue
            found = _first_in_value(field, a[field], b[field], float(atol))
            if found is not None:
                return Difference(step, *found)
    if len(ta) != len(tb):
        return Difference(min(len(ta), len(tb)), "transitions", len(ta), len(tb),
                          f"the left file has {len(ta)} transitions, the right {len(tb)}")
    return None


def read_rollout_document(path: "str | Path") -> dict:
    """An interchange file as a document (``NaN``/``Infinity`` tokens read as floats, so they can be compared)."""
    try:
        doc = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise ContractViolation([Violation("file", str(path), "Boundary.Json", f"cannot read {path}: {exc}")]) \
            from None
    if not isinstance(doc, dict) or not isinstance(doc.get("transitions"), list):
        raise ContractViolation([Violation("file", str(path), "Boundary.Json",
                                           f"{path} is not an interchange document (no `transitions` array)")])
    return doc


def compare_rollout_files(left: "str | Path", right: "str | Path", atol: float = 0.0) -> "Difference | None":
    """:func:`first_difference` of two interchange files."""
    return first_difference(read_rollout_document(left), read_rollout_document(right), atol)
