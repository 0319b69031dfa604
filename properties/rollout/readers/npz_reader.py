"""Reading a rollout ``.npz`` as a stream: headers validated before any allocation, sizes bounded.

Not a TorchLean definition: an ``.npz`` is a zip of ``.npy`` members, one per column, in any of
the namings of :data:`~rollcheck.properties.rollout.readers.chunk.NAMINGS`. Invariants enforced:

- nothing is unpickled (an object dtype in a header is refused, naming the array);
- every member's ``.npy`` header is parsed and checked before a byte of data is read: a
  malformed header, an unsupported version, an object dtype and a shape whose size disagrees
  with the bytes the member holds (``(10**12, 4)`` in a 1 kB file) are each described as what
  they are;
- the declared decompressed size of the members read is at most ``max_bytes`` (zip's own size
  fields; the decompressor never yields more than a member declares), so a zip bomb is refused
  or read in bounded memory;
- data is read ``chunk_rows`` rows at a time from each member (memory ~ one chunk per column);
  an uncompressed member (``np.savez``) is read straight from the file into one reused buffer
  per column (its size was checked against the header; zip's CRC is not recomputed), a
  compressed one through :mod:`zipfile`'s bounded decompressor.
"""

from __future__ import annotations

import math
import struct
import zipfile
from dataclasses import dataclass
from typing import BinaryIO, Iterator

import numpy as np

from rollcheck.properties.rollout.readers.chunk import (DEFAULT_CHUNK_ROWS, Chunk, RecordedData, RowNumbers,
                                                        choose_naming)
from rollcheck.properties.rollout.readers.errors import RolloutFileError
from rollcheck.properties.rollout.readers.raw_rows import file_rows
from rollcheck.properties.rollout.readers.slices import rows_per_slice
from rollcheck.properties.rollout.readers.source import RolloutSource

__all__ = ["NpyMember", "read_npz", "read_npy_header"]

_MAX_HEADER = 10000


@dataclass(frozen=True)
class NpyMember:
    """A validated ``.npy`` member: its zip entry, dtype, shape, order and where the data starts."""

    info: zipfile.ZipInfo
    name: str
    dtype: np.dtype
    shape: tuple[int, ...]
    fortran_order: bool
    data_offset: int


def _human(n: int) -> str:
    for unit in ("B", "kB", "MB", "GB", "TB", "PB"):
        if n < 1000:
            return f"{n:.0f} {unit}"
        n /= 1000
    return f"{n:.0f} EB"


