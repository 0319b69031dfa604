"""The ``rollcheck`` command line.

Subcommands live in :mod:`rollcheck.commands` (one module each, see ``COMMANDS``); this module only
assembles them and maps exceptions to exit statuses: 0 success / all properties hold, 1 a property
or contract is violated, 2 bad usage or a target that cannot be imported or run, 130 Ctrl-C
(SIGINT), 143 SIGTERM. An interrupted command writes and replaces no report; the commands that run
user code do so in a supervised worker process that is killed with everything it started
(:mod:`rollcheck.impl.supervisor`). ``rollcheck --version`` prints the versions a report records.
"""

from __future__ import annotations

import os

# rollcheck's policies are small (a 64x64 MLP): a BLAS thread pool only adds hand-off latency
# (the in-process collector runs ~16k steps/s with the default pool, ~25k with one thread,
# benchmarks/bench_bridge.py). Must be set before numpy is first imported; a user's setting wins.
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import importlib  # noqa: E402
import signal  # noqa: E402
import sys  # noqa: E402
import threading  # noqa: E402
from typing import Sequence  # noqa: E402

from rollcheck.commands import COMMANDS  # noqa: E402
from rollcheck.properties.core.provenance import package_versions  # noqa: E402


class Terminated(BaseException):
    """SIGTERM arrived: unwind like Ctrl-C (workers are killed on the way out), then exit 143."""


def _terminate(signum: int, frame: object) -> None:
    raise Terminated()


def _version_text() -> str:
    versions = package_versions()
    rest = ", ".join(f"{k} {v}" for k, v in versions.items() if k != "rollcheck")
    return f"rollcheck {versions['rollcheck']} ({rest})"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rollcheck", formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Executable checks for the typed contracts of RL rollout collection.")
    parser.add_argument("--version", action="version", version=_version_text())
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name in COMMANDS:
        try:
            module = importlib.import_module(f"rollcheck.commands.{name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"rollcheck.commands.{name}":
                continue  # command not built in this checkout
            raise
        module.register(sub)
    return parser


def main(argv: "Sequence[str] | None" = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)
    in_main = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _terminate) if in_main else None
    try:
        return int(args.handler(args))
    except KeyboardInterrupt:
        print("rollcheck: interrupted (no report written)", file=sys.stderr)
        return 130
    except Terminated:
        print("rollcheck: terminated (no report written)", file=sys.stderr)
        return 143
    finally:
        if in_main:
            signal.signal(signal.SIGTERM, previous)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
