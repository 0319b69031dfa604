"""``rollcheck env``: fuzz an environment and its wrapper stack against the env properties.

    rollcheck env ENV [--wrapper MODULE:CALLABLE ...] [--time-budget SECONDS] [--max-examples N]
                      [--max-steps K] [--seed S] [--report-dir DIR] [--skip PROPERTY ...] [--vector N]
                      [--make-kwargs JSON] [--max-episode-steps N] [--obs-range LO HI]
                      [--reward-range LO HI] [--database DIR|redis://HOST:PORT] [--jobs N] [--progress]

``ENV`` is resolved as Gymnasium resolves ids, registry first: a registered id (``CartPole-v1``;
third-party ids such as ``ALE/Pong-v5`` or ``MiniGrid-Empty-5x5-v0`` import their package's
registration), ``module:EnvId`` as ``gymnasium.make`` reads it, else ``MODULE:FACTORY`` (a
zero-argument callable returning an env; the current directory is importable, as with
``python -m``); the report says which was used. ``--time-budget`` (default 60 s) bounds the whole
run; the report says how much each property explored and whether the budget cut it short.
``--database`` shares Hypothesis's example database (a directory, or Redis through Hypothesis's
``RedisExampleDatabase``), so a failure found by any run replays first in every other.
``--jobs N`` (default: the machine's cores; 1 with ``--in-process``) runs the independent parts of
the search (per-call, replays, static checks, vector) N at a time in worker processes and merges
one report, the same for every N given the seed (up to timings and what the budget cut). Each
``--wrapper`` is applied in order. Exit status: 0 every property holds, 1 a property is violated
(the report shows a replayable snippet per finding), 2 ENV or a wrapper cannot be imported or
built, or an argument is invalid. Reports (Markdown, JSON, JUnit) go to ``--report-dir``.

Thin layer over :func:`rollcheck.properties.env.fuzz.fuzz_env`; mirrors no TorchLean definition.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any

from rollcheck.commands.reporting import Broken, UsageProblem, add_run_options, broken_report, finish, report_stem, run_work
from rollcheck.properties.core.provenance import run_provenance
from rollcheck.properties.core.report import pasteable

__all__ = ["register", "run"]


def register(subparsers) -> None:
    from rollcheck.properties.env.fuzz import DEFAULT_MAX_EXAMPLES, DEFAULT_MAX_STEPS, DEFAULT_TIME_BUDGET

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
    p.add_argument("--max-steps", type=int, default=None, metavar="K",
                   help=f"actions per program at most (default {DEFAULT_MAX_STEPS}, or twice the env's max_episode_steps "
                        f"when that is more, so a program can run two episodes into the time limit)")
    p.add_argument("--seed", type=int, default=0, metavar="S", help="search seed (default 0)")
    p.add_argument("--report-dir", default="reports", metavar="DIR",
                   help="where env-<ENV>-<options digest>.md / .json / .junit.xml go (default: reports)")
    p.add_argument("--skip", action="extend", nargs="+", default=[], metavar="PROPERTY",
                   help="property ids or prefixes to leave out (repeatable), e.g. determinism.seeds_differ")
    p.add_argument("--vector", type=int, default=None, metavar="N",
                   help="also check a gymnasium.vector.SyncVectorEnv of N copies (NEXT_STEP autoreset)")
    p.add_argument("--time-budget", type=float, default=DEFAULT_TIME_BUDGET, metavar="SECONDS",
                   help=f"bound on the whole run (default {DEFAULT_TIME_BUDGET:g}); programs are sized to fit")
    p.add_argument("--make-kwargs", default=None, metavar="JSON", help="keyword arguments for gymnasium.make, as JSON")
    p.add_argument("--max-episode-steps", type=int, default=None, metavar="N", help="gymnasium.make(max_episode_steps=N)")
    p.add_argument("--obs-range", type=float, nargs=2, default=None, metavar=("LO", "HI"),
                   help="Contract.obs_range: every observation entry in [LO, HI]")
    p.add_argument("--reward-range", type=float, nargs=2, default=None, metavar=("LO", "HI"),
                   help="Contract.reward_range: every reward in [LO, HI]")
    p.add_argument("--database", default=None, metavar="DIR|redis://HOST:PORT",
                   help="Hypothesis example database shared by runs (a directory, or a Redis URL)")
    p.add_argument("--jobs", type=int, default=None, metavar="N",
                   help="worker processes for the independent parts of the search (default: the machine's cores)")
    p.add_argument("--progress", action="store_true", help="show progress on stderr even when it is not a terminal")
    add_run_options(p)
    p.set_defaults(handler=run)


_PRESENTATION = ("report_dir", "progress", "timeout", "traceback", "handler", "command", "argv", "in_process", "jobs")


def database_from(spec: "str | None") -> Any:
    """``--database``: ``None``, a directory, or ``redis://HOST:PORT[/DB]`` (Hypothesis's ``RedisExampleDatabase``)."""
    from rollcheck.spec.errors import ArgumentError

    if spec is None:
        return None
    if spec.startswith("redis://"):
        try:
            import redis
            from hypothesis.extra.redis import RedisExampleDatabase
        except ImportError as exc:
            raise ArgumentError(f"--database={spec!r} needs the redis client: pip install redis ({exc})") from None
        return RedisExampleDatabase(redis.Redis.from_url(spec))
    from hypothesis.database import DirectoryBasedExampleDatabase

    if os.path.exists(spec) and not os.path.isdir(spec):
        raise ArgumentError(f"--database={spec!r} is a file, not a directory or redis:// URL")
    return DirectoryBasedExampleDatabase(spec)


