"""Vectorised contract checks over batches of transitions (the numpy fast path).

Mirrors TorchLean's ``NN.Runtime.RL.Boundary.Core`` checkers (``checkAction``, ``checkDoneFlags``,
``checkReward``, ``checkObservation``, ``checkTransitionFin``) applied to a whole batch at once:
the arrays ``obs (N, *obs_shape)``, ``next_obs (N, *obs_shape)``, ``actions (N,)``,
``rewards (N,)``, ``terminated (N,)`` and ``truncated (N,)`` hold ``N`` transitions, row ``i``
being transition ``i``.

Invariant enforced (and tested with Hypothesis against the oracle): for every row ``i``,

    [v for v in batch_transition_violations(...) if v.index == i]
      == [v.at(i) for v in rollcheck.spec.transition_violations(contract, obs[i], next_obs[i],
                                                                   actions[i], rewards[i],
                                                                   terminated[i], truncated[i], ...)]

i.e. the same violations, the same words, the same order, for *every* bad row. How: numpy masks
find the rows that may be bad (a superset: a column whose dtype the spec would refuse marks every
row), then the pure-Python spec checker runs on those rows only to produce the exact messages.
On a clean batch the spec never runs, so a million CartPole transitions take milliseconds.

Which numpy scalars the spec accepts (so the masks match it):
- action: integer dtypes (range ``0 <= a < n_actions``) and float dtypes when integral (``2.0``, as
  JSON's ``parseNatStrict``); every other dtype (``bool``, strings, ...) is refused row by row;
- flags: only ``bool`` dtype; ``require_exclusive_done_flags`` rejects ``te & tr``;
- reward: real dtypes (``f``, ``i``, ``u``) converted to float64 before the finite and range tests;
  ``bool`` is refused;
- observations: real dtypes, compared as float64 (numpy 2 would otherwise compare ``float32``
  data against a float32-rounded bound; a ``longdouble`` beyond float64 is ``inf`` to the spec),
  row shape must equal ``obs_shape``.

Continuous actions (a :class:`~rollcheck.spec.box.Box` as ``action_space=``, rollcheck's extension of
TorchLean): ``actions`` is ``(N, *box.shape)``; rows of a real dtype are compared as float64 against
the Box's bounds and tested finite (:func:`box_action_bad_mask`); any other dtype or row shape marks
every row, and the spec's ``box_action_violations`` words each bad row.

References: ``rollcheck.spec.contract`` (the oracle); NumPy NEP 50 (scalar promotion).
"""

from __future__ import annotations

from typing import Any, Iterable

import numpy as np

from rollcheck.spec.box import Box
from rollcheck.spec.contract import Contract, resolve_action_space, transition_violations
from rollcheck.spec.errors import ArgumentError, Violation
from rollcheck.spec.shape import Shape, as_shape

__all__ = ["action_bad_mask", "action_space_bad_mask", "box_action_bad_mask", "batch_bad_mask", "batch_transition_violations", "done_flags_bad_mask",
           "observation_bad_mask", "reward_bad_mask", "validate_batch_arguments"]

_REAL = ("f", "i", "u")


def _n_actions(n_actions: Any) -> int:
    if isinstance(n_actions, bool) or not isinstance(n_actions, (int, np.integer)) or n_actions <= 0:
        raise ArgumentError(f"n_actions={n_actions!r} should be a positive int (NeZero nActions)")
    return int(n_actions)


def action_bad_mask(n_actions: int, actions: np.ndarray) -> np.ndarray:
    """Rows whose action the spec's ``action_violations`` refuses (exactly those rows)."""
    n = _n_actions(n_actions)
    a = np.asarray(actions)
    kind = a.dtype.kind
    if kind in ("i", "u"):
        return (a < 0) | (a >= n)
    if kind == "f":
        a64 = a.astype(np.float64, copy=False)
        with np.errstate(invalid="ignore"):
            integral = np.isfinite(a64) & (np.floor(a64) == a64)
            return ~integral | (a64 < 0) | (a64 >= n)
    return np.ones(a.shape, dtype=bool)  # refused dtype (or object: let the spec decide per row)


