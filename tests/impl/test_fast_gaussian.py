"""The numpy Gaussian log-prob fast path and the Box batch judge equal the spec, bit for bit."""

from __future__ import annotations

import math

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from rollcheck.impl.contract_judge import batch_transition_violations
from rollcheck.impl.fast_gaussian import (diag_gaussian_log_prob_batch, squashed_log_prob_batch,
                                          tanh_correction_batch)
from rollcheck.spec import Contract
from rollcheck.spec.box import Box
from rollcheck.spec.contract import transition_violations
from rollcheck.spec.gaussian import diag_gaussian_log_prob, squashed_log_prob, tanh_correction

MEANS = st.floats(-1e3, 1e3, allow_nan=False) | st.sampled_from([0.0, -0.0, 1e-310, 5e-324])
LOG_STDS = st.floats(-30, 30) | st.sampled_from([-800.0, 0.0, 700.0, 710.0])
ACTIONS = st.floats(allow_nan=True, allow_infinity=True)


@st.composite
def batches(draw):
    n, d = draw(st.integers(1, 6)), draw(st.integers(1, 4))
    mean = draw(hnp.arrays(np.float64, (n, d), elements=MEANS))
    shared = draw(st.booleans())
    log_std = draw(hnp.arrays(np.float64, (d,) if shared else (n, d), elements=LOG_STDS))
    actions = draw(hnp.arrays(np.float64, (n, d), elements=ACTIONS))
    return mean, log_std, actions


def _same(a: float, b: float) -> bool:
    return a == b and math.copysign(1, a) == math.copysign(1, b) or (a != a and b != b)


@settings(max_examples=300)
@given(batches())
def test_log_prob_batch_equals_spec_bit_for_bit(batch):
    mean, log_std, actions = batch
    fast = diag_gaussian_log_prob_batch(mean, log_std, actions)
    ls = np.broadcast_to(log_std, mean.shape)
    for i in range(mean.shape[0]):
        assert _same(float(fast[i]), diag_gaussian_log_prob(mean[i], ls[i], actions[i])), i


@settings(max_examples=300)
@given(batches())
def test_squashed_log_prob_batch_equals_spec_bit_for_bit(batch):
    mean, log_std, actions = batch
    fast = squashed_log_prob_batch(mean, log_std, actions)
    corr = tanh_correction_batch(actions)
    ls = np.broadcast_to(log_std, mean.shape)
    for i in range(mean.shape[0]):
        assert _same(float(corr[i]), tanh_correction(actions[i]))
        assert _same(float(fast[i]), squashed_log_prob(mean[i], ls[i], actions[i])), i


def test_dense_log_std_grid_where_numpy_exp_and_libm_differ():
    """A grid of 20001 state-dependent log-stds (numpy's SIMD ``exp`` differs from libm on a few percent of
    such inputs on x86-64 with AVX-512): every row still equals the spec exactly."""
    ls = np.linspace(-20, 5, 20001)[:, None]
    mean, actions = np.zeros_like(ls), np.full_like(ls, 0.3)
    got = diag_gaussian_log_prob_batch(mean, ls, actions)
    assert all(got[i] == diag_gaussian_log_prob([0.0], [ls[i, 0]], [0.3]) for i in range(ls.shape[0]))


BOXES = st.sampled_from([Box((1,), -2.0, 2.0), Box((2,)), Box((2,), [-1.0, 0.0], [1.0, math.inf]), Box(()),
                         Box((2, 1), -1.0, 1.0)])
ENTRIES = st.floats(allow_nan=True, allow_infinity=True) | st.sampled_from([-2.0, 2.0, 1.0, -0.0])


@settings(max_examples=200)
@given(BOXES, st.integers(1, 5), st.data())
def test_batch_judge_equals_spec_on_box_actions(box, n, data):
    dtype = data.draw(st.sampled_from([np.float64, np.float32, np.int64, np.bool_]))
    elements = {np.float64: ENTRIES, np.float32: st.floats(width=32) | st.sampled_from([-2.0, 2.0, 1.0])}.get(dtype)
    actions = data.draw(hnp.arrays(dtype, (n, *box.shape.dims), elements=elements))
    obs = np.zeros((n, 2))
    rewards = np.zeros(n)
    flags = np.zeros(n, dtype=bool)
    fast = batch_transition_violations(Contract(), obs, obs, actions, rewards, flags, flags, obs_shape=(2,),
                                       action_space=box)
    want = [v.at(i) for i in range(n)
            for v in transition_violations(Contract(), obs[i], obs[i], actions[i], rewards[i], flags[i], flags[i],
                                           obs_shape=(2,), action_space=box)]
    assert fast == want


def test_batch_judge_rejects_a_wrong_action_shape_row_by_row():
    obs = np.zeros((3, 1))
    vs = batch_transition_violations(Contract(), obs, obs, np.zeros((3, 2)), np.zeros(3), np.zeros(3, bool),
                                     np.zeros(3, bool), obs_shape=(1,), action_space=Box((1,)))
    assert [(v.index, v.rule) for v in vs] == [(0, "Spec.Shape"), (1, "Spec.Shape"), (2, "Spec.Shape")]
