"""The bridge client against a real CartPole server and against deliberately bad servers.

Every failure must be a clear ``BridgeError`` within the timeout, and the child must be reaped.
"""

from __future__ import annotations

import gc
import json
import os
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

from rollcheck.impl import bridge_client
from rollcheck.impl.bridge_client import (BridgeContractViolation, BridgeError, BridgeHandshakeError,
                                          BridgeProtocolError, BridgeServerError, BridgeServerExited,
                                          BridgeTimeout, GymnasiumClient)
from rollcheck.spec import Contract, ContractViolation, ArgumentError

FAKE_SERVER = textwrap.dedent('''
    import json, os, signal, sys, time
    spec = json.loads(sys.argv[1])
    DEFAULTS = {
        "describe": '{"ok":true,"n_actions":2,"obs_shape":[4],"obs_dtype":"float32"}',
        "reset": '{"ok":true,"obs":[0.0,0.0,0.0,0.0]}',
        "step": '{"ok":true,"obs":[0.0,0.0,0.0,0.0],"reward":1.0,"terminated":false,"truncated":false}',
        "close": '{"ok":true}',
    }
    print("fake server starting", file=sys.stderr, flush=True)
    if spec.get("ignore_term"):
        signal.signal(signal.SIGTERM, signal.SIG_IGN)

    def act(behaviour):
        if behaviour == "@hang":
            while True:
                time.sleep(60)
        if behaviour.startswith("@exit:"):
            print("fake server exiting", file=sys.stderr, flush=True)
            sys.exit(int(behaviour[6:]))
        if behaviour.startswith("@raw:"):  # no newline: a partial line
            os.write(1, behaviour[5:].encode())
        else:
            os.write(1, behaviour.encode() + b"\\n")

    if "startup" in spec:
        act(spec["startup"])
    while True:
        line = sys.stdin.readline()
        if not line:
            break
        cmd = json.loads(line)["cmd"]
        act(spec[cmd] if cmd in spec else DEFAULTS[cmd])
        if cmd == "close" and not spec.get("ignore_term"):
            sys.exit(0)
    while spec.get("ignore_term"):
        time.sleep(60)
''')


@pytest.fixture
def spawned(monkeypatch):
    """Record every server process the client starts (to check they were reaped)."""
    procs: list[subprocess.Popen] = []
    real_popen = subprocess.Popen

    class Recorder(real_popen):  # type: ignore[misc, valid-type]
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            procs.append(self)

    monkeypatch.setattr(bridge_client.subprocess, "Popen", Recorder)
    yield procs
    for p in procs:  # never leave a child behind, even when a test fails
        if p.poll() is None:
            p.kill()
            p.wait()


@pytest.fixture
def fake(tmp_path):
    script = tmp_path / "fake_server.py"
    script.write_text(FAKE_SERVER)

    def command(**spec: object) -> list[str]:
        return [sys.executable, str(script), json.dumps(spec)]
    return command


def _assert_reaped(procs: list[subprocess.Popen]) -> None:
    assert procs, "no server was started"
    for p in procs:
        assert p.returncode is not None, "child process was not reaped"


# --- a real CartPole server --------------------------------------------------------------------

def test_real_cartpole_server_round_trip(spawned):
    with GymnasiumClient.spawn("CartPole-v1", obs_shape=[4], n_actions=2) as client:
        desc = client.describe()
        assert (desc.n_actions, desc.obs_shape.dims, desc.obs_dtype) == (2, (4,), "float32")
        obs0 = client.reset(seed=0)
        assert obs0.dtype == np.float64 and obs0.shape == (4,)
        assert np.array_equal(client.reset(seed=0), obs0)
        obs, reward, terminated, truncated = client.step(1)
        assert obs.shape == (4,) and reward == 1.0 and terminated is False and truncated is False
        batch = client.step_many([0] * 40)
        assert 1 <= len(batch) < 40 and batch.done[-1] and not batch.done[:-1].any()
        client.reset(seed=1)
        batch = client.step_many([0] * 40, reset_on_done=True)
        assert len(batch) == 40 and len(batch.reset_obs) == batch.done.sum() >= 1
        long_batch = client.step_many([0, 1] * 1500, reset_on_done=True)  # a reply of several pipe reads
        assert len(long_batch) == 3000 and long_batch.obs.shape == (3000, 4)
        with pytest.raises(ContractViolation, match="action out of range: 2"):
            client.step(2)
    _assert_reaped(spawned)
    assert spawned[0].returncode == 0  # a clean close
    with pytest.raises(BridgeError, match="closed"):
        client.step(0)
    client.close()  # idempotent


