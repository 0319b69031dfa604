"""rollcheck.properties — every invariant as a named, reusable property.

- :mod:`.property` — ``Property`` (stable dotted id, TorchLean definition, statement, check);
- :mod:`.report` — reports in Markdown, JSON and JUnit XML, written atomically;
- :mod:`.profiles` — Hypothesis settings profiles (``ci``, ``dev``, ``thorough``, ``crosshair``);
- :mod:`.strategies` — Hypothesis strategies for shapes, tensors, contracts, transitions, rollouts;
- :mod:`.machines` — Hypothesis stateful machines: ``env_machine`` (reset/step over a Gymnasium env
  with a determinism shadow and a reset-purity shadow) and ``session_machine`` (start/observe/
  step_checked over a ``CheckedSession``, optionally against a reference); ``.TestCase`` per target;
- collector validation (``validate_collector``), adapters for other collectors
  (``validate_arrays``, ``validate_sb3``, ``validate_rollout_file``), the vector-env recorder
  (:mod:`.recording`: ``RecordingVecEnv``, ``VecTrace``) and the environment fuzzer
  (``fuzz_env``), each in its own module.

Depends on :mod:`rollcheck.spec` (and on :mod:`rollcheck.impl` for sessions and fast paths).
"""
