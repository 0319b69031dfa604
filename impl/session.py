"""Checked sessions: a stateful environment whose every step crosses the trust boundary checked.

Mirrors TorchLean's ``NN.Runtime.RL.Session.CheckedSession`` (``Sess``, ``start``, ``observe``,
``stepChecked``) and its constructors ``CheckedSession.gymnasium`` / ``CheckedSession.ofEnv``.

A ``CheckedSession`` is three functions over an opaque session value ``sess``:

- ``start() -> sess`` — initialise (usually ``reset``);
- ``observe(sess) -> obs`` — the current observation (a read-only array of ``obs_shape``);
- ``step_checked(sess, action) -> (Transition, sess)`` — one step, validated with
  :func:`rollcheck.spec.check_transition_fin`; a violation raises
  :class:`rollcheck.spec.ContractViolation` and nothing unchecked is ever returned.

Invariants enforced: ``obs_shape``/``n_actions`` are fixed per session (``n_actions > 0``); every
transition returned has passed the contract; observations are stored as copies.
``close()`` releases external resources (a subprocess, a Gymnasium env); it is idempotent.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Generic, Iterable, TypeVar

from rollcheck.spec import Contract, Shape, Transition, as_shape
from rollcheck.spec.errors import InvalidArgument

__all__ = ["CheckedSession"]

Sess = TypeVar("Sess")


def _noop() -> None:
    return None


@dataclass(frozen=True)
class CheckedSession(Generic[Sess]):
    """``start``, ``observe``, ``step_checked`` plus the types they are checked against."""

    start: Callable[[], Sess]
    observe: Callable[[Sess], Any]
    step_checked: Callable[[Sess, int], "tuple[Transition, Sess]"]
    obs_shape: Shape
    n_actions: int
    contract: Contract = field(default_factory=Contract)
    close: Callable[[], None] = _noop

    def __post_init__(self) -> None:
        object.__setattr__(self, "obs_shape", as_shape(self.obs_shape))
        n = self.n_actions
        if isinstance(n, bool) or not isinstance(n, int) or n <= 0:
            raise InvalidArgument(f"CheckedSession.n_actions={n!r} should be a positive int (NeZero nActions)")
        if not isinstance(self.contract, Contract):
            raise InvalidArgument(f"CheckedSession.contract={self.contract!r} should be a rollcheck.spec.Contract")

    def __enter__(self) -> "CheckedSession[Sess]":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
