"""``rollcheck collect ENV_ID --horizon H --seed S`` — collect a contract-checked PPO rollout.

rollcheck's main job (the README's first command): TorchLean's ``collectRolloutFromSession`` on a
real Gymnasium environment, in-process (``CheckedSession.gymnasium``) or over the subprocess bridge
(``--bridge``: ``collectRolloutFromGymnasium``), with a numpy MLP actor-critic seeded from ``--seed``
(``--policy mlp``, default) or the uniform policy (``--policy random``).

A ``Box`` action space (Pendulum-v1, MuJoCo; rollcheck's extension of TorchLean, which collects
discrete actions only) gets a diagonal-Gaussian policy: the MLP gives the mean, ``log_std`` is a
state-independent vector (``--log-std-init``, default 0), the sample is clipped into the Box before
``env.step`` and its unclipped value and log-probability are recorded (SB3's and CleanRL's
convention); ``--squash`` makes it tanh-squashed (SB3's ``SquashedDiagGaussianDistribution``: the
action is rescaled from ``[-1, 1]`` to the bounds, the log-probability carries the tanh correction).
``--policy random`` is then the standard normal. The rollout file holds the env's (clipped) actions
as float lists with an ``action_space`` header (:mod:`rollcheck.spec.boundary_json`).

Writes, atomically (:mod:`rollcheck.impl.atomic_io`), under ``reports/`` by default:

- ``collect-<env>-<seed>-<digest>.rollout.json`` (the digest covers the options) — every checked transition in the interchange format
  (:func:`rollcheck.spec.dumps_rollout`; read it back with :func:`rollcheck.spec.load_rollout`);
- ``collect-<env>-<seed>-<digest>.summary.json`` and ``.md`` — env, horizon, seed, RNG counters, episodes,
  return statistics, steps/s, GAE advantage / value-target statistics
  (:func:`rollcheck.spec.to_actor_critic_sample`) and the contract used.

``--out`` is a directory (files get the default names) or a ``*.json`` path for the rollout (the
summaries go next to it). The three files are replaced as one unit; a run that did not collect
(a violation, an environment that broke) writes its summary and removes an earlier run's rollout.
The environment runs in a supervised worker process (``--timeout``: bound on one call into it).
Exit status: 0 success; 1 a contract violation (printed, located at its step, and recorded in the
summary); 2 bad usage, an unknown environment, an environment that raised, exited, crashed or hung,
a bridge failure, or an output folder that cannot be written.
A progress bar (rich) is shown on stderr when it is a terminal and the horizon is at least 1000.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path
from typing import Any, Callable
from rollcheck.spec.box import Box, box_to_json
from rollcheck.commands.reporting import Broken, UsageProblem, add_run_options, run_work
from rollcheck.properties.core.provenance import run_provenance
from rollcheck.properties.core.report import report_stem
from rollcheck.spec.errors import RollcheckError

PROGRESS_MIN_HORIZON = 1000


def register(subparsers: "argparse._SubParsersAction") -> None:
    parser = subparsers.add_parser(
        "collect", help="collect a contract-checked PPO rollout from a Gymnasium env",
        description="Collect a PPO rollout in which every step is checked against the trust-boundary "
                    "contract; write it (interchange JSON) and a Markdown/JSON summary.")
    parser.add_argument("env_id", metavar="ENV_ID", help="Gymnasium environment id, e.g. CartPole-v1")
    parser.add_argument("--horizon", type=int, required=True, help="number of steps to collect (> 0)")
    parser.add_argument("--seed", type=int, required=True,
                        help="seeds the first reset, the MLP weights and the action sampler (>= 0)")
    parser.add_argument("--counter", type=int, default=0, help="starting position of the RNG stream (default 0)")
    parser.add_argument("--policy", choices=("mlp", "random"), default="mlp",
                        help="numpy MLP actor-critic (64x64 tanh) or the uniform policy")
    parser.add_argument("--out", default="reports", metavar="PATH_OR_DIR",
                        help="output directory, or the rollout's *.json path (default: reports/)")
    parser.add_argument("--bridge", action="store_true", help="run the env in a bridge server subprocess")
    parser.add_argument("--make-kwargs", default=None, metavar="JSON", help="keyword arguments for gymnasium.make")
    parser.add_argument("--gamma", type=float, default=0.99, help="discount for the GAE summary (default 0.99)")
    parser.add_argument("--lam", type=float, default=0.95, help="GAE lambda for the summary (default 0.95)")
    parser.add_argument("--obs-range", type=float, nargs=2, metavar=("LO", "HI"), default=None,
                        help="contract: every observation entry in [LO, HI]")
    parser.add_argument("--reward-range", type=float, nargs=2, metavar=("LO", "HI"), default=None,
                        help="contract: every reward in [LO, HI]")
    parser.add_argument("--exclusive-done-flags", action="store_true",
                        help="contract: terminated and truncated are never both true")
    parser.add_argument("--squash", action="store_true",
                        help="Box actions: a tanh-squashed Gaussian rescaled to the bounds (default: clipped)")
    parser.add_argument("--log-std-init", type=float, default=0.0,
                        help="Box actions: the policy's state-independent log standard deviation (default 0)")
    parser.add_argument("--no-progress", action="store_true", help="never show a progress bar")
    add_run_options(parser)
    parser.set_defaults(handler=run)


class UsageError(RollcheckError):
    """Bad arguments or an environment that cannot be run (exit status 2)."""


def _fail(message: str, status: int) -> int:
    print(f"rollcheck collect: {message}", file=sys.stderr)
    return status


def _validated(args: argparse.Namespace) -> tuple[Any, dict]:
    from rollcheck.spec import Contract, ArgumentError

    for name, least in (("horizon", 1), ("seed", 0), ("counter", 0)):
        if getattr(args, name) < least:
            raise UsageError(f"--{name}={getattr(args, name)} should be at least {least}")
    for name in ("gamma", "lam"):
        value = getattr(args, name)
        if not 0.0 <= value <= 1.0:
            raise UsageError(f"--{name}={value} should be in [0, 1]")
    try:
        contract = Contract(obs_range=None if args.obs_range is None else tuple(args.obs_range),
                            reward_range=None if args.reward_range is None else tuple(args.reward_range),
                            require_exclusive_done_flags=args.exclusive_done_flags)
    except ArgumentError as exc:
        raise UsageError(str(exc)) from None
    make_kwargs: dict = {}
    if args.make_kwargs is not None:
        try:
            make_kwargs = json.loads(args.make_kwargs)
        except ValueError as exc:
            raise UsageError(f"--make-kwargs={args.make_kwargs!r} is not valid JSON: {exc}") from None
        if not isinstance(make_kwargs, dict):
            raise UsageError(f"--make-kwargs={args.make_kwargs!r} should be a JSON object")
    return contract, make_kwargs


def output_paths(out: str, env_id: str, seed: int, options: "dict | None" = None) -> tuple[Path, Path, Path]:
    """``(rollout.json, summary.json, summary.md)`` for ``--out`` (a directory or a ``*.json`` path).

    In a directory the stem is ``collect-<env>-<seed>-<digest of the options>``, so runs with
    different options never share files.
    """
    target = Path(out)
    if target.suffix == ".json" and not target.is_dir():
        stem = target.name[: -len(".json")]
        stem = stem[: -len(".rollout")] if stem.endswith(".rollout") else stem
        folder, rollout = target.parent, target
    else:
        stem = report_stem("collect", f"{env_id}-{seed}", options)
        folder = target
        rollout = folder / f"{stem}.rollout.json"
    return rollout, folder / f"{stem}.summary.json", folder / f"{stem}.md"


def _policy(kind: str, obs_size: int, n_actions: int, seed: int) -> Any:
    from rollcheck.impl.policy import MlpActorCritic, uniform_policy

    if kind == "random":
        return uniform_policy(n_actions)
    if obs_size == 0:
        raise UsageError("the observation has no entries; use --policy random")
    return MlpActorCritic(obs_size, n_actions, seed=seed)


def _box_policy(args: argparse.Namespace, obs_size: int, box: Any) -> Any:
    from rollcheck.impl.policy import GaussianMlpActorCritic, standard_gaussian_policy

    if args.squash and not box.bounded:
        raise UsageError(f"--squash needs a bounded action space; the env's is {box.describe()}")
    if args.policy == "random":
        return standard_gaussian_policy(box.size)
    if obs_size == 0:
        raise UsageError("the observation has no entries; use --policy random")
    if not math.isfinite(args.log_std_init):
        raise UsageError(f"--log-std-init={args.log_std_init} should be finite")
    return GaussianMlpActorCritic(obs_size, box.size, seed=args.seed, log_std_init=args.log_std_init)


def _identity(x: Any) -> Any:
    return x


class _Progress:
    """A rich progress bar on stderr, advanced every 256 steps (a no-op when disabled)."""

    def __init__(self, horizon: int, enabled: bool, label: str) -> None:
        self.horizon, self.count, self.bar, self.task = horizon, 0, None, None
        if enabled:
            from rich.console import Console
            from rich.progress import Progress

            self.bar = Progress(console=Console(stderr=True), transient=True)
            self.task = self.bar.add_task(label, total=horizon)

    def __enter__(self) -> "_Progress":
        if self.bar is not None:
            self.bar.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.stop()

    def hook(self, transitions: list) -> Callable[[Any], None]:
        append = transitions.append
        if self.bar is None:
            return append

        def on_transition(tr: Any) -> None:
            append(tr)
            if len(transitions) % 256 == 0 or len(transitions) == self.horizon:
                self.bar.update(self.task, completed=len(transitions))
        return on_transition


def _collect(args: argparse.Namespace, contract: Any, make_kwargs: dict, transitions: list) -> tuple[Any, int, dict]:
    """Run the collection; returns ``(rollout, counter, meta)``; fills ``transitions`` as it goes."""
    from rollcheck.impl.collect import (collect_rollout_box_checked_session_with,
                                        collect_rollout_checked_session_with, collect_rollout_with)
    from rollcheck.impl.session import CheckedSession
    from rollcheck.spec import ArgumentError

    show = (not args.no_progress and args.horizon >= PROGRESS_MIN_HORIZON and sys.stderr.isatty())
    if args.bridge:
        from rollcheck.impl.bridge_client import BridgeContractViolation, BridgeError, GymnasiumClient

        try:
            client = GymnasiumClient.spawn(args.env_id, make_kwargs=make_kwargs or None, contract=contract)
        except BridgeContractViolation:
            raise
        except (BridgeError, ArgumentError) as exc:
            raise UsageError(f"cannot start the bridge for {args.env_id!r}: {exc}") from None
        try:
            with client:
                shape, n = client.obs_shape, client.n_actions
                policy = _policy(args.policy, shape.size, n, args.seed)
                with _Progress(args.horizon, show, args.env_id) as progress:
                    start = time.perf_counter()
                    rollout, counter = collect_rollout_with(
                        _identity, _identity, client, policy.predict_logits, policy.predict_value, args.seed,
                        args.counter, args.seed, horizon=args.horizon, on_transition=progress.hook(transitions))
                    elapsed = time.perf_counter() - start
        except BridgeContractViolation:
            raise
        except BridgeError as exc:  # the server died, hung or wrote garbage: the target cannot be run
            raise UsageError(f"bridge failed after {len(transitions)} steps: {exc}") from None
        return rollout, counter, {"elapsed": elapsed}

    import gymnasium

    from rollcheck.impl.toy_envs import register_toy_envs

    register_toy_envs()
    try:
        env = gymnasium.make(args.env_id, **make_kwargs)
    except Exception as exc:  # gymnasium raises many types for unknown ids / bad kwargs
        raise UsageError(f"cannot make environment {args.env_id!r}: {type(exc).__name__}: {exc}") from None
    try:
        sess = CheckedSession.gymnasium(env, seed=args.seed, contract=contract)
    except ArgumentError as exc:
        env.close()
        raise UsageError(str(exc)) from None
    with sess:
        box = sess.action_space if isinstance(sess.action_space, Box) else None
        if box is None:
            policy = _policy(args.policy, sess.obs_shape.size, sess.n_actions, args.seed)
        else:
            policy = _box_policy(args, sess.obs_shape.size, box)
        with _Progress(args.horizon, show, args.env_id) as progress:
            start = time.perf_counter()
            if box is None:
                rollout, counter = collect_rollout_checked_session_with(
                    sess, _identity, _identity, policy.predict_logits, policy.predict_value, args.seed, args.counter,
                    horizon=args.horizon, on_transition=progress.hook(transitions))
            else:
                rollout, counter = collect_rollout_box_checked_session_with(
                    sess, _identity, _identity, policy.predict_gaussian, policy.predict_value, args.seed,
                    args.counter, horizon=args.horizon, squash=args.squash, on_transition=progress.hook(transitions))
            elapsed = time.perf_counter() - start
    return rollout, counter, {"elapsed": elapsed, "action_space": box}


def _finite(x: float) -> "float | None":
    return float(x) if math.isfinite(x) else None


def _stats(xs: Any) -> "dict | None":
    import numpy as np

    arr = np.asarray(xs, dtype=np.float64).ravel()
    if arr.size == 0:
        return None
    return {"mean": _finite(arr.mean()), "std": _finite(arr.std()), "min": _finite(arr.min()),
            "max": _finite(arr.max())}


def _episodes(rewards: list[float], dones: list[bool]) -> tuple[list[float], list[int]]:
    returns, lengths, total, length = [], [], 0.0, 0
    for r, d in zip(rewards, dones):
        total, length = total + r, length + 1
        if d:
            returns.append(total)
            lengths.append(length)
            total, length = 0.0, 0
    return returns, lengths


def _contract_dict(contract: Any) -> dict:
    return {"check_obs_finite": contract.check_obs_finite, "check_reward_finite": contract.check_reward_finite,
            "obs_range": None if contract.obs_range is None else list(contract.obs_range),
            "reward_range": None if contract.reward_range is None else list(contract.reward_range),
            "require_exclusive_done_flags": contract.require_exclusive_done_flags}


def summarize(args: argparse.Namespace, contract: Any, rollout: Any, counter: int, elapsed: float) -> dict:
    """The JSON summary of a successful collection."""
    from rollcheck.spec import to_actor_critic_sample

    returns, lengths = _episodes(rollout.rewards, rollout.dones)
    sample = to_actor_critic_sample(rollout, args.gamma, args.lam)
    return {
        "status": "ok", "env_id": args.env_id, "bridge": args.bridge, "policy": args.policy,
        "horizon": rollout.horizon, "seed": args.seed, "rng_counter_start": args.counter, "rng_counter_end": counter,
        "obs_shape": rollout.obs_shape.to_list(), "n_actions": rollout.n_actions,
        "action_space": None if rollout.action_space is None else box_to_json(rollout.action_space),
        "squash": bool(getattr(args, "squash", False)) if rollout.action_space is not None else None,
        "episodes_completed": len(returns), "terminated": sum(rollout.terminateds),
        "truncated_only": sum(d and not t for d, t in zip(rollout.dones, rollout.terminateds)),
        "episode_return": _stats(returns), "episode_length": _stats(lengths), "reward": _stats(rollout.rewards),
        "seconds": elapsed, "steps_per_second": rollout.horizon / elapsed if elapsed > 0 else None,
        "gamma": args.gamma, "lam": args.lam,
        "advantages_zscored": _stats(sample.advantages), "value_target": _stats(sample.value_target),
        "value": _stats(rollout.values), "old_log_prob": _stats(sample.old_log_prob),
        "contract": _contract_dict(contract),
    }


def _fmt(x: Any) -> str:
    return "—" if x is None else f"{x:.4g}" if isinstance(x, float) else str(x)


def markdown(summary: dict) -> str:
    """The human-readable summary."""
    lines = [f"# rollcheck collect — {summary['env_id']} (seed {summary['seed']})", ""]
    if summary["status"] == "error":
        lines += ["**Error**: the environment broke the run (no rollout was written):", "", "```",
                  summary["error"], "```", ""]
    elif summary["status"] != "ok":
        lines += [f"**Contract violated** after {summary['steps_collected']} checked steps:", "", "```",
                  summary["error"], "```", ""]
    else:
        lines += [f"{summary['horizon']} contract-checked steps, {summary['episodes_completed']} episodes "
                  f"completed, {_fmt(summary['steps_per_second'])} steps/s.", "",
                  "| quantity | mean | std | min | max |", "|---|---|---|---|---|"]
        for key in ("episode_return", "episode_length", "reward", "value", "advantages_zscored", "value_target",
                    "old_log_prob"):
            s = summary[key] or {}
            lines.append(f"| {key} | " + " | ".join(_fmt(s.get(k)) for k in ("mean", "std", "min", "max")) + " |")
        lines += ["", f"- RNG counter: {summary['rng_counter_start']} → {summary['rng_counter_end']}",
                  f"- terminated: {summary['terminated']}, truncated only: {summary['truncated_only']}",
                  f"- GAE: gamma={summary['gamma']}, lam={summary['lam']}",
                  f"- policy: {summary['policy']}, bridge: {summary['bridge']}",
                  f"- rollout file: `{summary.get('rollout_file')}`"]
    lines += ["", "Contract: `" + json.dumps(summary["contract"]) + "`", ""]
    return "\n".join(lines)


def _summary_files(summary: dict, json_path: Path, md_path: Path) -> dict:
    return {json_path: (json.dumps(summary, indent=2, allow_nan=False) + "\n").encode("utf-8"),
            md_path: markdown(summary).encode("utf-8")}


_PRESENTATION = ("out", "no_progress", "timeout", "traceback", "handler", "command", "argv", "in_process")


def _work(args: argparse.Namespace, contract: Any, make_kwargs: dict) -> tuple:
    """In the worker: collect; ``("ok", summary, rollout text)`` or ``("violation", summary, message)``."""
    from rollcheck.spec import ArgumentError, ContractViolation, dumps_rollout

    transitions: list = []
    try:
        rollout, counter, meta = _collect(args, contract, make_kwargs, transitions)
    except UsageError as exc:
        raise UsageProblem(str(exc)) from None
    except ArgumentError as exc:
        raise UsageProblem(str(exc)) from None
    except ContractViolation as exc:
        located = ContractViolation(exc.violations).at(len(transitions))
        return ("violation", {"status": "contract_violation", "env_id": args.env_id, "seed": args.seed,
                              "horizon": args.horizon, "steps_collected": len(transitions), "error": str(located),
                              "violations": [{"field": v.field, "rule": v.rule, "message": v.message,
                                              "index": v.index} for v in located.violations],
                              "contract": _contract_dict(contract)}, f"contract violated: {located}")
    summary = summarize(args, contract, rollout, counter, meta["elapsed"])
    return ("ok", summary, dumps_rollout(transitions, meta.get("action_space")))


def run(args: argparse.Namespace) -> int:
    from rollcheck.impl.atomic_io import replace_files

    try:
        contract, make_kwargs = _validated(args)
    except UsageError as exc:
        return _fail(str(exc), 2)
    options = {k: v for k, v in vars(args).items() if k not in _PRESENTATION}
    rollout_path, json_path, md_path = output_paths(args.out, args.env_id, args.seed, options)
    try:
        result = run_work(lambda: _work(args, contract, make_kwargs), timeout=args.timeout, in_process=args.in_process)
    except UsageProblem as exc:
        return _fail(str(exc), 2)
    provenance = run_provenance(args.argv, {"seed": args.seed, "counter": args.counter})
    if isinstance(result, Broken):
        summary = {"status": "error", "env_id": args.env_id, "seed": args.seed, "horizon": args.horizon,
                   "steps_collected": None, "error": result.message(args.traceback),
                   "broken": {"outcome": result.outcome.kind, "call": result.outcome.call,
                              "where": result.outcome.where}, "contract": _contract_dict(contract)}
        kind, status, message = "error", 2, f"cannot collect: {result.message(args.traceback)}"
        files = {rollout_path: None}   # never leave an earlier run's rollout beside this summary
    else:
        kind, summary, payload = result
        if kind == "violation":
            status, message, files = 1, payload, {rollout_path: None}
        else:
            summary["rollout_file"] = str(rollout_path)
            status, message, files = 0, None, {rollout_path: payload.encode("utf-8")}
            ret = summary["episode_return"]
            print(f"collected {summary['horizon']} checked steps from {args.env_id}: "
                  f"{summary['episodes_completed']} episodes"
                  + (f" (mean return {ret['mean']:.4g})" if ret else "")
                  + f", {_fmt(summary['steps_per_second'])} steps/s")
    if message:
        _fail(message, status)
    summary["provenance"] = provenance
    files.update(_summary_files(summary, json_path, md_path))
    try:
        replace_files(files)
    except OSError as exc:
        return _fail(f"cannot write the {kind} files to {str(json_path.parent)!r}: {exc.strerror or exc}; "
                     "the results above were not saved", 2)
    if status == 0:
        print(f"  rollout: {rollout_path}\n  summary: {md_path}")
    else:
        print(f"  summary: {md_path}")
    return status