def box_action_bad_mask(space: Box, actions: np.ndarray) -> np.ndarray:
    """Rows ``actions[i]`` that the spec's ``box_action_violations`` refuses (dtype, shape, finite, bounds)."""
    a = np.asarray(actions)
    n = a.shape[0]
    if a.dtype.kind not in _REAL or tuple(a.shape[1:]) != space.shape.dims:
        return np.ones(n, dtype=bool)
    with np.errstate(over="ignore", under="ignore"):
        flat = a.reshape(n, space.size).astype(np.float64, copy=False)
    bad = ~np.isfinite(flat).all(axis=1)
    if space.low is not None:
        bad |= ~(flat >= np.asarray(space.low)).all(axis=1)
    if space.high is not None:
        bad |= ~(flat <= np.asarray(space.high)).all(axis=1)
    return bad


def action_space_bad_mask(space: "int | Box", actions: np.ndarray) -> np.ndarray:
    """:func:`action_bad_mask` for ``Fin n`` (an int) or :func:`box_action_bad_mask` for a ``Box``."""
    if isinstance(space, Box):
        return box_action_bad_mask(space, actions)
    return action_bad_mask(space, actions)


def done_flags_bad_mask(contract: Contract, terminated: np.ndarray, truncated: np.ndarray) -> np.ndarray:
    """Rows whose flags the spec's ``done_flags_violations`` refuses."""
    te, tr = np.asarray(terminated), np.asarray(truncated)
    if te.dtype != np.bool_ or tr.dtype != np.bool_:
        return np.ones(te.shape, dtype=bool)
    if contract.require_exclusive_done_flags:
        return te & tr
    return np.zeros(te.shape, dtype=bool)


def reward_bad_mask(contract: Contract, rewards: np.ndarray) -> np.ndarray:
    """Rows whose reward the spec's ``reward_violations`` refuses."""
    r = np.asarray(rewards)
    if r.dtype.kind not in _REAL:
        return np.ones(r.shape, dtype=bool)
    bad = np.zeros(r.shape, dtype=bool)
    with np.errstate(over="ignore"):  # longdouble beyond float64 becomes ±inf, as float() makes it
        r64 = r.astype(np.float64, copy=False)
    if r.dtype.kind == "f" and contract.check_reward_finite:
        bad |= ~np.isfinite(r64)  # judged after the float64 conversion (the spec's float(reward))
    if contract.reward_range is not None:
        lo, hi = contract.reward_range
        bad |= ~((r64 >= lo) & (r64 <= hi))  # NaN lies in no interval
    return bad


def observation_bad_mask(contract: Contract, obs: np.ndarray, obs_shape: "Shape | Iterable[int]") -> np.ndarray:
    """Rows ``obs[i]`` that the spec's ``observation_violations`` refuses (dtype, shape or contract)."""
    shape = as_shape(obs_shape)
    o = np.asarray(obs)
    n = o.shape[0]
    if o.dtype.kind not in _REAL or tuple(o.shape[1:]) != shape.dims:
        return np.ones(n, dtype=bool)
    flat = o.reshape(n, shape.size)
    bad = np.zeros(n, dtype=bool)
    if shape.size == 0:
        return bad
    if o.dtype.itemsize > 8 and o.dtype.kind == "f":  # longdouble: judge the float64 values the spec sees
        with np.errstate(over="ignore", under="ignore"):
            flat = flat.astype(np.float64)
    if contract.check_obs_finite and o.dtype.kind == "f":
        finite = np.isfinite(flat)
        if not finite.all():
            bad |= ~finite.all(axis=1)
    if contract.obs_range is not None:
        lo, hi = contract.obs_range
        f64 = flat.astype(np.float64, copy=False)
        inside = (f64 >= lo) & (f64 <= hi)
        if not inside.all():
            bad |= ~inside.all(axis=1)
    return bad


