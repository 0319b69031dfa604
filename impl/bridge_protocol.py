"""The Gymnasium bridge wire protocol: one JSON object per line, strictly encoded and decoded.

Mirrors the protocol of TorchLean's ``NN.Runtime.RL.Gymnasium.Client`` and
``scripts/rl/gymnasium_server.py`` (requests on the server's stdin, replies on its stdout)::

    {"cmd":"describe"}           -> {"ok":true,"n_actions":int,"obs_shape":[int],"obs_dtype":str}
    {"cmd":"reset","seed":0}     -> {"ok":true,"obs":<tensor>}        ("seed" optional or null)
    {"cmd":"step","action":0}    -> {"ok":true,"obs":<tensor>,"reward":float,
                                     "terminated":bool,"truncated":bool}
    {"cmd":"close"}              -> {"ok":true}
    any failure                  -> {"ok":false,"error":str}

A ``<tensor>`` is nested JSON arrays following the observation shape (a bare number for the scalar
shape), exactly as TorchLean's ``Import.PyTorch.parseTensor`` reads it. Keys may come in any order
(Lean's ``Json.compress`` sorts them: ``{"action":0,"cmd":"step"}``).

Extension (rollcheck only; the four commands above are untouched and byte-compatible):
``{"cmd":"step_many","actions":[a0,a1,...]}`` applies the actions in order and stops right after
the first step that ends an episode; the reply holds the ``k <= len(actions)`` executed steps as
parallel arrays: ``{"ok":true,"obs":[<tensor>,...],"reward":[...],"terminated":[...],
"truncated":[...]}``. With ``"reset_on_done":true`` it executes every action, resetting (unseeded)
after each done, and adds ``"reset_obs":[<tensor>,...]`` (one per done, in order). It serves
open-loop action sequences (random policies, replays, fuzzing) at one round trip per batch.

Vectorised extension (rollcheck only; policy in the loop): ``{"cmd":"vec_reset","num_envs":N,
"seed":S}`` (seed optional) makes the server host ``N`` sub-environments (created with the same
id and make-kwargs, independent of the single environment of the four commands) and resets
sub-env ``i`` with seed ``S+i`` -> ``{"ok":true,"obs":[<tensor>,...N]}``.
``{"cmd":"vec_step","actions":[a0,...,aN-1]}`` steps sub-env ``i`` with ``a_i`` and resets
(unseeded) every sub-env whose step ended an episode; the reply has the ``step_many``
``reset_on_done`` layout with ``k = N``: ``obs[i]`` is sub-env ``i``'s true post-step observation,
and ``reset_obs`` holds the reset observations of the done sub-envs in index order. A batched
policy reads one observation per sub-env (``obs[i]``, or its reset observation after a done)
and chooses the next ``N`` actions: one round trip per ``N`` environment steps.

Non-finite floats. JSON has no NaN or infinities. By default rollcheck's server does not send
them at all: a reply that would hold one becomes ``{"ok":false,"error":"NonFiniteValue: field
'reward' is NaN ..."}`` naming each such field (a TorchLean Lean client reads JSON numbers only,
so this is the one message it can show truthfully). Started with ``--nonfinite string`` (what
rollcheck's own client asks for), it writes them as the JSON *strings* ``"NaN"``, ``"Infinity"``
and ``"-Infinity"`` — Lean's own ``ToJson Float`` spelling — so every line stays standard JSON. Decoding is unambiguous: a number is a number, and those three
strings (and only those) are the non-finite values; any other string is an error naming the field.
The decoder also accepts Python's bare ``NaN``/``Infinity``/``-Infinity`` tokens, which
``json.dumps`` (and so TorchLean's reference server) emits. A TorchLean Lean client receiving
``"NaN"`` rejects it in ``Boundary.parseFloat``/``parseTensorE`` ("expected `reward` to be a JSON
number") — a clean, named rejection, which is what its default contract (finite values only) would
conclude anyway; a bare ``NaN`` token would instead make Lean's ``Json.parse`` fail on the whole
line. Finite floats are written with Python's shortest round-trip ``repr``, so ``-0.0`` and
subnormals survive exactly; float32 observations travel as the exact float64 of their value.

Invariants enforced: a decoded reply has every field the command requires, each of the right JSON
type (booleans are not numbers; integers are accepted where floats are); observations have exactly
the expected shape; a reply nested too deep for the JSON decoder is a :class:`BridgeProtocolError`.
Every problem found in a reply is reported together, naming field and value.
All errors are :class:`BridgeError` subclasses.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any, Iterable

import numpy as np

from rollcheck.impl.contract_judge import action_ok
from rollcheck.spec import ContractViolation, Shape
from rollcheck.spec.errors import RollcheckError, ArgumentError, format_value

__all__ = [
    "BridgeContractViolation", "BridgeError", "BridgeHandshakeError", "BridgeProtocolError",
    "BridgeServerError", "BridgeServerExited", "BridgeTimeout", "Description", "NONFINITE_TOKENS",
    "StepBatch",
    "decode_describe_reply", "decode_float", "decode_reply_object", "decode_reset_reply",
    "as_actions", "decode_step_many_reply", "decode_step_reply", "decode_tensor", "encode_error",
    "encode_float", "encode_request", "encode_tensor", "expect_close_reply", "nonfinite_fields",
    "step_request",
]

#: The JSON strings that stand for the non-finite floats (Lean's ``ToJson Float`` spelling).
NONFINITE_TOKENS = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}
_FLOAT_TO_TOKEN = {"nan": '"NaN"', "inf": '"Infinity"', "-inf": '"-Infinity"'}
_float_repr = float.__repr__


# ---------------------------------------------------------------------------------------------
# Errors
# ---------------------------------------------------------------------------------------------

class BridgeError(RollcheckError, RuntimeError):
    """Something went wrong talking to a bridge server; ``stderr_tail`` is the server's last words."""

    def __init__(self, message: str, stderr_tail: str = "") -> None:
        self.stderr_tail = stderr_tail
        if stderr_tail:
            message = f"{message}\n--- server stderr (tail) ---\n{stderr_tail.rstrip()}"
        super().__init__(message)


