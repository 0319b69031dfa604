"""``--sampler any``: the collector properties for collectors that sample their own way, judged in distribution.

Mirrors TorchLean's ``PolicyGradient.sampleActionFromLogits`` as a statement about distributions
(``P(a | s) = actionPolicy(predictLogits s)[a]``) and ``Spec.Random.keyOf rngSeed counter``
(collection is a function of its inputs, and the seed reaches the sampler). Under
``validate_collector(..., sampler="any")`` the exact properties ``step.action_is_spec_sample`` and
``collector.seed_changes_actions`` are replaced by the three properties of
:data:`SAMPLER_PROPERTIES`, judged once per validation on a fixed *campaign* of long runs
(:data:`CAMPAIGN`: :data:`CAMPAIGN_STEPS` steps in all, scripted sessions with every kind of
episode end, 2 to 5 actions, and policies whose weight seeds were picked (among 120, by
``benchmarks/bench_sampler_power.py``) for spread-out probabilities, so an argmax shifts the
statistic by about 0.11 per draw) instead of on the short Hypothesis cases,
where two seeds agree by chance half the time:

- ``sampler.actions_follow_policy`` — the recorded actions, pooled over every step of every
  campaign run, are tested against the policy's probabilities at the recorded states
  (:func:`rollcheck.properties.core.sampler_test.actions_follow_policy`, false-alarm probability
  :data:`~rollcheck.properties.core.sampler_test.FALSE_ALARM` per validation); it rejects argmax,
  inverted-softmax and uniform samplers;
- ``sampler.seed_changes_actions`` — each campaign case is run again with another ``rng_seed``;
  an identical action sequence is a violation only when a correct sampler would reproduce it with
  probability at most ``FALSE_ALARM / len(CAMPAIGN)`` (:func:`~rollcheck.properties.core.sampler_test.chance_agreement`);
- ``sampler.deterministic`` — each campaign case is run twice with the same inputs: any difference
  is a violation (a deterministic collector never differs), and the report states how likely a
  collector drawing fresh randomness would have been to agree by chance.

Torch's global RNG is watched by ``collector.no_global_rng`` like Python's and numpy's
(:mod:`.run`), so ``torch.manual_seed`` inside a collector is caught in both modes.

Invariant enforced: each property's false-alarm probability for a correct collector is at most
``FALSE_ALARM`` (0 for ``sampler.deterministic``); every finding says which campaign case broke
and how to rerun it (:func:`check_sampler`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Iterable

import numpy as np

from rollcheck.properties.collector.catalog import COLLECTOR_PROPERTIES, expected_steps
from rollcheck.properties.collector.run import CollectorRun, run_collector
from rollcheck.properties.collector.trace import CollectorCase, PolicySpec
from rollcheck.properties.core.property import CaseProperty, PropertySet, RunProperty, findings_of
from rollcheck.properties.core.report import Finding
from rollcheck.properties.core.sampler_test import FALSE_ALARM, actions_follow_policy, chance_agreement, softmax_rows
from rollcheck.spec.errors import ArgumentError

__all__ = ["CAMPAIGN", "CAMPAIGN_STEPS", "EXACT_SAMPLER_PROPERTIES", "SAMPLERS", "SAMPLER_PROPERTIES",
           "SamplerCampaign", "check_sampler", "properties_for", "run_campaign"]

SAMPLERS = ("spec", "any")
EXACT_SAMPLER_PROPERTIES = ("step.action_is_spec_sample", "collector.seed_changes_actions")
_H = 160
_ENDS = ((23, "terminated"), (31, "truncated"), (17, "both"), (40, "truncated"), (29, "terminated"))
CAMPAIGN = (
    CollectorCase(obs_shape=(3,), n_actions=2, horizon=_H, rng_seed=11, rng_counter=5, episodes=_ENDS,
                  policy=PolicySpec(hidden=5, weight_seed=61)),
    CollectorCase(obs_shape=(2,), n_actions=3, horizon=_H, rng_seed=2**40 + 7, rng_counter=0, episodes=_ENDS[::-1],
                  cast="float32", policy=PolicySpec(hidden=6, weight_seed=24)),
    CollectorCase(obs_shape=(4,), n_actions=5, horizon=_H, rng_seed=3, rng_counter=2**63 - 3, episodes=_ENDS[1:],
                  policy=PolicySpec(hidden=4, weight_seed=25)),
    CollectorCase(obs_shape=(), n_actions=2, horizon=_H, rng_seed=77, rng_counter=1000, episodes=_ENDS[:3],
                  buffers="reuse", policy=PolicySpec(hidden=3, weight_seed=13)),
    CollectorCase(obs_shape=(2, 2), n_actions=3, horizon=_H, rng_seed=5, rng_counter=9, episodes=_ENDS[2:],
                  session_style="functional", policy=PolicySpec(hidden=6, weight_seed=109)),
    CollectorCase(obs_shape=(3,), n_actions=4, horizon=_H, rng_seed=123456789, rng_counter=0, episodes=_ENDS,
                  policy=PolicySpec(hidden=5, weight_seed=92)),
)
CAMPAIGN_STEPS = sum(c.horizon for c in CAMPAIGN)


def _other_seed(seed: int) -> int:
    return (seed + 0x9E3779B97F4A7C15) % 2**64


@dataclass
class SamplerCampaign:
    """The campaign's runs: each case as given, again (same inputs), and with another seed."""

    runs: "list[CollectorRun]"
    again: "list[CollectorRun]"
    reseeded: "list[CollectorRun]"


