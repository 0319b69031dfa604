"""The reference collector runs TorchLean's collect loop: the "done when" test of issue 12.

``rollcheck collect CartPole-v1`` (the CLI, in-process) and the Python collectors are compared
with ``torchlean_transcription.collectRolloutFromGymnasiumEnv``, an independent transcription of
``collectRolloutFromCallbacks`` over ``CheckedSession.gymnasium (seed? := some resetSeed)
(resetOnDone := true)``: the same action sequence, and (through the Python API) every ``Step``
field bit for bit, for a fixed linear policy and for the CLI's MLP.
"""

from __future__ import annotations

import json
import math

import gymnasium
import numpy as np
import pytest

import torchlean_transcription as T
from rollcheck import CheckedSession, MlpActorCritic, collect, collect_rollout_checked_session_with
from rollcheck.cli import main

W = np.array([[0.3, -1.2, 2.5, 0.7], [-0.4, 0.9, -2.1, -0.2]])
B = np.array([0.05, -0.05])


def linear_logits(obs):
    return W @ np.asarray(obs, dtype=np.float64) + B


def linear_value(obs):
    return float(np.asarray(obs, dtype=np.float64) @ np.array([0.1, 0.2, -0.3, 0.4]))


def same(a: float, b: float) -> bool:
    return (math.isnan(a) and math.isnan(b)) or (a == b and math.copysign(1.0, a) == math.copysign(1.0, b))


@pytest.mark.parametrize("generation, log_prob", [("callbacks", "actionLogSoftmax"),
                                                  ("seed_api", "actionLogProbability")])
def test_linear_policy_rollout_equals_the_transcribed_loop_field_by_field(generation, log_prob):
    horizon, seed, counter, reset_seed = 300, 11, 2**64 - 40, 5  # the counter wraps mid-rollout
    with CheckedSession.gymnasium(gymnasium.make("CartPole-v1"), seed=reset_seed) as sess:
        rollout, out = collect_rollout_checked_session_with(sess, lambda o: o, lambda r: r, linear_logits,
                                                            linear_value, seed, counter, horizon=horizon,
                                                            generation=generation)
    env = gymnasium.make("CartPole-v1")
    steps, ref_out = T.collectRolloutFromGymnasiumEnv(env, reset_seed, linear_logits, linear_value, seed, counter,
                                                      horizon, log_prob)
    env.close()
    assert out == ref_out == counter + horizon
    assert sum(s["done"] for s in steps) >= 3  # several episodes: the reset-on-done path is exercised
    for got, ref in zip(rollout.steps, steps):
        assert got.action == ref["action"] and got.done == ref["done"] and got.terminated == ref["terminated"]
        assert np.array_equal(got.state, ref["state"])
        for mine, theirs in (("old_log_prob", "oldLogProb"), ("reward", "reward"), ("value", "value"),
                             ("next_value", "nextValue")):
            assert same(getattr(got, mine), ref[theirs]), (mine, getattr(got, mine), ref[theirs])


def test_a_different_rng_seed_changes_the_actions():
    """The comparison above could not pass with a sampler that ignored the stream."""
    env = gymnasium.make("CartPole-v1")
    a = [s["action"] for s in T.collectRolloutFromGymnasiumEnv(env, 5, linear_logits, linear_value, 11, 0, 100)[0]]
    b = [s["action"] for s in T.collectRolloutFromGymnasiumEnv(env, 5, linear_logits, linear_value, 12, 0, 100)[0]]
    env.close()
    assert a != b


@pytest.mark.parametrize("policy", ["mlp", "random"])
def test_rollcheck_collect_cartpole_yields_the_transcribed_loops_actions(tmp_path, policy):
    horizon, seed, counter = 250, 3, 17
    assert main(["collect", "CartPole-v1", "--horizon", str(horizon), "--seed", str(seed), "--counter", str(counter),
                 "--policy", policy, "--out", str(tmp_path)]) == 0
    (path,) = tmp_path.glob(f"collect-CartPole-v1-{seed}-*.rollout.json")   # the name ends in an options digest
    doc = json.loads(path.read_text())
    cli_actions = [t["action"] for t in doc["transitions"]]
    if policy == "mlp":   # the CLI's policy: the numpy MLP seeded from --seed (a fixed function of obs)
        net = MlpActorCritic(4, 2, seed=seed)
        logits, value = net.predict_logits, net.predict_value
    else:                 # the uniform policy: constant logits [0, 0]
        logits, value = (lambda o: np.zeros(2)), (lambda o: 0.0)
    env = gymnasium.make("CartPole-v1")
    steps, _ = T.collectRolloutFromGymnasiumEnv(env, seed, logits, value, seed, counter, horizon)
    env.close()
    assert cli_actions == [s["action"] for s in steps]


def test_collect_is_torchleans_newest_name_for_the_session_collector():
    assert collect is collect_rollout_checked_session_with