class BridgeProtocolError(BridgeError):
    """A reply is not valid under the protocol (not JSON, a missing or ill-typed field, a wrong shape)."""


class BridgeServerError(BridgeError):
    """The server answered ``{"ok":false,"error":...}``."""


class BridgeHandshakeError(BridgeError):
    """The ``describe`` handshake found spaces other than the expected ``obs_shape``/``n_actions``."""


class BridgeTimeout(BridgeError):
    """No complete reply line arrived within the timeout."""


class BridgeServerExited(BridgeError):
    """The server closed its stdout or exited (EOF, broken pipe)."""


class BridgeContractViolation(ContractViolation, BridgeError):
    """A well-formed reply broke the contract (e.g. a NaN reward); also a ``ContractViolation``."""

    def __init__(self, violations: Any) -> None:
        ContractViolation.__init__(self, violations)
        self.stderr_tail = ""


# ---------------------------------------------------------------------------------------------
# Encoding (server side writes replies, client side writes requests)
# ---------------------------------------------------------------------------------------------

def encode_float(x: float) -> str:
    """JSON text for ``x``: shortest round-trip decimal, or ``"NaN"``/``"Infinity"``/``"-Infinity"``."""
    text = _float_repr(float(x))
    return _FLOAT_TO_TOKEN.get(text, text)


def _encode_nested(value: Any) -> str:
    if isinstance(value, list):
        return "[" + ",".join([_encode_nested(v) for v in value]) + "]"
    if isinstance(value, float):
        return encode_float(value)
    return str(int(value))


