"""``rollcheck rollout PATH`` — validate a recorded rollout (JSON, .npz, D4RL HDF5, Minari).

Mirrors TorchLean's ``Boundary.Json.loadRolloutAll`` as a command: every transition of ``PATH`` is
checked against the contract built from the options (``Boundary.Core.Contract``), its spaces, the
chain of observations and its episodes, and *all* bad transitions are counted and reported (see
:mod:`rollcheck.properties.rollout.recorded`).

    rollcheck rollout PATH [--obs-shape 4] [--n-actions 2 | --box-actions LO HI]
                      [--obs-range LO HI] [--reward-range LO HI] [--no-obs-finite]
                      [--no-reward-finite] [--exclusive-done-flags] [--max-bytes N]
                      [--max-findings N] [--replay [ENV]] [--seed S] [--time-budget SECONDS]
                      [--report-dir DIR] [--show N]

``PATH`` is a regular file, ``-`` (standard input, read once), a Minari dataset folder or a
local Minari dataset id. ``--obs-shape`` takes the dimensions as separate numbers
(``--obs-shape 2 3``), comma separated (``2,3``) or as a JSON list (``[2, 3]``); ``--obs-shape``
with no number, ``[]`` or ``scalar`` is the scalar shape; left out, the file's declaration (a JSON
``meta`` block, Minari's spaces) or its arrays give it. Exit status: 0 every applicable property
holds, 1 some transitions violate one (a summary of all of them is printed), 2 the file cannot be
read, holds no transitions, or the options are invalid. ``--replay`` re-simulates every episode
with its recorded actions in ``ENV`` (left out: the env a Minari dataset or a JSON ``meta`` block
names) from ``--seed`` (Minari: each episode's stored seed) and reports each episode's first
step that does not reproduce, within ``--time-budget`` seconds; the env runs in a supervised
worker, so one that hangs or crashes is reported (episode and step) instead of ending the command.

``--torchlean`` answers as TorchLean's ``loadRolloutAll`` would (interchange JSON; needs
``--obs-shape`` and ``--n-actions``), and ``--compare A B`` names the first step and field where two
interchange files differ (:mod:`rollcheck.commands.rollout_torchlean`).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from rollcheck.properties.rollout.readers.source import DEFAULT_MAX_BYTES
from rollcheck.properties.core.provenance import run_provenance
from rollcheck.properties.core.report import ReportWriteError, report_stem
from rollcheck.spec.contract import Contract
from rollcheck.spec.errors import ArgumentError
from rollcheck.spec.shape import Shape

from .rollout_torchlean import add_options, run_compare, run_torchlean

__all__ = ["parse_obs_shape", "register", "run"]


def parse_obs_shape(parts: "list[str]") -> Shape:
    """``['2', '3']``, ``['2,3']``, ``['[2, 3]']``, ``[]``, ``['[]']`` or ``['scalar']`` as a :class:`Shape`."""
    text = " ".join(parts).strip()
    if text in ("", "[]", "scalar", "()"):
        return Shape.scalar()
    cleaned = text.strip("[]()").replace(",", " ").split()
    dims = []
    for token in cleaned:
        try:
            d = int(token)
        except ValueError:
            raise ArgumentError(f"--obs-shape {text!r}: {token!r} is not a non-negative integer") from None
        if d < 0:
            raise ArgumentError(f"--obs-shape {text!r}: dimension {d} should be non-negative")
        dims.append(d)
    return Shape(tuple(dims))


def _ranges(indices: "list[int]", limit: int = 200) -> str:
    spans: list[str] = []
    start = prev = None
    for i in indices + [None]:  # type: ignore[list-item]
        if start is not None and (i is None or i != prev + 1):
            spans.append(str(start) if start == prev else f"{start}-{prev}")
            start = None
        if i is not None and start is None:
            start = i
        prev = i
    if len(spans) > limit:
        return ", ".join(spans[:limit]) + f", ... ({len(spans) - limit} more spans)"
    return ", ".join(spans)


def _stem(path: str) -> str:
    """``rollout-<file stem>-<digest of the full path>``: two files of one name never share a report."""
    if path == "-":
        return "rollout-stdin"
    name = Path(path).stem or Path(path).name or "dataset"
    return report_stem("rollout", name, {"path": str(Path(path).resolve())})


def _not_a_file(path: str) -> bool:
    """``True`` when ``path`` names neither a regular file, nor a folder (a Minari dataset), nor stdin."""
    return path != "-" and not (Path(path).is_file() or Path(path).is_dir())


def run(args: argparse.Namespace) -> int:
    from rollcheck.properties.rollout.recorded import validate_rollout_file

    if args.compare is not None:  # rollout_torchlean.py: the differential recipe
        return run_compare(args)
    try:
        if args.file is None:
            raise ArgumentError("PATH is required (unless --compare A B)")
        shape = parse_obs_shape(args.obs_shape) if args.obs_shape is not None else None
        contract = Contract(check_obs_finite=not args.no_obs_finite,
                            check_reward_finite=not args.no_reward_finite,
                            obs_range=tuple(args.obs_range) if args.obs_range else None,
                            reward_range=tuple(args.reward_range) if args.reward_range else None,
                            require_exclusive_done_flags=args.exclusive_done_flags)
        if args.n_actions is not None and args.n_actions <= 0:
            raise ArgumentError(f"--n-actions {args.n_actions} should be a positive int")
        if args.n_actions is not None and args.box_actions:
            raise ArgumentError("--n-actions (Discrete) and --box-actions (Box) exclude each other")
        if args.show < 0:
            raise ArgumentError(f"--show {args.show} should be at least 0")
        if args.torchlean:  # rollout_torchlean.py: TorchLean's own verdict and wording
            if shape is None or args.n_actions is None:
                raise ArgumentError("--torchlean needs --obs-shape and --n-actions (TorchLean's loader is typed)")
            return run_torchlean(args, shape, contract)
        if args.max_bytes <= 0:
            raise ArgumentError(f"--max-bytes {args.max_bytes} should be a positive number of bytes")
        if args.max_findings <= 0:
            raise ArgumentError(f"--max-findings {args.max_findings} should be at least 1")
        if args.time_budget <= 0:
            raise ArgumentError(f"--time-budget {args.time_budget} should be a positive number of seconds")
        if args.seed is not None and args.seed < 0:
            raise ArgumentError(f"--seed {args.seed} should be a non-negative int")
        report = validate_rollout_file(args.file, shape, args.n_actions, contract,
                                       box_bounds=tuple(args.box_actions) if args.box_actions else None,
                                       max_bytes=args.max_bytes, max_findings=args.max_findings,
                                       replay=args.replay, seed=args.seed, time_budget=args.time_budget)
    except ArgumentError as exc:
        print(f"rollcheck rollout: ArgumentError: {exc}", file=sys.stderr)
        return 2
    if report.error and not report.results and _not_a_file(args.file):
        # a missing path, a FIFO, a device: nothing was read, so nothing is reported (a usage error)
        print(f"rollcheck rollout: {args.file}: {report.error}", file=sys.stderr)
        return 2
    if args.report_dir:
        report.provenance = run_provenance(getattr(args, "argv", None), {})
        try:
            paths = report.write(args.report_dir, _stem(args.file))
        except ReportWriteError as exc:
            print(f"rollcheck rollout: {exc}", file=sys.stderr)
            return 2
        print(f"report: {', '.join(str(p) for p in paths.values())}")
    if report.error:
        print(f"rollcheck rollout: {args.file}: {report.error}", file=sys.stderr)
        return 2
    meta = report.meta
    skipped = [r for r in report.results if r.status == "skipped"]
    if report.ok:
        print(f"OK {args.file}: all {meta['transitions']} transitions satisfy the contract and hold "
              f"{len(report.results) - len(skipped)} properties ({meta['format']}, obs_shape {meta['obs_shape']}, "
              f"{meta['action_space']}; {len(skipped)} not applicable; {report.duration_s * 1e3:.0f} ms)")
        return 0
    counts = meta.get("violations_by_property", {})
    print(f"FAIL {args.file}: {meta['bad_transitions']} of {meta['transitions']} transitions are bad "
          f"({meta['format']}; {report.duration_s * 1e3:.0f} ms)")
    for r in report.failed:
        n = counts.get(r.id, len(r.findings))
        listed = "" if n == len(r.findings) else f", first {len(r.findings)} listed"
        print(f"  {r.id} ({r.lean}): {n} bad transition(s){listed}")
    indices = meta.get("bad_transition_indices", [])
    if indices:
        more = meta["bad_transitions"] - len(indices)
        print(f"  bad transitions: {_ranges(indices)}" + (f" (+{more} more in the report)" if more > 0 else ""))
    findings = sorted((f for r in report.failed for f in r.findings),
                      key=lambda f: (-1 if f.step is None else f.step))
    for f in findings[:args.show]:
        print(f"    {f.message}")
    if len(findings) > args.show:
        print(f"    ... {len(findings) - args.show} more (use --show N or --report-dir DIR for all)")
    return 1


def register(subparsers: "argparse._SubParsersAction") -> None:
    p = subparsers.add_parser(
        "rollout", help="validate a recorded rollout file (interchange JSON or .npz) against the contract",
        description=__doc__.split("\n\n")[0])
    p.add_argument("file", metavar="PATH", nargs="?", help="interchange JSON, .npz (rollcheck, interchange or D4RL names), "
                   "D4RL-style HDF5, a Minari dataset folder or id, or - for standard input")
    p.add_argument("--obs-shape", nargs="*", default=None, metavar="DIM",
                   help="observation shape, e.g. --obs-shape 4 or --obs-shape 2,3; none for a scalar "
                   "(default: as the file declares or stores it)")
    p.add_argument("--n-actions", type=int, default=None, help="number of discrete actions (Discrete)")
    p.add_argument("--box-actions", nargs=2, type=float, metavar=("LO", "HI"),
                   help="continuous actions in a Box [LO, HI] of the file's action shape")
    p.add_argument("--max-bytes", type=int, default=DEFAULT_MAX_BYTES,
                   help=f"refuse to read more than this many bytes (file or decompressed; default {DEFAULT_MAX_BYTES})")
    p.add_argument("--max-findings", type=int, default=100,
                   help="findings listed per property (counts stay exact; default 100)")
    p.add_argument("--obs-range", nargs=2, type=float, metavar=("LO", "HI"),
                   help="closed interval every observation entry must lie in")
    p.add_argument("--reward-range", nargs=2, type=float, metavar=("LO", "HI"),
                   help="closed interval every reward must lie in")
    p.add_argument("--no-obs-finite", action="store_true", help="allow NaN/inf observation entries")
    p.add_argument("--no-reward-finite", action="store_true", help="allow NaN/inf rewards")
    p.add_argument("--exclusive-done-flags", action="store_true",
                   help="reject transitions with both terminated and truncated true")
    p.add_argument("--replay", nargs="?", const="dataset", default=None, metavar="ENV",
                   help="re-simulate each episode with its recorded actions in ENV (a Gymnasium id; left out: "
                   "the env the dataset names) and report the first step that differs")
    p.add_argument("--env", dest="replay", help="the same as --replay ENV")
    p.add_argument("--seed", type=int, default=None,
                   help="reset seed of the first replayed episode (Minari stores one per episode)")
    p.add_argument("--time-budget", type=float, default=60.0, metavar="SECONDS",
                   help="bound on the replay's wall time (default 60)")
    p.add_argument("--report-dir", default="reports",
                   help="where rollout-<stem>.md/.json/.junit.xml go (default: reports)")
    p.add_argument("--show", type=int, default=20, help="violations to print (default 20)")
    add_options(p)  # --torchlean, --compare A B, --atol (rollout_torchlean.py)
    p.set_defaults(handler=run)
