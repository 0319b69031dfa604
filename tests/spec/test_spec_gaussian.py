"""The continuous-action spec: the Box contract, Gaussian log-probabilities, the sampler, clipping, tanh."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rollcheck.spec import ArgumentError, ContractViolation, Contract, Rollout, Step, Transition
from rollcheck.spec.box import Box, box_action_holds, box_action_violations, check_box_action, clip_to_box
from rollcheck.spec.contract import check_transition_fin, transition_violations
from rollcheck.spec.gaussian import (LOG_SQRT_2PI, diag_gaussian_log_prob, gaussian_policy_step,
                                     sample_diag_gaussian, squashed_log_prob, standard_normal, tanh_correction,
                                     unscale_action)
from rollcheck.spec.random_stream import uniform

FINITE = st.floats(-1e6, 1e6, allow_nan=False)
ANY_FLOAT = st.floats(allow_nan=True, allow_infinity=True)


# -- the Box contract -----------------------------------------------------------------------------
def test_box_constructor_normalises_and_rejects():
    box = Box((2,), -1.0, [1, 2])
    assert box.low == (-1.0, -1.0) and box.high == (1.0, 2.0) and box.bounded and box.size == 2
    assert Box((1,)).lows() == (-math.inf,) and not Box((1,)).bounded
    assert not Box((1,), -math.inf, 1.0).bounded
    for kwargs, field in [({"low": [0.0, 1.0, 2.0]}, "low"), ({"low": math.nan}, "low"),
                          ({"low": 2.0, "high": 1.0}, "low"), ({"dtype": "int8"}, "dtype"),
                          ({"high": True}, "high"), ({"shape": (-1,)}, "shape")]:
        with pytest.raises(ArgumentError, match=field):
            Box(**{"shape": (2,), **kwargs})


def test_box_action_violations_name_rule_and_value():
    box = Box((2,), -2.0, 2.0)
    assert box_action_violations(box, np.array([0.5, -2.0])) == []
    assert box_action_violations(box, [2.0, 2.0]) == []
    (v,) = box_action_violations(box, [2.5, 0.0])
    assert v.rule == "Box.bounds" and "entry 0 = 2.5" in v.message and v.field == "action"
    rules = [v.rule for v in box_action_violations(box, [math.nan, 3.0])]
    assert rules == ["Box.finite", "Box.bounds"]
    assert [v.rule for v in box_action_violations(box, [0.0])] == ["Spec.Shape"]
    assert [v.rule for v in box_action_violations(box, np.array([True, False]))] == ["Spec.Tensor Float"]
    assert [v.rule for v in box_action_violations(Box((1,)), [math.inf])] == ["Box.finite"]
    with pytest.raises(ContractViolation, match="Box.bounds"):
        check_box_action(box, [0.0, 9.0])
    assert check_box_action(box, [1.0, 0.0]) == (1.0, 0.0)


@given(st.lists(ANY_FLOAT, min_size=2, max_size=2), st.floats(-5, 0), st.floats(0, 5), st.booleans())
def test_box_checker_agrees_with_predicate(xs, lo, hi, bounded):
    box = Box((2,), lo if bounded else None, hi if bounded else None)
    assert (box_action_violations(box, xs) == []) == box_action_holds(box, xs)


@given(st.lists(FINITE, min_size=3, max_size=3), st.floats(-5, 0), st.floats(0, 5))
def test_clip_is_numpy_clip(xs, lo, hi):
    box = Box((3,), lo, hi)
    assert clip_to_box(box, xs) == tuple(np.clip(np.array(xs), lo, hi).tolist())
    assert box_action_holds(box, clip_to_box(box, xs))


def test_transition_with_box_action_through_the_contract():
    box = Box((1,), -2.0, 2.0)
    tr = check_transition_fin(Contract(), [0.0, 1.0], [1.0, 1.0], [1.5], 0.5, False, False, obs_shape=(2,),
                              action_space=box)
    assert isinstance(tr.action, np.ndarray) and tr.action.tolist() == [1.5] and not tr.action.flags.writeable
    vs = transition_violations(Contract(reward_range=(0, 0.1)), [0.0, 1.0], [1.0, 1.0], [3.0], 0.5, False, False,
                               obs_shape=(2,), action_space=box)
    assert [v.rule for v in vs] == ["Box.bounds", "Contract.reward_range"]
    with pytest.raises(ArgumentError, match="exactly one"):
        transition_violations(Contract(), [0.0], [0.0], 0, 0.0, False, False, obs_shape=(1,), n_actions=2,
                              action_space=box)
    # the discrete rule is unchanged, through either keyword
    assert [v.rule for v in transition_violations(Contract(), [0.0], [0.0], 5, 0.0, False, False,
                                                  obs_shape=(1,), action_space=2)] == ["Fin n_actions"]


def test_transition_and_step_hold_tensor_actions():
    t1 = Transition(observation=[0.0], action=np.array([0.25]), reward=0.0, next_observation=[1.0],
                    terminated=False, truncated=False)
    t2 = Transition(observation=[0.0], action=[0.25], reward=0.0, next_observation=[1.0], terminated=False,
                    truncated=False)
    assert t1 == t2 and t1.action.dtype == np.float64
    assert t1 != Transition(observation=[0.0], action=0, reward=0.0, next_observation=[1.0], terminated=False,
                            truncated=False)
    with pytest.raises(ArgumentError, match="action"):
        Transition(observation=[0.0], action=["a"], reward=0.0, next_observation=[1.0], terminated=False,
                   truncated=False)
    step = Step(state=[0.0], action=[3.0], old_log_prob=-1.0, reward=0.0, done=False, value=0.0, next_value=0.0,
                terminated=False)
    box = Box((1,), -2.0, 2.0)
    r = Rollout(steps=(step,), horizon=1, action_space=box)   # the recorded sample may lie outside the Box
    assert r.actions[0].tolist() == [3.0]
    with pytest.raises(ArgumentError, match="shape"):
        Rollout(steps=(step,), horizon=1, action_space=Box((2,)))
    with pytest.raises(ArgumentError, match="continuous"):
        Rollout(steps=(step,), horizon=1, n_actions=2)


# -- log-probabilities ------------------------------------------------------------------------------
@given(FINITE, st.floats(-5, 5), FINITE)
def test_log_prob_is_the_normal_density(m, ls, x):
    sigma = math.exp(ls)
    want = -((x - m) ** 2) / (2 * sigma ** 2) - math.log(sigma) - 0.5 * math.log(2 * math.pi)
    got = diag_gaussian_log_prob([m], [ls], [x])
    assert math.isclose(got, want, rel_tol=1e-9, abs_tol=1e-9)


def test_log_prob_known_values_and_left_fold():
    assert diag_gaussian_log_prob([0.0], [0.0], [0.0]) == -LOG_SQRT_2PI
    parts = [diag_gaussian_log_prob([m], [s], [x]) for m, s, x in [(0.1, -0.3, 0.7), (2.0, 0.4, -1.0), (0, 0, 3)]]
    assert diag_gaussian_log_prob([0.1, 2.0, 0], [-0.3, 0.4, 0], [0.7, -1.0, 3]) == (0.0 + parts[0] + parts[1]) + parts[2]
    assert math.isnan(diag_gaussian_log_prob([0.0], [-800.0], [0.0]))         # σ² underflows: 0/0
    assert diag_gaussian_log_prob([0.0], [-800.0], [1.0]) == -math.inf        # -1/0
    for bad in ([math.nan], [math.inf]):
        with pytest.raises(ArgumentError, match="mean"):
            diag_gaussian_log_prob(bad, [0.0], [0.0])
    with pytest.raises(ArgumentError, match="log_std has 1 entries"):
        diag_gaussian_log_prob([0.0, 0.0], [0.0], [0.0, 0.0])


@given(st.lists(st.floats(-3, 3), min_size=1, max_size=4), st.floats(-2, 1))
def test_squashed_log_prob_is_change_of_variables(us, ls):
    d = len(us)
    mu, log_std = [0.1] * d, [ls] * d
    want = diag_gaussian_log_prob(mu, log_std, us) - sum(math.log(1 - math.tanh(u) ** 2 + 1e-6) for u in us)
    assert math.isclose(squashed_log_prob(mu, log_std, us), want, rel_tol=1e-9, abs_tol=1e-9)
    assert tanh_correction(us) <= 1e-5   # log(1 - a² + ε) ≤ log(1 + ε)


# -- the sampler ---------------------------------------------------------------------------------------
def test_standard_normal_is_box_muller_over_the_stream():
    for seed, c in [(0, 0), (42, 7), (2**63, 10)]:
        u1, u2 = uniform(seed, c), uniform(seed, c + 1)
        assert standard_normal(seed, c) == math.sqrt(-2.0 * math.log(1.0 - u1)) * math.cos(2.0 * math.pi * u2)


def test_sample_advances_two_positions_per_entry_and_is_pure():
    c, x = sample_diag_gaussian(3, 10, [0.0, 1.0, -1.0], [0.0, -1.0, 0.5])
    assert c == 16
    assert x == (0.0 + 1.0 * standard_normal(3, 10), 1.0 + math.exp(-1.0) * standard_normal(3, 12),
                 -1.0 + math.exp(0.5) * standard_normal(3, 14))
    assert sample_diag_gaussian(3, 10, [0.0, 1.0, -1.0], [0.0, -1.0, 0.5]) == (c, x)


def test_normal_draws_have_unit_moments():
    zs = np.array([standard_normal(7, 2 * i) for i in range(20000)])
    assert abs(zs.mean()) < 0.05 and abs(zs.std() - 1.0) < 0.05
    assert abs(np.mean(np.abs(zs) > 1.96) - 0.05) < 0.01


def test_policy_step_conventions():
    box = Box((1,), -0.1, 0.1)
    mean, log_std = [0.0], [1.0]
    step = gaussian_policy_step(5, 0, mean, log_std, box)
    assert step.action == step.sample and step.counter == 2
    assert step.log_prob == diag_gaussian_log_prob(mean, log_std, step.action)        # of the UNclipped sample
    assert step.env_action == clip_to_box(box, step.action) and abs(step.env_action[0]) <= 0.1
    sq = gaussian_policy_step(5, 0, mean, log_std, box, squash=True)
    assert sq.action == (math.tanh(sq.sample[0]),)
    assert sq.log_prob == squashed_log_prob(mean, log_std, sq.sample)
    assert sq.env_action == unscale_action(box, sq.action)
    with pytest.raises(ArgumentError, match="bounded"):
        gaussian_policy_step(5, 0, mean, log_std, Box((1,)), squash=True)
    with pytest.raises(ArgumentError, match="mean has 2 entries"):
        gaussian_policy_step(5, 0, [0.0, 0.0], log_std, box)


def test_unscale_maps_the_unit_box_onto_the_bounds():
    box = Box((2,), [-2.0, 0.0], [2.0, 1.0])
    assert unscale_action(box, (-1.0, 1.0)) == (-2.0, 1.0)
    assert unscale_action(box, (0.0, 0.0)) == (0.0, 0.5)


@settings(max_examples=50)
@given(st.integers(0, 2**32), st.integers(0, 2**20), st.lists(st.floats(-3, 3), min_size=1, max_size=3))
def test_clipped_env_action_always_satisfies_the_box(seed, counter, mean):
    box = Box((len(mean),), -1.0, 1.0)
    for squash in (False, True):
        step = gaussian_policy_step(seed, counter, mean, [0.5] * len(mean), box, squash=squash)
        assert box_action_violations(box, list(step.env_action)) == []
