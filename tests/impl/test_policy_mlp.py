"""The numpy actor-critic: seeded (never global) initialisation, shapes, batch/single agreement
(bit for bit in ``exact`` mode), parameter round trip, and the uniform policy."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, strategies as st
from hypothesis.extra import numpy as hnp

from rollcheck.impl.policy import MlpActorCritic, orthogonal, uniform_logits, uniform_policy, zero_value
from rollcheck.spec import ArgumentError


def test_shapes_and_types():
    net = MlpActorCritic(4, 3, seed=1)
    logits = net.predict_logits(np.zeros(4, dtype=np.float32))
    assert logits.shape == (3,) and logits.dtype == np.float64
    assert type(net.predict_value(np.ones((2, 2)))) is float
    assert net.predict_logits_batch(np.zeros((5, 4))).shape == (5, 3)
    assert net.predict_value_batch(np.zeros((5, 2, 2))).shape == (5,)


def test_seeded_and_independent_of_global_rng():
    np.random.seed(0)
    a = MlpActorCritic(4, 2, seed=5).params
    np.random.seed(1)
    state = np.random.get_state()
    b = MlpActorCritic(4, 2, seed=5).params
    assert np.random.get_state()[1].tolist() == state[1].tolist()  # global RNG untouched
    assert a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)
    c = MlpActorCritic(4, 2, seed=6).params
    assert not np.array_equal(a["actor.0.weight"], c["actor.0.weight"])


def test_cleanrl_initialisation():
    p = MlpActorCritic(4, 2, hidden=(64, 64), seed=0).params
    w0 = p["actor.0.weight"]  # (4, 64): orthonormal rows times sqrt(2)
    assert np.allclose(w0 @ w0.T, 2.0 * np.eye(4))
    head = p["actor.2.weight"]  # (64, 2): orthonormal columns times 0.01
    assert np.allclose(head.T @ head, 1e-4 * np.eye(2))
    assert np.allclose(np.linalg.norm(p["critic.2.weight"]), 1.0)
    assert all(not p[k].any() for k in p if k.endswith("bias"))


@given(st.integers(1, 6), st.integers(1, 6), st.floats(0.1, 3.0))
def test_orthogonal(rows, cols, gain):
    w = orthogonal(np.random.default_rng(0), rows, cols, gain)
    assert w.shape == (rows, cols)
    small = w @ w.T if rows <= cols else w.T @ w
    assert np.allclose(small, gain ** 2 * np.eye(min(rows, cols)))


obs_batches = st.integers(1, 9).flatmap(lambda b: hnp.arrays(np.float64, (b, 3), elements=st.floats(-10, 10)))


@given(obs_batches, st.integers(0, 3))
def test_exact_mode_batch_rows_equal_single_calls_bit_for_bit(batch, seed):
    net = MlpActorCritic(3, 4, hidden=(16, 8), seed=seed, exact=True)
    logits, values = net.predict_logits_batch(batch), net.predict_value_batch(batch)
    for i, row in enumerate(batch):
        assert np.array_equal(logits[i], net.predict_logits(row))
        assert values[i] == net.predict_value(row)


@given(obs_batches)
def test_blas_mode_agrees_with_exact_mode_to_rounding(batch):
    fast = MlpActorCritic(3, 4, hidden=(16, 8), seed=2)
    exact = MlpActorCritic(3, 4, hidden=(16, 8), seed=2, exact=True)
    assert np.allclose(fast.predict_logits_batch(batch), exact.predict_logits_batch(batch), rtol=1e-12, atol=1e-12)
    for row in batch:
        assert np.allclose(fast.predict_value(row), exact.predict_value(row), rtol=1e-12, atol=1e-12)


def test_params_round_trip():
    net = MlpActorCritic(5, 3, hidden=(7,), seed=4)
    twin = MlpActorCritic.from_params(net.params)
    x = np.linspace(-1, 1, 5)
    assert twin.hidden == (7,) and twin.obs_size == 5 and twin.n_actions == 3
    assert np.array_equal(net.predict_logits(x), twin.predict_logits(x))
    assert net.predict_value(x) == twin.predict_value(x)
    p = net.params
    p["actor.0.weight"][...] = 0  # params are copies
    assert net.params["actor.0.weight"].any()


def test_no_hidden_layers_is_linear():
    net = MlpActorCritic(2, 2, hidden=(), seed=0)
    w, b = net.params["actor.0.weight"], net.params["actor.0.bias"]
    x = np.array([0.3, -0.7])
    assert np.allclose(net.predict_logits(x), x @ w + b)


@pytest.mark.parametrize("args, kwargs, pattern", [
    ((0, 2), {}, "obs_size=0 should be at least 1"),
    ((4, 0), {}, "n_actions=0 should be at least 1"),
    ((4, 2), {"hidden": (64, 0)}, r"hidden\[1\]=0 should be at least 1"),
    ((4, 2), {"seed": -3}, "seed=-3 should be at least 0"),
    ((4, 2), {"exact": 1}, "exact=1 should be a bool"),
])
def test_argument_errors(args, kwargs, pattern):
    with pytest.raises(ArgumentError, match=pattern):
        MlpActorCritic(*args, **kwargs)


def test_observation_size_mismatch():
    net = MlpActorCritic(4, 2)
    with pytest.raises(ArgumentError, match="observation has 3 entries, the network expects obs_size=4"):
        net.predict_logits(np.zeros(3))
    with pytest.raises(ArgumentError, match="obs_batch rows have 2 entries"):
        net.predict_value_batch(np.zeros((3, 2)))


def test_from_params_errors():
    with pytest.raises(ArgumentError, match="params has no actor.0.weight"):
        MlpActorCritic.from_params({})
    p = MlpActorCritic(4, 2, hidden=(3,)).params
    p["actor.1.weight"] = np.zeros((5, 2))
    with pytest.raises(ArgumentError, match="do not chain"):
        MlpActorCritic.from_params(p)


def test_uniform_policy():
    pol = uniform_policy(3)
    assert pol.predict_logits(np.ones(4)).tolist() == [0.0, 0.0, 0.0]
    assert uniform_logits(2)(None).tolist() == [0.0, 0.0]
    assert pol.predict_value(None) == zero_value(None) == 0.0
    assert pol.predict_logits_batch(np.zeros((2, 4))).shape == (2, 3)
    assert pol.predict_value_batch(np.zeros((2, 4))).tolist() == [0.0, 0.0]
