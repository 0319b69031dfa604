"""TorchRL collector batches (TensorDicts) as the CleanRL-style arrays ``validate_arrays`` checks.

Mirrors what TorchLean's ``PPO.collectRolloutFromCallbacks`` records per step (observation,
action, ``actionLogSoftmax``, reward, ``terminated``/``truncated``, value) for a TorchRL
``Collector``: its batches are TensorDicts of batch shape ``(N, T)`` (sub-env first) or ``(T,)``
(one env) with keys ``observation``, ``action`` (indices, or one-hot for a ``OneHot`` spec), the
log-probability (``action_log_prob``, or the older ``sample_log_prob``), ``state_value`` and
``("next", "reward" | "done" | "terminated" | "truncated" | "state_value")``, plus ``advantage``
and ``value_target`` once TorchRL's ``GAE`` has run. :func:`torchrl_arrays` transposes them to
``(T, N)``, squeezes TorchRL's trailing ``1`` and decodes one-hot actions; invariant: every
array it returns has the ``(T, N)`` layout of :mod:`rollcheck.properties.rollout.arrays`, a
missing key is an ``ArgumentError`` naming it, and the flags come out with the ``"step"`` done
convention.

:func:`validate_torchrl` runs ``validate_arrays`` on a batch with the env's own record (a
:class:`~rollcheck.properties.rollout.recording.SubEnvRecorder` trace) as ground truth: with a
trace, the batch's ``terminated``/``truncated`` are not used as evidence — the env's own flags are
(the batch's ``done`` is compared to them), so a library or wrapper that drops or converts a
truncation cannot vouch for itself. TorchRL's ``GAE`` recomputes ``state_value`` with the value
network it is given: when the batch's values come from there, ``arrays.value_matches_critic`` only
restates TorchRL's own computation (the report's meta says so under ``"tautological"``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from rollcheck.spec.errors import ArgumentError

from rollcheck.properties.core.report import Report
from rollcheck.properties.rollout.arrays import validate_arrays
from rollcheck.properties.rollout.recording import VecTrace
from rollcheck.properties.rollout.torch_policy import TorchPolicy

__all__ = ["LOG_PROB_KEYS", "torchrl_arrays", "torchrl_policy", "validate_torchrl"]

#: Where TorchRL's ``ProbabilisticActor(return_log_prob=True)`` writes the log-probability
#: (newest name first).
LOG_PROB_KEYS = ("action_log_prob", "sample_log_prob")


def _numpy(batch: Any, key: Any, *, required: bool = True) -> "np.ndarray | None":
    value = batch.get(key, None)
    if value is None:
        if required:
            present = sorted(str(k) for k in batch.keys(include_nested=True, leaves_only=True))
            raise ArgumentError(f"the TorchRL batch has no key {key!r} (keys: {present})")
        return None
    return value.detach().cpu().numpy()


def _time_major(arr: np.ndarray, batch_dims: int, scalar: bool) -> np.ndarray:
    """``(N, T, ...)`` (or ``(T, ...)``) -> ``(T, N, ...)``; a scalar's trailing 1 squeezed."""
    if batch_dims == 1:
        arr = arr[None]
    arr = np.swapaxes(arr, 0, 1)
    if scalar and arr.ndim == 3 and arr.shape[2] == 1:
        arr = arr[..., 0]
    return arr


def _actions(arr: np.ndarray) -> np.ndarray:
    if arr.ndim == 2:
        return arr
    if arr.ndim == 3 and arr.shape[2] > 1:  # one-hot (TorchRL's OneHot spec)
        ones = arr.astype(np.float64)
        if not (np.isin(ones, (0.0, 1.0)).all() and (ones.sum(axis=2) == 1).all()):
            raise ArgumentError(f"the batch's 'action' has shape {list(arr.shape)} (T, N, k) but is not one-hot; "
                                f"pass integer actions or a one-hot encoding")
        return ones.argmax(axis=2)
    raise ArgumentError(f"the batch's 'action' has shape {list(arr.shape)}; expected (T, N) indices or "
                        f"(T, N, n_actions) one-hot")


