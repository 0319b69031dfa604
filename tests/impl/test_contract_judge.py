"""The contract judge equals the pure spec (``rollcheck.spec.transition_violations`` and its parts),
row by row and word for word: whole batches, any subset of the columns, a single transition (a
batch of one, with numpy or Python scalars), and the scalar fast predicates against the Lean Props.
Inputs cover NaN, ±inf, subnormals, -0.0, huge ints (beyond int64 and beyond float), bools and
every real dtype (float16/32/64/longdouble, signed and unsigned ints) plus refused dtypes."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import example, given, strategies as st
from hypothesis.extra import numpy as hnp

from rollcheck.impl.contract_judge import (action_bad_mask, action_space_all_ok, batch_bad_mask,
                                           batch_transition_violations, box_action_bad_mask, column_bad_mask,
                                           done_flags_all_ok, done_flags_bad_mask, flags_ok, judge_columns,
                                           judge_flags, judge_observation, judge_reward, judge_transition,
                                           observation_all_ok, observation_bad_mask, observation_ok, reward_all_ok,
                                           reward_bad_mask, reward_ok)
from rollcheck.spec.box import Box
from rollcheck.spec import (Contract, ArgumentError, done_flags_holds, observation_holds, reward_holds,
                            transition_violations)
from rollcheck.spec.contract import (action_violations, done_flags_violations, observation_violations,
                                     reward_violations)

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


# ---------------------------------------------------------------------------------------------
# Any subset of the columns
# ---------------------------------------------------------------------------------------------

COLUMN_SUBSETS = [("observation",), ("next_observation", "reward", "terminated"), ("reward",),
                  ("action", "terminated"), ("observation", "next_observation", "action", "reward", "terminated")]


@given(contracts, batches(), st.sampled_from(COLUMN_SUBSETS))
def test_judge_columns_equals_the_spec_parts_of_the_given_columns(contract, batch, subset):
    obs, next_obs, actions, rewards, te, tr, obs_shape, n_actions = batch
    given_cols = {"observation": obs, "next_observation": next_obs, "action": actions, "reward": rewards,
                  "terminated": te, "truncated": tr}
    kwargs = {k: v for k, v in given_cols.items() if k in subset or (k == "truncated" and "terminated" in subset)}
    with np.errstate(all="ignore"):
        fast = judge_columns(contract, obs_shape=obs_shape, n_actions=n_actions, **kwargs)
        mask = column_bad_mask(contract, obs_shape=obs_shape, n_actions=n_actions, **kwargs)
    slow = []
    for i in range(len(actions)):
        vs = []
        if "action" in subset:
            vs += action_violations(n_actions, actions[i])
        if "terminated" in subset:
            vs += done_flags_violations(contract, te[i], tr[i])
        if "reward" in subset:
            vs += reward_violations(contract, rewards[i])
        if "observation" in subset:
            vs += observation_violations(contract, obs[i], obs_shape, "observation")
        if "next_observation" in subset:
            vs += observation_violations(contract, next_obs[i], obs_shape, "next_observation")
        slow += [v.at(i) for v in vs]
    assert [(v.index, v.field, v.rule, v.message, repr(v.value)) for v in fast] == \
        [(v.index, v.field, v.rule, v.message, repr(v.value)) for v in slow]
    assert {v.index for v in slow} <= set(np.flatnonzero(mask).tolist())


def test_judge_columns_renames_fields_and_needs_an_action_space_for_actions():
    vs = judge_columns(Contract(), obs_shape=(1,), next_observation=np.array([[np.nan]]),
                       fields={"next_observation": "obs"})
    assert [(v.index, v.field, v.rule) for v in vs] == [(0, "obs", "Contract.check_obs_finite")]
    with pytest.raises(ArgumentError, match="n_actions or action_space"):
        judge_columns(Contract(), obs_shape=(), action=np.array([0]))
    with pytest.raises(ArgumentError, match="pass both or neither"):
        judge_columns(Contract(), obs_shape=(), terminated=np.array([True]))


# ---------------------------------------------------------------------------------------------
# A single transition (a batch of one) and the scalar fast predicates
# ---------------------------------------------------------------------------------------------

HUGE = [10 ** 400, -(10 ** 400), 2 ** 64, 2 ** 63, -(2 ** 63) - 1, 2 ** 1023, 2 ** 1024]
python_scalars = st.one_of(st.floats(allow_subnormal=True), st.sampled_from(SPECIAL + HUGE),
                           st.integers(-5, 5), st.booleans())


@st.composite
def single_transitions(draw):
    obs, next_obs, actions, rewards, te, tr, obs_shape, n_actions = draw(batches().filter(lambda b: len(b[2]) > 0))
    i = 0
    row = [obs[i], next_obs[i], actions[i], rewards[i], te[i], tr[i]]
    style = draw(st.sampled_from(["numpy", "python", "mixed"]))
    if style != "numpy":
        row = [x.tolist() if isinstance(x, (np.ndarray, np.generic)) and x.dtype != np.longdouble else x
               for x in row]
    if style == "mixed":
        row[3] = draw(python_scalars)   # a Python reward: huge ints, bools, floats
        row[2] = draw(st.one_of(st.integers(-2, 5), st.sampled_from([True, 2.0, 2.5, 10 ** 30, np.int64(1)])))
        row[4] = draw(st.sampled_from([True, False, np.bool_(True), 1, 0, None]))
    return row, obs_shape, n_actions


@given(contracts, single_transitions())
def test_judge_transition_equals_the_spec(contract, case):
    (o, no, a, r, te, tr), obs_shape, n_actions = case
    with np.errstate(all="ignore"):
        fast = judge_transition(contract, o, no, a, r, te, tr, obs_shape=obs_shape, n_actions=n_actions)
        slow = transition_violations(contract, o, no, a, r, te, tr, obs_shape=obs_shape, n_actions=n_actions)
        parts = (judge_reward(contract, r), reward_violations(contract, r),
                 judge_flags(contract, te, tr), done_flags_violations(contract, te, tr),
                 judge_observation(contract, no, obs_shape), observation_violations(contract, no, obs_shape))
    assert [(v.field, v.rule, v.message, repr(v.value)) for v in fast] == \
        [(v.field, v.rule, v.message, repr(v.value)) for v in slow]
    for mine, spec in zip(parts[::2], parts[1::2]):
        assert [str(v) for v in mine] == [str(v) for v in spec]


floats64 = st.one_of(st.floats(allow_subnormal=True), st.sampled_from([x for x in SPECIAL]))


@given(contracts, st.lists(floats64, max_size=40))  # both sides of the small-array threshold (32)
def test_observation_ok_is_observation_holds(contract, xs):
    assert observation_ok(contract, np.array(xs, dtype=np.float64)) == observation_holds(contract, xs)


@given(contracts, floats64)
def test_reward_ok_is_reward_holds(contract, r):
    assert reward_ok(contract, r) == reward_holds(contract, r)


@given(contracts, st.booleans(), st.booleans())
def test_flags_ok_is_done_flags_holds(contract, te, tr):
    assert flags_ok(contract, te, tr) == done_flags_holds(contract, te, tr)


def test_all_finite_handles_overflowing_sums_and_empty_arrays():
    big = np.array([1.7976931348623157e308, 1.7976931348623157e308, -0.0])
    assert observation_ok(Contract(), big)  # the sum overflows; the exact test decides
    assert not observation_ok(Contract(), np.array([np.inf, -np.inf]))
    assert observation_ok(Contract(), np.zeros((0, 3)))
    assert not observation_ok(Contract(), np.array([[1.0, np.nan], [2.0, 3.0]]))
    large = np.ones(100)
    assert observation_ok(Contract(), large)
    large[57] = -np.inf
    assert not observation_ok(Contract(), large)


# ---------------------------------------------------------------------------------------------
# Whole-batch verdicts (the streaming readers' fast path) equal "no row of the mask is set"
# ---------------------------------------------------------------------------------------------

@given(contracts, batches())
@example(Contract(), _LONG_ROW)
@example(Contract(obs_range=(-1.0, 1.0)), (np.array([[np.nan]]), np.array([[0.0]]), np.array([0]), np.array([0.0]),
                                           np.array([False]), np.array([False]), (1,), 1))
def test_all_ok_verdicts_equal_the_masks(contract, batch):
    obs, next_obs, actions, rewards, te, tr, obs_shape, n_actions = batch
    with np.errstate(all="ignore"):
        assert observation_all_ok(contract, obs, obs_shape) == (not observation_bad_mask(contract, obs, obs_shape).any())
        assert reward_all_ok(contract, rewards) == (not reward_bad_mask(contract, rewards).any())
        assert action_space_all_ok(n_actions, actions) == (not action_bad_mask(n_actions, actions).any())
        assert done_flags_all_ok(contract, te, tr) == (not done_flags_bad_mask(contract, te, tr).any())


@st.composite
def box_batches(draw):
    n = draw(st.integers(0, 5))
    dims = draw(st.sampled_from([(1,), (2,), (0,), (2, 1)]))
    stored = dims if draw(st.integers(0, 5)) else draw(st.sampled_from([(3,), (1, 2)]))
    dtype = draw(st.sampled_from([np.float64, np.float32, np.float16, np.int16, np.longdouble, np.bool_]))
    elements = st.booleans() if dtype == np.bool_ else reals(dtype)
    actions = draw(hnp.arrays(dtype, (n, *stored), elements=elements))
    size = int(np.prod(dims))
    bound = st.sampled_from([-1.0, -0.0, 0.0, 0.5, 2.0])
    low = draw(st.none() | st.lists(bound, min_size=size, max_size=size).map(tuple))
    high = None if low is None and draw(st.booleans()) else tuple(
        max(lo, draw(bound)) for lo in (low or (-1.0,) * size))
    return Box(dims, low, high, "float64"), actions


@given(box_batches())
def test_box_all_ok_equals_the_mask(case):
    space, actions = case
    with np.errstate(all="ignore"):
        assert action_space_all_ok(space, actions) == (not box_action_bad_mask(space, actions).any())
