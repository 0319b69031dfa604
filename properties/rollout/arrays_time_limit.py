"""Independent truncation evidence: an episode that reaches the env's time limit must end there, truncated.

Mirrors Gymnasium's ``TimeLimit`` (``truncated = elapsed_steps >= max_episode_steps``), the source of
the ``truncated`` flag TorchLean's ``Gymnasium.Session`` and ``generalizedAdvantageEstimationVec``
rely on. The flags a collector stores and the flags rollcheck records usually come from the same
``info`` dict, so a wrapper that drops the truncation (or turns it into a termination) fools both;
:func:`time_limit_result` does not read the flags to decide where an episode ends at the limit: it
*counts* each sub-environment's steps from the start of the trace (which must begin at a reset),
resets the count at every ``done``, skips Gymnasium ``NEXT_STEP`` auto-reset steps, and requires
``truncated`` on the step where the count reaches ``max_episode_steps`` (an episode that goes on
past the limit is reported at that step too). ``limit_reported`` marks steps where the env said
explicitly that the time limit was handled (SB3 sets ``info["TimeLimit.truncated"]`` to ``False``
when a step is both terminated and truncated, and a termination there is then accepted).

Invariant enforced: ``arrays.time_limit_truncates`` is skipped with the reason when the limit or
the flags are unknown, never passed.
"""

from __future__ import annotations

import numpy as np

from rollcheck.properties.core.report import Finding, PropertyResult
from rollcheck.properties.rollout.arrays_catalog import (ARRAYS_TIME_LIMIT_TRUNCATES, positions, property_result,
                                                         skip_result)
from rollcheck.properties.rollout.arrays_gae import split_flags, step_done
from rollcheck.properties.rollout.recording import VecTrace

__all__ = ["time_limit_result", "time_limit_violations"]



def time_limit_violations(done: np.ndarray, truncated: np.ndarray, limit: int,
                          skip: "np.ndarray | None" = None,
                          accepted: "np.ndarray | None" = None) -> "tuple[np.ndarray, int]":
    """``((T, N) mask of steps where an episode reached ``limit`` steps without truncated, episodes
    that reached the limit)``; the count restarts after each ``done``; ``skip`` steps do not count."""
    t_len, n_env = done.shape
    count = np.zeros(n_env, np.int64)
    bad = np.zeros(done.shape, bool)
    reached = 0
    ok_at_limit = truncated if accepted is None else truncated | (accepted & done)
    for t in range(t_len):
        live = np.ones(n_env, bool) if skip is None else ~skip[t]
        count[live] += 1
        at = live & (count == limit)
        reached += int(at.sum())
        bad[t] = at & ~ok_at_limit[t]
        count[live & (done[t] | (count >= limit))] = 0
    return bad, reached


def time_limit_result(cols: dict, trace: "VecTrace | None", limit: "int | None", convention: str,
                      accepted: "np.ndarray | None" = None) -> PropertyResult:
    """The result of ``arrays.time_limit_truncates`` (module docstring)."""
    if limit is None:
        return skip_result(ARRAYS_TIME_LIMIT_TRUNCATES, "no max_episode_steps given (pass max_episode_steps=, or --max-episode-steps)")
    te, tr = split_flags(cols, trace)
    if te is None:
        return skip_result(ARRAYS_TIME_LIMIT_TRUNCATES, "no truncated flags: pass terminated/truncated arrays or trace=")
    if trace is not None:
        done, skip = trace.terminated | trace.truncated, trace.autoreset_step
    else:
        done, known = step_done(cols, convention)
        done, skip = (te | tr) if known.all() else done, None
    bad, reached = time_limit_violations(done, tr, limit, skip, accepted)
    res = property_result(ARRAYS_TIME_LIMIT_TRUNCATES, examples=1, steps=int(done.size), episodes=reached)
    if bad.any():
        t, i = (int(k) for k in np.argwhere(bad)[0])
        how = "ended as a termination" if done[t, i] else "went on"
        res.fail(Finding(
            message=(f"{int(bad.sum())} episode(s) reached max_episode_steps={limit} without truncated (first: step "
                     f"{t}, env {i}, which {how}): the time limit's truncation was lost below the collector — a "
                     "wrapper that drops it makes the return end (or run on) where it should bootstrap"),
            step=t, expected="truncated=True at the time limit", actual=f"terminated={bool(te[t, i])}, "
            f"truncated={bool(tr[t, i])}", context={"env": i, "positions": positions(bad), "limit": limit}))
    return res