def test_scalar_observations_and_make_kwargs(spawned):
    with GymnasiumClient.spawn("FrozenLake-v1", make_kwargs={"is_slippery": False}, obs_shape=[],
                               n_actions=4) as client:
        assert client.description.obs_dtype == "int64"
        obs = client.reset(seed=0)
        assert obs.shape == () and obs == 0.0
        states = [float(client.step(a)[0]) for a in (2, 2, 1)]  # right, right, down: deterministic
        assert states == [1.0, 2.0, 6.0]
    _assert_reaped(spawned)


def test_python_dash_m_rollcheck_serve_speaks_the_protocol():
    out = subprocess.run([sys.executable, "-m", "rollcheck", "serve", "--env-id", "CartPole-v1"],
                         input=b'{"cmd":"describe"}\n{"action":0,"cmd":"step"}\n{"cmd":"close"}\n',
                         capture_output=True, timeout=30)
    lines = out.stdout.splitlines()
    assert out.returncode == 0 and len(lines) == 3
    assert json.loads(lines[0]) == {"ok": True, "n_actions": 2, "obs_shape": [4], "obs_dtype": "float32"}
    assert json.loads(lines[1])["ok"] is False and "ResetNeeded" in json.loads(lines[1])["error"]
    assert json.loads(lines[2]) == {"ok": True}


def test_server_file_runs_as_the_script_a_lean_client_spawns():
    """TorchLean's ``Client.spawn`` runs ``python3 -u <serverScript> --env-id ID`` and sorts JSON keys."""
    from rollcheck.impl import bridge_server

    requests = b'{"cmd":"describe"}\n{"cmd":"reset","seed":0}\n{"action":1,"cmd":"step"}\n{"cmd":"close"}\n'
    out = subprocess.run([sys.executable, "-u", bridge_server.__file__, "--env-id", "CartPole-v1",
                          "--make-kwargs", '{"max_episode_steps":7}'], input=requests, capture_output=True,
                         timeout=30)
    replies = [json.loads(line) for line in out.stdout.splitlines()]
    assert out.returncode == 0 and [r["ok"] for r in replies] == [True] * 4
    assert len(replies[1]["obs"]) == 4 and replies[2]["reward"] == 1.0 and replies[2]["truncated"] is False


def test_handshake_mismatch_is_refused(spawned, fake):
    with pytest.raises(BridgeHandshakeError) as info:
        GymnasiumClient.spawn("x", obs_shape=[3], n_actions=5, command=fake(), timeout=5)
    assert "obs_shape=[4], expected obs_shape=[3]" in str(info.value)
    assert "n_actions=2, expected n_actions=5" in str(info.value)
    _assert_reaped(spawned)


def test_unsupported_action_space_is_a_named_server_error(spawned):
    with pytest.raises(BridgeServerError, match="only Discrete action spaces") as info:
        GymnasiumClient.spawn("Pendulum-v1", timeout=60, grace=30)  # generous: a loaded CI machine
    assert "rollcheck serve: cannot serve env_id='Pendulum-v1'" in info.value.stderr_tail
    _assert_reaped(spawned)
    assert spawned[0].returncode == 2


# --- bad servers ---------------------------------------------------------------------------------

