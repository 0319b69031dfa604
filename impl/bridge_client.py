"""The Gymnasium bridge client: drive a bridge server subprocess, checked, without ever hanging.

Mirrors TorchLean's ``NN.Runtime.RL.Gymnasium.Client`` (``spawn`` with its ``describe``
handshake, ``reset``, ``stepRaw``, ``close``, ``withClient``) and ``NN.Runtime.RL.Gymnasium.Session``
(``start``, ``stepChecked`` with ``resetOnDone``), as :class:`GymnasiumClient` and
:func:`bridge_session` (a :class:`rollcheck.impl.session.CheckedSession`).

Invariants enforced:

- the server's spaces match the expected ``obs_shape``/``n_actions`` (``describe`` handshake;
  a mismatch raises :class:`BridgeHandshakeError` and the child is reaped);
- every reply is decoded strictly (:mod:`rollcheck.impl.bridge_protocol`): shape, JSON types,
  boolean flags; :meth:`GymnasiumClient.reset`/:meth:`GymnasiumClient.step` also check the
  contract (finiteness, ranges) and raise :class:`BridgeContractViolation` (a
  ``ContractViolation`` *and* a ``BridgeError``) naming field and value;
- **no call hangs**: each reply must arrive within ``timeout`` seconds (``poll`` on the pipe with a
  deadline, never a blocking ``readline``); a dead, silent or garbage-writing server raises a
  :class:`BridgeError` subclass (:class:`BridgeServerExited`, :class:`BridgeTimeout`,
  :class:`BridgeProtocolError`) whose message ends with the server's stderr tail, and the child
  is killed and reaped at once (after such an error the stream cannot be trusted);
- **the child is always reaped**: ``close()`` (idempotent; also on ``with`` exit, exceptions,
  ``KeyboardInterrupt`` and garbage collection) asks the server to close, waits ``grace`` seconds,
  then terminates and kills it.

The server's stderr goes to an anonymous temporary file, so a chatty environment can never block
on a full pipe, and costs nothing per step. POSIX only (``select.poll`` on pipes).
"""

from __future__ import annotations

import math
import os
import select
import subprocess
import sys
import tempfile
import threading
import time
import weakref
from dataclasses import dataclass
from typing import Any, Iterable, Mapping, Sequence

import numpy as np

from rollcheck.impl.bridge_protocol import (BridgeContractViolation, BridgeError, BridgeHandshakeError,
                                            BridgeProtocolError, BridgeServerError, BridgeServerExited,
                                            BridgeTimeout, Description, StepBatch, as_actions,
                                            decode_describe_reply, decode_reset_reply,
                                            decode_step_many_reply, decode_step_reply,
                                            encode_request, expect_close_reply, step_request)
from rollcheck.impl.session import CheckedSession
from rollcheck.spec import (Contract, Shape, Transition, as_shape, check_action, check_observation,
                            check_transition_fin, done_flags_violations, observation_violations,
                            reward_violations)
from rollcheck.spec.errors import InvalidArgument

__all__ = ["BridgeContractViolation", "BridgeError", "BridgeHandshakeError", "BridgeProtocolError",
           "BridgeServerError", "BridgeServerExited", "BridgeTimeout", "BridgeSessionState", "StepBatch",
           "GymnasiumClient", "bridge_session", "check_reset_reply", "check_step_batch", "check_step_reply", "server_command"]

_MAX_LINE = 64 << 20
_STDERR_TAIL = 4096
_POLLIN = select.POLLIN | select.POLLPRI | select.POLLHUP | select.POLLERR


def server_command(env_id: str, make_kwargs: "Mapping[str, Any] | None" = None,
                   python: str = sys.executable) -> list[str]:
    """The default server command line: ``python -m rollcheck serve --env-id ID [--make-kwargs JSON]``."""
    import json

    cmd = [python, "-m", "rollcheck", "serve", "--env-id", env_id]
    if make_kwargs:
        cmd += ["--make-kwargs", json.dumps(dict(make_kwargs), separators=(",", ":"))]
    return cmd


