"""What a report records about its run: versions, the command line, the seeds.

Not a TorchLean definition. Invariant enforced: every report rollcheck writes says which
rollcheck, Python, numpy, gymnasium and Hypothesis produced it (and torch / Stable-Baselines3 when
the run imported them), the exact command line and the seeds, so a verdict can be reproduced.
"""

from __future__ import annotations

import platform
import shlex
import sys
from importlib import metadata
from typing import Any, Iterable, Mapping

__all__ = ["CORE_PACKAGES", "OPTIONAL_PACKAGES", "package_versions", "run_provenance"]

CORE_PACKAGES = ("rollcheck", "numpy", "gymnasium", "hypothesis")
# distribution name -> module name; recorded when the run imported the module
OPTIONAL_PACKAGES = {"torch": "torch", "stable-baselines3": "stable_baselines3"}


def _version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "not installed"


def package_versions(used: Iterable[str] = ()) -> dict[str, str]:
    """``{"python": ..., "rollcheck": ..., ...}``; optional packages when imported (or named in ``used``)."""
    out = {"python": f"{platform.python_implementation()} {platform.python_version()}"}
    for dist in CORE_PACKAGES:
        out[dist] = _version(dist)
    wanted = set(used)
    for dist, module in OPTIONAL_PACKAGES.items():
        if module in sys.modules or dist in wanted:
            out[dist] = _version(dist)
    return out


def run_provenance(argv: "Iterable[str] | None", seeds: Mapping[str, Any], used: Iterable[str] = ()) -> dict:
    """The ``provenance`` block of a report: versions, command line and seeds."""
    args = list(sys.argv[1:] if argv is None else argv)
    return {"versions": package_versions(used), "command": shlex.join(["rollcheck", *args]),
            "seeds": dict(seeds), "platform": platform.platform()}
