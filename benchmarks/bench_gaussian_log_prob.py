"""Diagonal-Gaussian log-probabilities: the numpy fast path against the pure-Python spec, side by side.

    python benchmarks/bench_gaussian_log_prob.py [N] [D]

Prints rows/s of each and their ratio for N rows of a D-dimensional Box, with a state-independent
log-std (SB3/CleanRL) and with a state-dependent one; both results are asserted equal bit for bit.
"""

from __future__ import annotations

import sys
import time

import numpy as np

from rollcheck.impl.fast_gaussian import diag_gaussian_log_prob_batch
from rollcheck.spec.gaussian import diag_gaussian_log_prob


def _time(fn, repeat: int = 3) -> float:
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def main(n: int = 20000, d: int = 6) -> None:
    rng = np.random.default_rng(0)
    mean, actions = rng.normal(size=(n, d)), rng.normal(size=(n, d))
    for label, log_std in (("state-independent log_std", rng.normal(size=d) * 0.3),
                           ("state-dependent log_std", rng.normal(size=(n, d)) * 0.3)):
        ls = np.broadcast_to(log_std, (n, d))
        fast = diag_gaussian_log_prob_batch(mean, log_std, actions)
        spec = [diag_gaussian_log_prob(mean[i], ls[i], actions[i]) for i in range(n)]
        assert fast.tolist() == spec, "fast path and spec disagree"
        t_fast = _time(lambda: diag_gaussian_log_prob_batch(mean, log_std, actions))
        t_spec = _time(lambda: [diag_gaussian_log_prob(mean[i], ls[i], actions[i]) for i in range(n)], repeat=1)
        print(f"{label:28s} N={n} D={d}: fast {n / t_fast:12.0f} rows/s, spec {n / t_spec:10.0f} rows/s, "
              f"ratio {t_spec / t_fast:6.1f}x (bit-equal)")


if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:3]))
