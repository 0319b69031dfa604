"""Small deterministic environments whose every value is known in advance (test fixtures).

Not a TorchLean definition: the scripted counter environment that the collector invariants of
``NN.Runtime.RL.PPO.Collect`` are tested against, as a ``gymnasium.Env`` (:class:`CounterEnv`) and
as the equivalent pure ``Spec.RL.Env`` (:func:`counter_spec_env`).

``CounterEnv`` dynamics, with ``t`` the number of steps taken in the current episode:

- ``reset()`` sets ``t = 0``; the observation is ``obs_fn(t)`` broadcast to ``obs_shape`` (float32),
  so with the default ``obs_fn(t) = t`` the observation *is* the step counter;
- ``step(a)`` returns reward ``reward_fn(t, a)`` (default ``t + 0.5 * a``), then ``t += 1``;
  ``terminated = terminate_at is not None and t >= terminate_at``,
  ``truncated = truncate_at is not None and t >= truncate_at`` (both at once when they are equal);
- ``reuse_buffer=True`` returns the *same* numpy array object from every reset and step, mutated
  in place, to prove that sessions copy observations.

Invariant enforced: the environment is a pure function of its step counter (no RNG; ``seed`` is
accepted and ignored), so a rollout is fully predictable from the actions.
``register_toy_envs()`` registers ``"rollcheck/Counter-v0"`` (idempotent); nothing is registered on import.
"""

from __future__ import annotations

from typing import Any, Callable, Iterable

import gymnasium
import numpy as np
from gymnasium import spaces

from rollcheck.spec import Env, ArgumentError, StepResult, as_shape
from rollcheck.spec.arguments import check_count

__all__ = ["COUNTER_ENV_ID", "CounterEnv", "counter_spec_env", "default_reward", "register_toy_envs"]

COUNTER_ENV_ID = "rollcheck/Counter-v0"


def default_reward(t: int, a: int) -> float:
    """``t + 0.5 * a``: the reward of action ``a`` at episode step ``t``."""
    return t + 0.5 * a


def _identity_obs(t: int) -> float:
    return float(t)


def _check_limit(name: str, value: Any) -> "int | None":
    if value is None:
        return None
    return check_count(name, value)


def _check_params(n_actions: Any, terminate_at: Any, truncate_at: Any) -> tuple[int, "int | None", "int | None"]:
    return check_count("n_actions", n_actions), _check_limit("terminate_at", terminate_at), _check_limit("truncate_at", truncate_at)


def _flags(t: int, terminate_at: "int | None", truncate_at: "int | None") -> tuple[bool, bool]:
    return (terminate_at is not None and t >= terminate_at, truncate_at is not None and t >= truncate_at)


class CounterEnv(gymnasium.Env):
    """Observation = ``obs_fn(t)`` (default ``t``), reward = ``reward_fn(t, a)``; see the module docstring."""

    metadata = {"render_modes": []}

    def __init__(self, n_actions: int = 2, obs_shape: Iterable[int] = (1,), terminate_at: "int | None" = None,
                 truncate_at: "int | None" = None, reward_fn: Callable[[int, int], float] = default_reward,
                 obs_fn: Callable[[int], float] = _identity_obs, reuse_buffer: bool = False) -> None:
        self.n_actions, self.terminate_at, self.truncate_at = _check_params(n_actions, terminate_at, truncate_at)
        self.obs_shape = as_shape(obs_shape)
        self.reward_fn = reward_fn
        self.obs_fn = obs_fn
        self.reuse_buffer = bool(reuse_buffer)
        self.action_space = spaces.Discrete(self.n_actions)
        self.observation_space = spaces.Box(-np.inf, np.inf, shape=self.obs_shape.dims, dtype=np.float32)
        self.t = 0
        self.resets = 0
        self._buffer = np.zeros(self.obs_shape.dims, dtype=np.float32)

    def _obs(self) -> np.ndarray:
        if self.reuse_buffer:
            self._buffer[...] = self.obs_fn(self.t)
            return self._buffer
        return np.full(self.obs_shape.dims, self.obs_fn(self.t), dtype=np.float32)

    def reset(self, *, seed: "int | None" = None, options: "dict | None" = None) -> tuple[np.ndarray, dict]:
        super().reset(seed=seed)
        self.t = 0
        self.resets += 1
        return self._obs(), {}

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict]:
        if not self.action_space.contains(action):
            raise ArgumentError(f"action={action!r} is not in {self.action_space!r}")
        reward = self.reward_fn(self.t, int(action))
        self.t += 1
        terminated, truncated = _flags(self.t, self.terminate_at, self.truncate_at)
        return self._obs(), reward, terminated, truncated, {}


def counter_spec_env(n_actions: int = 2, obs_shape: Iterable[int] = (1,), terminate_at: "int | None" = None,
                     truncate_at: "int | None" = None, reward_fn: Callable[[int, int], float] = default_reward,
                     obs_fn: Callable[[int], float] = _identity_obs) -> Env:
    """The pure ``Spec.RL.Env`` with :class:`CounterEnv`'s dynamics (latent state = ``t``)."""
    _n, terminate_at, truncate_at = _check_params(n_actions, terminate_at, truncate_at)
    dims = as_shape(obs_shape).dims

    def observe(t: int) -> np.ndarray:
        return np.full(dims, obs_fn(t), dtype=np.float32)

    def step(t: int, a: int) -> StepResult:
        terminated, truncated = _flags(t + 1, terminate_at, truncate_at)
        return StepResult(state=t + 1, reward=reward_fn(t, a), terminated=terminated, truncated=truncated)

    return Env(initial_state=0, observe=observe, step=step)


def register_toy_envs() -> None:
    """Register ``"rollcheck/Counter-v0"`` with Gymnasium (idempotent; kwargs go to ``CounterEnv``)."""
    if COUNTER_ENV_ID not in gymnasium.registry:
        gymnasium.register(id=COUNTER_ENV_ID, entry_point="rollcheck.impl.toy_envs:CounterEnv")