def encode_tensor(value: Any) -> str:
    """JSON text (nested arrays) for a real array-like; bool arrays are sent as 0/1."""
    arr = value if isinstance(value, np.ndarray) else np.asarray(value)
    kind = arr.dtype.kind
    if kind == "b":
        arr = arr.astype(np.int64)
    elif kind not in "fiu":
        raise TypeError(f"observation of dtype {arr.dtype} cannot be sent as a real tensor")
    listed = arr.tolist()
    if arr.ndim == 1:
        text = ",".join(map(repr, listed))
        if "n" in text:  # 'nan'/'inf' appear only for non-finite floats
            return _encode_nested(listed)
        return "[" + text + "]"
    return _encode_nested(listed)


def encode_error(message: str) -> bytes:
    """The failure reply line for ``message``."""
    return (json.dumps({"ok": False, "error": str(message)}, separators=(",", ":")) + "\n").encode()


def encode_request(cmd: str, **fields: Any) -> bytes:
    """A request line, e.g. ``encode_request("reset", seed=0)`` (``None`` fields are omitted)."""
    obj = {"cmd": cmd}
    obj.update({k: v for k, v in fields.items() if v is not None})
    return (json.dumps(obj, separators=(",", ":"), allow_nan=False) + "\n").encode()


def step_request(action: int) -> bytes:
    """The exact ``step`` request line for ``action`` (``{"cmd":"step","action":N}``)."""
    return b'{"cmd":"step","action":%d}\n' % action


# ---------------------------------------------------------------------------------------------
# Decoding (strict; every problem named)
# ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Description:
    """The ``describe`` reply: the server's action count, observation shape and dtype."""

    n_actions: int
    obs_shape: Shape
    obs_dtype: str


def _is_number(x: Any) -> bool:
    return (type(x) is float or type(x) is int)


def decode_float(value: Any, field: str, problems: list[str]) -> float:
    """A float from a JSON number or a non-finite token; appends to ``problems`` otherwise."""
    if type(value) is float:
        return value
    if type(value) is int:
        try:
            return float(value)
        except OverflowError:
            problems.append(f"field {field!r}: {format_value(value)} is too large for a float")
            return math.nan
    if type(value) is str and value in NONFINITE_TOKENS:
        return NONFINITE_TOKENS[value]
    problems.append(f"field {field!r}: expected a JSON number (or \"NaN\"/\"Infinity\"/\"-Infinity\"), "
                    f"got {format_value(value)}")
    return math.nan


def _flatten(value: Any, dims: tuple[int, ...], depth: int, path: str, out: list[float],
             problems: list[str]) -> None:
    if depth == len(dims):
        if isinstance(value, list):
            problems.append(f"field {path!r}: found an array where the shape {Shape(dims).pretty()} "
                            f"has a number")
            return
        out.append(decode_float(value, path, problems))
        return
    if not isinstance(value, list):
        problems.append(f"field {path!r}: expected an array of length {dims[depth]} (shape "
                        f"{Shape(dims).pretty()}), got {format_value(value)}")
        return
    if len(value) != dims[depth]:
        problems.append(f"field {path!r}: array of length {len(value)} does not match the expected "
                        f"shape {Shape(dims).pretty()} (length {dims[depth]} at depth {depth})")
        return
    for i, item in enumerate(value):
        _flatten(item, dims, depth + 1, f"{path}[{i}]", out, problems)
        if len(problems) >= 8:
            return


_NUMBER_TYPES = frozenset((float, int))
_BOOL_TYPE = frozenset((bool,))


def _rectangular_numbers(value: Any, dims: tuple[int, ...], depth: int) -> bool:
    """``True`` iff ``value`` is nested lists of exactly ``dims`` whose leaves are JSON numbers."""
    if type(value) is not list or len(value) != dims[depth]:
        return False
    if depth == len(dims) - 1:
        return _NUMBER_TYPES.issuperset(map(type, value))  # bool is its own type: excluded
    return all(_rectangular_numbers(v, dims, depth + 1) for v in value)


