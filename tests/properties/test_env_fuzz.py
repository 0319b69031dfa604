"""Classic-control / toy-text envs and Gymnasium's own wrappers pass; fuzz_env's own guarantees."""

from __future__ import annotations

import random
import subprocess
import sys
import warnings
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
from gymnasium import wrappers as W

import env_zoo_wrappers as zoo
from rollcheck.properties.env.fuzz import fuzz_env
from rollcheck.spec.errors import ArgumentError

SMALL = dict(max_examples=6, max_steps=120, time_budget=None)  # unbounded: verdicts must not depend on the load


def _quiet(*args, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fuzz_env(*args, **kw)


def clip_reward(env):
    return W.ClipReward(env, 0.0, 0.5)


def time_limit_30(env):
    return W.TimeLimit(env, 30)


@pytest.mark.parametrize("env_id, wrappers", [
    ("CartPole-v1", ()), ("Acrobot-v1", ()), ("MountainCar-v0", ()), ("FrozenLake-v1", ()),
    ("Taxi-v4", ()), ("Pendulum-v1", (W.ClipAction,)),
    ("CartPole-v1", (W.RecordEpisodeStatistics, clip_reward, time_limit_30)),
])
def test_gymnasium_envs_and_wrappers_pass(env_id, wrappers):
    report = _quiet(env_id, wrappers=wrappers, **SMALL)
    assert report.error is None
    assert report.failed == [], report.to_markdown()
    assert report.exit_code == 0
    assert report.result("spaces.observation_in_space").steps > 0


def test_frozenlake_scalar_observation_and_time_limit_truncation():
    """FrozenLake returns a Python int (its Discrete space's element); long programs reach limit 100."""
    report = _quiet("FrozenLake-v1", max_examples=8, max_steps=300, time_budget=20.0)
    assert report.ok
    assert report.meta["max_episode_steps"] == 100


def test_running_statistics_wrappers_are_reported_impure():
    """NormalizeObservation keeps statistics across resets: reset(seed) does not replay (documented behaviour)."""
    report = _quiet("CartPole-v1", wrappers=(W.NormalizeObservation,), **SMALL)
    failed = {r.id for r in report.failed}
    assert failed & {"reset.purity", "determinism.reseeded_instance"}
    assert failed <= {"reset.purity", "determinism.reseeded_instance"}


def test_global_rng_state_is_left_untouched_even_by_an_env_that_uses_it():
    random.seed(123)
    np.random.seed(456)
    before = (random.getstate(), np.random.get_state()[1].copy())
    _quiet("CartPole-v1", wrappers=(zoo.GlobalRNGNoise,), **SMALL)
    assert random.getstate() == before[0]
    assert np.array_equal(np.random.get_state()[1], before[1])


def test_same_seed_same_report_and_skip_marks_skipped():
    a = _quiet("CartPole-v1", wrappers=(zoo.NaNRewardAfterRun,), seed=3, skip=["determinism"], **SMALL)
    b = _quiet("CartPole-v1", wrappers=(zoo.NaNRewardAfterRun,), seed=3, skip=["determinism"], **SMALL)
    fa, fb = a.result("numerics.reward").findings[0], b.result("numerics.reward").findings[0]
    assert (fa.message, fa.step, fa.reproducer) == (fb.message, fb.step, fb.reproducer)
    assert a.result("determinism.fresh_instances").status == "skipped"
    assert "vector.autoreset_next_step" not in [r.id for r in a.results]


def test_reproducer_snippet_replays_the_failure(tmp_path):
    report = _quiet("CartPole-v1", wrappers=("env_zoo_wrappers:NaNRewardAfterRun",), **SMALL)
    snippet = report.result("numerics.reward").findings[0].reproducer
    script = tmp_path / "replay.py"
    script.write_text(snippet)
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=60,
                         env={"PYTHONPATH": str(Path(zoo.__file__).parent), "PATH": "/usr/bin:/bin"})
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().endswith("nan")