def torchrl_arrays(batch: Any, *, obs_key: Any = "observation", log_prob_key: Any = None,
                   value_key: Any = "state_value", advantage_key: Any = "advantage",
                   returns_key: Any = "value_target", flags: bool = True) -> dict:
    """The ``validate_arrays`` arrays (``dones_convention="step"``) of one TorchRL collector batch.

    ``advantages``/``returns`` are included when the batch has them (after TorchRL's ``GAE``),
    ``next_obs``/``next_value`` (the last step's true next observation and its value) when it has
    ``("next", value_key)``; ``flags=False`` leaves out the batch's
    ``terminated``/``truncated`` (so the trace's are used instead).
    """
    dims = getattr(batch, "batch_dims", None)
    if dims not in (1, 2):
        raise ArgumentError(f"batch={type(batch).__name__} with batch_dims={dims!r} should be a TensorDict "
                            f"from a TorchRL collector, of batch shape (N, T) or (T,)")
    if log_prob_key is None:
        log_prob_key = next((k for k in LOG_PROB_KEYS if batch.get(k, None) is not None), LOG_PROB_KEYS[0])

    def col(key: Any, scalar: bool = True, required: bool = True) -> "np.ndarray | None":
        arr = _numpy(batch, key, required=required)
        return None if arr is None else _time_major(arr, dims, scalar)

    arrays = {"obs": col(obs_key, scalar=False), "actions": _actions(col("action", scalar=False)),
              "logprobs": col(log_prob_key), "rewards": col(("next", "reward")),
              "dones": col(("next", "done")), "values": col(value_key)}
    for name, key in (("advantages", advantage_key), ("returns", returns_key)):
        arr = col(key, required=False)
        if arr is not None:
            arrays[name] = arr
    next_value = col(("next", value_key), required=False)
    if next_value is not None:  # V of the true next observation of the last step (TorchRL's bootstrap)
        arrays["next_obs"] = col(("next", obs_key), scalar=False)[-1]
        arrays["next_value"] = next_value[-1]
    if flags:
        for name in ("terminated", "truncated"):
            arr = col(("next", name), required=False)
            if arr is not None:
                arrays[name] = arr
    return arrays


def torchrl_policy(logits_module: Any, value_module: Any, *, obs_key: Any = "observation",
                   logits_key: Any = "logits", value_key: Any = "state_value") -> TorchPolicy:
    """The policy ``validate_arrays`` re-evaluates, from TorchRL modules: ``logits_module`` writes
    ``logits_key`` (e.g. the ``TensorDictModule`` inside a ``ProbabilisticActor``, or the actor
    itself), ``value_module`` writes ``value_key`` (a ``ValueOperator``)."""
    from tensordict import TensorDict

    def run(module: Any, key: Any) -> Any:
        return lambda obs: module(TensorDict({obs_key: obs}, batch_size=[len(obs)]))[key]

    return TorchPolicy(run(logits_module, logits_key), run(value_module, value_key))


def validate_torchrl(batch: Any, *, trace: "VecTrace | None" = None, policy: Any = None,
                     n_actions: "int | None" = None, gamma: float = 0.99, lam: float = 0.95,
                     values_recomputed: bool = False, **kwargs: Any) -> Report:
    """``validate_arrays`` on one TorchRL batch (see the module docstring); ``kwargs`` go to it.

    ``trace``: the env's own record of the same steps (``SubEnvRecorder.take()`` right after the
    batch). ``values_recomputed``: the batch's ``state_value`` came from ``GAE`` recomputing it.
    """
    arrays = torchrl_arrays(batch, flags=trace is None)
    report = validate_arrays(arrays, trace=trace, policy=policy, gamma=gamma, lam=lam, n_actions=n_actions,
                             dones_convention="step", **kwargs)
    report.target = "TorchRL collector batch"
    report.meta["source"] = "torchrl"
    report.meta["tautological"] = (["arrays.value_matches_critic: TorchRL's GAE recomputed state_value with the "
                                    "same value network"] if values_recomputed else [])
    return report
