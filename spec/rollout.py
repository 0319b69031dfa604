"""PPO step records and fixed-horizon rollouts.

Mirrors TorchLean's ``NN.Runtime.RL.PPO.Rollout``: ``PPO.Step`` (``state, action, oldLogProb,
reward, done, value, nextValue, terminated``) and ``PPO.Rollout`` with its invariant
``steps_size_eq_horizon : steps.size = horizon``. Source: lean-dojo/TorchLean ``NN/Runtime/RL/PPO/Rollout.lean``
at 4ec1f62bf8308e2dc7f4d73e64205e66270ccfd1, with ``terminated`` as ``Collect.lean`` records it at
0f845313599795032960d487708c309e1fb2f40e.

Invariants enforced by the constructors:
- ``Step.state`` is a read-only *copy* (no aliasing with an environment's buffers);
- ``Step.action`` is a non-negative ``int`` (``Fin n_actions`` when the rollout knows ``n_actions``)
  or, for continuous actions (rollcheck's extension of TorchLean, :mod:`rollcheck.spec.box`), a
  read-only float64 array: the policy's *sample* (unclipped, or ``tanh(u)`` when squashed), the
  value ``old_log_prob`` is the log-probability of; the rollout checks its shape against
  ``action_space`` when given;
- ``Step.terminated`` implies ``Step.done`` (``done = terminated || truncated``);
- ``Rollout`` has ``horizon > 0`` (``NeZero horizon``) and exactly ``horizon`` steps; when given
  ``n_actions``/``obs_shape`` every step's action is in range and every state has that shape.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable

import numpy as np

from .arguments import check_bool, check_count, check_real
from .errors import ArgumentError
from .box import Box
from .shape import Shape, as_shape
from .transition import _same_float, as_action, is_own_frozen, same_action

__all__ = ["Rollout", "Step"]


@dataclass(frozen=True, eq=False, init=False)
class Step:
    """One PPO step: ``s_t, a_t, log π_old(a_t|s_t), r_t, done_t, V(s_t), V(s_{t+1}), terminated_t``.

    ``next_value`` is the critic at the next observation *before* any auto-reset.
    """

    state: Any
    action: "int | np.ndarray"
    old_log_prob: float
    reward: float
    done: bool
    value: float
    next_value: float
    terminated: bool

    def __init__(self, state: Any, action: Any, old_log_prob: Any, reward: Any, done: Any, value: Any,
                 next_value: Any, terminated: Any) -> None:
        # Each field is checked once and stored once.
        if not is_own_frozen(state, None):  # an owned read-only real array is already a value
            state = np.array(state, copy=True)
            if state.dtype.kind not in "fiu":
                raise ArgumentError(f"Step.state has dtype {state.dtype}; a real tensor is required")
            state.setflags(write=False)
        if not (done is True or done is False):
            done = check_bool("Step.done", done)
        if not (terminated is True or terminated is False):
            terminated = check_bool("Step.terminated", terminated)
        if terminated and not done:
            raise ArgumentError("Step.terminated=True but Step.done=False (done = terminated or truncated)")
        # The frozen dataclass's fields, set in one update (what object.__setattr__ per field would do);
        # a Python float is a real as it stands (check_real's own first test, without the call).
        self.__dict__.update(
            state=state, action=action if type(action) is int and action >= 0 else as_action(action, "Step.action"),
            old_log_prob=old_log_prob if type(old_log_prob) is float else check_real("Step.old_log_prob", old_log_prob),
            reward=reward if type(reward) is float else check_real("Step.reward", reward), done=done,
            value=value if type(value) is float else check_real("Step.value", value),
            next_value=next_value if type(next_value) is float else check_real("Step.next_value", next_value),
            terminated=terminated)

    @property
    def truncated_only(self) -> bool:
        """``done`` without ``terminated``: the episode was cut (time limit), not ended."""
        return self.done and not self.terminated

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Step):
            return NotImplemented
        return (same_action(self.action, other.action) and self.done == other.done
                and self.terminated == other.terminated
                and all(_same_float(getattr(self, n), getattr(other, n))
                        for n in ("old_log_prob", "reward", "value", "next_value"))
                and self.state.shape == other.state.shape
                and np.array_equal(self.state, other.state, equal_nan=True))

    __hash__ = None  # type: ignore[assignment]


@dataclass(frozen=True, eq=False)
class Rollout:
    """Exactly ``horizon`` steps (Lean ``steps_size_eq_horizon``).

    Build it by keyword: ``Rollout(steps=..., horizon=...)``; optionally ``n_actions=`` (discrete)
    or ``action_space=`` (a :class:`~rollcheck.spec.box.Box`: continuous) and ``obs_shape=`` to
    have every step checked against them too.
    """

    steps: tuple[Step, ...]
    horizon: int
    n_actions: "int | None" = None
    obs_shape: "Shape | None" = None
    action_space: "Box | None" = None

    def __post_init__(self) -> None:
        horizon = self.horizon
        horizon = check_count("Rollout.horizon", horizon)
        steps = tuple(self.steps)
        for i, st in enumerate(steps):
            if not isinstance(st, Step):
                raise ArgumentError(f"Rollout.steps[{i}]={st!r:.60} is not a Step")
        if len(steps) != horizon:
            raise ArgumentError(
                f"Rollout.steps has {len(steps)} steps but horizon={horizon} (steps_size_eq_horizon)")
        object.__setattr__(self, "steps", steps)
        object.__setattr__(self, "horizon", int(horizon))
        if self.n_actions is not None:
            n = check_count("Rollout.n_actions", self.n_actions)
            object.__setattr__(self, "n_actions", n)
            for i, st in enumerate(steps):
                if isinstance(st.action, np.ndarray):
                    raise ArgumentError(f"Rollout.steps[{i}].action is a continuous action but n_actions={n}")
                if st.action >= n:
                    raise ArgumentError(
                        f"Rollout.steps[{i}].action={st.action} is out of range (n_actions={n})")
        if self.action_space is not None:
            space = self.action_space
            if not isinstance(space, Box):
                raise ArgumentError(f"Rollout.action_space={space!r:.80} should be a rollcheck.spec.Box")
            if self.n_actions is not None:
                raise ArgumentError("Rollout: give n_actions (discrete) or action_space (a Box), not both")
            for i, st in enumerate(steps):
                if not isinstance(st.action, np.ndarray) or st.action.shape != space.shape.dims:
                    raise ArgumentError(f"Rollout.steps[{i}].action={st.action!r:.60} is not a tensor of the "
                                        f"action space's shape {space.shape.pretty()}")
        if self.obs_shape is not None:
            shape = as_shape(self.obs_shape)
            object.__setattr__(self, "obs_shape", shape)
            for i, st in enumerate(steps):
                if st.state.shape != shape.dims:
                    raise ArgumentError(
                        f"Rollout.steps[{i}].state has shape {list(st.state.shape)}, expected {shape.pretty()}")

    def __len__(self) -> int:
        return self.horizon

    def __iter__(self):
        return iter(self.steps)

    def __getitem__(self, t: int) -> Step:
        return self.steps[t]

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Rollout):
            return NotImplemented
        return self.horizon == other.horizon and all(a == b for a, b in zip(self.steps, other.steps))

    __hash__ = None  # type: ignore[assignment]

    # Column views (pure Python lists), in step order.
    @property
    def actions(self) -> "list[int] | list[np.ndarray]":
        return [s.action for s in self.steps]

    @property
    def rewards(self) -> list[float]:
        return [s.reward for s in self.steps]

    @property
    def values(self) -> list[float]:
        return [s.value for s in self.steps]

    @property
    def next_values(self) -> list[float]:
        return [s.next_value for s in self.steps]

    @property
    def dones(self) -> list[bool]:
        return [s.done for s in self.steps]

    @property
    def terminateds(self) -> list[bool]:
        return [s.terminated for s in self.steps]

    @property
    def old_log_probs(self) -> list[float]:
        return [s.old_log_prob for s in self.steps]


def steps_from_columns(states: Iterable[Any], actions: Iterable[int], old_log_probs: Iterable[float],
                       rewards: Iterable[float], dones: Iterable[bool], values: Iterable[float],
                       next_values: Iterable[float], terminated: Iterable[bool]) -> tuple[Step, ...]:
    """Zip parallel columns into ``Step`` records (each column must have the same length)."""
    cols = [list(c) for c in (states, actions, old_log_probs, rewards, dones, values, next_values, terminated)]
    lengths = {len(c) for c in cols}
    if len(lengths) != 1:
        raise ArgumentError(f"steps_from_columns: columns have different lengths {[len(c) for c in cols]}")
    return tuple(Step(state=s, action=a, old_log_prob=lp, reward=r, done=d, value=v, next_value=nv, terminated=te)
                 for s, a, lp, r, d, v, nv, te in zip(*cols))
