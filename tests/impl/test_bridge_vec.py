"""The ``vec_reset``/``vec_step`` extension: N sub-envs, policy in the loop, equal to N in-process envs."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

from rollcheck.impl.bridge_client import BridgeServerError, GymnasiumClient
from rollcheck.impl.bridge_server import EnvServer
from rollcheck.spec import Contract, ContractViolation, ArgumentError


def policy(obs: np.ndarray, t: int) -> list[int]:
    """A batched policy that reads every observation: push toward the pole's lean, sometimes not."""
    return [int((row[2] > 0) != ((t + i) % 7 == 0)) for i, row in enumerate(obs)]


def in_process(num_envs: int, seed: int, steps: int):
    envs = [gym.make("CartPole-v1") for _ in range(num_envs)]
    obs = np.stack([e.reset(seed=seed + i)[0] for i, e in enumerate(envs)]).astype(np.float64)
    first, records = obs.copy(), []
    for t in range(steps):
        acts = policy(obs, t)
        nxt, rewards, te, tr, resets = [], [], [], [], []
        for e, a in zip(envs, acts):
            o, r, a_te, a_tr, _ = e.step(a)
            nxt.append(o), rewards.append(r), te.append(a_te), tr.append(a_tr)
            if a_te or a_tr:
                resets.append(e.reset()[0])
        nxt = np.array(nxt, dtype=np.float64)
        records.append((nxt, rewards, te, tr, np.array(resets, dtype=np.float64).reshape(-1, 4)))
        obs = nxt.copy()
        obs[np.logical_or(te, tr)] = records[-1][4]
    return first, records


@pytest.fixture(scope="module")
def client():
    with GymnasiumClient.spawn("CartPole-v1", obs_shape=[4], n_actions=2) as c:
        yield c


def test_vec_step_equals_n_in_process_envs_with_the_policy_in_the_loop(client):
    first, expected = in_process(4, 21, 150)
    obs = client.vec_reset(4, seed=21)
    assert client.num_envs == 4 and np.array_equal(obs, first)
    dones = 0
    for t, (nxt, rewards, te, tr, resets) in enumerate(expected):
        batch = client.vec_step(policy(obs, t))
        assert np.array_equal(batch.obs, nxt) and batch.reward.tolist() == rewards
        assert batch.terminated.tolist() == te and batch.truncated.tolist() == tr
        assert np.array_equal(batch.reset_obs, resets)
        dones += int(batch.done.sum())
        obs = batch.obs.copy()
        obs[batch.done] = batch.reset_obs
    assert dones >= 4  # auto-resets were exercised


def test_the_four_commands_still_work_alongside_the_sub_envs(client):
    client.vec_reset(2, seed=0)
    assert np.array_equal(client.reset(seed=0), gym.make("CartPole-v1").reset(seed=0)[0])
    assert client.step(1)[1] == 1.0
    assert len(client.vec_step([0, 1])) == 2
    assert client.vec_reset(3).shape == (3, 4) and len(client.vec_step([1, 1, 0])) == 3  # resized


def test_bad_vec_requests_are_named(client):
    client.vec_reset(2)
    with pytest.raises(ArgumentError, match="actions has 3 actions, expected one per sub-env"):
        client.vec_step([0, 1, 0])
    with pytest.raises(ArgumentError, match=r"actions\[1\]=2 should be in \[0, 2\)"):
        client.vec_step([0, 2])
    with pytest.raises(ArgumentError, match="num_envs=0 should be at least 1"):
        client.vec_reset(0)
    server = EnvServer(gym.make("CartPole-v1"))  # in-process: what the server says to other clients
    assert b"needs a server started from an env id" in server.handle(b'{"cmd":"vec_reset","num_envs":2}')[0]
    server = EnvServer(gym.make("CartPole-v1"), make_env=lambda: gym.make("CartPole-v1"))
    assert b"send vec_reset first" in server.handle(b'{"cmd":"vec_step","actions":[0]}')[0]
    assert b"'num_envs'=0 should be an integer" in server.handle(b'{"cmd":"vec_reset","num_envs":0}')[0]
    assert b"requires field 'num_envs'" in server.handle(b'{"cmd":"vec_reset"}')[0]
    server.handle(b'{"cmd":"vec_reset","num_envs":2,"seed":1}')
    assert b"has 1 actions for 2 sub-environments" in server.handle(b'{"cmd":"vec_step","actions":[0]}')[0]
    server.close_vec_envs()
    assert server.vec_envs == []


def test_vec_step_before_vec_reset_is_a_server_error_not_fatal():
    with GymnasiumClient.spawn("CartPole-v1", obs_shape=[4], n_actions=2) as c:
        c.num_envs = 2  # pretend, so the request reaches the server
        with pytest.raises(BridgeServerError, match="send vec_reset first"):
            c.vec_step([0, 1])
        assert c.vec_reset(2).shape == (2, 4)


def test_sub_env_contract_violations_name_the_index():
    with GymnasiumClient.spawn("CartPole-v1", obs_shape=[4], n_actions=2,
                               contract=Contract(obs_range=(-0.3, 0.3))) as c:
        assert c.vec_reset(3, seed=0).shape == (3, 4)  # CartPole starts within +-0.05
        with pytest.raises(ContractViolation) as info:
            for _ in range(50):
                c.vec_step([1, 1, 1])  # the cart speeds up past 0.3
        assert {v.index for v in info.value.violations} <= {0, 1, 2} and info.value.violations
        assert all(v.rule == "Contract.obs_range" for v in info.value.violations)
    with GymnasiumClient.spawn("CartPole-v1", obs_shape=[4], n_actions=2,
                               contract=Contract(obs_range=(-0.001, 0.001))) as c:
        with pytest.raises(ContractViolation) as info:
            c.vec_reset(3, seed=0)
        assert {v.index for v in info.value.violations} == {0, 1, 2}