def read_npy_header(fh: BinaryIO, name: str, member_size: int, info: zipfile.ZipInfo) -> NpyMember:
    """Parse and check one member's header (see the module docstring)."""
    try:
        version = np.lib.format.read_magic(fh)
    except ValueError as exc:
        raise RolloutFileError(f"array {name!r} is not a .npy member (bad magic: {exc})") from None
    try:
        if version == (1, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_1_0(fh, max_header_size=_MAX_HEADER)
        elif version == (2, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_2_0(fh, max_header_size=_MAX_HEADER)
        else:
            raise RolloutFileError(f"array {name!r} uses .npy format version {version[0]}.{version[1]}, "
                                   "which rollcheck does not read (1.0 and 2.0 are)")
    except RolloutFileError:
        raise
    except (ValueError, SyntaxError, TypeError, EOFError) as exc:
        raise RolloutFileError(f"array {name!r} has a malformed .npy header: {exc}") from None
    if dtype.hasobject:
        raise RolloutFileError(f"array {name!r} is an object array (dtype {dtype}); rollcheck reads .npz with "
                               "allow_pickle=False, so store numeric (and bool) arrays only")
    if dtype.kind not in "biufc" or dtype.fields is not None or dtype.subdtype is not None:
        raise RolloutFileError(f"array {name!r} has dtype {dtype}; store numeric (and bool) arrays only")
    if any(d < 0 for d in shape):
        raise RolloutFileError(f"array {name!r} has a negative dimension in its shape {list(shape)}")
    offset = fh.tell()
    claimed = math.prod(shape) * dtype.itemsize
    held = member_size - offset
    if claimed != held:
        raise RolloutFileError(f"array {name!r} claims shape {list(shape)} of {dtype} ({_human(claimed)}) but its "
                               f"member holds {_human(max(held, 0))} of data: a truncated or forged header")
    return NpyMember(info, name, dtype, tuple(int(d) for d in shape), bool(fortran), offset)


def _open_zip(source: RolloutSource) -> zipfile.ZipFile:
    try:
        return zipfile.ZipFile(source.open_binary())
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
        raise RolloutFileError(f"cannot read {source.name!r} as .npz: {exc}") from None


def _members(zf: zipfile.ZipFile, source: RolloutSource) -> dict[str, zipfile.ZipInfo]:
    out = {}
    for info in zf.infolist():
        if info.filename.endswith(".npy"):
            out[info.filename[:-4]] = info
    if not out:
        raise RolloutFileError(f"{source.name!r} is a zip archive with no .npy members")
    return out


def _check_layout(members: dict[str, NpyMember]) -> int:
    for role, m in members.items():
        if len(m.shape) == 0:
            raise RolloutFileError(f"array {m.name!r} is 0-d; every array needs a leading dimension N")
        if role in ("rewards", "terminated", "truncated") and len(m.shape) != 1:
            raise RolloutFileError(f"array {m.name!r} has shape {list(m.shape)}; expected (N,)")
    lengths = {m.name: m.shape[0] for m in members.values()}
    if len(set(lengths.values())) > 1:
        raise RolloutFileError(f"arrays have different lengths: {lengths}")
    return next(iter(lengths.values()))


def _stored_data_start(raw: BinaryIO, info: zipfile.ZipInfo) -> int:
    """Where a stored member's bytes begin: after its local header (whose name/extra lengths may
    differ from the central directory's)."""
    raw.seek(info.header_offset)
    local = raw.read(30)
    if len(local) != 30 or local[:4] != b"PK\x03\x04":
        raise RolloutFileError(f"member {info.filename!r} has no local zip header at offset {info.header_offset}")
    name_len, extra_len = struct.unpack("<HH", local[26:30])
    return info.header_offset + 30 + name_len + extra_len


def _stored_rows(source: RolloutSource, m: NpyMember, chunk_rows: int) -> Iterator[np.ndarray]:
    """Rows of an uncompressed (``np.savez``) member read straight into arrays (no zip layer, no copy)."""
    with source.open_binary() as raw:
        start = _stored_data_start(raw, m.info) + m.data_offset
    yield from file_rows(source.open_binary, start, m.dtype, m.shape, chunk_rows, m.name)


def _row_reader(zf: zipfile.ZipFile, source: RolloutSource, m: NpyMember, chunk_rows: int) -> Iterator[np.ndarray]:
    row_shape = m.shape[1:]
    row_bytes = math.prod(row_shape) * m.dtype.itemsize
    n = m.shape[0]
    if m.info.compress_type == zipfile.ZIP_STORED and not (m.fortran_order and len(m.shape) > 1) \
            and m.dtype.isnative:
        yield from _stored_rows(source, m, chunk_rows)
        return
    with zf.open(m.info) as fh:
        fh.read(m.data_offset)
        if m.fortran_order and len(m.shape) > 1:  # column-major: the rows are not contiguous
            data = fh.read(math.prod(m.shape) * m.dtype.itemsize)
            whole = np.frombuffer(data, dtype=m.dtype).reshape(m.shape[::-1]).T
            for start in range(0, n, chunk_rows):
                yield whole[start:start + chunk_rows]
            return
        for start in range(0, n, chunk_rows):
            k = min(chunk_rows, n - start)
            data = fh.read(k * row_bytes)
            if len(data) != k * row_bytes:
                raise RolloutFileError(f"array {m.name!r} ends early (row {start + len(data) // max(row_bytes, 1)} "
                                       f"of {n})")
            yield np.frombuffer(data, dtype=m.dtype).reshape((k, *row_shape))


def read_npz(source: RolloutSource, chunk_rows: int = DEFAULT_CHUNK_ROWS) -> RecordedData:
    """The columns of a rollout ``.npz`` in any naming (headers checked now, data read per pass)."""
    zf = _open_zip(source)
    try:
        naming, names = choose_naming(_members(zf, source), repr(source.name))
        infos = _members(zf, source)
        declared = sum(infos[name].file_size for name in names.values())
        if declared > source.max_bytes:
            raise RolloutFileError(f"{source.name!r} declares {_human(declared)} of decompressed data in the arrays "
                                   f"read, more than --max-bytes {source.max_bytes}")
        members: dict[str, NpyMember] = {}
        for role, name in names.items():
            info = infos[name]
            try:
                with zf.open(info) as fh:
                    members[role] = read_npy_header(fh, name, info.file_size, info)
            except (zipfile.BadZipFile, OSError, EOFError, NotImplementedError) as exc:
                raise RolloutFileError(f"array {name!r} cannot be read from {source.name!r}: {exc}") from None
        n = _check_layout(members)
        row_bytes = max(math.prod(m.shape[1:]) * m.dtype.itemsize for m in members.values())
        chunk_rows = rows_per_slice(row_bytes, chunk_rows)  # every column advances by the same rows
    except BaseException:
        zf.close()
        raise

    def chunks() -> Iterator[Chunk]:
        readers = {role: _row_reader(zf, source, m, chunk_rows) for role, m in members.items()}
        rows = RowNumbers(min(chunk_rows, n))
        start = 0
        try:
            while start < n:
                cols = {role: next(r) for role, r in readers.items()}
                k = len(cols["obs"])
                yield Chunk(rows.at(start, k), cols["obs"], cols.get("next_obs"), cols["actions"],
                            cols["rewards"], cols["terminated"], cols["truncated"])
                start += k
        except (zipfile.BadZipFile, OSError, EOFError, ValueError) as exc:  # bad CRC, truncated stream
            raise RolloutFileError(f"{source.name!r}: reading the arrays failed at row {start}: {exc}") from None

    return RecordedData(
        format="npz", naming=naming, n=n, chunks=chunks, names=names, flags_numeric=naming == "d4rl",
        next_obs_stored="next_obs" in members, obs_row_shape=members["obs"].shape[1:],
        action_row_shape=members["actions"].shape[1:],
        meta={"arrays": {role: f"{m.name} {m.dtype}{list(m.shape)}" for role, m in members.items()}},
        close=zf.close)
