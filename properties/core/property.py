"""A property: an invariant as a value with a stable id.

Each property mirrors one TorchLean definition or lemma (``lean``), states itself in one line
(``statement``) and carries a ``check``. Reports, tests and the pytest plugin all refer to the
same ``id`` (``rollout.length_eq_horizon``, ``step.next_value_before_reset``, ...), so a user can
``--skip`` it, grep for it, or find it in a JUnit dashboard.

Invariant enforced: ids are dotted lower-case names and unique within a :class:`PropertySet`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Iterator

from rollcheck.spec.errors import ArgumentError

__all__ = ["Property", "PropertySet"]

_ID = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$")


@dataclass(frozen=True)
class Property:
    """An invariant: ``id``, the TorchLean definition it mirrors, a one-line statement, a check.

    ``check`` takes whatever the property family works on (a trace, an env run, ...) and returns
    a list of findings (empty when the property holds).
    """

    id: str
    lean: str
    statement: str
    check: Callable[..., Any]

    def __post_init__(self) -> None:
        if not _ID.match(self.id):
            raise ArgumentError(f"Property.id={self.id!r} should be a dotted lower-case name like 'rollout.length_eq_horizon'")


class PropertySet:
    """An ordered, id-unique collection of properties with ``--skip`` support."""

    def __init__(self, properties: Iterable[Property]) -> None:
        self._by_id: dict[str, Property] = {}
        for p in properties:
            if p.id in self._by_id:
                raise ArgumentError(f"duplicate property id {p.id!r}")
            self._by_id[p.id] = p

    def __iter__(self) -> Iterator[Property]:
        return iter(self._by_id.values())

    def __len__(self) -> int:
        return len(self._by_id)

    def __getitem__(self, pid: str) -> Property:
        try:
            return self._by_id[pid]
        except KeyError:
            raise ArgumentError(f"unknown property id {pid!r}; known: {', '.join(self._by_id)}") from None

    @property
    def ids(self) -> list[str]:
        return list(self._by_id)

    def without(self, skip: Iterable[str]) -> "PropertySet":
        """The set minus ``skip`` (each must be a known id or a prefix like ``determinism``)."""
        skip = list(skip)
        for s in skip:
            if s not in self._by_id and not any(pid.startswith(s + ".") for pid in self._by_id):
                raise ArgumentError(f"--skip {s!r} matches no property; known: {', '.join(self._by_id)}")
        return PropertySet(p for p in self if not any(p.id == s or p.id.startswith(s + ".") for s in skip))
