"""Hypothesis settings profiles for rollcheck's own suite and for users' suites.

Not a TorchLean definition. Profiles (select with ``ROLLCHECK_PROFILE=name`` or ``pytest
--rollcheck-profile=name``):

- ``ci`` — Hypothesis's built-in ``ci`` profile (auto-loaded when ``CI`` is set: derandomised, no
  deadline, no example database, blobs printed) *extended*, not replaced: rollcheck keeps all of
  that and only fixes ``max_examples`` so the default suite stays within CI's time budget.
- ``dev`` — quick local runs (fewer examples, the example database on).
- ``thorough`` — long campaigns: many more examples, no deadline.
- ``crosshair`` — the ``hypothesis-crosshair`` backend (install ``rollcheck[crosshair]``) for the
  small pure spec properties.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings
from hypothesis.errors import InvalidArgument as HypothesisInvalidArgument

from rollcheck.spec.errors import ArgumentError

__all__ = ["PROFILES", "load_profile", "register_profiles"]

PROFILES = ("ci", "dev", "thorough", "crosshair")

_registered = False


def register_profiles() -> None:
    """Register rollcheck's profiles (idempotent)."""
    global _registered
    if _registered:
        return
    builtin_ci = settings.get_profile("ci")
    # Explicit parent: a profile registered with parent=None inherits whatever profile is loaded at
    # registration time, which is Hypothesis's ``ci`` (no database) when $CI is set.
    builtin_default = settings.get_profile("default")
    settings.register_profile("ci", parent=builtin_ci, max_examples=60,
                              suppress_health_check=list(builtin_ci.suppress_health_check)
                              + [HealthCheck.too_slow])
    settings.register_profile("dev", parent=builtin_default, max_examples=30, deadline=None)
    settings.register_profile("thorough", parent=builtin_default, max_examples=2000, deadline=None,
                              suppress_health_check=[HealthCheck.too_slow])
    _registered = True


def _register_crosshair() -> None:
    """The ``crosshair`` profile, registered only on request: Hypothesis validates the backend
    when the profile is registered, and the backend exists only with ``rollcheck[crosshair]``."""
    try:
        settings.register_profile("crosshair", parent=settings.get_profile("default"), backend="crosshair",
                                  max_examples=50, deadline=None, suppress_health_check=list(HealthCheck))
    except HypothesisInvalidArgument as exc:
        raise ArgumentError(
            f"profile='crosshair' needs the hypothesis-crosshair backend: pip install 'rollcheck[crosshair]' ({exc})"
        ) from None


def load_profile(name: "str | None" = None) -> str:
    """Load ``name``, else ``$ROLLCHECK_PROFILE``, else ``ci`` when ``$CI`` is set, else ``dev``."""
    register_profiles()
    chosen = name or os.environ.get("ROLLCHECK_PROFILE") or ("ci" if os.environ.get("CI") else "dev")
    if chosen == "crosshair":
        _register_crosshair()
    try:
        settings.load_profile(chosen)
    except HypothesisInvalidArgument:
        raise ArgumentError(f"profile={chosen!r} is not a Hypothesis profile; rollcheck's are {', '.join(PROFILES)}") from None
    return chosen
