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

from .arguments import check_bool, check_nat, check_real
from .errors import ArgumentError

__all__ = ["Transition", "as_action", "frozen_array", "is_own_frozen", "same_action"]


_FLOAT64 = np.dtype(np.float64)


def is_own_frozen(value: Any, dtype: Any = _FLOAT64) -> bool:
    """``True`` for a read-only numpy array that owns its memory (of ``dtype``; ``None``: any real dtype).

    Such an array is already a value: nothing else holds a writable view of its data, so it can be
    stored without a copy (the checked sessions hand out exactly these).
    """
    if type(value) is not np.ndarray or value.base is not None:
        return False
    kind_ok = value.dtype.kind in "fiu" if dtype is None else (value.dtype is dtype or value.dtype == dtype)
    return kind_ok and not value.flags.writeable


def frozen_array(value: Any, field: str, dtype: Any = _FLOAT64) -> np.ndarray:
    """A read-only copy of ``value`` as a real array (``dtype=None`` keeps a real dtype).

    An array that :func:`is_own_frozen` is returned as it is (it is already an immutable value).
    """
    if is_own_frozen(value, dtype):
        return value
    try:
        arr = np.array(value, dtype=dtype, copy=True)
    except (TypeError, ValueError) as exc:
        raise ArgumentError(f"{field}={value!r:.80} is not a real tensor: {exc}") from None
    if arr.dtype.kind not in "fiu" or (hasattr(value, "dtype") and np.asarray(value).dtype.kind == "b"):
        raise ArgumentError(f"{field}: dtype {np.asarray(value).dtype} is not real-valued")
    arr.setflags(write=False)
    return arr


@dataclass(frozen=True, eq=False, init=False)
class Transition:
    """One validated environment step ``(s, a, r, s', terminated, truncated)``."""

    observation: np.ndarray
    action: "int | np.ndarray"
    reward: float
    next_observation: np.ndarray
    terminated: bool
    truncated: bool

    def __init__(self, observation: Any, action: Any, reward: Any, next_observation: Any, terminated: Any,
                 truncated: Any) -> None:
        # Each field is checked once and stored once (a checked session's values pass every test
        # on its first comparison: owned read-only float64 arrays, int, float, bool).
        obs, nxt = observation, next_observation  # owned read-only float64 arrays are values already
        if not (type(obs) is np.ndarray and obs.base is None and obs.dtype is _FLOAT64 and not obs.flags.writeable):
            obs = frozen_array(obs, "observation")
        if not (type(nxt) is np.ndarray and nxt.base is None and nxt.dtype is _FLOAT64 and not nxt.flags.writeable):
            nxt = frozen_array(nxt, "next_observation")
        if obs.shape != nxt.shape:
            raise ArgumentError(
                f"next_observation has shape {list(nxt.shape)} but observation has shape {list(obs.shape)}")
        # The frozen dataclass's fields, set in one update (what object.__setattr__ per field would do).
        self.__dict__.update(observation=obs,
                             action=action if type(action) is int and action >= 0 else as_action(action, "action"),
                             reward=reward if type(reward) is float else check_real("reward", reward),
                             next_observation=nxt,
                             terminated=terminated if terminated is True or terminated is False
                             else check_bool("terminated", terminated),
                             truncated=truncated if truncated is True or truncated is False
                             else check_bool("truncated", truncated))

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
    if type(value) is int and value >= 0:
        return value
    if not isinstance(value, (np.ndarray, list, tuple)):
        return check_nat(field, value)
    return frozen_array(value, field)  # an owned read-only float64 array is kept as it is


def same_action(a: Any, b: Any) -> bool:
    """Equality of two actions of :func:`as_action` (arrays: same shape, same entries, NaN = NaN)."""
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return (isinstance(a, np.ndarray) and isinstance(b, np.ndarray) and a.shape == b.shape
                and np.array_equal(a, b, equal_nan=True))
    return a == b


def _same_float(a: float, b: float) -> bool:
    return a == b or (a != a and b != b)
