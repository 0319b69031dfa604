"""``rollcheck sb3 ENV_ID`` — run Stable-Baselines3 PPO's rollout collection for real and check its buffer.

Mirrors TorchLean's ``PPO.collectRolloutFromCallbacks`` + split-flag GAE against SB3's
``collect_rollouts``/``RolloutBuffer`` (see :mod:`rollcheck.properties.rollout.sb3`).

    rollcheck sb3 ENV_ID [--n-envs N] [--n-steps K] [--seed S] [--train-steps M]
                         [--max-episode-steps L] [--model PATH] [--report-dir DIR]

Builds ``PPO("MlpPolicy", make_vec_env(ENV_ID, n_envs=N, seed=S), n_steps=K, seed=S)`` (or loads
``--model PATH``), optionally trains it for ``M`` steps first (so values and log-probs are not
those of a fresh network), then validates one ``collect_rollouts``. ``--max-episode-steps`` sets the
env's time limit so truncations happen within a short rollout. Exit status: 0 every property
holds, 1 a property is violated, 2 SB3 is not installed (``pip install 'rollcheck[sb3]'``), the
env cannot be made, or the options are invalid.
"""

from __future__ import annotations

import argparse
import sys

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


def run(args: argparse.Namespace) -> int:
    from rollcheck.spec.errors import ArgumentError

    for name in ("n_envs", "n_steps"):
        if getattr(args, name) <= 0:
            print(f"rollcheck sb3: ArgumentError: --{name.replace('_', '-')} {getattr(args, name)} should be "
                  "a positive int", file=sys.stderr)
            return 2
    try:
        from rollcheck.properties.rollout.sb3 import import_sb3, validate_sb3

        import_sb3()
        from stable_baselines3 import PPO
        from stable_baselines3.common.env_util import make_vec_env
    except ImportError as exc:
        print(f"rollcheck sb3: {exc}", file=sys.stderr)
        return 2
    try:
        env_kwargs = {"max_episode_steps": args.max_episode_steps} if args.max_episode_steps else None
        env = make_vec_env(args.env_id, n_envs=args.n_envs, seed=args.seed, env_kwargs=env_kwargs)
    except Exception as exc:  # noqa: BLE001 — gymnasium raises several types for a bad id
        print(f"rollcheck sb3: cannot make env {args.env_id!r}: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 2
    try:
        if args.model:
            model = PPO.load(args.model, env=env, device="cpu")
        else:
            total = args.n_steps * args.n_envs
            batch = min(64, total)
            while total % batch:  # a factor of the buffer size, so no minibatch is truncated
                batch -= 1
            model = PPO("MlpPolicy", env, n_steps=args.n_steps, batch_size=batch, seed=args.seed, device="cpu",
                        verbose=0)
        if args.train_steps:
            model.learn(args.train_steps)
        report = validate_sb3(model, n_steps=args.n_steps, seed=args.seed)
    except (ArgumentError, FileNotFoundError, ValueError) as exc:
        print(f"rollcheck sb3: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 2
    finally:
        env.close()
    print_report(report)
    if args.report_dir:
        paths = report.write(args.report_dir, f"sb3-{args.env_id.replace('/', '_')}")
        print(f"report: {', '.join(str(p) for p in paths.values())}")
    return report.exit_code


def register(subparsers: "argparse._SubParsersAction") -> None:
    p = subparsers.add_parser("sb3", help="check Stable-Baselines3 PPO's rollout buffer (extra rollcheck[sb3])",
                              description=__doc__.split("\n\n")[0])
    p.add_argument("env_id", metavar="ENV_ID", help="Gymnasium env id with Discrete actions, e.g. CartPole-v1")
    p.add_argument("--n-envs", type=int, default=4, help="number of sub-environments (default 4)")
    p.add_argument("--n-steps", type=int, default=256, help="rollout steps per env (default 256)")
    p.add_argument("--seed", type=int, default=0, help="seed for env, policy and sampling (default 0)")
    p.add_argument("--train-steps", type=int, default=0, help="train PPO this many steps before checking")
    p.add_argument("--max-episode-steps", type=int, default=None, help="time limit (forces truncations)")
    p.add_argument("--model", help="load a saved PPO (.zip) instead of building a fresh one")
    p.add_argument("--report-dir", default="reports",
                   help="where sb3-<env>.md/.json/.junit.xml go (default: reports)")
    p.set_defaults(handler=run)
