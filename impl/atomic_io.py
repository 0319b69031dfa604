"""Atomic file writes: a report or rollout file is written whole or not at all.

Not a TorchLean definition; it enforces the project rule that no reader ever sees a half-written
file. The text goes to a temporary file in the target's directory, is flushed and fsync'ed, then
``os.replace``'d over the target (atomic on POSIX and Windows for same-directory renames). On any
error the temporary file is removed and the previous target, if any, is left untouched.

:func:`replace_files` does the same for a *set* of files that belong together (a report's
``.md``/``.json``/``.junit.xml``, a rollout and its summary): every new file is written to a
temporary first; only when all are written are they renamed into place, and if a rename fails the
ones already renamed are put back, so the set is either all new or all as it was. A path mapped to
``None`` is removed as part of the set (a failed run must not leave an earlier run's file beside its
own). Signals are blocked while the set is swapped, so Ctrl-C never leaves half a set.
"""

from __future__ import annotations

import os
import secrets
import shutil
import tempfile
from pathlib import Path

import signal
from typing import Mapping

__all__ = ["atomic_write_bytes", "atomic_write_text", "replace_files"]


def atomic_write_bytes(path: "str | os.PathLike[str]", data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically; create parent folders; return the path."""
    return replace_files({path: data})[0]


def _write_temporary(target: Path, data: bytes) -> str:
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        os.chmod(tmp, 0o666 & ~_current_umask())
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
    except BaseException:
        _unlink(tmp)
        raise
    return tmp


def _unlink(path: "str | Path") -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def _backup(target: Path) -> "str | None":
    """A hard link to the current ``target`` (so it can be put back), or ``None`` if there is none."""
    if not os.path.lexists(target):
        return None
    backup = target.parent / f".{target.name}.{os.getpid()}.{secrets.token_hex(6)}.old"
    try:
        os.link(target, backup)
    except OSError:  # a file system without hard links: a copy serves as well
        shutil.copy2(target, backup)
    return str(backup)


def replace_files(files: "Mapping[str | os.PathLike[str], bytes | None]") -> list[Path]:
    """Write every ``path -> bytes`` (remove every ``path -> None``) as one unit; return the written paths.

    Either every file is new (and every ``None`` path gone) or, on any error, every path is as it
    was before the call and the error is raised. Parent folders are created.
    """
    items = [(Path(p), data) for p, data in files.items()]
    temps: dict[Path, str] = {}
    backups: dict[Path, "str | None"] = {}
    try:
        for target, data in items:
            target.parent.mkdir(parents=True, exist_ok=True)
            if data is not None:
                temps[target] = _write_temporary(target, data)
        for target, _ in items:
            backups[target] = _backup(target)
        blocked = _block_signals()
        try:
            done: list[Path] = []
            try:
                for target, data in items:
                    if data is None:
                        _unlink(target)
                    else:
                        os.replace(temps[target], target)
                        del temps[target]
                    done.append(target)
            except BaseException:
                for target in reversed(done):   # put the previous set back
                    old = backups.get(target)
                    if old is not None:
                        os.replace(old, target)
                        backups[target] = None
                    else:
                        _unlink(target)
                raise
        finally:
            _restore_signals(blocked)
    finally:
        for tmp in temps.values():
            _unlink(tmp)
        for old in backups.values():
            if old is not None:
                _unlink(old)
    return [target for target, data in items if data is not None]


def _block_signals() -> "set | None":
    if not hasattr(signal, "pthread_sigmask"):
        return None
    return signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})


def _restore_signals(previous: "set | None") -> None:
    if previous is not None:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def _current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write_text(path: "str | os.PathLike[str]", text: str) -> Path:
    """UTF-8 text version of :func:`atomic_write_bytes`."""
    return atomic_write_bytes(path, text.encode("utf-8"))
