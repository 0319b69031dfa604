"""``bridge_session`` (TorchLean's ``Gymnasium.Session``) against in-process Gymnasium on the same seeds."""

from __future__ import annotations

import sys
import textwrap

import gymnasium as gym
import numpy as np
import pytest

from rollcheck.impl.bridge_client import GymnasiumClient
from rollcheck.impl.bridge_session import bridge_session
from rollcheck.impl.session import CheckedSession, SessionState
from rollcheck.spec import Contract, ContractViolation, ArgumentError, Transition


def in_process_transitions(seed: int, actions: list[int]) -> "tuple[list[Transition], list[np.ndarray]]":
    """The reference: gymnasium stepped in this process, reset (unseeded) after each done."""
    env = gym.make("CartPole-v1")
    obs, _ = env.reset(seed=seed)
    out, observed = [], []
    for a in actions:
        observed.append(obs)
        nxt, reward, terminated, truncated, _ = env.step(a)
        out.append(Transition(obs, a, reward, nxt, terminated, truncated))
        obs = env.reset()[0] if terminated or truncated else nxt
    env.close()
    return out, observed


@pytest.fixture(scope="module")
def client():
    with GymnasiumClient.spawn("CartPole-v1", obs_shape=[4], n_actions=2) as c:
        yield c


def test_bridge_session_equals_in_process_gymnasium(client):
    actions = np.random.default_rng(7).integers(0, 2, size=300).tolist()
    expected, expected_observed = in_process_transitions(11, actions)
    assert sum(t.done for t in expected) >= 5  # several episodes, so auto-reset is exercised
    sess_def = bridge_session(client, seed=11)
    assert isinstance(sess_def, CheckedSession) and sess_def.obs_shape.dims == (4,) and sess_def.n_actions == 2
    sess = sess_def.start()
    got = []
    for a, observed in zip(actions, expected_observed):
        assert np.array_equal(sess_def.observe(sess), observed)  # after a done: the reset observation
        tr, sess = sess_def.step_checked(sess, a)
        got.append(tr)
    assert got == expected  # bit for bit, including next_observation before the reset


def test_step_many_equals_per_step_stepping(client):
    actions = np.random.default_rng(3).integers(0, 2, size=120).tolist()
    expected, _ = in_process_transitions(5, actions)
    client.reset(seed=5)
    batch = client.step_many(actions, reset_on_done=True)
    assert np.array_equal(batch.obs, np.stack([t.next_observation for t in expected]))
    assert batch.reward.tolist() == [t.reward for t in expected]
    assert batch.terminated.tolist() == [t.terminated for t in expected]
    assert batch.truncated.tolist() == [t.truncated for t in expected]
    resets = [expected[i + 1].observation for i, t in enumerate(expected[:-1]) if t.done]
    assert np.array_equal(batch.reset_obs[:len(resets)], np.stack(resets))


def test_without_reset_on_done_the_terminal_observation_stays(client):
    sess_def = bridge_session(client, seed=0, reset_on_done=False)
    sess = sess_def.start()
    for _ in range(500):
        tr, sess = sess_def.step_checked(sess, 0)
        assert np.array_equal(sess_def.observe(sess), tr.next_observation)
        if tr.done:
            break
    assert tr.done


def test_session_state_is_read_only_and_actions_are_checked_before_sending(client):
    sess_def = bridge_session(client, seed=0)
    sess = sess_def.start()
    assert isinstance(sess, SessionState)
    with pytest.raises(ValueError):
        sess.observation[0] = 1.0
    with pytest.raises(ContractViolation, match="action out of range: 2"):
        sess_def.step_checked(sess, 2)
    tr, _ = sess_def.step_checked(sess, 1)  # the client is still in step
    assert tr.action == 1


def test_session_arguments_are_validated(client):
    with pytest.raises(ArgumentError, match="seed=-1"):
        bridge_session(client, seed=-1)
    with pytest.raises(ArgumentError, match="reset_on_done=1"):
        bridge_session(client, reset_on_done=1)
    with pytest.raises(ArgumentError, match="contract="):
        bridge_session(client, contract={"check_obs_finite": True})


NAN_SERVER = textwrap.dedent('''
    import json, sys
    replies = {
        "describe": '{"ok":true,"n_actions":2,"obs_shape":[2],"obs_dtype":"float64"}',
        "reset": '{"ok":true,"obs":[0.0,0.5]}',
        "step": '{"ok":true,"obs":[0.0,"Infinity"],"reward":"NaN","terminated":false,"truncated":false}',
        "close": '{"ok":true}',
    }
    for line in sys.stdin:
        print(replies[json.loads(line)["cmd"]], flush=True)
''')


def test_session_raises_the_spec_violations_of_a_bad_step(tmp_path):
    script = tmp_path / "nan_server.py"
    script.write_text(NAN_SERVER)
    client = GymnasiumClient.spawn("x", command=[sys.executable, str(script)], timeout=5)
    with bridge_session(client, contract=Contract(), seed=0) as sess_def:
        sess = sess_def.start()
        with pytest.raises(ContractViolation) as info:
            sess_def.step_checked(sess, 0)
        assert info.value.fields == ("reward", "next_observation")  # all violations, in Lean's order
    assert client.proc.returncode is not None  # closing the session closed the client


def test_checked_session_subprocess_constructor_is_the_bridge_session(client):
    actions = [0, 1, 1, 0, 1] * 8
    via_constructor = CheckedSession.subprocess(client, seed=5)
    sess = via_constructor.start()
    first = []
    for a in actions:
        tr, sess = via_constructor.step_checked(sess, a)
        first.append(tr)
    direct = bridge_session(client, seed=5)
    sess = direct.start()
    for a, expected in zip(actions, first):
        tr, sess = direct.step_checked(sess, a)
        assert tr == expected
