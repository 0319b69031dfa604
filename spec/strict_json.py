"""Strict JSON text reading for the interchange file: bounded depth, no duplicate keys, exact numbers.

Mirrors the reading side of TorchLean's ``Lean.Json.parse`` as ``Boundary.Json`` relies on it:
a ``JsonNumber`` holds its decimal exactly (mantissa and exponent), so the *text* of a number is
what the file says. Python's :mod:`json` rounds a number through ``float`` first and lets a later
duplicate key silently replace an earlier one; a rollout file is a trust boundary, so this module
reads it so that neither can hide anything.

Invariants enforced:

- **Depth.** No value nests deeper than ``max_depth`` arrays/objects; a deeper document is a
  :class:`JsonDepthError` naming the depth found (found by a linear pre-scan, so a 100000-deep
  document never reaches the recursive parser and never raises ``RecursionError``).
- **Duplicate keys.** An object with a repeated key becomes a :class:`DuplicateKeyObject` (a dict
  holding the *first* value of each key) whose ``duplicates`` names every repeated key; callers
  report it as a violation naming the key (``{"transitions": [...], "transitions": []}`` can no
  longer pass by the last key winning).
- **Exact numbers.** A number written with a fraction or exponent whose ``float`` is integral but
  whose decimal value is not (``0.99999999999999999``, ``1e-400``) becomes an
  :class:`InexactFloat`: a ``float`` (the value Lean's ``JsonNumber.toFloat`` gives) that remembers
  its text, so an action (which must be an exact non-negative integer) can refuse it, while a
  reward or an observation entry still reads as the float.

- **Streaming.** :class:`JsonScanner` finds a document's bracket structure block by block
  (depth, and where its shallow commas and colons are) without parsing it, so a reader can cut a
  large array into batches and parse each with :func:`loads_strict`.

Pure: text in, values out (no I/O). ``NaN``/``Infinity`` tokens are passed to ``parse_constant``
so the caller decides what they mean.
"""

from __future__ import annotations

import json
from decimal import Decimal, InvalidOperation
from typing import Any, Callable

import numpy as np

from .errors import RollcheckError

__all__ = ["DEFAULT_MAX_DEPTH", "DuplicateKeyObject", "InexactFloat", "JsonDepthError", "JsonScanner", "json_depth",
           "loads_strict"]

DEFAULT_MAX_DEPTH = 64


class JsonDepthError(RollcheckError, ValueError):
    """The document nests deeper than allowed (``depth`` is what the pre-scan found, at least)."""

    def __init__(self, depth: int, max_depth: int) -> None:
        super().__init__(f"JSON nests {depth} levels deep (at most {max_depth} allowed)")
        self.depth = depth
        self.max_depth = max_depth


class InexactFloat(float):
    """A JSON number whose float is integral but whose decimal text is not an integer."""

    text: str

    def __new__(cls, value: float, text: str) -> "InexactFloat":
        obj = super().__new__(cls, value)
        obj.text = text
        return obj

    def __repr__(self) -> str:
        return self.text


class DuplicateKeyObject(dict):
    """A JSON object that repeated a key: the first value of each key, and the repeated keys."""

    duplicates: tuple[str, ...]


_KEEP = bytes(range(256)).translate(None, b'[]{}"')


def json_depth(text: "str | bytes", limit: int) -> int:
    """The deepest array/object nesting of ``text`` (exact for valid JSON; stops counting past ``limit``).

    Linear and vectorised: drop escaped backslashes, then escaped quotes (what remains of each
    string is ``"..."`` with no quote inside), keep only brackets and quotes, and run the bracket
    depth over the brackets outside strings (an even number of quotes before them), in blocks.
    """
    data = text.encode("utf-8", "surrogatepass") if isinstance(text, str) else bytes(text)
    if b"\\" in data:
        data = data.replace(b"\\\\", b"").replace(b'\\"', b"")
    data = data.translate(None, _KEEP)
    depth = deepest = quotes = 0
    block = 1 << 22
    for start in range(0, len(data), block):
        marks = np.frombuffer(data, dtype=np.uint8, count=min(block, len(data) - start), offset=start)
        is_quote = marks == 0x22
        outside = ((np.cumsum(is_quote, dtype=np.int64) + quotes) & 1) == 0
        quotes += int(is_quote.sum())
        step = np.where((marks == 0x5B) | (marks == 0x7B), 1, -1)[outside & ~is_quote]
        if step.size == 0:
            continue
        running = np.cumsum(step, dtype=np.int64) + depth
        deepest = max(deepest, int(running.max()))
        depth = int(running[-1])
        if deepest > limit:
            break
    return deepest


def _exact_float(text: str) -> float:
    value = float(text)
    if value.is_integer():
        try:
            d = Decimal(text)
            exact = d == d.to_integral_value()
        except (InvalidOperation, ValueError):  # pragma: no cover - json only hands us valid numbers
            exact = False
        if not exact:
            return InexactFloat(value, text)
    return value


