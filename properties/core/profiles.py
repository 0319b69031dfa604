"""rollcheck's Hypothesis settings profiles, applied to rollcheck's own checks only.

Not a TorchLean definition. Invariant enforced: nothing here changes the Hypothesis settings of
anyone who did not ask. rollcheck's profiles live under their own names (``rollcheck-ci``,
``rollcheck-dev``, ``rollcheck-thorough``, ``rollcheck-crosshair``; the short forms ``ci``,
``dev``, ... are accepted wherever a name is read), are registered only when asked for, and
rollcheck's properties pass the chosen :class:`hypothesis.settings` object explicitly to their
searches (:func:`rollcheck_settings`); Hypothesis's own ``ci``/``default`` profiles, a user's
profiles and ``--hypothesis-profile`` are never touched. The one global load is
:func:`load_profile`, which a suite calls to opt in (rollcheck's own ``tests/conftest.py`` does).

Which profile rollcheck's checks use: :func:`select_profile` (the pytest plugin's
``--rollcheck-profile``, the CLI's ``--profile``), else ``$ROLLCHECK_PROFILE``, else
``rollcheck-ci`` when ``$CI`` is set, else ``rollcheck-dev``.

- ``rollcheck-ci`` — Hypothesis's built-in ``ci`` settings (derandomised, no deadline, no example
  database, blobs printed) with ``max_examples=60`` so the default suite stays within CI's budget.
- ``rollcheck-dev`` — quick local runs (30 examples, no deadline, the example database on).
- ``rollcheck-thorough`` — long campaigns: 2000 examples, no deadline.
- ``rollcheck-crosshair`` — the ``hypothesis-crosshair`` backend (``rollcheck[crosshair]``) for
  the small pure spec properties.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings
from hypothesis.errors import InvalidArgument as HypothesisInvalidArgument

from rollcheck.spec.errors import ArgumentError

__all__ = ["PROFILES", "profile_name", "profile_settings", "select_profile", "selected_profile",
           "rollcheck_settings", "load_profile"]

PROFILES = ("rollcheck-ci", "rollcheck-dev", "rollcheck-thorough", "rollcheck-crosshair")

_selected: "str | None" = None


def profile_name(name: "str | None" = None) -> str:
    """The full profile name for ``name`` (``"ci"`` or ``"rollcheck-ci"``), else the default choice.

    Raises :class:`ArgumentError` naming the value for anything that is not one of :data:`PROFILES`.
    """
    chosen = name or os.environ.get("ROLLCHECK_PROFILE") or ("rollcheck-ci" if os.environ.get("CI") else "rollcheck-dev")
    if not isinstance(chosen, str):
        raise ArgumentError(f"profile={chosen!r} should be a profile name: {', '.join(PROFILES)}")
    full = chosen if chosen.startswith("rollcheck-") else f"rollcheck-{chosen}"
    if full not in PROFILES:
        raise ArgumentError(f"profile={chosen!r} is not a rollcheck profile; rollcheck's are {', '.join(PROFILES)}")
    return full


def _build(full: str) -> settings:
    """The settings object of one rollcheck profile, from explicit parents (never the loaded profile)."""
    default = settings.get_profile("default")
    if full == "rollcheck-ci":
        ci = settings.get_profile("ci")
        return settings(ci, max_examples=60,
                        suppress_health_check=list(ci.suppress_health_check) + [HealthCheck.too_slow])
    if full == "rollcheck-dev":
        return settings(default, max_examples=30, deadline=None)
    if full == "rollcheck-thorough":
        return settings(default, max_examples=2000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    try:  # Hypothesis validates the backend when it is set; it exists only with rollcheck[crosshair]
        return settings(default, backend="crosshair", max_examples=50, deadline=None,
                        suppress_health_check=list(HealthCheck))
    except HypothesisInvalidArgument as exc:
        raise ArgumentError(
            f"profile='rollcheck-crosshair' needs the hypothesis-crosshair backend: "
            f"pip install 'rollcheck[crosshair]' ({exc})") from None


def profile_settings(name: "str | None" = None) -> settings:
    """The :class:`hypothesis.settings` of rollcheck profile ``name`` (registered under its full name)."""
    full = profile_name(name)
    try:
        return settings.get_profile(full)
    except HypothesisInvalidArgument:
        settings.register_profile(full, _build(full))
        return settings.get_profile(full)


def select_profile(name: "str | None") -> str:
    """Choose the profile rollcheck's checks use from now on in this process (``None``: the default choice)."""
    global _selected
    full = profile_name(name)
    profile_settings(full)  # validate now (crosshair needs its backend), not at the first check
    _selected = full if name else None
    return full


def selected_profile() -> str:
    """The name of the profile rollcheck's checks use."""
    return _selected or profile_name(None)


def rollcheck_settings() -> settings:
    """The settings object rollcheck's checks pass to their searches (see :func:`select_profile`)."""
    return profile_settings(selected_profile())


def load_profile(name: "str | None" = None) -> str:
    """Opt a whole suite in: make rollcheck profile ``name`` Hypothesis's loaded profile and rollcheck's
    selection. Only a suite that wants rollcheck's settings for its own tests calls this."""
    full = select_profile(name)
    settings.load_profile(full)
    return full
