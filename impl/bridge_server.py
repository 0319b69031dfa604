"""The Gymnasium bridge server: one Gymnasium environment behind the JSON-lines protocol on stdio.

Mirrors TorchLean's ``scripts/rl/gymnasium_server.py`` (the server its
``NN.Runtime.RL.Gymnasium.Client`` spawns), speaking exactly the protocol of
:mod:`rollcheck.impl.bridge_protocol`, so a TorchLean Lean program can use it unchanged — either
as ``rollcheck serve --env-id ID`` or by passing this file as Lean's ``serverScript``
(``python3 -u .../impl/bridge_server.py --env-id ID [--make-kwargs JSON]``).

Behaviour:

- **The protocol stream is private.** Before anything else the server duplicates the real stdout
  file descriptor for the protocol and points fd 1 and ``sys.stdout`` at stderr, so whatever the
  environment prints (``print``, warnings, C code writing to fd 1) lands on stderr and can never
  corrupt a reply line.
- **Discrete action spaces only** (``gymnasium.spaces.Discrete``; a ``start`` offset is applied,
  so wire actions are always ``0 .. n-1``), and observation spaces with a fixed shape. A startup
  failure (unknown env id, bad ``--make-kwargs``, unsupported spaces) is printed to stderr and then
  returned as ``{"ok":false,"error":...}`` to every request, so a client's ``describe`` handshake
  reports it by name instead of hitting an anonymous EOF; ``close`` is still acknowledged and the
  process then exits with status 2.
- The ``step_many`` and ``vec_reset``/``vec_step`` extensions (see the protocol module) are served
  too; the ``vec_*`` sub-environments are made with the same id and make-kwargs.
- Requests are validated (known ``cmd``, no unknown keys, ``action`` an integer in range,
  ``seed`` a non-negative integer or null); an environment exception — any ``BaseException``
  but ``KeyboardInterrupt``, so ``sys.exit`` too — becomes an ``ok:false`` reply
  ``"<ExceptionType>: <message>"`` and the server keeps serving. ``close`` or EOF on stdin
  closes the environment and exits 0.
- **Every line is answered, in linear time** (:func:`_serve_loop`): each input byte is searched
  for a newline once; a line longer than ``--max-line-bytes`` gets one ``ok:false`` as soon as it
  is too long (the rest of it is discarded); a blank or whitespace-only line gets ``ok:false``.
- **Non-finite values** (``--nonfinite``): by default (``error``) a reply that would hold NaN or
  an infinity becomes ``ok:false`` ``"NonFiniteValue: field 'reward' is NaN ..."`` naming each
  such field, since a Lean client reads JSON numbers only; ``string`` sends ``"NaN"``,
  ``"Infinity"``, ``"-Infinity"`` (rollcheck's client asks for it). This file runs as the
  ``serverScript`` TorchLean's client launches (``python3 -u <path> --env-id ID``); its path is
  printed by ``rollcheck serve --script-path`` (:func:`script_path`).

Speed: binary, unbuffered I/O with ``os.read``/``os.write`` and our own line buffer; between
requests the server busy-polls stdin for a bounded ``--spin-us`` microseconds (default from the
environment variable ``ROLLCHECK_BRIDGE_SPIN_US``, which rollcheck's client sets, else
``bridge_io.DEFAULT_SPIN_US``; 0 disables; adaptive, so it switches itself off where it does not
pay) before sleeping in a blocking read, so a request that follows quickly costs no process
wake-up (:mod:`rollcheck.impl.bridge_io`); a server spawned plainly (e.g. by a Lean client) uses
the default budget, which is bounded, so it never busy-waits while idle; the exact
``step`` request lines (both key orders, compact and spaced) are looked up in a prebuilt table
instead of being JSON-parsed; ``env.step`` is resolved once; replies are formatted with ``repr``
(shortest round trip) and one join. See ``benchmarks/bench_bridge.py``.
"""

from __future__ import annotations

import argparse
import json
import os
import select
import sys
from itertools import repeat
from typing import Any, Callable, Iterable

