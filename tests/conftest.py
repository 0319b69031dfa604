"""Shared test configuration. Hypothesis profiles come from rollcheck's pytest plugin
(``--rollcheck-profile`` / ``ROLLCHECK_PROFILE``; ``ci`` under ``CI``).

Tests that need an optional extra carry one of the markers in ``EXTRA_MARKERS``; each of them also
gets the ``extras`` marker, so the default run (``-m 'not slow and not extras'``) leaves them out
and CI's second run (``-m extras``, after installing ``.[test,extras]``) runs exactly them.
"""

import pytest

EXTRA_MARKERS = ("sb3", "torch", "torchrl", "tianshou", "envs", "minari", "h5py", "redis")


def pytest_collection_modifyitems(items):
    for item in items:
        if any(item.get_closest_marker(name) for name in EXTRA_MARKERS):
            item.add_marker(pytest.mark.extras)
