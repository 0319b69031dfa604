"""The bridge for a TorchLean program (issue 12 item 5): the server file and the non-finite policy.

TorchLean's ``Gymnasium.Client.spawn`` runs ``python3 -u <serverScript> --env-id ID [--make-kwargs
JSON]``, sends ``Json.compress`` lines (keys sorted) and reads replies with ``Boundary.parseFloat`` /
``parseTensorE``, which accept JSON numbers only. ``rollcheck serve --script-path`` names the file;
by default a reply that would carry NaN/inf is an ``ok:false`` naming the field.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import gymnasium
import numpy as np
import pytest

from rollcheck.impl import bridge_server
from rollcheck.impl.bridge_client import BridgeContractViolation, BridgeServerError, GymnasiumClient
from rollcheck.impl.bridge_server import EnvServer
from rollcheck.spec import ArgumentError


def _lean_reads(line: bytes) -> dict:
    """Parse a reply as TorchLean's client does: standard JSON, numbers where floats are expected."""
    def refuse(token):
        raise ValueError(f"Lean's Json.parse rejects the bare token {token}")
    obj = json.loads(line, parse_constant=refuse)
    assert isinstance(obj.get("ok"), bool)
    for name in ("obs", "reward"):
        if name in obj:
            leaves = np.ravel(np.array(obj[name], dtype=object))
            assert all(type(x) in (int, float) for x in leaves), f"{name} holds a non-number: {obj[name]}"
    return obj


