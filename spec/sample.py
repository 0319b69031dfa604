"""The actor-critic minibatch built from a rollout.

Mirrors TorchLean's ``Runtime.RL.PPO.Rollout.toActorCriticSample`` (``NN/Runtime/RL/PPO/Rollout.lean``
at lean-dojo/TorchLean 411682f6c3d913e5cdbc27d4546b3ab7ac0e3e9c), renamed ``Rollout.trainingBatch``
returning a ``TrainingBatch`` at 4ec1f62bf8308e2dc7f4d73e64205e66270ccfd1 (aliases
:data:`training_batch`, :data:`TrainingBatch`): five tensors

    states          (T, *obs_shape)
    actions_one_hot (T, n_actions)
    old_log_prob    (T,)
    advantages      (T,)      GAE, z-scored (variance reduction for the policy term)
    value_target    (T, 1)    λ-returns from the *unnormalised* advantages

The arithmetic is the pure-Python spec (:mod:`rollcheck.spec.advantage`, TorchLean's operations in
TorchLean's order); numpy only packages the result. Bootstrapping follows the split-flag choice
documented there; ``generation="seed_api"`` masks both terms with ``done`` instead, as every stored
TorchLean ``toActorCriticSample``/``trainingBatch`` does (its ``Step`` has no ``terminated``).

For a rollout with a continuous ``Box`` action space (rollcheck's extension of TorchLean,
:mod:`rollcheck.spec.box`), ``actions_one_hot`` holds the recorded action tensors instead, one row
each: ``(T, d)`` with ``d = action_space.size``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .arguments import check_count
from .advantage import generalized_advantage_estimation, normalize_zscore, returns_from_advantages
from .errors import ArgumentError
from .rollout import Rollout

__all__ = ["ActorCriticSample", "TrainingBatch", "to_actor_critic_sample", "training_batch"]


@dataclass(frozen=True, eq=False)
class ActorCriticSample:
    """The PPO minibatch (shapes in the module docstring)."""

    states: np.ndarray
    actions_one_hot: np.ndarray
    old_log_prob: np.ndarray
    advantages: np.ndarray
    value_target: np.ndarray

    def as_tuple(self) -> tuple[np.ndarray, ...]:
        return (self.states, self.actions_one_hot, self.old_log_prob, self.advantages, self.value_target)


def to_actor_critic_sample(rollout: Rollout, gamma: float, lam: float,
                           n_actions: "int | None" = None, *, generation: str = "callbacks") -> ActorCriticSample:
    """Build the minibatch; ``n_actions`` defaults to ``rollout.n_actions`` (unused for a Box rollout).

    ``generation="callbacks"`` (default) bootstraps by ``terminated`` and carries by ``done``
    (split masks); ``generation="seed_api"`` uses ``done`` for both, TorchLean's
    ``generalizedAdvantageEstimationVec`` on a rollout without ``terminated``.
    """
    if generation not in ("callbacks", "seed_api"):
        raise ArgumentError(f"generation={generation!r} should be one of ['callbacks', 'seed_api']")
    if rollout.action_space is not None and n_actions is None:   # Box actions: the (T, d) action rows
        return _sample(rollout, gamma, lam, np.stack([st.action.reshape(-1) for st in rollout.steps]), generation)
    n = rollout.n_actions if n_actions is None else n_actions
    if n is None:
        raise ArgumentError("to_actor_critic_sample: n_actions is required (the rollout does not record it)")
    n = check_count("n_actions", n)
    for t, st in enumerate(rollout.steps):
        if st.action >= n:
            raise ArgumentError(f"step {t}: action={st.action} is out of range (n_actions={n})")
    one_hot = np.zeros((rollout.horizon, n), dtype=np.float64)
    one_hot[np.arange(rollout.horizon), rollout.actions] = 1.0
    return _sample(rollout, gamma, lam, one_hot, generation)


def _sample(rollout: Rollout, gamma: float, lam: float, actions: np.ndarray, generation: str) -> ActorCriticSample:
    terminated = rollout.dones if generation == "seed_api" else rollout.terminateds
    raw = generalized_advantage_estimation(gamma, lam, rollout.rewards, rollout.values,
                                           rollout.next_values, rollout.dones, terminated)
    returns = returns_from_advantages(raw, rollout.values)
    return ActorCriticSample(
        states=np.stack([np.asarray(st.state) for st in rollout.steps]),
        actions_one_hot=actions,
        old_log_prob=np.array(rollout.old_log_probs, dtype=np.float64),
        advantages=np.array(normalize_zscore(raw), dtype=np.float64),
        value_target=np.array(returns, dtype=np.float64).reshape(rollout.horizon, 1),
    )


# TorchLean's newer names (``Rollout.trainingBatch`` / ``TrainingBatch``): the same objects.
training_batch = to_actor_critic_sample
TrainingBatch = ActorCriticSample
