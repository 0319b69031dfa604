"""Checked sessions: a stateful environment whose every step crosses the trust boundary checked.

Mirrors TorchLean's ``NN.Runtime.RL.Session.CheckedSession`` (``Sess``, ``start``, ``observe``,
``stepChecked``) and its constructors ``CheckedSession.gymnasium`` (in-process here; over the
subprocess bridge: ``CheckedSession.subprocess``) / ``CheckedSession.ofEnv``, with
the step semantics of ``NN.Runtime.RL.Gymnasium.Session.stepChecked``.

A ``CheckedSession`` is three functions over an opaque session value ``sess``:

- ``start() -> sess`` — initialise (usually ``reset``);
- ``observe(sess) -> obs`` — the current observation (a read-only float64 array of ``obs_shape``);
- ``step_checked(sess, action) -> (Transition, sess)`` — one step, validated with
  :func:`rollcheck.spec.check_transition_fin`; a violation raises
  :class:`rollcheck.spec.ContractViolation` and nothing unchecked is ever returned.

Semantics of the two constructors (as in the Lean files):

- ``start`` resets with ``seed`` (``seed? := some seed``); later resets pass no seed, so the
  environment's own RNG continues;
- the transition's ``next_observation`` is the true last observation of the step, *before* any
  auto-reset; when ``reset_on_done`` and ``terminated or truncated``, the environment is reset and
  ``observe`` on the returned session gives the reset observation;
- every reset observation goes through ``check_observation`` (field ``"observation"``); every step
  through ``check_transition_fin`` (all violations reported together);
- observations are stored as read-only float64 *copies*: an environment that mutates and returns
  the same buffer cannot change anything already observed.

Fast path: a well-typed step (numpy real array of the right shape, float reward, bool flags, int
action) is checked by the contract judge (:func:`~rollcheck.impl.contract_judge.observation_ok`, :func:`~rollcheck.impl.contract_judge.reward_ok`); anything else, and
every failure, goes to the spec checker, which decides and produces the full violation list. The
fast predicates are tested against the spec with Hypothesis (``tests/impl/test_session_fast_check.py``).
The fast path checks the step's ``observation`` only once: it is the session's stored, already
checked, immutable copy.

Continuous actions (rollcheck's extension of TorchLean, whose sessions take ``Fin nActions`` only): a
session over a ``gymnasium.spaces.Box`` action space (or ``of_env(..., action_space=Box(...))``) has
``action_space`` a :class:`rollcheck.spec.Box` and ``n_actions`` ``None``; ``step_checked`` takes a
real tensor of the Box's shape, checks it against the Box contract (shape, finite, bounds) *before*
``env.step`` sees it, hands the environment a fresh float64 array and records the checked action as
a read-only float64 array in the ``Transition``. The collector clips (or rescales) its sample into
the Box first, as SB3 and CleanRL do; an unclipped action is a contract violation here.

References: Gymnasium ``Env.reset``/``Env.step`` (https://gymnasium.farama.org/api/env/).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Generic, NamedTuple, TypeVar

import numpy as np

from rollcheck.spec import (Box, Contract, Shape, Transition, as_shape, check_action, check_box_action,
                            check_observation, check_transition_fin)
from rollcheck.impl.contract_judge import observation_ok, reward_ok
from rollcheck.spec.environment import Env
from rollcheck.spec.arguments import check_bool, check_count, check_seed
from rollcheck.spec.errors import ArgumentError

__all__ = ["CheckedSession", "EnvSessionState", "GymnasiumSessionState", "checked_box_action",
           "checked_observation", "checked_transition"]

Sess = TypeVar("Sess")


def _noop() -> None:
    return None


# ---------------------------------------------------------------------------------------------
# Fast checks (numpy): the contract judge's single-transition verdicts; the spec checker is the
# oracle and the fallback that words every violation
# ---------------------------------------------------------------------------------------------

_INT_FLOAT_MAX = 2 ** 1023  # ints below this convert to float without overflow


def _fast_array(obs: Any, dims: tuple[int, ...]) -> "np.ndarray | None":
    """A fresh writable float64 copy of ``obs`` if it is a real numpy value of shape ``dims``."""
    if isinstance(obs, (np.ndarray, np.generic)) and obs.dtype.kind in "fiu" and obs.shape == dims:
        return np.array(obs, dtype=np.float64)
    return None


def _frozen(arr: np.ndarray) -> np.ndarray:
    arr.setflags(write=False)
    return arr


def checked_observation(contract: Contract, obs: Any, obs_shape: Shape, field: str = "observation") -> np.ndarray:
    """A read-only float64 copy of ``obs`` after ``check_observation`` (raises on violation)."""
    arr = _fast_array(obs, obs_shape.dims)
    if arr is not None and observation_ok(contract, arr):
        return _frozen(arr)
    flat = check_observation(contract, obs, obs_shape, field)  # raises with every violation
    return _frozen(np.array(flat, dtype=np.float64).reshape(obs_shape.dims))


def _transition(observation: np.ndarray, action: int, reward: float, next_observation: np.ndarray,
                terminated: bool, truncated: bool) -> Transition:
    """A ``Transition`` from values that already satisfy its invariants (read-only float64 arrays of
    one shape, ``int`` action ≥ 0, ``float`` reward, ``bool`` flags), without re-copying the arrays.
    Tested equal to the constructor in ``test_session_fast_check.py``."""
    tr = object.__new__(Transition)
    tr.__dict__.update(observation=observation, action=action, reward=reward,
                       next_observation=next_observation, terminated=terminated, truncated=truncated)
    return tr


def checked_box_action(space: Box, action: Any) -> np.ndarray:
    """A read-only float64 copy of ``action`` after the Box contract (raises ``ContractViolation``)."""
    arr = _fast_array(action, space.shape.dims)
    if arr is not None and bool(np.isfinite(arr).all()):
        flat = arr.reshape(-1)
        if ((space.low is None or bool((flat >= np.asarray(space.low)).all()))
                and (space.high is None or bool((flat <= np.asarray(space.high)).all()))):
            return _frozen(arr)
    flat = check_box_action(space, action)  # raises with every violation
    return _frozen(np.array(flat, dtype=np.float64).reshape(space.shape.dims))


def _action_ok(action: Any, space: "int | Box") -> bool:
    if isinstance(space, Box):   # a session's Box action: checked and frozen before env.step
        return (type(action) is np.ndarray and action.dtype == np.float64 and not action.flags.writeable
                and action.shape == space.shape.dims)
    return type(action) is int and 0 <= action < space


def checked_transition(contract: Contract, observation: np.ndarray, next_obs: Any, action: Any, reward: Any,
                       terminated: Any, truncated: Any, obs_shape: Shape, n_actions: "int | Box") -> Transition:
    """``check_transition_fin`` with a numpy fast path.

    ``observation`` must be the session's stored observation (a read-only float64 array that already
    passed ``check_observation`` under ``contract``). ``n_actions`` is the action space: ``Fin n`` (an
    int) or a :class:`~rollcheck.spec.Box` (then a fast-path ``action`` is the session's checked,
    read-only float64 copy). Returns a ``Transition`` whose arrays are read-only float64 copies;
    raises ``ContractViolation`` with every violation otherwise.
    """
    nxt = _fast_array(next_obs, obs_shape.dims)
    if (nxt is not None and _action_ok(action, n_actions)
            and (type(terminated) is bool or type(terminated) is np.bool_)
            and (type(truncated) is bool or type(truncated) is np.bool_)
            and (isinstance(reward, (float, np.floating))
                 or (type(reward) is int and -_INT_FLOAT_MAX < reward < _INT_FLOAT_MAX))):
        te, tr, r = bool(terminated), bool(truncated), float(reward)
        if (not (contract.require_exclusive_done_flags and te and tr) and reward_ok(contract, r)
                and observation_ok(contract, nxt)):
            return _transition(observation, action, r, _frozen(nxt), te, tr)
    # Slow path: the spec decides, and raises with the full violation list.
    checked = check_transition_fin(contract, observation, next_obs, action, reward, terminated, truncated,
                                   obs_shape=obs_shape, action_space=n_actions)
    return checked


# ---------------------------------------------------------------------------------------------
# Session values of the two in-process constructors
# ---------------------------------------------------------------------------------------------

class GymnasiumSessionState(NamedTuple):
    """``Gymnasium.Session``: the observation to be used as ``observation`` on the next step."""

    observation: np.ndarray


class EnvSessionState(NamedTuple):
    """``ofEnv``'s session: the latent state and its checked observation."""

    state: Any
    observation: np.ndarray


