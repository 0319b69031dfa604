"""``rollcheck.spec`` equals an independent transcription of TorchLean (``torchlean_transcription.py``).

Hypothesis draws Lean ``Nat`` seeds and counters past ``2**64``, logits with NaN, ±inf and signed
zeros, reward/value columns with non-finite entries; every comparison is bit for bit (NaN equals
NaN, ``0.0`` differs from ``-0.0``).
"""

from __future__ import annotations

import math

from hypothesis import given, strategies as st

import pytest
import torchlean_transcription as T
from rollcheck import training_batch
from rollcheck.spec import (ArgumentError, Rollout, Step, action_log_probability, action_log_softmax, action_policy, discounted_returns_done,
                            generalized_advantage_estimation, key_of, normalize_zscore, returns_from_advantages,
                            sample_action_from_logits, sample_categorical, sample_nat, splitmix64,
                            steps_from_columns, uniform)

nat = st.one_of(st.integers(0, 2**64 - 1), st.integers(0, 2**70), st.sampled_from([0, 2**64 - 1, 2**64]))
real = st.one_of(st.floats(), st.floats(-50, 50), st.sampled_from([0.0, -0.0, math.inf, -math.inf, math.nan]))
logit_rows = st.lists(real, min_size=1, max_size=7)


def same(a: float, b: float) -> bool:
    return (math.isnan(a) and math.isnan(b)) or (a == b and math.copysign(1.0, a) == math.copysign(1.0, b))


def same_list(xs, ys) -> bool:
    return len(xs) == len(ys) and all(same(a, b) for a, b in zip(xs, ys))


@given(st.integers(0, 2**64 - 1))
def test_splitmix64(x):
    assert splitmix64(x) == T.splitmix64(x)


@given(nat, nat, st.integers(0, 2**66), st.sampled_from([2**32, 2**16, 7, 1]))
def test_key_of_sample_nat_and_uniform(seed, counter, index, denom):
    assert key_of(seed, counter) == T.keyOf(seed, counter)
    key = T.keyOf(seed, counter)
    assert sample_nat(key, index, denom) == T.sampleNat(key, index, denom)
    assert uniform(seed, counter) == T.uniform_scalar(key)


@given(logit_rows, st.data())
def test_softmax_log_softmax_and_the_clamped_log_probability(zs, data):
    a = data.draw(st.integers(0, len(zs) - 1))
    assert same_list(action_policy(zs), T.actionPolicy(zs))
    assert same(action_log_softmax(zs, a), T.actionLogSoftmax(zs, a))
    assert same(action_log_probability(zs, a), T.actionLogProbability(zs, a))


@given(nat, nat, logit_rows)
def test_sample_action_from_logits(seed, counter, zs):
    assert sample_action_from_logits(seed, counter, zs) == T.sampleActionFromLogits(seed, counter, zs)


@given(nat, nat, st.lists(st.one_of(st.floats(0, 1), real), min_size=1, max_size=6))
def test_sample_categorical_on_arbitrary_probability_vectors(seed, counter, probs):
    assert sample_categorical(seed, counter, probs) == T.sampleCategorical(seed, counter, probs)


@given(st.lists(real, max_size=12))
def test_normalize_zscore(xs):
    assert same_list(normalize_zscore(xs), T.normalizeZscoreSpec(xs))


columns = st.integers(0, 10).flatmap(lambda n: st.tuples(
    st.lists(real, min_size=n, max_size=n), st.lists(real, min_size=n, max_size=n),
    st.lists(real, min_size=n, max_size=n), st.lists(st.booleans(), min_size=n, max_size=n)))


@given(columns, st.floats(0, 1), st.floats(0, 1), real)
def test_gae_returns_and_discounted_returns(cols, gamma, lam, bootstrap):
    rewards, values, next_values, dones = cols
    # TorchLean masks both terms with done: rollcheck's split-flag GAE with terminated = dones
    adv = generalized_advantage_estimation(gamma, lam, rewards, values, next_values, dones, dones)
    ref = T.generalizedAdvantageEstimationVec(gamma, lam, rewards, values, next_values, dones)
    assert same_list(adv, ref)
    assert same_list(returns_from_advantages(adv, values), T.returnsFromAdvantagesVec(ref, values))
    assert same_list(discounted_returns_done(gamma, rewards, dones, bootstrap),
                     T.discountedReturnsVecDone(gamma, rewards, dones, bootstrap))


finite = st.floats(-1e3, 1e3)
rollout_rows = st.lists(st.tuples(finite, finite, finite, st.sampled_from([(False, False), (True, True),
                                                                          (True, False)])),
                        min_size=1, max_size=12)


@given(rollout_rows, st.floats(0, 1), st.floats(0, 1))
def test_training_batch_of_the_seed_api_generation_is_torchleans(rows, gamma, lam):
    """``training_batch(..., generation="seed_api")``: TorchLean's ``trainingBatch`` (GAE masked by
    ``done``, z-scored advantages, returns from the raw advantages), bit for bit."""
    rewards, values, next_values = ([r[i] for r in rows] for i in range(3))
    dones = [r[3][0] for r in rows]
    terminated = [r[3][0] and not r[3][1] for r in rows]  # (done, truncated-only) -> terminated
    steps = steps_from_columns([[0.0]] * len(rows), [0] * len(rows), [0.0] * len(rows), rewards, dones, values,
                               next_values, terminated)
    batch = training_batch(Rollout(steps=steps, horizon=len(rows), n_actions=2), gamma, lam, generation="seed_api")
    raw = T.generalizedAdvantageEstimationVec(gamma, lam, rewards, values, next_values, dones)
    assert same_list(batch.advantages.tolist(), T.normalizeZscoreSpec(raw))
    assert same_list(batch.value_target.ravel().tolist(), T.returnsFromAdvantagesVec(raw, values))
    split = training_batch(Rollout(steps=steps, horizon=len(rows), n_actions=2), gamma, lam)
    if terminated == dones:  # no truncation: the split masks are TorchLean's masks
        assert same_list(split.advantages.tolist(), batch.advantages.tolist())


def test_an_unknown_generation_is_an_argument_error():
    r = Rollout(steps=(Step([0.0], 0, 0.0, 0.0, False, 0.0, 0.0, False),), horizon=1, n_actions=1)
    with pytest.raises(ArgumentError, match="generation='v2' should be one of"):
        training_batch(r, 0.9, 0.9, generation="v2")
