"""Value-level checks for values a Gymnasium env returns: spaces, numerics, snapshots.

Pure functions used by the env fuzzer (:mod:`rollcheck.properties.env.runner`). Each returns a
list of human-readable problems (empty when the value is fine), never raises on a bad value.

Mirrors:

- TorchLean ``Boundary.checkObservation`` (the shape gate and ``Contract.check_obs_finite`` /
  ``obs_range``), ``Boundary.checkReward``, ``Boundary.checkDoneFlags``: the numeric checks below
  are a vectorised equivalent of :func:`rollcheck.spec.contract.observation_violations`,
  ``reward_violations`` and ``done_flags_violations`` (the spec functions stay the oracle; the
  agreement is tested with Hypothesis in ``tests/properties/test_env_checks.py``);
- Gymnasium ``Space.contains`` made stricter: an observation must carry *exactly* the space's
  dtype and shape (Gymnasium accepts any dtype that can be cast), a ``Discrete`` value may be a
  Python ``int`` or a numpy integer of the space's dtype;
- Gymnasium's ``Box``/``Discrete``/... constructors, re-checked on the live objects for
  :func:`space_problems` (a space can be mutated after construction).

Invariant enforced: :func:`snapshot` copies every mutable container and array, so comparing a
snapshot with the live value (:func:`values_equal`) detects aliasing by *value*, not identity.
:func:`safe_repr`/:func:`short` never call a ``__repr__`` the user wrote (it may raise or loop), and
cut what they render; :func:`in_space` and :func:`same_value` are fast screens that answer "surely
fine" only where the full check (:func:`value_in_space_problems`, :func:`first_difference`) agrees.

References: https://gymnasium.farama.org/api/spaces/ , ``gymnasium.utils.env_checker``.
"""

from __future__ import annotations

import copy
import hashlib
import math
from typing import Any

import numpy as np
from gymnasium import spaces

from rollcheck.impl.contract_judge import judge_flags, judge_observation, judge_reward
from rollcheck.spec.contract import Contract
from rollcheck.spec.errors import safe_repr

__all__ = ["safe_repr", "snapshot", "fingerprint", "values_equal", "first_difference", "space_problems", "value_in_space_problems", "in_space", "same_value",
           "observation_numeric_problems", "reward_problems", "done_flag_problems", "short", "DIGEST_BYTES"]


