"""Run user code in a supervised worker process, so the harness survives its subject.

Not a TorchLean definition: TorchLean runs its env behind a process boundary (the Gymnasium
bridge); this module gives every rollcheck command the same protection for code that runs
in-process (env factories, ``reset``/``step``, wrappers, collectors, policies).

    outcome = run_supervised(fn, *args, timeout=60.0, **kwargs)   # or fn = "module:qualname"
    outcome.kind      # "returned" | "raised" | "exited" | "crashed" | "hung"
    outcome.value     # what fn returned (pickled back), when kind == "returned"
    outcome.call      # the user call that broke, with its arguments: "TimeLimit.step(action=1)"
    outcome.where     # the innermost user frame: "/home/me/envs.py:12 in step"
    outcome.traceback # the full traceback (or the faulthandler dump of a crash or hang)
    outcome.describe()  # one line: "step(action=1) did not return within 2 s (at /home/me/envs.py:12 in step)"

``fn`` runs in a forked worker in its own process group. Whatever it does — raise any
``BaseException`` (``SystemExit``, ``KeyboardInterrupt``, ``GeneratorExit``), call ``os._exit``,
segfault, or hang, in Python or in C with the GIL held — the caller gets an :class:`Outcome`, and
no process the worker started outlives the call: the worker's process group is killed, and
(on Linux, where the caller becomes a child subreaper for the duration) so is every descendant
that escaped it into a session of its own. The worker dies with the caller (``PR_SET_PDEATHSIG``).

Hangs are judged per call, not per run: a watchdog thread in the worker samples the main
thread's stack every ``sample_s`` seconds; the *boundary call* is the frame that rollcheck's own
code (the ``harness`` packages: rollcheck, Hypothesis, and any the caller adds, e.g.
Stable-Baselines3) called into. When the same boundary frame stays on the stack for ``timeout``
seconds, that call hung. A hang in C that holds the GIL stops the watchdog itself; the supervisor
then judges from the last heartbeat, and ``faulthandler`` (registered on ``SIGUSR1``, which needs no
GIL) dumps where the worker is stuck before it is killed.

Invariants enforced: the call returns (within ``timeout`` plus about a second of a call that
hangs); the worker and its descendants are gone when it returns or raises (also on
``KeyboardInterrupt`` in the caller); argument descriptions never run user code (no user
``__repr__`` is called from the watchdog).
"""

from __future__ import annotations

import ctypes
import faulthandler
import importlib
import importlib.util
import os
import pickle
import select
import signal
import struct
import sys
import sysconfig
import tempfile
import threading
import time
import traceback
from contextlib import contextmanager
from dataclasses import dataclass, field
from types import FrameType, TracebackType
from typing import Any, Callable, Iterable, Iterator

from rollcheck.spec.errors import ArgumentError
from rollcheck.spec.arguments import check_real

__all__ = ["DEFAULT_TIMEOUT", "HARNESS_PACKAGES", "Interrupted", "Outcome", "bind_to_parent",
           "interrupted_by_signal", "reaping_descendants", "run_supervised", "supported"]

DEFAULT_TIMEOUT = 60.0
HARNESS_PACKAGES = ("rollcheck", "hypothesis")
_HEADER = struct.Struct("!Q")
_PR_SET_PDEATHSIG, _PR_SET_CHILD_SUBREAPER, _PR_GET_CHILD_SUBREAPER = 1, 36, 37
_KINDS = ("returned", "raised", "exited", "crashed", "hung")
_STDLIB = os.path.realpath(sysconfig.get_paths()["stdlib"]) + os.sep


_signalled = False   # in a worker: the supervisor forwarded a real Ctrl-C


class Interrupted(KeyboardInterrupt):
    """Ctrl-C while supervising: the worker was asked to stop; ``outcome`` is how it ended."""

    def __init__(self, outcome: "Outcome | None") -> None:
        super().__init__("interrupted")
        self.outcome = outcome


def interrupted_by_signal() -> bool:
    """In a worker: whether a ``KeyboardInterrupt`` came from a real Ctrl-C (forwarded by the
    supervisor) rather than from user code raising it."""
    return _signalled


