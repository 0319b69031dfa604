"""The ``rollcheck`` command line.

Subcommands live in :mod:`rollcheck.commands` (one module each, see ``COMMANDS``); this module only
assembles them and maps exceptions to exit statuses: 0 success / all properties hold, 1 a property
or contract is violated, 2 bad usage or a target that cannot be imported or run.
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
import sys  # noqa: E402
from typing import Sequence  # noqa: E402

from rollcheck.commands import COMMANDS


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rollcheck",
        description="Executable checks for the typed contracts of RL rollout collection.")
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
    try:
        return int(args.handler(args))
    except KeyboardInterrupt:
        print("rollcheck: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
