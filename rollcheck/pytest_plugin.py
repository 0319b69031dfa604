"""rollcheck's pytest plugin (entry point ``pytest11: rollcheck``).

Registers rollcheck's Hypothesis profiles for any suite that has rollcheck installed and adds
``--rollcheck-profile NAME`` (default: ``$ROLLCHECK_PROFILE``, else ``ci`` under ``CI``, else
``dev``); see :mod:`rollcheck.properties.profiles`.
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


def pytest_report_header(config):
    return f"rollcheck: hypothesis profile {getattr(config, '_rollcheck_profile', '?')!r}"
