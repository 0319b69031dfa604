"""``collect_rollout_with`` (Lean ``collectRolloutFromGymnasium``): over the subprocess bridge it
collects the same rollout, step for step, as the in-process session on the same seeds."""

from __future__ import annotations

import gymnasium

from rollcheck.impl.bridge_client import GymnasiumClient
from rollcheck.impl.collect import collect_rollout_checked_session_with, collect_rollout_with
from rollcheck.impl.policy import MlpActorCritic
from rollcheck.impl.session import CheckedSession


def identity(x):
    return x


def test_bridge_rollout_equals_in_process_rollout():
    policy = MlpActorCritic(4, 2, seed=3)
    seen = []
    with GymnasiumClient.spawn("CartPole-v1", obs_shape=[4], n_actions=2) as client:
        bridged, c1 = collect_rollout_with(identity, identity, client, policy.predict_logits, policy.predict_value,
                                           11, 7, 5, horizon=60, on_transition=seen.append)
    with CheckedSession.gymnasium(gymnasium.make("CartPole-v1"), seed=5) as sess:
        local, c2 = collect_rollout_checked_session_with(sess, identity, identity, policy.predict_logits,
                                                         policy.predict_value, 11, 7, horizon=60)
    assert c1 == c2 == 67 and len(seen) == 60
    assert bridged == local and sum(bridged.dones) >= 1