def run_campaign(collect: Callable[..., Any], *, cases: "Iterable[CollectorCase] | None" = None,
                 tolerance: Any = None) -> SamplerCampaign:
    """Run ``collect`` on every campaign case three times (as given, again, another seed)."""
    cases = list(CAMPAIGN if cases is None else cases)
    runs = [run_collector(collect, c, tolerance=tolerance) for c in cases]
    again = [r.variant("again") for r in runs]
    reseeded = [r.variant(("seed", _other_seed(r.case.rng_seed))) for r in runs]
    return SamplerCampaign(runs, again, reseeded)


def _draws(run: CollectorRun) -> "tuple[list[np.ndarray], list[int]]":
    """Policy probabilities at each recorded state and the action passed to step_checked."""
    probs, actions = [], []
    for ts, ex in zip(run.trace.steps, expected_steps(run)):
        if not ex.action_ok:
            continue   # step.action_in_range reports it
        probs.append(softmax_rows(ex.logits))
        actions.append(int(ts.action))
    return probs, actions


def _broken(runs: "list[CollectorRun]") -> "list[Finding]":
    return [Finding(message=f"campaign case {k}: collect failed: {r.error.splitlines()[0]}", actual=r.error,
                    context={"case": repr(r.case)}) for k, r in enumerate(runs) if r.error is not None][:1]


def _follow_policy(c: SamplerCampaign) -> "list[Finding]":
    probs: list = []
    actions: list = []
    for r in c.runs:
        p, a = _draws(r)
        probs += p
        actions += a
    if not actions:
        return _broken(c.runs)
    test = actions_follow_policy(probs, actions)
    if not test.rejected:
        return []
    return [Finding(message=f"the recorded actions are not draws from the policy: {test.explain()}",
                    expected="actions distributed as softmax(predict_logits(state))",
                    actual=f"statistic {test.statistic:+.4g}, threshold ±{test.threshold:.4g}",
                    reproducer=_reproducer("sampler.actions_follow_policy"), context=test.as_meta())]


