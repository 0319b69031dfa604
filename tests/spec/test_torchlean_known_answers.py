"""Known answers transcribed from TorchLean's Lean definitions (no Lean toolchain runs here).

Each vector below was worked out from the Lean source (lean-dojo/TorchLean at commit
0f845313599795032960d487708c309e1fb2f40e; ``Spec.Random``, ``PolicyGradient``, ``normalizeZscoreSpec``,
``discountedReturnsVecDone``) by the independent transcription in ``torchlean_transcription.py``,
and the two uniforms of the issue (``(0, 0)`` and ``(42, 7)``) were checked by hand against
``keyOf``/``sampleNat``. The spec must reproduce every one exactly (``==`` on floats).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from rollcheck.spec import (action_log_probability, action_log_softmax, action_policy, discounted_returns_done,
                            key_of, normalize_zscore, sample_action_from_logits, sample_categorical, sample_nat,
                            splitmix64, uniform, uniform_of_key)


def test_splitmix64_includes_the_golden_increment():
    # splitmix64 0 = the finaliser applied to 0x9e3779b97f4a7c15: SplitMix64's first output from state 0
    assert splitmix64(0) == 16294208416658607535
    assert key_of(0, 0) == 16294208416658607535 and key_of(42, 7) == 2038608524547893592


def test_uniform_known_answers():
    assert sample_nat(key_of(0, 0), 0) == 1293516399
    assert uniform(0, 0) == 1293516399 / 2**32 == 0.30117025575600564
    assert sample_nat(key_of(42, 7), 0) == 1804640602
    assert uniform(42, 7) == 0.42017563292756677
    assert [uniform(0, k) for k in range(5)] == [0.30117025575600564, 0.454000539612025, 0.06188229937106371,
                                                  0.5884023064281791, 0.05441223341040313]
    assert uniform_of_key(key_of(0, 0)) == uniform(0, 0)


def test_keys_wrap_nats_and_depend_on_seed_plus_counter():
    assert key_of(2**64 - 1, 1) == key_of(0, 0)          # UInt64.ofNat (2^64 - 1) + 1 wraps to 0
    assert key_of(2**64, 0) == key_of(0, 0) and key_of(3, 4) == key_of(7, 0) == key_of(0, 7)


def test_action_sequences_for_fixed_logits():
    counter, out = 0, []
    for _ in range(12):
        counter, a = sample_action_from_logits(42, counter, [0.0, 1.0, -1.0, 2.0])
        out.append(a)
    assert (counter, out) == (12, [3, 0, 3, 3, 3, 3, 3, 3, 3, 1, 0, 3])
    counter, out = 0, []
    for _ in range(16):
        counter, a = sample_action_from_logits(0, counter, np.array([0.0, 0.0]))
        out.append(a)
    assert out == [0, 0, 0, 1, 0, 0, 0, 0, 0, 1, 0, 1, 0, 0, 1, 1]
    assert [sample_categorical(3, k, [0.25, 0.25, 0.5]) for k in range(6)] == \
        [(1, 2), (2, 0), (3, 1), (4, 0), (5, 1), (6, 1)]


def test_softmax_and_log_probabilities():
    assert action_policy([0.0, 1.0, -1.0, 2.0]) == [0.08714431874203257, 0.23688281808991013, 0.03205860328008499,
                                                    0.6439142598879724]
    assert [action_log_softmax([0.0, 1.0, -1.0, 2.0], a) for a in range(4)] == \
        [-2.4401896985611953, -1.4401896985611953, -3.4401896985611953, -0.44018969856119533]
    # the seed API's clamped log-probability floors at log(1e-6); actionLogSoftmax does not
    assert action_log_probability([0.0, 50.0], 0) == -13.815510557964274
    assert action_log_softmax([0.0, 50.0], 0) == -50.0


def test_zscores():
    assert normalize_zscore([1.0, 2.0, 3.0, 4.0]) == [-1.3416407864998738, -0.4472135954999579, 0.4472135954999579,
                                                      1.3416407864998738]
    assert normalize_zscore([0.1, 0.1, 0.1]) == [-1.0, -1.0, -1.0]


def test_discounted_returns_multiply_by_the_continue_mask():
    got = discounted_returns_done(0.5, [1.0, 1.0, 1.0], [False, True, False], bootstrap=math.inf)
    assert math.isnan(got[0]) and math.isnan(got[1]) and got[2] == math.inf
    assert discounted_returns_done(0.5, [1.0, 2.0, 4.0], [False, False, True]) == [3.0, 4.0, 4.0]


@pytest.mark.parametrize("zs", [[math.nan, 1.0], [math.inf, 0.0, 0.0]])
def test_non_finite_logits_sample_the_last_action(zs):
    assert [sample_action_from_logits(9, k, zs)[1] for k in range(10)] == [len(zs) - 1] * 10
