"""A small numpy actor-critic (no torch) and the uniform policy, as the collector's callbacks.

Plays the role of TorchLean's ``predictLogits`` / ``predictValue`` arguments of
``PPO.collectRolloutFromCallbacks``: pure functions from an observation to ``logits : [n_actions]``
and to a scalar value.

:class:`MlpActorCritic` is CleanRL's ``ppo.py`` agent in float64 numpy: two separate tanh MLPs
(actor ``obs -> hidden... -> n_actions`` and critic ``obs -> hidden... -> 1``), orthogonal weights
(gain ``sqrt(2)`` on hidden layers, ``0.01`` on the actor head, ``1`` on the critic head), zero
biases, drawn from ``numpy.random.default_rng(seed)`` — never from global RNG state.

Arithmetic modes:

- ``exact=False`` (default): BLAS matrix products, fastest. Batched and single calls agree to
  rounding, not bit for bit (BLAS picks different kernels for one row and for many).
- ``exact=True``: each dense layer is ``(x[..., :, None] * W).sum(axis=-2) + b`` — a reduction
  over a non-contiguous axis that numpy evaluates in the same order for every row, so row ``i`` of
  ``predict_logits_batch(X)`` equals ``predict_logits(X[i])`` bit for bit (tested). Use it when a
  vectorised collection must equal independent reference collections exactly.

:class:`GaussianMlpActorCritic` is the continuous counterpart (CleanRL ``ppo_continuous_action.py``'s
agent: the same actor MLP gives the action mean, plus a state-independent ``log_std`` vector), for
``Box`` action spaces; its ``predict_gaussian(obs) -> (mean, log_std)`` feeds
:func:`rollcheck.impl.collect.collect_rollout_box_session_with` (an extension of TorchLean, whose
policies are categorical only).

Invariants enforced: ``obs_size``/``n_actions``/hidden sizes are positive ints; observations are
flattened to ``obs_size`` floats (a mismatch raises ``ArgumentError`` naming the sizes);
``predict_value`` returns a Python ``float``.
"""

from __future__ import annotations

from typing import Any, Iterable

import numpy as np

from rollcheck.spec import ArgumentError
from rollcheck.spec.arguments import check_bool, check_count, check_seed

__all__ = ["GaussianMlpActorCritic", "MlpActorCritic", "orthogonal", "standard_gaussian_policy", "uniform_logits",
           "uniform_policy", "zero_value"]


def orthogonal(rng: np.random.Generator, rows: int, cols: int, gain: float) -> np.ndarray:
    """A ``(rows, cols)`` matrix with orthonormal rows or columns, times ``gain`` (Saxe et al. 2013)."""
    a = rng.standard_normal((max(rows, cols), min(rows, cols)))
    q, r = np.linalg.qr(a)
    q = q * np.sign(np.diag(r))  # make the decomposition unique (uniform over the orthogonal group)
    w = q if rows >= cols else q.T
    return gain * w[:rows, :cols]


def _layers(rng: np.random.Generator, sizes: list[int], out_gain: float) -> list[tuple[np.ndarray, np.ndarray]]:
    layers = []
    for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        gain = out_gain if i == len(sizes) - 2 else np.sqrt(2.0)
        # W stored as (in, out), C-contiguous: BLAS results depend on the memory layout, so fix it
        layers.append((np.ascontiguousarray(orthogonal(rng, n_in, n_out, gain)), np.zeros(n_out)))
    return layers


