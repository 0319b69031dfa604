"""The pytest side: one test per collector property in a user's suite, profiles, database, xdist."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import settings

from rollcheck.properties.collector.catalog import COLLECTOR_PROPERTIES
from rollcheck.properties.core.profiles import select_profile, selected_profile

pytest_plugins = ["pytester"]


@pytest.fixture(autouse=True)
def _keep_outer_profile():
    """In-process pytester runs select a rollcheck profile; give the outer suite its own back."""
    profile, chosen = settings.get_current_profile_name(), selected_profile()
    yield
    settings.load_profile(profile)
    select_profile(chosen)

ZOO_SOURCE = (Path(__file__).parent / "collector_zoo.py").read_text()
N = len(COLLECTOR_PROPERTIES)

HELPER_TESTS = """
from rollcheck.properties.collector.pytest_support import collector_property_tests

test_good = collector_property_tests("collector_zoo:correct_collect", examples=8)
test_bad = collector_property_tests("collector_zoo:collect_flags_swapped", examples=30)
"""


def _user_suite(pytester, **files):
    pytester.makepyfile(collector_zoo=ZOO_SOURCE, **files)


def test_helper_gives_one_test_per_property_and_failures_carry_the_reproducer(pytester):
    _user_suite(pytester, test_user=HELPER_TESTS)
    result = pytester.runpytest("-p", "no:cacheprovider", "-p", "no:benchmark", "-v", "--rollcheck-profile", "ci")
    result.assert_outcomes(passed=2 * N - 2, failed=2)
    result.stdout.fnmatch_lines(["*test_good?step.next_value_before_reset? PASSED*",
                                 "*test_bad?step.terminated_as_reported? FAILED*",
                                 "*TorchLean: collectRolloutFromCallbacks: terminated := tr.terminated*",
                                 "*Reproducer (paste into python, or save as a file):*", "*from collector_zoo import collect_flags_swapped as collect*"])


def test_marker_and_fixture_parametrize_over_the_properties(pytester):
    _user_suite(pytester, test_marked="""
import pytest

@pytest.mark.rollcheck_collector("collector_zoo:correct_collect", examples=8, skip=["collector.deterministic"])
def test_my_collector(rollcheck_property):
    rollcheck_property.assert_holds()
""")
    result = pytester.runpytest("-p", "no:cacheprovider", "-p", "no:benchmark", "-v")
    result.assert_outcomes(passed=N - 1)
    result.stdout.fnmatch_lines(["*rollcheck: profile 'rollcheck-*' for rollcheck's checks*", "*test_my_collector?sample.matches_spec? PASSED*"])
    assert "collector.deterministic" not in result.stdout.str()


def test_runs_under_xdist_with_two_workers(pytester):
    _user_suite(pytester, test_user=HELPER_TESTS, test_summary="""
def test_records_a_summary_line(record_property):
    record_property("rollcheck_summary", "catch rate: 7/7")
""")
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-p", "no:benchmark", "-n", "2", "--rollcheck-profile", "ci")
    result.assert_outcomes(passed=2 * N - 1, failed=2)
    result.stdout.fnmatch_lines(["*2 workers*", "*= rollcheck =*", "catch rate: 7/7"])


def test_profiles_set_the_examples_and_dev_keeps_failures_in_the_database(pytester):
    _user_suite(pytester, test_profile="""
from hypothesis import settings
from rollcheck.properties.collector.pytest_support import PropertyCheck
from rollcheck.properties.core.profiles import rollcheck_settings

def test_ci_profile_budget():
    assert rollcheck_settings().max_examples == 60 and rollcheck_settings().database is None
    result = PropertyCheck("collector_zoo:correct_collect", "step.value_is_critic").assert_holds()
    assert result.examples > 30          # the ci profile's 60, not dev's 30

def test_thorough_profile_budget():
    assert rollcheck_settings().max_examples == 2000
    # a collector broken on every case is reported at once, whatever the budget
    check = PropertyCheck("collector_zoo:collect_returns_list", "collector.completes")
    assert check.run().status == "failed"
""", test_db="""
from rollcheck.properties.collector.pytest_support import collector_property_tests
test_bad = collector_property_tests("collector_zoo:collect_reward_not_cast", examples=40)
""")
    ci = pytester.runpytest("-p", "no:cacheprovider", "-p", "no:benchmark", "--rollcheck-profile", "ci", "test_profile.py",
                            "-k", "ci_profile")
    ci.assert_outcomes(passed=1, deselected=1)
    thorough = pytester.runpytest("-p", "no:cacheprovider", "-p", "no:benchmark", "--rollcheck-profile", "thorough", "test_profile.py",
                                  "-k", "thorough")
    thorough.assert_outcomes(passed=1, deselected=1)
    # A subprocess, so Hypothesis resolves its default database directory under this suite's root.
    dev = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-p", "no:benchmark", "--rollcheck-profile", "dev", "test_db.py",
                                        "-k", "reward_is_cast_reward")
    dev.assert_outcomes(failed=1, deselected=N - 1)
    saved = list((pytester.path / ".hypothesis" / "examples").rglob("*"))
    assert any(p.is_file() for p in saved)


def test_env_marker_and_helper_give_one_test_per_env_property(pytester):
    from rollcheck.properties.env.catalog import ENV_PROPERTIES, VECTOR_PROPERTIES

    n_env = len(ENV_PROPERTIES) - len(VECTOR_PROPERTIES)
    pytester.makepyfile(test_env="""
import pytest
from rollcheck.properties.collector.pytest_support import env_property_tests

test_cartpole = env_property_tests("CartPole-v1", max_examples=3, max_steps=30)

@pytest.mark.rollcheck_env("CartPole-v1", max_examples=3, max_steps=30, skip=["determinism"])
def test_marked(rollcheck_property):
    rollcheck_property.assert_holds()

def test_unmarked(rollcheck_property):
    pass
""")
    result = pytester.runpytest("-p", "no:cacheprovider", "-p", "no:benchmark", "-v")
    n_det = sum(pid.startswith("determinism.") for pid in ENV_PROPERTIES.ids)
    result.assert_outcomes(passed=2 * n_env - n_det, errors=1)
    result.stdout.fnmatch_lines(["*test_cartpole?reset.purity? PASSED*", "*has no @pytest.mark.rollcheck_collector*"])
