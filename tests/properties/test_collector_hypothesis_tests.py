"""The collector properties as plain @given tests (what HypoFuzz runs): the reference collector
passes every one, a planted bug fails its own property, and a shared example database replays it."""

from __future__ import annotations

import pytest
from hypothesis import Phase, settings
from hypothesis.database import DirectoryBasedExampleDatabase

import collector_zoo as zoo
from rollcheck import ArgumentError, collector_hypothesis_tests
from rollcheck.properties.collector.catalog import COLLECTOR_PROPERTIES
from rollcheck.properties.collector.hypothesis_tests import CollectorPropertyFailed

FAST = settings(max_examples=25, database=None, derandomize=True)
NO_SHRINK = [Phase.explicit, Phase.reuse, Phase.generate]  # the tests need the failure, not its minimal form


def test_one_given_test_per_property_and_the_reference_collector_passes_them_all():
    tests = collector_hypothesis_tests(zoo.correct_collect, prefix="test_ref", hypothesis_settings=FAST)
    assert len(tests) == len(COLLECTOR_PROPERTIES)
    assert "test_ref_step_terminated_as_reported" in tests
    for test in tests.values():
        assert hasattr(test, "hypothesis")  # a real Hypothesis test, which HypoFuzz collects
        test()


@pytest.mark.parametrize("bug", ["flags_swapped", "off_by_one_state", "rng_not_advanced"])
def test_a_planted_bug_fails_its_own_property_with_a_reproducer(bug):
    pid = zoo._BUGS[bug]
    name = "t_" + pid.replace(".", "_")
    tests = collector_hypothesis_tests(f"collector_zoo:collect_{bug}", prefix="t",
                                       hypothesis_settings=settings(FAST, phases=NO_SHRINK))
    with pytest.raises(CollectorPropertyFailed, match=f"{pid} violated") as caught:
        tests[name]()
    assert f"from collector_zoo import collect_{bug} as collect" in str(caught.value)
    assert isinstance(caught.value, AssertionError)


def test_skip_and_bad_arguments():
    tests = collector_hypothesis_tests(zoo.correct_collect, skip=["session"], hypothesis_settings=FAST)
    assert tests and not any("session_" in name for name in tests)
    with pytest.raises(ArgumentError, match="prefix"):
        collector_hypothesis_tests(zoo.correct_collect, prefix="not an identifier")
    with pytest.raises(ArgumentError, match="hypothesis_settings"):
        collector_hypothesis_tests(zoo.correct_collect, hypothesis_settings={"max_examples": 3})
    with pytest.raises(ArgumentError, match="cannot be called"):
        collector_hypothesis_tests(lambda x: x)


def test_a_shared_directory_database_saves_the_failure_and_replays_it_first(tmp_path):
    db = DirectoryBasedExampleDatabase(str(tmp_path / "db"))
    shared = settings(max_examples=25, database=db, phases=NO_SHRINK)
    name = "t_step_terminated_as_reported"
    first = collector_hypothesis_tests("collector_zoo:collect_flags_swapped", prefix="t", hypothesis_settings=shared)
    with pytest.raises(CollectorPropertyFailed):
        first[name]()
    assert list((tmp_path / "db").rglob("*")), "the failing case was not saved"
    # another process (here: a fresh set of tests) finds it again on its first example
    replay = collector_hypothesis_tests("collector_zoo:collect_flags_swapped", prefix="t",
                                        hypothesis_settings=settings(max_examples=1, database=db))
    with pytest.raises(CollectorPropertyFailed, match="step.terminated_as_reported violated"):
        replay[name]()
