"""Reading a D4RL-style HDF5 file (``observations, actions, rewards, terminals, timeouts``) as a stream.

Not a TorchLean definition: D4RL's flat layout (``qlearning_dataset``), read with h5py. The
datasets at the file's root are named as :data:`~rollcheck.properties.rollout.readers.chunk.NAMINGS`
says (``next_observations`` optional; flags may be stored as numbers, judged exactly 0/1).
Invariants enforced: only numeric/bool datasets are read, their declared (uncompressed) size is
at most ``max_bytes``, and data is read in slices of whole rows whose size is bounded, so a
compressed dataset cannot expand past one slice in memory. A contiguous, unfiltered dataset
(h5py's default layout) is read straight from the file at the offset HDF5 reports
(``DatasetID.get_offset``, used only when its bytes lie inside the file), as an uncompressed
``.npz`` member is; a chunked or compressed one through ``Dataset.read_direct``. Either way each
slice lands in one reused buffer per column (no new arrays, no dtype conversion).
"""

from __future__ import annotations

import math
from typing import Iterator

import h5py
import numpy as np

from rollcheck.properties.rollout.readers.chunk import DEFAULT_CHUNK_ROWS, Chunk, RecordedData, RowNumbers, choose_naming
from rollcheck.properties.rollout.readers.errors import RolloutFileError
from rollcheck.properties.rollout.readers.raw_rows import file_rows
from rollcheck.properties.rollout.readers.slices import rows_per_slice
from rollcheck.properties.rollout.readers.source import RolloutSource

__all__ = ["read_hdf5"]


def _raw_offset(ds: "h5py.Dataset", file_size: int) -> "int | None":
    """Where a contiguous, unfiltered, native-order dataset's bytes start in the file (``None``: read
    it through HDF5). HDF5 reports the offset; it is used only when the bytes lie inside the file."""
    if ds.chunks is not None or ds.external or not ds.dtype.isnative or ds.dtype.kind not in "iuf":  # bool: an HDF5 enum
        return None
    offset = ds.id.get_offset()
    if offset is None or ds.id.get_storage_size() != ds.nbytes or offset + ds.nbytes > file_size:
        return None
    return int(offset)


def read_hdf5(source: RolloutSource, chunk_rows: int = DEFAULT_CHUNK_ROWS) -> RecordedData:
    """The columns of a D4RL-style HDF5 file (datasets checked now, data read per pass)."""
    try:
        fh = h5py.File(source.path if source.path is not None else source.open_binary(), "r")
    except (OSError, ValueError) as exc:
        raise RolloutFileError(f"cannot read {source.name!r} as HDF5: {exc}") from None
    try:
        datasets = {k: v for k, v in fh.items() if isinstance(v, h5py.Dataset)}
        if not datasets and any(k.startswith("episode_") for k in fh.keys()):
            raise RolloutFileError(f"{source.name!r} holds Minari episode groups; pass the Minari dataset's folder "
                                   "(the one with metadata.json) or its dataset id")
        naming, names = choose_naming(set(datasets), repr(source.name))
        cols = {role: datasets[name] for role, name in names.items()}
        for role, ds in cols.items():
            if ds.dtype.kind not in "biuf" or ds.dtype.fields is not None:
                raise RolloutFileError(f"dataset {ds.name!r} has dtype {ds.dtype}; store numeric (and bool) arrays only")
            if ds.ndim == 0:
                raise RolloutFileError(f"dataset {ds.name!r} is 0-d; every column needs a leading dimension N")
            if role in ("rewards", "terminated", "truncated") and ds.ndim != 1:
                raise RolloutFileError(f"dataset {ds.name!r} has shape {list(ds.shape)}; expected (N,)")
        lengths = {ds.name.lstrip("/"): int(ds.shape[0]) for ds in cols.values()}
        if len(set(lengths.values())) > 1:
            raise RolloutFileError(f"datasets have different lengths: {lengths}")
        declared = sum(math.prod(ds.shape) * ds.dtype.itemsize for ds in cols.values())
        if declared > source.max_bytes:
            raise RolloutFileError(f"{source.name!r} declares {declared} bytes of data in the datasets read, more "
                                   f"than --max-bytes {source.max_bytes}")
    except BaseException:
        fh.close()
        raise
    n = next(iter(lengths.values()))
    row_bytes = max(math.prod(ds.shape[1:]) * ds.dtype.itemsize for ds in cols.values())
    step = rows_per_slice(row_bytes, chunk_rows)

    raw = {role: _raw_offset(ds, source.size) for role, ds in cols.items()}

    def sliced(role: str) -> Iterator[np.ndarray]:
        ds = cols[role]
        if raw[role] is not None:
            yield from file_rows(source.open_binary, raw[role], ds.dtype, tuple(ds.shape), step, ds.name.lstrip("/"))
            return
        buffer = np.empty((min(step, n), *ds.shape[1:]), dtype=ds.dtype)
        for start in range(0, n, step):
            stop = min(n, start + step)
            try:  # through HDF5 (chunked, compressed), into the reused buffer (no new arrays, no conversion)
                ds.read_direct(buffer, np.s_[start:stop], np.s_[0:stop - start])
            except (OSError, ValueError, TypeError) as exc:
                raise RolloutFileError(f"{source.name!r}: reading rows {start}..{stop} of {ds.name!r} failed: "
                                       f"{exc}") from None
            yield buffer[:stop - start]

    def chunks() -> Iterator[Chunk]:
        readers = {role: sliced(role) for role in cols}
        rows = RowNumbers(min(step, n))
        for start in range(0, n, step):
            part = {role: next(r) for role, r in readers.items()}
            yield Chunk(rows.at(start, len(part["obs"])), part["obs"], part.get("next_obs"), part["actions"],
                        part["rewards"], part["terminated"], part["truncated"])

    return RecordedData(
        format="hdf5", naming=naming, n=n, chunks=chunks, names=names, flags_numeric=True,
        next_obs_stored="next_obs" in cols, obs_row_shape=tuple(cols["obs"].shape[1:]),
        action_row_shape=tuple(cols["actions"].shape[1:]),
        meta={"h5py": h5py.__version__, "datasets": {role: f"{ds.name.lstrip('/')} {ds.dtype}{list(ds.shape)}" for role, ds in cols.items()}},
        close=fh.close)
