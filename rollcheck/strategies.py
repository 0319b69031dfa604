"""Hypothesis strategies for the values of rollcheck's spec (``from rollcheck import strategies``).

The public name of :mod:`rollcheck.properties.strategies`: shapes, shaped tensors, contracts,
transitions (well typed or deliberately broken), steps, rollouts, logits and GAE inputs.
"""

from rollcheck.properties.strategies import *  # noqa: F401,F403  (the public surface)
from rollcheck.properties.strategies import __all__  # noqa: F401
