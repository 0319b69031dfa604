"""The vectorised batch checks agree, row by row and word for word, with the spec's
``transition_violations`` (the pure-Python oracle) on generated batches."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import example, given, strategies as st
from hypothesis.extra import numpy as hnp

from rollcheck.impl.fast_checks import (action_bad_mask, batch_bad_mask, batch_transition_violations,
                                        observation_bad_mask)
from rollcheck.spec import Contract, ArgumentError, transition_violations

SPECIAL = [0.0, -0.0, 5e-324, -5e-324, 2.2250738585072014e-308, 1.0, -1.0, 0.5, 1e300, -1e300,
           float("nan"), float("inf"), float("-inf"), 3.4028235e38, 65504.0]


LONG_SPECIAL = [np.longdouble("1e400"), -np.longdouble("1e400"), np.longdouble(1) + np.finfo(np.longdouble).eps,
                np.longdouble("1e-330")]  # beyond float64: overflow to inf, round to 1.0, underflow


def reals(dtype):
    if np.dtype(dtype) == np.longdouble and np.finfo(np.longdouble).max > np.finfo(np.float64).max:
        return st.one_of(st.sampled_from(LONG_SPECIAL), reals(np.float64))
    if np.dtype(dtype).kind == "f":
        width = np.dtype(dtype).itemsize * 8
        with np.errstate(over="ignore"):
            exact = [x for x in SPECIAL if np.isnan(x) or float(np.array(x).astype(dtype)) == x]
        return st.one_of(st.sampled_from(exact), st.floats(width=width))
    info = np.iinfo(dtype)
    return st.integers(max(info.min, -10), min(info.max, 10))


@st.composite
def ranges(draw):
    if draw(st.booleans()):
        return None
    lo = draw(st.sampled_from([-2.0, -1.0, -0.0, 0.0, 0.5, -1e300]))
    hi = draw(st.sampled_from([0.0, -0.0, 1.0, 2.0, 1e300]))
    return (min(lo, hi), max(lo, hi))


contracts = st.builds(Contract, check_obs_finite=st.booleans(), check_reward_finite=st.booleans(),
                      obs_range=ranges(), reward_range=ranges(),
                      require_exclusive_done_flags=st.booleans())


@st.composite
def batches(draw):
    n = draw(st.integers(0, 6))
    obs_shape = draw(st.sampled_from([(), (3,), (2, 2), (0,), (1,)]))
    stored_shape = obs_shape if draw(st.integers(0, 9)) else draw(st.sampled_from([(2,), (3,), (1, 3)]))
    obs_dtype = draw(st.sampled_from([np.float64, np.float32, np.float16, np.int32, np.uint8, np.longdouble]))

    def tensor():
        return draw(hnp.arrays(obs_dtype, (n, *stored_shape), elements=reals(obs_dtype)))

    obs, next_obs = tensor(), tensor()
    act_dtype = draw(st.sampled_from([np.int64, np.int64, np.uint8, np.int8, np.float64, np.float32, np.bool_]))
    if act_dtype == np.bool_:
        actions = draw(hnp.arrays(np.bool_, (n,)))
    elif np.dtype(act_dtype).kind == "f":
        actions = draw(hnp.arrays(act_dtype, (n,), elements=st.sampled_from(
            [0.0, 1.0, 2.0, 2.5, -1.0, float("nan"), float("inf"), 7.0])))
    else:
        actions = draw(hnp.arrays(act_dtype, (n,), elements=reals(act_dtype)))
    rew_dtype = draw(st.sampled_from([np.float64, np.float64, np.float32, np.int64, np.bool_, np.longdouble]))
    rewards = draw(hnp.arrays(rew_dtype, (n,), elements=st.booleans() if rew_dtype == np.bool_ else reals(rew_dtype)))
    flag_dtype = draw(st.sampled_from([np.bool_, np.bool_, np.bool_, np.int8]))
    te = draw(hnp.arrays(flag_dtype, (n,), elements=st.integers(0, 1).map(bool) if flag_dtype == np.bool_ else st.integers(0, 1)))
    tr = draw(hnp.arrays(np.bool_, (n,)))
    n_actions = draw(st.integers(1, 4))
    return obs, next_obs, actions, rewards, te, tr, obs_shape, n_actions


def _oracle(contract, obs, next_obs, actions, rewards, te, tr, obs_shape, n_actions):
    out = []
    for i in range(len(actions)):
        out += [v.at(i) for v in transition_violations(contract, obs[i], next_obs[i], actions[i], rewards[i],
                                                       te[i], tr[i], obs_shape=obs_shape, n_actions=n_actions)]
    return out


# float128 values beyond float64: the spec converts to float (inf), so the masks must too.
_LONG_ROW = (np.array([[np.longdouble("1e400")]]), np.array([[0.0]]), np.array([0]),
             np.array([np.longdouble("-1e400")]), np.array([False]), np.array([False]), (1,), 1)


@given(contracts, batches())
@example(Contract(), _LONG_ROW)
def test_batch_violations_equal_spec_row_by_row(contract, batch):
    obs, next_obs, actions, rewards, te, tr, obs_shape, n_actions = batch
    with np.errstate(all="ignore"):
        fast = batch_transition_violations(contract, obs, next_obs, actions, rewards, te, tr,
                                           obs_shape=obs_shape, n_actions=n_actions)
    slow = _oracle(contract, obs, next_obs, actions, rewards, te, tr, obs_shape, n_actions)
    assert [str(v) for v in fast] == [str(v) for v in slow]
    assert [(v.index, v.field, v.rule) for v in fast] == [(v.index, v.field, v.rule) for v in slow]


@given(contracts, batches())
@example(Contract(), _LONG_ROW)
def test_mask_is_a_superset_of_bad_rows_and_exact_for_accepted_dtypes(contract, batch):
    obs, next_obs, actions, rewards, te, tr, obs_shape, n_actions = batch
    mask = batch_bad_mask(contract, obs, next_obs, actions, rewards, te, tr, obs_shape=obs_shape,
                          n_actions=n_actions)
    bad_rows = {v.index for v in _oracle(contract, obs, next_obs, actions, rewards, te, tr, obs_shape, n_actions)}
    assert set(np.flatnonzero(mask).tolist()) == bad_rows  # the dtypes the spec refuses fail every row


def test_float32_range_is_compared_in_float64():
    # 0.1 rounds up in float32 (0.100000001...), so the entry lies outside [-0.1, 0.1] in float64.
    obs = np.array([[np.float32(0.1)]], dtype=np.float32)
    contract = Contract(obs_range=(-0.1, 0.1))
    assert observation_bad_mask(contract, obs, [1]).tolist() == [True]
    vs = batch_transition_violations(contract, obs, obs, np.array([0]), np.array([0.0]),
                                     np.array([False]), np.array([False]), obs_shape=[1], n_actions=1)
    assert [v.rule for v in vs] == ["Contract.obs_range", "Contract.obs_range"]


def test_reports_every_bad_row_of_a_large_batch():
    rng = np.random.default_rng(0)
    n = 10_000
    obs = rng.normal(size=(n, 4)).astype(np.float32)
    obs[[5, 77, 9000], 2] = np.nan
    actions = rng.integers(0, 2, size=n)
    actions[123] = 2
    rewards = np.ones(n)
    rewards[4567] = np.inf
    te = np.zeros(n, bool)
    vs = batch_transition_violations(Contract(), obs, obs, actions, rewards, te, te, obs_shape=[4], n_actions=2)
    assert sorted({v.index for v in vs}) == [5, 77, 123, 4567, 9000]
    assert [v.field for v in vs if v.index == 5] == ["observation", "next_observation"]


def test_indices_relabel_rows():
    vs = batch_transition_violations(Contract(), np.zeros((2, 1)), np.zeros((2, 1)), np.array([0, 5]),
                                     np.zeros(2), np.zeros(2, bool), np.zeros(2, bool), obs_shape=[1],
                                     n_actions=2, indices=np.array([10, 42]))
    assert [(v.index, v.field) for v in vs] == [(42, "action")]


def test_bad_arguments_are_named():
    z = np.zeros(3)
    with pytest.raises(ArgumentError, match="different lengths"):
        batch_bad_mask(Contract(), np.zeros((3, 1)), np.zeros((2, 1)), z, z, z > 0, z > 0, obs_shape=[1], n_actions=2)
    with pytest.raises(ArgumentError, match=r"actions has shape \[3, 1\]"):
        batch_bad_mask(Contract(), np.zeros((3, 1)), np.zeros((3, 1)), np.zeros((3, 1)), z, z > 0, z > 0,
                       obs_shape=[1], n_actions=2)
    with pytest.raises(ArgumentError, match="n_actions=0"):
        action_bad_mask(0, z)
