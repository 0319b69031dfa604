"""``rollcheck collector MODULE:FUNC`` — validate a rollout collector with the seed's signature.

Mirrors TorchLean's ``NN.Runtime.RL.PPO.collectRolloutFromCallbacks`` as the specification the
target must meet (see :func:`rollcheck.properties.collector.validate.validate_collector`).

    rollcheck collector MODULE:FUNC [--env ENV_ID] [--horizon H] [--examples N] [--seed S]
                        [--report-dir DIR] [--skip ID ...] [--tolerance [QUANTITY=]VALUE ...]
                        [--sampler spec|any] [--action-space box]

Prints one line per property and each violation with its reproducer, writes
``collector-<MODULE:FUNC>-<options digest>.{md,json,junit.xml}`` under ``--report-dir`` (default
``reports``) as one unit. The collector runs in a supervised worker process (``--timeout``, ``--traceback``).
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
import sys

from rollcheck.commands.reporting import Broken, UsageProblem, add_run_options, broken_report, finish, run_work
from rollcheck.properties.core.provenance import run_provenance
from rollcheck.properties.core.report import report_stem

__all__ = ["register", "run"]


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an int") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} should be at least 1")
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
    p.add_argument("--tolerance", action="append", default=[], metavar="[QUANTITY=]VALUE",
                   help="fix a float tolerance: QUANTITY=VALUE for one of log_prob, value, reward, advantage, "
                        "return (repeatable), or VALUE for all; default: derived per quantity from the dtypes "
                        "the collector produced (float32 or float64) and the magnitudes")
    p.add_argument("--sampler", choices=("spec", "any"), default="spec",
                   help="spec: actions must be the (seed, counter) stream's, checked exactly (default); any: the "
                        "collector samples its own way (torch Categorical, ...): actions are tested against the "
                        "policy's probabilities, seed sensitivity and determinism over long runs "
                        "(false-alarm probability 1e-6 each)")
    p.add_argument("--profile", default=None, help="Hypothesis settings profile: ci, dev, thorough")
    p.add_argument("--action-space", choices=("discrete", "box"), default="discrete",
                   help="discrete (Fin n_actions, the seed's signature; default) or box (continuous actions, "
                        "a Gaussian policy: predict_gaussian, action_space=, squash=)")
    add_run_options(p)
    p.set_defaults(handler=run)


_PRESENTATION = ("report_dir", "timeout", "traceback", "handler", "command", "argv", "profile", "in_process")


def _import_target(target: str):
    """The callable named by ``MODULE:FUNC``; :class:`UsageProblem` when there is none.

    A module that exists but fails while it is imported is the subject's failure, not a usage
    problem: that exception propagates (the supervised run reports it).
    """
    from rollcheck.properties.collector.pytest_support import resolve_target
    from rollcheck.spec.errors import ArgumentError

    if ":" not in target:
        raise UsageProblem(f"target {target!r} should look like MODULE:FUNC (e.g. mypkg.ppo:collect)")
    module = target.split(":")[0]
    try:
        return resolve_target(target)
    except ModuleNotFoundError as exc:
        if exc.name and (module == exc.name or module.startswith(exc.name + ".")):
            raise UsageProblem(f"cannot import {module!r}: {type(exc).__name__}: {exc}") from None
        raise
    except ArgumentError as exc:
        raise UsageProblem(str(exc)) from None


def _work(args: argparse.Namespace) -> dict:
    """In the worker: import the collector, validate it; the report as data."""
    from rollcheck.properties.collector.validate import validate_collector
    from rollcheck.properties.core.tolerances import parse_tolerance
    from rollcheck.spec.errors import ArgumentError

    collect = _import_target(args.target)
    validate = validate_collector
    if args.action_space == "box":
        from rollcheck.properties.collector.box_validate import validate_box_collector as validate
    try:
        tolerance = parse_tolerance(args.tolerance)
        extra = {"sampler": args.sampler} if args.action_space == "discrete" else {}
        if args.action_space == "box":   # the Box validator takes one float tolerance
            tolerance = max(tolerance.overrides.values(), default=1e-9)
        report = validate(collect, env=args.env, horizon=args.horizon, examples=args.examples,
                          seed=args.seed, skip=args.skip, report_dir=None,
                          tolerance=tolerance, target_name=args.target, **extra)
    except ArgumentError as exc:
        raise UsageProblem(f"ArgumentError: {exc}") from None
    report.provenance = run_provenance(args.argv, {"seed": args.seed})
    return report.to_dict()


def _print(report) -> None:
    from rollcheck.properties.collector.pytest_support import format_result

    marks = {"held": "ok  ", "failed": "FAIL", "skipped": "skip", "error": "ERR "}
    for r in report.results:
        why = f"  — {r.error_reason}" if r.status == "error" and not report.error else ""
        print(f"{marks[r.status]} {r.id:40s} {r.examples:4d} cases  ({r.lean}){why}")
    for r in report.failed:
        print("\n" + format_result(r))
    print(f"\n{report.verdict}: {report.count_line()}")


def run(args: argparse.Namespace) -> int:
    from rollcheck.properties.collector.sampler import properties_for
    from rollcheck.properties.core.profiles import select_profile
    from rollcheck.properties.core.property import PropertySet
    from rollcheck.properties.core.report import Report
    from rollcheck.spec.errors import ArgumentError

    try:
        select_profile(args.profile)  # rollcheck's checks only; Hypothesis's loaded profile is left alone
    except ArgumentError as exc:   # an unknown profile name, or crosshair without its backend
        print(f"rollcheck collector: --profile {args.profile!r}: {exc}", file=sys.stderr)
        return 2
    try:
        per_case, campaign = properties_for(args.sampler)
        props = list(PropertySet(per_case + campaign).without(args.skip)) if args.action_space == "discrete" else []
    except ArgumentError as exc:
        print(f"rollcheck collector: ArgumentError: {exc}", file=sys.stderr)
        return 2
    options = {k: v for k, v in vars(args).items() if k not in _PRESENTATION and k != "target"}
    try:
        outcome = run_work(lambda: _work(args), timeout=args.timeout, in_process=args.in_process)
    except UsageProblem as exc:
        print(f"rollcheck collector: {exc}", file=sys.stderr)
        return 2
    if isinstance(outcome, Broken):
        report = broken_report(f"rollcheck collector: {args.target}", args.target, props, outcome,
                               with_traceback=args.traceback)
    else:
        report = Report.from_dict(outcome)
    return finish(report, args, report_stem("collector", args.target, options), _print, command="collector",
                  seeds={"seed": args.seed})