def test_target_errors_and_bad_arguments():
    assert fuzz_env("NoSuchEnv-v0").exit_code == 2
    assert "cannot import" in fuzz_env("no_such_module_xyz:make").error
    assert "--wrapper[0]" in fuzz_env("CartPole-v1", wrappers=["no_such_module_xyz:W"]).error
    with pytest.raises(ArgumentError, match="max_examples=0 should be at least 1"):
        fuzz_env("CartPole-v1", max_examples=0)
    with pytest.raises(ArgumentError, match="matches no property"):
        fuzz_env("CartPole-v1", skip=["no.such"])


def test_vector_env_passes_and_counts():
    report = _quiet("CartPole-v1", vector=2, max_examples=6, max_steps=60, time_budget=20.0,
                    skip=["determinism", "reset", "aliasing", "actions"])
    assert report.ok, report.to_markdown()
    assert report.result("vector.autoreset_next_step").episodes > 0


@pytest.mark.slow
@pytest.mark.parametrize("env_id", ["CartPole-v1", "Acrobot-v1", "MountainCar-v0", "FrozenLake-v1", "Taxi-v4",
                                    "Pendulum-v1", "MountainCarContinuous-v0", "Blackjack-v1", "CliffWalking-v1"])
def test_full_sweep(env_id):
    report = _quiet(env_id, max_examples=100, max_steps=400, vector=3)
    assert report.ok, report.to_markdown()


def frame_stack_3(env):
    return W.FrameStackObservation(env, 3)


def dtype_float64(env):
    return W.DtypeObservation(env, np.float64)


def rescale_unit(env):
    return W.RescaleAction(env, -1.0, 1.0)


def double_reward(env):
    return W.TransformReward(env, lambda r: 2 * r)


@pytest.mark.slow
@pytest.mark.parametrize("env_id, wrapper", [
    ("CartPole-v1", W.RecordEpisodeStatistics), ("CartPole-v1", clip_reward), ("CartPole-v1", time_limit_30),
    ("CartPole-v1", double_reward), ("CartPole-v1", frame_stack_3), ("CartPole-v1", W.FlattenObservation),
    ("CartPole-v1", dtype_float64), ("Pendulum-v1", W.ClipAction), ("Pendulum-v1", rescale_unit),
    ("MountainCarContinuous-v0", W.ClipAction),
])
def test_gymnasium_wrapper_sweep(env_id, wrapper):
    report = _quiet(env_id, wrappers=(wrapper,), max_examples=60, max_steps=300)
    assert report.ok, report.to_markdown()


def test_env_whose_reset_calls_its_own_step_is_no_false_alarm():
    """LunarLander-style: reset() calls self.step() with an internal action outside the action
    space, and a deepcopy is a never-reset instance. Internal calls are not judged, probes replay
    the history into a fresh instance, so every property holds and probes really ran."""
    report = _quiet("env_zoo_wrappers:make_self_stepping", **SMALL)
    assert report.error is None and report.failed == [], report.to_markdown()
    assert int(report.meta["probes"].split()[0]) > 0
    assert "probing" not in report.meta


def test_a_probe_that_cannot_be_replayed_faithfully_is_said_not_asserted():
    report = _quiet("env_zoo_wrappers:ProcessNoiseEnv", **SMALL)
    failed = {r.id for r in report.failed}
    assert "determinism.fresh_instances" in failed  # real: two fresh instances differ
    assert "actions.accepted" not in failed
    assert "diverged" in report.meta["probing"] and "would not test the state" in report.meta["probing"]


class SlowCartPole(W.TransformReward):
    """CartPole at ~3 ms a step (a costly simulator)."""

    def __init__(self, env):
        super().__init__(env, lambda r: r)

    def step(self, action):
        import time
        time.sleep(0.003)
        return super().step(action)


