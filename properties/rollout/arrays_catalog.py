"""The ``arrays.*`` properties of a CleanRL-style rollout buffer, and how their results are reported.

Mirrors, one named value each, what TorchLean's ``PPO.collectRolloutFromCallbacks`` records per step,
``Boundary.Core.checkTransitionFin`` (the contract) and ``Runtime.RL.Core.generalizedAdvantageEstimationVec``
/ ``returnsFromAdvantagesVec`` (advantages with split terminated/truncated flags):
:data:`ARRAY_PROPERTIES` holds one :class:`~rollcheck.properties.core.property.BufferProperty` per
stable id (``ARRAYS_GAE_MATCHES_SPEC`` is ``arrays.gae_matches_spec``, ...); its ``check(case)``
takes a :class:`BufferCase` (the validator, the buffer and the options: ``arrays_case(...)`` or
``sb3_case(...)``) and returns that property's findings. Code refers to the property objects.

The checks themselves live in :mod:`.arrays` (shapes, trace, contract, policy) and
:mod:`.arrays_gae` (done flags, advantages, truncation); they build their results with the helpers
here: :func:`property_result` / :func:`skip_result` (a result carrying the property's id, Lean name
and statement) and :func:`compare_result` (expected against actual, elementwise).

Invariant enforced: ids are stable (reports, ``--skip`` and tests use them) and every result of
:func:`compare_result` names the first mismatch (step ``t``, env ``i``), how many entries differ
and the largest error, so a finding is readable without the arrays.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

import numpy as np

from rollcheck.spec.errors import ArgumentError

from rollcheck.properties.core.property import BufferProperty, PropertySet
from rollcheck.properties.core.report import Finding, PropertyResult, Report

__all__ = ["ARRAY_PROPERTIES", "BufferCase", "NEEDS", "buffer_property", "compare_result", "positions", "property_result", "skip_result", "within"]


@dataclass(frozen=True)
class BufferCase:
    """The evidence a buffer property looks at: the validator, the buffer it reads and its options.

    ``validate`` is :func:`~rollcheck.properties.rollout.arrays.validate_arrays` (``buffer`` a dict of
    arrays) or :func:`~rollcheck.properties.rollout.sb3.validate_sb3` (``buffer`` an SB3 model);
    ``options`` are its keyword arguments. Build one with ``arrays_case`` or ``sb3_case``.
    """

    validate: Callable[..., Report]
    buffer: Any
    options: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not callable(self.validate):
            raise ArgumentError(f"BufferCase.validate={self.validate!r:.80} should be a validator "
                                "(validate_arrays or validate_sb3)")
        if not isinstance(self.options, Mapping):
            raise ArgumentError(f"BufferCase.options={self.options!r:.80} should be a mapping of keyword options")

    def report(self) -> Report:
        """The validator's report on this buffer (every property's result)."""
        return self.validate(self.buffer, **dict(self.options))


def buffer_property(pid: str, lean: str, statement: str) -> BufferProperty:
    """The buffer property ``pid``: ``check(case)`` is ``case.report()``'s findings for ``pid``."""
    def check(case: BufferCase) -> list[Finding]:
        if not isinstance(case, BufferCase):
            raise ArgumentError(f"{pid}.check(case={case!r:.80}) should be given a BufferCase")
        return case.report().result(pid).findings
    return BufferProperty(pid, lean, statement, check)


ARRAYS_SHAPES = buffer_property(
    "arrays.shapes", "PPO.Rollout.steps_size_eq_horizon",
    "every array has the documented shape (T, N, ...) and a real or boolean dtype")
ARRAYS_CONTRACT = buffer_property(
    "arrays.contract", "Boundary.Core.checkTransitionFin",
    "observations, actions and rewards satisfy the contract")
ARRAYS_OBS_MATCH_TRACE = buffer_property(
    "arrays.obs_match_trace", "PPO.collectRolloutFromCallbacks (state)",
    "obs[t] is the observation the env presented before step t")
