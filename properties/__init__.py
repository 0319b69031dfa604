"""rollcheck.properties — every invariant as a typed, reusable property, grouped by subject.

- :mod:`.core` — the shared model: ``Property`` (stable dotted id, TorchLean definition, statement,
  check), reports (Markdown, JSON, JUnit XML), Hypothesis settings profiles;
- :mod:`.env` — the environment fuzzer (``fuzz_env``): action programs, the instrumented runner,
  per-call, per-run and vector properties, targets and reproducers;
- :mod:`.collector` — collector validation (``validate_collector``): instrumented sessions and
  policies, the collector properties, the pytest helper;
- :mod:`.rollout` — rollouts other code produced: CleanRL-style buffers (``validate_arrays``),
  Stable-Baselines3 (``validate_sb3``), recorded files (``validate_rollout_file``) and the
  vector-env recorder (``RecordingVecEnv``, ``VecTrace``);
- :mod:`.strategies` — Hypothesis strategies for shapes, tensors, contracts, transitions, rollouts
  (public as :mod:`rollcheck.strategies`);
- :mod:`.machines` — Hypothesis stateful machines: ``env_machine`` over a Gymnasium env and
  ``session_machine`` over a ``CheckedSession``.

Depends on :mod:`rollcheck.spec` (and on :mod:`rollcheck.impl` for sessions and fast paths). Users
import from :mod:`rollcheck`.
"""