@pytest.mark.parametrize("spec, error, fragment", [
    ({"startup": "@exit:3"}, BridgeServerExited, "exit status 3"),
    ({"describe": "hello, I am not JSON"}, BridgeProtocolError, "not JSON"),
    ({"describe": "@raw:{\"ok\":true,"}, BridgeTimeout, "no reply to describe within timeout=1s"),
    ({"describe": "@hang"}, BridgeTimeout, "no reply to describe within timeout=1s"),
    ({"describe": '{"ok":true,"n_actions":0,"obs_shape":[4],"obs_dtype":"f"}'}, BridgeHandshakeError,
     "n_actions=0, which should be positive"),
])
def test_bad_server_fails_the_handshake_clearly_and_is_reaped(spawned, fake, spec, error, fragment):
    t0 = time.monotonic()
    with pytest.raises(error, match=fragment) as info:
        GymnasiumClient.spawn("x", obs_shape=[4], n_actions=2, command=fake(**spec), timeout=1.0, grace=0.5)
    assert time.monotonic() - t0 < 4.0
    assert "fake server starting" in info.value.stderr_tail
    _assert_reaped(spawned)


@pytest.mark.parametrize("spec, call, error, fragment", [
    ({"reset": '{"ok":true,"obs":[0.0,0.0,0.0]}'}, "reset", BridgeProtocolError, "length 3 does not match"),
    ({"step": '{"ok":true,"obs":[0,0,0,0],"reward":1.0,"terminated":"no","truncated":false}'}, "step",
     BridgeProtocolError, "'terminated': expected a JSON boolean"),
    ({"step": "@hang"}, "step", BridgeTimeout, "no reply to step within timeout=1s"),
    ({"step": "@exit:5"}, "step", BridgeServerExited, "exit status 5"),
    ({"reset": "garbage"}, "reset", BridgeProtocolError, "not JSON"),
])
def test_bad_reply_after_handshake_is_fatal_and_reaps(spawned, fake, spec, call, error, fragment):
    client = GymnasiumClient.spawn("x", obs_shape=[4], n_actions=2, command=fake(**spec), timeout=1.0, grace=0.5)
    t0 = time.monotonic()
    with pytest.raises(error, match=fragment):
        client.reset() if call == "reset" else client.step(0)
    assert time.monotonic() - t0 < 4.0
    _assert_reaped(spawned)  # reaped at once, even without close()
    with pytest.raises(BridgeError, match="closed"):
        client.reset()
    client.close()


@pytest.mark.parametrize("reward", ['"NaN"', "NaN", '"-Infinity"'])
def test_nan_reward_is_a_contract_violation(spawned, fake, reward):
    step = '{"ok":true,"obs":[0.0,0.0,0.0,0.0],"reward":%s,"terminated":false,"truncated":false}' % reward
    with GymnasiumClient.spawn("x", obs_shape=[4], n_actions=2, command=fake(step=step), timeout=2) as client:
        client.reset()
        with pytest.raises(BridgeContractViolation) as info:
            client.step(0)
        assert isinstance(info.value, ContractViolation) and isinstance(info.value, BridgeError)
        assert info.value.fields == ("reward",) and info.value.rules == ("Contract.check_reward_finite",)
        raw = client.step_raw(1)  # not fatal: the stream is intact, the raw reply is readable
        assert np.isnan(raw[1]) or np.isinf(raw[1])
    lenient = Contract(check_reward_finite=False)
    with GymnasiumClient.spawn("x", command=fake(step=step), timeout=2, contract=lenient) as client:
        assert not np.isfinite(client.step(0)[1])
    _assert_reaped(spawned)


