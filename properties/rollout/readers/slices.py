"""How many rows a reader takes at once: ``chunk_rows``, fewer when rows are large.

Not a TorchLean definition. Invariant: one slice of any column is at most :data:`MAX_SLICE_BYTES`
(or a single row), so memory per pass is bounded whatever the rows' size.
"""

from __future__ import annotations

__all__ = ["MAX_SLICE_BYTES", "rows_per_slice"]

MAX_SLICE_BYTES = 64 * 2 ** 20


def rows_per_slice(row_bytes: int, chunk_rows: int) -> int:
    """Rows to read at once so that one slice of a column stays under :data:`MAX_SLICE_BYTES`."""
    return max(1, min(chunk_rows, MAX_SLICE_BYTES // max(row_bytes, 1)))
