"""``rollcheck env``: fuzz an environment and its wrapper stack against the env properties.

    rollcheck env ENV [--wrapper MODULE:CALLABLE ...] [--max-examples N] [--max-steps K]
                      [--seed S] [--report-dir DIR] [--skip PROPERTY ...] [--vector N] [--progress]

``ENV`` is a registered Gymnasium id (``CartPole-v1``) or ``MODULE:FACTORY`` (a zero-argument
callable returning an env; the current directory is importable, as with ``python -m``). Each
``--wrapper`` is applied in order. Exit status: 0 every property holds, 1 a property is violated
(the report shows a replayable snippet per finding), 2 ENV or a wrapper cannot be imported or
built, or an argument is invalid. Reports (Markdown, JSON, JUnit) go to ``--report-dir``.

Thin layer over :func:`rollcheck.properties.env.fuzz.fuzz_env`; mirrors no TorchLean definition.
"""

from __future__ import annotations

import argparse
import os
import re
import sys

__all__ = ["register", "run"]


def register(subparsers) -> None:
    from rollcheck.properties.env.fuzz import DEFAULT_MAX_EXAMPLES, DEFAULT_MAX_STEPS

    p = subparsers.add_parser(
        "env", help="fuzz an environment / wrapper stack against the env contract",
        description="Search an environment and its wrapper stack for contract violations "
                    "(spaces, numerics, actions, determinism, reset purity, aliasing, episode ends, "
                    "wrapper layers, vector autoreset) and shrink each to a replayable (seed, actions).")
    p.add_argument("env", metavar="ENV", help="registered id (CartPole-v1) or MODULE:FACTORY")
    p.add_argument("--wrapper", action="append", default=[], metavar="MODULE:CALLABLE",
                   help="wrapper applied to the env (repeatable, applied in order)")
    p.add_argument("--max-examples", type=int, default=DEFAULT_MAX_EXAMPLES, metavar="N",
                   help=f"programs to search (default {DEFAULT_MAX_EXAMPLES})")
    p.add_argument("--max-steps", type=int, default=DEFAULT_MAX_STEPS, metavar="K",
                   help=f"actions per program at most (default {DEFAULT_MAX_STEPS})")
    p.add_argument("--seed", type=int, default=0, metavar="S", help="search seed (default 0)")
    p.add_argument("--report-dir", default="reports", metavar="DIR",
                   help="where env-<ENV>.md / .json / .junit.xml go (default: reports)")
    p.add_argument("--skip", action="extend", nargs="+", default=[], metavar="PROPERTY",
                   help="property ids or prefixes to leave out (repeatable), e.g. determinism.seeds_differ")
    p.add_argument("--vector", type=int, default=None, metavar="N",
                   help="also check a gymnasium.vector.SyncVectorEnv of N copies (NEXT_STEP autoreset)")
    p.add_argument("--progress", action="store_true", help="show progress on stderr even when it is not a terminal")
    p.set_defaults(handler=run)


def _stem(target: str) -> str:
    return "env-" + (re.sub(r"[^A-Za-z0-9_.-]+", "_", target).strip("_") or "target")


def run(args: argparse.Namespace) -> int:
    from rollcheck.properties.env.fuzz import fuzz_env
    from rollcheck.spec.errors import ArgumentError

    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())  # MODULE:FACTORY from the working directory, as `python -m` does
    try:
        report = fuzz_env(args.env, wrappers=args.wrapper, max_examples=args.max_examples,
                          max_steps=args.max_steps, seed=args.seed, skip=args.skip, vector=args.vector,
                          progress=True if args.progress else None)
    except ArgumentError as exc:
        print(f"rollcheck env: ArgumentError: {exc}", file=sys.stderr)
        return 2
    _summary(report)
    if report.error:
        print(f"rollcheck env: cannot run {args.env!r}: {report.error}", file=sys.stderr)
    if args.report_dir:
        paths = report.write(args.report_dir, _stem(args.env))
        print(f"reports: {', '.join(str(p) for p in paths.values())}")
    return report.exit_code


def _summary(report) -> None:
    meta = report.meta
    print(f"rollcheck env {report.target}: {report.verdict} — {report.count_line()}; "
          f"{meta.get('examples', 0)} programs, {meta.get('checked_steps', 0)} checked steps "
          f"({meta.get('env_steps', 0)} env steps) in {report.duration_s:.1f} s")
    for r in report.results:
        mark = {"held": "ok  ", "failed": "FAIL", "skipped": "skip", "error": "ERR "}[r.status]
        why = r.skip_reason if r.status == "skipped" else r.error_reason if r.status == "error" else None
        extra = f"  ({why})" if why else ""
        print(f"  {mark} {r.id:32s} {r.steps:8d} steps {r.episodes:6d} episodes{extra}")
    for r in report.failed:
        for f in r.findings:
            where = f" [first failing action: {f.step}, seed {f.context.get('seed')}]" if f.step is not None else ""
            print(f"\n{r.id}: {f.message}{where}")
            if f.reproducer:
                print("replay it with:\n\n" + f.reproducer.rstrip("\n") + "\n")
