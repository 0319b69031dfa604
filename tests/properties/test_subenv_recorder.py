"""The per-sub-env recorder: the same ground truth as ``RecordingVecEnv``, for any vector env.

Each test drives two identically seeded vector envs with the same actions — one recorded at the
vector level by ``RecordingVecEnv`` (gymnasium only), one built from ``SubEnvRecorder.wrap`` — and
asserts the two ``VecTrace`` are equal array for array; worker-process vector envs, SB3's
``VecEnv`` and the error paths are covered too.
"""

from __future__ import annotations

import gc
import os

import gymnasium
import numpy as np
import pytest
from gymnasium.vector import AsyncVectorEnv, AutoresetMode, SyncVectorEnv

from rollcheck.properties.rollout.recording import RecordingVecEnv, SubEnvRecorder, VecTrace
from rollcheck.spec import ArgumentError

N, T = 3, 40
FIELDS = ("obs", "actions", "rewards", "terminated", "truncated", "next_obs", "autoreset_step")


def make_env():
    return gymnasium.make("CartPole-v1", max_episode_steps=9)  # many truncations, some terminations


def _actions(seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 2, size=(T, N))


def _drive(vec, actions: np.ndarray) -> None:
    vec.reset(seed=7)
    for a in actions:
        vec.step(a)


def _reference(mode: AutoresetMode, actions: np.ndarray) -> VecTrace:
    vec = RecordingVecEnv(SyncVectorEnv([make_env] * N, autoreset_mode=mode))
    _drive(vec, actions)
    vec.close()
    return vec.trace()


def _assert_same(a: VecTrace, b: VecTrace, skip: "np.ndarray | None" = None) -> None:
    for name in FIELDS:
        x, y = getattr(a, name), getattr(b, name)
        if name == "actions" and skip is not None:
            x, y = x[~skip], y[~skip]
        assert x.shape == y.shape and np.array_equal(x, y), name


@pytest.mark.parametrize("vector", [SyncVectorEnv, AsyncVectorEnv])
def test_same_step_trace_equals_the_vector_level_recording(vector):
    actions = _actions()
    with SubEnvRecorder(N) as recorder:
        vec = vector(recorder.wrap_all(make_env), autoreset_mode=AutoresetMode.SAME_STEP)
        _drive(vec, actions)
        vec.close()
        trace = recorder.take()
    reference = _reference(AutoresetMode.SAME_STEP, actions)
    assert reference.truncated.any() and reference.terminated.sum() + reference.truncated.sum() >= N
    _assert_same(trace, reference)


def test_next_step_mode_marks_the_reset_steps_like_the_vector_level_recording():
    actions = _actions(1)
    with SubEnvRecorder(N, autoreset="next_step") as recorder:
        vec = SyncVectorEnv(recorder.wrap_all(make_env))  # gymnasium's default: NEXT_STEP
        _drive(vec, actions)
        vec.close()
        trace = recorder.take()
    reference = _reference(AutoresetMode.NEXT_STEP, actions)
    assert reference.autoreset_step.any()
    _assert_same(trace, reference, skip=reference.autoreset_step)
    assert (trace.actions[trace.autoreset_step] == -1).all()  # the sub-env never saw that action


def test_take_returns_consecutive_windows_and_names_what_is_available():
    actions = _actions(2)
    reference = _reference(AutoresetMode.SAME_STEP, actions)
    with SubEnvRecorder(N) as recorder:
        vec = SyncVectorEnv(recorder.wrap_all(make_env), autoreset_mode=AutoresetMode.SAME_STEP)
        _drive(vec, actions)
        assert recorder.steps_recorded() == T
        with pytest.raises(ArgumentError, match=r"steps=41 should be at most 40 \(steps recorded and not yet taken: 40"):
            recorder.take(41)
        first, rest = recorder.take(15), recorder.take()
        with pytest.raises(ArgumentError, match=r"no vector step recorded since the last take \(steps per sub-env: \[40, 40, 40\], taken: 40\)"):
            recorder.take()
        vec.close()
    assert first.horizon == 15 and rest.horizon == T - 15
    assert np.array_equal(np.concatenate([first.obs, rest.obs]), reference.obs)
    assert np.array_equal(np.concatenate([first.truncated, rest.truncated]), reference.truncated)


def test_a_throwaway_instance_of_an_index_is_ignored_and_the_logs_are_deleted():
    recorder = SubEnvRecorder(2)
    factories = recorder.wrap_all(make_env)
    probe = factories[0]()  # a library building an env only to read its spaces
    probe.reset(seed=0)
    vec = SyncVectorEnv(factories, autoreset_mode=AutoresetMode.SAME_STEP)
    vec.reset(seed=0)
    vec.step(np.array([0, 1]))
    trace = recorder.take()
    assert trace.actions.tolist() == [[0, 1]]
    probe.close()
    vec.close()
    directory = recorder.directory
    assert os.path.isdir(directory)
    recorder.close()
    recorder.close()  # idempotent
    assert not os.path.exists(directory)


def test_garbage_collection_deletes_the_logs():
    recorder = SubEnvRecorder(1)
    directory = recorder.directory
    del recorder
    gc.collect()
    assert not os.path.exists(directory)


def test_bad_arguments_are_named():
    with pytest.raises(ArgumentError, match="num_envs=0 should be at least 1"):
        SubEnvRecorder(0)
    with pytest.raises(ArgumentError, match="autoreset='sometimes' should be one of same_step, next_step"):
        SubEnvRecorder(2, autoreset="sometimes")
    with SubEnvRecorder(2) as recorder:
        with pytest.raises(ArgumentError, match=r"index=2 should be in \[0, 2\)"):
            recorder.wrap(make_env, 2)
        with pytest.raises(ArgumentError, match="make_env=.* should be a callable"):
            recorder.wrap("CartPole-v1", 0)
        env = recorder.wrap(make_env, 0)()
        with pytest.raises(ArgumentError, match=r"sub-env 1 was never made through recorder.wrap\(make_env, 1\)"):
            recorder.take()
        env.close()


@pytest.mark.sb3
def test_sb3_vec_envs_are_recorded_below_their_info_dicts():
    pytest.importorskip("stable_baselines3", reason="optional extra rollcheck[sb3] not installed: .ci/run installs the extras and runs these tests under -m extras")
    from stable_baselines3.common.vec_env import DummyVecEnv

    actions = _actions(3)
    with SubEnvRecorder(N) as recorder:
        vec = DummyVecEnv(recorder.wrap_all(make_env))
        vec.seed(7)
        obs = vec.reset()
        seen, dones, finals = [obs], [], []
        for a in actions:
            obs, _, done, infos = vec.step(a)
            seen.append(obs)
            dones.append(done)
            finals.append([info.get("terminal_observation") for info in infos])
        trace = recorder.take()
        vec.close()
    dones = np.array(dones)
    assert trace.horizon == T and np.array_equal(trace.terminated | trace.truncated, dones)
    assert np.array_equal(trace.actions, actions) and np.array_equal(trace.obs, np.array(seen[:-1]))
    truncated = [info for t, i in np.argwhere(trace.truncated) for info in [finals[t][i]]]
    assert truncated and all(f is not None for f in truncated)
    for t, i in np.argwhere(dones):
        assert np.array_equal(trace.next_obs[t, i], finals[t][i])  # the true last observation