def _on_sigint(signum: int, frame: Any) -> None:
    global _signalled
    _signalled = True
    raise KeyboardInterrupt


def supported() -> bool:
    """Whether workers can be forked here (POSIX); elsewhere callers run the code in-process."""
    return hasattr(os, "fork") and hasattr(os, "setpgid")


@dataclass(frozen=True)
class Outcome:
    """How a supervised call ended. ``kind`` is one of ``returned, raised, exited, crashed, hung``."""

    kind: str
    value: Any = None
    exception: "str | None" = None      # "SystemExit: 0" for kind == "raised"
    call: "str | None" = None           # the user call that broke, with its arguments
    where: "str | None" = None          # the innermost user frame, "path:line in function"
    traceback: "str | None" = None
    exit_status: "int | None" = None    # kind == "exited"
    signal: "str | None" = None         # kind == "crashed": "SIGSEGV"
    timeout: "float | None" = None
    elapsed_s: float = 0.0
    extra: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.kind not in _KINDS:
            raise ArgumentError(f"Outcome.kind={self.kind!r} should be one of {_KINDS}")

    @property
    def ok(self) -> bool:
        return self.kind == "returned"

    def describe(self) -> str:
        """One line saying what happened, naming the call and where it was."""
        call = self.call or "the subject"
        if self.kind == "returned":
            return "returned"
        if self.kind == "raised":
            text = f"{call} raised {self.exception}"
        elif self.kind == "hung":
            text = f"{call} did not return within {self.timeout:g} s (--timeout)"
        elif self.kind == "exited":
            text = f"the worker exited with status {self.exit_status} (sys.exit/os._exit in user code?) " \
                   f"during {call}"
        else:
            text = f"the worker crashed ({self.signal}) during {call}"
        return text + (f" at {self.where}" if self.where else "")


# -- what belongs to the harness -----------------------------------------------------------------
def _package_dirs(packages: Iterable[str]) -> tuple[str, ...]:
    dirs: set[str] = set()
    for name in packages:
        if name == "rollcheck":   # rollcheck's subpackages live in separate folders (package-dir)
            names = ("rollcheck", "rollcheck.spec", "rollcheck.impl", "rollcheck.properties")
        else:
            names = (name,)
        for n in names:
            try:   # find, never import: classifying frames must not run a package's import code
                spec = importlib.util.find_spec(n)
            except (ImportError, ValueError):
                continue
            if spec is None:
                continue
            locations = list(spec.submodule_search_locations or []) or \
                ([os.path.dirname(spec.origin)] if spec.origin else [])
            for p in locations:
                dirs.add(os.path.realpath(p) + os.sep)
    return tuple(sorted(dirs))


class _Harness:
    """Classifies code by file: rollcheck's own (and the other harness packages) or the user's."""

    def __init__(self, packages: Iterable[str]) -> None:
        self.dirs = _package_dirs(packages)
        self.cache: dict[str, bool] = {}

    def owns(self, filename: str) -> bool:
        hit = self.cache.get(filename)
        if hit is None:
            real = os.path.realpath(filename) if filename and not filename.startswith("<") else filename
            hit = self.cache[filename] = bool(real) and real.startswith(self.dirs)
        return hit

    def boundary(self, frames: "list[FrameType]") -> "tuple[FrameType | None, FrameType | None]":
        """``(boundary, innermost user frame)`` for a stack listed outermost first."""
        last = None
        for i, f in enumerate(frames):
            if self.owns(f.f_code.co_filename):
                last = i
        if last is None or last == len(frames) - 1:
            return None, None
        inner = next((f for f in reversed(frames) if not self.owns(f.f_code.co_filename)), None)
        return frames[last + 1], inner


