"""rollcheck's pytest plugin (entry point ``pytest11: rollcheck``).

It asks before it touches anything: a suite that never uses rollcheck runs with exactly the
Hypothesis settings it would have without rollcheck installed (no profile is loaded or
registered, Hypothesis's ``ci`` profile, the user's own profiles and ``--hypothesis-profile``
stay as they are). ``--rollcheck-profile NAME`` (``rollcheck-ci``, ``rollcheck-dev``,
``rollcheck-thorough``, ``rollcheck-crosshair``, or the short ``ci``/``dev``/...; default
``$ROLLCHECK_PROFILE``, else ``rollcheck-ci`` under ``CI``, else ``rollcheck-dev``) picks the
settings rollcheck's own checks pass to their searches, and nothing else; see
:mod:`rollcheck.properties.core.profiles`.

It also gives a user's suite one test per collector property (TorchLean's
``PPO.collectRolloutFromCallbacks`` invariants, :mod:`rollcheck.properties.collector.catalog`)
with the ``rollcheck_collector`` marker and the ``rollcheck_property`` argument::

    @pytest.mark.rollcheck_collector("mypkg.ppo:collect", horizon=None, examples=None, skip=())
    def test_my_collector(rollcheck_property):
        rollcheck_property.assert_holds()

The test is parametrized with one :class:`~rollcheck.properties.collector.pytest_support.PropertyCheck` per
property id (the test ids are the property ids); the same is available without the marker as
:func:`rollcheck.properties.collector.pytest_support.collector_property_tests`.
``@pytest.mark.rollcheck_env(make_env, **fuzz_env_kwargs)`` does the same for an environment's
properties (:mod:`rollcheck.properties.env.catalog`, one ``fuzz_env`` run per process).
Examples and the example database follow the rollcheck profile; everything works under pytest-xdist.

A test can ``record_property("rollcheck_summary", text)``; the plugin prints those lines in a
``rollcheck`` section of the terminal summary, also under xdist (e.g. the collector zoo's catch rate).
"""

from __future__ import annotations

import pytest


def pytest_addoption(parser):
    group = parser.getgroup("rollcheck")
    group.addoption("--rollcheck-profile", action="store", default=None,
                    help="Hypothesis settings for rollcheck's own checks only: rollcheck-ci, rollcheck-dev, "
                         "rollcheck-thorough, rollcheck-crosshair (or ci, dev, ...)")


def pytest_configure(config):
    name = config.getoption("--rollcheck-profile")
    if name is not None:  # asked for: validate and select it now (a bad name is a usage error)
        from rollcheck.properties.core.profiles import select_profile
        from rollcheck.spec.errors import ArgumentError

        try:
            select_profile(name)
        except ArgumentError as exc:
            raise pytest.UsageError(f"rollcheck: {exc}") from None
    config.addinivalue_line(
        "markers", "rollcheck_env(make_env, *, skip=(), **fuzz_env_kwargs): parametrize the test's "
                   "`rollcheck_property` argument with one check per rollcheck env property")
    config.addinivalue_line(
        "markers", "rollcheck_collector(target, *, env=None, horizon=None, examples=None, seed=0, skip=(), "
                   "tolerance=1e-9): parametrize the test's `rollcheck_property` argument with one check per "
                   "rollcheck collector property for `target` ('module:function' or a callable)")


def pytest_terminal_summary(terminalreporter):
    """Print what tests recorded with ``record_property("rollcheck_summary", text)`` (xdist forwards it)."""
    lines = [str(value) for reports in terminalreporter.stats.values() for rep in reports
             if getattr(rep, "when", None) == "call"
             for key, value in getattr(rep, "user_properties", ()) if key == "rollcheck_summary"]
    if lines:
        terminalreporter.section("rollcheck")
        for line in lines:
            terminalreporter.write_line(line)


def pytest_report_header(config):
    from rollcheck.properties.core.profiles import selected_profile

    return f"rollcheck: profile {selected_profile()!r} for rollcheck's checks (Hypothesis's own settings untouched)"


@pytest.fixture
def rollcheck_property(request):
    """Set by ``@pytest.mark.rollcheck_collector(...)`` / ``rollcheck_env(...)``; alone it is an error."""
    raise pytest.UsageError(f"{request.node.nodeid} asks for `rollcheck_property` but has no "
                            "@pytest.mark.rollcheck_collector(target) or @pytest.mark.rollcheck_env(make_env) marker")


def pytest_generate_tests(metafunc):
    if "rollcheck_property" not in metafunc.fixturenames:
        return
    from rollcheck.properties.collector.pytest_support import env_property_checks, property_checks

    for name, build in (("rollcheck_collector", property_checks), ("rollcheck_env", env_property_checks)):
        marker = metafunc.definition.get_closest_marker(name)
        if marker is None:
            continue
        if len(marker.args) != 1:
            raise pytest.UsageError(f"@pytest.mark.{name} takes one positional argument (the target), "
                                    f"got {len(marker.args)}")
        checks = build(marker.args[0], **marker.kwargs)
        metafunc.parametrize("rollcheck_property", checks, ids=[c.property_id for c in checks])
        return
