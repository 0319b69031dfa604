"""The ``(T, N)`` rollout of a vector collection, and the contract violation located by sub-env.

Mirrors TorchLean's ``NN.Runtime.RL.PPO.Rollout`` (``Rollout.steps`` with
``steps_size_eq_horizon``, each ``Step`` holding ``state, action, oldLogProb, reward, done,
value, nextValue, terminated``) for ``N`` sub-environments side by side: :class:`VectorRollout`
stores one array per ``Step`` field, ``states (T, N, *obs_shape)`` and the other columns ``(T, N)``,
and column ``i`` *is* sub-env ``i``'s spec :class:`~rollcheck.spec.Rollout`
(:meth:`VectorRollout.env_rollout`). :class:`VectorContractViolation` is
``Boundary.Core``'s ``ContractViolation`` with the sub-env of each violation attached. Both are
produced by :func:`rollcheck.impl.vector_collect.collect_rollout_vector_with`.

Invariants enforced by the constructor (as ``Rollout``/``Step`` would; each error names the column
and the value): ``T, N > 0``; every column ``(T, N)``; ``actions`` integers in ``[0, n_actions)``
(``Fin n_actions``); ``dones``/``terminated`` boolean with ``terminated → done``; a positive
``n_actions`` if given. Columns are stored as read-only copies (``actions`` int64, floats
float64, ``states`` keeping its real dtype), so a caller's later writes cannot change a rollout.
:meth:`VectorRollout.advantages` is :func:`rollcheck.impl.fast_gae.generalized_advantage_estimation_batch`,
column ``i`` bit-equal to the spec's GAE of ``env_rollout(i)``.

References: TorchLean ``NN/Runtime/RL/PPO/Rollout.lean``; :mod:`rollcheck.spec.rollout`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from rollcheck.spec import ContractViolation, ArgumentError, Rollout, Shape, Violation, steps_from_columns

from .fast_gae import generalized_advantage_estimation_batch
from rollcheck.spec.arguments import check_count, check_index

__all__ = ["TimeByEnvArrays", "VectorContractViolation", "VectorRollout"]


class VectorContractViolation(ContractViolation):
    """Violations from sub-envs: ``env_indices[k]`` is the sub-env of ``violations[k]``, whose
    ``index`` is the transition index within that sub-env's rollout (``None`` for a reset)."""

    def __init__(self, violations: Sequence[Violation], env_indices: Sequence[int]) -> None:
        super().__init__(violations)
        self.env_indices: tuple[int, ...] = tuple(int(i) for i in env_indices)
        if len(self.env_indices) != len(self.violations):
            raise ArgumentError("VectorContractViolation: one env index per violation is required")
        self.args = ("; ".join(f"sub-env {e}, {v}" for e, v in zip(self.env_indices, self.violations)),)

    def for_env(self, i: int) -> tuple[Violation, ...]:
        """The violations of sub-env ``i``."""
        return tuple(v for e, v in zip(self.env_indices, self.violations) if e == i)


class TimeByEnvArrays:
    """Base of the records of ``T`` steps of ``N`` sub-envs whose ``actions`` array is ``(T, N)``:
    :class:`VectorRollout` here, :class:`rollcheck.properties.rollout.recording.VecTrace` for the env's side."""

    @property
    def horizon(self) -> int:
        """``T``, the number of steps."""
        return int(self.actions.shape[0])  # type: ignore[attr-defined]

    @property
    def num_envs(self) -> int:
        """``N``, the number of sub-environments."""
        return int(self.actions.shape[1])  # type: ignore[attr-defined]


_COLUMNS = ("actions", "old_log_prob", "rewards", "dones", "terminated", "values", "next_values")


@dataclass(frozen=True, eq=False)
class VectorRollout(TimeByEnvArrays):
    """``horizon`` steps of ``N`` sub-envs: ``states (T, N, *obs_shape)``, the other columns ``(T, N)``.

    Stores read-only copies; ``actions`` int64 in ``[0, n_actions)``, flags bool with
    ``terminated → dones``, floats float64. Column ``i`` is sub-env ``i``'s ``Rollout``
    (:meth:`env_rollout`).
    """

    states: np.ndarray
    actions: np.ndarray
    old_log_prob: np.ndarray
    rewards: np.ndarray
    dones: np.ndarray
    terminated: np.ndarray
    values: np.ndarray
    next_values: np.ndarray
    n_actions: "int | None" = None

    def __post_init__(self) -> None:
        states = np.array(self.states, copy=True)
        if states.dtype.kind not in "fiu" or states.ndim < 2 or 0 in states.shape[:2]:
            raise ArgumentError(f"VectorRollout.states has shape {list(states.shape)} and dtype "
                                  f"{states.dtype}; a real (T, N, *obs_shape) array with T, N > 0 is required")
        tn = states.shape[:2]
        kinds = {"actions": "iu", "dones": "b", "terminated": "b"}
        cols = {"states": states}
        for name in _COLUMNS:
            col = np.array(getattr(self, name), copy=True)
            if col.shape != tn:
                raise ArgumentError(f"VectorRollout.{name} has shape {list(col.shape)}; expected {list(tn)}")
            if col.dtype.kind not in kinds.get(name, "fiu"):
                raise ArgumentError(f"VectorRollout.{name} has dtype {col.dtype}")
            if name == "actions":
                col = col.astype(np.int64)
            elif name not in kinds:
                col = col.astype(np.float64)
            cols[name] = col
        n_actions = self.n_actions
        if n_actions is not None:
            n_actions = check_count("VectorRollout.n_actions", n_actions)
            object.__setattr__(self, "n_actions", n_actions)
        acts = cols["actions"]
        out_of_range = (acts < 0) if n_actions is None else (acts < 0) | (acts >= n_actions)
        if out_of_range.any():
            t, i = np.argwhere(out_of_range)[0]
            raise ArgumentError(f"VectorRollout.actions[{t}, {i}]={acts[t, i]} is out of range "
                                  f"(n_actions={n_actions})")
        bad = cols["terminated"] & ~cols["dones"]
        if bad.any():
            t, i = np.argwhere(bad)[0]
            raise ArgumentError(f"VectorRollout.terminated[{t}, {i}]=True but dones[{t}, {i}]=False")
        for name, col in cols.items():
            col.setflags(write=False)
            object.__setattr__(self, name, col)

    def env_rollout(self, i: int) -> Rollout:
        """Sub-env ``i``'s rollout as a spec ``Rollout`` (comparable with the reference collector's)."""
        i = check_index("i", i, self.num_envs)
        steps = steps_from_columns(self.states[:, i], self.actions[:, i].tolist(), self.old_log_prob[:, i].tolist(),
                                   self.rewards[:, i].tolist(), self.dones[:, i].tolist(),
                                   self.values[:, i].tolist(), self.next_values[:, i].tolist(),
                                   self.terminated[:, i].tolist())
        return Rollout(steps=steps, horizon=self.horizon, n_actions=self.n_actions,
                       obs_shape=Shape(tuple(self.states.shape[2:])))

    def advantages(self, gamma: float, lam: float) -> np.ndarray:
        """GAE ``(T, N)``, column ``i`` bit-equal to the spec's GAE of :meth:`env_rollout` ``(i)``."""
        return generalized_advantage_estimation_batch(gamma, lam, self.rewards, self.values, self.next_values,
                                                      self.dones, self.terminated)
