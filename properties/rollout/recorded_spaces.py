"""Declared spaces of a recorded rollout: the action space as the contract states it, and a Box
observation space.

Actions are ``Fin n`` (an ``int``) or a :class:`rollcheck.spec.Box`, exactly as the one contract
judge takes them (``rollcheck.impl.contract_judge.action_space_bad_mask``); this module only turns
Gymnasium's spaces (Minari stores them) into that form and names the space in reports. A declared
observation space beyond the contract's ``obs_shape`` is an :class:`ObservationBox`, mirroring
Gymnasium's ``spaces.Box.contains`` (row shape, real entries, ``low <= x <= high``; NaN is inside
nothing). Invariant enforced by its constructor: bounds broadcast to the shape, ``low <= high``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from gymnasium import spaces

from rollcheck.impl.contract_judge import column_extremes
from rollcheck.spec.box import BOX_DTYPES, Box
from rollcheck.spec.errors import ArgumentError

__all__ = ["ObservationBox", "action_space_of", "box_all_ok", "box_bad_mask", "describe_action_space", "spaces_from_gymnasium"]


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


def box_all_ok(low: np.ndarray, high: np.ndarray, shape: "tuple[int, ...]", col: np.ndarray) -> bool:
    """``not box_bad_mask(low, high, shape, col).any()``: per-entry extremes inside the bounds
    (the comparisons promote to float64, so the verdict is the mask's, row for row)."""
    col = np.asarray(col)
    if col.ndim == 0 or tuple(col.shape[1:]) != tuple(shape) or col.dtype.kind not in "biuf":
        return col.ndim > 0 and col.shape[0] == 0
    n = col.shape[0]
    flat = col.reshape(n, -1)
    if n == 0 or flat.shape[1] == 0:
        return True
    with np.errstate(invalid="ignore"):
        mn, mx = column_extremes(flat)
        return bool((mn >= low.reshape(-1)).all() and (mx <= high.reshape(-1)).all())  # NaN is inside nothing


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

    def all_ok(self, col: np.ndarray) -> bool:
        """``not self.bad_mask(col).any()``, in a few reductions."""
        return box_all_ok(self.low, self.high, self.shape, col)

    def describe(self, row: Any) -> str:
        return _describe(self.low, self.high, self.shape, row)


def action_space_of(space: Any) -> "int | Box":
    """``Fin n`` (an ``int``) or a :class:`~rollcheck.spec.Box` from an int, a Box or a Gymnasium
    ``Discrete``/``Box`` space (others: ``ArgumentError`` naming them)."""
    if isinstance(space, Box):
        return space
    if isinstance(space, (int, np.integer)) and not isinstance(space, bool):
        if space <= 0:
            raise ArgumentError(f"n_actions={space!r} should be a positive int (NeZero nActions)")
        return int(space)
    if isinstance(space, spaces.Discrete):
        if int(space.start) != 0:
            raise ArgumentError(f"action space {space} starts at {space.start}; the contract's actions are 0..n-1")
        return int(space.n)
    if isinstance(space, spaces.Box):
        dtype = str(np.dtype(space.dtype))
        return Box(tuple(space.shape), np.asarray(space.low, np.float64).reshape(-1).tolist(),
                   np.asarray(space.high, np.float64).reshape(-1).tolist(),
                   dtype if dtype in BOX_DTYPES else "float64")
    raise ArgumentError(f"action space {space!r:.80} is neither Discrete (an int) nor Box")


def describe_action_space(space: "int | Box") -> str:
    """``Discrete(2)`` or the Box's own description."""
    return space.describe() if isinstance(space, Box) else f"Discrete({space})"


def spaces_from_gymnasium(observation_space: Any, action_space: Any) -> "tuple[ObservationBox | None, int | Box]":
    """Gymnasium spaces as rollcheck's (``ArgumentError`` naming a space that is neither Box nor Discrete)."""
    actions = action_space_of(action_space)
    if isinstance(observation_space, spaces.Box):
        obs = ObservationBox.of(observation_space.low, observation_space.high, observation_space.shape)
    elif isinstance(observation_space, spaces.Discrete):
        obs = ObservationBox.of(observation_space.start, observation_space.start + observation_space.n - 1, ())
    else:
        raise ArgumentError(f"observation space {observation_space} is neither Box nor Discrete")
    return obs, actions