def test_script_path_names_the_server_file_and_it_runs_as_a_lean_client_launches_it(tmp_path):
    out = subprocess.run([sys.executable, "-m", "rollcheck", "serve", "--script-path"],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0
    path = out.stdout.strip()
    assert os.path.isabs(path) and os.path.samefile(path, bridge_server.__file__)
    requests = (b'{"cmd":"describe"}\n{"cmd":"reset","seed":0}\n{"action":1,"cmd":"step"}\n'
                b'{"action":0,"cmd":"step"}\n{"cmd":"close"}\n')  # Json.compress sorts the keys
    run = subprocess.run([sys.executable, "-u", path, "--env-id", "CartPole-v1", "--make-kwargs",
                          '{"max_episode_steps":7}'], input=requests, capture_output=True, timeout=60,
                         cwd=tmp_path)  # from anywhere, as a Lean program's working directory would be
    replies = [_lean_reads(line) for line in run.stdout.splitlines()]
    assert run.returncode == 0 and [r["ok"] for r in replies] == [True] * 5
    assert replies[0] == {"ok": True, "n_actions": 2, "obs_shape": [4], "obs_dtype": "float32"}
    assert len(replies[1]["obs"]) == 4 and replies[2]["reward"] == 1.0


class _Numbers(gymnasium.Env):
    """Two actions; every step and reset returns ``obs`` and ``reward`` as given."""

    def __init__(self, obs=(0.0, 0.0), reward=1.0):
        self.action_space = gymnasium.spaces.Discrete(2)
        self.observation_space = gymnasium.spaces.Box(-np.inf, np.inf, (2,), np.float64)
        self.obs, self.reward = np.array(obs, dtype=np.float64), reward

    def reset(self, *, seed=None, options=None):
        return self.obs, {}

    def step(self, action):
        return self.obs, self.reward, False, False, {}


@pytest.mark.parametrize("obs, reward, request_line, fragment", [
    ((0.0, 0.0), float("nan"), b'{"action":0,"cmd":"step"}', "field 'reward' is NaN"),
    ((0.0, float("inf")), 1.0, b'{"cmd":"step","action":1}', "field 'obs[1]' is Infinity"),
    ((-float("inf"), 0.0), 1.0, b'{"cmd":"reset","seed":0}', "field 'obs[0]' is -Infinity"),
    ((0.0, 0.0), float("nan"), b'{"cmd":"step_many","actions":[0,1]}', "field 'reward[0]' is NaN; field 'reward[1]' is NaN"),
])
def test_by_default_a_nonfinite_reply_is_an_error_naming_the_field(obs, reward, request_line, fragment):
    reply, stop = EnvServer(_Numbers(obs, reward)).handle(request_line)
    obj = _lean_reads(reply)
    assert not stop and obj["ok"] is False
    assert obj["error"].startswith("NonFiniteValue: ") and fragment in obj["error"]
    assert "--nonfinite string" in obj["error"]


def test_the_string_encoding_is_behind_an_option_and_finite_replies_are_untouched():
    server = EnvServer(_Numbers((0.0, float("inf")), float("nan")), nonfinite="string")
    obj = json.loads(server.handle(b'{"cmd":"step","action":0}')[0])
    assert obj["ok"] is True and obj["reward"] == "NaN" and obj["obs"] == [0.0, "Infinity"]
    for policy in ("error", "string"):
        finite = EnvServer(_Numbers((-0.0, 5e-324), 1.0), nonfinite=policy)
        assert finite.handle(b'{"cmd":"step","action":0}')[0] == (
            b'{"ok":true,"obs":[-0.0,5e-324],"reward":1.0,"terminated":false,"truncated":false}\n')
    with pytest.raises(ArgumentError, match="nonfinite='nan' should be one of error, string"):
        EnvServer(_Numbers(), nonfinite="nan")


NAN_ENV = textwrap.dedent('''
    import gymnasium
    from gymnasium.envs.classic_control import CartPoleEnv
    class NaNRewardCartPole(CartPoleEnv):
        def step(self, action):
            obs, reward, terminated, truncated, info = super().step(action)
            return obs, float("nan"), terminated, truncated, info
    gymnasium.register("NaNRewardCartPole-v0", entry_point=NaNRewardCartPole)
''')


@pytest.fixture
def nan_env(tmp_path):
    (tmp_path / "nan_env.py").write_text(NAN_ENV)
    return dict(os.environ, PYTHONPATH=f"{tmp_path}{os.pathsep}{os.environ.get('PYTHONPATH', '')}")


def test_rollcheck_client_asks_for_strings_so_its_contract_judges_the_nan(nan_env):
    with GymnasiumClient.spawn("nan_env:NaNRewardCartPole-v0", env=nan_env, timeout=30) as client:
        client.reset(seed=0)
        with pytest.raises(BridgeContractViolation, match="reward"):
            client.step(0)


def test_a_plainly_launched_server_refuses_the_nan_step_by_name(nan_env):
    command = [sys.executable, "-u", bridge_server.script_path(), "--env-id", "nan_env:NaNRewardCartPole-v0"]
    with GymnasiumClient.spawn("unused", command=command, env=nan_env, timeout=30) as client:
        client.reset(seed=0)
        with pytest.raises(BridgeServerError, match="NonFiniteValue: field 'reward' is NaN"):
            client.step(0)
        client.reset(seed=0)  # an error reply, not a broken stream


def test_the_cli_rejects_an_unknown_nonfinite_policy():
    out = subprocess.run([sys.executable, "-m", "rollcheck", "serve", "--env-id", "CartPole-v1",
                          "--nonfinite", "nan"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 2 and "--nonfinite" in out.stderr and "invalid choice" in out.stderr


def test_a_client_spawned_with_a_contract_always_enforces_it():
    """TorchLean's ``Session.stepChecked`` checks ``s.client.contract``: so do rollcheck's sessions."""
    from rollcheck.impl.bridge_session import bridge_session
    from rollcheck.impl.session import CheckedSession
    from rollcheck.spec import Contract, ContractViolation

    tight = Contract(reward_range=(0.0, 0.5))  # CartPole pays 1.0 per step
    with GymnasiumClient.spawn("CartPole-v1", contract=tight, timeout=30) as client:
        client.reset(seed=0)
        with pytest.raises(ContractViolation, match="reward"):
            client.step(0)
        for session in (bridge_session(client, seed=0), CheckedSession.subprocess(client, seed=0)):
            assert session.contract is tight
            with pytest.raises(ContractViolation, match="reward"):
                session.step_checked(session.start(), 0)
