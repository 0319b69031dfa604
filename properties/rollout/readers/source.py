"""Opening a recorded rollout without trusting it: regular files or standard input, bounded.

Not a TorchLean definition: TorchLean's ``Boundary.Json.loadRolloutAll`` starts with
``IO.FS.readFile path``; this is the part of that read a hostile path can abuse. Invariants:

- only a **regular file** (after following symlinks) or ``-`` (standard input, read once into
  memory) is ever read; a directory is handed on only as a dataset folder (Minari); a FIFO,
  character device (``/dev/zero``), socket or a terminal on standard input is refused at once,
  without reading a byte or blocking (the file is opened ``O_NONBLOCK`` and ``fstat``-ed);
- at most ``max_bytes`` are read (a larger file is refused before reading, standard input is cut
  at ``max_bytes + 1`` and refused);
- the format sniff reads the first bytes with ``pread`` (or from the bytes already in memory), so
  it never consumes anything a reader needs.
"""

from __future__ import annotations

import io
import os
import stat
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from rollcheck.spec.errors import ArgumentError

from rollcheck.properties.rollout.readers.errors import RolloutFileError

__all__ = ["DEFAULT_MAX_BYTES", "RolloutSource", "open_source"]

DEFAULT_MAX_BYTES = 8 * 2 ** 30  # 8 GiB: generous, but a /dev/zero or a runaway stream stops here
_HEAD = 16


def _kind(mode: int) -> str:
    for test, name in ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a FIFO (named pipe)"),
                       (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
                       (stat.S_ISSOCK, "a socket")):
        if test(mode):
            return name
    return "not a regular file"


@dataclass(frozen=True)
class RolloutSource:
    """A rollout the harness may read: a regular file (``path``), a folder (``path``, a dataset
    directory) or standard input's bytes (``data``). ``head`` is the first bytes, for the sniff."""

    name: str
    path: "Path | None"
    data: "bytes | None"
    size: int
    head: bytes
    max_bytes: int
    is_dir: bool = False

    def open_binary(self) -> BinaryIO:
        """A fresh binary reader over the whole content (never the already-consumed stdin)."""
        if self.data is not None:
            return io.BytesIO(self.data)
        try:
            return open(self.path, "rb")  # type: ignore[arg-type]
        except OSError as exc:
            raise RolloutFileError(f"cannot read rollout file {self.name!r}: {exc}") from None

    def bytes_at(self, offset: int, n: int) -> bytes:
        """``n`` bytes at ``offset`` (fewer at the end), without consuming anything."""
        if self.data is not None:
            return self.data[offset:offset + n]
        with self.open_binary() as fh:
            fh.seek(offset)
            return fh.read(n)

    def read_bytes(self) -> bytes:
        """The whole content (at most ``max_bytes``; checked again in case the file grew)."""
        if self.data is not None:
            return self.data
        with self.open_binary() as fh:
            data = _read_at_most(fh, self.max_bytes + 1, hint=self.size + 1)
        if len(data) > self.max_bytes:
            raise RolloutFileError(f"{self.name!r} grew past --max-bytes {self.max_bytes} while being read")
        return data


def _read_at_most(fh: BinaryIO, limit: int, hint: int = 1 << 20) -> bytes:
    """Up to ``limit`` bytes, in blocks (``fh.read(limit)`` would reserve ``limit`` bytes at once)."""
    parts: list[bytes] = []
    total = 0
    block = max(1, min(hint, limit))
    while total < limit:
        part = fh.read(min(block, limit - total))
        if not part:
            break
        parts.append(part)
        total += len(part)
        block = min(max(block, 1 << 20), 1 << 26)
    return b"".join(parts)


def _check_max_bytes(max_bytes: object) -> int:
    if isinstance(max_bytes, bool) or not isinstance(max_bytes, int) or max_bytes <= 0:
        raise ArgumentError(f"max_bytes={max_bytes!r} should be a positive int (bytes)")
    return max_bytes


def _from_stdin(max_bytes: int) -> RolloutSource:
    stream = sys.stdin.buffer if sys.stdin is not None else None
    if stream is None:
        raise RolloutFileError("'-' means standard input, but there is none")
    if stream.isatty():
        raise RolloutFileError("'-' means standard input, which is a terminal; pipe a file in "
                               "(rollcheck rollout - < rollout.json)")
    data = _read_at_most(stream, max_bytes + 1)
    if len(data) > max_bytes:
        raise RolloutFileError(f"standard input holds more than --max-bytes {max_bytes} bytes; "
                               "raise --max-bytes to read it")
    return RolloutSource("-", None, data, len(data), data[:_HEAD], max_bytes)


def open_source(name: "str | os.PathLike[str]", max_bytes: int = DEFAULT_MAX_BYTES) -> RolloutSource:
    """Check ``name`` is safe to read (see the module docstring) and sniff its first bytes."""
    max_bytes = _check_max_bytes(max_bytes)
    text = os.fspath(name)
    if text == "-":
        return _from_stdin(max_bytes)
    path = Path(text)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_CLOEXEC", 0))
    except IsADirectoryError:
        return RolloutSource(text, path, None, 0, b"", max_bytes, is_dir=True)
    except OSError as exc:
        raise RolloutFileError(f"cannot read rollout file {text!r}: {exc.strerror or exc}") from None
    try:
        st = os.fstat(fd)
        if stat.S_ISDIR(st.st_mode):
            return RolloutSource(text, path, None, 0, b"", max_bytes, is_dir=True)
        if not stat.S_ISREG(st.st_mode):
            hint = ("; to read a pipe or process substitution, pass '-' and redirect it: "
                    "rollcheck rollout - < FILE") if stat.S_ISFIFO(st.st_mode) or text.startswith("/dev/") else ""
            raise RolloutFileError(f"{text!r} is {_kind(st.st_mode)}; only regular files (or '-' for "
                                   f"standard input) are read{hint}")
        if st.st_size > max_bytes:
            raise RolloutFileError(f"{text!r} is {st.st_size} bytes, more than --max-bytes {max_bytes}; "
                                   "raise --max-bytes to read it")
        head = os.pread(fd, _HEAD, 0)
    finally:
        os.close(fd)
    return RolloutSource(text, path, None, st.st_size, head, max_bytes)
