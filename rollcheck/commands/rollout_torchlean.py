"""``rollcheck rollout --torchlean FILE`` and ``rollcheck rollout --compare A B``.

The two TorchLean-facing options of the ``rollout`` command (registered by
:mod:`rollcheck.commands.rollout`):

- ``--torchlean``: "would TorchLean's ``loadRolloutAll`` accept this file, and what would it say?"
  (:func:`rollcheck.spec.torchlean_boundary.torchlean_verdict`: TorchLean's parse order, its first
  error per transition in its own wording, a NaN token refusing the whole file). Exit 0 when
  TorchLean accepts every transition, 1 when it returns errors or refuses the file.
- ``--compare A B``: the differential recipe — the first step and field where two interchange files
  differ (:func:`rollcheck.spec.rollout_diff.compare_rollout_files`; ``--atol`` for a tolerance,
  bit-for-bit by default). Exit 0 identical, 1 different, 2 unreadable.
"""

from __future__ import annotations

import argparse
import sys

__all__ = ["add_options", "run_compare", "run_torchlean"]


def add_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--torchlean", action="store_true",
                        help="answer as TorchLean's loadRolloutAll would: accept or refuse, with its first error "
                             "per transition in TorchLean's wording")
    parser.add_argument("--compare", nargs=2, metavar=("A", "B"), default=None,
                        help="compare two interchange files; print the first differing step and field")
    parser.add_argument("--atol", type=float, default=0.0,
                        help="with --compare: numbers within ATOL are equal (default 0: bit for bit)")


def run_compare(args: argparse.Namespace) -> int:
    from rollcheck.spec.errors import ArgumentError, ContractViolation
    from rollcheck.spec.rollout_diff import compare_rollout_files, read_rollout_document

    left, right = args.compare
    try:
        diff = compare_rollout_files(left, right, args.atol)
    except (ArgumentError, ContractViolation) as exc:
        print(f"rollcheck rollout --compare: {exc}", file=sys.stderr)
        return 2
    if diff is None:
        n = len(read_rollout_document(left)["transitions"])
        print(f"SAME {left} and {right}: {n} transitions, every field "
              + ("bit for bit" if args.atol == 0 else f"within atol {args.atol}"))
        return 0
    print(f"DIFFERENT {left} vs {right}: first difference at {diff}")
    return 1


def run_torchlean(args: argparse.Namespace, shape, contract) -> int:
    from rollcheck.spec.torchlean_boundary import torchlean_verdict

    verdict = torchlean_verdict(args.file, shape, args.n_actions, contract)
    print(verdict.summary())
    for index, message in verdict.errors[1:args.show]:
        print(f"  transition {index}: {message}")
    if len(verdict.errors) > max(args.show, 1):
        print(f"  ... {len(verdict.errors) - max(args.show, 1)} more")
    return 0 if verdict.accepted else 1
