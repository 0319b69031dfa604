"""The trust-boundary contract for external transitions (discrete ``Fin n`` or continuous ``Box`` actions).

Mirrors TorchLean's ``NN.Runtime.RL.Boundary.Core``: ``isFiniteFloat``, ``tensorFinite``,
``tensorInClosedInterval``, ``Contract``, ``checkAction``, ``checkObservation``, ``checkReward``,
``checkDoneFlags``, ``checkTransitionFin``, ``checkTransition`` and the Prop-level predicates
``ObservationHolds``, ``RewardHolds``, ``DoneFlagsHolds``, ``ContractHolds``.

Two halves, side by side, as in the Lean file:

- *Checkers* (``check_*``) are executable: they return the validated value or raise
  :class:`~rollcheck.spec.errors.ContractViolation` carrying **every** violation found.
- *Predicates* (``*_holds``) restate the contract as plain boolean formulas, written
  independently of the checkers, so tests can prove both directions of Lean's
  ``contractHolds_of_checkTransitionFin_eq_ok``: the checker accepts exactly when the contract holds.

The action rule takes an *action space*: ``Fin n_actions`` (TorchLean's only kind, an ``int``) or a
:class:`~rollcheck.spec.box.Box` (continuous actions: rollcheck's extension of TorchLean, see
:mod:`rollcheck.spec.box`). :func:`action_space_violations` is the one place that dispatches on it;
the transition checkers take ``n_actions=`` (an int, as before) or ``action_space=`` (an int or a
``Box``), never both.

Invariant enforced: a ``Contract`` is itself well formed (``lo <= hi``, no NaN bound, boolean
flags), so a check can never pass vacuously because of a malformed range.

References: Gymnasium ``Env.step`` (``terminated`` vs ``truncated``), https://gymnasium.farama.org/.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Iterable, Sequence

import numpy as np

from .box import Box, box_action_violations
from .errors import ContractViolation, ArgumentError, Violation, format_value
from .shape import Shape, as_shape, tensor_violations
from .transition import Transition

__all__ = [
    "Contract", "check_action", "check_done_flags", "check_observation", "check_reward",
    "check_transition", "check_transition_fin", "contract_holds", "done_flags_holds",
    "is_finite_float", "observation_holds", "reward_holds", "tensor_finite",
    "tensor_in_closed_interval", "transition_violations", "action_violations", "action_space_violations",
    "resolve_action_space",
    "observation_violations", "reward_violations", "done_flags_violations",
]


# ---------------------------------------------------------------------------------------------
# Basic numeric predicates (Lean: isFiniteFloat, tensorFinite, tensorInClosedInterval)
# ---------------------------------------------------------------------------------------------

# The ``post:`` lines are PEP 316 contracts checked symbolically by CrossHair (tests/spec/test_crosshair_spec.py).

def is_finite_float(x: float) -> bool:
    """``True`` iff ``x`` is neither NaN nor ±inf.

    post: __return__ == (x == x and x - x == 0.0)
    """
    return not (math.isnan(x) or math.isinf(x))


def tensor_finite(xs: Sequence[float]) -> bool:
    """``True`` iff every entry is finite.

    pre: len(xs) <= 3
    post: __return__ == (not any(x != x or abs(x) == math.inf for x in xs))
    """
    return all(is_finite_float(x) for x in xs)


def tensor_in_closed_interval(lo: float, hi: float, xs: Sequence[float]) -> bool:
    """``True`` iff every entry lies in ``[lo, hi]`` (NaN lies in no interval; a NaN bound admits nothing).

    pre: len(xs) <= 3
    post: __return__ == all(x == x and lo == lo and hi == hi and not (x < lo or hi < x) for x in xs)
    """
    return all(lo <= x and x <= hi for x in xs)


# ---------------------------------------------------------------------------------------------
# The contract
# ---------------------------------------------------------------------------------------------

def _check_range(name: str, rng: Any) -> "tuple[float, float] | None":
    if rng is None:
        return None
    try:
        lo, hi = rng
    except (TypeError, ValueError):
        raise ArgumentError(f"Contract.{name}={rng!r} should be None or a pair (lo, hi)") from None
    for bound in (lo, hi):
        if _is_bool(bound) or not isinstance(bound, (int, float)) and not hasattr(bound, "__float__"):
            raise ArgumentError(f"Contract.{name}={rng!r}: bound {bound!r} is not a real number")
    try:
        lo, hi = float(lo), float(hi)
    except OverflowError:
        raise ArgumentError(f"Contract.{name}={rng!r}: a bound is too large for a float") from None
    if math.isnan(lo) or math.isnan(hi):
        raise ArgumentError(f"Contract.{name}={rng!r}: a NaN bound admits nothing and is rejected")
    if lo > hi:
        raise ArgumentError(f"Contract.{name}={rng!r}: lo={lo} should be at most hi={hi}")
    return (lo, hi)


@dataclass(frozen=True)
class Contract:
    """Contract for validating externally provided Gym-style transitions (Lean ``Contract``).

    - ``check_obs_finite``: observations contain no NaN/±inf.
    - ``check_reward_finite``: rewards are not NaN/±inf.
    - ``obs_range``: optional closed interval ``(lo, hi)`` for every observation entry.
    - ``reward_range``: optional closed interval ``(lo, hi)`` for the reward.
    - ``require_exclusive_done_flags``: reject ``terminated and truncated`` both true.

    The constructor rejects ``lo > hi``, NaN bounds and non-boolean flags.
    """

    check_obs_finite: bool = True
    check_reward_finite: bool = True
    obs_range: "tuple[float, float] | None" = None
    reward_range: "tuple[float, float] | None" = None
    require_exclusive_done_flags: bool = False

    def __post_init__(self) -> None:
        for name in ("check_obs_finite", "check_reward_finite", "require_exclusive_done_flags"):
            if not isinstance(getattr(self, name), bool):
                raise ArgumentError(f"Contract.{name}={getattr(self, name)!r} should be a bool")
        object.__setattr__(self, "obs_range", _check_range("obs_range", self.obs_range))
        object.__setattr__(self, "reward_range", _check_range("reward_range", self.reward_range))


# ---------------------------------------------------------------------------------------------
# Checkers (executable; each *_violations returns the full list, each check_* raises it)
# ---------------------------------------------------------------------------------------------

def action_violations(n_actions: int, action: Any, field: str = "action") -> list[Violation]:
    """Violations of ``action : Fin n_actions`` (Lean ``checkAction``)."""
    a = _integral_action(action)
    if a is None:
        return [Violation(field, format_value(action), "Fin n_actions",
                          f"{format_value(action)} is not an integer action (n_actions={n_actions})")]
    if not 0 <= a < n_actions:
        return [Violation(field, a, "Fin n_actions",
                          f"action out of range: {a} (n_actions={n_actions})")]
    return []


def _integral_action(action: Any) -> "int | None":
    """``action`` as an ``int`` if it is an integer scalar or an integral float scalar, else ``None``.

    Booleans and arrays (even of size 1) are not actions; ``2.0`` is (as JSON's ``parseNatStrict``).
    """
    if _is_bool(action) or isinstance(action, bool) or getattr(action, "shape", ()) != ():
        return None
    if hasattr(action, "__index__"):
        return int(action.__index__())
    if _is_real_scalar(action) and getattr(getattr(action, "dtype", None), "kind", "f") == "f":
        x = float(action)
        if x.is_integer():
            return int(x)
    return None


def resolve_action_space(n_actions: Any = None, action_space: Any = None) -> "int | Box":
    """The action space named by exactly one of ``n_actions`` (``Fin n``) and ``action_space`` (an
    ``int`` n or a :class:`Box`); raises ``ArgumentError`` when both or neither are given."""
    if (n_actions is None) == (action_space is None):
        raise ArgumentError(f"give exactly one of n_actions={n_actions!r} and action_space={action_space!r}")
    if action_space is None:
        return n_actions   # as before: action_violations judges any action against it
    space = action_space
    if isinstance(space, Box):
        return space
    if isinstance(space, bool) or not hasattr(space, "__index__") or int(space) <= 0:
        raise ArgumentError(f"action space {space!r:.80} should be a positive int (Fin n_actions, NeZero) "
                            "or a rollcheck.spec.Box")
    return int(space)


def action_space_violations(space: "int | Box", action: Any, field: str = "action") -> list[Violation]:
    """Violations of ``action`` in ``space``: ``Fin n`` (:func:`action_violations`) or a ``Box``
    (:func:`~rollcheck.spec.box.box_action_violations`)."""
    if isinstance(space, Box):
        return box_action_violations(space, action, field)
    return action_violations(space, action, field)


def check_action(n_actions: int, action: Any) -> int:
    """Return ``action`` as an ``int`` in ``[0, n_actions)`` or raise ``ContractViolation``."""
    violations = action_violations(n_actions, action)
    if violations:
        raise ContractViolation(violations)
    return _integral_action(action)  # type: ignore[return-value]


def _flat_observation_violations(contract: Contract, flat: Sequence[float], field: str, value: Any) -> list[Violation]:
    out: list[Violation] = []
    if contract.check_obs_finite and not tensor_finite(flat):
        bad = next(x for x in flat if not is_finite_float(x))
        out.append(Violation(field, format_value(value), "Contract.check_obs_finite",
                             f"expected a finite {field} tensor (no NaN/inf), found {bad}"))
    if contract.obs_range is not None:
        lo, hi = contract.obs_range
        if not tensor_in_closed_interval(lo, hi, flat):
            bad = next(x for x in flat if not (lo <= x and x <= hi))
            out.append(Violation(field, format_value(value), "Contract.obs_range",
                                 f"{field} entry {bad} is outside [{lo}, {hi}]"))
    return out


def observation_violations(contract: Contract, obs: Any, obs_shape: "Shape | Iterable[int]",
                           field: str = "observation") -> list[Violation]:
    """Violations of the observation part of ``contract`` (including the shape)."""
    flat, violations = tensor_violations(obs, as_shape(obs_shape), field)
    if violations:
        return violations
    return _flat_observation_violations(contract, flat, field, obs)


def check_observation(contract: Contract, obs: Any, obs_shape: "Shape | Iterable[int]",
                      field: str = "observation") -> tuple[float, ...]:
    """Validate one observation (Lean ``checkObservation``); return its row-major floats."""
    shape = as_shape(obs_shape)
    flat, violations = tensor_violations(obs, shape, field)
    if not violations:
        violations = _flat_observation_violations(contract, flat, field, obs)
    if violations:
        raise ContractViolation(violations)
    return flat


def reward_violations(contract: Contract, reward: Any) -> list[Violation]:
    """Violations of the reward part of ``contract`` (Lean ``checkReward``)."""
    if isinstance(reward, bool) or not _is_real_scalar(reward):
        return [Violation("reward", format_value(reward), "Spec.Tensor Float",
                          f"{format_value(reward)} is not a real scalar")]
    try:
        r = float(reward)
    except OverflowError:  # an int beyond the float range (JSON allows arbitrarily long integers)
        return [Violation("reward", format_value(reward), "Spec.Tensor Float",
                          f"{format_value(reward)} is too large for a float")]
    out: list[Violation] = []
    if contract.check_reward_finite and not is_finite_float(r):
        out.append(Violation("reward", r, "Contract.check_reward_finite", f"{r} is not finite"))
    if contract.reward_range is not None:
        lo, hi = contract.reward_range
        if not (lo <= r and r <= hi):
            out.append(Violation("reward", r, "Contract.reward_range",
                                 f"reward out of range: got {r}, expected in [{lo}, {hi}]"))
    return out


def check_reward(contract: Contract, reward: Any) -> float:
    """Validate one reward; return it as a ``float``."""
    violations = reward_violations(contract, reward)
    if violations:
        raise ContractViolation(violations)
    return float(reward)


def _is_real_scalar(x: Any) -> bool:
    if isinstance(x, (int, float)):
        return True
    kind = getattr(getattr(x, "dtype", None), "kind", None)
    return kind in ("f", "i", "u") and getattr(x, "shape", None) == ()


def _is_bool(x: Any) -> bool:
    return isinstance(x, bool) or getattr(getattr(x, "dtype", None), "kind", None) == "b" and getattr(x, "shape", None) == ()


def done_flags_violations(contract: Contract, terminated: Any, truncated: Any) -> list[Violation]:
    """Violations of the done-flag part of ``contract`` (Lean ``checkDoneFlags``)."""
    out: list[Violation] = []
    for name, flag in (("terminated", terminated), ("truncated", truncated)):
        if not _is_bool(flag):
            out.append(Violation(name, format_value(flag), "Bool", f"{format_value(flag)} is not a boolean"))
    if out:
        return out
    if contract.require_exclusive_done_flags and bool(terminated) and bool(truncated):
        out.append(Violation("terminated", (True, True), "Contract.require_exclusive_done_flags",
                             "both terminated and truncated are true (the contract requires exclusivity)"))
    return out


def check_done_flags(contract: Contract, terminated: Any, truncated: Any) -> None:
    """Validate the Gymnasium-style done flags."""
    violations = done_flags_violations(contract, terminated, truncated)
    if violations:
        raise ContractViolation(violations)


def transition_violations(contract: Contract, observation: Any, next_observation: Any, action: Any,
                          reward: Any, terminated: Any, truncated: Any, *,
                          obs_shape: "Shape | Iterable[int]", n_actions: "int | None" = None,
                          action_space: "int | Box | None" = None) -> list[Violation]:
    """Every violation of one transition, in Lean's check order (action, flags, reward, obs, next obs).

    The action is checked against ``n_actions`` (``Fin n``) or ``action_space`` (``Fin n`` or a ``Box``).
    """
    shape = as_shape(obs_shape)
    space = resolve_action_space(n_actions, action_space)
    return (action_space_violations(space, action)
            + done_flags_violations(contract, terminated, truncated)
            + reward_violations(contract, reward)
            + observation_violations(contract, observation, shape, "observation")
            + observation_violations(contract, next_observation, shape, "next_observation"))


def check_transition_fin(contract: Contract, observation: Any, next_observation: Any, action: Any,
                         reward: Any, terminated: Any, truncated: Any, *,
                         obs_shape: "Shape | Iterable[int]", n_actions: "int | None" = None,
                         action_space: "int | Box | None" = None) -> Transition:
    """Validate a transition whose action is already a ``Fin n_actions`` (Lean ``checkTransitionFin``),
    or a ``Box`` action (``action_space=Box(...)``; rollcheck's extension).

    Python cannot carry ``Fin`` in a type, so the action's range is re-checked here; every
    other violation is collected too and all are raised together.
    """
    violations = transition_violations(contract, observation, next_observation, action, reward,
                                       terminated, truncated, obs_shape=obs_shape, n_actions=n_actions,
                                       action_space=action_space)
    if violations:
        raise ContractViolation(violations)
    return checked_transition_value(observation, next_observation, action, reward, terminated, truncated,
                                    obs_shape, resolve_action_space(n_actions, action_space))


def checked_transition_value(observation: Any, next_observation: Any, action: Any, reward: Any,
                             terminated: Any, truncated: Any, obs_shape: "Shape | Iterable[int]",
                             action_space: "int | Box | None" = None) -> Transition:
    """The ``Transition`` of inputs that :func:`transition_violations` already found clean.

    Both tensors get the checked shape explicitly: a nested list with a side of 0 (``[]`` for
    shape [0, 3]) does not carry its full shape, and the Transition must have ``obs_shape``. A
    ``Box`` action (``action_space`` a :class:`Box`) becomes a float64 array of the Box's shape.
    """
    dims = as_shape(obs_shape).dims
    if isinstance(action_space, Box):
        checked_action: Any = np.asarray(action, dtype=np.float64).reshape(action_space.shape.dims)
    else:
        checked_action = _integral_action(action)
    return Transition(observation=np.asarray(observation, dtype=np.float64).reshape(dims),
                      action=checked_action, reward=float(reward),
                      next_observation=np.asarray(next_observation, dtype=np.float64).reshape(dims),
                      terminated=bool(terminated), truncated=bool(truncated))


def check_transition(contract: Contract, observation: Any, next_observation: Any, action: Any,
                     reward: Any, terminated: Any, truncated: Any, *,
                     obs_shape: "Shape | Iterable[int]", n_actions: "int | None" = None,
                     action_space: "int | Box | None" = None) -> Transition:
    """Validate a transition with a raw action (Lean ``checkTransition``)."""
    return check_transition_fin(contract, observation, next_observation, action, reward, terminated,
                                truncated, obs_shape=obs_shape, n_actions=n_actions, action_space=action_space)


# ---------------------------------------------------------------------------------------------
# Prop-level predicates, written independently of the checkers above.
# Each is the boolean reading of the Lean Prop of the same name.
# ---------------------------------------------------------------------------------------------

def observation_holds(contract: Contract, obs: Sequence[float]) -> bool:
    """Lean ``ObservationHolds c obs`` on the row-major entries ``obs`` of a well-shaped tensor.

    ``(check_obs_finite → every entry finite) ∧ (obs_range = (lo, hi) → every entry in [lo, hi])``
    """
    finite_part = (not contract.check_obs_finite) or all(not math.isnan(x) and abs(x) != math.inf for x in obs)
    range_part = contract.obs_range is None or all(
        contract.obs_range[0] <= x <= contract.obs_range[1] for x in obs)
    return finite_part and range_part


def reward_holds(contract: Contract, reward: float) -> bool:
    """Lean ``RewardHolds c r``: ``(check_reward_finite → r finite) ∧ (reward_range → lo ≤ r ≤ hi)``."""
    finite_part = (not contract.check_reward_finite) or (reward == reward and abs(reward) != math.inf)
    range_part = contract.reward_range is None or contract.reward_range[0] <= reward <= contract.reward_range[1]
    return finite_part and range_part


def done_flags_holds(contract: Contract, terminated: bool, truncated: bool) -> bool:
    """Lean ``DoneFlagsHolds c te tr``: ``require_exclusive_done_flags → ¬(te ∧ tr)``."""
    return (not contract.require_exclusive_done_flags) or not (terminated and truncated)


def contract_holds(contract: Contract, transition: Transition) -> bool:
    """Lean ``ContractHolds c t`` for a (well-typed) :class:`Transition`."""
    return (done_flags_holds(contract, transition.terminated, transition.truncated)
            and reward_holds(contract, transition.reward)
            and observation_holds(contract, transition.observation.ravel().tolist())
            and observation_holds(contract, transition.next_observation.ravel().tolist()))