def validate_batch_arguments(obs: Any, next_obs: Any, actions: Any, rewards: Any, terminated: Any,
                             truncated: Any, *, continuous: bool = False) -> tuple[np.ndarray, ...]:
    """The six columns as arrays with one common leading length ``N`` (or ``ArgumentError``);
    ``continuous`` lets ``actions`` have trailing (Box) dimensions."""
    cols = {"obs": obs, "next_obs": next_obs, "actions": actions, "rewards": rewards,
            "terminated": terminated, "truncated": truncated}
    arrays = {}
    for name, value in cols.items():
        arr = np.asarray(value)
        if arr.ndim == 0:
            raise ArgumentError(f"{name} is a 0-d array; a batch needs a leading dimension N")
        if name not in ("obs", "next_obs") and arr.ndim != 1 and not (continuous and name == "actions"):
            raise ArgumentError(f"{name} has shape {list(arr.shape)}; expected (N,)")
        arrays[name] = arr
    lengths = {name: arr.shape[0] for name, arr in arrays.items()}
    if len(set(lengths.values())) > 1:
        raise ArgumentError(f"batch columns have different lengths: {lengths}")
    return tuple(arrays.values())


def _space(n_actions: Any, action_space: Any) -> "int | Box":
    space = resolve_action_space(n_actions, action_space)
    return space if isinstance(space, Box) else _n_actions(space)


def batch_bad_mask(contract: Contract, obs: Any, next_obs: Any, actions: Any, rewards: Any,
                   terminated: Any, truncated: Any, *, obs_shape: "Shape | Iterable[int]",
                   n_actions: "int | None" = None, action_space: "int | Box | None" = None) -> np.ndarray:
    """Boolean ``(N,)`` mask of rows that *may* violate the contract (a superset of the bad rows;
    equal to it except for columns of a dtype the spec refuses or object arrays).

    The action space is ``n_actions`` (``Fin n``) or ``action_space`` (an int or a ``Box``)."""
    if not isinstance(contract, Contract):
        raise ArgumentError(f"contract={contract!r:.80} should be a rollcheck.spec.Contract")
    space = _space(n_actions, action_space)
    o, no, a, r, te, tr = validate_batch_arguments(obs, next_obs, actions, rewards, terminated, truncated,
                                                   continuous=isinstance(space, Box))
    shape = as_shape(obs_shape)
    return (action_space_bad_mask(space, a) | done_flags_bad_mask(contract, te, tr)
            | reward_bad_mask(contract, r) | observation_bad_mask(contract, o, shape)
            | observation_bad_mask(contract, no, shape))


def batch_transition_violations(contract: Contract, obs: Any, next_obs: Any, actions: Any, rewards: Any,
                                terminated: Any, truncated: Any, *, obs_shape: "Shape | Iterable[int]",
                                n_actions: "int | None" = None, action_space: "int | Box | None" = None,
                                indices: "np.ndarray | None" = None) -> list[Violation]:
    """Every violation of every row, each with ``.index`` set, in row order then Lean's check order.

    ``indices`` (optional, ``(N,)`` ints) relabels row ``i`` as transition ``indices[i]`` (used when
    the batch is a subset of a larger file). The action space is ``n_actions`` or ``action_space``.
    """
    space = _space(n_actions, action_space)
    o, no, a, r, te, tr = validate_batch_arguments(obs, next_obs, actions, rewards, terminated, truncated,
                                                   continuous=isinstance(space, Box))
    shape = as_shape(obs_shape)
    bad = batch_bad_mask(contract, o, no, a, r, te, tr, obs_shape=shape, action_space=space)
    out: list[Violation] = []
    for i in np.flatnonzero(bad).tolist():
        label = i if indices is None else int(indices[i])
        for v in transition_violations(contract, o[i], no[i], a[i], r[i], te[i], tr[i],
                                       obs_shape=shape, action_space=space):
            out.append(v.at(label))
    return out
