"""Typed errors of the rollcheck spec.

Mirrors the ``Except String`` results of TorchLean's ``NN.Runtime.RL.Boundary.Core`` checkers,
but as data: a :class:`Violation` names the field, the offending value and the rule it broke, and
a :class:`ContractViolation` carries *every* violation a checker found (TorchLean stops at the
first; rollcheck reports all of them so nothing is lost). Source: lean-dojo/TorchLean
``NN/Runtime/RL/Boundary/Core.lean`` at 0f845313599795032960d487708c309e1fb2f40e.

:class:`ArgumentError` is raised when a constructor is handed something the Lean type would not
admit (``horizon = 0``, a contract with ``lo > hi``, a ``Rollout`` of the wrong length, ...).

Invariant enforced: every error message names the field and the value, e.g.
``transition 17, field "reward": nan is not finite (Contract.check_reward_finite)``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["ArgumentError", "ContractViolation", "RollcheckError", "Violation", "format_value"]


def format_value(value: Any, limit: int = 80) -> str:
    """A short, unambiguous rendering of ``value`` for error messages."""
    text = repr(value)
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
