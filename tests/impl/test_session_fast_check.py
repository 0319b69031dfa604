"""The session's numpy fast path agrees with the spec checker (the oracle) on generated inputs,
including NaN, ±inf, -0.0, subnormals, float16/32/64 and integer dtypes, ranges and ill-typed values."""

from __future__ import annotations

import math

import numpy as np
from hypothesis import given, strategies as st

from rollcheck.impl.contract_judge import (accepted_reward, action_ok, box_action_ok,
                                          observation_ok as observation_array_ok, reward_ok)
from rollcheck.impl.session import checked_observation, checked_transition
from rollcheck.properties.strategies import SPECIAL_FLOATS, contracts, shaped_tensors, shapes, transitions
from rollcheck.spec.errors import ArgumentError
from rollcheck.spec.policy_gradient import as_logits, finite_logits
from rollcheck.spec import (Box, Contract, ContractViolation, Shape, action_violations,
                            box_action_violations, check_observation, check_transition_fin, done_flags_violations,
                            observation_holds, reward_holds, reward_violations)

floats = st.one_of(st.floats(allow_subnormal=True), st.sampled_from(SPECIAL_FLOATS))


def _outcome(fn, *args, **kwargs):
    try:
        return ("ok", fn(*args, **kwargs))
    except ContractViolation as exc:
        return ("violation", [(v.field, v.rule, v.message) for v in exc.violations])


@given(contracts(), st.lists(floats, max_size=40))  # both sides of the small-array threshold (32)
def test_observation_array_ok_is_observation_holds(contract, xs):
    assert observation_array_ok(contract, np.array(xs, dtype=np.float64)) == observation_holds(contract, xs)


@given(contracts(), floats)
def test_reward_ok_is_reward_holds(contract, r):
    assert reward_ok(contract, r) == reward_holds(contract, r)


@st.composite
def tensor_cases(draw):
    dims = draw(shapes(max_rank=2, max_side=3))
    kind = draw(st.sampled_from(["float", "int", "other_shape", "bool", "list"]))
    if kind == "float":
        value = draw(shaped_tensors(dims, as_numpy=True, dtypes=("float16", "float32", "float64")))
    elif kind == "int":
        dtype = draw(st.sampled_from(["int8", "int64", "uint8", "uint64"]))
        value = np.array(draw(st.lists(st.integers(0, 100), min_size=math.prod(dims), max_size=math.prod(dims))),
                         dtype=dtype).reshape(dims)
    elif kind == "other_shape":
        value = draw(shaped_tensors(draw(shapes(max_rank=2, max_side=3)), as_numpy=True))
    elif kind == "bool":
        value = np.zeros(dims, dtype=bool)
    else:
        value = draw(shaped_tensors(dims, as_numpy=False))
    if draw(st.booleans()) and isinstance(value, np.ndarray) and value.shape == ():
        value = value[()]  # a numpy scalar, as Gymnasium may return for shape ()
    return Shape.of(dims), value


@given(contracts(), tensor_cases())
def test_checked_observation_agrees_with_check_observation(contract, case):
    shape, value = case
    fast = _outcome(checked_observation, contract, value, shape)
    spec = _outcome(check_observation, contract, value, shape)
    assert fast[0] == spec[0]
    if fast[0] == "ok":
        arr = fast[1]
        assert arr.dtype == np.float64 and arr.shape == shape.dims and not arr.flags.writeable
        assert arr.ravel().tolist() == list(spec[1]) or np.array_equal(arr.ravel(), spec[1], equal_nan=True)
        assert np.array_equal(np.signbit(arr.ravel()), np.signbit(np.array(spec[1], dtype=np.float64)))
    else:
        assert fast[1] == spec[1]


@st.composite
def transition_cases(draw):
    dims = draw(shapes(max_rank=2, max_side=3))
    n_actions = draw(st.integers(1, 4))
    raw = draw(transitions(dims, n_actions, well_typed=None))
    reward = raw.reward
    if draw(st.booleans()) and isinstance(reward, float) and math.isfinite(reward):
        with np.errstate(over="ignore"):  # float32 may round a large reward to inf: still a valid input
            reward = draw(st.sampled_from([np.float32, np.float64, int]))(reward)
    return raw, reward


@given(contracts(), transition_cases())
def test_checked_transition_agrees_with_check_transition_fin(contract, case):
    raw, reward = case
    shape = Shape.of(raw.obs_shape)
    try:  # the session's stored observation is always a checked float64 copy
        observation = checked_observation(contract, raw.observation, shape)
    except ContractViolation:
        observation = None
    if observation is None:
        return
    args = (contract, observation, raw.next_observation, raw.action, reward, raw.terminated, raw.truncated)
    fast = _outcome(checked_transition, *args, shape, raw.n_actions)
    spec = _outcome(check_transition_fin, *args, obs_shape=shape, n_actions=raw.n_actions)
    assert fast[0] == spec[0]
    if fast[0] == "ok":
        assert fast[1] == spec[1]
        assert fast[1].next_observation.dtype == np.float64 and not fast[1].next_observation.flags.writeable
        assert type(fast[1].action) is int and type(fast[1].reward) is float
    else:
        assert fast[1] == spec[1]


def test_buffer_mutation_after_check_does_not_leak():
    buf = np.array([1.0, 2.0], dtype=np.float32)
    arr = checked_observation(Contract(), buf, Shape.of([2]))
    buf[:] = np.nan
    assert arr.tolist() == [1.0, 2.0]


