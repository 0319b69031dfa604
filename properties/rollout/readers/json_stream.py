"""Streaming TorchLean's interchange JSON: the top-level members, then the transitions in batches.

Mirrors TorchLean's ``Boundary.Json.loadRolloutAll`` reading side (``IO.FS.readFile`` then
``Json.parse``), without holding the document: memory is one block of text plus one batch of
transitions, whatever the file's size. Strictness is the whole-document reader's, by construction:

- **depth** is bounded by a streaming pre-scan (:class:`rollcheck.spec.strict_json.JsonScanner`,
  linear and vectorised, the same count as :func:`~rollcheck.spec.strict_json.json_depth`) before
  anything is parsed;
- **every value is parsed by the same strict parser**
  (:func:`~rollcheck.spec.strict_json.loads_strict`'s hooks: a repeated key becomes a
  ``DuplicateKeyObject`` the spec reports, ``NaN``/``Infinity`` tokens are the spec's
  ``NonStandardToken``, a batch holding a fractional action is read again with exact numbers), a
  batch of transitions being the array text ``[row, row, ...]`` cut at the array's own commas;
- **the top level** is checked as a whole: an object whose keys are distinct, with an array under
  ``transitions``, followed by nothing but whitespace.

A document the scan does not find plain (not an object, a repeated or missing top-level key, a
non-array ``transitions``, unbalanced brackets, trailing text, too deep, not UTF-8) or that fails
to parse is handed to the whole-document reader (``None`` from :func:`open_layout`, or
:func:`json_document` on the error path), so its error is worded exactly as before (it is read
whole then, up to ``--max-bytes``). Standard library only: ``ijson`` (the streaming parser on PyPI)
refuses ``NaN``/``Infinity`` tokens and keeps the last of a repeated key, both of which the
interchange reader must report per transition.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Iterator

import numpy as np

from rollcheck.spec.boundary_json import NonStandardToken
from rollcheck.spec.strict_json import DEFAULT_MAX_DEPTH, JsonScanner, loads_strict

from rollcheck.properties.rollout.readers.source import RolloutSource

__all__ = ["DEFAULT_BATCH_ROWS", "JsonLayout", "open_layout", "transition_batches"]

DEFAULT_BATCH_ROWS = 1 << 14
BLOCK_BYTES = 1 << 18
_WS = b" \t\n\r"
_COMMA, _COLON, _OPEN_OBJ, _CLOSE_OBJ, _OPEN_ARR, _CLOSE_ARR = map(ord, ",:{}[]")


@dataclass(frozen=True)
class JsonLayout:
    """Where a plain interchange document's parts are: each top-level member's parsed value
    (``transitions`` excepted) and the byte span ``[start, stop)`` of the ``transitions`` array."""

    members: dict
    transitions: "tuple[int, int]"


def _blocks(source: RolloutSource, start: int, stop: "int | None", size: int = BLOCK_BYTES) -> Iterator[bytes]:
    with source.open_binary() as fh:
        fh.seek(start)
        left = None if stop is None else stop - start
        while left is None or left > 0:
            block = fh.read(size if left is None else min(size, left))
            if not block:
                return
            if left is not None:
                left -= len(block)
            yield block


def _read(source: RolloutSource, start: int, stop: int) -> bytes:
    return b"".join(_blocks(source, start, stop))


def _loads(text: bytes, exact: bool = False, depth_checked: bool = False) -> Any:
    return loads_strict(text, exact_numbers=exact, parse_constant=NonStandardToken, depth_checked=depth_checked)


def open_layout(source: RolloutSource, max_depth: int = DEFAULT_MAX_DEPTH) -> "JsonLayout | None":
    """The document's layout (one streaming scan, then its small members parsed), or ``None`` when
    the whole-document reader should read it (see the module docstring)."""
    if source.head.startswith((b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff")) or b"\x00" in source.head[:4]:
        return None  # a BOM or UTF-16/32: the whole-document reader decodes those
    scanner = JsonScanner(shallow=1)
    separators: list[tuple[int, int]] = []  # (offset, byte) of the top level's own structure
    opened = closed = None
    for block in _blocks(source, 0, None):
        if closed is not None:
            if block.strip(_WS):
                return None  # text after the top-level object
            continue
        start = scanner.offset
        offsets, chars, before = scanner.feed(block)
        if scanner.deepest > max_depth or scanner.unbalanced:
            return None
        for off, ch, depth in zip(offsets.tolist(), chars.tolist(), before.tolist()):
            if depth == 0:
                if opened is not None or ch != _OPEN_OBJ or not _read_prefix_is_space(source, off):
                    return None
                opened = off
            elif depth == 1 and ch in (_COMMA, _COLON, _CLOSE_OBJ):
                separators.append((off, ch))
                if ch == _CLOSE_OBJ:
                    closed = off
                    if block[off - start + 1:].strip(_WS):
                        return None
                    break
    if opened is None or closed is None or scanner.in_string:
        return None
    members: dict = {}
    transitions = None
    begin = opened + 1
    pending_key = None
    for off, ch in separators:
        if ch == _COLON:
            if pending_key is not None:
                return None
            try:
                key = json.loads(_read(source, begin, off))
            except ValueError:
                return None
            if not isinstance(key, str) or key in members or (key == "transitions" and transitions is not None):
                return None
            pending_key, begin = key, off + 1
            continue
        if pending_key is None:  # a comma or the closing brace without a key before it ({} included)
            return None
        if pending_key == "transitions":
            transitions = (begin, off)
            members[pending_key] = None
        else:
            try:
                members[pending_key] = _loads(_read(source, begin, off))
            except ValueError:
                return None
        pending_key, begin = None, off + 1
    if transitions is None:
        return None
    head = _read(source, transitions[0], min(transitions[1], transitions[0] + 64)).lstrip(_WS)
    if not head.startswith(b"["):
        return None
    del members["transitions"]
    return JsonLayout(members, transitions)


def _read_prefix_is_space(source: RolloutSource, off: int) -> bool:
    return not _read(source, 0, off).strip(_WS)


def _needs_exact(rows: list) -> bool:
    return any(isinstance(tj, dict) and type(tj.get("action")) is float for tj in rows)


def transition_batches(source: RolloutSource, layout: JsonLayout,
                       batch_rows: int = DEFAULT_BATCH_ROWS) -> Iterator[tuple[int, list]]:
    """``(index of the first row, rows)`` for consecutive batches of the ``transitions`` array, each
    parsed by the strict parser (``ValueError`` for text that is not JSON). ``layout`` comes from
    :func:`open_layout`, whose scan bounded the whole document's depth."""
    start, stop = layout.transitions
    scanner = JsonScanner(shallow=1)
    buf = bytearray()
    buf_at = start            # absolute offset of buf[0]
    element = None            # absolute offset where the next unparsed element begins
    cuts: list[int] = []      # absolute offsets of the commas (and the closing bracket) after elements
    index = 0
    for block in _blocks(source, start, stop):
        buf += block
        offsets, chars, before = scanner.feed(block)
        for off, ch, depth in zip(offsets.tolist(), chars.tolist(), before.tolist()):
            if depth == 0 and ch == _OPEN_ARR and element is None:
                element = start + off + 1  # offsets count from the first byte fed, ``start``
            elif depth == 1 and ch in (_COMMA, _CLOSE_ARR):
                cuts.append(start + off)
        if element is None:
            continue
        done = scanner.depth == 0
        taken = 0
        while len(cuts) - taken >= batch_rows or (done and len(cuts) > taken):
            cut = cuts[min(taken + batch_rows, len(cuts)) - 1]  # at most batch_rows elements per parse
            text = bytes(buf[element - buf_at:cut - buf_at])
            taken = min(taken + batch_rows, len(cuts))
            if not text.strip(_WS):  # an empty element: only ``[]`` (its one cut, the closing bracket) has one
                if index or not done or len(cuts) != 1:
                    raise ValueError(f"Expecting value at byte {cut}")
            else:
                # depth: bounded by open_layout's scan of the whole document
                rows = _loads(b"[" + text + b"]", depth_checked=True)
                if _needs_exact(rows):  # a fractional action: read the numbers again from their text
                    rows = _loads(b"[" + text + b"]", exact=True, depth_checked=True)
                yield index, rows
                index += len(rows)
            element = cut + 1
        if taken:
            del buf[:element - buf_at]
            buf_at = element
            del cuts[:taken]