def decode_tensor(value: Any, shape: Shape, field: str, problems: list[str]) -> "np.ndarray | None":
    """A float64 array of ``shape`` from nested JSON arrays, or ``None`` with ``problems`` appended."""
    dims = shape.dims
    if dims and 0 not in dims and _rectangular_numbers(value, dims, 0):
        try:  # fast path: rectangular JSON numbers only (checked above), converted in C
            return np.array(value, dtype=np.float64)
        except OverflowError:
            pass  # an integer too large for a float: the slow path names it
    out: list[float] = []
    before = len(problems)
    _flatten(value, dims, 0, field, out, problems)
    if len(problems) > before:
        return None
    return np.array(out, dtype=np.float64).reshape(dims)


def _decode_flag(value: Any, field: str, problems: list[str]) -> bool:
    if value is True or value is False:
        return value
    problems.append(f"field {field!r}: expected a JSON boolean, got {format_value(value)}")
    return False


def _raise_problems(problems: list[str], what: str, line: "bytes | str") -> None:
    raise BridgeProtocolError(f"bad {what} reply: " + "; ".join(problems)
                              + f" (raw line: {format_value(_text(line), 200)})")


def _text(line: "bytes | str") -> str:
    return line.decode("utf-8", "replace") if isinstance(line, (bytes, bytearray)) else line


def decode_reply_object(line: "bytes | str", what: str) -> dict:
    """Parse one reply line into a dict with ``"ok": true``.

    Raises :class:`BridgeServerError` for ``ok:false`` and :class:`BridgeProtocolError` for
    anything that is not a JSON object with a boolean ``ok`` (and a string ``error`` when false).
    """
    try:
        obj = json.loads(line)
    except (ValueError, UnicodeDecodeError) as exc:
        raise BridgeProtocolError(f"bad {what} reply: not JSON ({exc}) (raw line: "
                                  f"{format_value(_text(line), 200)})") from None
    except RecursionError:
        raise BridgeProtocolError(f"bad {what} reply: JSON nested too deep to decode (raw line: "
                                  f"{format_value(_text(line[:200]), 200)})") from None
    if type(obj) is not dict:
        raise BridgeProtocolError(f"bad {what} reply: expected a JSON object, got "
                                  f"{format_value(obj, 200)}")
    ok = obj.get("ok")
    if ok is True:
        return obj
    if ok is False:
        error = obj.get("error")
        if type(error) is not str:
            raise BridgeProtocolError(f"bad {what} reply: ok=false but field 'error' is "
                                      f"{format_value(error)}, expected a string")
        raise BridgeServerError(f"server error on {what}: {error}")
    raise BridgeProtocolError(f"bad {what} reply: field 'ok' is {format_value(ok)}, expected a JSON "
                              f"boolean (raw line: {format_value(_text(line), 200)})")


def _nat(value: Any, field: str, problems: list[str]) -> int:
    """Lean ``parseNatStrict``: an integral, non-negative JSON number."""
    if type(value) is float and value.is_integer():
        value = int(value)
    if type(value) is not int or value < 0:
        problems.append(f"field {field!r}: expected a non-negative integer, got {format_value(value)}")
        return 0
    return value


def decode_describe_reply(line: "bytes | str") -> Description:
    """Decode the ``describe`` reply (``n_actions``, ``obs_shape``, ``obs_dtype``)."""
    obj = decode_reply_object(line, "describe")
    problems: list[str] = []
    for name in ("n_actions", "obs_shape", "obs_dtype"):
        if name not in obj:
            problems.append(f"missing field {name!r}")
    if problems:
        _raise_problems(problems, "describe", line)
    n_actions = _nat(obj["n_actions"], "n_actions", problems)
    dims: list[int] = []
    if type(obj["obs_shape"]) is not list:
        problems.append(f"field 'obs_shape': expected an array of integers, got {format_value(obj['obs_shape'])}")
    else:
        dims = [_nat(d, f"obs_shape[{i}]", problems) for i, d in enumerate(obj["obs_shape"])]
    if type(obj["obs_dtype"]) is not str:
        problems.append(f"field 'obs_dtype': expected a string, got {format_value(obj['obs_dtype'])}")
    if problems:
        _raise_problems(problems, "describe", line)
    return Description(n_actions, Shape(tuple(dims)), obj["obs_dtype"])


