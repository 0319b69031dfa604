"""The vectorised collector EQUALS N independent reference collections (same seeds, same RNG streams).

Reference for sub-env ``i``: ``collect_rollout_checked_session_with(CheckedSession.gymnasium(env_i,
seed=reset_seeds[i]), ..., rng_seeds[i], rng_counters[i], horizon=T)`` with the single-observation
predict of the same policy. With ``MlpActorCritic(exact=True)`` (batch rows equal single calls bit
for bit) the rollouts are equal as values (``Rollout.__eq__``: every float the same); with BLAS
products (``exact=False``) one row and a batch of rows go through different kernels (gemv vs gemm)
whose sums round differently, so floats agree to ~1e-16 and actions are identical.
"""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.vector import AutoresetMode, SyncVectorEnv
from hypothesis import given, settings
from hypothesis import strategies as st

from rollcheck.impl.collect import collect_rollout_checked_session_with
from rollcheck.impl.policy import MlpActorCritic
from rollcheck.impl.session import CheckedSession
from rollcheck.impl.toy_envs import CounterEnv
from rollcheck.impl.vector_collect import collect_rollout_vector_with
from rollcheck.spec import generalized_advantage_estimation
from rollcheck.spec.random_stream import MASK64

MODES = [AutoresetMode.SAME_STEP, AutoresetMode.NEXT_STEP]


def identity(x):
    return x


def shifted_reward(t: int, a: int) -> float:
    """Never 0.0, so a NEXT_STEP reset step's placeholder reward (0.0) could not hide in a rollout."""
    return 100.0 + t + 0.5 * a


def counter_factory(terminate_at=None, truncate_at=None, n_actions=2):
    return lambda: CounterEnv(n_actions=n_actions, terminate_at=terminate_at, truncate_at=truncate_at,
                              reward_fn=shifted_reward)


def collect_both(factories, mode, policy, horizon, rng_seeds, rng_counters, reset_seeds):
    vec = SyncVectorEnv(factories, autoreset_mode=mode)
    got, counters = collect_rollout_vector_with(vec, identity, identity, policy.predict_logits_batch,
                                                policy.predict_value_batch, rng_seeds, rng_counters,
                                                horizon=horizon, reset_seeds=reset_seeds)
    refs = []
    for i, make in enumerate(factories):
        with CheckedSession.gymnasium(make(), seed=reset_seeds[i]) as sess:
            refs.append(collect_rollout_checked_session_with(sess, identity, identity, policy.predict_logits,
                                                             policy.predict_value, rng_seeds[i], rng_counters[i],
                                                             horizon=horizon))
    return got, counters, refs


def assert_equal_to_references(got, counters, refs):
    assert got.num_envs == len(refs)
    for i, (ref, ref_counter) in enumerate(refs):
        assert got.env_rollout(i) == ref, f"sub-env {i} differs from its reference collection"
        assert counters[i] == ref_counter


@pytest.mark.parametrize("mode", MODES)
def test_cartpole_equals_reference_collections_bit_for_bit(mode):
    policy = MlpActorCritic(4, 2, hidden=(16, 16), seed=1, exact=True)
    factories = [lambda: gym.make("CartPole-v1")] * 3
    got, counters, refs = collect_both(factories, mode, policy, 80, [5, 6, 7], [0, 11, MASK64 - 80], [10, 11, 12])
    assert sum(sum(ref.dones) for ref, _ in refs) >= 3  # episodes did end inside the horizon
    assert_equal_to_references(got, counters, refs)


@pytest.mark.parametrize("mode", MODES)
def test_cartpole_with_blas_products_agrees_to_rounding(mode):
    policy = MlpActorCritic(4, 2, seed=2)  # 64x64, BLAS: batch (gemm) vs single row (gemv) kernels
    factories = [lambda: gym.make("CartPole-v1")] * 3
    got, counters, refs = collect_both(factories, mode, policy, 60, [1, 2, 3], [0, 0, 0], [20, 21, 22])
    for i, (ref, ref_counter) in enumerate(refs):
        mine = got.env_rollout(i)
        assert mine.actions == ref.actions and mine.dones == ref.dones and mine.terminateds == ref.terminateds
        assert mine.rewards == ref.rewards
        assert all(np.array_equal(a.state, b.state) for a, b in zip(mine.steps, ref.steps))
        for col in ("values", "next_values", "old_log_probs"):
            np.testing.assert_allclose(getattr(mine, col), getattr(ref, col), rtol=0, atol=1e-12)
        assert counters[i] == ref_counter


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("limits, name", [
    ((8, None), "terminated at the last step of the horizon"),
    ((1, None), "terminated at the first step: back-to-back episodes"),
    ((None, 1), "truncated at the first step: back-to-back episodes"),
    ((3, None), "terminated every third step"),
    ((None, 3), "truncated every third step"),
    ((3, 3), "terminated and truncated at once"),
    ((None, 8), "truncated at the last step of the horizon"),
])
def test_counter_env_episode_edges(mode, limits, name):
    terminate_at, truncate_at = limits
    policy = MlpActorCritic(1, 2, hidden=(8,), seed=3, exact=True)
    factories = [counter_factory(terminate_at, truncate_at)] * 2
    got, counters, refs = collect_both(factories, mode, policy, 8, [1, 2], [0, 7], [0, 1])
    assert_equal_to_references(got, counters, refs)
    period = min(x for x in limits if x is not None)
    t_in_episode = np.arange(8) % period
    for i in range(2):
        r = got.env_rollout(i)
        assert [float(s.state[0]) for s in r.steps] == t_in_episode.tolist()  # reset steps never recorded
        assert r.dones == ((t_in_episode + 1) == period).tolist()
        assert r.terminateds == [d and terminate_at is not None and terminate_at == period for d in r.dones]
        assert r.rewards == [100.0 + t + 0.5 * a for t, a in zip(t_in_episode, r.actions)]
        # next_value is the critic at the true last observation t+1, never at the reset observation 0
        assert r.next_values == [policy.predict_value(np.array([t + 1.0])) for t in t_in_episode]


