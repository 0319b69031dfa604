"""The one error of the recorded-file readers: the file cannot be read as a rollout at all."""

from __future__ import annotations

from rollcheck.spec.errors import RollcheckError

__all__ = ["RolloutFileError"]


class RolloutFileError(RollcheckError, ValueError):
    """The file cannot be read as a rollout at all (exit status 2); the message names the problem."""