class MlpActorCritic:
    """Separate actor and critic tanh MLPs over flattened float64 observations."""

    def __init__(self, obs_size: int, n_actions: int, hidden: Iterable[int] = (64, 64), seed: int = 0,
                 exact: bool = False) -> None:
        self.obs_size = check_count("obs_size", obs_size)
        self.n_actions = check_count("n_actions", n_actions)
        self.hidden = tuple(check_count(f"hidden[{i}]", h) for i, h in enumerate(hidden))
        self.seed = check_seed("seed", seed, optional=False)
        self.exact = check_bool("exact", exact)
        rng = np.random.default_rng(self.seed)
        sizes = [self.obs_size, *self.hidden]
        self.actor = _layers(rng, [*sizes, self.n_actions], 0.01)
        self.critic = _layers(rng, [*sizes, 1], 1.0)
        for w, b in self.actor + self.critic:
            w.setflags(write=False)
            b.setflags(write=False)

    # -- parameters ---------------------------------------------------------------------------
    @property
    def params(self) -> dict[str, np.ndarray]:
        """``{"actor.0.weight": (in, out), "actor.0.bias": (out,), ..., "critic.k.bias": ...}`` (copies)."""
        out: dict[str, np.ndarray] = {}
        for name, layers in (("actor", self.actor), ("critic", self.critic)):
            for i, (w, b) in enumerate(layers):
                out[f"{name}.{i}.weight"] = w.copy()
                out[f"{name}.{i}.bias"] = b.copy()
        return out

    @classmethod
    def from_params(cls, params: dict[str, Any], exact: bool = False) -> "MlpActorCritic":
        """Rebuild a network from :attr:`params` (sizes are read from the weight shapes)."""
        def stack(name: str) -> list[tuple[np.ndarray, np.ndarray]]:
            layers = []
            i = 0
            while f"{name}.{i}.weight" in params:
                w = np.array(params[f"{name}.{i}.weight"], dtype=np.float64, order="C")
                b = np.array(params.get(f"{name}.{i}.bias", np.zeros(w.shape[-1])), dtype=np.float64, order="C")
                if w.ndim != 2 or b.shape != (w.shape[1],):
                    raise ArgumentError(f"params[{name}.{i}]: weight {w.shape} and bias {b.shape} do not fit")
                layers.append((w, b))
                i += 1
            if not layers:
                raise ArgumentError(f"params has no {name}.0.weight")
            for (w0, _), (w1, _) in zip(layers[:-1], layers[1:]):
                if w0.shape[1] != w1.shape[0]:
                    raise ArgumentError(f"params[{name}]: layer sizes {w0.shape} -> {w1.shape} do not chain")
            return layers

        actor, critic = stack("actor"), stack("critic")
        if actor[0][0].shape[0] != critic[0][0].shape[0] or critic[-1][0].shape[1] != 1:
            raise ArgumentError("params: actor and critic disagree on obs_size, or the critic head is not 1-wide")
        net = cls(actor[0][0].shape[0], actor[-1][0].shape[1], [w.shape[1] for w, _ in actor[:-1]],
                  exact=exact)
        for w, b in actor + critic:
            w.setflags(write=False)
            b.setflags(write=False)
        net.actor, net.critic = actor, critic
        net.hidden = tuple(w.shape[1] for w, _ in actor[:-1])
        return net

    # -- forward passes -----------------------------------------------------------------------
    def _flat(self, obs: Any) -> np.ndarray:
        x = np.asarray(obs, dtype=np.float64).reshape(-1)
        if x.shape[0] != self.obs_size:
            raise ArgumentError(f"observation has {x.shape[0]} entries, the network expects obs_size={self.obs_size}")
        return x

    def _flat_batch(self, obs_batch: Any) -> np.ndarray:
        x = np.asarray(obs_batch, dtype=np.float64)
        if x.ndim == 0:
            raise ArgumentError("obs_batch is a scalar; expected shape (B, *obs_shape)")
        x = x.reshape(x.shape[0], -1)
        if x.shape[1] != self.obs_size:
            raise ArgumentError(f"obs_batch rows have {x.shape[1]} entries, the network expects obs_size={self.obs_size}")
        return x

    def _forward(self, layers: list[tuple[np.ndarray, np.ndarray]], x: np.ndarray) -> np.ndarray:
        last = len(layers) - 1
        for i, (w, b) in enumerate(layers):
            x = ((x[..., :, None] * w).sum(axis=-2) if self.exact else x @ w) + b
            if i != last:
                x = np.tanh(x)
        return x

    def predict_logits(self, obs: Any) -> np.ndarray:
        """Actor logits ``(n_actions,)`` for one observation."""
        return self._forward(self.actor, self._flat(obs))

    def predict_value(self, obs: Any) -> float:
        """Critic value for one observation, as a Python ``float``."""
        return float(self._forward(self.critic, self._flat(obs))[0])

    def predict_logits_batch(self, obs_batch: Any) -> np.ndarray:
        """Actor logits ``(B, n_actions)`` for a batch ``(B, *obs_shape)``."""
        return self._forward(self.actor, self._flat_batch(obs_batch))

    def predict_value_batch(self, obs_batch: Any) -> np.ndarray:
        """Critic values ``(B,)`` for a batch ``(B, *obs_shape)``."""
        return self._forward(self.critic, self._flat_batch(obs_batch))[:, 0]


