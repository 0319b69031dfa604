"""Typed errors of the rollcheck spec.

Mirrors the ``Except String`` results of TorchLean's ``NN.Runtime.RL.Boundary.Core`` checkers,
but as data: a :class:`Violation` names the field, the offending value and the rule it broke, and
a :class:`ContractViolation` carries *every* violation a checker found (TorchLean stops at the
first; rollcheck reports all of them so nothing is lost). Source: lean-dojo/TorchLean
``NN/Runtime/RL/Boundary/Core.lean`` at 0f845313599795032960d487708c309e1fb2f40e.

:class:`ArgumentError` is raised when a constructor is handed something the Lean type would not
admit (``horizon = 0``, a contract with ``lo > hi``, a ``Rollout`` of the wrong length, ...).

Invariant enforced: every error message names the field and the value, e.g.
``transition 17, field "reward": nan is not finite (Contract.check_reward_finite)``; wording a value
never runs user code (:func:`safe_repr`), so a hostile ``__repr__`` or a 5000-digit int cannot
turn a violation into a crash or a hang.
"""

from __future__ import annotations

import collections
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["ArgumentError", "ContractViolation", "RollcheckError", "Violation", "format_value", "safe_repr"]


#: modules whose ``__repr__`` implementations rollcheck trusts to return promptly (a user's own
#: ``__repr__`` may raise, loop or build a huge string: it is never called, see :func:`safe_repr`)
_TRUSTED_REPR_MODULES = ("builtins", "numpy", "collections", "gymnasium", "rollcheck")
_CONTAINERS = (dict, list, tuple, set, frozenset, collections.deque)
_INT_BITS = 4000   # about 1200 digits


def _trusted_repr(value: Any) -> bool:
    owner = getattr(type(value).__repr__, "__module__", None) or getattr(type(value), "__module__", "")
    owner = owner or ""
    return owner.split(".")[0] in _TRUSTED_REPR_MODULES


def _render(value: Any, budget: int, depth: int) -> str:
    """A repr of ``value`` of about ``budget`` characters at most, calling no untrusted ``__repr__``."""
    if depth > 6:
        return "..."
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > _INT_BITS:
        # Python refuses str() of an int past 4300 digits (and it would be slow): say how big it is
        return f"<int of {'-' if value < 0 else ''}about {int(value.bit_length() * 0.30103) + 1} digits>"
    if isinstance(value, np.ndarray):
        if value.dtype.kind == "O":
            items = [_render(v, budget, depth + 1) for v in value.ravel()[:8].tolist()]
            return f"array([{', '.join(items)}{', ...' if value.size > 8 else ''}], dtype=object, shape={list(value.shape)})"
        return f"array({np.array2string(value, threshold=8, precision=6, separator=', ')}, dtype={value.dtype})"
    if isinstance(value, _CONTAINERS) and _trusted_repr(value):
        pairs = list(value.items()) if isinstance(value, dict) else list(value)
        parts, used = [], 0
        for item in pairs:
            if used > budget:
                parts.append("...")
                break
            text = (f"{_render(item[0], budget, depth + 1)}: {_render(item[1], budget, depth + 1)}"
                    if isinstance(value, dict) else _render(item, budget, depth + 1))
            parts.append(text)
            used += len(text) + 2
        body = ", ".join(parts)
        if isinstance(value, dict):
            return "{" + body + "}"
        if isinstance(value, tuple):
            return "(" + body + ("," if len(parts) == 1 else "") + ")"
        if isinstance(value, (set, frozenset)):
            return "{" + body + "}" if parts else f"{type(value).__name__}()"
        return "[" + body + "]"
    if isinstance(value, (str, bytes)):  # cut before repr: a huge string is never copied whole
        base = str if isinstance(value, str) else bytes
        return repr(base.__getitem__(value, slice(0, budget + 1)))
    if _trusted_repr(value):
        try:
            text = repr(value)
        except Exception as exc:
            return f"<{type(value).__name__} (repr raised {type(exc).__name__})>"
        return text[: budget + 1] if isinstance(text, str) else f"<{type(value).__name__}>"
    return f"<{type(value).__module__}.{type(value).__qualname__} object>"


def safe_repr(value: Any, limit: int = 120) -> str:
    """``repr(value)`` made safe for the harness: containers, numpy values and the standard library's
    types are rendered (cut to about ``limit`` characters); an object whose ``__repr__`` the user
    wrote is shown as ``<module.Class object>`` instead, so a ``__repr__`` that raises, loops or
    returns a huge string can neither end nor wedge a run."""
    try:
        return _render(value, limit, 0)
    except Exception as exc:  # e.g. a dict whose keys change while it is read
        return f"<{type(value).__name__} (unprintable: {type(exc).__name__})>"


def format_value(value: Any, limit: int = 80) -> str:
    """A short, unambiguous rendering of ``value`` for error messages: numpy's own ``repr`` for a
    numeric array, :func:`safe_repr` for everything else (a user's ``__repr__`` is never called,
    and a huge int is described, not converted)."""
    if isinstance(value, np.ndarray) and value.dtype.kind != "O":
        text = repr(value)
    else:
        text = safe_repr(value, limit)
    if len(text) > limit:
        text = text[: limit - 3] + "..."
    return text


@dataclass(frozen=True)
class Violation:
    """One broken rule: which field, which value, which rule, and a human sentence.

    ``index`` is the transition (or step) index when the violation comes from a sequence,
    otherwise ``None``.
    """

    field: str
    value: Any
    rule: str
    message: str
    index: int | None = None

    def at(self, index: int) -> "Violation":
        """The same violation, located at transition ``index``."""
        return Violation(self.field, self.value, self.rule, self.message, index)

    def __str__(self) -> str:
        where = f"transition {self.index}, " if self.index is not None else ""
        return f'{where}field "{self.field}": {self.message} ({self.rule})'


class RollcheckError(Exception):
    """The base of every exception rollcheck raises (``except rollcheck.RollcheckError`` catches them all)."""


class ArgumentError(RollcheckError, ValueError):
    """A value the Lean type would not admit was passed to a constructor or function."""


class ContractViolation(RollcheckError, ValueError):
    """One or more :class:`Violation` s found by a checker (all of them, not just the first)."""

    def __init__(self, violations: "list[Violation] | tuple[Violation, ...]") -> None:
        violations = tuple(violations)
        if not violations:
            raise ArgumentError("ContractViolation needs at least one Violation")
        self.violations: tuple[Violation, ...] = violations
        super().__init__("; ".join(str(v) for v in violations))

    @property
    def first(self) -> Violation:
        return self.violations[0]

    @property
    def fields(self) -> tuple[str, ...]:
        return tuple(v.field for v in self.violations)

    @property
    def rules(self) -> tuple[str, ...]:
        return tuple(v.rule for v in self.violations)

    def at(self, index: int) -> "ContractViolation":
        """The same violations, located at transition ``index``."""
        return ContractViolation([v.at(index) for v in self.violations])