def _contract(args: argparse.Namespace) -> Any:
    from rollcheck.spec.contract import Contract
    from rollcheck.spec.errors import ArgumentError

    try:
        return Contract(obs_range=tuple(args.obs_range) if args.obs_range else None,
                        reward_range=tuple(args.reward_range) if args.reward_range else None)
    except (ValueError, TypeError) as exc:
        raise ArgumentError(f"--obs-range/--reward-range: {exc}") from None


def _make_kwargs(text: "str | None") -> "dict | None":
    from rollcheck.spec.errors import ArgumentError

    if text is None:
        return None
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise ArgumentError(f"--make-kwargs={text!r} is not JSON ({exc})") from None
    if not isinstance(value, dict):
        raise ArgumentError(f"--make-kwargs={text!r} should be a JSON object of keyword arguments")
    return value


def _properties(args: argparse.Namespace) -> list:
    from rollcheck.properties.env.catalog import ENV_PROPERTIES, VECTOR_PROPERTIES

    props = ENV_PROPERTIES if args.vector else ENV_PROPERTIES.without([p.id for p in VECTOR_PROPERTIES])
    return list(props)


def _usage_or_subject(exc: Exception) -> bool:
    """Whether a TargetError is a usage problem (unknown id, missing module or attribute)."""
    cause = exc.__cause__
    if cause is None or isinstance(cause, ModuleNotFoundError):
        return True
    return type(cause).__module__.startswith("gymnasium")   # gymnasium's NameNotFound, VersionNotFound ...


def _work(args: argparse.Namespace) -> dict:
    """In the worker: resolve the target, fuzz it; the report as data (or a UsageProblem)."""
    from rollcheck.properties.env.fuzz import WorkerBroke, fuzz_env
    from rollcheck.properties.env.jobs import default_jobs
    from rollcheck.properties.env.target import TargetError, resolve_target
    from rollcheck.spec.errors import ArgumentError

    try:
        resolve_target(args.env, args.wrapper)
    except TargetError as exc:
        if _usage_or_subject(exc):
            raise UsageProblem(str(exc)) from None
    jobs = args.jobs if args.jobs is not None else (1 if args.in_process else default_jobs())
    try:
        report = fuzz_env(args.env, wrappers=args.wrapper, max_examples=args.max_examples,
                          max_steps=args.max_steps, seed=args.seed, skip=args.skip, vector=args.vector,
                          progress=True if args.progress else None, time_budget=args.time_budget,
                          make_kwargs=_make_kwargs(args.make_kwargs), max_episode_steps=args.max_episode_steps,
                          contract=_contract(args), database=database_from(args.database), jobs=jobs,
                          call_timeout=args.timeout)
    except ArgumentError as exc:
        raise UsageProblem(f"ArgumentError: {exc}") from None
    except WorkerBroke as exc:  # the subject broke a part's worker: reported as if it broke this one
        return {"broken": exc.outcome}
    report.provenance = run_provenance(args.argv, {"seed": args.seed})
    return report.to_dict()


def run(args: argparse.Namespace) -> int:
    from rollcheck.properties.core.report import Report

    options = {k: v for k, v in vars(args).items() if k not in _PRESENTATION and k != "env"}
    try:
        outcome = run_work(lambda: _work(args), timeout=args.timeout, in_process=args.in_process)
    except UsageProblem as exc:
        print(f"rollcheck env: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as exc:  # Ctrl-C: show what was found; never write or replace a report
        partial = getattr(exc, "report", None)
        if partial is not None:
            _summary(partial)
        print("rollcheck env: interrupted; the results above are incomplete and no report was written",
              file=sys.stderr)
        return 130
    if isinstance(outcome, dict) and "broken" in outcome:
        outcome = Broken(outcome["broken"])
    if isinstance(outcome, Broken):
        report = broken_report("rollcheck env", args.env, _properties(args), outcome, with_traceback=args.traceback)
    else:
        report = Report.from_dict(outcome)
    return finish(report, args, report_stem("env", args.env, options), _summary, command="env",
                  seeds={"seed": args.seed})


def _summary(report) -> None:
    meta = report.meta
    print(f"rollcheck env {report.target}: {report.verdict} — {report.count_line()}; "
          f"{meta.get('examples', 0)} programs, {meta.get('checked_steps', 0)} checked steps "
          f"({meta.get('env_steps', 0)} env steps) in {report.duration_s:.1f} s")
    if meta.get("incomplete"):
        print(f"  incomplete: {meta.get('cut_short')}")
    for key in ("resolved", "probing"):
        if meta.get(key):
            print(f"  {key}: {meta[key]}")
    for r in report.results:
        mark = {"held": "ok  ", "failed": "FAIL", "skipped": "skip", "error": "ERR "}[r.status]
        why = r.skip_reason if r.status == "skipped" else None
        extra = f"  ({why})" if why else ""
        print(f"  {mark} {r.id:32s} {r.steps:8d} steps {r.episodes:6d} episodes{extra}")
    for r in report.failed:
        for f in r.findings:
            where = f" [first failing action: {f.step}, seed {f.context.get('seed')}]" if f.step is not None else ""
            print(f"\n{r.id}: {f.message}{where}")
            if f.reproducer:
                print("replay it with (paste into python, or save as a file):\n\n" + pasteable(f.reproducer), end="")
