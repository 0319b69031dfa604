"""Classic-control / toy-text envs and Gymnasium's own wrappers pass; fuzz_env's own guarantees."""

from __future__ import annotations

import random
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
from gymnasium import wrappers as W

import env_zoo_wrappers as zoo
from rollcheck.properties.env.fuzz import fuzz_env
from rollcheck.spec.errors import ArgumentError

SMALL = dict(max_examples=6, max_steps=120, shrink_seconds=2.0)


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
    report = _quiet("FrozenLake-v1", max_examples=8, max_steps=300, shrink_seconds=2.0)
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
    with pytest.raises(ArgumentError, match="max_examples=0 should be at least one"):
        fuzz_env("CartPole-v1", max_examples=0)
    with pytest.raises(ArgumentError, match="matches no property"):
        fuzz_env("CartPole-v1", skip=["no.such"])


def test_vector_env_passes_and_counts():
    report = _quiet("CartPole-v1", vector=2, max_examples=6, max_steps=60, shrink_seconds=2.0,
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