def decode_reset_reply(line: "bytes | str", obs_shape: Shape, what: str = "reset") -> np.ndarray:
    """Decode the ``reset`` reply into the observation (float64 array of ``obs_shape``).

    Also decodes the ``vec_reset`` reply (``what="vec_reset"``, ``obs_shape`` = ``(N, *shape)``).
    """
    obj = decode_reply_object(line, what)
    if "obs" not in obj:
        _raise_problems(["missing field 'obs'"], what, line)
    problems: list[str] = []
    obs = decode_tensor(obj["obs"], obs_shape, "obs", problems)
    if problems:
        _raise_problems(problems, what, line)
    return obs


_STEP_FIELDS = ("obs", "reward", "terminated", "truncated")


def decode_step_reply(line: "bytes | str", obs_shape: Shape) -> "tuple[np.ndarray, float, bool, bool]":
    """Decode the ``step`` reply into ``(obs, reward, terminated, truncated)``."""
    obj = decode_reply_object(line, "step")
    problems = [f"missing field {name!r}" for name in _STEP_FIELDS if name not in obj]
    if problems:
        _raise_problems(problems, "step", line)
    obs = decode_tensor(obj["obs"], obs_shape, "obs", problems)
    reward = obj["reward"]
    if type(reward) is not float:
        reward = decode_float(reward, "reward", problems)
    terminated = _decode_flag(obj["terminated"], "terminated", problems)
    truncated = _decode_flag(obj["truncated"], "truncated", problems)
    if problems:
        _raise_problems(problems, "step", line)
    return obs, reward, terminated, truncated


@dataclass(frozen=True, eq=False)
class StepBatch:
    """The ``step_many`` reply: ``k`` executed steps as arrays, plus the reset observations.

    ``obs[i]`` is the true observation after step ``i`` (before any reset); ``reset_obs[j]`` is the
    observation the server reset to after the ``j``-th done (only with ``reset_on_done``).
    """

    obs: np.ndarray
    reward: np.ndarray
    terminated: np.ndarray
    truncated: np.ndarray
    reset_obs: np.ndarray

    def __len__(self) -> int:
        return len(self.reward)

    @property
    def done(self) -> np.ndarray:
        return self.terminated | self.truncated


