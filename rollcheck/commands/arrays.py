"""``rollcheck arrays FILE.npz`` — validate a dumped CleanRL-style rollout buffer (and its env trace) from the shell.

Mirrors TorchLean's ``PPO.collectRolloutFromCallbacks`` and the split-flag
``generalizedAdvantageEstimationVec`` against a buffer on disk (see
:func:`rollcheck.properties.rollout.arrays.validate_arrays`; file layout in
:mod:`rollcheck.properties.rollout.arrays_file`).

    rollcheck arrays FILE.npz [--policy MODULE:OBJ] [--gamma G] [--lam L] [--n-actions N]
                     [--dones-convention episode_start|step] [--max-episode-steps L]
                     [--tolerance [QUANTITY=]VALUE ...] [--recomputed values|logprobs ...]
                     [--action-space JSON [--squash]] [--report-dir DIR]

``--action-space '{"type": "box", "shape": [1], "low": [-2], "high": [2]}'`` (the interchange file's
header form) makes it a continuous buffer (``actions (T, N, *shape)``; ``--squash`` for a
tanh-squashed policy); the policy then has ``predict_gaussian``.
``--policy`` names an object with ``predict_logits``/``predict_value`` (or a zero-argument factory
returning one) to re-run on the stored observations. Exit status: 0 every property holds (or was
skipped), 1 a property is violated, 2 the file or the policy cannot be used or an option is invalid.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

__all__ = ["register", "run"]


def register(subparsers) -> None:
    p = subparsers.add_parser("arrays", help="validate a dumped CleanRL-style buffer (.npz) and its trace",
                              description=__doc__.split("\n\n")[0])
    p.add_argument("file", metavar="FILE.npz", help="buffer arrays, plus the env trace under trace_*")
    p.add_argument("--policy", metavar="MODULE:OBJ", default=None,
                   help="policy with predict_logits/predict_value (or a factory) to recompute log-probs and values")
    p.add_argument("--gamma", type=float, default=0.99, help="discount (default 0.99)")
    p.add_argument("--lam", type=float, default=0.95, help="GAE lambda (default 0.95)")
    p.add_argument("--n-actions", type=int, default=None, help="size of the Discrete action space")
    p.add_argument("--dones-convention", choices=("episode_start", "step"), default="episode_start",
                   help="episode_start: CleanRL's dones[t] = next_done before step t (default); step: done of step t")
    p.add_argument("--max-episode-steps", type=int, default=None,
                   help="the env's time limit: episodes reaching it must end truncated (counted from the trace)")
    p.add_argument("--tolerance", action="append", default=[], metavar="[QUANTITY=]VALUE",
                   help="fix a float tolerance (log_prob, value, reward, advantage, return); default: derived "
                        "from the arrays' dtypes")
    p.add_argument("--recomputed", action="extend", nargs="+", default=[], choices=("values", "logprobs"),
                   help="arrays your library recomputed from the stored observations (their checks are tautological)")
    p.add_argument("--action-space", default=None, metavar="JSON",
                   help='a Box action space as JSON, e.g. {"type": "box", "shape": [1], "low": [-2], "high": [2]}')
    p.add_argument("--squash", action="store_true", help="Box actions: the policy is tanh-squashed")
    p.add_argument("--report-dir", default="reports", help="where arrays-<file>.{md,json,junit.xml} go")
    p.set_defaults(handler=run)


def _policy(target: str):
    from rollcheck.properties.collector.pytest_support import resolve_target

    if ":" not in target:
        raise ValueError(f"--policy {target!r} should look like MODULE:OBJ")
    if os.getcwd() not in sys.path and "" not in sys.path:
        sys.path.insert(0, os.getcwd())
    obj = resolve_target(target)
    if not (hasattr(obj, "predict_logits") or hasattr(obj, "predict_gaussian")) and callable(obj):
        obj = obj()
    return obj


def run(args: argparse.Namespace) -> int:
    from rollcheck.properties.core.tolerances import parse_tolerance
    from rollcheck.properties.rollout.arrays import validate_arrays
    from rollcheck.properties.rollout.arrays_file import load_arrays_file
    from rollcheck.spec.box import box_from_json
    from rollcheck.spec.errors import ArgumentError

    try:
        tolerance = parse_tolerance(args.tolerance)
        box = None
        if args.action_space is not None:
            try:
                box = box_from_json(json.loads(args.action_space), "--action-space")
            except json.JSONDecodeError as exc:
                raise ArgumentError(f"--action-space {args.action_space!r} is not JSON: {exc}") from None
        arrays, trace = load_arrays_file(args.file)
        policy = _policy(args.policy) if args.policy else None
        report = validate_arrays(arrays, trace=trace, policy=policy, gamma=args.gamma, lam=args.lam,
                                 n_actions=args.n_actions, dones_convention=args.dones_convention,
                                 tolerance=tolerance, max_episode_steps=args.max_episode_steps,
                                 recomputed=tuple(args.recomputed), action_space=box, squash=args.squash)
    except (ArgumentError, ValueError, ImportError, AttributeError) as exc:
        print(f"rollcheck arrays: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 2
    report.target = str(args.file)
    for r in report.results:
        why = r.skip_reason if r.status == "skipped" else r.error_reason if r.status == "error" else None
        print(f"  {r.status:7s} {r.id}" + (f" — {why}" if why else ""))
        for f in r.findings[:3]:
            print(f"          {f.message}")
    print(f"{report.verdict} {args.file}: {report.count_line()}")
    if args.report_dir:
        stem = "arrays-" + "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in Path(args.file).stem)[:60]
        paths = report.write(args.report_dir, stem)
        print(f"report: {', '.join(str(p) for p in paths.values())}")
    return report.exit_code
