"""The true next observations of a ``gymnasium.vector`` step under ``AutoresetMode.SAME_STEP``.

Mirrors what TorchLean's ``NN.Runtime.RL.PPO.collectRolloutFromCallbacks`` reads as
``tr.nextObservation`` (the observation the episode *ended* on, the one ``nextValue`` is computed
from) when the environment is a Gymnasium vector env that resets a finished sub-env inside the
same ``step``: the returned batch then holds the *reset* observation in that row, and the true
last one is ``info["final_obs"][i]`` (with ``info["_final_obs"][i]`` set). Under ``NEXT_STEP``
the returned batch already is the true next observation and nothing here applies.

One helper serves both sides that need it, so they cannot drift apart: the vector collector
(:mod:`rollcheck.impl.vector_collect`, which judges the rows) and the recording wrapper that is
the ground truth for buffer checks (:mod:`rollcheck.properties.rollout.recording`).

Invariant enforced: :func:`true_next_observations` never writes into the batch it is given (it
returns a copy), takes ``info["final_obs"][i]`` for exactly the rows it is told ended, and says
clearly when an env reports an ended row without ``info["final_obs"]``.

References: Gymnasium vector autoreset modes, https://farama.org/Vector-Autoreset-Mode.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from rollcheck.spec import ArgumentError

__all__ = ["true_next_observations"]


def true_next_observations(next_obs: np.ndarray, info: Any, ended: Any, obs_dims: "tuple[int, ...] | None" = None
                           ) -> "tuple[np.ndarray, dict[int, Any], list[int]]":
    """``(true, finals, misfit)`` for a SAME_STEP step that returned ``next_obs`` and ``info``.

    ``ended`` (an ``(N,)`` mask, true or non-zero where a sub-env's episode ended in this step) names
    the rows to replace.
    ``finals`` is ``{i: info["final_obs"][i]}`` for those rows, as the env gave them; ``true`` is
    a copy of ``next_obs`` with row ``i`` replaced by ``finals[i]``. With ``obs_dims``, only a
    final observation that is a real (int, uint or float) array of shape ``obs_dims`` is written;
    the other ended rows keep ``next_obs``'s row and are listed in ``misfit`` for the caller to
    judge. Without ``obs_dims`` every final observation is written under numpy's assignment rules
    (``misfit`` is empty). Raises ``ArgumentError`` if a row ended and ``info`` has no
    ``"final_obs"``.
    """
    rows = np.flatnonzero(ended)
    true, finals, misfit = np.array(next_obs, copy=True), {}, []
    if len(rows) == 0:
        return true, finals, misfit
    fo = info.get("final_obs") if isinstance(info, dict) else None
    if fo is None:
        raise ArgumentError("vec_env (SAME_STEP) reported done without info['final_obs']")
    for i in rows.tolist():
        finals[i] = fo[i]
        if obs_dims is None:
            true[i] = fo[i]
            continue
        f = np.asarray(fo[i])
        if f.shape == tuple(obs_dims) and f.dtype.kind in "fiu":
            true[i] = f
        else:
            misfit.append(i)
    return true, finals, misfit
