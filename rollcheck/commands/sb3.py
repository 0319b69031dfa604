"""``rollcheck sb3 ENV_ID`` — run Stable-Baselines3 PPO's or A2C's rollout collection for real and check its buffer.

Mirrors TorchLean's ``PPO.collectRolloutFromCallbacks`` + split-flag GAE against SB3's
``collect_rollouts``/``RolloutBuffer`` (see :mod:`rollcheck.properties.rollout.sb3`).

    rollcheck sb3 ENV_ID [--algo ppo|a2c] [--n-envs N] [--n-steps K] [--seed S] [--train-steps M]
                         [--max-episode-steps L] [--model PATH] [--tolerance [QUANTITY=]VALUE ...]
                         [--sampler any] [--report-dir DIR]

Builds ``PPO("MlpPolicy", make_vec_env(ENV_ID, n_envs=N, seed=S), n_steps=K, seed=S)`` (``A2C`` with
``--algo a2c``; or loads ``--model PATH`` with that algorithm's ``load``), optionally trains it for
``M`` steps first (so values and log-probs are not those of a fresh network), then validates one
``collect_rollouts``. ``--max-episode-steps`` sets the env's time limit so truncations happen within
a short rollout (and ``arrays.time_limit_truncates`` counts episode lengths against it). Exit status: 0 every property
holds, 1 a property is violated, 2 SB3 is not installed (``pip install 'rollcheck[sb3]'``), the
env cannot be made, the options are invalid, or the env broke the run (it runs in a supervised
worker: ``--timeout``, ``--traceback``).

``--model PATH`` must be a regular file. An SB3 model file is a zip of pickles: ``PPO.load``
unpickles it, which runs whatever code it contains — load only files you trust.
"""

from __future__ import annotations

import argparse
import os
import stat
import sys

from rollcheck.commands.reporting import Broken, UsageProblem, add_run_options, broken_report, finish, run_work
from rollcheck.properties.core.provenance import run_provenance
from rollcheck.properties.core.report import report_stem

__all__ = ["print_report", "register", "run"]


def print_report(report) -> None:
    """One line per property, then the first finding of each failed one."""
    print(f"{report.verdict} {report.target}: {report.count_line()} ({report.duration_s:.2f} s)")
    for r in report.results:
        why = r.skip_reason if r.status == "skipped" else r.error_reason if r.status == "error" else None
        extra = f" — {why}" if why else ""
        print(f"  {r.status:7s} {r.id}{extra}")
        for f in r.findings[:3]:
            print(f"          {f.message}")
    for key in ("truncations", "terminations", "fold_max_abs_error", "arrays.gae_matches_spec.max_abs_error",
                "arrays.logprob_matches_policy.max_abs_error", "arrays.value_matches_critic.max_abs_error"):
        if key in report.meta:
            print(f"  {key}: {report.meta[key]}")


_PRESENTATION = ("report_dir", "timeout", "traceback", "handler", "command", "argv", "in_process")
MODEL_WARNING = ("an SB3 model file is a zip of pickles: loading it runs the code inside it, so load only "
                 "files you trust")


def _work(args: argparse.Namespace) -> dict:
    """In the worker: build (or load) the model, run one ``collect_rollouts``, check it; the report as data."""
    from rollcheck.spec.errors import ArgumentError

    try:
        from rollcheck.properties.core.tolerances import parse_tolerance
        from rollcheck.properties.rollout.sb3 import import_sb3, validate_sb3

        import_sb3()
        from stable_baselines3 import A2C, PPO
        from stable_baselines3.common.env_util import make_vec_env
    except ImportError as exc:
        raise UsageProblem(str(exc)) from None
    try:
        env_kwargs = {"max_episode_steps": args.max_episode_steps} if args.max_episode_steps else None
        env = make_vec_env(args.env_id, n_envs=args.n_envs, seed=args.seed, env_kwargs=env_kwargs)
    except Exception as exc:  # noqa: BLE001 — gymnasium raises several types for a bad id
        raise UsageProblem(f"cannot make env {args.env_id!r}: {type(exc).__name__}: {exc}") from None
    try:
        tolerance = parse_tolerance(args.tolerance)
        algo = {"ppo": PPO, "a2c": A2C}[args.algo]
        if args.model:
            model = algo.load(args.model, env=env, device="cpu")
        elif args.algo == "ppo":
            total = args.n_steps * args.n_envs
            batch = min(64, total)
            while total % batch:  # a factor of the buffer size, so no minibatch is truncated
                batch -= 1
            model = PPO("MlpPolicy", env, n_steps=args.n_steps, batch_size=batch, seed=args.seed, device="cpu",
                        verbose=0)
        else:
            model = A2C("MlpPolicy", env, n_steps=args.n_steps, seed=args.seed, device="cpu", verbose=0)
        if args.train_steps:
            model.learn(args.train_steps)
        report = validate_sb3(model, n_steps=args.n_steps, seed=args.seed, tolerance=tolerance, sampler=args.sampler)
    except (ArgumentError, FileNotFoundError, ValueError) as exc:
        raise UsageProblem(f"{type(exc).__name__}: {exc}") from None
    finally:
        env.close()
    report.provenance = run_provenance(args.argv, {"seed": args.seed}, used=("torch", "stable-baselines3"))
    return report.to_dict()