ARRAYS_ACTIONS_MATCH_TRACE = buffer_property(
    "arrays.actions_match_trace", "PPO.collectRolloutFromCallbacks (action)",
    "actions[t] is the action passed to the env at step t")
ARRAYS_REWARDS_MATCH_TRACE = buffer_property(
    "arrays.rewards_match_trace", "PPO.collectRolloutFromCallbacks (reward)",
    "rewards[t] is the reward the env returned at step t")
ARRAYS_NO_AUTORESET_STEPS = buffer_property(
    "arrays.no_autoreset_steps", "Gymnasium.Session (reset is not a transition)",
    "no buffer step is a Gymnasium NEXT_STEP auto-reset step (action ignored, reward 0)")
ARRAYS_DONES_MATCH_FLAGS = buffer_property(
    "arrays.dones_match_flags", "PPO.Step.done = terminated || truncated",
    "dones (under the chosen convention) equal terminated or truncated")
ARRAYS_LOGPROB_MATCHES_POLICY = buffer_property(
    "arrays.logprob_matches_policy", "PolicyGradient.actionLogSoftmax",
    "logprobs[t] = log_softmax(logits(obs[t]))[actions[t]]")
ARRAYS_VALUE_MATCHES_CRITIC = buffer_property(
    "arrays.value_matches_critic", "PPO.collectRolloutFromCallbacks (value)",
    "values[t] = V(obs[t])")
ARRAYS_NEXT_VALUE_MATCHES_CRITIC = buffer_property(
    "arrays.next_value_matches_critic", "PPO.collectRolloutFromCallbacks (nextValue)",
    "next_value = V(next_obs)")
ARRAYS_GAE_MATCHES_SPEC = buffer_property(
    "arrays.gae_matches_spec", "Runtime.RL.Core.generalizedAdvantageEstimationVec",
    "advantages equal the spec's GAE with split terminated/truncated flags")
ARRAYS_RETURNS_ARE_ADVANTAGES_PLUS_VALUES = buffer_property(
    "arrays.returns_are_advantages_plus_values", "Runtime.RL.Core.returnsFromAdvantagesVec",
    "returns = advantages + values")
ARRAYS_TRUNCATION_BOOTSTRAPPED = buffer_property(
    "arrays.truncation_bootstrapped", "Runtime.RL.Core.generalizedAdvantageEstimationVec (truncated)",
    "a time-limit truncation bootstraps from V(final observation) instead of ending the return")
ARRAYS_TIME_LIMIT_TRUNCATES = buffer_property(
    "arrays.time_limit_truncates", "Gymnasium.TimeLimit (truncated once max_episode_steps are reached)",
    "an episode that reaches the env's max_episode_steps ends there with truncated set (counted "
    "independently of the info dict)")
ARRAYS_ACTIONS_FOLLOW_POLICY = buffer_property(
    "arrays.actions_follow_policy", "PolicyGradient.sampleActionFromLogits (in distribution)",
    "pooled over the buffer, actions are draws from softmax(logits(obs[t])) (false-alarm probability "
    "1e-6)")

ARRAY_PROPERTIES: PropertySet[BufferProperty] = PropertySet([
    ARRAYS_SHAPES,
    ARRAYS_CONTRACT,
    ARRAYS_OBS_MATCH_TRACE,
    ARRAYS_ACTIONS_MATCH_TRACE,
    ARRAYS_REWARDS_MATCH_TRACE,
    ARRAYS_NO_AUTORESET_STEPS,
    ARRAYS_DONES_MATCH_FLAGS,
    ARRAYS_LOGPROB_MATCHES_POLICY,
    ARRAYS_VALUE_MATCHES_CRITIC,
    ARRAYS_NEXT_VALUE_MATCHES_CRITIC,
    ARRAYS_GAE_MATCHES_SPEC,
    ARRAYS_RETURNS_ARE_ADVANTAGES_PLUS_VALUES,
    ARRAYS_TRUNCATION_BOOTSTRAPPED,
    ARRAYS_TIME_LIMIT_TRUNCATES,
    ARRAYS_ACTIONS_FOLLOW_POLICY,
])

