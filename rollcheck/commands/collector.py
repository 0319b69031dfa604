"""``rollcheck collector MODULE:FUNC`` — validate a rollout collector with the seed's signature.

Mirrors TorchLean's ``NN.Runtime.RL.PPO.collectRolloutFromCallbacks`` as the specification the
target must meet (see :func:`rollcheck.properties.collector.validate.validate_collector`).

    rollcheck collector MODULE:FUNC [--env ENV_ID] [--horizon H] [--examples N] [--seed S]
                        [--report-dir DIR] [--skip ID ...] [--tolerance T] [--action-space box]

Prints one line per property and each violation with its reproducer, writes
``collector-<FUNC>.{md,json,junit.xml}`` under ``--report-dir`` (default ``reports``) atomically.
``--profile`` picks the rollcheck profile of the search (``rollcheck-ci``/``ci``, ``dev``,
``thorough``; default ``$ROLLCHECK_PROFILE``, else ``ci`` under ``CI``, else ``dev``; Hypothesis's
own loaded profile is not changed); with a profile that keeps an example database (``dev``: Hypothesis's
``.hypothesis/`` in the current directory) shrunk failures are saved and replayed first next time.
``--action-space box`` validates a continuous-action collector instead (a diagonal-Gaussian policy on a
``Box``: :func:`rollcheck.properties.collector.box_validate.validate_box_collector`, whose module docstring
gives the signature; ``--env`` must then have a ``Box`` action space, e.g. ``Pendulum-v1``).
Exit status: 0 every property holds, 1 any is violated, 2 the target cannot be imported or called,
or an argument (``--env``, ``--skip`` ...) is unusable — always with the reason on stderr.
"""

from __future__ import annotations

import argparse
import os
import sys
import traceback

__all__ = ["register", "run"]


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an int") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} should be at least one")
    return value


def register(subparsers) -> None:
    p = subparsers.add_parser("collector", help="validate a rollout collector with the seed's signature",
                              description="Drive a rollout collector with the seed's signature (TorchLean "
                                          "collectRolloutFromCallbacks) with instrumented sessions and policies, "
                                          "check every collector property, write Markdown/JSON/JUnit reports. "
                                          "Exit 0: all hold; 1: a property is violated; 2: the target cannot "
                                          "be imported or called.")
    p.add_argument("target", metavar="MODULE:FUNC",
                   help="the collector, e.g. mypkg.ppo:collect (the current directory is importable)")
    p.add_argument("--env", metavar="ENV_ID", default=None,
                   help="also drive the collector on this Gymnasium environment (Discrete actions)")
    p.add_argument("--horizon", type=_positive, default=None, help="fix the horizon (default: 1..24)")
    p.add_argument("--examples", type=_positive, default=None,
                   help="cases per property (default: the Hypothesis profile's max_examples)")
    p.add_argument("--seed", type=int, default=0, help="seed of the case search (default 0)")
    p.add_argument("--report-dir", default="reports", help="where the reports go (default: reports)")
    p.add_argument("--skip", action="extend", nargs="+", default=[], metavar="ID", help="property ids (or prefixes) to skip")
    p.add_argument("--tolerance", type=float, default=1e-9, help="relative/absolute float tolerance (1e-9)")
    p.add_argument("--profile", default=None, help="Hypothesis settings profile: ci, dev, thorough")
    p.add_argument("--action-space", choices=("discrete", "box"), default="discrete",
                   help="discrete (Fin n_actions, the seed's signature; default) or box (continuous actions, "
                        "a Gaussian policy: predict_gaussian, action_space=, squash=)")
    p.set_defaults(handler=run)


def _import_target(target: str):
    """The callable named by ``MODULE:FUNC``, or raise ``ValueError`` with the reason."""
    from rollcheck.properties.collector.pytest_support import resolve_target
    from rollcheck.spec.errors import ArgumentError

    if ":" not in target:
        raise ValueError(f"target {target!r} should look like MODULE:FUNC (e.g. mypkg.ppo:collect)")
    if os.getcwd() not in sys.path and "" not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        return resolve_target(target)
    except ImportError as exc:
        raise ValueError(f"cannot import {target.split(':')[0]!r}: {type(exc).__name__}: {exc}") from None
    except ArgumentError as exc:
        raise ValueError(str(exc)) from None
    except Exception as exc:
        tb = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__)[-3:])
        raise ValueError(f"cannot load {target!r}: {type(exc).__name__}: {exc}\n{tb}") from None


def run(args: argparse.Namespace) -> int:
    from rollcheck.properties.core.profiles import select_profile
    from rollcheck.properties.collector.pytest_support import format_result
    from rollcheck.properties.collector.validate import validate_collector
    from rollcheck.spec.errors import ArgumentError

    try:
        select_profile(args.profile)  # rollcheck's checks only; Hypothesis's loaded profile is left alone
    except ArgumentError as exc:   # an unknown profile name, or crosshair without its backend
        print(f"rollcheck collector: --profile {args.profile!r}: {exc}", file=sys.stderr)
        return 2
    try:
        collect = _import_target(args.target)
    except ValueError as exc:
        print(f"rollcheck collector: {exc}", file=sys.stderr)
        return 2
    validate = validate_collector
    if args.action_space == "box":
        from rollcheck.properties.collector.box_validate import validate_box_collector as validate
    try:
        report = validate(collect, env=args.env, horizon=args.horizon, examples=args.examples,
                          seed=args.seed, skip=args.skip, report_dir=args.report_dir,
                          tolerance=args.tolerance, target_name=args.target)
    except ArgumentError as exc:
        print(f"rollcheck collector: ArgumentError: {exc}", file=sys.stderr)
        return 2
    written = ", ".join(report.meta.get("written", {}).values())
    if report.error:
        print(f"rollcheck collector: {args.target} cannot be run: {report.error}", file=sys.stderr)
        print(f"report: {written}")
        return report.exit_code
    marks = {"held": "ok  ", "failed": "FAIL", "skipped": "skip", "error": "ERR "}
    for r in report.results:
        why = f"  — {r.error_reason}" if r.status == "error" else ""
        print(f"{marks[r.status]} {r.id:40s} {r.examples:4d} cases  ({r.lean}){why}")
    for r in report.failed:
        print("\n" + format_result(r))
    print(f"\n{report.verdict}: {report.count_line()}; reports: {written}")
    return report.exit_code
