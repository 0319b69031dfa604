"""Declared spaces of a recorded rollout: Discrete or Box actions, a Box observation space.

Mirrors Gymnasium's ``spaces.Discrete`` / ``spaces.Box`` ``contains`` (shape, then bounds) for the
columns of a recording. A Discrete action space is judged by the one contract judge
(``Boundary.Core.checkAction`` through :func:`rollcheck.impl.fast_checks.action_bad_mask`);
this module carries the Box forms, which the contract does not state yet (TorchLean's
``Contract`` has ``nActions`` only): an action or observation is inside a Box when its row shape
is the Box's shape, every entry is a real number, NaN is never inside, and ``low <= x <= high``
entrywise. Invariant enforced by the constructors: bounds broadcast to the shape, ``low <= high``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from gymnasium import spaces

from rollcheck.spec.errors import ArgumentError

__all__ = ["ActionSpace", "ObservationBox", "box_bad_mask", "spaces_from_gymnasium"]


def _bounds(low: Any, high: Any, shape: "tuple[int, ...]", what: str) -> tuple[np.ndarray, np.ndarray]:
    try:
        lo = np.broadcast_to(np.asarray(low, dtype=np.float64), shape)
        hi = np.broadcast_to(np.asarray(high, dtype=np.float64), shape)
    except (ValueError, TypeError) as exc:
        raise ArgumentError(f"{what} bounds low={low!r:.60}, high={high!r:.60} do not fit shape {list(shape)}: "
                            f"{exc}") from None
    if np.any(lo > hi) or np.isnan(lo).any() or np.isnan(hi).any():
        raise ArgumentError(f"{what} bounds low={low!r:.60}, high={high!r:.60} should satisfy low <= high")
    return lo, hi


def box_bad_mask(low: np.ndarray, high: np.ndarray, shape: "tuple[int, ...]", col: np.ndarray) -> np.ndarray:
    """Rows of ``col`` outside the Box (wrong row shape or dtype: every row)."""
    col = np.asarray(col)
    n = col.shape[0] if col.ndim else 1
    if col.ndim == 0 or tuple(col.shape[1:]) != tuple(shape) or col.dtype.kind not in "biuf":
        return np.ones(n, dtype=bool)
    flat = col.reshape(n, -1)
    lo, hi = low.reshape(-1), high.reshape(-1)
    with np.errstate(invalid="ignore"):
        inside = (flat >= lo) & (flat <= hi)  # NaN is inside no interval
    return ~inside.all(axis=1) if flat.shape[1] else np.zeros(n, dtype=bool)


def _describe(low: np.ndarray, high: np.ndarray, shape: "tuple[int, ...]", row: Any) -> str:
    row = np.asarray(row)
    if tuple(row.shape) != tuple(shape):
        return f"shape {list(row.shape)} is not the space's shape {list(shape)}"
    flat, lo, hi = row.reshape(-1), low.reshape(-1), high.reshape(-1)
    with np.errstate(invalid="ignore"):
        out = np.flatnonzero(~((flat >= lo) & (flat <= hi)))
    if not out.size:
        return f"{row.tolist()!r:.80} is outside the space (not a real number)"
    j = int(out[0])
    return f"entry {j} = {flat[j].item()!r} lies outside [{lo[j].item()!r}, {hi[j].item()!r}] (Box)"


@dataclass(frozen=True)
class ActionSpace:
    """``Discrete(n)`` (``n`` set) or ``Box(low, high, shape)`` (``n`` is ``None``)."""

    n: "int | None" = None
    low: "np.ndarray | None" = None
    high: "np.ndarray | None" = None
    shape: "tuple[int, ...]" = ()

    @classmethod
    def discrete(cls, n: Any) -> "ActionSpace":
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n <= 0:
            raise ArgumentError(f"n_actions={n!r} should be a positive int (NeZero nActions)")
        return cls(n=int(n))

    @classmethod
    def box(cls, low: Any, high: Any, shape: "tuple[int, ...]") -> "ActionSpace":
        lo, hi = _bounds(low, high, tuple(shape), "action Box")
        return cls(None, lo, hi, tuple(int(d) for d in shape))

    def bad_mask(self, col: np.ndarray) -> np.ndarray:
        return box_bad_mask(self.low, self.high, self.shape, col)

    def describe(self, row: Any) -> str:
        return _describe(self.low, self.high, self.shape, row)

    def pretty(self) -> str:
        if self.n is not None:
            return f"Discrete({self.n})"
        lo, hi = np.unique(self.low), np.unique(self.high)
        return (f"Box({lo[0] if lo.size == 1 else '...'}, {hi[0] if hi.size == 1 else '...'}, "
                f"shape={list(self.shape)})")


@dataclass(frozen=True)
class ObservationBox:
    """A declared Box observation space (Minari's stored ``observation_space``)."""

    low: np.ndarray
    high: np.ndarray
    shape: "tuple[int, ...]"

    @classmethod
    def of(cls, low: Any, high: Any, shape: "tuple[int, ...]") -> "ObservationBox":
        lo, hi = _bounds(low, high, tuple(shape), "observation Box")
        return cls(lo, hi, tuple(int(d) for d in shape))

    def bad_mask(self, col: np.ndarray) -> np.ndarray:
        return box_bad_mask(self.low, self.high, self.shape, col)

    def describe(self, row: Any) -> str:
        return _describe(self.low, self.high, self.shape, row)


def spaces_from_gymnasium(observation_space: Any, action_space: Any) -> "tuple[ObservationBox | None, ActionSpace]":
    """Gymnasium ``Box``/``Discrete`` spaces as rollcheck's (others: ``ArgumentError`` naming them)."""
    if isinstance(action_space, spaces.Discrete):
        if int(action_space.start) != 0:
            raise ArgumentError(f"action space {action_space} starts at {action_space.start}; the contract's "
                                "actions are 0..n-1")
        actions = ActionSpace.discrete(int(action_space.n))
    elif isinstance(action_space, spaces.Box):
        actions = ActionSpace.box(action_space.low, action_space.high, action_space.shape)
    else:
        raise ArgumentError(f"action space {action_space} is neither Discrete nor Box")
    if isinstance(observation_space, spaces.Box):
        obs = ObservationBox.of(observation_space.low, observation_space.high, observation_space.shape)
    elif isinstance(observation_space, spaces.Discrete):
        obs = ObservationBox.of(observation_space.start, observation_space.start + observation_space.n - 1, ())
    else:
        raise ArgumentError(f"observation space {observation_space} is neither Box nor Discrete")
    return obs, actions