def _properties() -> list:
    from rollcheck.properties.rollout.arrays_catalog import ARRAY_PROPERTIES
    from rollcheck.properties.rollout.sb3 import SB3_PROPERTIES

    return [*ARRAY_PROPERTIES, *SB3_PROPERTIES]


def run(args: argparse.Namespace) -> int:
    from rollcheck.properties.core.report import Report

    for name in ("n_envs", "n_steps"):
        if getattr(args, name) <= 0:
            print(f"rollcheck sb3: ArgumentError: --{name.replace('_', '-')} {getattr(args, name)} should be "
                  "a positive int", file=sys.stderr)
            return 2
    if args.model is not None and not stat.S_ISREG(_mode(args.model)):
        print(f"rollcheck sb3: --model {args.model!r} is not a regular file (SB3 models are .zip files; "
              f"{MODEL_WARNING})", file=sys.stderr)
        return 2
    options = {k: v for k, v in vars(args).items() if k not in _PRESENTATION and k != "env_id"}
    try:
        outcome = run_work(lambda: _work(args), timeout=args.timeout, in_process=args.in_process,
                           harness=("stable_baselines3", "torch"))
    except UsageProblem as exc:
        print(f"rollcheck sb3: {exc}", file=sys.stderr)
        return 2
    if isinstance(outcome, Broken):
        report = broken_report(f"rollcheck sb3: {args.env_id}", args.env_id, _properties(), outcome,
                               with_traceback=args.traceback)
    else:
        report = Report.from_dict(outcome)
    return finish(report, args, report_stem("sb3", args.env_id, options), print_report, command="sb3",
                  seeds={"seed": args.seed}, used=("torch", "stable-baselines3"))


def _mode(path: str) -> int:
    try:
        return os.stat(path).st_mode
    except OSError:
        return 0


def register(subparsers: "argparse._SubParsersAction") -> None:
    p = subparsers.add_parser("sb3", help="check Stable-Baselines3 PPO's or A2C's rollout buffer (extra rollcheck[sb3])",
                              description=__doc__.split("\n\n")[0] + " --model files are pickles: loading one "
                                          "runs the code inside it; use only files you trust.")
    p.add_argument("env_id", metavar="ENV_ID", help="Gymnasium env id with Discrete actions, e.g. CartPole-v1")
    p.add_argument("--algo", choices=("ppo", "a2c"), default="ppo", help="the SB3 algorithm (default ppo)")
    p.add_argument("--tolerance", action="append", default=[], metavar="[QUANTITY=]VALUE",
                   help="fix a float tolerance (log_prob, value, reward, advantage, return); default: derived "
                        "from the buffer's dtypes")
    p.add_argument("--sampler", choices=("any",), default="any",
                   help="SB3 samples with torch: actions are tested against the policy's probabilities")
    p.add_argument("--n-envs", type=int, default=4, help="number of sub-environments (default 4)")
    p.add_argument("--n-steps", type=int, default=256, help="rollout steps per env (default 256)")
    p.add_argument("--seed", type=int, default=0, help="seed for env, policy and sampling (default 0)")
    p.add_argument("--train-steps", type=int, default=0, help="train PPO this many steps before checking")
    p.add_argument("--max-episode-steps", type=int, default=None, help="time limit (forces truncations)")
    p.add_argument("--model", metavar="PATH",
                   help="load a saved PPO (.zip, a regular file) instead of building a fresh one. WARNING: "
                        + MODEL_WARNING)
    p.add_argument("--report-dir", default="reports",
                   help="where sb3-<env>-<options digest>.md/.json/.junit.xml go (default: reports)")
    add_run_options(p)
    p.set_defaults(handler=run)