def test_next_step_mode_skips_reset_steps_without_drawing():
    # Every transition ends an episode: under NEXT_STEP every other vector step is a reset.
    policy = MlpActorCritic(1, 3, hidden=(4,), seed=4, exact=True)
    factories = [counter_factory(1, None, n_actions=3)]
    got, counters, refs = collect_both(factories, AutoresetMode.NEXT_STEP, policy, 5, [9], [100], [0])
    assert_equal_to_references(got, counters, refs)
    assert counters == (105,)
    assert got.dones[:, 0].all() and (got.states == 0).all()


limit = st.one_of(st.none(), st.integers(1, 6))


@settings(deadline=None)
@given(mode=st.sampled_from(MODES), horizon=st.integers(1, 12), n_actions=st.integers(1, 3),
       envs=st.lists(st.tuples(limit, limit, st.integers(0, MASK64), st.integers(0, 2 ** 40)), min_size=1, max_size=4),
       top_counter=st.booleans())
def test_heterogeneous_counter_envs_equal_reference_collections(mode, horizon, n_actions, envs, top_counter):
    # Sub-envs with different episode lengths fall out of step under NEXT_STEP; each column must
    # still be exactly its own reference collection.
    policy = MlpActorCritic(1, n_actions, hidden=(6,), seed=5, exact=True)
    factories = [counter_factory(te, tr, n_actions) for te, tr, _, _ in envs]
    seeds = [s for _, _, s, _ in envs]
    counters = [MASK64 - horizon if top_counter else c for _, _, _, c in envs]
    got, out, refs = collect_both(factories, mode, policy, horizon, seeds, counters, list(range(len(envs))))
    assert_equal_to_references(got, out, refs)
    adv = got.advantages(0.9, 0.8)
    for i, (ref, _) in enumerate(refs):
        assert adv[:, i].tolist() == generalized_advantage_estimation(
            0.9, 0.8, ref.rewards, ref.values, ref.next_values, ref.dones, ref.terminateds)


def test_cast_functions_are_applied_to_states_and_rewards():
    policy = MlpActorCritic(1, 2, hidden=(4,), seed=6, exact=True)
    vec = SyncVectorEnv([counter_factory(None, 4)] * 2, autoreset_mode=AutoresetMode.SAME_STEP)
    got, _ = collect_rollout_vector_with(vec, lambda o: o * 2.0, lambda r: r - 100.0, policy.predict_logits_batch,
                                         policy.predict_value_batch, [1, 2], [0, 0], horizon=6, reset_seeds=[0, 0])
    with CheckedSession.gymnasium(counter_factory(None, 4)(), seed=0) as sess:
        ref, _ = collect_rollout_checked_session_with(sess, lambda o: o * 2.0, lambda r: r - 100.0,
                                                      policy.predict_logits, policy.predict_value, 1, 0, horizon=6)
    assert got.env_rollout(0) == ref
    assert got.states[:, 0, 0].tolist() == [0.0, 2.0, 4.0, 6.0, 0.0, 2.0]


@pytest.mark.parametrize("mode", MODES)
def test_async_vector_env_equals_reference_collections(mode):
    # Sub-envs in worker processes: observations, rewards, flags and final_obs come back through pipes.
    policy = MlpActorCritic(4, 2, hidden=(8,), seed=7, exact=True)
    vec = gym.make_vec("CartPole-v1", num_envs=2, vectorization_mode="async", vector_kwargs={"autoreset_mode": mode})
    try:
        got, counters = collect_rollout_vector_with(vec, identity, identity, policy.predict_logits_batch,
                                                    policy.predict_value_batch, [3, 4], [0, 9], horizon=40,
                                                    reset_seeds=[30, 31])
    finally:
        vec.close()
    for i in range(2):
        with CheckedSession.gymnasium(gym.make("CartPole-v1"), seed=30 + i) as sess:
            ref, ref_counter = collect_rollout_checked_session_with(
                sess, identity, identity, policy.predict_logits, policy.predict_value, [3, 4][i], [0, 9][i], horizon=40)
        assert got.env_rollout(i) == ref and counters[i] == ref_counter


@pytest.mark.parametrize("chunk, horizon", [(3, 10), (512, 600)])
def test_draws_computed_ahead_by_chunks_stay_equal_across_chunk_boundaries(monkeypatch, chunk, horizon):
    from rollcheck.impl import vector_collect

    monkeypatch.setattr(vector_collect, "_DRAW_CHUNK", chunk)
    policy = MlpActorCritic(1, 3, hidden=(4,), seed=8, exact=True)
    factories = [counter_factory(None, 7, n_actions=3), counter_factory(5, None, n_actions=3)]
    got, counters, refs = collect_both(factories, AutoresetMode.SAME_STEP, policy, horizon, [1, 2], [0, 2 ** 63],
                                       [0, 0])
    assert_equal_to_references(got, counters, refs)
