"""Tianshou replay buffers (and the batch its PPO/A2C preprocessing adds to) as ``validate_arrays`` arrays.

Mirrors what TorchLean's ``PPO.collectRolloutFromCallbacks`` records per step, for a Tianshou
``Collector`` writing ``N`` sub-envs into a ``VectorReplayBuffer(total_size, buffer_num=N)``: each
sub-buffer holds one sub-env's steps in order (``obs``, ``act``, ``rew``, ``terminated``,
``truncated``, ``done``, ``obs_next``). Tianshou's on-policy algorithms compute the rest *after*
collection, in ``_preprocess_batch`` on ``buffer.sample(0)``: ``v_s`` (the critic on ``obs``),
``logp_old`` (the actor's log-probability of ``act``), ``adv`` (GAE) and ``returns``.

:func:`tianshou_arrays` lays all of them out as ``(T, N)`` (time by sub-env, the ``"step"`` done
convention); invariant: sub-env ``i``'s column is sub-buffer ``i`` oldest first (wrapped circular
buffers included), every sub-buffer must hold the same number ``T`` of steps, and the batch's
fields are placed by the buffer indices they belong to. :func:`validate_tianshou` runs
``validate_arrays`` with the env's own record as ground truth when a trace is given (the buffer's
split flags are then not evidence, as in :mod:`rollcheck.properties.rollout.torchrl`). Because
Tianshou *recomputes* ``logp_old`` and ``v_s`` with the networks it then trains, the two policy
checks (``arrays.logprob_matches_policy``, ``arrays.value_matches_critic``) only restate that
computation: the report's meta lists them under ``"tautological"``; the GAE, returns, trace and
truncation checks are independent of it.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from rollcheck.spec.errors import ArgumentError

from rollcheck.properties.core.report import Report
from rollcheck.properties.rollout.arrays import validate_arrays
from rollcheck.properties.rollout.arrays_policy import policy_fns
from rollcheck.properties.rollout.recording import VecTrace

__all__ = ["TAUTOLOGICAL", "tianshou_arrays", "validate_tianshou"]

#: The checks that only restate Tianshou's own post-collection recomputation.
TAUTOLOGICAL = ("arrays.logprob_matches_policy: Tianshou recomputes logp_old after collection with the actor",
                "arrays.value_matches_critic: Tianshou recomputes v_s after collection with the critic")

_BATCH_FIELDS = {"logprobs": "logp_old", "values": "v_s", "advantages": "adv", "returns": "returns"}


def _numpy(value: Any) -> np.ndarray:
    if hasattr(value, "detach"):
        value = value.detach().cpu().numpy()
    return np.asarray(value)


def _ordered_indices(buffer: Any) -> np.ndarray:
    """``(N, T)`` buffer indices: row ``i`` is sub-buffer ``i``, oldest step first."""
    subs = getattr(buffer, "buffers", None)
    if subs is None:  # one plain ReplayBuffer: N = 1
        return np.asarray(buffer.sample_indices(0))[None]
    offsets = getattr(buffer, "_offset", None)
    rows = [np.asarray(sub.sample_indices(0)) + (0 if offsets is None else int(offsets[i]))
            for i, sub in enumerate(subs)]
    lengths = [len(r) for r in rows]
    if len(set(lengths)) != 1 or lengths[0] == 0:
        raise ArgumentError(f"the Tianshou buffer's sub-buffers hold {lengths} steps; validate_arrays needs the "
                            f"same number T >= 1 in each (collect n_step = T * num_envs into a "
                            f"VectorReplayBuffer(T * num_envs, buffer_num=num_envs))")
    return np.stack(rows)


def tianshou_arrays(buffer: Any, batch: Any = None, indices: Any = None, *, flags: bool = True) -> dict:
    """The ``validate_arrays`` arrays (``dones_convention="step"``) of a Tianshou buffer.

    ``batch``/``indices``: what Tianshou's preprocessing made of ``buffer.sample(0)`` (fields
    ``logp_old``, ``v_s``, and ``adv``/``returns`` when present), ``indices`` the buffer index of each
    batch row (default: ``buffer.sample_indices(0)``, the order ``sample(0)`` uses). Without a batch
    the required ``logprobs``/``values`` are missing: an ``ArgumentError`` says so. ``next_obs`` is
    each sub-env's ``obs_next`` after the last step.
    """
    if not hasattr(buffer, "sample_indices"):
        raise ArgumentError(f"buffer={type(buffer).__name__} should be a Tianshou ReplayBuffer or VectorReplayBuffer")
    if batch is None:
        raise ArgumentError("batch=None: Tianshou computes logp_old and v_s only in its algorithm's preprocessing "
                            "(batch, indices = buffer.sample(0); batch = algorithm._preprocess_batch(batch, buffer, "
                            "indices)); pass that batch")
    order = _ordered_indices(buffer)  # (N, T)
    grid = order.T  # (T, N) buffer indices

    def field(name: str) -> np.ndarray:
        return _numpy(getattr(buffer, name))[grid]

    arrays = {"obs": field("obs"), "actions": field("act"), "rewards": field("rew"), "dones": field("done"),
              "next_obs": field("obs_next")[-1]}
    if flags:
        arrays["terminated"], arrays["truncated"] = field("terminated"), field("truncated")
    rows = np.asarray(buffer.sample_indices(0) if indices is None else _numpy(indices)).astype(np.int64)
    position = np.full(int(order.max()) + 1, -1, np.int64)
    position[rows] = np.arange(len(rows))
    where = position[grid]
    if (where < 0).any():
        raise ArgumentError(f"the batch covers {len(rows)} buffer rows, but the buffer holds {grid.size} steps: "
                            f"pass the batch of buffer.sample(0) and its indices")
    missing = [key for name, key in _BATCH_FIELDS.items() if name in ("logprobs", "values") and
               getattr(batch, key, None) is None]
    if missing:
        raise ArgumentError(f"the batch has no field(s) {missing}: pass the batch after the algorithm's "
                            f"preprocessing (A2C/PPO add v_s, PPO adds logp_old)")
    for name, key in _BATCH_FIELDS.items():
        value = getattr(batch, key, None)
        if value is not None:
            arrays[name] = _numpy(value).reshape(len(rows))[where]
    return arrays


def validate_tianshou(buffer: Any, batch: Any, indices: Any = None, *, trace: "VecTrace | None" = None,
                      policy: Any = None, n_actions: "int | None" = None, gamma: float = 0.99,
                      lam: float = 0.95, **kwargs: Any) -> Report:
    """``validate_arrays`` on a Tianshou buffer and its preprocessed batch (see the module docstring).

    With a ``policy``, ``next_value`` is its critic at the last step's ``obs_next`` (what Tianshou
    bootstraps from as ``v_s_``), so the GAE of the last, unfinished episode is compared too.
    """
    arrays = tianshou_arrays(buffer, batch, indices, flags=trace is None)
    if policy is not None:
        arrays["next_value"] = policy_fns(policy)[1](arrays["next_obs"])
    report = validate_arrays(arrays, trace=trace, policy=policy, gamma=gamma, lam=lam, n_actions=n_actions,
                             dones_convention="step", **kwargs)
    report.target = "Tianshou buffer"
    report.meta["source"] = "tianshou"
    report.meta["tautological"] = list(TAUTOLOGICAL)
    return report
