"""The checked session over the subprocess bridge, and the contract checks on decoded replies.

Mirrors TorchLean's ``NN.Runtime.RL.Gymnasium.Session`` (``start``, ``stepChecked`` with
``resetOnDone``) as :func:`bridge_session`, a :class:`rollcheck.impl.session.CheckedSession` over a
:class:`rollcheck.impl.bridge_client.GymnasiumClient`; and the reply checks the client applies in
``reset``/``step``/``step_many``/``vec_reset``/``vec_step`` (:func:`check_reset_reply`,
:func:`check_step_reply`, :func:`check_step_batch`, :func:`check_vec_reset_reply`).

Invariants enforced:

- every transition of a bridge session passes :func:`rollcheck.spec.check_transition_fin`
  (through :func:`rollcheck.impl.session.checked_transition`, the numpy fast path shared with the
  in-process sessions; any rejection is decided and explained by the spec), and every observation
  the session stores is a checked read-only float64 copy;
- an action outside ``Fin n_actions`` is refused before anything is sent;
- the reply checks accept through a numpy fast path and reject only through the spec's
  ``*_violations`` functions, raising :class:`BridgeContractViolation` (a ``ContractViolation``
  *and* a ``BridgeError``) with every violation, named by field (and step index in a batch).

Everything here is re-exported by :mod:`rollcheck.impl.bridge_client`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from rollcheck.impl.bridge_protocol import BridgeContractViolation, StepBatch
from rollcheck.impl.contract_judge import observation_ok, reward_ok
from rollcheck.impl.session import CheckedSession, checked_observation, checked_transition
from rollcheck.spec import (Contract, Shape, Transition, check_action, done_flags_violations,
                            observation_violations, reward_violations)
from rollcheck.spec.arguments import check_bool, check_seed
from rollcheck.spec.errors import ArgumentError

if TYPE_CHECKING:  # pragma: no cover
    from rollcheck.impl.bridge_client import GymnasiumClient

__all__ = ["BridgeSessionState", "bridge_session", "check_reset_reply", "check_step_batch",
           "check_step_reply", "check_vec_reset_reply"]


def _raise_if(violations: list) -> None:
    if violations:
        raise BridgeContractViolation(violations)


def check_reset_reply(contract: Contract, obs_shape: Shape, obs: np.ndarray) -> None:
    """Raise :class:`BridgeContractViolation` if a decoded reset observation breaks ``contract``."""
    if not observation_ok(contract, obs):
        _raise_if(observation_violations(contract, obs, obs_shape, "obs"))


def check_vec_reset_reply(contract: Contract, obs_shape: Shape, obs: np.ndarray) -> None:
    """:func:`check_reset_reply` for each sub-env row of a ``vec_reset`` reply (violations carry the index)."""
    if not observation_ok(contract, obs):
        _raise_if([v.at(i) for i in range(len(obs))
                   for v in observation_violations(contract, obs[i], obs_shape, "obs")])


def check_step_reply(contract: Contract, obs_shape: Shape, obs: np.ndarray, reward: float,
                     terminated: bool, truncated: bool) -> None:
    """Raise :class:`BridgeContractViolation` with every violation of a decoded step reply.

    numpy fast path for acceptance; the spec's ``*_violations`` functions decide and explain any
    rejection (so this agrees with the spec by construction whenever it rejects, and the tests
    check it never accepts what the spec rejects).
    """
    c = contract
    if not (observation_ok(c, obs) and reward_ok(c, reward)
            and not (c.require_exclusive_done_flags and terminated and truncated)):
        _raise_if(done_flags_violations(c, terminated, truncated) + reward_violations(c, reward)
                  + observation_violations(c, obs, obs_shape, "obs"))


def check_step_batch(contract: Contract, obs_shape: Shape, batch: StepBatch) -> None:
    """:func:`check_step_reply` for every step of a ``step_many`` reply (violations carry the step index)."""
    c, rewards = contract, batch.reward
    if (observation_ok(c, batch.obs) and observation_ok(c, batch.reset_obs)
            and (not c.check_reward_finite or np.isfinite(rewards).all())
            and (c.reward_range is None or ((rewards >= c.reward_range[0]) & (rewards <= c.reward_range[1])).all())
            and not (c.require_exclusive_done_flags and (batch.terminated & batch.truncated).any())):
        return
    found = []
    for i in range(len(rewards)):
        te, tr, r = bool(batch.terminated[i]), bool(batch.truncated[i]), float(rewards[i])
        found += [v.at(i) for v in done_flags_violations(c, te, tr) + reward_violations(c, r)
                  + observation_violations(c, batch.obs[i], obs_shape, "obs")]
    for j in range(len(batch.reset_obs)):
        found += observation_violations(c, batch.reset_obs[j], obs_shape, f"reset_obs[{j}]")
    _raise_if(found)


@dataclass(frozen=True, eq=False)
class BridgeSessionState:
    """Lean ``Gymnasium.Session``: the current observation (a read-only float64 copy)."""

    observation: np.ndarray


def bridge_session(client: "GymnasiumClient", contract: "Contract | None" = None,
                   seed: "int | None" = None, reset_on_done: bool = True) -> CheckedSession:
    """A :class:`CheckedSession` over ``client`` with TorchLean's ``Gymnasium.Session`` semantics.

    ``start()`` resets with ``seed``; ``step_checked(sess, a)`` checks the action, sends it
    (``stepRaw``), validates the transition with :func:`rollcheck.spec.check_transition_fin`
    (through :func:`rollcheck.impl.session.checked_transition`, its numpy fast path shared with the
    in-process sessions; any failure is decided by the spec) and raises ``ContractViolation``;
    the transition's ``next_observation`` is the true post-step observation, and with
    ``reset_on_done`` the next state holds a fresh (unseeded) reset observation after a ``done``.
    ``close()`` closes the client. ``contract`` defaults to the one the client was spawned with.
    """
    if contract is None:  # TorchLean's Session.stepChecked checks s.client.contract
        contract = getattr(client, "contract", None) or Contract()
    if not isinstance(contract, Contract):
        raise ArgumentError(f"contract={contract!r} should be a rollcheck.spec.Contract")
    reset_on_done = check_bool("reset_on_done", reset_on_done)
    seed = check_seed("seed", seed)
    shape, n_actions = client.obs_shape, client.n_actions
    step_raw = client.step_raw

    def reset(reset_seed: "int | None") -> BridgeSessionState:
        return BridgeSessionState(checked_observation(contract, client.reset_raw(reset_seed), shape))

    def start() -> BridgeSessionState:
        return reset(seed)

    def observe(sess: BridgeSessionState) -> np.ndarray:
        return sess.observation

    def step_checked(sess: BridgeSessionState, action: int) -> "tuple[Transition, BridgeSessionState]":
        if type(action) is not int or not 0 <= action < n_actions:
            action = check_action(n_actions, action)  # never send an action outside Fin n_actions
        next_obs, reward, terminated, truncated = step_raw(action)
        tr = checked_transition(contract, sess.observation, next_obs, action, reward, terminated,
                                truncated, shape, n_actions)
        if reset_on_done and (terminated or truncated):
            return tr, reset(None)
        return tr, BridgeSessionState(tr.next_observation)

    return CheckedSession(start=start, observe=observe, step_checked=step_checked, obs_shape=shape,
                          n_actions=n_actions, contract=contract, close=client.close)