from rollcheck.impl.bridge_io import POLL_READ, AdaptiveSpin, spin_us_from_env, validate_spin_us
from rollcheck.impl.bridge_protocol import encode_error, encode_float, encode_tensor, nonfinite_fields
from rollcheck.impl.contract_judge import action_ok
from rollcheck.spec.errors import ArgumentError, RollcheckError

__all__ = ["DEFAULT_MAX_LINE_BYTES", "EnvServer", "NONFINITE_POLICIES", "add_arguments",
           "claim_protocol_stdout", "describe_failure", "main", "script_path", "serve"]

_MAX_FAST_ACTIONS = 4096
_MAX_STEP_MANY = 1_000_000
_MAX_NUM_ENVS = 1024
_TRUE_FALSE = ("false", "true")
#: What the server does with a reply holding NaN/inf: ``error`` (default) answers ``ok:false``
#: naming the field; ``string`` sends the JSON strings ``"NaN"``, ``"Infinity"``, ``"-Infinity"``.
NONFINITE_POLICIES = ("error", "string")
#: Default longest request line (bytes): a ``step_many`` of the maximum 10**6 actions fits.
DEFAULT_MAX_LINE_BYTES = 16 << 20
_BLANK_LINE_REPLY = encode_error("InvalidRequest: blank request line (one JSON object per line)")


class RequestError(RollcheckError):
    """A request that breaks the protocol (reported as ``InvalidRequest: ...``)."""


