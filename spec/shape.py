"""Tensor shapes and shaped tensors at the trust boundary.

Mirrors TorchLean's ``Spec.Shape`` (``scalar | dim n s``, ``Shape.toList``, ``Shape.pretty``) and
the role of ``Spec.Tensor Float shape``: a value *of a shape*. Python values carry no shape in
their type, so :func:`flatten_tensor` is the gate: it accepts a nested list, a numpy array or a
plain number and returns the row-major tuple of floats, or reports a typed shape violation.
Source: lean-dojo/TorchLean ``NN/Spec/Core/Shape.lean`` at 411682f6c3d913e5cdbc27d4546b3ab7ac0e3e9c.

Invariants enforced:
- a ``Shape`` has non-negative integer dimensions (``Shape.dim n s`` with ``n : Nat``);
- ``flatten_tensor(v, s)`` succeeds exactly when ``v`` is a rectangular value of shape ``s``
  whose leaves are real numbers (booleans are not numbers here, as in JSON).

Pure Python (no numpy needed): numpy arrays are read through ``.shape``/``.tolist()``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable

from .arguments import check_nat
from .errors import ArgumentError, Violation, format_value

__all__ = ["Shape", "as_shape", "flatten_tensor", "tensor_violations", "unflatten"]


@dataclass(frozen=True)
class Shape:
    """A tensor shape: ``Shape.scalar()`` is ``[]``; ``Shape.dim(n, s)`` is ``[n, *s]``."""

    dims: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        if not isinstance(self.dims, tuple):
            raise ArgumentError(f"Shape.dims={self.dims!r} should be a tuple of ints")
        object.__setattr__(self, "dims", tuple(check_nat(f"Shape.dims[{i}]", d) for i, d in enumerate(self.dims)))

    @classmethod
    def scalar(cls) -> "Shape":
        return cls(())

    @classmethod
    def dim(cls, n: int, inner: "Shape | None" = None) -> "Shape":
        inner = Shape.scalar() if inner is None else inner
        return cls((n, *inner.dims))

    @classmethod
    def of(cls, dims: Iterable[int]) -> "Shape":
        return cls(tuple(dims))

    def to_list(self) -> list[int]:
        return list(self.dims)

    def pretty(self) -> str:
        return "[" + ", ".join(str(d) for d in self.dims) + "]"

    @property
    def size(self) -> int:
        n = 1
        for d in self.dims:
            n *= d
        return n

    @property
    def rank(self) -> int:
        return len(self.dims)

    def __str__(self) -> str:
        return self.pretty()


def as_shape(shape: "Shape | Iterable[int]", field: str = "obs_shape") -> Shape:
    """Coerce a ``Shape`` or a list/tuple of ints to a :class:`Shape`, naming ``field`` on error."""
    if isinstance(shape, Shape):
        return shape
    try:
        dims = tuple(shape)
    except TypeError:
        raise ArgumentError(f"{field}={shape!r} should be a Shape or a list of ints") from None
    return Shape(tuple(check_nat(f"{field}[{i}]", d) for i, d in enumerate(dims)))


def _is_real_leaf(x: Any) -> bool:
    if isinstance(x, bool):
        return False
    if isinstance(x, (int, float)):
        return True
    # numpy scalars: real numeric dtype, not bool
    kind = getattr(getattr(x, "dtype", None), "kind", None)
    return kind in ("f", "i", "u") and getattr(x, "shape", None) == ()


def tensor_violations(value: Any, shape: Shape, field: str) -> tuple[tuple[float, ...], list[Violation]]:
    """Flatten ``value`` against ``shape``; return ``(flat, violations)``.

    ``flat`` is meaningful only when ``violations`` is empty.
    """
    kind = getattr(getattr(value, "dtype", None), "kind", None)
    if kind is not None and hasattr(value, "tolist"):
        got = tuple(int(d) for d in getattr(value, "shape", ()))
        if kind not in ("f", "i", "u"):
            return (), [Violation(field, format_value(value), "Spec.Tensor Float",
                                  f"array of dtype {value.dtype} is not real-valued")]
        if got != shape.dims:
            return (), [Violation(field, format_value(value), "Spec.Shape",
                                  f"shape {Shape(got).pretty()} does not match the expected shape {shape.pretty()}")]
        listed = value.tolist()
        if not shape.dims:
            return (float(listed),), []
        out: list[float] = []
        _flatten_checked_list(listed, len(shape.dims), out)
        return tuple(out), []
    out = []
    problem = _flatten_nested(value, shape.dims, 0, out)
    if problem is not None:
        return (), [Violation(field, format_value(value), "Spec.Shape" if problem[0] == "shape" else "Spec.Tensor Float",
                              problem[1])]
    return tuple(out), []


def _flatten_checked_list(listed: Any, depth: int, out: list[float]) -> None:
    if depth == 1:
        out.extend(float(x) for x in listed)
        return
    for item in listed:
        _flatten_checked_list(item, depth - 1, out)


def _flatten_nested(value: Any, dims: tuple[int, ...], depth: int, out: list[float]) -> "tuple[str, str] | None":
    if depth == len(dims):
        if _is_real_leaf(value):
            try:
                out.append(float(value))
            except OverflowError:
                return ("type", f"{format_value(value)} is too large for a float")
            return None
        if isinstance(value, (list, tuple)) or hasattr(value, "tolist"):
            return ("shape", f"found a nested sequence at depth {depth}, but the expected shape "
                             f"{Shape(dims).pretty()} has rank {len(dims)}")
        return ("type", f"{format_value(value)} is not a real number")
    if hasattr(value, "tolist") and not isinstance(value, (list, tuple)):
        value = value.tolist()
    if not isinstance(value, (list, tuple)):
        return ("shape", f"expected a sequence of length {dims[depth]} at depth {depth} "
                         f"(shape {Shape(dims).pretty()}), got {format_value(value)}")
    if len(value) != dims[depth]:
        return ("shape", f"length {len(value)} at depth {depth} does not match the expected shape "
                         f"{Shape(dims).pretty()}")
    for item in value:
        problem = _flatten_nested(item, dims, depth + 1, out)
        if problem is not None:
            return problem
    return None


def flatten_tensor(value: Any, shape: "Shape | Iterable[int]", field: str = "observation") -> tuple[float, ...]:
    """Row-major floats of ``value``, which must have exactly ``shape``.

    Raises :class:`~rollcheck.spec.errors.ContractViolation` naming ``field`` otherwise.
    """
    from .errors import ContractViolation

    flat, violations = tensor_violations(value, as_shape(shape), field)
    if violations:
        raise ContractViolation(violations)
    return flat


def unflatten(flat: "tuple[float, ...] | list[float]", shape: Shape) -> Any:
    """Nested lists of ``shape`` from row-major ``flat`` (a bare float for the scalar shape)."""
    if len(flat) != shape.size:
        raise ArgumentError(f"unflatten: {len(flat)} values do not fill shape {shape.pretty()}")
    if not shape.dims:
        return flat[0]

    def build(offset: int, depth: int) -> tuple[Any, int]:
        if depth == len(shape.dims) - 1:
            n = shape.dims[depth]
            return list(flat[offset:offset + n]), offset + n
        items = []
        for _ in range(shape.dims[depth]):
            item, offset = build(offset, depth + 1)
            items.append(item)
        return items, offset

    return build(0, 0)[0]