def test_step_many_violations_name_the_step(spawned, fake):
    reply = ('{"ok":true,"obs":[[0,0,0,0],[0,0,"NaN",0]],"reward":[1.0,1.0],"terminated":[false,true],'
             '"truncated":[false,false]}')
    with GymnasiumClient.spawn("x", command=fake(step_many=reply), timeout=2) as client:
        with pytest.raises(BridgeContractViolation) as info:
            client.step_many([0, 1, 0])
        assert [(v.index, v.field) for v in info.value.violations] == [(1, "obs")]
    _assert_reaped(spawned)


def test_server_error_reply_is_not_fatal(spawned, fake):
    with GymnasiumClient.spawn("x", command=fake(step='{"ok":false,"error":"env exploded"}'), timeout=2) as client:
        with pytest.raises(BridgeServerError, match="server error on step: env exploded"):
            client.step(0)
        assert client.reset().shape == (4,)
    _assert_reaped(spawned)


def test_server_ignoring_close_and_sigterm_is_killed(spawned, fake):
    client = GymnasiumClient.spawn("x", command=fake(ignore_term=True), timeout=2, grace=0.3)
    t0 = time.monotonic()
    client.close()
    assert time.monotonic() - t0 < 3.0
    _assert_reaped(spawned)
    assert spawned[0].returncode == -9


def test_keyboard_interrupt_inside_with_reaps_the_child(spawned, fake):
    with pytest.raises(KeyboardInterrupt):
        with GymnasiumClient.spawn("x", command=fake(), timeout=2) as client:
            client.reset()
            raise KeyboardInterrupt
    _assert_reaped(spawned)


def test_forgotten_client_is_reaped_by_the_garbage_collector(spawned, fake):
    client = GymnasiumClient.spawn("x", command=fake(), timeout=2)
    del client
    gc.collect()
    _assert_reaped(spawned)


def test_bad_arguments_are_named():
    with pytest.raises(ArgumentError, match="timeout=0 should be a positive"):
        GymnasiumClient.spawn("CartPole-v1", timeout=0)
    with pytest.raises(ArgumentError, match="n_actions=0 should be at least 1"):
        GymnasiumClient.spawn("CartPole-v1", n_actions=0)
    with pytest.raises(BridgeServerExited, match="cannot start the server"):
        GymnasiumClient.spawn("x", command=["/nonexistent/server"])


# --- an environment that prints to stdout --------------------------------------------------------

PRINTY_ENV = textwrap.dedent('''
    import os, sys
    import gymnasium as gym
    from gymnasium.envs.classic_control.cartpole import CartPoleEnv

    print("printy_env: import-time noise on stdout")

    class PrintyCartPole(CartPoleEnv):
        def reset(self, **kwargs):
            print("printy_env: resetting", flush=True)
            os.write(1, b"printy_env: C-level write to fd 1\\n")
            return super().reset(**kwargs)

        def step(self, action):
            print("printy_env: step", action)
            os.write(1, b"{\\"ok\\":false,\\"error\\":\\"forged reply on fd 1\\"}\\n")
            return super().step(action)

    gym.register(id="PrintyCartPole-v0", entry_point=PrintyCartPole, max_episode_steps=500)
''')


def test_env_printing_to_stdout_cannot_corrupt_the_stream(spawned, tmp_path):
    (tmp_path / "printy_env.py").write_text(PRINTY_ENV)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), os.environ.get("PYTHONPATH", "")])}
    with GymnasiumClient.spawn("printy_env:PrintyCartPole-v0", obs_shape=[4], n_actions=2, env=env) as client:
        client.reset(seed=0)
        for _ in range(5):
            _obs, reward, _te, _tr = client.step(1)
            assert reward == 1.0
        tail = client.stderr_tail
    assert "printy_env: import-time noise" in tail and "C-level write to fd 1" in tail
    assert "forged reply on fd 1" in tail
    _assert_reaped(spawned)


