"""What every command that runs user code shares: a supervised run, report names, the report unit.

Not a TorchLean definition. The commands ``env``, ``collector``, ``collect`` and ``sb3`` run the
user's code (factories, ``reset``/``step``, wrappers, collectors, policies) through
:func:`run_work`: the whole command's work runs in a worker process supervised by
:func:`rollcheck.impl.supervisor.run_supervised`, so a subject that raises any ``BaseException``,
exits, segfaults or hangs (one call longer than ``--timeout``) becomes an ``error`` report in the
parent instead of taking rollcheck down. Invariants enforced:

- a usage problem (bad option, unknown env id, missing module) writes nothing and exits 2
  (:class:`UsageProblem`);
- results are printed before any file is written; a report-directory problem is exit 2 with the
  reason, and the three report files are replaced together or not at all
  (:meth:`~rollcheck.properties.core.report.Report.write`);
- report names are unique per subject: the command, the full target and a short digest of the
  options that define the run (:func:`report_stem`);
- every report carries its provenance (versions, command line, seeds).
"""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Mapping

from rollcheck.impl.supervisor import (DEFAULT_TIMEOUT, Interrupted, Outcome, interrupted_by_signal, run_supervised,
                                       supported)
from rollcheck.properties.core.provenance import run_provenance
from rollcheck.properties.core.report import PropertyResult, Report, ReportWriteError, report_stem
from rollcheck.spec.errors import RollcheckError

__all__ = ["UsageProblem", "Broken", "add_run_options", "broken_report", "finish", "report_stem", "run_work"]


class UsageProblem(RollcheckError):
    """The command cannot start: bad options, an unknown target (exit 2, nothing written)."""


@dataclass(frozen=True)
class Broken:
    """The subject broke the worker (raised a ``BaseException``, exited, crashed or hung)."""

    outcome: Outcome

    def message(self, with_traceback: bool = False) -> str:
        text = self.outcome.describe()
        if with_traceback and self.outcome.traceback:
            text += "\n\n" + self.outcome.traceback.rstrip()
        return text


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--timeout {text!r} is not a number of seconds") from None
    if not value > 0 or value != value or value == float("inf"):
        raise argparse.ArgumentTypeError(f"--timeout {text!r} should be a positive, finite number of seconds")
    return value


def add_run_options(parser: argparse.ArgumentParser) -> None:
    """``--timeout SECONDS`` and ``--traceback``, for every command that runs user code."""
    parser.add_argument("--timeout", type=_seconds, default=DEFAULT_TIMEOUT, metavar="SECONDS",
                        help=f"bound on one call into user code (a factory, reset, step, collector, policy); "
                             f"a call that takes longer is reported as an error naming it (default {DEFAULT_TIMEOUT:g})")
    parser.add_argument("--traceback", action="store_true",
                        help="print (and record) the full traceback of user code that broke the run")
    parser.add_argument("--in-process", action="store_true",
                        help="run user code in rollcheck's own process (for a debugger); without the worker "
                             "process, an exit, crash or hang of user code is not caught and --timeout does not apply")


def run_work(work: Callable[[], Any], *, timeout: float, harness: Iterable[str] = (),
             in_process: bool = False) -> "Any | Broken":
    """Run ``work()`` (the command's user-code part) in a supervised worker; its value or :class:`Broken`.

    ``work`` returns plain, picklable data (``Report.to_dict()`` for a report) or raises
    :class:`UsageProblem`, which is raised again here. The working directory stays importable, as
    with ``python -m``. ``in_process`` runs ``work`` here, unprotected (``--in-process``).
    """
    if os.getcwd() not in sys.path and "" not in sys.path:
        sys.path.insert(0, os.getcwd())

    def tagged() -> tuple:
        try:
            return ("value", work())
        except UsageProblem as exc:
            return ("usage", str(exc))
        except KeyboardInterrupt as exc:   # a forwarded Ctrl-C: hand back the partial report, if any
            partial = getattr(exc, "report", None)
            if interrupted_by_signal() and partial is not None:
                return ("interrupted", partial.to_dict())
            raise

    if in_process or not supported():  # asked for, or no fork (not POSIX): unprotected
        kind, value = tagged()
    else:
        try:
            outcome = run_supervised(tagged, timeout=timeout, harness=harness)
        except Interrupted as exc:
            o = exc.outcome
            if o is not None and o.ok and o.value[0] == "interrupted":
                exc.report = Report.from_dict(o.value[1])   # what was found before Ctrl-C (never written)
            raise
        if not outcome.ok:
            return Broken(outcome)
        kind, value = outcome.value
    if kind == "usage":
        raise UsageProblem(value)
    return value


def broken_report(title: str, target: str, properties: Iterable[Any], broken: Broken, *,
                  with_traceback: bool, meta: "dict | None" = None) -> Report:
    """The report of a run whose subject broke the worker: every property ``error``, the call named."""
    message = broken.message(with_traceback)
    results = []
    for p in properties:
        r = PropertyResult(p.id, p.lean, p.statement)
        r.set_error("not evaluated: " + broken.outcome.describe())
        results.append(r)
    o = broken.outcome
    info = {"outcome": o.kind, "call": o.call, "where": o.where, "elapsed_s": round(o.elapsed_s, 3)}
    if o.kind == "hung":
        info["timeout_s"] = o.timeout
    return Report(title=title, target=target, results=results, error=message,
                  meta={**(meta or {}), "broken": info})


def finish(report: Report, args: argparse.Namespace, stem: "str | None", print_results: Callable[[Report], None],
           *, command: str, seeds: Mapping[str, Any], used: Iterable[str] = ()) -> int:
    """Print the results, then write the report unit under ``args.report_dir``; the exit status."""
    if not report.provenance:
        report.provenance = run_provenance(getattr(args, "argv", None), seeds, used)
    print_results(report)
    sys.stdout.flush()
    if report.error and getattr(args, "traceback", False) is False and "broken" in report.meta:
        print(f"rollcheck {command}: {report.error.splitlines()[0]} (--traceback for the full traceback)",
              file=sys.stderr)
    elif report.error:
        print(f"rollcheck {command}: {report.error}", file=sys.stderr)
    code = report.exit_code
    if getattr(args, "report_dir", None) and stem:
        try:
            paths = report.write(args.report_dir, stem)
        except ReportWriteError as exc:
            print(f"rollcheck {command}: {exc}; the results above were not saved", file=sys.stderr)
            return 2
        print(f"reports: {', '.join(str(p) for p in paths.values())}")
    return code