def _session_observation(sess: Any) -> np.ndarray:
    return sess.observation


def box_of_gymnasium(space: Any) -> Box:
    """The :class:`~rollcheck.spec.Box` of a ``gymnasium.spaces.Box`` (shape, bounds, dtype; infinite
    bounds stay infinite, i.e. unbounded on that side)."""
    dtype = np.dtype(space.dtype).name
    if dtype not in ("float32", "float64"):
        raise ArgumentError(f"action_space={space!r} has dtype {dtype}; rollcheck's Box actions are float32/float64")
    return Box(tuple(int(d) for d in space.shape), np.asarray(space.low, dtype=np.float64),
               np.asarray(space.high, dtype=np.float64), dtype)


def _gymnasium_spaces(env: Any, obs_shape: Any, n_actions: Any) -> "tuple[Shape, int | Box]":
    from gymnasium import spaces

    space = getattr(env, "action_space", None)
    if isinstance(space, spaces.Box):
        if n_actions is not None:
            raise ArgumentError(f"n_actions={n_actions!r} given, but env.action_space={space!r} is continuous")
        return _observation_shape(env, obs_shape), box_of_gymnasium(space)
    if not isinstance(space, spaces.Discrete):
        raise ArgumentError(f"env.action_space={space!r} is neither a gymnasium.spaces.Discrete nor a Box; "
                              "rollcheck sessions take Fin n_actions or Box actions")
    if int(space.start) != 0:
        raise ArgumentError(f"env.action_space={space!r} starts at {int(space.start)}; rollcheck actions "
                              "are Fin n_actions (0-based), wrap the env to shift its actions")
    n = int(space.n)
    if n_actions is not None and n_actions != n:
        raise ArgumentError(f"n_actions={n_actions!r} does not match env.action_space={space!r}")
    return _observation_shape(env, obs_shape), n


