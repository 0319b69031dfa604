"""PolicyGradient and the (seed, counter) uniform: wrapping, determinism, goodness of fit.

- TorchLean's known answers (``Spec.Random``, the sampler, the z-score) live in
  ``test_torchlean_known_answers.py`` and the Hypothesis equality with an independent
  transcription in ``test_torchlean_transcription.py``; this file checks the remaining properties.
- Seeds and counters are Lean ``Nat``s: any non-negative int, wrapped mod ``2**64``.
- Sampling is a pure function of ``(seed, counter)`` and agrees with softmax: a chi-square test
  over fixed seeds (deterministic, so the p-value threshold cannot flake).
- ``action_log_softmax`` is finite and accurate (vs a 60-digit ``decimal`` reference) for logits up
  to ±1e300; its sum is TorchLean's left fold, so the error bound grows with ``n_actions``.
- Non-finite logits are sampled as TorchLean samples them (the last action, NaN log-probability);
  :func:`finite_logits` (the collectors' check) rejects them.
"""

from __future__ import annotations

import math
from decimal import Context, Decimal

import numpy as np
import pytest
from hypothesis import given, strategies as st

from rollcheck.properties.strategies import logits
from rollcheck.spec import (ArgumentError, action_log_softmax, action_policy, sample_action_from_logits,
                            sample_categorical, uniform)
from rollcheck.spec.policy_gradient import finite_logits

nat = st.integers(0, 2**70)


@pytest.mark.parametrize("seed, counter", [(-1, 0), (0, -1), (True, 0), (0, 1.0), ("1", 0), (None, 0)])
def test_uniform_rejects_what_is_not_a_lean_nat(seed, counter):
    with pytest.raises(ArgumentError, match="seed=|counter="):
        uniform(seed, counter)


@given(nat, nat)
def test_uniform_wraps_nats_mod_2_64_and_depends_on_their_sum(seed, counter):
    u = uniform(seed, counter)
    assert 0.0 <= u < 1.0 and u == uniform(seed, counter) and (u * 2**32).is_integer()
    assert u == uniform(seed % 2**64, counter % 2**64) == uniform((seed + counter) % 2**64, 0)
    assert u == uniform(np.uint64(seed % 2**64), int(counter))


def test_counter_advances_as_a_nat_past_2_64():
    assert sample_categorical(0, 2**64 + 5, [0.5, 0.5])[0] == 2**64 + 6
    assert sample_categorical(3, 2**64, [0.5, 0.5])[1] == sample_categorical(3, 0, [0.5, 0.5])[1]


@given(nat, nat, logits(as_numpy=None))
def test_sampler_is_deterministic_and_in_range(seed, counter, zs):
    nxt, a = sample_action_from_logits(seed, counter, zs)
    assert nxt == counter + 1 and 0 <= a < len(zs)
    assert sample_action_from_logits(seed, counter, list(zs)) == (nxt, a)
    probs = action_policy(zs)
    u = uniform(seed, counter)
    # a zero-probability action is never drawn, except the documented last-index fallback
    assert probs[a] > 0.0 or (a == len(zs) - 1 and sum(probs) <= u)
    # inverse CDF: the draw lies in the chosen action's interval of the running sum
    below = 0.0
    for p in probs[:a]:
        below += p
    assert below <= u and (a == len(zs) - 1 or below + probs[a] > u)


def chi_square_sf(stat: float, dof: int) -> float:
    """P(X >= stat) for X ~ chi^2(dof), via the regularised lower incomplete gamma series."""
    a, x = dof / 2.0, stat / 2.0
    if x == 0.0:
        return 1.0
    term = total = 1.0 / a
    k = 0
    while term > total * 1e-17 and k < 10_000:
        k += 1
        term *= x / (a + k)
        total += term
    lower = math.exp(a * math.log(x) - x - math.lgamma(a)) * total
    return max(0.0, 1.0 - lower)


def test_chi_square_sf_matches_known_critical_values():
    assert chi_square_sf(3.841458820694124, 1) == pytest.approx(0.05, rel=1e-9)
    assert chi_square_sf(11.070497693516351, 5) == pytest.approx(0.05, rel=1e-9)
    assert chi_square_sf(30.57791416689249, 15) == pytest.approx(0.01, rel=1e-9)