def _positive(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0 or math.isinf(value):
        raise InvalidArgument(f"{name}={value!r} should be a positive finite number of seconds")
    return float(value)


def _kill_and_reap(proc: subprocess.Popen) -> None:
    """Last-resort reaping (used by ``weakref.finalize``)."""
    if proc.poll() is None:
        try:
            proc.kill()
        except OSError:
            pass
        proc.wait()


class GymnasiumClient:
    """A running bridge server and a checked request/response channel to it (Lean ``Client``).

    Create with :meth:`spawn`; use as a context manager. Attributes: ``obs_shape`` (``Shape``),
    ``n_actions``, ``description`` (the ``describe`` reply), ``contract``, ``timeout``, ``proc``.
    """

    def __init__(self, proc: subprocess.Popen, stderr_file: Any, *, timeout: float, grace: float,
                 contract: Contract) -> None:
        self.proc = proc
        self.timeout = timeout
        self.grace = grace
        self.contract = contract
        self.obs_shape: Shape = Shape(())
        self.n_actions = 0
        self.description: "Description | None" = None
        self._stderr_file = stderr_file
        self._stderr_tail = ""
        self._in_fd = proc.stdin.fileno()
        self._out_fd = proc.stdout.fileno()
        self._poller = select.poll()
        self._poller.register(self._out_fd, _POLLIN)
        self._buf = b""
        self._broken: "str | None" = None
        self._closed = False
        self._step_lines: list[bytes] = []
        self._unpin: "tuple[int, set[int]] | None" = None
        self._finalizer = weakref.finalize(self, _kill_and_reap, proc)

    # -- construction ------------------------------------------------------------------------
    @classmethod
    def spawn(cls, env_id: str, make_kwargs: "Mapping[str, Any] | None" = None,
              obs_shape: "Shape | Iterable[int] | None" = None, n_actions: "int | None" = None,
              timeout: float = 10.0, python: str = sys.executable,
              command: "Sequence[str] | None" = None, *, contract: "Contract | None" = None,
              grace: float = 1.0, env: "Mapping[str, str] | None" = None,
              cwd: "str | os.PathLike | None" = None,
              pin_cpu: "bool | int | None" = None) -> "GymnasiumClient":
        """Start a server and perform the ``describe`` handshake (Lean ``Client.spawn``).

        ``obs_shape``/``n_actions`` are the expected spaces (``None``: accept what the server
        reports). ``command`` replaces the default server command line (e.g. a test server);
        ``env``/``cwd`` are passed to the subprocess. On any failure the child is reaped and the
        error re-raised.

        ``pin_cpu`` (Linux, opt-in): ``True`` or a CPU number pins the server *and the calling
        thread* to one CPU until :meth:`close` restores the thread's previous affinity. In a strict
        request/response protocol only one side runs at a time, so sharing a core loses no
        parallelism and turns each cross-core wake-up into a direct hand-off (several times more
        round trips per second; see ``benchmarks/bench_bridge.py``). Threads the calling thread
        starts while pinned inherit the pin, so use it in a dedicated collector thread/process.
        """
        timeout = _positive("timeout", timeout)
        grace = _positive("grace", grace)
        contract = Contract() if contract is None else contract
        if not isinstance(contract, Contract):
            raise InvalidArgument(f"contract={contract!r} should be a rollcheck.spec.Contract")
        expected_shape = None if obs_shape is None else as_shape(obs_shape)
        if n_actions is not None and (isinstance(n_actions, bool) or not isinstance(n_actions, int)
                                      or n_actions <= 0):
            raise InvalidArgument(f"n_actions={n_actions!r} should be a positive int")
        if command is None:
            if not isinstance(env_id, str) or not env_id:
                raise InvalidArgument(f"env_id={env_id!r} should be a non-empty string")
            command = server_command(env_id, make_kwargs, python)
        command = [str(c) for c in command]
        stderr_file = tempfile.TemporaryFile()
        try:
            proc = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                    stderr=stderr_file, bufsize=0, close_fds=True,
                                    env=None if env is None else dict(env), cwd=cwd)
        except OSError as exc:
            stderr_file.close()
            raise BridgeServerExited(f"cannot start the server {command!r}: {exc}") from None
        client = cls(proc, stderr_file, timeout=timeout, grace=grace, contract=contract)
        try:
            if pin_cpu is not None and pin_cpu is not False:
                client._pin(pin_cpu)
            client._handshake(expected_shape, n_actions)
        except Exception:
            client.close()  # polite when the stream is intact (e.g. a refused handshake), else a kill
            raise
        except BaseException:  # KeyboardInterrupt: no politeness
            client._kill()
            raise
        return client

    def _pin(self, pin_cpu: "bool | int") -> None:
        if not hasattr(os, "sched_setaffinity"):
            raise InvalidArgument(f"pin_cpu={pin_cpu!r}: CPU affinity is not available on this platform")
        tid = threading.get_native_id()
        allowed = os.sched_getaffinity(tid)
        if pin_cpu is True:
            cpu = max(allowed)
        elif isinstance(pin_cpu, int) and not isinstance(pin_cpu, bool) and pin_cpu in allowed:
            cpu = pin_cpu
        else:
            raise InvalidArgument(f"pin_cpu={pin_cpu!r} should be None, True or one of the allowed "
                                  f"CPUs {sorted(allowed)}")
        os.sched_setaffinity(self.proc.pid, {cpu})
        os.sched_setaffinity(tid, {cpu})
        self._unpin = (tid, allowed)

    def _handshake(self, expected_shape: "Shape | None", expected_n: "int | None") -> None:
        desc = self.describe()
        problems = []
        if expected_n is not None and desc.n_actions != expected_n:
            problems.append(f"server reports n_actions={desc.n_actions}, expected n_actions={expected_n}")
        if expected_shape is not None and desc.obs_shape != expected_shape:
            problems.append(f"server reports obs_shape={desc.obs_shape.pretty()}, expected "
                            f"obs_shape={expected_shape.pretty()}")
        if desc.n_actions <= 0:
            problems.append(f"server reports n_actions={desc.n_actions}, which should be positive")
        if problems:
            raise BridgeHandshakeError("describe handshake failed: " + "; ".join(problems),
                                       self._read_stderr_tail())
        self.description = desc
        self.obs_shape = desc.obs_shape
        self.n_actions = desc.n_actions
        self._step_lines = [step_request(a) for a in range(min(desc.n_actions, 4096))]

    # -- context manager ------------------------------------------------------------------------
    def __enter__(self) -> "GymnasiumClient":
        return self

    def __exit__(self, exc_type: Any, *exc: object) -> None:
        if exc_type is not None and not issubclass(exc_type, Exception):
            self._kill()  # KeyboardInterrupt/SystemExit: no polite close, reap now
        else:
            self.close()

    # -- the protocol ------------------------------------------------------------------------------
    def describe(self) -> Description:
        """Send ``describe``; return the server's ``Description``."""
        return self._fatal_on_error(decode_describe_reply, self._roundtrip(b'{"cmd":"describe"}\n', "describe"))

    def reset_raw(self, seed: "int | None" = None) -> np.ndarray:
        """Send ``reset`` (optionally seeded); the observation, decoded but not contract-checked."""
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int) or seed < 0):
            raise InvalidArgument(f"seed={seed!r} should be None or a non-negative int")
        line = self._roundtrip(encode_request("reset", seed=seed), "reset")
        return self._fatal_on_error(decode_reset_reply, line, self.obs_shape)

    def reset(self, seed: "int | None" = None) -> np.ndarray:
        """Reset and return the initial observation, checked against the contract (Lean ``Client.reset``)."""
        obs = self.reset_raw(seed)
        check_reset_reply(self.contract, self.obs_shape, obs)
        return obs

    def step_raw(self, action: int) -> "tuple[np.ndarray, float, bool, bool]":
        """Send ``step``; ``(obs, reward, terminated, truncated)`` decoded strictly (Lean ``stepRaw``)."""
        try:
            request = self._step_lines[action]
            if action < 0 or type(action) is not int:
                raise TypeError
        except (IndexError, TypeError):
            check_action(self.n_actions, action)  # raises ContractViolation naming the action
            request = step_request(int(action))
        line = self._roundtrip(request, "step")
        try:
            return decode_step_reply(line, self.obs_shape)
        except BridgeProtocolError as exc:
            raise self._fatal(exc) from None

    def step(self, action: int) -> "tuple[np.ndarray, float, bool, bool]":
        """:meth:`step_raw`, then the contract on the reply (reward, flags, next observation)."""
        result = self.step_raw(action)
        check_step_reply(self.contract, self.obs_shape, *result)
        return result

    def step_many(self, actions: Iterable[int], reset_on_done: bool = False) -> StepBatch:
        """Extension command: apply ``actions`` in order in one round trip (see ``StepBatch``).

        Without ``reset_on_done`` the server stops after the first done; with it, it resets after
        each done and carries on. Every step and reset observation is checked against the
        contract (violations name the step index).
        """
        acts = as_actions(actions, self.n_actions)
        if not acts:
            raise InvalidArgument("actions=[] should hold at least one action")
        if not isinstance(reset_on_done, bool):
            raise InvalidArgument(f"reset_on_done={reset_on_done!r} should be a bool")
        line = self._roundtrip(encode_request("step_many", actions=acts,
                                              reset_on_done=True if reset_on_done else None), "step_many")
        try:
            batch = decode_step_many_reply(line, self.obs_shape, len(acts), reset_on_done)
        except BridgeProtocolError as exc:
            raise self._fatal(exc) from None
        check_step_batch(self.contract, self.obs_shape, batch)
        return batch

    def close(self) -> None:
        """Ask the server to close, then reap it (terminate/kill after ``grace`` s). Idempotent."""
        if self._closed:
            return
        try:
            if self._broken is None and self.proc.poll() is None:
                try:
                    self._send(b'{"cmd":"close"}\n', "close")
                    expect_close_reply(self._read_line("close", min(self.timeout, self.grace)))
                except BridgeError:
                    pass
        finally:
            self._reap()

    # -- internals -------------------------------------------------------------------------------
    def _roundtrip(self, data: bytes, what: str) -> bytes:
        self._send(data, what)
        return self._read_line(what, self.timeout)

    def _send(self, data: bytes, what: str) -> None:
        if self._broken is not None or self._closed:
            raise BridgeError(f"cannot send {what}: the client is "
                              f"{'closed' if self._closed else 'unusable after: ' + self._broken}")
        try:
            n = os.write(self._in_fd, data)
            while n < len(data):
                data = data[n:]
                n = os.write(self._in_fd, data)
        except OSError as exc:  # BrokenPipeError: the server is gone
            raise self._fatal(BridgeServerExited(f"server went away before {what} could be sent ({exc})"))

    def _read_line(self, what: str, timeout: float) -> bytes:
        buf = self._buf
        i = buf.find(b"\n")
        if i >= 0:
            self._buf = buf[i + 1:]
            return buf[:i]
        deadline = time.monotonic() + timeout
        poll, read, fd = self._poller.poll, os.read, self._out_fd
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not poll(remaining * 1000.0 + 1.0):
                if time.monotonic() < deadline:
                    continue
                raise self._fatal(BridgeTimeout(
                    f"no reply to {what} within timeout={self.timeout:g}s (server silent or hung)"))
            chunk = read(fd, 1 << 16)
            if not chunk:
                raise self._fatal(BridgeServerExited(f"server closed its stdout before answering {what}"
                                                     + (f" (partial line {buf[:200]!r})" if buf else "")))
            if not buf and chunk[-1:] == b"\n" and chunk.find(b"\n") == len(chunk) - 1:
                return chunk[:-1]  # the common case: exactly one complete reply line
            buf += chunk
            i = buf.find(b"\n")
            if i >= 0:
                self._buf = buf[i + 1:]
                return buf[:i]
            if len(buf) > _MAX_LINE:
                raise self._fatal(BridgeProtocolError(f"reply to {what} exceeds {_MAX_LINE} bytes "
                                                      f"without a newline"))

    def _fatal_on_error(self, decode: Any, *args: Any) -> Any:
        try:
            return decode(*args)
        except BridgeProtocolError as exc:
            raise self._fatal(exc) from None
        except BridgeServerError as exc:
            raise type(exc)(str(exc), self._read_stderr_tail()) from None

    def _fatal(self, exc: BridgeError) -> BridgeError:
        """Kill and reap the child; return ``exc`` enriched with the exit status and stderr tail."""
        self._broken = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        self._kill()
        status = self.proc.returncode
        message = str(exc) if not exc.stderr_tail else str(exc).split("\n--- server stderr")[0]
        if isinstance(exc, BridgeServerExited) and status is not None:
            message += f" (exit status {status})"
        return type(exc)(message, self._stderr_tail)

    def _kill(self) -> None:
        proc = self.proc
        try:
            if proc.poll() is None:
                # give an exiting server a moment to report its status, then kill
                try:
                    proc.wait(0.05)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
        finally:
            self._finish()

    def _reap(self) -> None:
        proc = self.proc
        try:
            try:
                proc.stdin.close()  # EOF also stops a server that missed the close request
            except OSError:
                pass
            try:
                proc.wait(self.grace)
            except subprocess.TimeoutExpired:
                proc.terminate()
                try:
                    proc.wait(self.grace)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
        except BaseException:
            _kill_and_reap(proc)
            raise
        finally:
            self._finish()

    def _finish(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._finalizer.detach()
        if self._unpin is not None:
            tid, allowed = self._unpin
            self._unpin = None
            try:
                os.sched_setaffinity(tid, allowed)
            except OSError:  # pragma: no cover - the thread is gone
                pass
        for stream in (self.proc.stdin, self.proc.stdout):
            try:
                stream.close()
            except OSError:
                pass
        self._read_stderr_tail()
        self._stderr_file.close()

    def _read_stderr_tail(self) -> str:
        f = self._stderr_file
        if not f.closed:
            try:
                size = f.seek(0, os.SEEK_END)
                f.seek(max(0, size - _STDERR_TAIL))
                self._stderr_tail = f.read().decode("utf-8", "replace")
            except OSError:
                pass
        return self._stderr_tail

    @property
    def stderr_tail(self) -> str:
        """The last few KiB the server wrote to stderr (the environment's prints included)."""
        return self._read_stderr_tail()


def _raise_if(violations: list) -> None:
    if violations:
        raise BridgeContractViolation(violations)


def _obs_ok(c: Contract, obs: np.ndarray) -> bool:
    """Fast acceptance test; a ``False`` is confirmed (and explained) by the spec's checkers."""
    if c.check_obs_finite and not np.isfinite(obs).all():
        return False
    if c.obs_range is not None and obs.size and not (c.obs_range[0] <= obs.min() and obs.max() <= c.obs_range[1]):
        return False
    return True


def check_reset_reply(contract: Contract, obs_shape: Shape, obs: np.ndarray) -> None:
    """Raise :class:`BridgeContractViolation` if a decoded reset observation breaks ``contract``."""
    if not _obs_ok(contract, obs):
        _raise_if(observation_violations(contract, obs, obs_shape, "obs"))


def check_step_batch(contract: Contract, obs_shape: Shape, batch: StepBatch) -> None:
    """:func:`check_step_reply` for every step of a ``step_many`` reply (violations carry the step index)."""
    c, rewards = contract, batch.reward
    if (_obs_ok(c, batch.obs) and _obs_ok(c, batch.reset_obs)
            and (not c.check_reward_finite or np.isfinite(rewards).all())
            and (c.reward_range is None or ((rewards >= c.reward_range[0]) & (rewards <= c.reward_range[1])).all())
            and not (c.require_exclusive_done_flags and (batch.terminated & batch.truncated).any())):
        return
    found = []
    for i in range(len(rewards)):
        te, tr, r = bool(batch.terminated[i]), bool(batch.truncated[i]), float(rewards[i])
        found += [v.at(i) for v in done_flags_violations(c, te, tr) + reward_violations(c, r)
                  + observation_violations(c, batch.obs[i], obs_shape, "obs")]
    for j in range(len(batch.reset_obs)):
        found += observation_violations(c, batch.reset_obs[j], obs_shape, f"reset_obs[{j}]")
    _raise_if(found)


def check_step_reply(contract: Contract, obs_shape: Shape, obs: np.ndarray, reward: float,
                     terminated: bool, truncated: bool) -> None:
    """Raise :class:`BridgeContractViolation` with every violation of a decoded step reply.

    numpy fast path for acceptance; the spec's ``*_violations`` functions decide and explain any
    rejection (so this agrees with the spec by construction whenever it rejects, and the tests
    check it never accepts what the spec rejects).
    """
    c = contract
    if not (_obs_ok(c, obs) and (not c.check_reward_finite or math.isfinite(reward))
            and (c.reward_range is None or c.reward_range[0] <= reward <= c.reward_range[1])
            and not (c.require_exclusive_done_flags and terminated and truncated)):
        _raise_if(done_flags_violations(c, terminated, truncated) + reward_violations(c, reward)
                  + observation_violations(c, obs, obs_shape, "obs"))


# ---------------------------------------------------------------------------------------------
# The checked session (Lean Gymnasium.Session)
# ---------------------------------------------------------------------------------------------

@dataclass(frozen=True, eq=False)
class BridgeSessionState:
    """Lean ``Gymnasium.Session``: the current observation (a read-only float64 copy)."""

    observation: np.ndarray


def _frozen(obs: np.ndarray) -> np.ndarray:
    obs.setflags(write=False)  # decoded arrays are fresh, owned by us: freezing is a copy-free guard
    return obs


def bridge_session(client: GymnasiumClient, contract: "Contract | None" = None, seed: "int | None" = None,
                   reset_on_done: bool = True) -> CheckedSession:
    """A :class:`CheckedSession` over ``client`` with TorchLean's ``Gymnasium.Session`` semantics.

    ``start()`` resets with ``seed``; ``step_checked(sess, a)`` checks the action, sends it
    (``stepRaw``), validates the transition with :func:`rollcheck.spec.check_transition_fin`
    (raising ``ContractViolation``); the transition's ``next_observation`` is the true post-step
    observation, and with ``reset_on_done`` the next state holds a fresh (unseeded) reset
    observation after a ``done``. ``close()`` closes the client.
    """
    contract = Contract() if contract is None else contract
    if not isinstance(contract, Contract):
        raise InvalidArgument(f"contract={contract!r} should be a rollcheck.spec.Contract")
    if not isinstance(reset_on_done, bool):
        raise InvalidArgument(f"reset_on_done={reset_on_done!r} should be a bool")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int) or seed < 0):
        raise InvalidArgument(f"seed={seed!r} should be None or a non-negative int")
    shape, n_actions = client.obs_shape, client.n_actions

    def reset(reset_seed: "int | None") -> BridgeSessionState:
        obs = client.reset_raw(reset_seed)
        check_observation(contract, obs, shape)
        return BridgeSessionState(_frozen(obs))

    def start() -> BridgeSessionState:
        return reset(seed)

    def observe(sess: BridgeSessionState) -> np.ndarray:
        return sess.observation

    def step_checked(sess: BridgeSessionState, action: int) -> "tuple[Transition, BridgeSessionState]":
        check_action(n_actions, action)
        next_obs, reward, terminated, truncated = client.step_raw(int(action))
        tr = check_transition_fin(contract, sess.observation, next_obs, action, reward, terminated,
                                  truncated, obs_shape=shape, n_actions=n_actions)
        if reset_on_done and tr.done:
            return tr, reset(None)
        return tr, BridgeSessionState(_frozen(next_obs))

    return CheckedSession(start=start, observe=observe, step_checked=step_checked, obs_shape=shape,
                          n_actions=n_actions, contract=contract, close=client.close)
