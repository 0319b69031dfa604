"""A dumped rollout buffer plus its env trace in one ``.npz``: the file ``rollcheck arrays FILE.npz`` reads.

Not a TorchLean definition: the on-disk form of :func:`rollcheck.properties.rollout.arrays.validate_arrays`'
inputs. The buffer's arrays keep their names (``obs, actions, logprobs, rewards, dones, values``
and the optional ``advantages, returns, terminated, truncated, next_obs, next_done, next_value``,
shapes as in :mod:`.arrays`); the env's own record (a :class:`~.recording.VecTrace`, e.g. from
``RecordingVecEnv.trace()``) is stored under the prefix ``trace_``: ``trace_obs, trace_actions,
trace_rewards, trace_terminated, trace_truncated, trace_next_obs`` and optionally
``trace_autoreset_step`` (all false when absent). Files are read with ``allow_pickle=False``.

    save_arrays_file("buffer.npz", arrays, trace=envs.trace())   # numpy arrays or CPU torch tensors
    arrays, trace = load_arrays_file("buffer.npz")

Invariant enforced: a file that is not a readable ``.npz`` of plain arrays, or whose trace is
partial, raises :class:`ArgumentError` naming the file and the member, never a raw numpy error.
"""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from rollcheck.spec.errors import ArgumentError

from rollcheck.properties.rollout.recording import VecTrace

__all__ = ["TRACE_FIELDS", "TRACE_PREFIX", "load_arrays_file", "save_arrays_file"]

TRACE_PREFIX = "trace_"
TRACE_FIELDS = ("obs", "actions", "rewards", "terminated", "truncated", "next_obs", "autoreset_step")


def _numpy(value: Any) -> np.ndarray:
    if hasattr(value, "detach"):
        value = value.detach().cpu().numpy()
    return np.asarray(value)


def save_arrays_file(path: "str | Path", arrays: dict, trace: "VecTrace | None" = None) -> Path:
    """Write ``arrays`` (and ``trace`` under ``trace_*``) to ``path`` as an uncompressed ``.npz``."""
    out = {k: _numpy(v) for k, v in arrays.items() if v is not None}
    if trace is not None:
        out.update({TRACE_PREFIX + f: np.asarray(getattr(trace, f)) for f in TRACE_FIELDS})
    path = Path(path)
    np.savez(path, **out)
    return path if path.suffix == ".npz" else path.with_name(path.name + ".npz")


def load_arrays_file(path: "str | Path") -> "tuple[dict[str, np.ndarray], VecTrace | None]":
    """``(buffer arrays, trace or None)`` from a file written by :func:`save_arrays_file`."""
    path = Path(path)
    if not path.is_file():
        raise ArgumentError(f"{str(path)!r} is not a file")
    if not zipfile.is_zipfile(path):
        raise ArgumentError(f"{str(path)!r} is not a readable .npz file (not a zip archive of .npy members)")
    try:
        with np.load(path, allow_pickle=False) as z:
            members = {}
            for k in z.files:
                try:
                    members[k] = z[k]
                except ValueError as exc:
                    raise ArgumentError(f"{str(path)!r}: member {k!r} is not a plain array ({exc})") from None
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as exc:
        raise ArgumentError(f"{str(path)!r} is not a readable .npz file: {type(exc).__name__}: {exc}") from None
    arrays = {k: v for k, v in members.items() if not k.startswith(TRACE_PREFIX)}
    given = {k[len(TRACE_PREFIX):]: v for k, v in members.items() if k.startswith(TRACE_PREFIX)}
    if not given:
        return arrays, None
    unknown = sorted(set(given) - set(TRACE_FIELDS))
    missing = [f for f in TRACE_FIELDS[:-1] if f not in given]
    if unknown or missing:
        raise ArgumentError(f"{str(path)!r}: the trace needs {[TRACE_PREFIX + f for f in TRACE_FIELDS[:-1]]}"
                            + (f"; missing {[TRACE_PREFIX + f for f in missing]}" if missing else "")
                            + (f"; unknown {[TRACE_PREFIX + f for f in unknown]}" if unknown else ""))
    given.setdefault("autoreset_step", np.zeros(np.shape(given["actions"]), bool))
    return arrays, VecTrace(**{f: given[f] for f in TRACE_FIELDS})
