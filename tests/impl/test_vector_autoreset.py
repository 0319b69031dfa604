"""rollcheck.impl.vector_autoreset.true_next_observations: the SAME_STEP final observations, one helper."""

import gymnasium as gym
import numpy as np
import pytest

from rollcheck.impl.vector_autoreset import true_next_observations
from rollcheck.spec import ArgumentError


def test_ended_rows_take_final_obs_and_the_input_batch_is_not_written():
    next_obs = np.zeros((3, 2), dtype=np.float32)
    info = {"final_obs": np.array([None, np.array([1.5, 2.5]), None], dtype=object)}
    true, finals, misfit = true_next_observations(next_obs, info, np.array([False, True, False]))
    assert true.tolist() == [[0, 0], [1.5, 2.5], [0, 0]] and true.dtype == np.float32
    assert list(finals) == [1] and finals[1].tolist() == [1.5, 2.5] and misfit == []
    assert not next_obs.any()   # a copy was written, not the env's batch


def test_with_obs_dims_a_final_obs_that_does_not_fit_is_listed_not_written():
    next_obs = np.zeros((3, 2))
    info = {"final_obs": [np.ones(3), np.array(["a", "b"]), np.array([4.0, 5.0])]}
    true, finals, misfit = true_next_observations(next_obs, info, np.array([1, 1, 1]), (2,))
    assert misfit == [0, 1] and sorted(finals) == [0, 1, 2]
    assert true.tolist() == [[0, 0], [0, 0], [4, 5]]


def test_a_done_without_final_obs_is_a_clear_error_and_no_done_needs_no_info():
    with pytest.raises(ArgumentError, match=r"reported done without info\['final_obs'\]"):
        true_next_observations(np.zeros((2, 1)), {}, np.array([False, True]))
    true, finals, misfit = true_next_observations(np.zeros((2, 1)), None, np.zeros(2, bool))
    assert true.shape == (2, 1) and finals == {} and misfit == []


def test_matches_gymnasium_same_step_final_obs():
    envs = gym.make_vec("CartPole-v1", num_envs=2, vectorization_mode="sync", max_episode_steps=3,
                        vector_kwargs={"autoreset_mode": gym.vector.AutoresetMode.SAME_STEP})
    try:
        envs.reset(seed=0)
        for _ in range(3):
            obs, _r, te, tr, info = envs.step(np.zeros(2, dtype=np.int64))
        assert (te | tr).all()
        true, finals, misfit = true_next_observations(obs, info, info["_final_obs"], (4,))
        assert misfit == [] and np.array_equal(true, np.stack(info["final_obs"]))
        assert not np.array_equal(true, obs)   # the returned batch holds the reset observations
    finally:
        envs.close()