def short(value: Any, limit: int = 120) -> str:
    """A one-line rendering of ``value`` for findings (:func:`safe_repr`, at most ``limit`` characters)."""
    text = " ".join(safe_repr(value, limit).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


# ---------------------------------------------------------------------------------------------
# Snapshots and value comparison (aliasing, determinism)
# ---------------------------------------------------------------------------------------------

def snapshot(value: Any) -> Any:
    """A deep copy of ``value`` fast for the common cases (arrays, dicts, lists, tuples, scalars)."""
    if isinstance(value, np.ndarray):
        return value.copy()
    if value is None or isinstance(value, (bool, int, float, str, np.generic)):
        return value
    if isinstance(value, dict):
        return {k: snapshot(v) for k, v in value.items()}
    if isinstance(value, list):
        return [snapshot(v) for v in value]
    if isinstance(value, tuple):
        return tuple(snapshot(v) for v in value)
    try:
        return copy.deepcopy(value)
    except Exception:  # an object that cannot be copied is compared by its (safe) repr
        return ("<uncopyable>", safe_repr(value, 400))


#: arrays up to this many bytes are kept whole in trajectories; larger ones as digests (:func:`fingerprint`)
DIGEST_BYTES = 4096


def fingerprint(value: Any) -> Any:
    """:func:`snapshot`, except that an array over 4 KiB becomes ``("<array digest>", dtype, shape, hash)``:
    equal arrays give equal fingerprints, so trajectories of image observations compare in bounded memory."""
    if isinstance(value, np.ndarray):
        if value.nbytes <= DIGEST_BYTES or value.dtype.kind == "O":
            return value.copy()
        data = np.ascontiguousarray(value)
        if data.dtype.kind in "fc":  # every NaN payload and -0.0/0.0 alike, as array_equal(equal_nan) compares
            data = np.where(np.isnan(data), np.nan, data) + 0.0
        return ("<array digest>", value.dtype.str, value.shape, hashlib.blake2b(data.tobytes(), digest_size=16).hexdigest())
    if isinstance(value, dict):
        return {k: fingerprint(v) for k, v in value.items()}
    if isinstance(value, tuple):
        return tuple(fingerprint(v) for v in value)
    if isinstance(value, list):
        return [fingerprint(v) for v in value]
    return snapshot(value)


def values_equal(a: Any, b: Any) -> bool:
    """``a`` and ``b`` are the same value: same types of container, same dtypes, same entries (NaN == NaN)."""
    return first_difference(a, b) is None


def first_difference(a: Any, b: Any, path: str = "", _depth: int = 0) -> "str | None":
    """Where ``a`` and ``b`` first differ (a path like ``['episode']['r']``), or ``None``.

    Objects whose class keeps ``object``'s identity equality (a snapshot is a copy, never the same
    object) are compared by their attributes; past a nesting depth of 32 values count as equal
    (never a false difference)."""
    if _depth > 32:
        return None
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        if not (isinstance(a, np.ndarray) and isinstance(b, np.ndarray)):
            return f"{path or 'value'}: {type(a).__name__} vs {type(b).__name__}"
        if a.dtype != b.dtype or a.shape != b.shape:
            return f"{path or 'value'}: {a.dtype}{list(a.shape)} vs {b.dtype}{list(b.shape)}"
        same = np.array_equal(a, b, equal_nan=a.dtype.kind in "fc")
        return None if same else f"{path or 'value'}: {short(a)} vs {short(b)}"
    if isinstance(a, dict) and isinstance(b, dict):
        if list(a) != list(b):
            return f"{path or 'value'}: keys {list(a)} vs {list(b)}"
        for k in a:
            d = first_difference(a[k], b[k], f"{path}[{safe_repr(k, 40)}]", _depth + 1)
            if d is not None:
                return d
        return None
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        if type(a) is not type(b) or len(a) != len(b):
            return f"{path or 'value'}: {short(a)} vs {short(b)}"
        for i, (x, y) in enumerate(zip(a, b)):
            d = first_difference(x, y, f"{path}[{i}]", _depth + 1)
            if d is not None:
                return d
        return None
    if type(a) is not type(b):
        return f"{path or 'value'}: {type(a).__name__} {short(a)} vs {type(b).__name__} {short(b)}"
    if isinstance(a, (float, np.floating)) and math.isnan(a) and math.isnan(b):
        return None
    if type(a).__eq__ is object.__eq__ and isinstance(getattr(a, "__dict__", None), dict) \
            and isinstance(getattr(b, "__dict__", None), dict):
        return None if a is b else first_difference(vars(a), vars(b), f"{path}.__dict__", _depth + 1)
    try:
        same = bool(a == b)
    except Exception:
        same = safe_repr(a, 400) == safe_repr(b, 400)
    return None if same else f"{path or 'value'}: {short(a)} vs {short(b)}"


# ---------------------------------------------------------------------------------------------
# Spaces
# ---------------------------------------------------------------------------------------------

def space_problems(space: Any, name: str) -> list[str]:
    """Everything wrong with ``space`` itself (what Gymnasium's constructors would have rejected)."""
    if not isinstance(space, spaces.Space):
        return [f"{name}={short(space)} is not a gymnasium.spaces.Space"]
    out: list[str] = []
    if isinstance(space, spaces.Box):
        low, high = np.asarray(space.low), np.asarray(space.high)
        if low.shape != space.shape or high.shape != space.shape:
            out.append(f"{name}: low{list(low.shape)}/high{list(high.shape)} do not have the space's shape {list(space.shape)}")
        elif np.isnan(low).any() or np.isnan(high).any():
            out.append(f"{name}: a NaN bound (low={short(low)}, high={short(high)})")
        elif (low > high).any():
            i = int(np.argmax((low > high).ravel()))
            out.append(f"{name}: low > high at flat index {i} ({low.ravel()[i]} > {high.ravel()[i]})")
    elif isinstance(space, spaces.Discrete):
        if int(space.n) <= 0:
            out.append(f"{name}: Discrete n={space.n} should be at least one")
    elif isinstance(space, spaces.MultiDiscrete):
        if (np.asarray(space.nvec) <= 0).any():
            out.append(f"{name}: MultiDiscrete nvec={space.nvec} has a non-positive entry")
    elif isinstance(space, spaces.Dict):
        for k, sub in space.spaces.items():
            out += space_problems(sub, f"{name}[{k!r}]")
    elif isinstance(space, spaces.Tuple):
        for i, sub in enumerate(space.spaces):
            out += space_problems(sub, f"{name}[{i}]")
    if not out:
        probe = copy.deepcopy(space)  # never touch the env's own space RNG
        probe.seed(0)
        try:
            sample = probe.sample()
        except Exception as exc:
            return [f"{name}.sample() raised {type(exc).__name__}: {exc}"]
        if not space.contains(sample):
            out.append(f"{name}.sample() returned {short(sample)}, which {name}.contains rejects")
    return out


def value_in_space_problems(space: Any, value: Any, name: str) -> list[str]:
    """Why ``value`` is not an element of ``space`` with exactly its dtype and shape (empty if it is)."""
    if isinstance(space, spaces.Discrete):
        if isinstance(value, bool) or isinstance(value, np.bool_):
            return [f"{name}={short(value)} is a boolean, not an integer of {space}"]
        if isinstance(value, (np.ndarray, np.generic)):
            if value.shape != () or value.dtype != space.dtype:
                return [f"{name}={short(value)} has dtype {value.dtype} shape {list(value.shape)}; "
                        f"{space} expects a Python int or a {space.dtype} scalar"]
        elif not isinstance(value, int):
            return [f"{name}={short(value)} of type {type(value).__name__} is not an integer"]
        v = int(value)
        if not space.start <= v < space.start + space.n:
            return [f"{name}={v} is outside {space}"]
        return []
    if isinstance(space, (spaces.Box, spaces.MultiDiscrete, spaces.MultiBinary)):
        if not isinstance(value, np.ndarray):
            return [f"{name}={short(value)} is a {type(value).__name__}, not a numpy array of {space}"]
        if value.dtype != space.dtype:
            return [f"{name} has dtype {value.dtype}; {space} declares {space.dtype}"]
        if value.shape != space.shape:
            return [f"{name} has shape {list(value.shape)}; {space} declares {list(space.shape)}"]
        if not space.contains(value):
            if isinstance(space, spaces.Box):
                bad = ~((value >= space.low) & (value <= space.high))
                i = int(np.argmax(bad.ravel())) if bad.any() else 0
                return [f"{name}={short(value)} is outside the bounds of {space} "
                        f"(flat index {i}: {value.ravel()[i]} not in [{space.low.ravel()[i]}, {space.high.ravel()[i]}])"]
            return [f"{name}={short(value)} is not in {space}"]
        return []
    if isinstance(space, spaces.Dict):
        if not isinstance(value, dict) or set(value) != set(space.spaces):
            return [f"{name}={short(value)} does not have the keys of {space}"]
        out: list[str] = []
        for k, sub in space.spaces.items():
            out += value_in_space_problems(sub, value[k], f"{name}[{k!r}]")
        return out
    if isinstance(space, spaces.Tuple):
        if not isinstance(value, tuple) or len(value) != len(space.spaces):
            return [f"{name}={short(value)} is not a tuple of length {len(space.spaces)}"]
        out = []
        for i, sub in enumerate(space.spaces):
            out += value_in_space_problems(sub, value[i], f"{name}[{i}]")
        return out
    try:
        ok = space.contains(value)
    except Exception as exc:
        return [f"{name}: {space}.contains raised {type(exc).__name__}: {exc}"]
    return [] if ok else [f"{name}={short(value)} is not in {space}"]


def in_space(space: Any, value: Any) -> "bool | None":
    """``True`` when :func:`value_in_space_problems` would find nothing, decided by a few attribute
    tests and two numpy comparisons (the common Box and Discrete cases); ``None`` when only the full
    check can tell. Never ``True`` for a value the full check rejects."""
    ts = type(space)
    if ts is spaces.Box:
        if type(value) is np.ndarray and value.dtype == space.dtype and value.shape == space.shape:
            return bool((value >= space.low).all() and (value <= space.high).all())
        return None
    if ts is spaces.Discrete:
        if type(value) is int:
            return bool(space.start <= value < space.start + space.n)
        if type(value) is space.dtype.type:  # a scalar of the space's own dtype (what sample() returns)
            return bool(space.start <= int(value) < space.start + space.n)
        return None
    return None


def same_value(a: Any, b: Any) -> bool:
    """``True`` only when :func:`first_difference` would find nothing, decided fast for the common
    values (equal bytes of arrays of one dtype and shape, equal plain scalars, empty dicts, dicts and
    tuples of those); ``False`` means "ask :func:`first_difference`" (it may still find them equal)."""
    ta = type(a)
    if ta is not type(b):
        return False
    if ta is np.ndarray:
        return a.dtype == b.dtype and a.shape == b.shape and a.dtype.kind != "O" and a.tobytes() == b.tobytes()
    if ta is float or ta is int or ta is bool or ta is str or a is None:
        return a == b
    if ta is dict:
        return len(a) == len(b) and list(a) == list(b) and all(same_value(a[k], b[k]) for k in a)
    if ta is tuple:
        return len(a) == len(b) and all(same_value(x, y) for x, y in zip(a, b))
    if isinstance(a, np.generic):
        return a.dtype == b.dtype and a.dtype.kind != "O" and a.tobytes() == b.tobytes()
    return False


# ---------------------------------------------------------------------------------------------
# Numerics (the contract judge on each numeric leaf)
# ---------------------------------------------------------------------------------------------

def _numeric_leaves(value: Any, path: str, out: list) -> None:
    if isinstance(value, np.ndarray):
        if value.dtype.kind in "fiu":
            out.append((path, value))
    elif isinstance(value, (float, int, np.floating, np.integer)) and not isinstance(value, (bool, np.bool_)):
        out.append((path, value))  # a scalar leaf, judged as the spec reads it (a huge Python int included)
    elif isinstance(value, dict):
        for k, v in value.items():
            _numeric_leaves(v, f"{path}[{k!r}]", out)
    elif isinstance(value, (list, tuple)):
        for i, v in enumerate(value):
            _numeric_leaves(v, f"{path}[{i}]", out)


def observation_numeric_problems(contract: Contract, obs: Any, name: str = "observation") -> list[str]:
    """The contract's observation rules (``check_obs_finite``, ``obs_range``) on every numeric leaf of
    ``obs`` (a Dict/Tuple observation has several), judged by the contract judge, as sentences."""
    leaves: list = []
    _numeric_leaves(obs, name, leaves)
    out: list[str] = []
    for path, leaf in leaves:
        out += [f"{v.message} ({v.rule})" for v in judge_observation(contract, leaf, np.shape(leaf), path)]
    return out


def reward_problems(contract: Contract, reward: Any) -> list[str]:
    """The judge's reward verdict (real scalar, finite, in range), as sentences."""
    return [f"{v.message} ({v.rule})" for v in judge_reward(contract, reward)]


def done_flag_problems(contract: Contract, terminated: Any, truncated: Any) -> list[str]:
    """The judge's done-flag verdict (Python or numpy booleans), as sentences."""
    return [f"{v.field}: {v.message} ({v.rule})" for v in judge_flags(contract, terminated, truncated)]
