"""The ``Box`` action contract: continuous actions as a shaped, finite, optionally bounded float tensor.

**An extension of TorchLean.** TorchLean's boundary types only discrete actions
(``Boundary.Transition obsShape nActions`` with ``action : Fin nActions``, checked by
``Boundary.Core.checkAction``). rollcheck adds the continuous case beside it, in the same style:
a :class:`Box` plays the role of ``Fin nActions`` (what an action *is*), checked by
:func:`box_action_violations` (the executable checker, every violation reported) with the
predicate :func:`box_action_holds` written independently beside it. Its fields follow
Gymnasium's ``spaces.Box`` (``shape``, ``low``, ``high``, ``dtype``).

An action ``a`` satisfies ``Box(shape, low, high, dtype)`` when

- ``a`` is a real tensor of ``shape`` (nested lists, a numpy array or, for shape ``[]``, a number;
  booleans, strings and complex values are not real) — rule ``Spec.Shape`` / ``Spec.Tensor Float``;
- every entry is finite — rule ``Box.finite``;
- every entry ``a_i`` lies in ``[low_i, high_i]`` when bounds are given (an infinite bound leaves
  that side open) — rule ``Box.bounds``.

Entries are compared as float64 (the bounds are stored as float64; a float32 Box's bounds are
exactly representable). ``dtype`` records the dtype the environment declares (``float32`` or
``float64``); it is informational: rollcheck carries actions as float64, which holds every float32
exactly.

Invariants enforced by the constructor: ``shape`` is a :class:`~rollcheck.spec.shape.Shape`;
``low``/``high`` are ``None`` or one float per entry (a scalar is broadcast), never NaN, with
``low_i <= high_i``; ``dtype`` is ``"float32"`` or ``"float64"``. So a check can never pass
vacuously because of a malformed space.

References: Gymnasium ``spaces.Box`` (https://gymnasium.farama.org/api/spaces/fundamental/);
Stable-Baselines3 ``OnPolicyAlgorithm.collect_rollouts`` and CleanRL ``ppo_continuous_action.py``
(the clipping conventions, see :mod:`rollcheck.spec.gaussian`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Iterable, Sequence

from .arguments import check_reals
from .errors import ArgumentError, ContractViolation, Violation, format_value
from .shape import Shape, as_shape, tensor_violations

__all__ = ["BOX_DTYPES", "Box", "box_action_holds", "box_action_violations", "box_from_json", "box_to_json",
           "check_box_action", "clip_to_box"]

BOX_DTYPES = ("float32", "float64")


def _bounds(name: str, value: Any, size: int) -> "tuple[float, ...] | None":
    if value is None:
        return None
    if hasattr(value, "tolist"):
        value = value.tolist()
    out = check_reals(f"Box.{name}", value)
    if not isinstance(value, (list, tuple)):
        out = out * size   # one number bounds every entry
    if len(out) != size:
        raise ArgumentError(f"Box.{name} has {len(out)} entries; the shape has {size}")
    for i, x in enumerate(out):
        if math.isnan(x):
            raise ArgumentError(f"Box.{name}[{i}]=nan: a NaN bound admits nothing and is rejected")
    return tuple(out)


@dataclass(frozen=True)
class Box:
    """A continuous action space: a float tensor of ``shape``, finite, optionally in ``[low, high]``.

    ``low``/``high`` are ``None`` (unbounded), a number (every entry) or one number per entry
    (row-major, nested lists or a numpy array allowed); they are stored as flat float tuples.
    ``Box((1,), -2.0, 2.0)`` is Pendulum's torque.
    """

    shape: Shape
    low: "tuple[float, ...] | None" = None
    high: "tuple[float, ...] | None" = None
    dtype: str = "float32"

    def __post_init__(self) -> None:
        shape = as_shape(self.shape, "Box.shape")
        object.__setattr__(self, "shape", shape)
        object.__setattr__(self, "low", _bounds("low", self.low, shape.size))
        object.__setattr__(self, "high", _bounds("high", self.high, shape.size))
        if self.dtype not in BOX_DTYPES:
            raise ArgumentError(f"Box.dtype={self.dtype!r} should be one of {BOX_DTYPES}")
        if self.low is not None and self.high is not None:
            for i, (lo, hi) in enumerate(zip(self.low, self.high)):
                if lo > hi:
                    raise ArgumentError(f"Box.low[{i}]={lo} should be at most Box.high[{i}]={hi}")

    @property
    def size(self) -> int:
        """The number of entries of an action (``shape.size``)."""
        return self.shape.size

    @property
    def bounded(self) -> bool:
        """``True`` iff both bounds are given and finite in every entry (needed to rescale a tanh)."""
        return (self.low is not None and self.high is not None
                and all(math.isfinite(x) for x in self.low + self.high))

    def lows(self) -> tuple[float, ...]:
        """``low`` with ``-inf`` where unbounded."""
        return self.low if self.low is not None else (-math.inf,) * self.size

    def highs(self) -> tuple[float, ...]:
        """``high`` with ``+inf`` where unbounded."""
        return self.high if self.high is not None else (math.inf,) * self.size

    def describe(self) -> str:
        """``Box([1], low=[-2.0], high=[2.0], float32)``."""
        lo = "-inf" if self.low is None else list(self.low)
        hi = "inf" if self.high is None else list(self.high)
        return f"Box({self.shape.pretty()}, low={lo}, high={hi}, {self.dtype})"


# ---------------------------------------------------------------------------------------------
# The checker (executable; every violation) and the predicate (independent), side by side
# ---------------------------------------------------------------------------------------------

def box_action_violations(space: Box, action: Any, field: str = "action") -> list[Violation]:
    """Every violation of ``action : Box`` (the continuous counterpart of Lean ``checkAction``).

    A shape or dtype problem is reported alone (the entries are not meaningful then); otherwise
    the first non-finite entry (``Box.finite``) and the first entry outside its bounds
    (``Box.bounds``) are both reported.
    """
    if not isinstance(space, Box):
        raise ArgumentError(f"space={space!r:.80} should be a rollcheck.spec.Box")
    flat, violations = tensor_violations(action, space.shape, field)
    if violations:
        return violations
    out: list[Violation] = []
    bad = next((i for i, x in enumerate(flat) if not math.isfinite(x)), None)
    if bad is not None:
        out.append(Violation(field, format_value(action), "Box.finite",
                             f"expected a finite {field} tensor (no NaN/inf), found entry {bad} = {flat[bad]}"))
    lows, highs = space.lows(), space.highs()
    outside = next((i for i, x in enumerate(flat) if not (lows[i] <= x <= highs[i])), None)
    if outside is not None and (space.low is not None or space.high is not None):
        out.append(Violation(field, format_value(action), "Box.bounds",
                             f"{field} entry {outside} = {flat[outside]} is outside "
                             f"[{lows[outside]}, {highs[outside]}] ({space.describe()})"))
    return out


def check_box_action(space: Box, action: Any, field: str = "action") -> tuple[float, ...]:
    """Validate one continuous action; return its row-major floats or raise ``ContractViolation``."""
    violations = box_action_violations(space, action, field)
    if violations:
        raise ContractViolation(violations)
    return tensor_violations(action, space.shape, field)[0]


def box_action_holds(space: Box, flat: Sequence[float]) -> bool:
    """The boolean reading of the Box contract on the row-major entries of a well-shaped tensor:
    ``len(flat) = size ∧ ∀ i, flat_i finite ∧ (low → low_i ≤ flat_i) ∧ (high → flat_i ≤ high_i)``."""
    if len(flat) != space.size:
        return False
    for i, x in enumerate(flat):
        if x != x or abs(x) == math.inf:
            return False
        if space.low is not None and x < space.low[i]:
            return False
        if space.high is not None and x > space.high[i]:
            return False
    return True


def clip_to_box(space: Box, flat: Iterable[float]) -> tuple[float, ...]:
    """``numpy.clip(a, low, high)`` entry by entry (``min(max(a_i, low_i), high_i)``), as SB3's
    ``collect_rollouts`` and Gymnasium's ``ClipAction`` do before ``env.step``; unbounded sides pass."""
    lows, highs = space.lows(), space.highs()
    out = []
    for i, x in enumerate(flat):
        x = float(x)
        if x < lows[i]:
            x = lows[i]
        if x > highs[i]:
            x = highs[i]
        out.append(x)
    return tuple(out)