class _UniformPolicy:
    """Zero logits (the uniform categorical policy) and a zero critic, for ``--policy random``."""

    def __init__(self, n_actions: int) -> None:
        self.n_actions = check_count("n_actions", n_actions)
        self._zeros = np.zeros(self.n_actions)
        self._zeros.setflags(write=False)

    def predict_logits(self, obs: Any) -> np.ndarray:
        return self._zeros

    def predict_value(self, obs: Any) -> float:
        return 0.0

    def predict_logits_batch(self, obs_batch: Any) -> np.ndarray:
        return np.zeros((len(obs_batch), self.n_actions))

    def predict_value_batch(self, obs_batch: Any) -> np.ndarray:
        return np.zeros(len(obs_batch))


def uniform_policy(n_actions: int) -> _UniformPolicy:
    """The uniform policy object (same four methods as :class:`MlpActorCritic`)."""
    return _UniformPolicy(n_actions)


def uniform_logits(n_actions: int):
    """``predict_logits`` of the uniform policy: ``obs -> zeros(n_actions)``."""
    return uniform_policy(n_actions).predict_logits


def zero_value(obs: Any) -> float:
    """``predict_value`` of the uniform policy: always ``0.0``."""
    return 0.0


class GaussianMlpActorCritic:
    """CleanRL ``ppo_continuous_action.py``'s agent in float64 numpy: a tanh MLP for the action mean
    (``obs -> hidden... -> action_size``, head gain ``0.01``), a state-independent ``log_std`` vector
    (CleanRL's ``actor_logstd``, SB3's ``log_std``; ``log_std_init`` everywhere, default ``0.0``) and
    a critic MLP; weights as :class:`MlpActorCritic` (orthogonal, from ``default_rng(seed)``).

    ``predict_gaussian(obs) -> (mean, log_std)`` is the continuous counterpart of ``predict_logits``;
    both are ``(action_size,)`` float64 arrays (``log_std`` read-only, the same array every call).
    """

    def __init__(self, obs_size: int, action_size: int, hidden: Iterable[int] = (64, 64), seed: int = 0,
                 log_std_init: float = 0.0, exact: bool = False) -> None:
        if isinstance(log_std_init, bool) or not isinstance(log_std_init, (int, float)) or not np.isfinite(log_std_init):
            raise ArgumentError(f"log_std_init={log_std_init!r} should be a finite float")
        self.net = MlpActorCritic(obs_size, action_size, hidden, seed=seed, exact=exact)
        self.obs_size, self.action_size = self.net.obs_size, self.net.n_actions
        self.log_std = np.full(self.action_size, float(log_std_init))
        self.log_std.setflags(write=False)

    def predict_mean(self, obs: Any) -> np.ndarray:
        """The action mean ``(action_size,)`` for one observation."""
        return self.net.predict_logits(obs)

    def predict_gaussian(self, obs: Any) -> "tuple[np.ndarray, np.ndarray]":
        """``(mean, log_std)`` for one observation."""
        return self.net.predict_logits(obs), self.log_std

    def predict_value(self, obs: Any) -> float:
        return self.net.predict_value(obs)

    def predict_gaussian_batch(self, obs_batch: Any) -> "tuple[np.ndarray, np.ndarray]":
        """``(mean (B, action_size), log_std (B, action_size))`` for a batch."""
        mean = self.net.predict_logits_batch(obs_batch)
        return mean, np.broadcast_to(self.log_std, mean.shape)

    def predict_value_batch(self, obs_batch: Any) -> np.ndarray:
        return self.net.predict_value_batch(obs_batch)


class _StandardGaussianPolicy:
    """Zero mean, unit standard deviation and a zero critic, for ``--policy random`` on a Box."""

    def __init__(self, action_size: int) -> None:
        self.action_size = check_count("action_size", action_size)
        self._zeros = np.zeros(self.action_size)
        self._zeros.setflags(write=False)

    def predict_gaussian(self, obs: Any) -> "tuple[np.ndarray, np.ndarray]":
        return self._zeros, self._zeros

    def predict_value(self, obs: Any) -> float:
        return 0.0

    def predict_gaussian_batch(self, obs_batch: Any) -> "tuple[np.ndarray, np.ndarray]":
        z = np.zeros((len(obs_batch), self.action_size))
        return z, z

    def predict_value_batch(self, obs_batch: Any) -> np.ndarray:
        return np.zeros(len(obs_batch))


def standard_gaussian_policy(action_size: int) -> _StandardGaussianPolicy:
    """The N(0, I) policy object (``predict_gaussian``/``predict_value`` and their batch forms)."""
    return _StandardGaussianPolicy(action_size)
