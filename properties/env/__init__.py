"""The environment fuzzer (``rollcheck env``): programs, the instrumented runner, per-call, per-run and
per-vector-batch properties, targets and reproducers."""