def test_all_finite_handles_overflowing_sums_and_empty_arrays():
    big = np.array([1.7976931348623157e308, 1.7976931348623157e308, -0.0])
    assert observation_array_ok(Contract(), big)  # the dot overflows; the exact test decides
    assert not observation_array_ok(Contract(), np.array([np.inf, -np.inf]))
    assert observation_array_ok(Contract(), np.zeros((0, 3)))
    assert not observation_array_ok(Contract(), np.array([[1.0, np.nan], [2.0, 3.0]]))
    large = np.ones(100)
    assert observation_array_ok(Contract(), large)
    large[57] = -np.inf
    assert not observation_array_ok(Contract(), large)


# ---------------------------------------------------------------------------------------------
# The judge's one-step predicates the session's fast path uses, against the spec (both ways)
# ---------------------------------------------------------------------------------------------

flags = st.one_of(st.booleans(), st.sampled_from([np.bool_(True), np.bool_(False), 1, 0, None]))
rewards = st.one_of(floats, st.integers(-2**1100, 2**1100), st.sampled_from([np.float32(0.5), np.float16(np.inf),
                                                                             np.int64(3), True, "1.0", None]))


@given(contracts(), rewards, flags, flags)
def test_accepted_reward_accepts_exactly_what_the_spec_accepts_and_gives_its_float(contract, reward, te, tr):
    got = accepted_reward(contract, reward, te, tr)
    spec_ok = not done_flags_violations(contract, te, tr) and not reward_violations(contract, reward)
    if got is not None:  # never a false pass
        assert spec_ok and type(got) is float and (got == float(reward) or (got != got and float(reward) != float(reward)))
    elif type(reward) is float and (te is True or te is False) and (tr is True or tr is False):
        assert not spec_ok  # and for plain values never a false alarm


@st.composite
def boxes_and_actions(draw):
    dims = draw(shapes(max_rank=2, max_side=3))
    size = math.prod(dims)
    bounded = draw(st.sampled_from(["both", "low", "none"]))
    lo = draw(st.lists(st.floats(-5, 5), min_size=size, max_size=size))
    width = draw(st.lists(st.floats(0, 5), min_size=size, max_size=size))
    box = Box(dims, lo if bounded != "none" else None,
              [a + w for a, w in zip(lo, width)] if bounded == "both" else None, "float64")
    kind = draw(st.sampled_from(["float", "inside", "other_shape", "bool"]))
    if kind == "inside":
        value = np.array([a + w / 2 for a, w in zip(lo, width)], dtype=np.float64).reshape(dims)
    elif kind == "float":
        value = draw(shaped_tensors(dims, as_numpy=True, dtypes=("float32", "float64")))
    elif kind == "other_shape":
        value = draw(shaped_tensors(draw(shapes(max_rank=2, max_side=3)), as_numpy=True))
    else:
        value = np.zeros(dims, dtype=bool)
    return box, value


@given(boxes_and_actions())
def test_box_action_ok_is_the_box_contract(case):
    box, value = case
    assert box_action_ok(box, value) == (not box_action_violations(box, value)) == action_ok(box, value)


@given(st.integers(1, 5), st.one_of(st.integers(-3, 8), st.sampled_from([True, np.int64(1), 1.0, None])))
def test_action_ok_never_passes_what_fin_n_refuses(n, action):
    if action_ok(n, action):
        assert not action_violations(n, action) and type(action) is int
    elif type(action) is int:
        assert action_violations(n, action)


@given(contracts(), boxes_and_actions(), floats, st.booleans(), st.booleans())
def test_checked_transition_with_a_box_agrees_with_check_transition_fin(contract, case, reward, te, tr):
    box, action = case
    shape = Shape.of([2])
    try:  # the session's stored observation always passed the session's contract
        observation = checked_observation(contract, np.zeros(2), shape)
    except ContractViolation:
        return
    args = (contract, observation, np.array([0.5, -0.5]), action, reward, te, tr)
    fast = _outcome(checked_transition, *args, shape, box)
    spec = _outcome(check_transition_fin, *args, obs_shape=shape, action_space=box)
    assert fast[0] == spec[0] and fast[1] == spec[1]
    if fast[0] == "ok":
        assert fast[1].action.dtype == np.float64 and not fast[1].action.flags.writeable


@given(st.lists(floats, max_size=5), st.sampled_from(["float16", "float32", "float64", "int64", "longdouble"]),
       st.booleans())
def test_finite_logits_reads_a_numpy_vector_as_as_logits_does(xs, dtype, two_d):
    """The collectors' fast reading of a 1-D float array gives as_logits' floats and the same refusals."""
    with np.errstate(over="ignore", invalid="ignore"):
        arr = np.array(xs, dtype=np.float64).astype(dtype) if dtype != "int64" else np.array(
            [int(x) if math.isfinite(x) and abs(x) < 1e15 else 0 for x in xs], dtype=np.int64)
    if two_d:
        arr = arr.reshape(1, -1)

    def outcome(value):
        try:
            return ("ok", finite_logits(value))
        except ArgumentError as exc:
            return ("refused", str(exc))

    fast = outcome(arr)
    oracle = outcome(as_logits(arr)) if not two_d and arr.size else ("refused", None)
    assert fast[0] == oracle[0]
    if fast[0] == "ok":
        assert fast[1] == oracle[1] and all(type(x) is float for x in fast[1])
    elif oracle[1] is not None:
        assert fast[1] == oracle[1]