# ---------------------------------------------------------------------------------------------
# The interchange header (``"action_space"`` in a rollout file, :mod:`rollcheck.spec.boundary_json`)
# ---------------------------------------------------------------------------------------------

def box_to_json(space: Box) -> dict:
    """``{"type": "box", "shape": [...], "low": [...] | null, "high": [...] | null, "dtype": ...}``.

    JSON has no infinity: an infinite bound entry is written as ``null`` (unbounded on that side).
    """
    def bounds(values: "tuple[float, ...] | None") -> "list | None":
        return None if values is None else [x if math.isfinite(x) else None for x in values]
    return {"type": "box", "shape": space.shape.to_list(), "low": bounds(space.low), "high": bounds(space.high),
            "dtype": space.dtype}


def box_from_json(j: Any, field: str = "action_space") -> Box:
    """The :class:`Box` of a header written by :func:`box_to_json`; ``ArgumentError`` naming the problem."""
    if not isinstance(j, dict) or j.get("type") != "box":
        raise ArgumentError(f"{field}={j!r:.80} should be an object with 'type': 'box'")
    unknown = sorted(set(j) - {"type", "shape", "low", "high", "dtype"})
    if unknown:
        raise ArgumentError(f"{field} has unknown key(s) {unknown}")
    shape = j.get("shape")
    if not isinstance(shape, list) or any(isinstance(d, bool) or not isinstance(d, int) for d in shape):
        raise ArgumentError(f"{field}.shape={shape!r:.60} should be a list of non-negative ints")

    def bounds(name: str, sign: float) -> "list[float] | None":
        values = j.get(name)
        if values is None:
            return None
        if not isinstance(values, list):
            raise ArgumentError(f"{field}.{name}={values!r:.60} should be a list of numbers (null: unbounded)")
        return [sign * math.inf if x is None else x for x in values]
    return Box(tuple(shape), bounds("low", -1.0), bounds("high", 1.0), j.get("dtype", "float32"))
