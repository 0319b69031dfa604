"""rollcheck — TorchLean's typed contracts for PPO rollout collection, as executable checks.

The public surface: everything a user calls is importable from here, so examples read
``from rollcheck import Contract, CheckedSession, validate_collector``. The implementation lives in

- :mod:`rollcheck.spec` — the executable spec (pure Python; the oracle);
- :mod:`rollcheck.impl` — the reference collector, checked sessions, the subprocess bridge;
- :mod:`rollcheck.properties` — every invariant as a typed property, validators, the env fuzzer;

and :mod:`rollcheck.strategies` holds the Hypothesis strategies for the spec's values.

Every exception rollcheck raises derives from :class:`RollcheckError`.

Names are imported lazily so ``import rollcheck`` stays cheap (the CLI and the pytest plugin import
it at start-up); ``dir(rollcheck)`` and ``__all__`` list them all.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_LAZY = {
    # spec: the core values and the errors
    "Shape": "rollcheck.spec",
    "Contract": "rollcheck.spec",
    "Box": "rollcheck.spec",
    "diag_gaussian_log_prob": "rollcheck.spec",
    "squashed_log_prob": "rollcheck.spec",
    "gaussian_policy_step": "rollcheck.spec",
    "ContractViolation": "rollcheck.spec",
    "Violation": "rollcheck.spec",
    "Transition": "rollcheck.spec",
    "Step": "rollcheck.spec",
    "Rollout": "rollcheck.spec",
    "Env": "rollcheck.spec",
    "StepResult": "rollcheck.spec",
    "RollcheckError": "rollcheck.spec",
    "ArgumentError": "rollcheck.spec",
    "to_actor_critic_sample": "rollcheck.spec",
    "load_rollout": "rollcheck.spec",
    "load_rollout_all": "rollcheck.spec",
    # spec: TorchLean's computations, bit for bit (Spec.Random, PolicyGradient, Core, Rollout)
    "uniform": "rollcheck.spec",
    "key_of": "rollcheck.spec",
    "sample_action_from_logits": "rollcheck.spec",
    "action_policy": "rollcheck.spec",
    "action_log_softmax": "rollcheck.spec",
    "action_log_probability": "rollcheck.spec",
    "generalized_advantage_estimation": "rollcheck.spec",
    "generalized_advantages": "rollcheck.spec.advantage",
    "normalize_zscore": "rollcheck.spec",
    "discounted_returns_done": "rollcheck.spec",
    "training_batch": "rollcheck.spec.sample",
    "TrainingBatch": "rollcheck.spec.sample",
    "torchlean_verdict": "rollcheck.spec.torchlean_boundary",
    "TorchLeanVerdict": "rollcheck.spec.torchlean_boundary",
    "TorchLeanFileError": "rollcheck.spec.torchlean_boundary",
    "compare_rollout_files": "rollcheck.spec.rollout_diff",
    "first_difference": "rollcheck.spec.rollout_diff",
    # impl: collectors, sessions, the bridge
    "CheckedSession": "rollcheck.impl.session",
    "bridge_session": "rollcheck.impl.bridge_session",
    "judge_columns": "rollcheck.impl.contract_judge",
    "judge_transition": "rollcheck.impl.contract_judge",
    "batch_transition_violations": "rollcheck.impl.contract_judge",
    "collect_rollout_session_with": "rollcheck.impl.collect",
    "collect_rollout_checked_session_with": "rollcheck.impl.collect",
    "collect_rollout_with": "rollcheck.impl.collect",
    "collect": "rollcheck.impl.collect",
    "collect_rollout_from_callbacks": "rollcheck.impl.collect",
    "collect_rollout_from_session": "rollcheck.impl.collect",
    "collect_rollout_from_gymnasium": "rollcheck.impl.collect",
    "collect_rollout_box_session_with": "rollcheck.impl.collect",
    "collect_rollout_box_checked_session_with": "rollcheck.impl.collect",
    "GaussianMlpActorCritic": "rollcheck.impl.policy",
    "collect_rollout_vector_with": "rollcheck.impl.vector_collect",
    "VectorRollout": "rollcheck.impl.vector_collect",
    "VectorContractViolation": "rollcheck.impl.vector_rollout",
    "MlpActorCritic": "rollcheck.impl.policy",
    "CounterEnv": "rollcheck.impl.toy_envs",
    "counter_spec_env": "rollcheck.impl.toy_envs",
    "GymnasiumClient": "rollcheck.impl.bridge_client",
    "BridgeError": "rollcheck.impl.bridge_protocol",
    # properties: validators, the fuzzer, machines, reports
    "Property": "rollcheck.properties.core.property",
    "CallProperty": "rollcheck.properties.core.property",
    "RunProperty": "rollcheck.properties.core.property",
    "BatchProperty": "rollcheck.properties.core.property",
    "SessionProperty": "rollcheck.properties.core.property",
    "CaseProperty": "rollcheck.properties.core.property",
    "RecordsProperty": "rollcheck.properties.core.property",
    "BufferProperty": "rollcheck.properties.core.property",
    "PropertySet": "rollcheck.properties.core.property",
    "Report": "rollcheck.properties.core.report",
    "run_supervised": "rollcheck.impl.supervisor",
    "Outcome": "rollcheck.impl.supervisor",
    "validate_collector": "rollcheck.properties.collector.validate",
    "check_case": "rollcheck.properties.collector.validate",
    "CollectorCase": "rollcheck.properties.collector.trace",
    "PolicySpec": "rollcheck.properties.collector.trace",
    "validate_box_collector": "rollcheck.properties.collector.box_validate",
    "check_box_case": "rollcheck.properties.collector.box_validate",
    "BoxCollectorCase": "rollcheck.properties.collector.box_run",
    "BoxPolicySpec": "rollcheck.properties.collector.box_run",
    "BufferCase": "rollcheck.properties.rollout.arrays_catalog",
    "ARRAY_PROPERTIES": "rollcheck.properties.rollout.arrays_catalog",
    "SB3_PROPERTIES": "rollcheck.properties.rollout.sb3",
    "COLLECTOR_PROPERTIES": "rollcheck.properties.collector.catalog",
    "BOX_COLLECTOR_PROPERTIES": "rollcheck.properties.collector.box_validate",
    "SAMPLER_PROPERTIES": "rollcheck.properties.collector.sampler",
    "arrays_case": "rollcheck.properties.rollout.arrays",
    "sb3_case": "rollcheck.properties.rollout.sb3",
    "validate_arrays": "rollcheck.properties.rollout.arrays",
    "validate_sb3": "rollcheck.properties.rollout.sb3",
    "save_arrays_file": "rollcheck.properties.rollout.arrays_file",
    "load_arrays_file": "rollcheck.properties.rollout.arrays_file",
    "check_sampler": "rollcheck.properties.collector.sampler",
    "Tolerances": "rollcheck.properties.core.tolerances",
    "validate_rollout_file": "rollcheck.properties.rollout.recorded",
    "RolloutFileError": "rollcheck.properties.rollout.recorded",
    "fuzz_env": "rollcheck.properties.env.fuzz",
    "WorkerBroke": "rollcheck.properties.env.fuzz",
    "env_hypothesis_tests": "rollcheck.properties.env.hypothesis_tests",
    "collector_hypothesis_tests": "rollcheck.properties.collector.hypothesis_tests",
    "layers_of": "rollcheck.properties.env.runner",
    "LayerInstrument": "rollcheck.properties.env.runner",
    "space_problems": "rollcheck.properties.env.checks",
    "safe_repr": "rollcheck.properties.env.checks",
    "env_machine": "rollcheck.properties.machines",
    "session_machine": "rollcheck.properties.machines",
    "collector_property_tests": "rollcheck.properties.collector.pytest_support",
    "env_property_tests": "rollcheck.properties.collector.pytest_support",
    "RecordingVecEnv": "rollcheck.properties.rollout.recording",
    "VecTrace": "rollcheck.properties.rollout.recording",
    "SubEnvRecorder": "rollcheck.properties.rollout.recording",
    "TorchPolicy": "rollcheck.properties.rollout.torch_policy",
    "torchrl_arrays": "rollcheck.properties.rollout.torchrl",
    "torchrl_policy": "rollcheck.properties.rollout.torchrl",
    "validate_torchrl": "rollcheck.properties.rollout.torchrl",
    "tianshou_arrays": "rollcheck.properties.rollout.tianshou",
    "validate_tianshou": "rollcheck.properties.rollout.tianshou",
}

__all__ = sorted(_LAZY) + ["__version__", "strategies"]


def __getattr__(name: str) -> Any:
    if name == "strategies":
        return importlib.import_module("rollcheck.strategies")
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'rollcheck' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