@pytest.mark.parametrize("seed, zs", [(2024, [0.0, 1.0, -1.0, 2.0]), (7, [3.0, 3.0, 3.0, 3.0, 3.0, 3.0]),
                                      (99, [-2.0, 0.5, 1e-9, 0.0, 4.0])])
def test_sampled_actions_fit_softmax(seed, zs):
    # Fixed seeds and counters make this deterministic; a correct sampler gives p far above 1e-4 for
    # these vectors (a sampler off by one index or ignoring a logit gives p ~ 0).
    n = 20_000
    counts = [0] * len(zs)
    counter = 0
    for _ in range(n):
        counter, a = sample_action_from_logits(seed, counter, zs)
        counts[a] += 1
    expected = [n * p for p in action_policy(zs)]
    stat = sum((c - e) ** 2 / e for c, e in zip(counts, expected))
    assert chi_square_sf(stat, len(zs) - 1) > 1e-4, (counts, expected, stat)


def reference_log_softmax(zs: list[float], a: int) -> Decimal:
    ctx = Context(prec=60, Emin=-10**9, Emax=10**9)
    ds = [Decimal(z) for z in zs]
    m = max(ds)
    total = ctx.add(Decimal(0), sum((ctx.exp(ctx.subtract(d, m)) for d in ds), Decimal(0)))
    return ctx.subtract(ctx.subtract(ds[a], m), ctx.ln(total))


@given(logits(), st.data())
def test_log_softmax_is_finite_and_exact_up_to_1e300(zs, data):
    a = data.draw(st.integers(0, len(zs) - 1))
    got = action_log_softmax(zs, a)
    ref = reference_log_softmax(zs, a)
    assert math.isfinite(got) and got <= 0.0
    # a left-fold sum of n terms is within (n - 1) half-ulps of the exact sum, so log(total) within ~n ulps
    assert abs(Decimal(got) - ref) <= Decimal((len(zs) + 4) * math.ulp(max(1.0, abs(got)))), (got, ref)
    assert got == action_log_softmax(np.array(zs), a)


@given(logits())
def test_softmax_is_a_distribution_consistent_with_log_softmax(zs):
    probs = action_policy(zs)
    assert all(0.0 <= p <= 1.0 for p in probs) and math.fsum(probs) == pytest.approx(1.0, abs=1e-12)
    top = max(range(len(zs)), key=lambda i: zs[i])
    assert action_log_softmax(zs, top) >= -math.log(len(zs)) - 1e-12
    for i, p in enumerate(probs):
        assert p == pytest.approx(math.exp(action_log_softmax(zs, i)), rel=1e-12, abs=1e-300)


@pytest.mark.parametrize("bad", [[], [True, 0.0], ["1"], np.zeros((2, 2)), 3.0])
def test_bad_logits_are_rejected(bad):
    with pytest.raises(ArgumentError, match="logits"):
        action_policy(bad)


@pytest.mark.parametrize("zs", [[math.nan, 0.0], [0.0, math.inf], [math.inf, 0.0, 1.0], [math.nan],
                                [-math.inf, -math.inf]])
def test_non_finite_logits_give_torchleans_last_action_and_a_nan_log_prob(zs):
    for k in range(20):
        assert sample_action_from_logits(5, k, zs) == (k + 1, len(zs) - 1)
    assert math.isnan(action_log_softmax(zs, len(zs) - 1))
    with pytest.raises(ArgumentError, match=r"logits\[\d\]=.* is not finite"):
        finite_logits(zs)


def test_a_minus_infinity_logit_is_just_probability_zero():
    assert action_policy([-math.inf, 0.0]) == [0.0, 1.0]
    assert all(sample_action_from_logits(1, k, [-math.inf, 0.0])[1] == 1 for k in range(50))
    assert action_log_softmax([-math.inf, 0.0], 0) == -math.inf


@pytest.mark.parametrize("action", [-1, 2, True, 0.0, None])
def test_log_softmax_rejects_actions_outside_fin(action):
    with pytest.raises(ArgumentError, match="action="):
        action_log_softmax([0.0, 1.0], action)


def test_logit_too_large_for_a_float_is_an_invalid_argument():
    import pytest

    from rollcheck.spec import ArgumentError, action_log_softmax

    with pytest.raises(ArgumentError, match=r"logits\[1\]=.* too large for a float"):
        action_log_softmax([0.0, 10 ** 400], 0)
