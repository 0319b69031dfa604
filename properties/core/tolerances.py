"""Float tolerances derived from the dtypes a collector produced, one per compared quantity.

Not a TorchLean definition (Lean's ``Float`` is float64 and its collector is compared exactly):
this is how rollcheck compares a user's float32 or float64 numbers with the spec's float64
recomputation without either rejecting every correct float32 torch collector or letting wrong
values through. Each comparison names a *quantity* (:data:`QUANTITIES`); the allowed error of one
entry is

    ``ulps * eps(produced dtype) * scale``

where ``eps`` is the machine epsilon of the dtype the collector actually produced (float32 when
the array is float32 *or* every value round-trips through float32 exactly, as ``float(tensor)``
of a float32 torch tensor does — :func:`produced_eps`), ``scale`` is the magnitude the computation
went through (for a log-probability ``1 + max|logit| + |log p|``, the terms of a float32
log-softmax; for a value ``|V| + mean |V|`` to cover cancellation in the critic's last layer; for
an advantage the discounted sum of ``|r| + 2|V|`` over the GAE horizon ``1/(1 - γλ)``), and
``ulps`` is :data:`ULPS` (a few dozen roundings). ``Tolerances(overrides={"log_prob": 1e-6})``
replaces the derived value of one quantity by a fixed absolute-and-relative tolerance
(``|a - e| <= tol * max(1, |e|)``), as ``--tolerance log_prob=1e-6`` does on the command line.

Invariant enforced: the dtype comes from what the collector produced, the magnitudes from the
spec's *expected* side (a wrong value cannot widen its own tolerance by being large), and an
override names a known quantity with a value in ``[0, 1)``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Mapping

import numpy as np

from rollcheck.spec.errors import ArgumentError

__all__ = ["QUANTITIES", "ULPS", "Tolerances", "parse_tolerance", "produced_eps"]

QUANTITIES = ("log_prob", "value", "reward", "advantage", "return")
ULPS = 32.0
_EPS32, _EPS64 = float(np.finfo(np.float32).eps), float(np.finfo(np.float64).eps)


def produced_eps(values: Any) -> float:
    """Machine epsilon of the float type that produced ``values`` (an array or a sequence of floats).

    Narrow float arrays give their own epsilon; float64 values (or Python floats) that all
    round-trip through float32 exactly were produced in float32 (a float64 value lands on a
    float32 one by chance with probability about 2**-29 per value).
    """
    arr = np.asarray(values)
    if arr.dtype.kind == "f" and arr.dtype.itemsize < 8:
        return float(np.finfo(arr.dtype).eps)
    if arr.dtype.kind != "f":
        return _EPS64   # integers and flags are compared exactly anyway
    finite = arr[np.isfinite(arr)]
    if finite.size and np.array_equal(finite.astype(np.float32).astype(np.float64), finite):
        return _EPS32
    return _EPS64


@dataclass(frozen=True)
class Tolerances:
    """Per-quantity tolerances: derived from dtypes and magnitudes, or fixed by ``overrides``."""

    overrides: Mapping[str, float] = field(default_factory=dict)

    def __hash__(self) -> int:
        return hash(tuple(sorted(self.overrides.items())))

    def __post_init__(self) -> None:
        clean = {}
        for q, v in dict(self.overrides).items():
            if q not in QUANTITIES:
                raise ArgumentError(f"tolerance quantity {q!r} is unknown; known: {', '.join(QUANTITIES)}")
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not 0 <= float(v) < 1:
                raise ArgumentError(f"tolerance {q}={v!r} should be a real number in [0, 1)")
            clean[q] = float(v)
        object.__setattr__(self, "overrides", clean)

    @classmethod
    def of(cls, tolerance: Any) -> "Tolerances":
        """``None`` (derive all), one float (every quantity), a mapping, or a :class:`Tolerances`."""
        if tolerance is None:
            return cls()
        if isinstance(tolerance, Tolerances):
            return tolerance
        if isinstance(tolerance, Mapping):
            return cls(dict(tolerance))
        if isinstance(tolerance, bool) or not isinstance(tolerance, (int, float)) or not 0 <= tolerance < 1:
            raise ArgumentError(f"tolerance={tolerance!r} should be a float in [0, 1), a mapping "
                                f"{{quantity: float}} with quantities {QUANTITIES}, or None")
        return cls({q: float(tolerance) for q in QUANTITIES})

    def allowed(self, quantity: str, expected: Any, eps: float, scale: Any) -> np.ndarray:
        """The allowed absolute error of each entry (array broadcast of ``expected`` and ``scale``)."""
        if quantity not in QUANTITIES:
            raise ArgumentError(f"tolerance quantity {quantity!r} is unknown; known: {', '.join(QUANTITIES)}")
        e = np.abs(np.asarray(expected, dtype=np.float64))
        if quantity in self.overrides:
            return self.overrides[quantity] * np.maximum(1.0, np.nan_to_num(e, nan=1.0, posinf=1.0))
        s = np.abs(np.asarray(scale, dtype=np.float64))
        return ULPS * eps * (np.nan_to_num(s, nan=0.0, posinf=0.0) + np.nan_to_num(e, nan=0.0, posinf=0.0)
                             + math.sqrt(eps))

    def close(self, quantity: str, expected: Any, actual: Any, eps: float, scale: Any) -> np.ndarray:
        """Entrywise: equal (NaN equals NaN, same infinities), or within :meth:`allowed`."""
        e = np.asarray(expected, dtype=np.float64)
        a = np.asarray(actual, dtype=np.float64)
        with np.errstate(invalid="ignore"):
            same = (e == a) | (np.isnan(e) & np.isnan(a))
            near = np.abs(a - e) <= self.allowed(quantity, e, eps, scale)
        return same | (near & np.isfinite(e) & np.isfinite(a))

    def describe(self) -> dict:
        """For a report's meta: which quantities are fixed and how the others are derived."""
        return {q: (self.overrides[q] if q in self.overrides else f"derived ({ULPS:g} ulps of the produced dtype "
                    "x magnitude)") for q in QUANTITIES}


def parse_tolerance(items: "list[str] | None") -> "Tolerances":
    """``--tolerance`` values: ``QUANTITY=VALUE`` (one quantity) or ``VALUE`` (every quantity)."""
    overrides: dict[str, float] = {}
    for item in items or []:
        name, sep, text = item.partition("=")
        text = text if sep else name
        try:
            value = float(text)
        except ValueError:
            raise ArgumentError(f"--tolerance {item!r}: {text!r} is not a number (use QUANTITY=VALUE with "
                                f"QUANTITY in {', '.join(QUANTITIES)})") from None
        if sep:
            overrides.update(Tolerances({name.strip(): value}).overrides)
        else:
            overrides.update(Tolerances.of(value).overrides)
    return Tolerances(overrides)
