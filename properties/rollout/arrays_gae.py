"""The done flags and advantage checks of a CleanRL-style rollout buffer (``arrays.gae_matches_spec``,
``arrays.returns_are_advantages_plus_values``, ``arrays.truncation_bootstrapped``).

Mirrors TorchLean's ``Runtime.RL.Core.generalizedAdvantageEstimationVec`` with Gymnasium's split
flags (:mod:`rollcheck.spec.advantage`; the numpy fast path
:func:`rollcheck.impl.fast_gae.generalized_advantage_estimation_batch`, bit-equal to it) and
``returnsFromAdvantagesVec``, applied to the buffer's ``(T, N)`` arrays by
:func:`rollcheck.properties.rollout.arrays.validate_arrays` (conventions in that module's docstring):

- :func:`step_done` reads the done flag of each step from ``dones`` under the ``dones_convention``
  (CleanRL's ``"episode_start"`` stores the *previous* step's flag), and :func:`split_flags` finds
  ``terminated``/``truncated`` (buffer arrays, else the trace);
- :func:`gae_checks` recomputes the spec's GAE with ``V(s_{t+1})`` = ``values[t+1]`` inside an
  episode, ``next_value`` at the last step and, on a truncation, ``V(final observation)`` from the
  policy at the trace's true next observation (entries it cannot know are NaN and not compared);
- a truncation treated as termination (CleanRL's ``nextnonterminal = 1 - dones[t+1]``) is reported
  by ``arrays.truncation_bootstrapped`` with the size of the error it causes.

When the advantages or returns differ, :mod:`.arrays_diagnoses` names the classic mistake they
match, if any (bootstrap from the post-reset observation, λ leaking across an episode end,
advantages normalised before the returns were formed, ...).

Invariant enforced: the expected advantages come from the spec's recursion alone, never from the
buffer; a property that lacks what it needs is skipped with the reason, not passed.
"""

from __future__ import annotations

import numpy as np

from rollcheck.impl.fast_gae import generalized_advantage_estimation_batch

from rollcheck.properties.core.report import Finding, PropertyResult
from rollcheck.properties.core.tolerances import Tolerances, produced_eps
from rollcheck.properties.rollout.arrays_catalog import (ARRAYS_GAE_MATCHES_SPEC,
                                                         ARRAYS_RETURNS_ARE_ADVANTAGES_PLUS_VALUES,
                                                         ARRAYS_TRUNCATION_BOOTSTRAPPED, compare_result,
                                                         property_result, skip_result, within)
from rollcheck.properties.rollout.arrays_diagnoses import diagnose_advantages, diagnose_returns
from rollcheck.properties.rollout.recording import VecTrace

__all__ = ["advantage_allowed", "gae_checks", "split_flags", "step_done"]


def step_done(cols: dict, convention: str) -> tuple[np.ndarray, np.ndarray]:
    """``(done_of_step (T, N), known (T, N))`` read from ``dones`` under ``convention``."""
    d = cols["dones"].astype(bool)
    if convention == "step":
        return d, np.ones(d.shape, bool)
    done = np.zeros(d.shape, bool)
    known = np.zeros(d.shape, bool)
    done[:-1], known[:-1] = d[1:], True
    if "next_done" in cols:
        done[-1], known[-1] = cols["next_done"].astype(bool), True
    return done, known


def split_flags(cols: dict, trace: "VecTrace | None") -> tuple["np.ndarray | None", "np.ndarray | None"]:
    """``(terminated, truncated)`` of each step: the buffer's arrays if both are given, else the
    trace's, else ``(None, None)`` (unknown: every done is then taken as a termination)."""
    if "terminated" in cols and "truncated" in cols:
        return cols["terminated"].astype(bool), cols["truncated"].astype(bool)
    if trace is not None:
        return trace.terminated, trace.truncated
    return None, None


def advantage_allowed(tolerances: Tolerances, cols: dict, expected: np.ndarray, gamma: float,
                      lam: float) -> np.ndarray:
    """The allowed error of each advantage: the produced dtype's epsilon times the discounted sum
    of ``|r| + 2|V|`` over the GAE horizon ``1/(1 - γλ)``."""
    eps = max(produced_eps(cols[k]) for k in ("advantages", "values", "rewards") if k in cols)
    finite = lambda a: np.abs(a[np.isfinite(a)]).max(initial=0.0)  # noqa: E731
    scale = (finite(cols["rewards"].astype(np.float64)) + 2.0 * finite(cols["values"].astype(np.float64))) \
        / max(1.0 - gamma * lam, 1e-3)
    return tolerances.allowed("advantage", expected, eps, scale)


