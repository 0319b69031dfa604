"""Continuous-action collector validation: the correct Gaussian collector passes, each planted bug is named."""

from __future__ import annotations

import pytest

from box_collector_zoo import BOX_BUGS, box_correct, box_numpy_own_sampler
import box_collector_zoo

from rollcheck.impl.collect import collect_rollout_box_session_with
from rollcheck.properties.collector.box_run import BoxCollectorCase, run_box_collector
from rollcheck.properties.collector.box_validate import (BOX_COLLECTOR_PROPERTIES, check_box_case,
                                                         validate_box_collector)

EXAMPLES = 40


@pytest.mark.parametrize("collect", [box_correct, collect_rollout_box_session_with], ids=["zoo", "reference"])
def test_a_correct_gaussian_collector_holds_every_property(collect):
    report = validate_box_collector(collect, examples=EXAMPLES, seed=1)
    assert report.error is None
    assert [r.id for r in report.results if r.status != "held"] == []
    assert len(report.results) == len(BOX_COLLECTOR_PROPERTIES)
    assert sum(r.examples for r in report.results) >= EXAMPLES * len(BOX_COLLECTOR_PROPERTIES) // 2


@pytest.mark.parametrize("name", sorted(BOX_BUGS))
def test_each_planted_bug_is_named(name):
    report = validate_box_collector(getattr(box_collector_zoo, name), examples=EXAMPLES, seed=1)
    failed = {r.id for r in report.failed}
    assert BOX_BUGS[name] in failed, (name, failed)
    finding = report.result(BOX_BUGS[name]).findings[0]
    assert finding.reproducer and f"from box_collector_zoo import {name}" in finding.reproducer


def test_log_prob_of_the_clipped_action_is_caught_only_where_clipping_happened():
    case = BoxCollectorCase(bounds="narrow", horizon=12, rng_seed=3)
    bad = check_box_case(box_collector_zoo.box_log_prob_of_clipped, case,
                         only=["step.old_log_prob_is_gaussian_log_prob"])
    assert bad and "unclipped" in bad[0].message
    wide = BoxCollectorCase(bounds="unbounded", horizon=12, rng_seed=3)
    assert check_box_case(box_collector_zoo.box_log_prob_of_clipped, wide) == []


def test_an_own_sampler_fails_only_the_exact_sample_properties():
    report = validate_box_collector(box_numpy_own_sampler, examples=EXAMPLES, seed=2)
    failed = {r.id for r in report.failed}
    assert "step.action_is_spec_sample" in failed
    assert "step.old_log_prob_is_gaussian_log_prob" not in failed    # its log-probs are right for its actions
    assert "step.env_action_is_mapped_action" not in failed and "step.env_action_in_box" not in failed
    assert "collector.no_global_rng" not in failed                   # a local Generator, not the global one


def test_pendulum_cases_run_through_a_real_env():
    report = validate_box_collector(box_correct, env="Pendulum-v1", examples=12, seed=0, horizon=8)
    assert report.error is None and not report.failed
    run = run_box_collector(box_correct, BoxCollectorCase(obs_shape=(3,), action_shape=(1,), env_id="Pendulum-v1",
                                                          horizon=5, env_box=report_box()))
    assert run.error is None and len(run.trace.steps) == 5


def report_box():
    from rollcheck.properties.collector.box_run import box_env_signature
    return box_env_signature("Pendulum-v1")[1]


def test_a_discrete_collector_is_refused_with_the_signature():
    from rollcheck.impl.collect import collect_rollout_session_with

    report = validate_box_collector(collect_rollout_session_with, examples=2)
    assert report.error and "predict_gaussian" in report.error and report.exit_code == 2
