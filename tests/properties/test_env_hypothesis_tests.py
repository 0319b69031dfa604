"""The env properties as plain @given tests (what HypoFuzz runs): each fails on its own property only."""

from __future__ import annotations

import warnings

import pytest
from hypothesis import settings

import env_zoo_wrappers as zoo
from rollcheck import env_hypothesis_tests
from rollcheck.properties.env.runner import PropertyFailure

FAST = settings(max_examples=15, database=None, derandomize=True)


def test_one_given_test_per_property_that_holds_on_a_clean_env():
    tests = env_hypothesis_tests("CartPole-v1", max_steps=60, hypothesis_settings=FAST, prefix="test_cp")
    assert "test_cp_numerics_reward" in tests and "test_cp_reset_purity" in tests
    assert "test_cp_spaces_well_formed" not in tests  # judged once per run, by rollcheck env
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for name in ("test_cp_numerics_reward", "test_cp_reset_purity", "test_cp_aliasing_no_shared_memory"):
            tests[name]()
    assert hasattr(tests["test_cp_numerics_reward"], "hypothesis")  # a real Hypothesis test


def test_the_broken_property_fails_and_only_it():
    tests = env_hypothesis_tests("CartPole-v1", wrappers=(zoo.NaNRewardAfterRun,), max_steps=60,
                                 hypothesis_settings=FAST, prefix="t")
    with pytest.raises(PropertyFailure, match="numerics.reward"):
        tests["t_numerics_reward"]()
    tests["t_numerics_done_flags"]()  # the NaN reward is not this property's business
