"""A torch actor-critic seen as the numpy policy ``validate_arrays`` re-evaluates (float32 in, float64 out).

Mirrors the two functions TorchLean's collector takes, ``predictLogits`` and ``predictValue``
(``PPO.collectRolloutFromCallbacks``), for networks written in torch (TorchRL, Tianshou, a
hand-written loop). Invariant: the networks are evaluated under ``torch.no_grad()`` on a batch of
observations in the dtype of their parameters (float32 by default), never changing their mode or
parameters; results come back as float64 numpy arrays of shapes ``(B, n_actions)`` and ``(B,)``.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from rollcheck.spec.errors import ArgumentError

__all__ = ["TorchPolicy"]


class TorchPolicy:
    """``predict_logits``/``predict_value`` (and ``*_batch``) over torch callables ``obs -> logits``
    and ``obs -> value`` (tensors of shape ``(B, *obs)`` in, ``(B, n)`` and ``(B,)`` or ``(B, 1)`` out)."""

    def __init__(self, logits: Callable[[Any], Any], value: Callable[[Any], Any], dtype: Any = None) -> None:
        import torch

        for name, fn in (("logits", logits), ("value", value)):
            if not callable(fn):
                raise ArgumentError(f"{name}={fn!r:.80} should be a callable taking a torch tensor of observations")
        self._torch = torch
        self._logits, self._value = logits, value
        self._dtype = torch.float32 if dtype is None else dtype

    def _run(self, fn: Callable[[Any], Any], obs: np.ndarray) -> np.ndarray:
        torch = self._torch
        with torch.no_grad():
            out = fn(torch.as_tensor(np.asarray(obs), dtype=self._dtype))
        return out.detach().cpu().numpy().astype(np.float64)

    def predict_logits_batch(self, obs: np.ndarray) -> np.ndarray:
        return self._run(self._logits, obs)

    def predict_value_batch(self, obs: np.ndarray) -> np.ndarray:
        return self._run(self._value, obs).reshape(len(obs))

    def predict_logits(self, obs: np.ndarray) -> np.ndarray:
        return self.predict_logits_batch(np.asarray(obs)[None])[0]

    def predict_value(self, obs: np.ndarray) -> float:
        return float(self.predict_value_batch(np.asarray(obs)[None])[0])
