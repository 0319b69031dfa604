"""The one argument validator: counts, seeds, indices, flags and reals, checked the same way everywhere.

Mirrors the Lean types a rollcheck argument stands for: ``Nat`` (a seed, a counter), a positive
``Nat`` (``NeZero`` counts such as ``nActions``, ``horizon``), ``Fin n`` (an index), ``Bool`` and
``Float``. Modelled on Hypothesis's ``internal/validation.py`` (``check_type``,
``check_valid_integer``): one module, one message shape.

Invariants enforced:

- an integer argument accepts a Python ``int`` and every numpy integer alike (``np.int64(2)`` is
  ``2``) and returns a Python ``int``; a ``bool`` (Python or numpy) is never a number;
- a flag accepts a Python or numpy ``bool`` only (``1`` is not ``True``);
- every refusal is an :class:`~rollcheck.spec.errors.ArgumentError` whose message names the field
  and the value and says what was expected, e.g. ``horizon=0 should be at least 1``,
  ``seed=True should be an int, not a bool``.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .errors import ArgumentError

__all__ = ["check_bool", "check_count", "check_index", "check_int", "check_instance", "check_nat",
           "check_real", "check_reals", "check_seed", "is_int"]


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def is_int(value: Any) -> bool:
    """``True`` for a Python ``int`` or a numpy integer, never for a ``bool``."""
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def check_int(name: str, value: Any, *, least: "int | None" = None, most: "int | None" = None) -> int:
    """``value`` as a Python ``int`` in ``[least, most]`` (either bound optional)."""
    if type(value) is int and (least is None or value >= least) and (most is None or value <= most):
        return value  # the common case, without the isinstance dispatch
    if isinstance(value, (bool, np.bool_)):
        raise ArgumentError(f"{name}={_show(value)} should be an int, not a bool")
    if not isinstance(value, (int, np.integer)):
        raise ArgumentError(f"{name}={_show(value)} should be an int")
    n = int(value)
    if least is not None and n < least:
        raise ArgumentError(f"{name}={n!r} should be at least {least}")
    if most is not None and n > most:
        raise ArgumentError(f"{name}={n!r} should be at most {most}")
    return n


def check_count(name: str, value: Any, *, least: int = 1, most: "int | None" = None) -> int:
    """A count (Lean ``Nat`` with ``NeZero`` by default): an int of at least ``least``."""
    return check_int(name, value, least=least, most=most)


def check_nat(name: str, value: Any, *, most: "int | None" = None) -> int:
    """A Lean ``Nat``: a non-negative int."""
    return check_int(name, value, least=0, most=most)


def check_seed(name: str, value: Any, *, optional: bool = True, most: "int | None" = None) -> "int | None":
    """A seed: ``None`` (when ``optional``) or a non-negative int (at most ``most`` when given)."""
    if value is None and optional:
        return None
    return check_int(name, value, least=0, most=most)


def check_index(name: str, value: Any, size: int) -> int:
    """A Lean ``Fin size``: an int in ``[0, size)``."""
    n = check_int(name, value)
    if not 0 <= n < size:
        raise ArgumentError(f"{name}={n!r} should be in [0, {size})")
    return n


def check_bool(name: str, value: Any) -> bool:
    """A flag: a Python or numpy ``bool`` (returned as a Python ``bool``)."""
    if value is True or value is False:
        return value
    if not isinstance(value, (bool, np.bool_)):
        raise ArgumentError(f"{name}={_show(value)} should be a bool")
    return bool(value)


def check_real(name: str, value: Any, *, finite: bool = False, least: "float | None" = None,
               most: "float | None" = None, positive: bool = False) -> float:
    """A real number (Python or numpy int/float, never a bool) as a ``float``.

    ``finite`` refuses NaN and ±inf; ``positive`` refuses ``value <= 0``; ``least``/``most`` bound it.
    """
    if type(value) is float and not (finite or positive) and least is None and most is None:
        return value  # the common case, without the isinstance dispatch
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise ArgumentError(f"{name}={_show(value)} should be a real number")
    try:
        x = float(value)
    except OverflowError:
        raise ArgumentError(f"{name}={_show(value)} is too large for a float") from None
    if finite and not math.isfinite(x):
        raise ArgumentError(f"{name}={x!r} should be finite")
    if positive and not x > 0:
        raise ArgumentError(f"{name}={x!r} should be positive")
    if least is not None and not x >= least:
        raise ArgumentError(f"{name}={x!r} should be at least {least}")
    if most is not None and not x <= most:
        raise ArgumentError(f"{name}={x!r} should be at most {most}")
    return x


def _flatten(value: Any) -> list:
    if isinstance(value, (list, tuple)):
        return [x for item in value for x in _flatten(item)]
    return [value]


def check_reals(name: str, values: Any) -> "list[float]":
    """``values`` (a number, nested lists/tuples, or a numpy array of any shape) as a row-major list of
    floats; NaN and ±inf are kept. Each entry is a real number as :func:`check_real` reads one (a
    Python or numpy int/float, never a bool): a list of ``np.float32`` is as good as an array."""
    if hasattr(values, "tolist") and not isinstance(values, (list, tuple)):
        values = values.tolist()
    out: list[float] = []
    for i, x in enumerate(_flatten(values)):
        if type(x) is float:
            out.append(x)    # the common case, without the isinstance dispatch
            continue
        if isinstance(x, (bool, np.bool_)) or not isinstance(x, (int, float, np.integer, np.floating)):
            raise ArgumentError(f"{name}[{i}]={_show(x)} is not a real number")
        try:
            out.append(float(x))
        except OverflowError:
            raise ArgumentError(f"{name}[{i}]={_show(x)} is too large for a float") from None
    return out


def check_instance(name: str, value: Any, cls: "type | tuple[type, ...]", what: str) -> Any:
    """``value`` if it is an instance of ``cls``; otherwise ``name=value should be a WHAT``."""
    if not isinstance(value, cls):
        raise ArgumentError(f"{name}={_show(value)} should be a {what}")
    return value
