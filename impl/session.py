"""Checked sessions: a stateful environment whose every step crosses the trust boundary checked.

Mirrors TorchLean's ``NN.Runtime.RL.Session.CheckedSession`` (``Sess``, ``start``, ``observe``,
``stepChecked``) and its constructors ``CheckedSession.gymnasium`` (in-process here; over the
subprocess bridge: ``CheckedSession.subprocess``) / ``CheckedSession.ofEnv``, with the step
semantics of ``NN.Runtime.RL.Gymnasium.Session.stepChecked``.

A ``CheckedSession`` is three functions over an opaque session value ``sess``:

- ``start() -> sess`` — initialise (reset with the session's seed);
- ``observe(sess) -> obs`` — the current observation (a read-only float64 array of ``obs_shape``);
- ``step_checked(sess, action) -> (Transition, sess)`` — one step, judged by
  :mod:`rollcheck.impl.contract_judge` (exactly :func:`rollcheck.spec.check_transition_fin`); a
  violation raises :class:`rollcheck.spec.ContractViolation` and nothing unchecked is ever returned.

Every constructor is one :func:`source_session` over a small :class:`Source` (``reset(seed)``,
``step(action)``, ``close()``): :class:`GymnasiumSource` (an in-process ``gymnasium.Env``),
:class:`SpecEnvSource` (a pure spec ``Env``) and :class:`BridgeSource` (a bridge client). The
semantics are written once, in :func:`source_session`:

- ``start`` resets with ``seed`` (``seed? := some seed``); later resets pass no seed, so the
  environment's own RNG continues; a seed is ``None`` or a non-negative Python or numpy int
  (never a bool);
- an action outside the action space (``Fin n_actions``, or a :class:`~rollcheck.spec.Box`) is
  refused before the source sees it;
- the transition's ``next_observation`` is the true last observation of the step, *before* any
  auto-reset; when ``reset_on_done`` and ``terminated or truncated``, the source is reset and
  ``observe`` on the returned session gives the reset observation;
- every reset observation is judged (field ``"observation"``); every step as a whole transition
  (all violations reported together); the step's ``observation`` is the session's stored, already
  judged, immutable copy and is not judged twice;
- observations are stored as read-only float64 *copies*: an environment that mutates and returns
  the same buffer cannot change anything already observed;
- the contract is the caller's, or (for a bridge client) the contract the client carries
  (TorchLean's session checks ``s.client.contract``) unless the caller passes another.

Fast path: a well-typed step (numpy real array of the right shape, float reward, bool flags, an
action the session already checked) is accepted by the judge's predicates
(:func:`~rollcheck.impl.contract_judge.observation_ok`, :func:`~rollcheck.impl.contract_judge.reward_ok`,
:func:`~rollcheck.impl.contract_judge.flags_ok`, :func:`~rollcheck.impl.contract_judge.action_ok`);
anything else, and every failure, goes to the spec checker, which decides and words every violation
(tested with Hypothesis in ``tests/impl/test_session_fast_check.py``).

Continuous actions (rollcheck's extension of TorchLean, whose sessions take ``Fin nActions`` only): a
session over a ``gymnasium.spaces.Box`` action space (or ``of_env(..., action_space=Box(...))``) has
``action_space`` a :class:`rollcheck.spec.Box` and ``n_actions`` ``None``; ``step_checked`` takes a
real tensor of the Box's shape, checks it against the Box contract (shape, finite, bounds) *before*
the source sees it, hands the source a fresh float64 array and records the checked action as a
read-only float64 array in the ``Transition``. The collector clips (or rescales) its sample into
the Box first, as SB3 and CleanRL do; an unclipped action is a contract violation here.

References: Gymnasium ``Env.reset``/``Env.step`` (https://gymnasium.farama.org/api/env/).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Generic, NamedTuple, Protocol, TypeVar

import numpy as np
from gymnasium import spaces

from rollcheck.spec import (Box, Contract, Shape, Transition, as_shape, check_action, check_box_action,
                            check_observation, check_transition_fin)
from rollcheck.spec.arguments import check_bool, check_count, check_instance, check_seed
from rollcheck.spec.environment import Env
from rollcheck.spec.errors import ArgumentError

from .contract_judge import accepted_reward, action_ok, box_action_ok, observation_ok

__all__ = ["BridgeSource", "CheckedSession", "GymnasiumSource", "SessionState", "Source", "SpecEnvSource",
           "box_of_gymnasium", "checked_action", "checked_box_action", "checked_observation",
           "checked_transition", "source_session"]

Sess = TypeVar("Sess")


def _noop() -> None:
    return None


# ---------------------------------------------------------------------------------------------
# Judged values: read-only float64 copies once the judge passed them (the spec words any refusal)
# ---------------------------------------------------------------------------------------------

def _fast_array(obs: Any, dims: tuple[int, ...]) -> "np.ndarray | None":
    """A fresh writable float64 copy of ``obs`` if it is a real numpy value of shape ``dims``."""
    if (type(obs) is np.ndarray or isinstance(obs, np.generic)) and obs.shape == dims and obs.dtype.kind in "fiu":
        if obs.dtype.itemsize > 8:  # longdouble: the float64 values the spec sees
            with np.errstate(over="ignore", under="ignore"):
                return np.array(obs, dtype=np.float64)
        return np.array(obs, dtype=np.float64)
    return None


def _frozen(arr: np.ndarray) -> np.ndarray:
    arr.setflags(write=False)
    return arr


def _frozen_flat(flat: Any, dims: tuple[int, ...]) -> np.ndarray:
    """The spec's row-major floats as a read-only float64 array of ``dims`` that owns its memory."""
    return _frozen(np.array(flat, dtype=np.float64).reshape(dims).copy())