def _seed_changes(c: SamplerCampaign) -> "list[Finding]":
    per_case_alpha = FALSE_ALARM / max(len(c.runs), 1)
    for k, (r, o) in enumerate(zip(c.runs, c.reseeded)):
        if r.rollout is None or o.rollout is None:
            continue
        a = [ts.action for ts in r.trace.steps]
        if a != [ts.action for ts in o.trace.steps]:
            continue
        p, acts = _draws(r)
        chance = chance_agreement(p, acts)
        if chance <= per_case_alpha:
            return [Finding(message=f"campaign case {k}: rng_seed={_other_seed(r.case.rng_seed)} "
                            f"gives exactly the actions of rng_seed={r.case.rng_seed} over {len(a)} steps, which a "
                            f"sampler the seed reaches does with probability {chance:.3g}: the seed does not reach "
                            "the sampler", step=0, expected="different actions for a different seed",
                            actual="identical action sequences", reproducer=_reproducer("sampler.seed_changes_actions"),
                            context={"case": repr(r.case), "chance_agreement": chance})]
    return [] if any(r.rollout is not None for r in c.runs) else _broken(c.runs)


def _deterministic(c: SamplerCampaign) -> "list[Finding]":
    for k, (r, g) in enumerate(zip(c.runs, c.again)):
        if r.rollout is None or g.rollout is None:
            continue
        a, b = [ts.action for ts in r.trace.steps], [ts.action for ts in g.trace.steps]
        t = next((i for i, (x, y) in enumerate(zip(a, b)) if x != y), None)
        if t is None and len(a) != len(b):
            t = min(len(a), len(b))
        if t is None:
            t = next((i for i, (x, y) in enumerate(zip(r.rollout.steps, g.rollout.steps)) if x != y), None)
        if t is not None:
            return [Finding(message=f"campaign case {k}: the same call (same rng_seed and rng_counter) took a "
                            f"different path at step {t}: the collector draws randomness its inputs do not "
                            "determine", step=t, expected=a[t] if t < len(a) else None,
                            actual=b[t] if t < len(b) else None, reproducer=_reproducer("sampler.deterministic"),
                            context={"case": repr(r.case)})]
    return [] if any(r.rollout is not None for r in c.runs) else _broken(c.runs)


def _reproducer(pid: str) -> str:
    return "\n".join([
        f"# rollcheck: {pid} on the fixed sampler campaign (--sampler any)",
        "from rollcheck import check_sampler",
        "collect = ...  # your collector",
        f"for finding in check_sampler(collect, only=[{pid!r}]):",
        "    print(finding.message)",
        "",
    ])


SAMPLER_PROPERTIES = PropertySet([
    RunProperty("sampler.actions_follow_policy",
                "PolicyGradient.sampleActionFromLogits (in distribution: P a = actionPolicy logits a)",
                f"pooled over {CAMPAIGN_STEPS} campaign steps, the actions are draws from softmax(predict_logits(state)) "
                f"(false-alarm probability {FALSE_ALARM:g})", _follow_policy),
    RunProperty("sampler.seed_changes_actions", "PolicyGradient.sampleActionFromLogits (seed := rngSeed)",
                f"another rng_seed changes a {_H}-step action sequence (unless a correct sampler would agree with "
                f"probability > {FALSE_ALARM:g})", _seed_changes),
    RunProperty("sampler.deterministic", "Spec.Random.keyOf rngSeed counter (collection is a function of its inputs)",
                f"the same call takes the same {_H}-step path twice", _deterministic),
])


def properties_for(sampler: str) -> "tuple[list[CaseProperty], list[RunProperty]]":
    """``(per-case properties, campaign properties)`` of a sampler mode (``"spec"`` or ``"any"``)."""
    if sampler not in SAMPLERS:
        raise ArgumentError(f"sampler={sampler!r} should be one of {SAMPLERS}")
    if sampler == "spec":
        return list(COLLECTOR_PROPERTIES), []
    return [p for p in COLLECTOR_PROPERTIES if p.id not in EXACT_SAMPLER_PROPERTIES], list(SAMPLER_PROPERTIES)


def check_sampler(collect: Callable[..., Any], *, only: "Iterable[str] | None" = None,
                  tolerance: Any = None) -> "list[Finding]":
    """Run the campaign on ``collect`` and return the findings of every (or ``only`` the named) sampler property."""
    props = [SAMPLER_PROPERTIES[p] for p in only] if only is not None else list(SAMPLER_PROPERTIES)
    return findings_of(props, run_campaign(collect, tolerance=tolerance))