def _pairs(pairs: "list[tuple[str, Any]]") -> dict:
    out: dict = {}
    repeated: list[str] = []
    for key, value in pairs:
        if key in out:
            if key not in repeated:
                repeated.append(key)
            continue
        out[key] = value
    if not repeated:
        return out
    dup = DuplicateKeyObject(out)
    dup.duplicates = tuple(repeated)
    return dup


def loads_strict(text: "str | bytes", *, max_depth: int = DEFAULT_MAX_DEPTH, exact_numbers: bool = True,
                 parse_constant: "Callable[[str], Any] | None" = None, depth_checked: bool = False) -> Any:
    """``json.loads`` with the invariants of the module docstring.

    ``exact_numbers=False`` reads fractional numbers as plain floats (Python's fast path); callers
    that find a float where an exact integer is required read the text again with ``True``.
    Raises :class:`JsonDepthError` (a ``ValueError``) for a document deeper than ``max_depth`` and
    ``ValueError`` for text that is not JSON. ``depth_checked=True`` skips the pre-scan for text
    whose depth the caller has already bounded (a :class:`JsonScanner` over the whole document).
    """
    depth = 0 if depth_checked else json_depth(text, max_depth)
    if depth > max_depth:
        raise JsonDepthError(depth, max_depth)
    try:
        return json.loads(text, object_pairs_hook=_pairs, parse_float=_exact_float if exact_numbers else None,
                          parse_constant=parse_constant)
    except RecursionError:  # malformed text the pre-scan could not measure
        raise JsonDepthError(max_depth + 1, max_depth) from None


# ---------------------------------------------------------------------------------------------
# Streaming: the structure of a document fed in blocks (depth, and where its shallow separators are)
# ---------------------------------------------------------------------------------------------

_STRUCTURAL = np.zeros(256, dtype=bool)
_STRUCTURAL[list(b"{}[],:")] = True
_DELTA = np.zeros(256, dtype=np.int64)
_DELTA[list(b"{[")] = 1
_DELTA[list(b"}]")] = -1


class JsonScanner:
    """The bracket structure of a JSON text fed in blocks, without parsing it (pure, vectorised).

    :meth:`feed` returns, for each structural byte (``{ } [ ] , :``) outside strings whose depth
    before it is at most ``shallow``, its absolute offset, the byte and that depth; it tracks the
    deepest nesting seen (as :func:`json_depth`, which this agrees with on valid JSON) and whether a
    closer ever came without its opener (``unbalanced``). A quote preceded by an odd run of
    backslashes is escaped; runs and open strings carry across blocks.
    """

    def __init__(self, shallow: int = 2) -> None:
        self.shallow = shallow
        self.offset = 0          # bytes fed so far
        self.depth = 0
        self.deepest = 0
        self.unbalanced = False
        self._quotes = 0         # unescaped quotes so far (odd: inside a string)
        self._backslashes = 0    # the backslash run that ends the bytes fed so far

    def feed(self, block: bytes) -> "tuple[np.ndarray, np.ndarray, np.ndarray]":
        arr = np.frombuffer(block, dtype=np.uint8)
        n = arr.size
        base = self.offset
        self.offset += n
        if not n:
            return np.zeros(0, np.int64), np.zeros(0, np.uint8), np.zeros(0, np.int64)
        quotes = np.flatnonzero(arr == 0x22)
        if self._backslashes or b"\\" in block:
            bs = arr == 0x5C
            last_plain = np.maximum.accumulate(np.where(bs, -1, np.arange(n)))  # last non-backslash at or before i
            prev = quotes - 1
            safe = np.maximum(prev, 0)
            run = np.where(prev < 0, 0, prev - last_plain[safe])          # backslashes right before each quote
            run = run + np.where((prev < 0) | (last_plain[safe] < 0), self._backslashes, 0)
            quotes = quotes[run % 2 == 0]
            tail = n - 1 - int(last_plain[-1])
            self._backslashes = tail + (self._backslashes if last_plain[-1] < 0 else 0)
        marks = np.flatnonzero(_STRUCTURAL[arr])
        outside = ((np.searchsorted(quotes, marks) + self._quotes) & 1) == 0
        self._quotes += quotes.size
        marks = marks[outside]
        if not marks.size:
            return np.zeros(0, np.int64), np.zeros(0, np.uint8), np.zeros(0, np.int64)
        chars = arr[marks]
        after = np.cumsum(_DELTA[chars]) + self.depth
        before = after - _DELTA[chars]
        self.deepest = max(self.deepest, int(after.max()))
        if int(after.min()) < 0:
            self.unbalanced = True
        self.depth = int(after[-1])
        keep = before <= self.shallow
        return marks[keep] + base, chars[keep], before[keep]

    @property
    def in_string(self) -> bool:
        return bool(self._quotes & 1)
