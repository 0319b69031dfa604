"""rollcheck — TorchLean's typed contracts for PPO rollout collection, as executable checks.

The public facade. Submodules:

- :mod:`rollcheck.spec` — the executable spec (pure Python; the oracle);
- :mod:`rollcheck.impl` — the reference collector, checked sessions, the subprocess bridge;
- :mod:`rollcheck.properties` — every invariant as a named property, Hypothesis strategies,
  validators for third-party collectors and the environment fuzzer.

Names below are imported lazily so ``import rollcheck`` stays cheap (the CLI and the pytest
plugin import it at start-up).
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_LAZY = {
    # impl
    "CheckedSession": "rollcheck.impl.session",
    "collect_rollout_session_with": "rollcheck.impl.collect",
    "collect_rollout_checked_session_with": "rollcheck.impl.collect",
    "collect_rollout_with": "rollcheck.impl.collect",
    "collect_rollout_vector_with": "rollcheck.impl.vector_collect",
    "VectorRollout": "rollcheck.impl.vector_collect",
    "VectorContractViolation": "rollcheck.impl.vector_collect",
    "MlpActorCritic": "rollcheck.impl.policy",
    "CounterEnv": "rollcheck.impl.toy_envs",
    "GymnasiumClient": "rollcheck.impl.bridge_client",
    # properties
    "Report": "rollcheck.properties.report",
    "validate_collector": "rollcheck.properties.validate_collector",
    "validate_arrays": "rollcheck.properties.arrays",
    "validate_sb3": "rollcheck.properties.sb3_adapter",
    "validate_rollout_file": "rollcheck.properties.recorded",
    "fuzz_env": "rollcheck.properties.fuzz_env",
    "RecordingVecEnv": "rollcheck.properties.recording",
    "VecTrace": "rollcheck.properties.recording",
}

__all__ = sorted(_LAZY) + ["__version__"]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'rollcheck' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