def test_pin_cpu_pins_both_sides_and_restores(spawned):
    """On Linux both sides are pinned and the thread's affinity restored; elsewhere a warned no-op."""
    if hasattr(os, "sched_setaffinity"):
        before = os.sched_getaffinity(0)
        with GymnasiumClient.spawn("CartPole-v1", pin_cpu=True) as client:
            cpu = max(before)
            assert os.sched_getaffinity(0) == {cpu} and os.sched_getaffinity(client.proc.pid) == {cpu}
            client.reset(seed=0)
            client.step(0)
        assert os.sched_getaffinity(0) == before
        with pytest.raises(ArgumentError, match="pin_cpu=9999"):
            GymnasiumClient.spawn("CartPole-v1", pin_cpu=9999)
        assert os.sched_getaffinity(0) == before
    else:
        with pytest.warns(RuntimeWarning, match="pin_cpu=True ignored: CPU affinity"):
            with GymnasiumClient.spawn("CartPole-v1", pin_cpu=True) as client:
                client.reset(seed=0)
    _assert_reaped(spawned)


def test_pin_cpu_without_an_affinity_api_is_a_warned_no_op(spawned, fake, monkeypatch):
    monkeypatch.delattr(os, "sched_setaffinity", raising=False)
    with pytest.warns(RuntimeWarning, match="pin_cpu=True ignored: CPU affinity .* not available"):
        with GymnasiumClient.spawn("x", obs_shape=[4], n_actions=2, command=fake(), pin_cpu=True) as client:
            assert client.reset().shape == (4,) and client.step(1)[1] == 1.0
    with pytest.raises(ArgumentError, match="pin_cpu='yes' should be None, True or a CPU number"):
        GymnasiumClient.spawn("x", command=fake(), pin_cpu="yes")
    _assert_reaped(spawned)


# --- spinning (rollcheck.impl.bridge_io) ------------------------------------------------------------

@pytest.mark.parametrize("spin_us", [0, 5000])
def test_silent_server_times_out_within_the_deadline_while_spinning(spawned, fake, spin_us):
    client = GymnasiumClient.spawn("x", obs_shape=[4], n_actions=2, command=fake(step="@hang"), timeout=0.5,
                                   grace=0.5, spin_us=spin_us)
    t0 = time.monotonic()
    with pytest.raises(BridgeTimeout, match="no reply to step within timeout=0.5s"):
        client.step(0)
    assert 0.5 <= time.monotonic() - t0 < 2.5
    _assert_reaped(spawned)


def test_spin_budget_reaches_our_server_and_both_budgets_give_the_same_stream(spawned):
    streams = []
    for spin_us in (0, 150):
        with GymnasiumClient.spawn("CartPole-v1", obs_shape=[4], n_actions=2, spin_us=spin_us) as client:
            environ_path = f"/proc/{client.proc.pid}/environ"
            if os.path.exists(environ_path):  # where the child's environment can be inspected
                with open(environ_path, "rb") as f:
                    assert f"ROLLCHECK_BRIDGE_SPIN_US={spin_us}".encode() in f.read().split(b"\0")
            assert client.spin_us == spin_us
            client.reset(seed=3)
            streams.append([client.step(a) for a in [0, 1, 1, 0, 1] * 10])
    assert all(np.array_equal(a[0], b[0]) and a[1:] == b[1:] for a, b in zip(*streams))
    with pytest.raises(ArgumentError, match="spin_us=-1 should be an integer number of microseconds"):
        GymnasiumClient.spawn("CartPole-v1", spin_us=-1)
    _assert_reaped(spawned)


def test_serve_reports_a_bad_spin_budget_as_a_named_startup_error():
    proc = subprocess.run([sys.executable, "-m", "rollcheck", "serve", "--env-id", "CartPole-v1", "--spin-us",
                           "99999999"], input=b'{"cmd":"describe"}\n{"cmd":"close"}\n', capture_output=True,
                          timeout=60)
    first = json.loads(proc.stdout.splitlines()[0])
    assert first["ok"] is False and "--spin-us=99999999 should be an integer number of microseconds" in first["error"]
    assert proc.returncode == 2
