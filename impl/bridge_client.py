"""The Gymnasium bridge client: drive a bridge server subprocess, checked, without ever hanging.

Mirrors TorchLean's ``NN.Runtime.RL.Gymnasium.Client`` (``spawn`` with its ``describe``
handshake, ``reset``, ``stepRaw``, ``close``, ``withClient``) as :class:`GymnasiumClient`.
TorchLean's ``NN.Runtime.RL.Gymnasium.Session`` (``start``, ``stepChecked`` with ``resetOnDone``)
is :func:`rollcheck.impl.bridge_session.bridge_session` (a checked session over this client).
The reply checks the client applies (:func:`check_reset_reply`, :func:`check_step_reply`,
:func:`check_step_batch`, :func:`check_vec_reset_reply`) judge through the one contract judge,
:mod:`rollcheck.impl.contract_judge`, and state no rule of their own.

Invariants enforced:

- the server's spaces match the expected ``obs_shape``/``n_actions`` (``describe`` handshake;
  a mismatch raises :class:`BridgeHandshakeError` and the child is reaped);
- every reply is decoded strictly (:mod:`rollcheck.impl.bridge_protocol`): shape, JSON types,
  boolean flags; :meth:`GymnasiumClient.reset`/:meth:`GymnasiumClient.step` (and ``step_many``,
  ``vec_reset``, ``vec_step``) also judge the contract the client carries and raise
  :class:`BridgeContractViolation` (a ``ContractViolation`` *and* a ``BridgeError``) with every
  violation, named by field as the protocol names it (``obs``, ``reset_obs[j]``) and, in a batch,
  by step or sub-env index;
- **no call hangs**: each whole reply line must arrive within ``timeout`` seconds (a bounded, adaptive
  spin of at most ``spin_us`` microseconds, then ``poll`` on the pipe with the remaining
  deadline — see :mod:`rollcheck.impl.bridge_io` — never a blocking ``readline``); a dead,
  silent or garbage-writing server raises a :class:`BridgeError` subclass
  (:class:`BridgeServerExited`, :class:`BridgeTimeout`, :class:`BridgeProtocolError`) whose
  message ends with the server's stderr tail, and the child is killed and reaped at once (after
  such an error the stream cannot be trusted);
- **the child and its descendants are always reaped**: the server leads its own session and process
  group; ``close()`` (idempotent; also on ``with`` exit, exceptions, ``KeyboardInterrupt`` and
  garbage collection) asks the server to close, waits ``grace`` seconds, then terminates and kills
  the whole group (grandchildren an environment started included);
- a reply is at most ``max_reply_bytes`` long, read in linear time; one nested too deep for the
  JSON decoder is a :class:`BridgeProtocolError`.

The server's stderr goes to an anonymous temporary file, so a chatty environment can never block
on a full pipe, and costs nothing per step. ``step`` replies in our server's exact layout are
decoded by :mod:`rollcheck.impl.bridge_fast_decode` (same results as the strict decoder, which
handles every other line). POSIX only (``select.poll`` on pipes).
"""

from __future__ import annotations

import json
import math
import os
import select
import signal
import subprocess
import sys
import tempfile
import threading
import time
import warnings
import weakref
from typing import Any, Iterable, Mapping, Sequence

import numpy as np

from rollcheck.impl.bridge_fast_decode import step_reply_decoder
from rollcheck.impl.bridge_io import (DEFAULT_SPIN_US, POLL_READ, SPIN_ENV_VAR, AdaptiveSpin,
                                      validate_spin_us)
from rollcheck.impl.bridge_protocol import (BridgeContractViolation, BridgeError, BridgeHandshakeError,
                                            BridgeProtocolError, BridgeServerError, BridgeServerExited,
                                            BridgeTimeout, Description, StepBatch, as_actions,
                                            decode_describe_reply, decode_reset_reply,
                                            decode_step_many_reply, decode_step_reply,
                                            encode_request, expect_close_reply, step_request)
from rollcheck.impl.contract_judge import judge_columns, judge_observation, judge_transition
from rollcheck.spec import Contract, Shape, as_shape, check_action
from rollcheck.spec.errors import ArgumentError
from rollcheck.spec.arguments import check_bool, check_count, check_seed

