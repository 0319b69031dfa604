"""Record what a Gymnasium vector environment really did, step by step (the ground truth for buffers).

Mirrors the observation side of TorchLean's ``Gymnasium.Session`` (``reset``/``step`` returning
``(obs, reward, terminated, truncated)``) for ``N`` sub-environments: :class:`RecordingVecEnv`
wraps a ``gymnasium.vector.VectorEnv`` and keeps, for every ``step``, copies of

- ``obs (N, *obs)``: the observation presented before the step (what a policy should have seen);
- ``actions (N,)``, ``rewards (N,)``, ``terminated (N,)``, ``truncated (N,)``: what the env got and said;
- ``next_obs (N, *obs)``: the *true* next observation, before any auto-reset: with
  ``AutoresetMode.SAME_STEP`` the env returns the reset observation and this is ``info["final_obs"]``
  (taken by :func:`rollcheck.impl.vector_autoreset.true_next_observations`, the vector collector's
  own helper); with ``NEXT_STEP`` (Gymnasium's default) the env returns the final observation itself;
- ``autoreset_step (N,)``: with ``NEXT_STEP``, the step after a done only resets that sub-env (the
  action is ignored, reward 0): such steps are marked so checks can tell them from transitions.

:meth:`RecordingVecEnv.trace` stacks the steps into a frozen :class:`VecTrace` with ``(T, N, ...)``
arrays, the ``trace=`` argument of :func:`rollcheck.properties.rollout.arrays.validate_arrays`.
Copies are taken at once, so an env that reuses its buffers cannot rewrite history.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from rollcheck.impl.vector_autoreset import true_next_observations
from rollcheck.impl.vector_rollout import TimeByEnvArrays
from rollcheck.spec.errors import ArgumentError

__all__ = ["RecordingVecEnv", "VecTrace"]


@dataclass(frozen=True, eq=False)
class VecTrace(TimeByEnvArrays):
    """The env's own record of ``T`` steps of ``N`` sub-environments (read-only arrays);
    ``horizon`` is ``T`` and ``num_envs`` is ``N``."""

    obs: np.ndarray
    actions: np.ndarray
    rewards: np.ndarray
    terminated: np.ndarray
    truncated: np.ndarray
    next_obs: np.ndarray
    autoreset_step: np.ndarray

    def __post_init__(self) -> None:
        shape = np.shape(self.actions)
        if len(shape) != 2:
            raise ArgumentError(f"VecTrace.actions has shape {list(shape)}; expected (T, N)")
        for name in ("obs", "actions", "rewards", "terminated", "truncated", "next_obs", "autoreset_step"):
            arr = np.array(getattr(self, name), copy=True)
            if arr.shape[:2] != shape:
                raise ArgumentError(f"VecTrace.{name} has shape {list(arr.shape)}; "
                                      f"expected (T, N)={list(shape)} first")
            if name in ("terminated", "truncated", "autoreset_step"):
                arr = arr.astype(bool)
            arr.setflags(write=False)
            object.__setattr__(self, name, arr)
        if self.obs.shape != self.next_obs.shape:
            raise ArgumentError(f"VecTrace.next_obs has shape {list(self.next_obs.shape)} "
                                  f"but obs has {list(self.obs.shape)}")


def _vector_wrapper_base() -> type:
    import gymnasium

    return gymnasium.vector.VectorWrapper


class RecordingVecEnv(_vector_wrapper_base()):  # type: ignore[misc]
    """A ``gymnasium.vector.VectorWrapper`` that records every step (see the module docstring)."""

    def __init__(self, env: Any) -> None:
        super().__init__(env)
        mode = getattr(env, "metadata", {}).get("autoreset_mode")
        self._same_step = getattr(mode, "name", str(mode)) == "SAME_STEP"
        self._last_obs: "np.ndarray | None" = None
        self._prev_done = np.zeros(self.num_envs, bool)
        self._steps: list[tuple[np.ndarray, ...]] = []

    def reset(self, *, seed: Any = None, options: Any = None):
        obs, info = self.env.reset(seed=seed, options=options)
        self._last_obs = np.array(obs, copy=True)
        self._prev_done = np.zeros(self.num_envs, bool)
        return obs, info

    def step(self, actions: Any):
        if self._last_obs is None:
            raise ArgumentError("RecordingVecEnv.step called before reset")
        obs, rewards, terminated, truncated, info = self.env.step(actions)
        if self._same_step and "final_obs" in info:
            ended = info.get("_final_obs", np.zeros(self.num_envs, bool))
            true_next = true_next_observations(obs, info, ended)[0]   # a copy, final_obs in the ended rows
        else:
            true_next = np.array(obs, copy=True)
        reset_step = np.zeros(self.num_envs, bool) if self._same_step else self._prev_done.copy()
        self._steps.append((self._last_obs, np.array(actions, copy=True), np.array(rewards, copy=True),
                            np.array(terminated, bool), np.array(truncated, bool), true_next, reset_step))
        self._last_obs = np.array(obs, copy=True)
        self._prev_done = np.asarray(terminated, bool) | np.asarray(truncated, bool)
        return obs, rewards, terminated, truncated, info

    def clear(self) -> None:
        """Forget the steps recorded so far (keeps the current observation)."""
        self._steps = []

    def trace(self, start: int = 0, stop: "int | None" = None) -> VecTrace:
        """Steps ``start:stop`` recorded since the last :meth:`clear` as a :class:`VecTrace`."""
        steps = self._steps[start:stop]
        if not steps:
            raise ArgumentError(f"no recorded steps in [{start}:{stop}] (recorded: {len(self._steps)})")
        cols = [np.stack(c) for c in zip(*steps)]
        return VecTrace(*cols)