def checked_observation(contract: Contract, obs: Any, obs_shape: Shape, field: str = "observation") -> np.ndarray:
    """A read-only float64 copy of ``obs`` after ``check_observation`` (raises on violation)."""
    arr = _fast_array(obs, obs_shape.dims)
    if arr is not None and observation_ok(contract, arr):
        return _frozen(arr)
    flat = check_observation(contract, obs, obs_shape, field)  # raises with every violation
    return _frozen_flat(flat, obs_shape.dims)


def checked_box_action(space: Box, action: Any) -> np.ndarray:
    """A read-only float64 copy of ``action`` after the Box contract (raises ``ContractViolation``)."""
    arr = _fast_array(action, space.shape.dims)
    if arr is not None and box_action_ok(space, arr):
        return _frozen(arr)
    flat = check_box_action(space, action)  # raises with every violation
    return _frozen_flat(flat, space.shape.dims)


def checked_action(space: "int | Box", action: Any) -> "int | np.ndarray":
    """``action`` as a session carries it — an ``int`` in ``Fin n``, or for a Box a read-only float64
    copy — after the action contract (raises ``ContractViolation`` naming the action)."""
    if isinstance(space, Box):
        return checked_box_action(space, action)
    if action_ok(space, action):
        return action
    return check_action(space, action)  # a numpy int becomes an int; anything outside Fin n raises


def checked_transition(contract: Contract, observation: np.ndarray, next_obs: Any, action: Any, reward: Any,
                       terminated: Any, truncated: Any, obs_shape: Shape, n_actions: "int | Box", *,
                       action_checked: bool = False) -> Transition:
    """``check_transition_fin`` with a numpy fast path.

    ``observation`` must be the session's stored observation (a read-only float64 array that already
    passed ``check_observation`` under ``contract``). ``n_actions`` is the action space: ``Fin n`` (an
    int) or a :class:`~rollcheck.spec.Box`. With ``action_checked`` the action is the value
    :func:`checked_action` returned (so it is not judged again). Returns a ``Transition`` whose arrays
    are read-only float64 copies; raises ``ContractViolation`` with every violation otherwise.
    """
    nxt = _fast_array(next_obs, obs_shape.dims)
    if nxt is not None and (action_checked or action_ok(n_actions, action)):
        r = accepted_reward(contract, reward, terminated, truncated)
        if r is not None and observation_ok(contract, nxt):
            nxt.setflags(write=False)  # the fresh copy becomes the transition's own immutable value
            return Transition(observation, action, r, nxt, terminated, truncated)
    # Slow path: the spec decides, and raises with the full violation list.
    return check_transition_fin(contract, observation, next_obs, action, reward, terminated, truncated,
                                obs_shape=obs_shape, action_space=n_actions)


# ---------------------------------------------------------------------------------------------
# Sources: what a session steps
# ---------------------------------------------------------------------------------------------

class Source(Protocol):
    """A stateful environment as a checked session sees it (the whole interface).

    ``reset(seed)`` returns the first observation (``seed`` is ``None`` after the first reset);
    ``step(action)`` returns ``(next_observation, reward, terminated, truncated)``, the observation
    being the true last one of the step; ``close()`` releases it. Nothing a source returns is
    trusted: the session judges all of it, and a source is only ever handed checked actions.
    """

    def reset(self, seed: "int | None") -> Any: ...

    def step(self, action: Any) -> "tuple[Any, Any, Any, Any]": ...

    def close(self) -> None: ...