# The arrays each property reads: a property whose input is missing or unusable (arrays.shapes says
# why) is skipped naming that input, never run on a substitute and never silently dropped.
NEEDS: "dict[BufferProperty, tuple[str, ...]]" = {
    ARRAYS_CONTRACT: ("obs", "rewards"),
    ARRAYS_OBS_MATCH_TRACE: ("obs",),
    ARRAYS_ACTIONS_MATCH_TRACE: ("actions",),
    ARRAYS_REWARDS_MATCH_TRACE: ("rewards",),
    ARRAYS_NO_AUTORESET_STEPS: (),
    ARRAYS_DONES_MATCH_FLAGS: ("dones", "next_done", "terminated", "truncated"),
    ARRAYS_LOGPROB_MATCHES_POLICY: ("obs", "actions", "logprobs"),
    ARRAYS_VALUE_MATCHES_CRITIC: ("obs", "values"),
    ARRAYS_NEXT_VALUE_MATCHES_CRITIC: ("next_obs", "next_value"),
    ARRAYS_GAE_MATCHES_SPEC: ("rewards", "values", "dones", "advantages", "next_done", "next_value",
                                "terminated", "truncated"),
    ARRAYS_RETURNS_ARE_ADVANTAGES_PLUS_VALUES: ("advantages", "returns", "values"),
    ARRAYS_TRUNCATION_BOOTSTRAPPED: ("rewards", "values", "dones", "advantages", "next_done", "next_value",
                                       "terminated", "truncated"),
    ARRAYS_TIME_LIMIT_TRUNCATES: ("dones", "next_done", "terminated", "truncated"),
    ARRAYS_ACTIONS_FOLLOW_POLICY: ("obs", "actions"),
}


def property_result(prop: BufferProperty, **kw: Any) -> PropertyResult:
    """A result of ``prop`` (its id, Lean name and statement), fields ``kw``."""
    return PropertyResult(prop.id, prop.lean, prop.statement, **kw)


def skip_result(prop: BufferProperty, reason: str) -> PropertyResult:
    """``prop`` skipped, saying why."""
    return property_result(prop, status="skipped", skip_reason=reason)


def positions(mask: np.ndarray, limit: int = 1000) -> list[list[int]]:
    """The indices where ``mask`` is true, as lists of ints (at most ``limit``)."""
    return [list(map(int, p)) for p in np.argwhere(mask)[:limit]]


def within(expected: np.ndarray, actual: np.ndarray, allowed: Any) -> np.ndarray:
    """Entrywise: equal (NaN equals NaN, same infinities) or finite and ``|actual - expected| <= allowed``."""
    e, a = np.asarray(expected, dtype=np.float64), np.asarray(actual, dtype=np.float64)
    with np.errstate(invalid="ignore"):
        same = (e == a) | (np.isnan(e) & np.isnan(a))
        return same | (np.isfinite(e) & np.isfinite(a) & (np.abs(a - e) <= allowed))


def compare_result(prop: BufferProperty, what: str, expected: np.ndarray, actual: np.ndarray, allowed: Any = None,
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
        return skip_result(prop, f"no entry of {what} could be compared"
                                f" ({int(checked.size)} entries, none comparable)" + (f"; {hint}" if hint else ""))
    exact = allowed is None
    if exact:
        same = (expected == actual) | ((expected != expected) & (actual != actual))
    else:
        same = within(expected, actual, allowed)
    bad = checked & ~same
    res = property_result(prop, examples=1, steps=int(checked.sum()))
    if meta is not None and not exact and checked.any():  # the measured agreement, even when it holds
        with np.errstate(invalid="ignore"):
            diffs = np.abs(expected.astype(np.float64) - actual.astype(np.float64))[checked]
        meta[f"{prop.id}.max_abs_error"] = float(np.nanmax(diffs)) if np.isfinite(diffs).any() else None
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