def _observation_shape(env: Any, obs_shape: Any) -> Shape:
    obs_space = getattr(env, "observation_space", None)
    space_shape = getattr(obs_space, "shape", None)
    if obs_shape is None:
        if space_shape is None:
            raise ArgumentError(f"env.observation_space={obs_space!r} has no shape; pass obs_shape=")
        return Shape(tuple(int(d) for d in space_shape))
    shape = as_shape(obs_shape)
    if space_shape is not None and tuple(int(d) for d in space_shape) != shape.dims:
        raise ArgumentError(f"obs_shape={shape.to_list()} does not match "
                              f"env.observation_space.shape={tuple(space_shape)!r}")
    return shape


def _check_seed(seed: Any) -> "int | None":
    return check_seed("seed", seed)


def _check_flag(name: str, value: Any) -> bool:
    return check_bool(name, value)


@dataclass(frozen=True)
class CheckedSession(Generic[Sess]):
    """``start``, ``observe``, ``step_checked`` plus the types they are checked against.

    ``action_space`` is ``n_actions`` (``Fin n``) for a discrete session, or a
    :class:`~rollcheck.spec.Box` for a continuous one (then ``n_actions`` is ``None``).
    """

    start: Callable[[], Sess]
    observe: Callable[[Sess], Any]
    step_checked: Callable[[Sess, Any], "tuple[Transition, Sess]"]
    obs_shape: Shape
    n_actions: "int | None"
    contract: Contract = field(default_factory=Contract)
    close: Callable[[], None] = _noop
    action_space: "int | Box | None" = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "obs_shape", as_shape(self.obs_shape))
        n = self.n_actions
        if n is not None and not isinstance(self.action_space, Box):
            n = check_count("CheckedSession.n_actions", n)
            object.__setattr__(self, "n_actions", n)
        if isinstance(self.action_space, Box):
            if n is not None:
                raise ArgumentError(f"CheckedSession.n_actions={n!r} should be None for a Box action space")
        elif isinstance(n, bool) or not isinstance(n, int) or n <= 0:
            raise ArgumentError(f"CheckedSession.n_actions={n!r} should be a positive int (NeZero nActions)")
        elif self.action_space is None:
            object.__setattr__(self, "action_space", n)
        elif self.action_space != n:
            raise ArgumentError(f"CheckedSession.action_space={self.action_space!r} should be n_actions={n} "
                                "or a rollcheck.spec.Box")
        if not isinstance(self.contract, Contract):
            raise ArgumentError(f"CheckedSession.contract={self.contract!r} should be a rollcheck.spec.Contract")

    def __enter__(self) -> "CheckedSession[Sess]":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @classmethod
    def gymnasium(cls, env: Any, seed: "int | None" = None, reset_on_done: bool = True,
                  contract: Contract = Contract(), obs_shape: Any = None,
                  n_actions: "int | None" = None) -> "CheckedSession[GymnasiumSessionState]":
        """A session over an in-process ``gymnasium.Env`` with a ``Discrete`` or ``Box`` action space.

        ``obs_shape``/``n_actions`` default to ``observation_space.shape``/``action_space.n`` and,
        when given, must agree with them (a ``Box`` session has ``n_actions=None`` and its
        ``action_space`` is the env's Box). ``close()`` closes ``env`` (once).
        """
        shape, space = _gymnasium_spaces(env, obs_shape, n_actions)
        n = space
        seed = _check_seed(seed)
        reset_on_done = _check_flag("reset_on_done", reset_on_done)
        if not isinstance(contract, Contract):
            raise ArgumentError(f"contract={contract!r} should be a rollcheck.spec.Contract")

        def start() -> GymnasiumSessionState:
            obs, _info = env.reset(seed=seed)
            return GymnasiumSessionState(checked_observation(contract, obs, shape))

        def step_checked(sess: GymnasiumSessionState, action: Any) -> "tuple[Transition, GymnasiumSessionState]":
            if isinstance(n, Box):
                action = checked_box_action(n, action)  # env.step never sees an action outside the Box
                next_obs, reward, terminated, truncated, _info = env.step(action.copy())
            else:
                if type(action) is not int or not 0 <= action < n:
                    action = check_action(n, action)  # env.step never sees an action outside Fin n_actions
                next_obs, reward, terminated, truncated, _info = env.step(action)
            tr = checked_transition(contract, sess.observation, next_obs, action, reward, terminated,
                                    truncated, shape, n)
            if reset_on_done and (tr.terminated or tr.truncated):
                obs, _info = env.reset()
                return tr, GymnasiumSessionState(checked_observation(contract, obs, shape))
            return tr, GymnasiumSessionState(tr.next_observation)

        closed = []

        def close() -> None:
            if not closed:
                closed.append(True)
                env.close()

        return cls(start=start, observe=_session_observation, step_checked=step_checked, obs_shape=shape,
                   n_actions=None if isinstance(n, Box) else n, contract=contract, close=close, action_space=n)

    @classmethod
    def of_env(cls, env: Env, contract: Contract = Contract(), reset_on_done: bool = True, *,
               obs_shape: Any, n_actions: "int | None" = None,
               action_space: "Box | None" = None) -> "CheckedSession[EnvSessionState]":
        """A session over a pure spec ``Env`` (Lean ``CheckedSession.ofEnv``).

        The session value is the latent state plus its checked observation; on ``done`` with
        ``reset_on_done`` the state goes back to ``env.initial_state``. Give ``n_actions`` (``Fin n``)
        or ``action_space=Box(...)`` (continuous actions, a read-only float64 array to ``env.step``).
        """
        if action_space is not None:
            if not isinstance(action_space, Box) or n_actions is not None:
                raise ArgumentError(f"action_space={action_space!r:.80} should be a rollcheck.spec.Box "
                                    "(and then n_actions is not given)")
            return cls._of_env(env, contract, reset_on_done, as_shape(obs_shape), action_space)
        if not isinstance(env, Env):
            raise ArgumentError(f"env={env!r:.80} should be a rollcheck.spec.Env")
        if not isinstance(contract, Contract):
            raise ArgumentError(f"contract={contract!r} should be a rollcheck.spec.Contract")
        n_actions = check_count("n_actions", n_actions)
        return cls._of_env(env, contract, reset_on_done, as_shape(obs_shape), n_actions)

    @classmethod
    def _of_env(cls, env: Env, contract: Contract, reset_on_done: Any, shape: Shape,
                space: "int | Box") -> "CheckedSession[EnvSessionState]":
        if not isinstance(env, Env):
            raise ArgumentError(f"env={env!r:.80} should be a rollcheck.spec.Env")
        if not isinstance(contract, Contract):
            raise ArgumentError(f"contract={contract!r} should be a rollcheck.spec.Contract")
        reset_on_done = _check_flag("reset_on_done", reset_on_done)

        def initial() -> EnvSessionState:
            state = env.initial_state
            return EnvSessionState(state, checked_observation(contract, env.observe(state), shape))

        def step_checked(sess: EnvSessionState, action: Any) -> "tuple[Transition, EnvSessionState]":
            if isinstance(space, Box):
                action = checked_box_action(space, action)  # env.step never sees an action outside the Box
            elif type(action) is not int or not 0 <= action < space:
                action = check_action(space, action)  # env.step never sees an action outside Fin n_actions
            out = env.step(sess.state, action)
            tr = checked_transition(contract, sess.observation, env.observe(out.state), action, out.reward,
                                    out.terminated, out.truncated, shape, space)
            if reset_on_done and (tr.terminated or tr.truncated):
                return tr, initial()
            return tr, EnvSessionState(out.state, tr.next_observation)

        return cls(start=initial, observe=_session_observation, step_checked=step_checked, obs_shape=shape,
                   n_actions=None if isinstance(space, Box) else space, contract=contract, action_space=space)

    @classmethod
    def subprocess(cls, client: Any, seed: "int | None" = None, reset_on_done: bool = True,
                   contract: "Contract | None" = None) -> "CheckedSession[Any]":
        """A session over a bridge client (Lean ``CheckedSession.gymnasium`` on a ``Gymnasium.Client``).

        ``client`` is a :class:`rollcheck.impl.bridge_client.GymnasiumClient`; this is
        :func:`rollcheck.impl.bridge_session.bridge_session` under the session's own name.
        """
        from rollcheck.impl.bridge_session import bridge_session

        return bridge_session(client, contract=contract, seed=seed, reset_on_done=reset_on_done)
