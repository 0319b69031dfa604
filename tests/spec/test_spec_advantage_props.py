"""GAE with Gymnasium's split flags, λ-returns, z-scores and ``toActorCriticSample``.

The spec scans right to left; this file restates GAE as a forward sum
``A_t = Σ_k (γλ)^k δ_{t+k}``, cut after the first ``done`` at or after ``t``, and checks: agreement
with the spec, discounted returns at λ = 1 with V = 0, no value leaking across a ``done``,
TorchLean's older both-masked formula when ``terminated == dones``, and bootstrapping from
``next_value`` on truncation only.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import assume, given, strategies as st

from rollcheck.properties.strategies import gae_inputs, rollouts
from rollcheck.spec import (ArgumentError, Rollout, discounted_returns_done, generalized_advantage_estimation,
                            normalize_zscore, returns_from_advantages, to_actor_critic_sample)


def gae(kw: dict) -> list[float]:
    return generalized_advantage_estimation(kw["gamma"], kw["lam"], kw["rewards"], kw["values"], kw["next_values"],
                                            kw["dones"], kw["terminated"])


def forward_gae(kw: dict) -> list[float]:
    g, lam = kw["gamma"], kw["lam"]
    deltas = [r + (0.0 if te else g * nv) - v
              for r, v, nv, te in zip(kw["rewards"], kw["values"], kw["next_values"], kw["terminated"])]
    out = []
    for t in range(len(deltas)):
        total, weight = 0.0, 1.0
        for k in range(t, len(deltas)):
            total += weight * deltas[k]
            if kw["dones"][k]:
                break
            weight *= g * lam
        out.append(total)
    return out


def close(a: list[float], b: list[float], scale: float = 1.0) -> bool:
    return len(a) == len(b) and all(abs(x - y) <= 1e-9 * (scale + abs(x) + abs(y)) for x, y in zip(a, b))


@given(gae_inputs())
def test_gae_equals_the_forward_sum(kw):
    assert close(gae(kw), forward_gae(kw), scale=1000.0)


@given(gae_inputs(discounts=False), st.floats(0.0, 1.0))
def test_gae_at_lambda_one_with_zero_values_is_the_discounted_return(kw, gamma):
    zeros = [0.0] * len(kw["rewards"])
    kw = {**kw, "gamma": gamma, "values": zeros, "next_values": zeros, "terminated": kw["dones"]}
    assert close(gae(kw), discounted_returns_done(gamma, kw["rewards"], kw["dones"]), scale=1000.0)
    no_dones = [False] * len(zeros)
    kw = {**kw, "dones": no_dones, "terminated": no_dones}
    expected = [math.fsum(gamma**k * r for k, r in enumerate(kw["rewards"][t:])) for t in range(len(zeros))]
    assert close(gae(kw), expected, scale=1000.0)


@given(gae_inputs(), gae_inputs(), st.data())
def test_no_value_leaks_across_a_done(kw, other, data):
    dones = kw["dones"]
    assume(any(dones))
    d = data.draw(st.sampled_from([t for t, x in enumerate(dones) if x]))
    # replace everything after the done (and make the tail as long as we like)
    changed = {key: kw[key][: d + 1] + other[key] for key in ("rewards", "values", "next_values", "dones", "terminated")}
    changed.update(gamma=kw["gamma"], lam=kw["lam"])
    assert gae(changed)[: d + 1] == gae(kw)[: d + 1]


@given(gae_inputs())
def test_with_terminated_equal_to_dones_it_is_torchleans_both_masked_formula(kw):
    kw = {**kw, "terminated": kw["dones"]}
    g, lam = kw["gamma"], kw["lam"]
    older, nxt = [0.0] * len(kw["dones"]), 0.0
    for t in reversed(range(len(older))):
        mask = 0.0 if kw["dones"][t] else 1.0  # continueMask done, used in both places
        nxt = kw["rewards"][t] + g * mask * kw["next_values"][t] - kw["values"][t] + g * lam * mask * nxt
        older[t] = nxt
    assert close(gae(kw), older, scale=1000.0)


@given(gae_inputs(), st.data(), st.floats(-100.0, 100.0))
def test_truncation_bootstraps_from_next_value_and_termination_does_not(kw, data, bump):
    t = data.draw(st.integers(0, len(kw["rewards"]) - 1))
    for terminated in (False, True):
        dones = list(kw["dones"]); terms = list(kw["terminated"])
        dones[t], terms[t] = True, terminated
        base = {**kw, "dones": dones, "terminated": terms}
        a = gae(base)[t]
        expected = kw["rewards"][t] + (0.0 if terminated else kw["gamma"] * kw["next_values"][t]) - kw["values"][t]
        assert a == pytest.approx(expected, rel=1e-12, abs=1e-12)
        nv = list(kw["next_values"]); nv[t] += bump
        moved = gae({**base, "next_values": nv})[t]
        assert moved == pytest.approx(a + (0.0 if terminated else kw["gamma"] * bump), rel=1e-9, abs=1e-9)


def test_gae_rejects_terminated_without_done_and_ragged_columns():
    with pytest.raises(ArgumentError, match=r"terminated\[0\]=True but dones\[0\]=False"):
        generalized_advantage_estimation(0.9, 0.9, [1.0], [0.0], [0.0], [False], [True])
    with pytest.raises(ArgumentError, match="different lengths"):
        generalized_advantage_estimation(0.9, 0.9, [1.0, 2.0], [0.0], [0.0], [False], [False])


finite = st.floats(allow_nan=False, allow_infinity=False, allow_subnormal=True)


moderate = st.floats(-1e6, 1e6)


@given(st.lists(moderate, min_size=2, max_size=20))
def test_zscore_has_mean_zero_and_std_one_when_spread(xs):
    z = normalize_zscore(xs)
    assert len(z) == len(xs)
    n = len(z)
    if max(xs) - min(xs) < 1e-6:  # near-constant: TorchLean's rounding decides (see the edge cases)
        return
    mean = math.fsum(z) / n
    std = math.sqrt(math.fsum((v - mean) ** 2 for v in z) / n)
    assert abs(mean) <= 1e-9 and abs(std - 1.0) <= 1e-9, (mean, std)
    # order is preserved (a positive affine map)
    assert all((xs[i] < xs[j]) <= (z[i] <= z[j]) for i in range(n) for j in range(n))


@given(st.integers(-2**20, 2**20), st.integers(1, 10))
def test_zscore_of_an_exactly_summed_constant_is_centred(x, n):
    # n * x is exact for these, so the mean is x and every centred value is 0 (std 0: no division)
    assert normalize_zscore([float(x)] * n) == [0.0] * n


def test_zscore_edge_cases_are_torchleans_values():
    assert normalize_zscore([]) == []
    # the left-fold mean of [0.1]*3 rounds away from 0.1, so the tiny std is divided out (TorchLean's answer)
    assert normalize_zscore([0.1, 0.1, 0.1]) == [-1.0, -1.0, -1.0]
    assert normalize_zscore([1.0, 2.0, 3.0]) == [-1.224744871391589, 0.0, 1.224744871391589]
    # the sum overflows: mean inf, every value NaN
    assert all(math.isnan(v) for v in normalize_zscore([1e308, 1e308, -1e308]))
    # the squares overflow: std inf, every value a (signed) zero
    assert normalize_zscore([1e200, -1e200]) == [0.0, -0.0]
    # the squares underflow: std 0, the centred vector is returned
    assert normalize_zscore([5e-324, 0.0]) == [5e-324, 0.0]
    assert normalize_zscore([1e-170, -1e-170]) == [1e-170, -1e-170]
    got = normalize_zscore([math.inf, 1.0, 2.0])
    assert math.isnan(got[0]) and got[1:] == [-math.inf, -math.inf]


@given(rollouts(), st.floats(0.0, 1.0), st.floats(0.0, 1.0))
def test_actor_critic_sample_shapes_and_targets(r: Rollout, gamma, lam):
    s = to_actor_critic_sample(r, gamma, lam)
    T, n = r.horizon, r.n_actions
    assert s.states.shape == (T, *r.obs_shape.dims)
    assert s.actions_one_hot.shape == (T, n) and s.old_log_prob.shape == (T,)
    assert s.advantages.shape == (T,) and s.value_target.shape == (T, 1)
    assert (s.actions_one_hot.sum(axis=1) == 1.0).all() and list(s.actions_one_hot.argmax(axis=1)) == r.actions
    assert s.old_log_prob.tolist() == r.old_log_probs
    assert np.array_equal(s.states, np.stack([st_.state for st_ in r.steps]))
    raw = generalized_advantage_estimation(gamma, lam, r.rewards, r.values, r.next_values, r.dones, r.terminateds)
    assert s.value_target[:, 0].tolist() == returns_from_advantages(raw, r.values) == [a + v for a, v in
                                                                                        zip(raw, r.values)]
    assert s.advantages.tolist() == normalize_zscore(raw)
    assert len(s.as_tuple()) == 5


@given(rollouts(max_horizon=3))
def test_actor_critic_sample_needs_a_valid_n_actions(r):
    bare = Rollout(steps=r.steps, horizon=r.horizon)
    with pytest.raises(ArgumentError, match="n_actions is required"):
        to_actor_critic_sample(bare, 0.99, 0.95)
    with pytest.raises(ArgumentError, match="out of range|n_actions="):
        to_actor_critic_sample(bare, 0.99, 0.95, n_actions=max(r.actions) if max(r.actions) > 0 else 0)
    assert to_actor_critic_sample(bare, 0.99, 0.95, n_actions=r.n_actions).actions_one_hot.shape[1] == r.n_actions


def test_gae_computes_in_float64_whatever_the_input_dtype():
    import numpy as np

    from rollcheck.spec import generalized_advantage_estimation as gae

    args = ([0.1, 0.2], [0.3, 0.05], [0.7, 0.9], [False, True], [False, False])
    as_float32 = [np.array(c, dtype=np.float32) if i < 3 else c for i, c in enumerate(args)]
    expected = gae(0.99, 0.95, [float(np.float32(x)) for x in args[0]], [float(np.float32(x)) for x in args[1]],
                   [float(np.float32(x)) for x in args[2]], args[3], args[4])
    got = gae(np.float32(0.99), np.float32(0.95), *as_float32)
    assert all(type(a) is float for a in got)
    assert got == [a for a in gae(float(np.float32(0.99)), float(np.float32(0.95)), *[
        [float(x) for x in c] if i < 3 else c for i, c in enumerate(as_float32)])]
    assert len(expected) == 2
