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
  ``seed`` a non-negative integer or null); an environment exception becomes an ``ok:false``
  reply ``"<ExceptionType>: <message>"`` and the server keeps serving. ``close`` or EOF on stdin
  closes the environment and exits 0.

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
from rollcheck.impl.bridge_protocol import encode_error, encode_float, encode_tensor
from rollcheck.spec.errors import RollcheckError

__all__ = ["EnvServer", "add_arguments", "claim_protocol_stdout", "main", "serve"]

_MAX_FAST_ACTIONS = 4096
_MAX_STEP_MANY = 1_000_000
_MAX_NUM_ENVS = 1024
_TRUE_FALSE = ("false", "true")


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

    def __init__(self, env: Any, make_env: "Callable[[], Any] | None" = None) -> None:
        from gymnasium.spaces import Discrete

        self.env = env
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
        """The reply to one request line, and whether the server should stop afterwards."""
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
        except Exception as exc:  # the environment failed; report it and keep serving
            return encode_error(f"{type(exc).__name__}: {exc}"), False


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
    if not 0 <= value < n_actions:
        raise RequestError(f"field {field!r}={value} should be in [0, {n_actions}) (n_actions={n_actions})")
    return value


def _seed(value: Any) -> "int | None":
    if value is None:
        return None
    if type(value) is not int or value < 0:
        raise RequestError(f"field 'seed'={_short(value)} should be a non-negative integer or null")
    return value


def _write_all(fd: int, data: bytes) -> None:
    while data:
        n = os.write(fd, data)
        data = data[n:]


def _serve_loop(handle: Callable[[bytes], "tuple[bytes, bool]"], in_fd: int, out_fd: int,
                spin_us: int = 0) -> None:
    read, write, buf = os.read, os.write, b""
    poller = select.poll()
    poller.register(in_fd, POLL_READ)
    spin = AdaptiveSpin(poller, spin_us).spin_before_read if spin_us else None
    while True:
        if spin is not None:
            spin()  # catch a quick next request without sleeping (adaptive; see bridge_io)
        chunk = read(in_fd, 1 << 16)
        if not chunk:
            return
        if not buf and chunk[-1:] == b"\n" and chunk.count(b"\n") == 1:
            lines, buf = (chunk[:-1],), b""  # the common case: exactly one request
        else:
            buf += chunk
            *lines, buf = buf.split(b"\n")
        for line in lines:
            if not line.strip():
                continue
            reply, stop = handle(line)
            n = write(out_fd, reply)
            if n != len(reply):
                _write_all(out_fd, reply[n:])
            if stop:
                return


def serve(env_id: str, make_kwargs: "str | dict | None" = None, *, in_fd: int = 0,
          out_fd: "int | None" = None, spin_us: "int | None" = None) -> int:
    """Serve ``gymnasium.make(env_id, **make_kwargs)`` on stdio until ``close`` or EOF.

    ``spin_us``: the spin budget between requests (``None``: ``spin_us_from_env()``; 0: none).
    Returns the exit status: 0 after a normal close/EOF, 2 if the environment could not be served.
    """
    if out_fd is None:
        out_fd = claim_protocol_stdout()
    env = None
    try:
        try:
            kwargs = _parse_make_kwargs(make_kwargs)
            spin_us = spin_us_from_env() if spin_us is None else validate_spin_us(spin_us, "--spin-us")
            import gymnasium as gym

            env = gym.make(env_id, **kwargs)
            server: Any = EnvServer(env, make_env=lambda: gym.make(env_id, **kwargs))
        except Exception as exc:
            message = f"cannot serve env_id={env_id!r}: {type(exc).__name__}: {exc}"
            print(f"rollcheck serve: {message}", file=sys.stderr, flush=True)
            _serve_loop(lambda line: _startup_failure(line, message), in_fd, out_fd, 0)
            return 2
        try:
            _serve_loop(server.handle, in_fd, out_fd, spin_us)
        finally:
            server.close_vec_envs()
        return 0
    except BrokenPipeError:
        return 0  # the client went away
    finally:
        if env is not None:
            try:
                env.close()
            except Exception as exc:  # pragma: no cover - best effort
                print(f"rollcheck serve: env.close() failed: {exc}", file=sys.stderr)


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
    parser.add_argument("--spin-us", type=int, default=None, metavar="N",
                        help="busy-poll stdin up to N microseconds between requests before sleeping "
                             "(0 disables; default: $ROLLCHECK_BRIDGE_SPIN_US, else "
                             "rollcheck.impl.bridge_io.DEFAULT_SPIN_US)")


def main(argv: "list[str] | None" = None) -> int:
    parser = argparse.ArgumentParser(description="Serve one Gymnasium environment over rollcheck's "
                                                 "(TorchLean's) JSON-lines protocol on stdin/stdout.")
    add_arguments(parser)
    args = parser.parse_args(argv)
    return serve(args.env_id, args.make_kwargs, spin_us=args.spin_us)


if __name__ == "__main__":
    sys.exit(main())