__all__ = ["BridgeContractViolation", "BridgeError", "BridgeHandshakeError", "BridgeProtocolError",
           "BridgeServerError", "BridgeServerExited", "BridgeTimeout", "GymnasiumClient", "StepBatch",
           "check_reset_reply", "check_step_batch", "check_step_reply", "check_vec_reset_reply",
           "server_command"]

#: Default longest reply line accepted (bytes); a longer one is a ``BridgeProtocolError``.
DEFAULT_MAX_REPLY_BYTES = 64 << 20
_STDERR_TAIL = 4096


def server_command(env_id: str, make_kwargs: "Mapping[str, Any] | None" = None,
                   python: str = sys.executable) -> list[str]:
    """The default server command line: ``python -m rollcheck serve --env-id ID --nonfinite string [--make-kwargs JSON]``.

    ``--nonfinite string``: this client decodes ``"NaN"``/``"Infinity"`` and its contract judges
    them, so a non-finite value is reported as the contract violation it is.
    """
    cmd = [python, "-m", "rollcheck", "serve", "--env-id", env_id, "--nonfinite", "string"]
    if make_kwargs:
        cmd += ["--make-kwargs", json.dumps(dict(make_kwargs), separators=(",", ":"))]
    return cmd


# ---------------------------------------------------------------------------------------------
# Reply judgement: the contract judge on decoded replies (no rule is restated here)
# ---------------------------------------------------------------------------------------------

def _raise_if(violations: list) -> None:
    if violations:
        raise BridgeContractViolation(violations)


def check_reset_reply(contract: Contract, obs_shape: Shape, obs: np.ndarray) -> None:
    """Raise :class:`BridgeContractViolation` if a decoded reset observation breaks ``contract`` (field ``obs``)."""
    _raise_if(judge_observation(contract, obs, obs_shape, "obs"))


def check_vec_reset_reply(contract: Contract, obs_shape: Shape, obs: np.ndarray) -> None:
    """:func:`check_reset_reply` for each sub-env row of a ``vec_reset`` reply (violations carry the index)."""
    _raise_if(judge_columns(contract, obs_shape=obs_shape, observation=obs, fields={"observation": "obs"}))


def check_step_reply(contract: Contract, obs_shape: Shape, obs: np.ndarray, reward: float,
                     terminated: bool, truncated: bool) -> None:
    """Raise :class:`BridgeContractViolation` with every violation of a decoded step reply (no action:
    the client sent it; flags, reward, then the observation ``obs``, in the spec's order)."""
    _raise_if(judge_transition(contract, None, obs, None, reward, terminated, truncated, obs_shape=obs_shape,
                               observation_checked=True, next_field="obs"))


def check_step_batch(contract: Contract, obs_shape: Shape, batch: StepBatch) -> None:
    """:func:`check_step_reply` for every step of a ``step_many``/``vec_step`` reply (violations carry the
    step or sub-env index), then every reset observation of the batch (field ``reset_obs[j]``)."""
    found = judge_columns(contract, obs_shape=obs_shape, next_observation=batch.obs, reward=batch.reward,
                          terminated=batch.terminated, truncated=batch.truncated,
                          fields={"next_observation": "obs"})
    for j in range(len(batch.reset_obs)):
        found += judge_observation(contract, batch.reset_obs[j], obs_shape, f"reset_obs[{j}]")
    _raise_if(found)