class GymnasiumSource:
    """An in-process ``gymnasium.Env`` as a :class:`Source` (``info`` dicts are dropped)."""

    def __init__(self, env: Any) -> None:
        self.env = env

    def reset(self, seed: "int | None") -> Any:
        return self.env.reset(seed=seed)[0]

    def step(self, action: Any) -> "tuple[Any, Any, Any, Any]":
        next_obs, reward, terminated, truncated, _info = self.env.step(action)
        return next_obs, reward, terminated, truncated

    def close(self) -> None:
        self.env.close()


class SpecEnvSource:
    """A pure spec ``Env`` (Lean ``Spec.RL.Env``) as a :class:`Source`: it holds the latent state;
    ``reset`` goes back to ``env.initial_state`` (a pure env has no seed: the seed is ignored)."""

    def __init__(self, env: Env) -> None:
        self.env = check_instance("env", env, Env, "rollcheck.spec.Env")
        self.state = env.initial_state

    def reset(self, seed: "int | None") -> Any:
        self.state = self.env.initial_state
        return self.env.observe(self.state)

    def step(self, action: Any) -> "tuple[Any, Any, Any, Any]":
        out = self.env.step(self.state, action)
        self.state = out.state
        return self.env.observe(out.state), out.reward, out.terminated, out.truncated

    def close(self) -> None:
        return None


