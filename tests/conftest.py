"""Shared test configuration.

rollcheck's own suite opts in to rollcheck's Hypothesis profiles (the plugin alone never loads
one): the profile chosen with ``--rollcheck-profile`` / ``ROLLCHECK_PROFILE`` (``rollcheck-ci``
under ``CI``, else ``rollcheck-dev``) is loaded for every test here, bare Hypothesis tests included.

Tests that need an optional extra carry one of the markers in ``EXTRA_MARKERS``; each of them also
gets the ``extras`` marker, so the default run (``-m 'not slow and not extras'``) leaves them out
and CI's second run (``-m extras``, after installing ``.[test,extras]``) runs exactly them.
"""

import pytest

from rollcheck.properties.core.profiles import load_profile
from rollcheck.spec.errors import ArgumentError

EXTRA_MARKERS = ("sb3", "torch", "torchrl", "tianshou", "envs", "minari", "h5py", "redis")


def pytest_configure(config):
    try:
        load_profile(config.getoption("--rollcheck-profile"))
    except ArgumentError as exc:
        raise pytest.UsageError(f"rollcheck: {exc}") from None


def pytest_collection_modifyitems(items):
    for item in items:
        if any(item.get_closest_marker(name) for name in EXTRA_MARKERS):
            item.add_marker(pytest.mark.extras)
