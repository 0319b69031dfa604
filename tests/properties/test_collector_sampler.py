"""``sampler="any"``: collectors with their own sampler are judged in distribution, both ways.

The correct own-sampler collector passes every property; argmax, inverted-softmax and uniform
samplers fail ``sampler.actions_follow_policy``, a seed that never reaches the generator fails
``sampler.seed_changes_actions``, fresh entropy fails ``sampler.deterministic``, numpy's global
generator ``collector.no_global_rng``. The statistical test's threshold keeps its stated
false-alarm probability, checked by simulation far beyond what a run needs.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from rollcheck import validate_collector
from rollcheck.properties.collector.sampler import (CAMPAIGN_STEPS, SAMPLER_PROPERTIES, check_sampler,
                                                    properties_for)
from rollcheck.properties.collector.trace import CollectorCase
from rollcheck.properties.collector.validate import check_case
from rollcheck.properties.core.sampler_test import (actions_follow_policy, bernstein_threshold, chance_agreement,
                                                    softmax_rows)
from rollcheck.spec import ArgumentError

from sampler_zoo import SAMPLER_ZOO, broken, own_sampler_collect


def test_correct_own_sampler_passes_every_property_including_the_campaign():
    report = validate_collector(own_sampler_collect, sampler="any", examples=8, database=None)
    assert report.exit_code == 0, report.to_markdown()
    ids = {r.id for r in report.results}
    assert set(SAMPLER_PROPERTIES.ids) <= ids
    assert "step.action_is_spec_sample" not in ids and "collector.seed_changes_actions" not in ids
    follow = report.result("sampler.actions_follow_policy")
    assert follow.steps == CAMPAIGN_STEPS and follow.status == "held"
    assert report.meta["sampler"] == "any"


def test_the_same_collector_fails_the_exact_sampler_check_under_spec():
    report = validate_collector(own_sampler_collect, examples=8, database=None, only=["step.action_is_spec_sample"])
    assert [r.id for r in report.failed] == ["step.action_is_spec_sample"]


@pytest.mark.parametrize("bug", ["argmax", "inverted", "uniform", "seed_ignored", "fresh_entropy"])
def test_each_wrong_sampler_is_caught_by_its_campaign_property(bug):
    pid = SAMPLER_ZOO[bug]
    findings = check_sampler(broken(bug), only=[pid])
    assert findings, f"{bug} was not caught by {pid}"
    assert "check_sampler" in findings[0].reproducer


def test_the_wrong_samplers_do_not_trip_the_other_campaign_properties():
    for bug in ("inverted", "uniform"):
        assert not check_sampler(broken(bug), only=["sampler.seed_changes_actions", "sampler.deterministic"])
    assert not check_sampler(broken("seed_ignored"), only=["sampler.actions_follow_policy", "sampler.deterministic"])


def test_global_rng_is_caught_per_case():
    case = CollectorCase(horizon=6, n_actions=3)
    assert not check_case(own_sampler_collect, case, only=["collector.no_global_rng"])
    assert check_case(broken("global_rng"), case, only=["collector.no_global_rng"])


def test_finding_names_direction_and_threshold():
    finding = check_sampler(broken("argmax"), only=["sampler.actions_follow_policy"])[0]
    assert "likeliest actions" in finding.message and "false-alarm probability 1e-06" in finding.message
    assert finding.context["draws"] == CAMPAIGN_STEPS and finding.context["statistic"] > finding.context["threshold"]
    uniform = check_sampler(broken("uniform"), only=["sampler.actions_follow_policy"])[0]
    assert "unlikely actions" in uniform.message


def test_false_alarm_rate_of_the_threshold_by_simulation():
    """At alpha=0.05 (where a rejection would be visible in 2000 runs) the correct sampler's rejection
    rate stays below alpha, and at alpha=1e-6 none of 2000 runs rejects."""
    rng = np.random.default_rng(0)
    m = 200
    rejected_05 = rejected_1e6 = 0
    for _ in range(2000):
        probs = softmax_rows(rng.normal(0, 1.5, size=(m, 3)))
        actions = (rng.random((m, 1)) > np.cumsum(probs, axis=1)).sum(axis=1)
        rejected_05 += actions_follow_policy(probs, actions, alpha=0.05).rejected
        rejected_1e6 += actions_follow_policy(probs, actions).rejected
    assert rejected_05 / 2000 < 0.05 and rejected_1e6 == 0


def test_impossible_actions_and_degenerate_rows():
    probs = [np.array([1.0, 0.0]), np.array([0.5, 0.5])]
    test = actions_follow_policy(probs, [1, 0])
    assert test.rejected and test.impossible == (0,) and "probability 0" in test.explain()
    assert not actions_follow_policy([np.array([1.0])] * 5, [0] * 5).rejected   # one action: nothing to test
    assert chance_agreement([np.array([0.5, 0.5])] * 10, [0] * 10) == pytest.approx(0.5 ** 10)
    assert bernstein_threshold(0.0, 1e-6) > 0 and bernstein_threshold(100.0, 1e-6) > bernstein_threshold(1.0, 1e-6)
    with pytest.raises(ArgumentError, match="probs has 1 rows"):
        actions_follow_policy([np.array([1.0])], [0, 0])
    with pytest.raises(ArgumentError, match="alpha=0"):
        bernstein_threshold(1.0, 0)


def test_sampler_argument_is_checked():
    with pytest.raises(ArgumentError, match="sampler='torch'"):
        properties_for("torch")
    with pytest.raises(ArgumentError, match="sampler='torch'"):
        validate_collector(own_sampler_collect, sampler="torch", examples=1)
    assert math.isfinite(CAMPAIGN_STEPS)