def _shallow(x: Any, limit: int = 80, depth: int = 0) -> str:
    """A description of an argument that never runs user code."""
    t = type(x)
    if x is None or t in (bool, int, float, complex):
        text = repr(x)
    elif t in (str, bytes):
        text = repr(x[:limit])
    elif t in (tuple, list) and depth < 2:
        inner = ", ".join(_shallow(v, 30, depth + 1) for v in x[:6]) + (", ..." if len(x) > 6 else "")
        text = f"({inner}{',' if len(x) == 1 else ''})" if t is tuple else f"[{inner}]"
    elif t is dict and depth < 2:
        items = list(x.items())[:4]
        text = "{" + ", ".join(f"{_shallow(k, 20, 2)}: {_shallow(v, 30, depth + 1)}" for k, v in items) + \
            (", ..." if len(x) > 4 else "") + "}"
    elif t.__module__ == "numpy" and t.__name__ == "ndarray":
        text = repr(x) if x.size <= 8 else f"array(shape={x.shape}, dtype={x.dtype})"
    elif t.__module__ == "numpy" and hasattr(x, "dtype"):   # numpy scalars
        text = repr(x)
    else:
        text = f"<{t.__module__}.{t.__qualname__} object>"
    return text if len(text) <= limit * 3 else text[:limit * 3] + "..."


def _call_text(frame: FrameType) -> str:
    code = frame.f_code
    name = getattr(code, "co_qualname", code.co_name)
    n = code.co_argcount + code.co_kwonlyargcount
    names = list(code.co_varnames[:n])
    if code.co_flags & 0x04:
        names.append(code.co_varnames[n])
    local = frame.f_locals
    args = [f"{a}={_shallow(local[a])}" for a in names if a not in ("self", "cls") and a in local]
    return f"{name}({', '.join(args)})"


def _where(frame: "FrameType | None", lineno: "int | None" = None) -> "str | None":
    if frame is None:
        return None
    return f"{frame.f_code.co_filename}:{lineno or frame.f_lineno} in {frame.f_code.co_name}"


def _from_traceback(harness: _Harness, tb: "TracebackType | None") -> "tuple[str | None, str | None]":
    entries = []
    while tb is not None:
        entries.append((tb.tb_frame, tb.tb_lineno))
        tb = tb.tb_next
    last = None
    for i, (f, _) in enumerate(entries):
        if harness.owns(f.f_code.co_filename) and i + 1 < len(entries) \
                and not harness.owns(entries[i + 1][0].f_code.co_filename):
            last = i
    if last is None:
        return None, None
    user = [(f, ln) for f, ln in entries[last + 1:] if not harness.owns(f.f_code.co_filename)]
    boundary = entries[last + 1][0]
    return _call_text(boundary), _where(*user[-1]) if user else None


# -- the worker -----------------------------------------------------------------------------------
class _Channel:
    """Length-prefixed pickles on a pipe, from the worker's two threads."""

    def __init__(self, fd: int) -> None:
        self.fd, self.lock = fd, threading.Lock()

    def send(self, message: tuple) -> None:
        data = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
        with self.lock:
            view = memoryview(_HEADER.pack(len(data)) + data)
            while view:
                view = view[os.write(self.fd, view):]