def gae_checks(cols: dict, trace: "VecTrace | None", fns: "tuple | None", gamma: float, lam: float,
               convention: str, tolerances: Tolerances, meta: dict) -> list[PropertyResult]:
    """The results of the three advantage properties (see the module docstring); ``fns`` is the
    policy's ``(logits_batch, values_batch)`` or ``None``, ``meta`` the report's (measured errors)."""
    out: list[PropertyResult] = []
    props = (ARRAYS_GAE_MATCHES_SPEC, ARRAYS_RETURNS_ARE_ADVANTAGES_PLUS_VALUES, ARRAYS_TRUNCATION_BOOTSTRAPPED)
    values = cols["values"].astype(np.float64)
    rewards = cols["rewards"].astype(np.float64)
    te, tr = split_flags(cols, trace)
    done, known = step_done(cols, convention)
    if te is not None:
        done, known = te | tr, np.ones(done.shape, bool)
    split = te is not None
    # Without split flags a done may be a truncation, whose bootstrap V(final obs) is unknown: the
    # episodes that end inside the buffer are then not compared (NaN), only the unfinished ones.
    unknown_kind = done.copy() if te is None else np.zeros(done.shape, bool)
    te = np.zeros(done.shape, bool) if te is None else te
    t_len = values.shape[0]
    # V(s_{t+1}) of each step (NaN where unknown, so those entries are not compared)
    nv = np.full(values.shape, np.nan)
    nv[:-1] = values[1:]
    if "next_value" in cols:
        nv[-1] = cols["next_value"].astype(np.float64)
    nv[te] = 0.0  # never used (terminated steps do not bootstrap)
    nv[unknown_kind] = np.nan
    cut = done & ~te  # truncations
    if cut.any():
        nv[cut] = np.nan
        if fns is not None and trace is not None:
            nv[cut] = np.asarray(fns[1](trace.next_obs[cut]), dtype=np.float64).reshape(-1)
    have = "advantages" in cols
    if not have:
        out.append(skip_result(props[0], "no advantages array"))
    elif not known.all():
        out.append(skip_result(props[0], "the done flag of the last step is unknown: pass next_done (or trace=/flags)"))
    else:
        with np.errstate(invalid="ignore"):
            spec = generalized_advantage_estimation_batch(gamma, lam, rewards, values, nv, done, te)
        comparable = np.isfinite(spec)
        meta["gae_entries_not_compared"] = int((~comparable).sum())
        allowed = advantage_allowed(tolerances, cols, spec, gamma, lam)
        res = compare_result(props[0], "advantages", spec, cols["advantages"], allowed, checked=comparable,
                             hint="spec GAE with split terminated/truncated flags", meta=meta)
        if res.findings:
            name = diagnose_advantages(cols["advantages"].astype(np.float64), rewards, values, nv, done, te,
                                       comparable, allowed, gamma, lam)
            if name:
                res.findings[0].message += f"; diagnosis: {name}"
                res.findings[0].context["diagnosis"] = name
        out.append(res)
    if have and "returns" in cols:
        adv = cols["advantages"].astype(np.float64)
        want = adv + values
        eps = max(produced_eps(cols[k]) for k in ("advantages", "values", "returns"))
        res = compare_result(props[1], "returns", want, cols["returns"],
                             tolerances.allowed("return", want, eps, np.abs(adv) + np.abs(values)))
        if res.findings:
            name = diagnose_returns(adv, values, cols["returns"].astype(np.float64),
                                    tolerances.allowed("return", want, eps, np.abs(adv) + np.abs(values) + 1.0))
            if name:
                res.findings[0].message += f"; diagnosis: {name}"
                res.findings[0].context["diagnosis"] = name
        out.append(res)
    else:
        out.append(skip_result(props[1], "needs advantages and returns arrays"))
    if not split:
        out.append(skip_result(props[2], "no split flags: pass terminated/truncated arrays or trace="))
    elif not cut.any():
        out.append(skip_result(props[2], "no step was truncated in this rollout; nothing to check"))
    elif not have or not known.all():
        out.append(skip_result(props[2], "needs advantages and the done flag of every step"))
    else:
        adv = cols["advantages"].astype(np.float64)
        out.append(_truncation(adv, rewards, values, nv, done, te, cut, gamma, lam,
                               advantage_allowed(tolerances, cols, adv, gamma, lam), t_len))
    return out


def _truncation(adv: np.ndarray, rewards: np.ndarray, values: np.ndarray, nv: np.ndarray, done: np.ndarray,
                te: np.ndarray, cut: np.ndarray, gamma: float, lam: float, allowed: np.ndarray,
                t_len: int) -> PropertyResult:
    res = property_result(ARRAYS_TRUNCATION_BOOTSTRAPPED, examples=1, steps=t_len, episodes=int(cut.sum()))
    nv_bug = np.where(cut, 0.0, nv)
    with np.errstate(invalid="ignore"):
        as_terminal = generalized_advantage_estimation_batch(gamma, lam, rewards, values, nv_bug, done, done)
        correct = generalized_advantage_estimation_batch(gamma, lam, rewards, values, nv, done, te)
    close_bug = within(as_terminal[cut], adv[cut], allowed[cut])
    close_ok = within(correct[cut], adv[cut], allowed[cut])
    bug = close_bug & ~close_ok
    if bug.any():
        positions = np.argwhere(cut)[bug]
        t, i = (int(k) for k in positions[0])
        if np.isfinite(correct[cut]).all():
            err = np.abs(adv - correct)[np.isfinite(correct)]
            size = (f"the advantages are off by up to {float(err.max()):.6g} (mean {float(err.mean()):.6g} "
                    f"over all {err.size} entries; at the truncated steps gamma * V(final obs) is missing)")
        else:
            size = "pass policy= and trace= to measure the error (V(final observation) is unknown)"
        res.fail(Finding(
            message=(f"truncation treated as termination at {int(bug.sum())} of {int(cut.sum())} truncated steps "
                     f"(first: step {t}, env {i}): the advantage equals the GAE that ends the return there; {size}"),
            step=t, expected=float(correct[t, i]), actual=float(adv[t, i]),
            context={"env": i, "positions": [list(map(int, p)) for p in positions[:1000]],
                     "classic_bug": "nextnonterminal = 1 - dones[t+1] also on truncation"}))
    return res
