"""Power and false-alarm rate of ``--sampler any`` (rollcheck.properties.collector.sampler), measured.

Runs the fixed campaign on the sampler zoo (tests/properties/sampler_zoo.py: a correct own-sampler
collector, argmax, inverted softmax, uniform) with ``--replicates`` different private generator
seeds each, and prints how often ``sampler.actions_follow_policy`` rejects, with the statistic's
mean and the threshold. ``--pick`` also re-runs the weight-seed search the campaign's policies
came from (120 seeds per case, ranked by the argmax/uniform shift over its null spread).

    python benchmarks/bench_sampler_power.py [--replicates 20] [--pick]
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import pathlib
import sys

import numpy as np

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "tests" / "properties"))

from sampler_zoo import own_sampler_collect  # noqa: E402

from rollcheck.properties.collector.run import run_collector  # noqa: E402
from rollcheck.properties.collector.sampler import CAMPAIGN, _draws  # noqa: E402
from rollcheck.properties.core.sampler_test import actions_follow_policy  # noqa: E402


def offset_collect(offset, bug, *args, **kw):
    """The zoo collector with its private generator's seed shifted by ``offset`` (a replicate)."""
    args = list(args)
    args[7] = (args[7] + offset) % 2**64
    return own_sampler_collect(*args, bug=bug, **kw)


def campaign_test(collect):
    probs, actions = [], []
    for case in CAMPAIGN:
        p, a = _draws(run_collector(collect, case))
        probs += p
        actions += a
    return actions_follow_policy(probs, actions)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--replicates", type=int, default=20)
    ap.add_argument("--pick", action="store_true")
    args = ap.parse_args()
    for bug in (None, "argmax", "inverted", "uniform"):
        tests = [campaign_test(functools.partial(offset_collect, k, bug)) for k in range(args.replicates)]
        stats = np.array([t.statistic for t in tests])
        print(f"{bug or 'correct':9s} rejected {sum(t.rejected for t in tests)}/{len(tests)}  "
              f"statistic mean {stats.mean():+8.2f} (sd {stats.std():6.2f})  threshold ±{tests[0].threshold:.2f}  "
              f"draws {tests[0].draws}")
    if args.pick:
        for case in CAMPAIGN:
            ranked = []
            for ws in range(120):
                c = dataclasses.replace(case, policy=dataclasses.replace(case.policy, weight_seed=ws))
                p = np.array(_draws(run_collector(own_sampler_collect, c))[0])
                s2 = (p * p).sum(1)
                var = ((p ** 3).sum(1) - s2 ** 2).mean()
                shift = min((p.max(1) - s2).mean(), (s2 - 1 / p.shape[1]).mean())
                ranked.append((shift / np.sqrt(var + 1e-12), ws))
            print(f"n_actions={case.n_actions}: best weight seeds {sorted(ranked, reverse=True)[:3]}")


if __name__ == "__main__":
    main()
