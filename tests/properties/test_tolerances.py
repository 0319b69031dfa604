"""Tolerances derived from the dtypes a collector produced, calibrated both ways.

A correct float32 collector (log-softmax computed in float32, values stored as float32) passes
under the derived tolerances where a fixed 1e-9 rejects it; the log-prob of the wrong action on a
near-uniform policy (CleanRL's initial policy: logits of size 0.01) is caught on at least 99% of
entries, where the arrays path's old fixed 2e-4 let 42% through.
"""

from __future__ import annotations

import numpy as np
import pytest

from rollcheck import Rollout, Step
from rollcheck.properties.collector.trace import CollectorCase, PolicySpec
from rollcheck.properties.collector.validate import check_case
from rollcheck.properties.core.tolerances import QUANTITIES, Tolerances, parse_tolerance, produced_eps
from rollcheck.spec import ArgumentError, sample_action_from_logits

EPS32, EPS64 = float(np.finfo(np.float32).eps), float(np.finfo(np.float64).eps)


def float32_collect(start, observe, step_checked, cast_obs, cast_reward, predict_logits, predict_value, rng_seed,
                    rng_counter, *, horizon, n_actions, obs_shape):
    """The seed's collector with a float32 backend: log-softmax in float32, values as float32."""
    sess, steps, counter = start(), [], rng_counter
    for _ in range(horizon):
        state = np.array(cast_obs(observe(sess)), copy=True)
        logits = predict_logits(state)
        counter, a = sample_action_from_logits(rng_seed, counter, logits)
        z = np.asarray(logits, dtype=np.float32)
        lp = (z - z.max()) - np.log(np.exp(z - z.max()).sum(dtype=np.float32))
        tr, sess = step_checked(sess, a)
        steps.append(Step(state=state, action=a, old_log_prob=float(lp[a]), reward=cast_reward(tr.reward),
                          done=tr.done, value=float(np.float32(predict_value(state))),
                          next_value=float(np.float32(predict_value(cast_obs(tr.next_observation)))),
                          terminated=tr.terminated))
    return Rollout(steps=tuple(steps), horizon=horizon), counter


FLOAT_PROPS = ["step.old_log_prob_is_log_softmax", "step.value_is_critic", "step.next_value_before_reset",
               "sample.matches_spec"]


@pytest.mark.parametrize("logits", ["normal", "shifted_up", "extreme", "near_tied"])
def test_a_correct_float32_collector_passes_with_derived_tolerances(logits):
    case = CollectorCase(obs_shape=(3,), n_actions=4, horizon=24, episodes=((5, "truncated"), (7, "terminated")),
                         cast="float32", policy=PolicySpec(logits=logits, value_scale=1000.0))
    assert check_case(float32_collect, case, only=FLOAT_PROPS) == []
    fixed = check_case(float32_collect, case, only=FLOAT_PROPS, tolerance=1e-12)
    assert fixed, "a fixed float64-sized tolerance should reject float32 numbers"


def test_wrong_log_probs_on_a_near_uniform_policy_are_caught_at_least_99_percent():
    rng = np.random.default_rng(0)
    tol = Tolerances()
    caught = total = 0
    for _ in range(200):
        z = rng.normal(0.0, 0.01, size=(64, 2)).astype(np.float32)   # CleanRL's initial actor head (std 0.01)
        lp = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
        right, wrong = lp[:, 0].astype(np.float64), lp[:, 1]          # recorded: the other action's log-prob
        scale = 1.0 + np.abs(z).max(axis=1)
        ok_right = tol.close("log_prob", right, right.astype(np.float32), produced_eps(lp), scale)
        assert ok_right.all()
        caught += int((~tol.close("log_prob", right, wrong, produced_eps(wrong), scale)).sum())
        total += 64
    assert caught / total >= 0.99, caught / total


def test_produced_dtype_is_read_from_arrays_and_from_values():
    assert produced_eps(np.zeros(3, np.float32)) == EPS32
    assert produced_eps([float(np.float32(0.1)), float(np.float32(2.7))]) == EPS32
    assert produced_eps([0.1, 2.7]) == EPS64
    assert produced_eps(np.array([1, 2])) == EPS64


def test_overrides_parse_and_bad_values_are_named():
    t = parse_tolerance(["log_prob=1e-6", "value=0.01"])
    assert t.overrides == {"log_prob": 1e-6, "value": 0.01}
    assert parse_tolerance(["1e-3"]).overrides == {q: 1e-3 for q in QUANTITIES}
    assert Tolerances.of(None).overrides == {} and Tolerances.of({"reward": 0.5}).overrides == {"reward": 0.5}
    assert bool(t.close("log_prob", 1.0, 1.0 + 5e-7, EPS64, 0.0)) and not bool(t.close("log_prob", 1.0, 1.1, EPS64, 0.0))
    assert hash(t) == hash(parse_tolerance(["value=0.01", "log_prob=1e-6"]))
    with pytest.raises(ArgumentError, match="quantity 'logprob' is unknown"):
        parse_tolerance(["logprob=1e-6"])
    with pytest.raises(ArgumentError, match="'x' is not a number"):
        parse_tolerance(["value=x"])
    with pytest.raises(ArgumentError, match="tolerance=-1.0"):
        parse_tolerance(["-1"])
    with pytest.raises(ArgumentError, match="value=2.0"):
        Tolerances({"value": 2.0})