def test_time_budget_bounds_the_run_and_the_report_says_what_was_explored():
    report = _quiet("CartPole-v1", wrappers=(SlowCartPole,), time_budget=6.0, max_examples=300, max_steps=400)
    assert report.duration_s < 6.0 + 3.0
    assert report.error is None and report.ok, report.to_markdown()
    assert report.meta["program_max_steps"] < 400  # sized to the measured step cost
    assert report.meta["incomplete"] is True and "time budget ended the search" in report.meta["cut_short"]
    assert report.meta["measured_cost_s"]["step_s"] > 0.002
    assert report.result("numerics.reward").steps > 0


def test_unbounded_budget_and_bad_budgets():
    report = _quiet("CartPole-v1", time_budget=None, max_examples=3, max_steps=20)
    assert report.ok and report.meta["incomplete"] is False
    for bad in (0, -1.0, float("nan"), True, "60"):
        with pytest.raises(ArgumentError, match="time_budget="):
            fuzz_env("CartPole-v1", time_budget=bad)


def test_ids_resolve_as_gymnasium_does():
    from rollcheck.properties.env.target import resolve_target

    t = resolve_target("gymnasium.envs.classic_control:CartPole-v1")  # module:EnvId, as gymnasium.make reads it
    assert "registered Gymnasium id" in t.note and "module:EnvId" in t.note
    assert t.make().spec.id == "CartPole-v1"
    t = resolve_target("env_zoo_wrappers:make_self_stepping")
    assert "MODULE:FACTORY" in t.note
    t = resolve_target("CartPole-v1", make_kwargs={"sutton_barto_reward": True}, max_episode_steps=20)
    env = t.make()
    assert env.spec.max_episode_steps == 20 and env.unwrapped._sutton_barto_reward is True
    assert "max_episode_steps=20" in "\n".join(t.build_lines)
    report = _quiet("CartPole-v1", max_episode_steps=20, **SMALL)
    assert report.ok and report.meta["max_episode_steps"] == 20


def test_a_shared_directory_database_replays_a_failure(tmp_path):
    from hypothesis.database import DirectoryBasedExampleDatabase

    db = DirectoryBasedExampleDatabase(str(tmp_path / "db"))
    first = _quiet("CartPole-v1", wrappers=("env_zoo_wrappers:NaNRewardAfterRun",), database=db, seed=1,
                   skip=["determinism"], **SMALL)
    assert "numerics.reward" in {r.id for r in first.failed}
    assert any((tmp_path / "db").rglob("*"))
    again = _quiet("CartPole-v1", wrappers=("env_zoo_wrappers:NaNRewardAfterRun",), database=db, seed=2,
                   skip=["determinism"], **SMALL)
    f1, f2 = first.result("numerics.reward").findings[0], again.result("numerics.reward").findings[0]
    assert f2.context["n_actions"] == f1.context["n_actions"] and f2.context["seed"] == f1.context["seed"]


class _HostileRepr:
    def __repr__(self):
        while True:  # a user's __repr__ that never returns: the harness must never call it
            pass


class _InfoWithHostileObjects(gym.Wrapper):
    def reset(self, **kwargs):
        obs, _ = self.env.reset(**kwargs)
        return obs, {"handle": _HostileRepr()}

    def step(self, action):
        obs, reward, terminated, truncated, _ = self.env.step(action)
        return obs, reward, terminated, truncated, _HostileRepr()  # not a dict: numerics.info_dict


def test_a_hostile_repr_in_what_an_env_returns_neither_ends_nor_wedges_the_run():
    report = _quiet("CartPole-v1", wrappers=[_InfoWithHostileObjects], max_examples=8, max_steps=30, time_budget=None)
    failed = {r.id for r in report.results if r.status == "failed"}
    assert failed == {"numerics.info_dict"}  # and no aliasing false alarm on the copied user object
    assert "_HostileRepr object>" in report.result("numerics.info_dict").findings[0].message