def claim_protocol_stdout() -> int:
    """Keep the real stdout for the protocol; send fd 1 and ``sys.stdout`` to stderr. Returns the protocol fd."""
    try:
        sys.stdout.flush()
    except (OSError, ValueError):
        pass
    protocol_fd = os.dup(1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    return protocol_fd


def _parse_make_kwargs(make_kwargs: "str | dict | None") -> dict:
    if make_kwargs is None:
        return {}
    if isinstance(make_kwargs, dict):
        return make_kwargs
    try:
        parsed = json.loads(make_kwargs)
    except ValueError as exc:
        raise ValueError(f"--make-kwargs={make_kwargs!r} is not valid JSON: {exc}") from None
    if not isinstance(parsed, dict):
        raise ValueError(f"--make-kwargs={make_kwargs!r} should be a JSON object")
    return parsed


class EnvServer:
    """One Gymnasium environment and the reply for each request line."""

    def __init__(self, env: Any, make_env: "Callable[[], Any] | None" = None, *,
                 nonfinite: str = "error") -> None:
        from gymnasium.spaces import Discrete

        if nonfinite not in NONFINITE_POLICIES:
            raise ArgumentError(f"nonfinite={nonfinite!r} should be one of {', '.join(NONFINITE_POLICIES)}")
        self.env = env
        self._reject_nonfinite = nonfinite == "error"
        self._make_env = make_env  # for the vec_* sub-environments
        self.vec_envs: list[Any] = []
        space = env.action_space
        if not isinstance(space, Discrete):
            raise ValueError(f"only Discrete action spaces are supported, got action_space={space}")
        obs_space = env.observation_space
        shape = getattr(obs_space, "shape", None)
        if shape is None:
            raise ValueError(f"observation_space={obs_space} has no fixed shape; only array "
                             f"observations are supported")
        self.n_actions = int(space.n)
        self.start = int(space.start)
        self.obs_shape = [int(d) for d in shape]
        self.obs_dtype = str(getattr(obs_space, "dtype", "unknown"))
        self._env_step: Callable = env.step
        # exact step request lines -> action, for the byte-compatible fast path
        self._fast_step: dict[bytes, int] = {}
        for a in range(min(self.n_actions, _MAX_FAST_ACTIONS)):
            for form in (b'{"cmd":"step","action":%d}', b'{"action":%d,"cmd":"step"}',
                         b'{"cmd": "step", "action": %d}', b'{"action": %d, "cmd": "step"}'):
                self._fast_step[form % a] = a

    # -- replies -------------------------------------------------------------------------------
    def describe(self) -> bytes:
        return (json.dumps({"ok": True, "n_actions": self.n_actions, "obs_shape": self.obs_shape,
                            "obs_dtype": self.obs_dtype}, separators=(",", ":")) + "\n").encode()

    def reset(self, seed: "int | None") -> bytes:
        obs, _info = self.env.reset(seed=seed)
        return b'{"ok":true,"obs":%s}\n' % encode_tensor(obs).encode()

    def step(self, action: int) -> bytes:
        obs, reward, terminated, truncated, _info = self._env_step(action + self.start)
        return ('{"ok":true,"obs":%s,"reward":%s,"terminated":%s,"truncated":%s}\n' % (
            encode_tensor(obs), encode_float(reward), _TRUE_FALSE[bool(terminated)],
            _TRUE_FALSE[bool(truncated)])).encode()

    def step_many(self, actions: list[int], reset_on_done: bool) -> bytes:
        return self._steps(repeat(self._env_step), repeat(self.env.reset), actions, reset_on_done)

    def vec_reset(self, num_envs: int, seed: "int | None") -> bytes:
        if self._make_env is None:
            raise RequestError("vec_reset needs a server started from an env id (no env factory)")
        while len(self.vec_envs) > num_envs:
            self.vec_envs.pop().close()
        while len(self.vec_envs) < num_envs:
            self.vec_envs.append(self._make_env())
        parts = [encode_tensor(env.reset(seed=None if seed is None else seed + i)[0])
                 for i, env in enumerate(self.vec_envs)]
        return b'{"ok":true,"obs":[%s]}\n' % ",".join(parts).encode()

    def vec_step(self, actions: list[int]) -> bytes:
        envs = self.vec_envs
        if len(actions) != len(envs):
            raise RequestError(f"field 'actions' has {len(actions)} actions for {len(envs)} sub-environments"
                               + ("" if envs else " (send vec_reset first)"))
        return self._steps([e.step for e in envs], [e.reset for e in envs], actions, True)

    def close_vec_envs(self) -> None:
        while self.vec_envs:
            self.vec_envs.pop().close()

    def _steps(self, steps: Iterable, resets: Iterable, actions: list[int], reset_on_done: bool) -> bytes:
        """Apply ``steps[i](actions[i])`` in order: the ``step_many``/``vec_step`` reply layout."""
        obs_parts, rewards, terms, truncs, reset_parts = [], [], [], [], []
        start = self.start
        for env_step, env_reset, a in zip(steps, resets, actions):
            obs, reward, terminated, truncated, _info = env_step(a + start)
            obs_parts.append(encode_tensor(obs))
            rewards.append(encode_float(reward))
            te, tr = bool(terminated), bool(truncated)
            terms.append(_TRUE_FALSE[te])
            truncs.append(_TRUE_FALSE[tr])
            if te or tr:
                if not reset_on_done:
                    break
                reset_parts.append(encode_tensor(env_reset()[0]))
        extra = ',"reset_obs":[%s]' % ",".join(reset_parts) if reset_on_done else ""
        return ('{"ok":true,"obs":[%s],"reward":[%s],"terminated":[%s],"truncated":[%s]%s}\n' % (
            ",".join(obs_parts), ",".join(rewards), ",".join(terms), ",".join(truncs), extra)).encode()

    # -- dispatch ------------------------------------------------------------------------------
    def handle(self, line: bytes) -> "tuple[bytes, bool]":
        """The reply to one request line, and whether the server should stop afterwards.

        A reply carrying a non-finite value becomes an ``ok:false`` naming the field unless the
        server was started with ``nonfinite="string"`` (see :func:`_nonfinite_error`).
        """
        reply, stop = self._handle(line)
        if self._reject_nonfinite and (b'"NaN"' in reply or b'Infinity"' in reply) and reply.startswith(b'{"ok":true'):
            return _nonfinite_error(reply), stop
        return reply, stop

    def _handle(self, line: bytes) -> "tuple[bytes, bool]":
        action = self._fast_step.get(line)
        try:
            if action is not None:
                return self.step(action), False
            cmd, req = _parse_request(line)
            if cmd == "step":
                return self.step(_action(req.get("action"), "action", self.n_actions)), False
            if cmd == "reset":
                return self.reset(_seed(req.get("seed"))), False
            if cmd == "describe":
                return self.describe(), False
            if cmd == "close":
                return b'{"ok":true}\n', True
            if cmd == "vec_reset":
                num_envs = req["num_envs"]
                if type(num_envs) is not int or not 1 <= num_envs <= _MAX_NUM_ENVS:
                    raise RequestError(f"field 'num_envs'={_short(num_envs)} should be an integer in "
                                       f"[1, {_MAX_NUM_ENVS}]")
                return self.vec_reset(num_envs, _seed(req.get("seed"))), False
            actions = req.get("actions")
            if type(actions) is not list or not 1 <= len(actions) <= _MAX_STEP_MANY:
                raise RequestError(f"field 'actions'={_short(actions)} should be a non-empty array "
                                   f"of at most {_MAX_STEP_MANY} actions")
            if cmd == "vec_step":
                return self.vec_step([_action(a, f"actions[{i}]", self.n_actions)
                                      for i, a in enumerate(actions)]), False
            reset_on_done = req.get("reset_on_done", False)
            if type(reset_on_done) is not bool:
                raise RequestError(f"field 'reset_on_done'={_short(reset_on_done)} should be a boolean")
            return self.step_many([_action(a, f"actions[{i}]", self.n_actions)
                                   for i, a in enumerate(actions)], reset_on_done), False
        except RequestError as exc:
            return encode_error(f"InvalidRequest: {exc}"), False
        except KeyboardInterrupt:
            raise  # a signal to this process: serve() ends with status 130
        except BaseException as exc:  # the environment failed, sys.exit included: report it, keep serving
            return encode_error(describe_failure(exc)), False


def describe_failure(exc: BaseException) -> str:
    """``"<ExceptionType>: <message>"`` for an exception raised by the environment (never raises).

    ``SystemExit`` says that the environment called ``sys.exit`` (it is an error, not a close).
    """
    if isinstance(exc, SystemExit):
        return f"SystemExit: the environment called sys.exit({_short(exc.code)})"
    try:
        message = str(exc)
    except BaseException:  # a hostile __str__
        message = "<the exception's message could not be formatted>"
    return f"{type(exc).__name__}: {message}"


def _nonfinite_error(reply: bytes) -> bytes:
    """The ``ok:false`` reply replacing ``reply`` (one of ours) that holds a non-finite value."""
    fields = nonfinite_fields(json.loads(reply))
    shown = "; ".join(f"field {path!r} is {token}" for path, token in fields[:4])
    more = f" (and {len(fields) - 4} more)" if len(fields) > 4 else ""
    return encode_error(f"NonFiniteValue: {shown}{more}: JSON numbers cannot be NaN or infinite, so "
                        f"this reply cannot reach a client that reads JSON numbers only (TorchLean's "
                        f"Lean client); the environment has taken the step. Start the server with "
                        f"--nonfinite string to receive the strings \"NaN\"/\"Infinity\"/\"-Infinity\" "
                        f"instead (rollcheck's own client does).")


_FIELDS = {"describe": (), "reset": ("seed",), "step": ("action",), "close": (),
           "step_many": ("actions", "reset_on_done"), "vec_reset": ("num_envs", "seed"),
           "vec_step": ("actions",)}
_REQUIRED = {"step": ("action",), "step_many": ("actions",), "vec_reset": ("num_envs",),
             "vec_step": ("actions",)}


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _parse_request(line: bytes) -> "tuple[str, dict]":
    try:
        req = json.loads(line)
    except ValueError as exc:
        raise RequestError(f"request is not JSON ({exc}): {_short(line)}") from None
    except RecursionError:
        raise RequestError(f"request nested too deep to decode: {_short(line[:80])}") from None
    if type(req) is not dict:
        raise RequestError(f"request should be a JSON object, got {_short(req)}")
    cmd = req.get("cmd")
    if cmd not in _FIELDS:
        raise RequestError(f"field 'cmd'={_short(cmd)} should be one of {', '.join(_FIELDS)}")
    unknown = sorted(set(req) - {"cmd", *_FIELDS[cmd]})
    if unknown:
        raise RequestError(f"unknown field(s) {', '.join(map(repr, unknown))} for cmd {cmd!r}")
    missing = [f for f in _REQUIRED.get(cmd, ()) if f not in req]
    if missing:
        raise RequestError(f"cmd {cmd!r} requires field {missing[0]!r}")
    return cmd, req


def _action(value: Any, field: str, n_actions: int) -> int:
    if type(value) is float and value.is_integer():
        value = int(value)
    if type(value) is not int:
        raise RequestError(f"field {field!r}={_short(value)} should be an integer action")
    if not action_ok(n_actions, value):  # the contract's Fin n_actions, as the judge states it
        raise RequestError(f"field {field!r}={value} should be in [0, {n_actions}) (n_actions={n_actions})")
    return value


def _seed(value: Any) -> "int | None":
    if value is None:
        return None
    if type(value) is not int or value < 0:
        raise RequestError(f"field 'seed'={_short(value)} should be a non-negative integer or null")
    return value


def _write_all(fd: int, data: bytes) -> None:
    n = os.write(fd, data)
    while n < len(data):
        data = data[n:]
        n = os.write(fd, data)


def _serve_loop(handle: Callable[[bytes], "tuple[bytes, bool]"], in_fd: int, out_fd: int,
                spin_us: int = 0, max_line_bytes: int = DEFAULT_MAX_LINE_BYTES) -> None:
    """Answer every request line on ``in_fd`` until ``close`` or EOF, in time linear in the input.

    Each byte is searched for a newline once (a partial line is kept as a list of pieces, never
    re-scanned); a line longer than ``max_line_bytes`` is answered with one ``ok:false`` as soon as
    it is too long and the rest of it is discarded up to its newline; a blank or whitespace-only
    line is answered with ``ok:false``; an unterminated last line before EOF is answered too.
    """
    read, buf, size, discarding = os.read, [], 0, False
    poller = select.poll()
    poller.register(in_fd, POLL_READ)
    spin = AdaptiveSpin(poller, spin_us).spin_before_read if spin_us else None

    def answer(line: bytes) -> bool:
        if len(line) > max_line_bytes:
            reply, stop = _too_long(max_line_bytes), False
        elif not line.strip():
            reply, stop = _BLANK_LINE_REPLY, False
        else:
            reply, stop = handle(line)
        _write_all(out_fd, reply)
        return stop

    while True:
        if spin is not None:
            spin()  # catch a quick next request without sleeping (adaptive; see bridge_io)
        chunk = read(in_fd, 1 << 16)
        if not chunk:
            if buf and not discarding:
                answer(b"".join(buf))
            return
        if not buf and not discarding and chunk[-1:] == b"\n" and chunk.find(b"\n") == len(chunk) - 1:
            if answer(chunk[:-1]):  # the common case: exactly one request
                return
            continue
        start = 0
        while True:
            i = chunk.find(b"\n", start)  # only new bytes are searched: linear in the input
            if i < 0:
                if not discarding and start < len(chunk):
                    buf.append(chunk[start:])
                    size += len(chunk) - start
                    if size > max_line_bytes:
                        _write_all(out_fd, _too_long(max_line_bytes))
                        buf, size, discarding = [], 0, True
                break
            if discarding:
                discarding = False  # the end of an overlong line, already answered
            else:
                piece = chunk[start:i]
                line = b"".join(buf) + piece if buf else piece
                buf, size = [], 0
                if answer(line):
                    return
            start = i + 1


def _too_long(max_line_bytes: int) -> bytes:
    return encode_error(f"InvalidRequest: request line longer than max_line_bytes={max_line_bytes} "
                        f"(the rest of the line is discarded)")


def serve(env_id: str, make_kwargs: "str | dict | None" = None, *, in_fd: int = 0,
          out_fd: "int | None" = None, spin_us: "int | None" = None, nonfinite: str = "error",
          max_line_bytes: int = DEFAULT_MAX_LINE_BYTES) -> int:
    """Serve ``gymnasium.make(env_id, **make_kwargs)`` on stdio until ``close`` or EOF.

    ``spin_us``: the spin budget between requests (``None``: ``spin_us_from_env()``; 0: none).
    ``nonfinite``: one of :data:`NONFINITE_POLICIES`. ``max_line_bytes``: the longest request line.
    Returns the exit status: 0 after a normal close/EOF, 2 if the environment could not be served,
    3 if closing the environment failed, 130 on ``KeyboardInterrupt``.
    """
    if out_fd is None:
        out_fd = claim_protocol_stdout()
    env = None
    status = 0
    try:
        try:
            kwargs = _parse_make_kwargs(make_kwargs)
            spin_us = spin_us_from_env() if spin_us is None else validate_spin_us(spin_us, "--spin-us")
            if isinstance(max_line_bytes, bool) or not isinstance(max_line_bytes, int) or max_line_bytes < 64:
                raise ArgumentError(f"--max-line-bytes={max_line_bytes!r} should be an integer >= 64")
            import gymnasium as gym

            env = gym.make(env_id, **kwargs)
            server: Any = EnvServer(env, make_env=lambda: gym.make(env_id, **kwargs), nonfinite=nonfinite)
        except KeyboardInterrupt:
            raise
        except BaseException as exc:  # sys.exit in a factory is a startup failure too
            message = f"cannot serve env_id={env_id!r}: {describe_failure(exc)}"
            print(f"rollcheck serve: {message}", file=sys.stderr, flush=True)
            _serve_loop(lambda line: _startup_failure(line, message), in_fd, out_fd, 0)
            return 2
        try:
            _serve_loop(server.handle, in_fd, out_fd, spin_us, max_line_bytes)
        finally:
            server.close_vec_envs()
    except BrokenPipeError:
        pass  # the client went away
    except KeyboardInterrupt:
        status = 130
    finally:
        if env is not None:
            try:
                env.close()
            except BaseException as exc:
                print(f"rollcheck serve: env.close() failed: {describe_failure(exc)}", file=sys.stderr)
                status = status or 3
    return status


def script_path() -> str:
    """The absolute path of this file: the ``serverScript`` to hand to TorchLean's ``Client.spawn``."""
    return os.path.abspath(__file__)


def _startup_failure(line: bytes, message: str) -> "tuple[bytes, bool]":
    try:
        is_close = json.loads(line).get("cmd") == "close"
    except Exception:
        is_close = False
    return (b'{"ok":true}\n', True) if is_close else (encode_error(message), False)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The server's command-line options (shared by ``rollcheck serve`` and this file as a script)."""
    parser.add_argument("--env-id", required=True, help="Gymnasium environment id, e.g. CartPole-v1")
    parser.add_argument("--make-kwargs", default=None, metavar="JSON",
                        help="JSON object of keyword arguments for gymnasium.make(env_id, **kwargs)")
    parser.add_argument("--nonfinite", choices=NONFINITE_POLICIES, default="error",
                        help="a reply holding NaN/inf: 'error' (default) answers ok:false naming the "
                             "field, since JSON numbers cannot be non-finite and a Lean client reads "
                             "numbers only; 'string' sends \"NaN\"/\"Infinity\"/\"-Infinity\" strings "
                             "(for Python clients; rollcheck's client asks for it)")
    parser.add_argument("--max-line-bytes", type=int, default=DEFAULT_MAX_LINE_BYTES, metavar="N",
                        help=f"longest request line; a longer one is answered ok:false (default "
                             f"{DEFAULT_MAX_LINE_BYTES})")
    parser.add_argument("--spin-us", type=int, default=None, metavar="N",
                        help="busy-poll stdin up to N microseconds between requests before sleeping "
                             "(0 disables; default: $ROLLCHECK_BRIDGE_SPIN_US, else "
                             "rollcheck.impl.bridge_io.DEFAULT_SPIN_US)")


def main(argv: "list[str] | None" = None) -> int:
    parser = argparse.ArgumentParser(description="Serve one Gymnasium environment over rollcheck's "
                                                 "(TorchLean's) JSON-lines protocol on stdin/stdout.")
    add_arguments(parser)
    args = parser.parse_args(argv)
    return serve(args.env_id, args.make_kwargs, spin_us=args.spin_us, nonfinite=args.nonfinite,
                 max_line_bytes=args.max_line_bytes)


if __name__ == "__main__":
    # Run as a file, the way TorchLean's client launches it (python3 -u <this file> --env-id ID):
    # this file's folder (rollcheck's impl/) must not shadow other modules the environment imports.
    if sys.path and os.path.abspath(sys.path[0] or ".") == os.path.dirname(os.path.abspath(__file__)):
        del sys.path[0]
    sys.exit(main())
