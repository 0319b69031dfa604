"""Rows of an array stored contiguously in a file, read straight into one reused buffer.

Not a TorchLean definition: the fast path shared by the ``.npz`` reader (an uncompressed member,
``np.savez``) and the HDF5 reader (a contiguous, unfiltered dataset at the offset HDF5 reports).
Invariants enforced: the caller has checked the header (dtype native and numeric, C order, the
byte count it claims); each yielded array is a view of one buffer allocated once (``chunk_rows``
rows, at most the array's rows), so memory is one chunk per column whatever the file's size and a
consumer copies what it keeps past the next chunk; a file that ends early is a
:class:`~rollcheck.properties.rollout.readers.errors.RolloutFileError` naming the array and row.
"""

from __future__ import annotations

import math
from typing import BinaryIO, Callable, Iterator

import numpy as np

from rollcheck.properties.rollout.readers.errors import RolloutFileError

__all__ = ["file_rows"]


def file_rows(open_binary: Callable[[], BinaryIO], offset: int, dtype: np.dtype, shape: "tuple[int, ...]",
              chunk_rows: int, name: str) -> Iterator[np.ndarray]:
    """``shape[0]`` rows of ``dtype`` at byte ``offset``, ``chunk_rows`` at a time (``readinto`` a reused buffer)."""
    n, row_shape = shape[0], tuple(shape[1:])
    row_bytes = math.prod(row_shape) * dtype.itemsize
    with open_binary() as raw:
        raw.seek(offset)
        buffer = np.empty((min(chunk_rows, n), *row_shape), dtype=dtype)  # its pages stay mapped and cached
        for start in range(0, n, chunk_rows):
            k = min(chunk_rows, n - start)
            out = buffer[:k]
            got = raw.readinto(memoryview(out.reshape(-1).view(np.uint8))) if k * row_bytes else 0
            if got != k * row_bytes:
                raise RolloutFileError(f"array {name!r} ends early (row {start + got // max(row_bytes, 1)} of {n})")
            yield out
