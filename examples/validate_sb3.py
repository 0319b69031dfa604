"""Recipe: validate Stable-Baselines3 PPO's (or A2C's) rollout collection with rollcheck.

``validate_sb3`` runs one real ``collect_rollouts`` of your model on a recording wrapper around its
own env and checks the ``RolloutBuffer``; the model's env and timestep count are restored after.

    pip install torch==2.13.0 'rollcheck[sb3]' && python examples/validate_sb3.py    # exit status 0
    rollcheck sb3 CartPole-v1 --algo a2c --max-episode-steps 30                        # the same from the shell
"""

from __future__ import annotations

from stable_baselines3 import A2C, PPO
from stable_baselines3.common.env_util import make_vec_env

from rollcheck import validate_sb3


def main() -> int:
    code = 0
    for algo in (PPO, A2C):
        env = make_vec_env("CartPole-v1", n_envs=2, seed=0, env_kwargs={"max_episode_steps": 30})
        model = algo("MlpPolicy", env, n_steps=64, seed=0, device="cpu")
        report = validate_sb3(model, seed=0)   # time limit read from the env's spec
        print(algo.__name__, report.verdict, report.count_line())
        for r in report.failed:
            print(" ", r.id, "—", r.findings[0].message)
        code = max(code, report.exit_code)
    return code


if __name__ == "__main__":
    raise SystemExit(main())
