"""A property: an invariant as a value with a stable id and a check of a known signature.

Each property mirrors one TorchLean definition or lemma (``lean``), states itself in one line
(``statement``) and carries a ``check``. Reports, tests and the pytest plugin all refer to the
same ``id`` (``rollout.length_eq_horizon``, ``step.next_value_before_reset``, ...), so a user can
``--skip`` it, grep for it, or find it in a JUnit dashboard. Code refers to a property by the
object (``RESET_PURITY.check(pair)``), never by looking its id up as a string; ids are for users.

There is one kind of property per thing a check looks at, and each kind has exactly one check
signature (its ``check`` takes the evidence and returns the findings, empty when it holds):

============================  ====================================================================
kind                          ``check(evidence)``
============================  ====================================================================
:class:`CallProperty`         one ``reset``/``step`` of an env (``Call``) -> ``list[str]``
:class:`RunProperty`          the record of one run (a trajectory pair, a probe, ...) -> ``list[str]``
:class:`BatchProperty`        one vector-env ``reset``/``step`` batch -> ``list[str]``
:class:`SessionProperty`      one checked-session step (``SessionStep``) -> ``list[str]``
:class:`CaseProperty`         one collector run on one case (``CollectorRun``) -> ``list[Finding]``
:class:`RecordsProperty`      ``(run: StreamRun, chunk: Chunk)`` of a recorded file -> bad-row mask
:class:`BufferProperty`       a rollout buffer (``BufferCase``) -> ``list[Finding]``
============================  ====================================================================

Invariant enforced: ids are dotted lower-case names, unique within a :class:`PropertySet`, and a
property's ``check`` is callable.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Callable, ClassVar, Generic, Iterable, Iterator, TypeVar

from rollcheck.spec.errors import ArgumentError

from rollcheck.properties.core.report import Finding

__all__ = ["BatchProperty", "BufferProperty", "CallProperty", "CaseProperty", "Property", "PropertySet",
           "RecordsProperty", "RunProperty", "SessionProperty", "evaluate_property", "findings_of"]

_ID = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$")

Evidence = TypeVar("Evidence")


@dataclass(frozen=True)
class Property(Generic[Evidence]):
    """An invariant: ``id``, the TorchLean definition it mirrors, a one-line statement, a check.

    Use one of the kinds below; ``check(evidence)`` returns the findings (empty when the property holds).
    """

    id: str
    lean: str
    statement: str
    check: Callable[[Evidence], list]

    kind: ClassVar[str] = "property"  # a property of no particular kind (prefer one of the kinds below)

    def __post_init__(self) -> None:
        if not isinstance(self.id, str) or not _ID.match(self.id):
            raise ArgumentError(f"Property.id={self.id!r} should be a dotted lower-case name like 'rollout.length_eq_horizon'")
        if not callable(self.check):
            raise ArgumentError(f"Property.check={self.check!r:.80} should be callable")


@dataclass(frozen=True)
class CallProperty(Property[Any]):
    """Per call: ``check(call: Call) -> list[str]`` (one ``reset``/``step`` and what every wrapper layer saw)."""

    kind: ClassVar[str] = "call"


@dataclass(frozen=True)
class RunProperty(Property[Any]):
    """Per run: ``check(record) -> list[str]`` over one frozen record of a run (two trajectories, a probe, ...)."""

    kind: ClassVar[str] = "run"


@dataclass(frozen=True)
class BatchProperty(Property[Any]):
    """Per vector batch: ``check(batch: VectorBatch) -> list[str]`` (one vector ``reset``/``step``)."""

    kind: ClassVar[str] = "batch"


@dataclass(frozen=True)
class SessionProperty(Property[Any]):
    """Per checked-session step: ``check(step: SessionStep) -> list[str]``."""

    kind: ClassVar[str] = "session"


@dataclass(frozen=True)
class CaseProperty(Property[Any]):
    """Per collector case: ``check(run: CollectorRun) -> list[Finding]``."""

    kind: ClassVar[str] = "case"


@dataclass(frozen=True)
class RecordsProperty(Property[Any]):
    """Per recorded-file chunk: ``check(run: StreamRun, chunk: Chunk)`` records its findings in ``run``
    and returns the chunk's bad-row mask (``rollcheck.properties.rollout.recorded_checks``)."""

    kind: ClassVar[str] = "records"


@dataclass(frozen=True)
class BufferProperty(Property[Any]):
    """Per rollout buffer: ``check(case: BufferCase) -> list[Finding]`` (the arrays or model and the options)."""

    kind: ClassVar[str] = "buffer"


P = TypeVar("P", bound=Property)


class PropertySet(Generic[P]):
    """An ordered, id-unique collection of properties with ``--skip`` support."""

    def __init__(self, properties: Iterable[P]) -> None:
        self._by_id: dict[str, P] = {}
        for p in properties:
            if not isinstance(p, Property):
                raise ArgumentError(f"{p!r:.80} is not a Property")
            if p.id in self._by_id:
                raise ArgumentError(f"duplicate property id {p.id!r}")
            self._by_id[p.id] = p

    def __iter__(self) -> Iterator[P]:
        return iter(self._by_id.values())

    def __len__(self) -> int:
        return len(self._by_id)

    def __contains__(self, prop: object) -> bool:
        return isinstance(prop, Property) and self._by_id.get(prop.id) is prop

    def __getitem__(self, pid: str) -> P:
        """The property a user named (``--skip``, ``only=``); code holds the objects themselves."""
        try:
            return self._by_id[pid]
        except KeyError:
            raise ArgumentError(f"unknown property id {pid!r}; known: {', '.join(self._by_id)}") from None

    @property
    def ids(self) -> list[str]:
        return list(self._by_id)

    def without(self, skip: Iterable[str]) -> "PropertySet[P]":
        """The set minus ``skip`` (each must be a known id or a prefix like ``determinism``)."""
        skip = list(skip)
        for s in skip:
            if s not in self._by_id and not any(pid.startswith(s + ".") for pid in self._by_id):
                raise ArgumentError(f"--skip {s!r} matches no property; known: {', '.join(self._by_id)}")
        return PropertySet(p for p in self if not any(p.id == s or p.id.startswith(s + ".") for s in skip))


def evaluate_property(prop: Property, evidence: Any) -> list:
    """``prop.check(evidence)``, where a check that raises is itself a finding: a property must never
    take the harness down, and the report says what happened."""
    try:
        return list(prop.check(evidence))
    except Exception as exc:
        return [Finding(message=f"checking {prop.id} raised {type(exc).__name__}: {exc}", actual=repr(exc))]


def findings_of(props: Iterable[Property], evidence: Any) -> list:
    """Every finding of ``props`` on ``evidence``, each naming its property in ``context["property"]``."""
    out = []
    for prop in props:
        for f in evaluate_property(prop, evidence):
            f.context.setdefault("property", prop.id)
            out.append(f)
    return out