def _prctl(option: int, value: int) -> bool:
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(option, value, 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def _get_subreaper() -> "int | None":
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        out = ctypes.c_int(0)
        if libc.prctl(_PR_GET_CHILD_SUBREAPER, ctypes.byref(out), 0, 0, 0) == 0:
            return out.value
    except (OSError, AttributeError):
        pass
    return None


def _watchdog(channel: _Channel, harness: _Harness, main_id: int, timeout: float, sample_s: float,
              stop: threading.Event) -> None:
    current: "FrameType | None" = None
    since = time.monotonic()
    while not stop.wait(sample_s):
        frame = sys._current_frames().get(main_id)
        stack = []
        while frame is not None:
            stack.append(frame)
            frame = frame.f_back
        stack.reverse()
        boundary, inner = harness.boundary(stack)
        now = time.monotonic()
        if boundary is not current:
            current, since = boundary, now
            channel.send(("beat", None if boundary is None else _call_text(boundary), _where(inner)))
        else:
            channel.send(("beat",))
        if current is not None and now - since >= timeout:
            text = "".join(traceback.format_stack(stack[-1]))
            channel.send(("hung", _call_text(current), _where(inner), text))
            return
        del stack, boundary, inner


def _run_worker(fn: Callable[..., Any], args: tuple, kwargs: dict, write_fd: int, dump_fd: int,
                timeout: float, sample_s: float, packages: tuple, parent: int) -> None:
    """The forked worker: run ``fn`` and report how it ended; never returns."""
    status = 0
    try:
        os.setpgid(0, 0)
        bind_to_parent(parent)
        signal.signal(signal.SIGINT, _on_sigint)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        faulthandler.enable(file=dump_fd, all_threads=True)
        faulthandler.register(signal.SIGUSR1, file=dump_fd, all_threads=True, chain=False)
        channel = _Channel(write_fd)
        harness = _Harness(packages)
        stop = threading.Event()
        dog = threading.Thread(target=_watchdog, name="rollcheck-watchdog", daemon=True,
                               args=(channel, harness, threading.main_thread().ident, timeout, sample_s, stop))
        dog.start()
        try:
            value = fn(*args, **kwargs)
        except BaseException as exc:  # noqa: BLE001 — the subject may raise anything; report it
            call, where = _from_traceback(harness, exc.__traceback__)
            stop.set()
            channel.send(("raised", _exception_text(exc), call, where, _format_exception(exc)))
        else:
            stop.set()
            try:
                channel.send(("returned", value))
            except BaseException as exc:  # noqa: BLE001 — an unpicklable result
                channel.send(("raised", f"cannot send the result back: {_exception_text(exc)}", None, None,
                              _format_exception(exc)))
    except BaseException:  # noqa: BLE001 — the worker must never fall back into the caller's code
        status = 71
    finally:
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except BaseException:  # noqa: BLE001
                pass
        os._exit(status)


def _exception_text(exc: BaseException) -> str:
    try:
        msg = str(exc)
    except BaseException:  # noqa: BLE001 — a hostile __str__
        msg = "<str() of the exception raised>"
    return f"{type(exc).__name__}: {msg}" if msg else type(exc).__name__


def _format_exception(exc: BaseException) -> str:
    try:
        return "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    except BaseException:  # noqa: BLE001
        return _exception_text(exc)


# -- the supervisor -------------------------------------------------------------------------------
def _resolve(fn: "str | Callable[..., Any]") -> Callable[..., Any]:
    if callable(fn):
        return fn
    if not isinstance(fn, str) or ":" not in fn:
        raise ArgumentError(f"fn={fn!r} should be a callable or 'module:qualname'")
    module, _, qual = fn.partition(":")
    obj: Any = importlib.import_module(module)
    for part in qual.split("."):
        obj = getattr(obj, part)
    return obj


def _children() -> set[int]:
    """Pids whose parent is this process (Linux ``/proc``; empty elsewhere)."""
    me, out = os.getpid(), set()
    try:
        entries = os.listdir("/proc")
    except OSError:
        return out
    for e in entries:
        if not e.isdigit():
            continue
        try:
            with open(f"/proc/{e}/stat", "rb") as fh:
                stat = fh.read()
        except OSError:
            continue
        fields = stat[stat.rfind(b")") + 2:].split()
        if len(fields) > 1 and int(fields[1]) == me:
            out.add(int(e))
    return out


def _kill_group(pgid: int) -> None:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def _reap(pid: int) -> "int | None":
    """Wait for ``pid``; its wait status (``None`` if it was not our child)."""
    try:
        return os.waitpid(pid, 0)[1]
    except ChildProcessError:
        return None


def _kill_orphans(before: set[int], rounds: int = 20) -> None:
    """Kill and reap every child that appeared during the call (the worker's escaped descendants)."""
    for _ in range(rounds):
        new = _children() - before
        if not new:
            return
        for pid in new:
            try:
                group = os.getpgid(pid)
                if group != os.getpgrp():   # its own group (or session): take the whole group
                    os.killpg(group, signal.SIGKILL)
                os.kill(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            _reap(pid)
        time.sleep(0.01)


def bind_to_parent(parent: int) -> None:
    """In a freshly forked process: die (``SIGKILL``) when ``parent``, the pid that forked it, dies.

    ``PR_SET_PDEATHSIG`` on Linux; if the parent is already gone by then (it died between the fork
    and this call, so the signal will never come), exit at once. Elsewhere: no effect.
    """
    _prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:
        os._exit(70)


@contextmanager
def reaping_descendants() -> Iterator[None]:
    """Within the block this process is a child subreaper (Linux); on leaving it, however it is left
    (``KeyboardInterrupt`` included), every child that appeared during the block is killed and reaped,
    and so, round by round, is every descendant that escaped into a session of its own (it is
    re-parented to this process when its parent dies). Elsewhere only the children are known."""
    before = _children()
    reaper = _get_subreaper()
    if reaper == 0:
        _prctl(_PR_SET_CHILD_SUBREAPER, 1)
    try:
        yield
    finally:
        _kill_orphans(before)
        if reaper == 0:
            _prctl(_PR_SET_CHILD_SUBREAPER, 0)


def _read_dump(fd: int) -> str:
    try:
        os.lseek(fd, 0, os.SEEK_SET)
        chunks = []
        while True:
            b = os.read(fd, 1 << 16)
            if not b:
                break
            chunks.append(b)
        return b"".join(chunks).decode("utf-8", "replace")
    except OSError:
        return ""


def _where_from_dump(dump: str, harness: _Harness) -> "str | None":
    """The innermost user frame of the main thread in a faulthandler dump (most recent call first).

    The watchdog thread's section is left out; frames of the standard library are passed over
    when a user frame calls them (a C-level hang in ``re.match`` is reported at the user's line).
    """
    sections, current = [], []
    for line in dump.splitlines():
        if line.startswith(("Thread 0x", "Current thread 0x")):
            current = []
            sections.append(current)
        elif line.strip().startswith('File "'):
            current.append(line.strip())
    frames = next((sec for sec in sections if not any(" in _watchdog" in ln for ln in sec)), [])
    found = []
    for line in frames:
        path, _, rest = line[6:].partition('"')
        if not harness.owns(path):
            lineno, _, func = rest.strip(", ").removeprefix("line ").partition(" in ")
            found.append((path, f"{path}:{lineno} in {func}"))
    user = [w for path, w in found if not path.startswith(_STDLIB)]
    return (user or [w for _, w in found] or [None])[0]


def run_supervised(fn: "str | Callable[..., Any]", *args: Any, timeout: float = DEFAULT_TIMEOUT,
                   harness: Iterable[str] = (), sample_s: float = 0.05, grace_s: float = 1.0,
                   interrupt_grace_s: float = 3.0, **kwargs: Any) -> Outcome:
    """Run ``fn(*args, **kwargs)`` in a supervised worker process; see the module docstring.

    ``fn`` is a callable (the worker is forked, so closures work) or ``"module:qualname"``; its
    return value must pickle. ``timeout`` bounds one call from the harness into user code;
    ``harness`` adds package names whose frames count as the harness (e.g. ``stable_baselines3``
    when SB3 drives the user's env); ``sample_s`` is the watchdog's sampling period; ``grace_s``
    is how long past ``timeout`` a silent worker (a C-level hang) is given before it is killed.
    On Ctrl-C in the caller the worker gets ``SIGINT`` and ``interrupt_grace_s`` seconds to end;
    then :class:`Interrupted` (a ``KeyboardInterrupt``) is raised with how it ended.
    """
    timeout = check_real("timeout", timeout, positive=True)   # seconds
    if not supported():
        raise ArgumentError("run_supervised needs os.fork (POSIX); run the code in-process instead")
    target = _resolve(fn)
    packages = tuple(dict.fromkeys((*HARNESS_PACKAGES, *harness)))
    judge = _Harness(packages)
    sys.stdout.flush()
    sys.stderr.flush()
    dump = tempfile.TemporaryFile()
    read_fd, write_fd = os.pipe()
    parent = os.getpid()
    with reaping_descendants():
        pid = None
        try:
            start = time.monotonic()
            pid = os.fork()
            if pid == 0:  # pragma: no cover — the worker (coverage cannot see past os._exit)
                os.close(read_fd)
                _run_worker(target, args, kwargs, write_fd, dump.fileno(), float(timeout), sample_s, packages,
                            parent)
            os.close(write_fd)
            write_fd = None
            try:
                os.setpgid(pid, pid)   # also here, so killpg works even before the worker ran a line
            except (ProcessLookupError, PermissionError):
                pass
            return _supervised(pid, read_fd, dump.fileno(), judge, float(timeout), grace_s, interrupt_grace_s,
                               start)
        finally:
            if pid:
                _kill_group(pid)
                try:
                    os.kill(pid, signal.SIGKILL)   # in case it had not got its own group yet
                except ProcessLookupError:
                    pass
                _reap(pid)
            if write_fd is not None:
                os.close(write_fd)
            os.close(read_fd)
            dump.close()


def _supervised(pid: int, read_fd: int, dump_fd: int, judge: _Harness, timeout: float, grace_s: float,
                interrupt_grace_s: float, start: float) -> Outcome:
    """Supervise the worker ``pid`` to its outcome; on Ctrl-C, give it ``interrupt_grace_s`` to end."""
    try:
        return _supervise(pid, read_fd, dump_fd, judge, timeout, grace_s, start)
    except KeyboardInterrupt:
        # a real Ctrl-C: let the worker stop cleanly (it may hand back what it found), briefly
        try:
            os.kill(pid, signal.SIGINT)
        except ProcessLookupError:
            raise Interrupted(None) from None
        try:
            outcome = _supervise(pid, read_fd, dump_fd, judge, interrupt_grace_s, 0.0, start,
                                 deadline=time.monotonic() + interrupt_grace_s)
        except KeyboardInterrupt:
            outcome = None
        raise Interrupted(outcome) from None


def _supervise(pid: int, fd: int, dump_fd: int, judge: _Harness, timeout: float, grace_s: float,
               start: float, deadline: "float | None" = None) -> Outcome:
    buf = bytearray()
    call = where = None
    last_heard = time.monotonic()
    status = None
    eof = False
    while True:
        ready = False
        if eof:
            time.sleep(0.02)
        else:
            ready = bool(select.select([fd], [], [], 0.05)[0])
        if ready:
            chunk = os.read(fd, 1 << 20)
            if chunk:
                buf += chunk
                last_heard = time.monotonic()
            else:
                eof, ready = True, False
        while len(buf) >= _HEADER.size:
            (n,) = _HEADER.unpack_from(buf)
            if len(buf) < _HEADER.size + n:
                break
            message = pickle.loads(bytes(buf[_HEADER.size:_HEADER.size + n]))
            del buf[:_HEADER.size + n]
            kind = message[0]
            elapsed = time.monotonic() - start
            if kind == "beat":
                if len(message) > 1:
                    call, where = message[1], message[2]
            elif kind == "returned":
                return Outcome("returned", value=message[1], elapsed_s=elapsed)
            elif kind == "raised":
                return Outcome("raised", exception=message[1], call=message[2], where=message[3],
                               traceback=message[4], elapsed_s=elapsed)
            elif kind == "hung":
                return Outcome("hung", call=message[1], where=message[2], traceback=message[3], timeout=timeout,
                               elapsed_s=elapsed)
        if status is None:
            done, st = os.waitpid(pid, os.WNOHANG)
            if done:
                status = st
        if status is not None and not ready:
            elapsed = time.monotonic() - start
            text = _read_dump(dump_fd)
            if os.WIFSIGNALED(status):
                sig = signal.Signals(os.WTERMSIG(status)).name
                return Outcome("crashed", signal=sig, call=call, where=_where_from_dump(text, judge) or where,
                               traceback=text or None, elapsed_s=elapsed)
            return Outcome("exited", exit_status=os.WEXITSTATUS(status), call=call, where=where,
                           traceback=text or None, elapsed_s=elapsed)
        if deadline is not None and time.monotonic() > deadline:
            return Outcome("hung", call=call, where=where, timeout=timeout, elapsed_s=time.monotonic() - start)
        if status is None and time.monotonic() - last_heard > timeout + grace_s:
            # the watchdog is silent: a C-level hang holding the GIL. Ask faulthandler where it is.
            try:
                os.kill(pid, signal.SIGUSR1)
            except ProcessLookupError:
                continue
            time.sleep(0.2)
            text = _read_dump(dump_fd)
            return Outcome("hung", call=call, where=_where_from_dump(text, judge) or where, traceback=text or None,
                           timeout=timeout, elapsed_s=time.monotonic() - start,
                           extra={"silent": True})