class BridgeSource:
    """A bridge client (:class:`rollcheck.impl.bridge_client.GymnasiumClient`) as a :class:`Source`:
    ``reset_raw``/``step_raw`` decode the server's replies strictly; the session judges them."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.step = client.step_raw  # the hot path calls the client directly

    def reset(self, seed: "int | None") -> Any:
        return self.client.reset_raw(seed)

    def close(self) -> None:
        self.client.close()


class SessionState(NamedTuple):
    """Lean ``Gymnasium.Session``: the judged observation to be used as ``observation`` on the next step."""

    observation: np.ndarray


def _session_observation(sess: SessionState) -> np.ndarray:
    return sess.observation


# ---------------------------------------------------------------------------------------------
# Gymnasium spaces as the session's types
# ---------------------------------------------------------------------------------------------

def box_of_gymnasium(space: Any) -> Box:
    """The :class:`~rollcheck.spec.Box` of a ``gymnasium.spaces.Box`` (shape, bounds, dtype; infinite
    bounds stay infinite, i.e. unbounded on that side)."""
    dtype = np.dtype(space.dtype).name
    if dtype not in ("float32", "float64"):
        raise ArgumentError(f"action_space={space!r} has dtype {dtype}; rollcheck's Box actions are float32/float64")
    return Box(tuple(int(d) for d in space.shape), np.asarray(space.low, dtype=np.float64),
               np.asarray(space.high, dtype=np.float64), dtype)


def _gymnasium_spaces(env: Any, obs_shape: Any, n_actions: Any) -> "tuple[Shape, int | Box]":
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
    if n_actions is not None and check_count("n_actions", n_actions) != n:
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


def _action_space(n_actions: Any, action_space: Any) -> "int | Box":
    """Exactly one of ``n_actions`` (``Fin n``) and ``action_space`` (a Box, or an int n)."""
    if action_space is None:
        return check_count("n_actions", n_actions)
    if n_actions is not None:
        raise ArgumentError(f"action_space={action_space!r:.80} given with n_actions={n_actions!r}; give one")
    if isinstance(action_space, Box):
        return action_space
    if isinstance(action_space, (bool, np.bool_)) or not isinstance(action_space, (int, np.integer)):
        raise ArgumentError(f"action_space={action_space!r:.80} should be a rollcheck.spec.Box "
                            "(and then n_actions is not given)")
    return check_count("action_space", action_space)


# ---------------------------------------------------------------------------------------------
# The session
# ---------------------------------------------------------------------------------------------

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
        if isinstance(self.action_space, Box):
            if n is not None:
                raise ArgumentError(f"CheckedSession.n_actions={n!r} should be None for a Box action space")
        else:
            n = check_count("CheckedSession.n_actions", n)
            object.__setattr__(self, "n_actions", n)
            if self.action_space is None:
                object.__setattr__(self, "action_space", n)
            elif self.action_space != n:
                raise ArgumentError(f"CheckedSession.action_space={self.action_space!r} should be n_actions={n} "
                                    "or a rollcheck.spec.Box")
        check_instance("CheckedSession.contract", self.contract, Contract, "rollcheck.spec.Contract")

    def __enter__(self) -> "CheckedSession[Sess]":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @classmethod
    def of_source(cls, source: Source, *, obs_shape: Any, n_actions: "int | None" = None,
                  action_space: "int | Box | None" = None, contract: Contract = Contract(),
                  seed: "int | None" = None, reset_on_done: bool = True) -> "CheckedSession[SessionState]":
        """A session over any :class:`Source` (see :func:`source_session`)."""
        return source_session(source, obs_shape=obs_shape, action_space=_action_space(n_actions, action_space),
                              contract=contract, seed=seed, reset_on_done=reset_on_done)

    @classmethod
    def gymnasium(cls, env: Any, seed: "int | None" = None, reset_on_done: bool = True,
                  contract: Contract = Contract(), obs_shape: Any = None,
                  n_actions: "int | None" = None) -> "CheckedSession[SessionState]":
        """A session over an in-process ``gymnasium.Env`` with a ``Discrete`` or ``Box`` action space.

        ``obs_shape``/``n_actions`` default to ``observation_space.shape``/``action_space.n`` and,
        when given, must agree with them (a ``Box`` session has ``n_actions=None`` and its
        ``action_space`` is the env's Box). ``close()`` closes ``env`` (once).
        """
        shape, space = _gymnasium_spaces(env, obs_shape, n_actions)
        return source_session(GymnasiumSource(env), obs_shape=shape, action_space=space, contract=contract,
                              seed=seed, reset_on_done=reset_on_done)

    @classmethod
    def of_env(cls, env: Env, contract: Contract = Contract(), reset_on_done: bool = True, *,
               obs_shape: Any, n_actions: "int | None" = None,
               action_space: "Box | None" = None) -> "CheckedSession[SessionState]":
        """A session over a pure spec ``Env`` (Lean ``CheckedSession.ofEnv``).

        On ``done`` with ``reset_on_done`` the state goes back to ``env.initial_state``. Give
        ``n_actions`` (``Fin n``) or ``action_space=Box(...)`` (continuous actions, a fresh float64
        array to ``env.step``).
        """
        space = _action_space(n_actions, action_space)
        return source_session(SpecEnvSource(env), obs_shape=obs_shape, action_space=space, contract=contract,
                              reset_on_done=reset_on_done)

    @classmethod
    def subprocess(cls, client: Any, seed: "int | None" = None, reset_on_done: bool = True,
                   contract: "Contract | None" = None) -> "CheckedSession[SessionState]":
        """A session over a bridge client (Lean ``CheckedSession.gymnasium`` on a ``Gymnasium.Client``).

        ``client`` is a :class:`rollcheck.impl.bridge_client.GymnasiumClient` (or anything with its
        ``obs_shape``, ``action_space``/``n_actions``, ``contract``, ``reset_raw``, ``step_raw`` and
        ``close``). The contract is ``contract`` if given, else the one the client carries (as
        TorchLean's session uses ``s.client.contract``). ``close()`` closes the client.
        """
        if contract is None:
            contract = getattr(client, "contract", None)
            if contract is None:
                contract = Contract()
        space = getattr(client, "action_space", None)
        if space is None:
            space = client.n_actions
        return source_session(BridgeSource(client), obs_shape=client.obs_shape,
                              action_space=space if isinstance(space, Box) else check_count("n_actions", space),
                              contract=contract, seed=seed, reset_on_done=reset_on_done)


def source_session(source: Source, *, obs_shape: Any, action_space: "int | Box", contract: Contract = Contract(),
                   seed: "int | None" = None, reset_on_done: bool = True) -> CheckedSession[SessionState]:
    """The checked session over ``source``: seed handling, reset on done, the action check and the
    contract, written once for every constructor (see the module docstring).

    ``action_space`` is ``n_actions`` (an int, ``Fin n``) or a :class:`~rollcheck.spec.Box`.
    ``close()`` closes the source (once).
    """
    shape = as_shape(obs_shape)
    space = action_space if isinstance(action_space, Box) else check_count("n_actions", action_space)
    contract = check_instance("contract", contract, Contract, "rollcheck.spec.Contract")
    seed = check_seed("seed", seed)
    reset_on_done = check_bool("reset_on_done", reset_on_done)
    reset, step, box = source.reset, source.step, isinstance(space, Box)

    def start() -> SessionState:
        return SessionState(checked_observation(contract, reset(seed), shape))

    def step_checked(sess: SessionState, action: Any) -> "tuple[Transition, SessionState]":
        action = checked_action(space, action)  # the source never sees an action outside the space
        next_obs, reward, terminated, truncated = step(action.copy() if box else action)
        tr = checked_transition(contract, sess.observation, next_obs, action, reward, terminated, truncated,
                                shape, space, action_checked=True)
        if reset_on_done and (tr.terminated or tr.truncated):
            return tr, SessionState(checked_observation(contract, reset(None), shape))
        return tr, SessionState(tr.next_observation)

    closed: list[bool] = []

    def close() -> None:
        if not closed:
            closed.append(True)
            source.close()

    return CheckedSession(start=start, observe=_session_observation, step_checked=step_checked, obs_shape=shape,
                          n_actions=None if box else space, contract=contract, close=close, action_space=space)
