"""The vectorised GAE fast path agrees bit for bit with the pure-Python spec oracle, column by column."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from rollcheck.impl.fast_gae import generalized_advantage_estimation_batch, returns_from_advantages_batch
from rollcheck.spec import ArgumentError, generalized_advantage_estimation, returns_from_advantages

finite = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False, allow_infinity=False)
anything = st.floats(allow_nan=True, allow_infinity=True)
unit = st.floats(min_value=0.0, max_value=1.0)


def _same_bits(xs, ys) -> bool:
    return len(xs) == len(ys) and all(
        (math.isnan(a) and math.isnan(b)) or (a == b and math.copysign(1, a) == math.copysign(1, b))
        for a, b in zip(xs, ys))


@st.composite
def batches(draw, floats=finite):
    t = draw(st.integers(0, 24))
    n = draw(st.integers(1, 5))
    cell = st.lists(floats, min_size=t * n, max_size=t * n)
    r, v, nv = (np.array(draw(cell), dtype=np.float64).reshape(t, n) for _ in range(3))
    flags = st.lists(st.sampled_from(["none", "term", "trunc", "both"]), min_size=t * n, max_size=t * n)
    kinds = np.array(draw(flags), dtype=object).reshape(t, n)
    terminated = np.isin(kinds, ["term", "both"])
    dones = kinds != "none"
    return r, v, nv, dones, terminated


@given(batches(), unit, unit)
def test_gae_batch_is_bit_identical_to_the_oracle_per_column(batch, gamma, lam):
    r, v, nv, d, te = batch
    fast = generalized_advantage_estimation_batch(gamma, lam, r, v, nv, d, te)
    assert fast.shape == r.shape
    for i in range(r.shape[1]):
        oracle = generalized_advantage_estimation(gamma, lam, r[:, i].tolist(), v[:, i].tolist(),
                                                  nv[:, i].tolist(), d[:, i].tolist(), te[:, i].tolist())
        assert _same_bits(fast[:, i].tolist(), oracle)
        ret = returns_from_advantages_batch(fast, v)[:, i].tolist()
        assert _same_bits(ret, returns_from_advantages(oracle, v[:, i].tolist()))


@given(batches(floats=anything), st.floats(-2, 2), st.floats(-2, 2))
def test_gae_batch_matches_the_oracle_on_non_finite_and_signed_inputs(batch, gamma, lam):
    # NaN/inf, negative discount: the same IEEE operations in the same order give the same bits.
    r, v, nv, d, te = batch
    with np.errstate(all="ignore"):
        fast = generalized_advantage_estimation_batch(gamma, lam, r, v, nv, d, te)
    for i in range(r.shape[1]):
        oracle = generalized_advantage_estimation(gamma, lam, r[:, i].tolist(), v[:, i].tolist(),
                                                  nv[:, i].tolist(), d[:, i].tolist(), te[:, i].tolist())
        assert _same_bits(fast[:, i].tolist(), oracle)


def test_one_dimensional_columns_are_one_rollout():
    r = [1.0, 0.5, 2.0]
    v = [0.1, 0.2, 0.3]
    nv = [0.2, 0.3, 0.9]
    d = [False, True, False]
    te = [False, False, False]
    fast = generalized_advantage_estimation_batch(0.99, 0.95, r, v, nv, np.array(d), np.array(te))
    assert fast.shape == (3,)
    assert fast.tolist() == generalized_advantage_estimation(0.99, 0.95, r, v, nv, d, te)


def test_truncation_bootstraps_and_termination_does_not():
    r = np.array([[1.0, 1.0]])
    v = np.array([[0.0, 0.0]])
    nv = np.array([[10.0, 10.0]])
    d = np.array([[True, True]])
    te = np.array([[False, True]])  # column 0 truncated, column 1 terminated
    adv = generalized_advantage_estimation_batch(0.5, 1.0, r, v, nv, d, te)
    assert adv.tolist() == [[6.0, 1.0]]


def test_terminated_without_done_is_rejected_with_its_index():
    d = np.array([[True, False], [True, True]])
    te = np.array([[False, True], [False, False]])
    z = np.zeros((2, 2))
    with pytest.raises(ArgumentError, match=r"terminated\[\(0, 1\)\]=True but dones\[\(0, 1\)\]=False"):
        generalized_advantage_estimation_batch(0.9, 0.9, z, z, z, d, te)


@pytest.mark.parametrize("kwargs, message", [
    (dict(rewards=np.zeros((2, 3)), values=np.zeros((2, 2))), "different shapes"),
    (dict(dones=np.zeros((2, 2))), "dones has dtype float64; a boolean array is required"),
    (dict(rewards=np.array([["a", "b"], ["c", "d"]])), "rewards has dtype <U1; a real array"),
    (dict(rewards=np.zeros((2, 2, 1)), values=np.zeros((2, 2, 1)), next_values=np.zeros((2, 2, 1)),
          dones=np.zeros((2, 2, 1), bool), terminated=np.zeros((2, 2, 1), bool)), r"expected \(T,\) or \(T, N\)"),
    (dict(gamma=True), "gamma=True should be a real number"),
])
def test_bad_inputs_are_rejected_naming_the_field(kwargs, message):
    args = dict(gamma=0.9, lam=0.9, rewards=np.zeros((2, 2)), values=np.zeros((2, 2)),
                next_values=np.zeros((2, 2)), dones=np.zeros((2, 2), bool), terminated=np.zeros((2, 2), bool))
    args.update(kwargs)
    with pytest.raises(ArgumentError, match=message):
        generalized_advantage_estimation_batch(**args)