def _positive(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0 or math.isinf(value):
        raise ArgumentError(f"{name}={value!r} should be a positive finite number of seconds")
    return float(value)


def _exited(proc: subprocess.Popen) -> bool:
    """Whether the server has exited, *without reaping it*: while it is an unreaped zombie its
    process-group id cannot be reused, so signalling the group can only reach its own members."""
    if proc.returncode is not None:
        return True
    try:
        return os.waitid(os.P_PID, proc.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None
    except ChildProcessError:  # already reaped elsewhere
        return True


def _wait_exited(proc: subprocess.Popen, seconds: float) -> bool:
    """Poll :func:`_exited` for up to ``seconds`` (1 ms, then up to 20 ms between polls)."""
    deadline = time.monotonic() + seconds
    pause = 0.001
    while not _exited(proc):
        if time.monotonic() >= deadline:
            return False
        time.sleep(pause)
        pause = min(2 * pause, 0.02)
    return True


def _signal_group(proc: subprocess.Popen, sig: int) -> None:
    """Send ``sig`` to the server's whole process group (it leads its own session), if unreaped."""
    if proc.returncode is None:
        try:
            os.killpg(proc.pid, sig)
        except (ProcessLookupError, PermissionError):
            pass


def _kill_and_reap(proc: subprocess.Popen) -> None:
    """Kill the server's whole process group (grandchildren included), then reap the server.

    Used by ``weakref.finalize`` (garbage collection, interpreter exit) and after errors.
    """
    _signal_group(proc, signal.SIGKILL)
    proc.wait()


class GymnasiumClient:
    """A running bridge server and a checked request/response channel to it (Lean ``Client``).

    Create with :meth:`spawn`; use as a context manager. Attributes: ``obs_shape`` (``Shape``),
    ``n_actions``, ``description`` (the ``describe`` reply), ``contract``, ``timeout``, ``proc``,
    ``spin_us``, ``num_envs`` (sub-envs after :meth:`vec_reset`).
    One request is in flight at a time; a client is not meant to be shared between threads.
    """

    def __init__(self, proc: subprocess.Popen, stderr_file: Any, *, timeout: float, grace: float,
                 contract: Contract, spin_us: int = DEFAULT_SPIN_US,
                 max_reply_bytes: int = DEFAULT_MAX_REPLY_BYTES) -> None:
        self.proc = proc
        self.max_reply_bytes = max_reply_bytes
        self.spin_us = spin_us
        self.timeout = timeout
        self.grace = grace
        self.contract = contract
        self.obs_shape: Shape = Shape(())
        self.n_actions = 0
        self.description: "Description | None" = None
        self.num_envs = 0  # sub-envs hosted by the server after vec_reset
        self._stderr_file = stderr_file
        self._stderr_tail = ""
        self._in_fd = proc.stdin.fileno()
        self._out_fd = proc.stdout.fileno()
        self._poller = select.poll()
        self._poller.register(self._out_fd, POLL_READ)
        self._wait_reply = AdaptiveSpin(self._poller, spin_us).wait
        self._buf = b""
        self._broken: "str | None" = None
        self._closed = False
        self._step_lines: list[bytes] = []
        self._decode_step = lambda line: decode_step_reply(line, self.obs_shape)
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
              pin_cpu: "bool | int | None" = None,
              spin_us: int = DEFAULT_SPIN_US,
              max_reply_bytes: int = DEFAULT_MAX_REPLY_BYTES) -> "GymnasiumClient":
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
        Where CPU affinity is unavailable (not Linux) it is a no-op with a ``RuntimeWarning``.

        ``spin_us`` (default ``DEFAULT_SPIN_US``; 0 disables): how long each side busy-polls for
        the next message before sleeping in ``poll`` (:mod:`rollcheck.impl.bridge_io`). The client
        uses it for replies and passes it to the server through the environment variable
        ``ROLLCHECK_BRIDGE_SPIN_US`` (our server reads it; other servers ignore it). Timeouts are
        unaffected: a silent server still fails after ``timeout`` seconds.

        ``timeout`` is a deadline for each whole reply line (a server trickling bytes without a
        newline fails at the deadline too); ``max_reply_bytes`` bounds a reply line's length. The
        server runs in its own session and process group: closing, an error, ``KeyboardInterrupt``
        and garbage collection reap the whole group, so an environment's own subprocesses
        (grandchildren) never outlive the client.
        """
        timeout = _positive("timeout", timeout)
        grace = _positive("grace", grace)
        contract = Contract() if contract is None else contract
        if not isinstance(contract, Contract):
            raise ArgumentError(f"contract={contract!r} should be a rollcheck.spec.Contract")
        spin_us = validate_spin_us(spin_us)
        if isinstance(max_reply_bytes, bool) or not isinstance(max_reply_bytes, int) or max_reply_bytes < 64:
            raise ArgumentError(f"max_reply_bytes={max_reply_bytes!r} should be an int >= 64")
        expected_shape = None if obs_shape is None else as_shape(obs_shape)
        n_actions = None if n_actions is None else check_count("n_actions", n_actions)
        if command is None:
            if not isinstance(env_id, str) or not env_id:
                raise ArgumentError(f"env_id={env_id!r} should be a non-empty string")
            command = server_command(env_id, make_kwargs, python)
        command = [str(c) for c in command]
        child_env = dict(os.environ if env is None else env)
        child_env[SPIN_ENV_VAR] = str(spin_us)
        stderr_file = tempfile.TemporaryFile()
        try:
            # its own session and process group, so the whole group (grandchildren too) can be
            # reaped, and a Ctrl-C meant for this process is not also delivered to the server
            proc = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                    stderr=stderr_file, bufsize=0, close_fds=True,
                                    env=child_env, cwd=cwd, start_new_session=True)
        except OSError as exc:
            stderr_file.close()
            raise BridgeServerExited(f"cannot start the server {command!r}: {exc}") from None
        client = cls(proc, stderr_file, timeout=timeout, grace=grace, contract=contract, spin_us=spin_us,
                     max_reply_bytes=max_reply_bytes)
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
        if not (isinstance(pin_cpu, int) and (pin_cpu is True or not isinstance(pin_cpu, bool))):
            raise ArgumentError(f"pin_cpu={pin_cpu!r} should be None, True or a CPU number")
        if not hasattr(os, "sched_setaffinity"):  # e.g. macOS: no affinity API, so no pinning
            warnings.warn(f"pin_cpu={pin_cpu!r} ignored: CPU affinity (os.sched_setaffinity) is not "
                          f"available on {sys.platform}; the bridge runs unpinned", RuntimeWarning,
                          stacklevel=3)
            return
        tid = threading.get_native_id()
        allowed = os.sched_getaffinity(tid)
        if pin_cpu is True:
            cpu = max(allowed)
        elif isinstance(pin_cpu, int) and not isinstance(pin_cpu, bool) and pin_cpu in allowed:
            cpu = pin_cpu
        else:
            raise ArgumentError(f"pin_cpu={pin_cpu!r} should be None, True or one of the allowed "
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
        self._decode_step = step_reply_decoder(desc.obs_shape)

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
        seed = check_seed("seed", seed)
        line = self._roundtrip(encode_request("reset", seed=seed), "reset")
        return self._fatal_on_error(decode_reset_reply, line, self.obs_shape)

    def reset(self, seed: "int | None" = None) -> np.ndarray:
        """Reset and return the initial observation, checked against the contract (Lean ``Client.reset``)."""
        obs = self.reset_raw(seed)
        check_reset_reply(self.contract, self.obs_shape, obs)
        return obs

    def step_raw(self, action: int) -> "tuple[np.ndarray, float, bool, bool]":
        """Send ``step``; ``(obs, reward, terminated, truncated)`` decoded strictly (Lean ``stepRaw``).

        Our server's reply layout takes the fast decoder, anything else the strict one; both give
        the same result (:mod:`rollcheck.impl.bridge_fast_decode`).
        """
        try:
            request = self._step_lines[action]
            if action < 0 or type(action) is not int:
                raise TypeError
        except (IndexError, TypeError):
            check_action(self.n_actions, action)  # raises ContractViolation naming the action
            request = step_request(int(action))
        line = self._roundtrip(request, "step")
        try:
            return self._decode_step(line)
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
            raise ArgumentError("actions=[] should hold at least one action")
        reset_on_done = check_bool("reset_on_done", reset_on_done)
        line = self._roundtrip(encode_request("step_many", actions=acts,
                                              reset_on_done=True if reset_on_done else None), "step_many")
        try:
            batch = decode_step_many_reply(line, self.obs_shape, len(acts), reset_on_done)
        except BridgeProtocolError as exc:
            raise self._fatal(exc) from None
        check_step_batch(self.contract, self.obs_shape, batch)
        return batch

    def vec_reset(self, num_envs: int, seed: "int | None" = None) -> np.ndarray:
        """Extension command: host ``num_envs`` sub-envs on the server and reset sub-env ``i`` with ``seed+i``.

        Returns the ``(num_envs, *obs_shape)`` observations, checked against the contract (a
        violation names the sub-env index). Sets ``num_envs`` for :meth:`vec_step`.
        """
        num_envs = check_count("num_envs", num_envs, most=1024)
        seed = check_seed("seed", seed)
        line = self._roundtrip(encode_request("vec_reset", num_envs=num_envs, seed=seed), "vec_reset")
        obs = self._fatal_on_error(decode_reset_reply, line, Shape((num_envs, *self.obs_shape.dims)),
                                   "vec_reset")
        check_vec_reset_reply(self.contract, self.obs_shape, obs)
        self.num_envs = num_envs
        return obs

    def vec_step(self, actions: Iterable[int]) -> StepBatch:
        """Extension command: step every sub-env ``i`` with ``actions[i]`` in one round trip.

        A sub-env whose step ends an episode is reset (unseeded) by the server; ``batch.obs[i]``
        is the true post-step observation and ``batch.reset_obs`` the reset observations of the
        done sub-envs in index order. Every step is checked against the contract (violations name
        the sub-env index).
        """
        acts = as_actions(actions, self.n_actions)
        if len(acts) != self.num_envs:
            raise ArgumentError(f"actions has {len(acts)} actions, expected one per sub-env "
                                  f"(num_envs={self.num_envs}; call vec_reset first)")
        line = self._roundtrip(encode_request("vec_step", actions=acts), "vec_step")
        try:
            batch = decode_step_many_reply(line, self.obs_shape, len(acts), True, "vec_step")
        except BridgeProtocolError as exc:
            raise self._fatal(exc) from None
        check_step_batch(self.contract, self.obs_shape, batch)
        return batch

    def close(self) -> None:
        """Ask the server to close, then reap it (terminate/kill after ``grace`` s). Idempotent."""
        if self._closed:
            return
        try:
            if self._broken is None and not _exited(self.proc):
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
        """One reply line, complete within ``timeout`` seconds of the call (a deadline for the
        whole line, however the server trickles it), at most ``max_reply_bytes`` long; linear in
        its length (each byte is searched for the newline once)."""
        buf = self._buf
        i = buf.find(b"\n")
        if i >= 0:
            self._buf = buf[i + 1:]
            return buf[:i]
        monotonic = time.monotonic
        deadline = monotonic() + timeout
        wait, read, fd, limit = self._wait_reply, os.read, self._out_fd, self.max_reply_bytes
        parts, size, chunk_size = [buf] if buf else [], len(buf), 1 << 16
        while True:
            if not wait(deadline) or (parts and monotonic() >= deadline):
                raise self._fatal(BridgeTimeout(
                    f"no reply to {what} within timeout={timeout:g}s "
                    + (f"(only {size} bytes of it, no newline yet)" if size else "(server silent or hung)")))
            chunk = read(fd, chunk_size)
            if not chunk:
                partial = b"".join(parts)[:200]
                raise self._fatal(BridgeServerExited(f"server closed its stdout before answering {what}"
                                                     + (f" (partial line {partial!r})" if partial else "")))
            if not parts and chunk[-1:] == b"\n" and chunk.find(b"\n") == len(chunk) - 1:
                self._buf = b""
                return chunk[:-1]  # the common case: exactly one complete reply line
            i = chunk.find(b"\n")  # search the new bytes only: long replies stay linear
            if i >= 0:
                if size + i > limit:
                    break
                self._buf = chunk[i + 1:]
                parts.append(chunk[:i])
                return b"".join(parts)
            parts.append(chunk)
            size += len(chunk)
            if size > limit:
                break
            chunk_size = min(1 << 20, max(chunk_size, size))  # fewer reads for a long line
        raise self._fatal(BridgeProtocolError(f"reply to {what} exceeds max_reply_bytes={limit} "
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
        message = str(exc)  # raised by us or the decoder, so it carries no stderr tail yet
        if isinstance(exc, BridgeServerExited) and status is not None:
            message += f" (exit status {status})"
        return type(exc)(message, self._stderr_tail)

    def _kill(self) -> None:
        """Kill the server's whole process group now and reap it (after an error or an interrupt)."""
        proc = self.proc
        try:
            _wait_exited(proc, 0.05)  # give an exiting server a moment to report its own status
            _kill_and_reap(proc)
        finally:
            self._finish()

    def _reap(self) -> None:
        """End the server politely: EOF on its stdin, ``grace`` s to exit, then SIGTERM and SIGKILL
        to its whole process group. Any grandchild still alive once the server has exited is killed."""
        proc = self.proc
        try:
            try:
                proc.stdin.close()  # EOF also stops a server that missed the close request
            except OSError:
                pass
            if not _wait_exited(proc, self.grace):
                _signal_group(proc, signal.SIGTERM)
                _wait_exited(proc, self.grace)
            _kill_and_reap(proc)  # the server is gone or stuck; its group must not outlive it
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
