"""The ``arrays.*`` properties of a CleanRL-style rollout buffer, and how their results are reported.

Mirrors, one named value each, what TorchLean's ``PPO.collectRolloutFromCallbacks`` records per step,
``Boundary.Core.checkTransitionFin`` (the contract) and ``Runtime.RL.Core.generalizedAdvantageEstimationVec``
/ ``returnsFromAdvantagesVec`` (advantages with split terminated/truncated flags):
:data:`ARRAY_PROPERTIES` maps each stable id (``arrays.gae_matches_spec``, ...) to its
:class:`~rollcheck.properties.core.property.Property`, whose check runs
:func:`rollcheck.properties.rollout.arrays.validate_arrays` and returns that property's findings.

The checks themselves live in :mod:`.arrays` (shapes, trace, contract, policy) and
:mod:`.arrays_gae` (done flags, advantages, truncation); they build their results with the helpers
here: :func:`property_result` / :func:`skip_result` (a result carrying the property's id, Lean name
and statement) and :func:`compare_result` (expected against actual, elementwise).

Invariant enforced: ids are stable (reports, ``--skip`` and tests use them) and every result of
:func:`compare_result` names the first mismatch (step ``t``, env ``i``), how many entries differ
and the largest error, so a finding is readable without the arrays.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from rollcheck.properties.core.property import Property
from rollcheck.properties.core.report import Finding, PropertyResult

__all__ = ["ARRAY_PROPERTIES", "NEEDS", "compare_result", "positions", "property_result", "skip_result", "within"]


def _p(pid: str, lean: str, statement: str) -> Property:
    """The property ``pid``: its check is ``validate_arrays(arrays, **kwargs).result(pid).findings``."""
    def check(arrays: dict, **kwargs: Any) -> list:
        from rollcheck.properties.rollout.arrays import validate_arrays   # the checks import this module

        return validate_arrays(arrays, **kwargs).result(pid).findings
    return Property(pid, lean, statement, check)


ARRAY_PROPERTIES = {p.id: p for p in [
    _p("arrays.shapes", "PPO.Rollout.steps_size_eq_horizon",
       "every array has the documented shape (T, N, ...) and a real or boolean dtype"),
    _p("arrays.contract", "Boundary.Core.checkTransitionFin",
       "observations, actions and rewards satisfy the contract"),
    _p("arrays.obs_match_trace", "PPO.collectRolloutFromCallbacks (state)",
       "obs[t] is the observation the env presented before step t"),
    _p("arrays.actions_match_trace", "PPO.collectRolloutFromCallbacks (action)",
       "actions[t] is the action passed to the env at step t"),
    _p("arrays.rewards_match_trace", "PPO.collectRolloutFromCallbacks (reward)",
       "rewards[t] is the reward the env returned at step t"),
    _p("arrays.no_autoreset_steps", "Gymnasium.Session (reset is not a transition)",
       "no buffer step is a Gymnasium NEXT_STEP auto-reset step (action ignored, reward 0)"),
    _p("arrays.dones_match_flags", "PPO.Step.done = terminated || truncated",
       "dones (under the chosen convention) equal terminated or truncated"),
    _p("arrays.logprob_matches_policy", "PolicyGradient.actionLogSoftmax",
       "logprobs[t] = log_softmax(logits(obs[t]))[actions[t]]"),
    _p("arrays.value_matches_critic", "PPO.collectRolloutFromCallbacks (value)",
       "values[t] = V(obs[t])"),
    _p("arrays.next_value_matches_critic", "PPO.collectRolloutFromCallbacks (nextValue)",
       "next_value = V(next_obs)"),
    _p("arrays.gae_matches_spec", "Runtime.RL.Core.generalizedAdvantageEstimationVec",
       "advantages equal the spec's GAE with split terminated/truncated flags"),
    _p("arrays.returns_are_advantages_plus_values", "Runtime.RL.Core.returnsFromAdvantagesVec",
       "returns = advantages + values"),
    _p("arrays.truncation_bootstrapped", "Runtime.RL.Core.generalizedAdvantageEstimationVec (truncated)",
       "a time-limit truncation bootstraps from V(final observation) instead of ending the return"),
    _p("arrays.time_limit_truncates", "Gymnasium.TimeLimit (truncated once max_episode_steps are reached)",
       "an episode that reaches the env's max_episode_steps ends there with truncated set (counted independently "
       "of the info dict)"),
    _p("arrays.actions_follow_policy", "PolicyGradient.sampleActionFromLogits (in distribution)",
       "pooled over the buffer, actions are draws from softmax(logits(obs[t])) (false-alarm probability 1e-6)"),
]}

# The arrays each property reads: a property whose input is missing or unusable (arrays.shapes says
# why) is skipped naming that input, never run on a substitute and never silently dropped.
NEEDS = {
    "arrays.contract": ("obs", "rewards"),
    "arrays.obs_match_trace": ("obs",),
    "arrays.actions_match_trace": ("actions",),
    "arrays.rewards_match_trace": ("rewards",),
    "arrays.no_autoreset_steps": (),
    "arrays.dones_match_flags": ("dones", "next_done", "terminated", "truncated"),
    "arrays.logprob_matches_policy": ("obs", "actions", "logprobs"),
    "arrays.value_matches_critic": ("obs", "values"),
    "arrays.next_value_matches_critic": ("next_obs", "next_value"),
    "arrays.gae_matches_spec": ("rewards", "values", "dones", "advantages", "next_done", "next_value",
                                "terminated", "truncated"),
    "arrays.returns_are_advantages_plus_values": ("advantages", "returns", "values"),
    "arrays.truncation_bootstrapped": ("rewards", "values", "dones", "advantages", "next_done", "next_value",
                                       "terminated", "truncated"),
    "arrays.time_limit_truncates": ("dones", "next_done", "terminated", "truncated"),
    "arrays.actions_follow_policy": ("obs", "actions"),
}


def property_result(pid: str, **kw: Any) -> PropertyResult:
    """A result of property ``pid`` (its id, Lean name and statement), fields ``kw``."""
    p = ARRAY_PROPERTIES[pid]
    return PropertyResult(p.id, p.lean, p.statement, **kw)


def skip_result(pid: str, reason: str) -> PropertyResult:
    """Property ``pid`` skipped, saying why."""
    return property_result(pid, status="skipped", skip_reason=reason)


def positions(mask: np.ndarray, limit: int = 1000) -> list[list[int]]:
    """The indices where ``mask`` is true, as lists of ints (at most ``limit``)."""
    return [list(map(int, p)) for p in np.argwhere(mask)[:limit]]


def within(expected: np.ndarray, actual: np.ndarray, allowed: Any) -> np.ndarray:
    """Entrywise: equal (NaN equals NaN, same infinities) or finite and ``|actual - expected| <= allowed``."""
    e, a = np.asarray(expected, dtype=np.float64), np.asarray(actual, dtype=np.float64)
    with np.errstate(invalid="ignore"):
        same = (e == a) | (np.isnan(e) & np.isnan(a))
        return same | (np.isfinite(e) & np.isfinite(a) & (np.abs(a - e) <= allowed))


def compare_result(pid: str, what: str, expected: np.ndarray, actual: np.ndarray, allowed: Any = None,
                   checked: "np.ndarray | None" = None, hint: str = "",
                   meta: "dict | None" = None) -> PropertyResult:
    """A result comparing ``actual`` with ``expected`` elementwise — exactly when ``allowed`` is
    ``None``, else within the absolute error ``allowed`` (a scalar or one per entry, from
    :class:`~rollcheck.properties.core.tolerances.Tolerances`); NaN equals NaN. One finding names the
    first mismatch (step t, env i), how many there are and the largest error."""
    expected = np.asarray(expected)
    actual = np.asarray(actual)
    checked = np.ones(expected.shape, bool) if checked is None else checked
    if not checked.any():  # nothing was compared: the property did not hold, it was not evaluated
        return skip_result(pid, f"no entry of {what} could be compared"
                                f" ({int(checked.size)} entries, none comparable)" + (f"; {hint}" if hint else ""))
    exact = allowed is None
    if exact:
        same = (expected == actual) | ((expected != expected) & (actual != actual))
    else:
        same = within(expected, actual, allowed)
    bad = checked & ~same
    res = property_result(pid, examples=1, steps=int(checked.sum()))
    if meta is not None and not exact and checked.any():  # the measured agreement, even when it holds
        with np.errstate(invalid="ignore"):
            diffs = np.abs(expected.astype(np.float64) - actual.astype(np.float64))[checked]
        meta[f"{pid}.max_abs_error"] = float(np.nanmax(diffs)) if np.isfinite(diffs).any() else None
    if bad.any():
        first = tuple(int(k) for k in np.argwhere(bad)[0])
        err = None
        if not exact:
            with np.errstate(invalid="ignore"):
                diffs = np.abs(expected.astype(np.float64) - actual.astype(np.float64))[bad]
            err = float(np.nanmax(diffs)) if np.isfinite(diffs).any() else float("nan")
        where = f"step {first[0]}, env {first[1]}" if len(first) > 1 else f"env {first[0]}"
        exp_v, act_v = expected[first].item(), actual[first].item()
        msg = (f"{what} differs at {int(bad.sum())} of {int(checked.sum())} entries; first at {where}: "
               f"expected {exp_v!r}, got {act_v!r}"
               + (f"; largest error {err:.6g}" if err is not None else "") + (f" ({hint})" if hint else ""))
        res.fail(Finding(message=msg, step=first[0], expected=exp_v, actual=act_v,
                         context={"env": first[1] if len(first) > 1 else first[0], "count": int(bad.sum()),
                                  "max_abs_error": err, "positions": positions(bad)}))
    return res
