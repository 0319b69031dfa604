"""The vectorised sampler equals the spec's sampler bit for bit, for every (seed, counter) and logits row.

Seeds and counters are Lean Nats (any size, wrapped mod 2**64); logits include NaN and ±inf, which
both sample as TorchLean samples them (the last action, a NaN log-probability).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from rollcheck.impl.fast_sampler import raise_bad_logits
from rollcheck.impl.vector_collect import sample_actions_from_logits_batch, uniform_batch
from rollcheck.spec import ArgumentError, action_log_softmax, sample_action_from_logits, uniform
from rollcheck.spec.random_stream import MASK64

words = st.one_of(st.integers(0, MASK64), st.integers(0, 2**70))
logit = st.one_of(st.floats(min_value=-1e300, max_value=1e300, allow_nan=False, allow_infinity=False),
                  st.sampled_from([math.nan, math.inf, -math.inf, 0.0, -0.0]))


def same_float(a: float, b: float) -> bool:
    return (math.isnan(a) and math.isnan(b)) or (a == b and math.copysign(1, a) == math.copysign(1, b))
small_logit = st.floats(min_value=-50, max_value=50, allow_nan=False)


@given(st.lists(st.tuples(words, words), min_size=1, max_size=40))
@example([(0, 0), (MASK64, MASK64), (0, MASK64), (MASK64, 0), (1, 2 ** 63), (0x9E3779B97F4A7C15, MASK64 - 1),
          (2 ** 64, 3), (2 ** 70 + 1, 2 ** 65)])
def test_uniform_batch_is_the_spec_uniform_bit_for_bit(pairs):
    seeds, counters = zip(*pairs)
    got = uniform_batch(seeds, counters)
    assert got.dtype == np.float64
    assert got.tolist() == [uniform(s, c) for s, c in pairs]


@st.composite
def sampler_cases(draw):
    n = draw(st.integers(1, 6))
    k = draw(st.integers(1, 6))
    dtype = draw(st.sampled_from([np.float64, np.float64, np.float32, np.float16, np.int64]))
    entries = draw(st.sampled_from([logit, small_logit])) if dtype == np.float64 else small_logit
    logits = np.array(draw(st.lists(st.lists(entries, min_size=k, max_size=k), min_size=n, max_size=n)))
    logits = logits.astype(dtype)  # the spec reads every real dtype as Python floats (ints exactly)
    seeds = draw(st.lists(words, min_size=n, max_size=n))
    counters = draw(st.lists(words, min_size=n, max_size=n))
    return seeds, counters, logits


@given(sampler_cases())
def test_batch_sampler_equals_the_spec_sampler_and_log_softmax_per_row(case):
    seeds, counters, logits = case
    actions, log_probs = sample_actions_from_logits_batch(seeds, counters, logits)
    for i, (s, c) in enumerate(zip(seeds, counters)):
        counter, a = sample_action_from_logits(s, c, logits[i])
        assert counter == c + 1
        assert actions[i] == a
        assert same_float(log_probs[i], action_log_softmax(logits[i], a))  # the same float, not merely close


@given(st.integers(0, 2 ** 20), st.integers(0, 2 ** 20), st.integers(2, 5))
def test_draws_on_a_cdf_boundary_pick_the_same_action(seed, counter, k):
    # Logits whose softmax CDF hits the uniform exactly (or within one ulp) exercise the `cum > u` edge.
    u = uniform(seed, counter)
    p0 = min(max(u, 1e-12), 1 - 1e-12)
    rest = (1 - p0) / (k - 1)
    for nudge in (-1e-16, 0.0, 1e-16):
        probs = [p0 + nudge] + [rest] * (k - 1)
        logits = np.array([[math.log(max(p, 1e-300)) for p in probs]])
        actions, log_probs = sample_actions_from_logits_batch([seed], [counter], logits)
        assert (actions[0],) == (sample_action_from_logits(seed, counter, logits[0])[1],)
        assert log_probs[0] == action_log_softmax(logits[0], int(actions[0]))


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_non_finite_logits_are_sampled_as_the_spec_samples_them(bad):
    logits = np.array([[0.0, 1.0], [bad, 0.0], [0.0, bad], [bad, bad, 0.0][:2]])
    seeds, counters = [1, 3, 5, 7], [2, 4, 6, 8]
    actions, log_probs = sample_actions_from_logits_batch(seeds, counters, logits)
    for i in range(4):
        a = sample_action_from_logits(seeds[i], counters[i], logits[i])[1]
        assert actions[i] == a
        assert same_float(log_probs[i], action_log_softmax(logits[i], a))


def test_the_collectors_check_refuses_non_finite_rows_naming_the_sub_env():
    with pytest.raises(ArgumentError, match=r"sub-env 1: logits\[0\]=nan is not finite"):
        raise_bad_logits(np.array([[0.0, 1.0], [math.nan, 0.0]]), np.zeros(2, np.uint64), np.zeros(2, np.uint64))
    raise_bad_logits(np.array([[0.0, 1.0], [-1.0, 0.0]]), np.zeros(2, np.uint64), np.zeros(2, np.uint64))


def test_boolean_logits_are_refused_like_the_spec():
    # The spec's as_logits refuses booleans ("is not a real number"); numpy would read them as 0/1.
    logits = np.array([[True, False], [False, True]])
    with pytest.raises(ArgumentError) as spec_error:
        sample_action_from_logits(1, 2, logits[0])
    with pytest.raises(ArgumentError) as batch_error:
        sample_actions_from_logits_batch([1, 3], [2, 4], logits)
    assert str(batch_error.value) == str(spec_error.value)


@pytest.mark.parametrize("seeds, counters, logits, message", [
    ([1, 2], [0], np.zeros((2, 2)), r"counters has 1 entries; expected one per sub-env \(num_envs=2\)"),
    ([-1], [0], np.zeros((1, 2)), r"seeds\[0\]=-1 should be a non-negative int \(Lean Nat\)"),
    ([True], [0], np.zeros((1, 2)), r"seeds\[0\]=True should be a non-negative int"),
    ([1], [0.5], np.zeros((1, 2)), r"counters\[0\]=0.5 should be a non-negative int"),
    ([1], [0], np.zeros((2, 2)), r"logits has shape \[2, 2\]; expected \[1, n_actions > 0\]"),
    ([1], [0], np.zeros((1, 0)), r"logits has shape \[1, 0\]"),
    ([1], [0], np.zeros(2), r"logits has shape \[2\]"),
])
def test_bad_sampler_arguments_name_the_field(seeds, counters, logits, message):
    with pytest.raises(ArgumentError, match=message):
        sample_actions_from_logits_batch(seeds, counters, logits)


def test_uniform_batch_accepts_numpy_words():
    seeds = np.array([0, MASK64], dtype=np.uint64)
    counters = np.array([5, 6], dtype=np.uint64)
    assert uniform_batch(seeds, counters).tolist() == [uniform(0, 5), uniform(MASK64, 6)]