def decode_step_many_reply(line: "bytes | str", obs_shape: Shape, n_sent: int,
                           reset_on_done: bool = False, what: str = "step_many") -> StepBatch:
    """Decode a ``step_many`` reply (see the module docstring) into a :class:`StepBatch`.

    Without ``reset_on_done``: ``1 <= k <= n_sent``, only the last step may be a done, and
    ``k < n_sent`` only if it is. With it: ``k == n_sent`` and one ``reset_obs`` per done. A
    ``vec_step`` reply has the ``reset_on_done`` layout (``what="vec_step"``, ``n_sent`` = N).
    """
    obj = decode_reply_object(line, what)
    fields = _STEP_FIELDS + (("reset_obs",) if reset_on_done else ())
    problems = [f"missing field {name!r}" for name in fields if name not in obj]
    if problems:
        _raise_problems(problems, what, line)
    columns = {name: obj[name] for name in fields}
    for name, col in columns.items():
        if type(col) is not list:
            problems.append(f"field {name!r}: expected an array, got {format_value(col)}")
    if problems:
        _raise_problems(problems, what, line)
    k = len(columns["obs"])
    lengths = {name: len(columns[name]) for name in _STEP_FIELDS}
    low = n_sent if reset_on_done else 1
    if len(set(lengths.values())) != 1 or not low <= k <= n_sent:
        _raise_problems([f"columns must all have one length in [{low}, {n_sent}], got {lengths}"],
                        what, line)
    obs = decode_tensor(columns["obs"], Shape((k, *obs_shape.dims)), "obs", problems)
    rewards = columns["reward"]
    plain = _NUMBER_TYPES.issuperset(map(type, rewards))
    if plain:
        try:
            rewards = np.array(rewards, dtype=np.float64)
        except OverflowError:  # an integer too large for a float: decode_float names it
            plain = False
    if not plain:
        rewards = [decode_float(r, f"reward[{i}]", problems) for i, r in enumerate(rewards)]
    te, tr = columns["terminated"], columns["truncated"]
    if not _BOOL_TYPE.issuperset(map(type, te)):
        te = [_decode_flag(x, f"terminated[{i}]", problems) for i, x in enumerate(te)]
    if not _BOOL_TYPE.issuperset(map(type, tr)):
        tr = [_decode_flag(x, f"truncated[{i}]", problems) for i, x in enumerate(tr)]
    n_resets = len(columns["reset_obs"]) if reset_on_done else 0
    reset_obs = decode_tensor(columns["reset_obs"], Shape((n_resets, *obs_shape.dims)), "reset_obs",
                              problems) if reset_on_done else None
    if not problems:
        done = [a or b for a, b in zip(te, tr)]  # only bools by now
        if reset_on_done:
            if n_resets != sum(done):
                problems.append(f"field 'reset_obs' has {n_resets} observations for {sum(done)} dones")
        elif any(done[:-1]):
            problems.append(f"a done at step {done.index(True)} is not the last of the {k} steps")
        elif k < n_sent and not done[-1]:
            problems.append(f"only {k} of {n_sent} steps were executed but the last is not a done")
    if problems:
        _raise_problems(problems, what, line)
    if reset_obs is None:
        reset_obs = np.empty((0, *obs_shape.dims), dtype=np.float64)
    return StepBatch(obs, np.array(rewards, dtype=np.float64), np.array(te, dtype=bool),
                     np.array(tr, dtype=bool), reset_obs)


def nonfinite_fields(value: Any, path: str = "") -> "list[tuple[str, str]]":
    """``(field path, token)`` for every ``"NaN"``/``"Infinity"``/``"-Infinity"`` string in a decoded reply.

    Paths read like the decoder's: ``reward``, ``obs[2]``, ``obs[0][3]``.
    """
    found: list[tuple[str, str]] = []
    stack = [(path, value)]
    while stack:
        where, item = stack.pop()
        if type(item) is dict:
            stack.extend((k if not where else f"{where}.{k}", v) for k, v in reversed(list(item.items())))
        elif type(item) is list:
            stack.extend((f"{where}[{i}]", v) for i, v in reversed(list(enumerate(item))))
        elif type(item) is str and item in NONFINITE_TOKENS:
            found.append((where, item))
    return found


def expect_close_reply(line: "bytes | str") -> None:
    """Check the ``close`` reply is ``{"ok":true}``."""
    decode_reply_object(line, "close")


def as_actions(actions: Iterable[Any], n_actions: int) -> list[int]:
    """Validate a sequence of actions against ``Fin n_actions``; error names the index and value."""
    out = []
    for i, a in enumerate(actions):
        if isinstance(a, (bool, np.bool_)) or not hasattr(a, "__index__"):
            raise ArgumentError(f"actions[{i}]={a!r} should be an integer action")
        a = int(a)
        if not action_ok(n_actions, a):  # the contract's Fin n_actions, as the judge states it
            raise ArgumentError(f"actions[{i}]={a} should be in [0, {n_actions}) (n_actions={n_actions})")
        out.append(a)
    return out
