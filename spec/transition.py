"""Observed transitions: the validated output type of the trust boundary.

Mirrors TorchLean's ``Spec.RL.ObservedTransition`` (as ``Boundary.Transition obsShape nActions``):
``observation, action, reward, next_observation, terminated, truncated`` with
``done = terminated or truncated`` (``Boundary.Transition.done``). Source: lean-dojo/TorchLean
``NN/Runtime/RL/Boundary/Core.lean`` at 0f845313599795032960d487708c309e1fb2f40e.

Invariants enforced by the constructor (what the Lean type admits):
- ``observation`` and ``next_observation`` are real tensors of one shape; they are stored as
  read-only float64 *copies*, so an environment that reuses its buffers cannot change a
  transition after the fact;
- ``action`` is a non-negative ``int`` (the ``Fin`` bound is checked by the contract checkers,
  which know ``n_actions``), or, for a continuous ``Box`` action space (rollcheck's extension of
  TorchLean, :mod:`rollcheck.spec.box`), a read-only float64 array (the Box contract is checked by
  the contract checkers, which know the Box);
- ``reward`` is a real ``float`` (NaN and ±inf are admitted by the type; the contract rejects them);
- ``terminated`` and ``truncated`` are booleans.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .errors import ArgumentError

__all__ = ["Transition", "as_action", "frozen_array", "same_action"]


def frozen_array(value: Any, field: str, dtype: Any = np.float64) -> np.ndarray:
    """A read-only copy of ``value`` as a real array (``dtype=None`` keeps a real dtype)."""
    try:
        arr = np.array(value, dtype=dtype, copy=True)
    except (TypeError, ValueError) as exc:
        raise ArgumentError(f"{field}={value!r:.80} is not a real tensor: {exc}") from None
    if arr.dtype.kind not in "fiu" or (hasattr(value, "dtype") and np.asarray(value).dtype.kind == "b"):
        raise ArgumentError(f"{field}: dtype {np.asarray(value).dtype} is not real-valued")
    arr.setflags(write=False)
    return arr


def as_bool(value: Any, field: str) -> bool:
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    raise ArgumentError(f"{field}={value!r} should be a bool")


def as_real(value: Any, field: str) -> float:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise ArgumentError(f"{field}={value!r} should be a real number")
    return float(value)


def as_nat(value: Any, field: str) -> int:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)) or value < 0:
        raise ArgumentError(f"{field}={value!r} should be a non-negative int")
    return int(value)


@dataclass(frozen=True, eq=False)
class Transition:
    """One validated environment step ``(s, a, r, s', terminated, truncated)``."""

    observation: np.ndarray
    action: "int | np.ndarray"
    reward: float
    next_observation: np.ndarray
    terminated: bool
    truncated: bool

    def __post_init__(self) -> None:
        obs = frozen_array(self.observation, "observation")
        nxt = frozen_array(self.next_observation, "next_observation")
        if obs.shape != nxt.shape:
            raise ArgumentError(
                f"next_observation has shape {list(nxt.shape)} but observation has shape {list(obs.shape)}")
        object.__setattr__(self, "observation", obs)
        object.__setattr__(self, "next_observation", nxt)
        object.__setattr__(self, "action", as_action(self.action, "action"))
        object.__setattr__(self, "reward", as_real(self.reward, "reward"))
        object.__setattr__(self, "terminated", as_bool(self.terminated, "terminated"))
        object.__setattr__(self, "truncated", as_bool(self.truncated, "truncated"))

    @property
    def done(self) -> bool:
        """Gymnasium-style ``done``: ``terminated or truncated``."""
        return self.terminated or self.truncated

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Transition):
            return NotImplemented
        return (same_action(self.action, other.action) and _same_float(self.reward, other.reward)
                and self.terminated == other.terminated and self.truncated == other.truncated
                and np.array_equal(self.observation, other.observation, equal_nan=True)
                and np.array_equal(self.next_observation, other.next_observation, equal_nan=True))

    __hash__ = None  # type: ignore[assignment]


def as_action(value: Any, field: str) -> "int | np.ndarray":
    """A discrete action (a non-negative ``int``) or a continuous one (a read-only float64 array).

    Integers (Python or numpy, not bool) are discrete; a real tensor given as a numpy array, list or
    tuple is a continuous action. Anything else (a bare float such as ``1.5``, a string) is refused:
    a continuous scalar action is a 0-d array.
    """
    if not isinstance(value, (np.ndarray, list, tuple)):
        return as_nat(value, field)
    if (isinstance(value, np.ndarray) and value.dtype == np.float64 and value.base is None
            and not value.flags.writeable):
        return value   # already a read-only float64 array that nothing else can write through
    return frozen_array(value, field)


def same_action(a: Any, b: Any) -> bool:
    """Equality of two actions of :func:`as_action` (arrays: same shape, same entries, NaN = NaN)."""
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return (isinstance(a, np.ndarray) and isinstance(b, np.ndarray) and a.shape == b.shape
                and np.array_equal(a, b, equal_nan=True))
    return a == b


def _same_float(a: float, b: float) -> bool:
    return a == b or (a != a and b != b)
