"""Issue 10 item 5: installing rollcheck changes no other suite's Hypothesis settings.

A separate temporary project with its own ``conftest.py`` (it registers its own ``dev`` profile,
as users do) records the settings a bare Hypothesis test runs with. It is run in a fresh
interpreter with rollcheck's plugin disabled (``-p no:rollcheck``) and enabled, with and without
``CI=true``, and with ``--hypothesis-profile``: the recorded settings must be identical each time.
``--rollcheck-profile`` changes rollcheck's checks and nothing else.
"""

from __future__ import annotations

import json

import pytest

pytest_plugins = ["pytester"]

USER_CONFTEST = """
from hypothesis import settings
settings.register_profile("dev", max_examples=1000, deadline=1234)
"""

USER_TEST = """
import json, os
from hypothesis import given, settings, strategies as st

SEEN = []

@given(st.integers())
def test_bare_hypothesis(x):
    SEEN.append(x)

def test_record():
    s = settings.default
    record = {"profile": settings.get_current_profile_name(), "max_examples": s.max_examples,
              "deadline": str(s.deadline), "database": type(s.database).__name__,
              "derandomize": s.derandomize, "print_blob": s.print_blob,
              "suppress": sorted(h.name for h in s.suppress_health_check), "ran": len(SEEN),
              "dev": settings.get_profile("dev").max_examples}
    try:
        from rollcheck.properties.core.profiles import rollcheck_settings
        record["rollcheck"] = rollcheck_settings().max_examples
    except ImportError:
        record["rollcheck"] = None
    with open(os.environ["RECORD_TO"], "w") as f:
        json.dump(record, f)
"""


def _settings_seen(pytester, monkeypatch, *args: str, ci: bool) -> dict:
    if ci:
        monkeypatch.setenv("CI", "true")
    else:
        monkeypatch.delenv("CI", raising=False)
    monkeypatch.delenv("ROLLCHECK_PROFILE", raising=False)
    out = pytester.path / f"record-{len(list(pytester.path.glob('record-*')))}.json"
    monkeypatch.setenv("RECORD_TO", str(out))
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-p", "no:randomly", *args)
    result.assert_outcomes(passed=2)
    return json.loads(out.read_text())


@pytest.fixture
def user_project(pytester):
    pytester.makeconftest(USER_CONFTEST)
    pytester.makepyfile(test_user=USER_TEST)
    return pytester


@pytest.mark.parametrize("ci", [False, True], ids=["local", "CI=true"])
@pytest.mark.parametrize("extra", [(), ("--hypothesis-profile", "dev")], ids=["no-profile", "hypothesis-profile-dev"])
def test_settings_are_identical_with_and_without_the_plugin(user_project, monkeypatch, ci, extra):
    without = _settings_seen(user_project, monkeypatch, "-p", "no:rollcheck", *extra, ci=ci)
    with_plugin = _settings_seen(user_project, monkeypatch, *extra, ci=ci)
    without.pop("rollcheck"), with_plugin.pop("rollcheck")
    assert with_plugin == without
    assert with_plugin["dev"] == 1000  # the user's own dev profile is not overwritten
    if extra:
        assert with_plugin["profile"] == "dev" and with_plugin["max_examples"] == 1000
    else:
        assert with_plugin["profile"] == ("ci" if ci else "default")
        assert with_plugin["max_examples"] == 100 and with_plugin["ran"] == 100


def test_rollcheck_profile_changes_rollcheck_checks_only(user_project, monkeypatch):
    plain = _settings_seen(user_project, monkeypatch, ci=False)
    chosen = _settings_seen(user_project, monkeypatch, "--rollcheck-profile", "thorough", ci=False)
    assert plain["rollcheck"] == 30 and chosen["rollcheck"] == 2000  # rollcheck-dev, then rollcheck-thorough
    plain.pop("rollcheck"), chosen.pop("rollcheck")
    assert chosen == plain


def test_a_bad_rollcheck_profile_is_a_usage_error(user_project, monkeypatch):
    monkeypatch.delenv("ROLLCHECK_PROFILE", raising=False)
    result = user_project.runpytest_subprocess("-p", "no:cacheprovider", "--rollcheck-profile", "nope")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*profile='nope' is not a rollcheck profile*"])
