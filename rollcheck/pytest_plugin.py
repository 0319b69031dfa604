"""rollcheck's pytest plugin (entry point ``pytest11: rollcheck``).

Registers rollcheck's Hypothesis profiles for any suite that has rollcheck installed and adds
``--rollcheck-profile NAME`` (default: ``$ROLLCHECK_PROFILE``, else ``ci`` under ``CI``, else
``dev``); see :mod:`rollcheck.properties.profiles`.

It also gives a user's suite one test per collector property (TorchLean's
``PPO.collectRolloutFromCallbacks`` invariants, :mod:`rollcheck.properties.collector_properties`)
with the ``rollcheck_collector`` marker and the ``rollcheck_property`` argument::

    @pytest.mark.rollcheck_collector("mypkg.ppo:collect", horizon=None, examples=None, skip=())
    def test_my_collector(rollcheck_property):
        rollcheck_property.assert_holds()

The test is parametrized with one :class:`~rollcheck.properties.pytest_support.PropertyCheck` per
property id (the test ids are the property ids). The same is available without the marker as
:func:`rollcheck.properties.pytest_support.collector_property_tests`. Works under pytest-xdist.
"""

from __future__ import annotations


def pytest_addoption(parser):
    group = parser.getgroup("rollcheck")
    group.addoption("--rollcheck-profile", action="store", default=None,
                    help="Hypothesis profile for rollcheck properties: ci, dev, thorough, crosshair")


def pytest_configure(config):
    from rollcheck.properties.profiles import load_profile

    chosen = load_profile(config.getoption("--rollcheck-profile"))
    config._rollcheck_profile = chosen  # shown in the header
    config.addinivalue_line(
        "markers", "rollcheck_collector(target, *, env=None, horizon=None, examples=None, seed=0, skip=(), "
                   "tolerance=1e-9): parametrize the test's `rollcheck_property` argument with one check per "
                   "rollcheck collector property for `target` ('module:function' or a callable)")


def pytest_report_header(config):
    return f"rollcheck: hypothesis profile {getattr(config, '_rollcheck_profile', '?')!r}"


def pytest_generate_tests(metafunc):
    if "rollcheck_property" not in metafunc.fixturenames:
        return
    marker = metafunc.definition.get_closest_marker("rollcheck_collector")
    if marker is None:
        return
    from rollcheck.properties.pytest_support import property_checks

    if len(marker.args) != 1:
        raise TypeError("@pytest.mark.rollcheck_collector takes one positional argument: the collector "
                        "('module:function' or a callable)")
    checks = property_checks(marker.args[0], **marker.kwargs)
    metafunc.parametrize("rollcheck_property", checks, ids=[c.property_id for c in checks])
