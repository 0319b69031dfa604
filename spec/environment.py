"""Pure, Gym-style environments with explicit latent state.

Mirrors TorchLean's ``NN.Spec.RL.Environment``: ``StepResult``, ``Env`` (``initialState``,
``observe``, ``step``), ``reset``, ``stepGym``, ``evolveFrom``/``evolve``, ``statesFrom``/
``states``, ``rolloutFrom``/``rollout``, and ``SafeEnv`` with its ``Invariant``, ``ActionOk`` and
``actionPathOk``. Source: lean-dojo/TorchLean ``NN/Spec/RL/Environment.lean`` at
411682f6c3d913e5cdbc27d4546b3ab7ac0e3e9c.

Lean proves ``SafeEnv.evolveFrom_safe`` once; Python cannot, so :func:`check_action_path_safe`
*checks* it along a given path: every visited state satisfies the invariant whenever the path is
action-valid, and reports the first step where it fails.

Invariant enforced: everything here is a pure function of its arguments (no I/O, no globals), so a
spec ``Env`` is the ground truth a checked session is compared against.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Generic, Sequence, TypeVar

from .transition import Transition

__all__ = ["Env", "SafeEnv", "SafePathReport", "StepResult", "check_action_path_safe", "evolve",
           "evolve_from", "reset", "rollout", "rollout_from", "states", "states_from", "step_gym"]

S = TypeVar("S")
A = TypeVar("A")
O = TypeVar("O")


@dataclass(frozen=True)
class StepResult(Generic[S]):
    """Result of one step: next latent state, reward, and Gymnasium's two end flags."""

    state: S
    reward: float
    terminated: bool = False
    truncated: bool = False

    @property
    def done(self) -> bool:
        return self.terminated or self.truncated


@dataclass(frozen=True)
class Env(Generic[S, A, O]):
    """A pure environment: ``initial_state``, ``observe(state)``, ``step(state, action)``."""

    initial_state: S
    observe: Callable[[S], O]
    step: Callable[[S, A], StepResult[S]]


def reset(env: Env) -> tuple[Any, Any]:
    """``(observe(initial_state), initial_state)``."""
    return env.observe(env.initial_state), env.initial_state


def step_gym(env: Env, state: Any, action: Any) -> tuple[Any, float, bool, bool, Any]:
    """``(next_observation, reward, terminated, truncated, next_state)``."""
    out = env.step(state, action)
    return env.observe(out.state), out.reward, out.terminated, out.truncated, out.state


def evolve_from(env: Env, state: Any, actions: Sequence[Any]) -> Any:
    """Final latent state after ``actions`` from ``state``."""
    for a in actions:
        state = env.step(state, a).state
    return state


def evolve(env: Env, actions: Sequence[Any]) -> Any:
    return evolve_from(env, env.initial_state, actions)


def states_from(env: Env, state: Any, actions: Sequence[Any]) -> list[Any]:
    """``[s_0, s_1, ..., s_n]``: the start state and every successor."""
    out = [state]
    for a in actions:
        state = env.step(state, a).state
        out.append(state)
    return out


def states(env: Env, actions: Sequence[Any]) -> list[Any]:
    return states_from(env, env.initial_state, actions)


def rollout_from(env: Env, state: Any, actions: Sequence[int]) -> list[Transition]:
    """Observed transitions along ``actions`` from ``state`` (no reset on ``done``, as in Lean)."""
    out = []
    for a in actions:
        res = env.step(state, a)
        out.append(Transition(observation=env.observe(state), action=a, reward=res.reward,
                              next_observation=env.observe(res.state), terminated=res.terminated,
                              truncated=res.truncated))
        state = res.state
    return out


def rollout(env: Env, actions: Sequence[int]) -> list[Transition]:
    return rollout_from(env, env.initial_state, actions)


@dataclass(frozen=True)
class SafeEnv(Generic[S, A, O]):
    """An environment with a state invariant and an action-validity predicate (Lean ``SafeEnv``)."""

    env: Env[S, A, O]
    invariant: Callable[[S], bool]
    action_ok: Callable[[S, A], bool] = lambda _s, _a: True

    def action_path_ok(self, state: S, actions: Sequence[A]) -> bool:
        """Lean ``SafeEnv.actionPathOk``: every action is admissible where it is taken."""
        for a in actions:
            if not self.action_ok(state, a):
                return False
            state = self.env.step(state, a).state
        return True


@dataclass(frozen=True)
class SafePathReport:
    """Outcome of :func:`check_action_path_safe`. ``failed_at`` is the state index that broke."""

    ok: bool
    path_ok: bool
    failed_at: "int | None" = None
    state: Any = None


def check_action_path_safe(safe: SafeEnv, actions: Sequence[Any], state: Any = None) -> SafePathReport:
    """Check ``evolveFrom_safe`` along one path.

    Starting from ``state`` (default: the initial state), if the start satisfies the invariant and
    the path is action-valid, every visited state must satisfy the invariant. Returns the first
    state index where it does not (``ok=False``); a path that is not action-valid is vacuously
    ``ok`` with ``path_ok=False``.
    """
    start = safe.env.initial_state if state is None else state
    if not safe.invariant(start):
        return SafePathReport(ok=True, path_ok=False, failed_at=None, state=start)
    if not safe.action_path_ok(start, actions):
        return SafePathReport(ok=True, path_ok=False)
    for i, s in enumerate(states_from(safe.env, start, actions)):
        if not safe.invariant(s):
            return SafePathReport(ok=False, path_ok=True, failed_at=i, state=s)
    return SafePathReport(ok=True, path_ok=True)
