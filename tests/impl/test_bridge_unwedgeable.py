"""A bridge that cannot be wedged (issue 11 item 6): fake servers and hostile lines, timed.

Server side: lines are read in linear time with a maximum length, every line (blank ones
included) gets a reply, an environment's ``sys.exit`` is an error reply. Client side: ``timeout``
is a deadline for each whole reply, a reply nested too deep is a ``BridgeError``, and the server's
whole process group (grandchildren included) is reaped on close, error and garbage collection;
survivors are looked for in ``/proc`` (a zombie counts as dead: only its parent can reap it).
"""

from __future__ import annotations

import gc
import json
import os
import sys
import textwrap
import threading
import time

import gymnasium
import numpy as np
import pytest

from rollcheck.impl.bridge_client import (BridgeProtocolError, BridgeServerError, BridgeTimeout,
                                          GymnasiumClient)
from rollcheck.impl.bridge_server import EnvServer, _serve_loop, serve

pytestmark = pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="reads the bridge worker's state from Linux's /proc; the unwedgeable-bridge guarantees are Linux-only and CI runs on Linux")

FAKE_SERVER = textwrap.dedent('''
    import json, os, subprocess, sys, time
    spec = json.loads(sys.argv[1])
    if "grandchild" in spec:  # a descendant that ignores SIGTERM, as a stuck env worker would
        code = "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(600)"
        child = subprocess.Popen([sys.executable, "-c", code])
        with open(spec["grandchild"], "w") as f:
            f.write(str(child.pid))
    OK = {"describe": b'{"ok":true,"n_actions":2,"obs_shape":[2],"obs_dtype":"float32"}\\n',
          "reset": b'{"ok":true,"obs":[0.0,0.0]}\\n', "close": b'{"ok":true}\\n'}
    for line in sys.stdin:
        cmd = json.loads(line)["cmd"]
        how = spec.get(cmd, "ok")
        if how == "big":  # 65 MiB and no newline
            block = b"1" * (1 << 20)
            for _ in range(65):
                os.write(1, block)
            time.sleep(600)
        elif how == "trickle":  # one byte every 5 ms, forever
            while True:
                os.write(1, b" ")
                time.sleep(0.005)
        elif how == "deep":
            os.write(1, b"[" * 100000 + b"]" * 100000 + b"\\n")
        elif how == "garbage":
            os.write(1, b"garbage\\n")
        else:
            os.write(1, OK[cmd])
        if cmd == "close":
            break
''')


@pytest.fixture
def fake(tmp_path):
    script = tmp_path / "fake_server.py"
    script.write_text(FAKE_SERVER)
    return lambda **spec: [sys.executable, str(script), json.dumps(spec)]


def _stat(pid: int) -> "list[str] | None":
    try:
        with open(f"/proc/{pid}/stat") as f:
            text = f.read()
    except (FileNotFoundError, ProcessLookupError):
        return None
    return text.rsplit(")", 1)[1].split()  # fields after the command name: state, ppid, pgrp, session


def _alive(pid: int) -> bool:
    fields = _stat(pid)
    return fields is not None and fields[0] not in ("Z", "X")


def _group_members(pgid: int) -> list[int]:
    members = []
    for name in os.listdir("/proc"):
        if name.isdigit():
            fields = _stat(int(name))
            if fields is not None and int(fields[2]) == pgid and fields[0] not in ("Z", "X"):
                members.append(int(name))
    return members


def _assert_gone(*pids: int, within: float = 3.0) -> None:
    deadline = time.monotonic() + within
    while any(_alive(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not [p for p in pids if _alive(p)], "a server process or grandchild survived"


def _grandchild_pid(path, within: float = 5.0) -> int:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if path.exists() and path.read_text():
            return int(path.read_text())
        time.sleep(0.01)
    raise AssertionError("the fake server never started its grandchild")


# --- process groups -----------------------------------------------------------------------------

def _spawn_with_grandchild(fake, tmp_path, **spec):
    marker = tmp_path / "grandchild.pid"
    client = GymnasiumClient.spawn("x", command=fake(grandchild=str(marker), **spec), timeout=2, grace=0.3)
    grandchild = _grandchild_pid(marker)
    server = client.proc.pid
    fields = _stat(server)
    assert int(fields[2]) == server and int(fields[3]) == server  # leads its own group and session
    assert _alive(grandchild) and server in _group_members(server) and grandchild in _group_members(server)
    return client, server, grandchild


def test_close_reaps_the_whole_group_including_a_grandchild_ignoring_sigterm(fake, tmp_path):
    client, server, grandchild = _spawn_with_grandchild(fake, tmp_path)
    client.reset()
    client.close()
    assert client.proc.returncode == 0  # the server itself closed cleanly
    _assert_gone(server, grandchild)
    assert _group_members(server) == []


def test_a_fatal_reply_reaps_the_whole_group(fake, tmp_path):
    client, server, grandchild = _spawn_with_grandchild(fake, tmp_path, reset="garbage")
    with pytest.raises(BridgeProtocolError, match="not JSON"):
        client.reset()
    _assert_gone(server, grandchild)


def test_garbage_collection_reaps_the_whole_group(fake, tmp_path):
    client, server, grandchild = _spawn_with_grandchild(fake, tmp_path)
    del client
    gc.collect()
    _assert_gone(server, grandchild)


def test_keyboard_interrupt_reaps_the_whole_group(fake, tmp_path):
    with pytest.raises(KeyboardInterrupt):
        with _spawn_with_grandchild(fake, tmp_path)[0] as client:
            server, grandchild = client.proc.pid, _grandchild_pid(tmp_path / "grandchild.pid")
            raise KeyboardInterrupt
    _assert_gone(server, grandchild)


# --- the client's deadline ----------------------------------------------------------------------

def test_a_64_mib_reply_without_newline_fails_fast_and_is_bounded(fake):
    client = GymnasiumClient.spawn("x", command=fake(reset="big"), timeout=3)
    t0 = time.monotonic()
    with pytest.raises(BridgeProtocolError, match="exceeds max_reply_bytes=67108864 without a newline"):
        client.reset()
    assert time.monotonic() - t0 < 3.0 + 2.0  # before the fix: 48 s
    _assert_gone(client.proc.pid)


def test_a_smaller_reply_limit_is_honoured(fake):
    client = GymnasiumClient.spawn("x", command=fake(reset="big"), timeout=3, max_reply_bytes=1 << 20)
    with pytest.raises(BridgeProtocolError, match="max_reply_bytes=1048576"):
        client.reset()


def test_a_trickling_server_fails_at_the_deadline(fake):
    client = GymnasiumClient.spawn("x", command=fake(reset="trickle"), timeout=1)
    t0 = time.monotonic()
    with pytest.raises(BridgeTimeout, match=r"no reply to reset within timeout=1s \(only \d+ bytes"):
        client.reset()
    elapsed = time.monotonic() - t0
    assert 0.9 < elapsed < 1.0 + 2.0  # it kept receiving bytes, yet the deadline held
    _assert_gone(client.proc.pid)


def test_a_reply_nested_too_deep_is_a_bridge_error(fake):
    client = GymnasiumClient.spawn("x", command=fake(reset="deep"), timeout=5)
    with pytest.raises(BridgeProtocolError, match="nested too deep"):
        client.reset()
    _assert_gone(client.proc.pid)


# --- the server's line reader -------------------------------------------------------------------

def _run_loop(data: bytes, max_line_bytes: int, *, chunked: int = 0) -> "tuple[list[bytes], list[dict], float]":
    """Feed ``data`` to ``_serve_loop`` through a pipe; the lines it handled and every reply."""
    handled: list[bytes] = []

    def handle(line: bytes):
        handled.append(line)
        return b'{"ok":true,"n":%d}\n' % len(line), False

    in_r, in_w = os.pipe()
    out_r, out_w = os.pipe()

    def feed():
        step = chunked or len(data)
        for i in range(0, len(data), step):
            os.write(in_w, data[i:i + step])
        os.close(in_w)

    replies = bytearray()

    def drain():
        while chunk := os.read(out_r, 1 << 16):
            replies.extend(chunk)

    threads = [threading.Thread(target=feed), threading.Thread(target=drain)]
    for t in threads:
        t.start()
    t0 = time.monotonic()
    _serve_loop(handle, in_r, out_w, 0, max_line_bytes)
    elapsed = time.monotonic() - t0
    os.close(out_w)
    for t in threads:
        t.join()
    os.close(in_r)
    os.close(out_r)
    return handled, [json.loads(r) for r in bytes(replies).splitlines()], elapsed


def test_a_20_mb_request_line_is_read_in_linear_time():
    line = b'{"cmd":"describe"' + b" " * (20 << 20) + b"}"
    handled, replies, elapsed = _run_loop(line + b"\n", 32 << 20, chunked=1 << 16)
    assert handled == [line] and replies == [{"ok": True, "n": len(line)}]
    assert elapsed < 5.0  # before the fix: 11.5 s (the buffer was re-split on every read)


def test_an_overlong_line_gets_one_clear_refusal_and_the_next_line_is_served():
    long = b"x" * 5000
    for chunked in (0, 100, 4096):  # in one read, and split across many
        handled, replies, _ = _run_loop(long + b"\n" + b'{"a":1}\n' + long + b"\n", 1000, chunked=chunked)
        assert handled == [b'{"a":1}']
        assert replies[1] == {"ok": True, "n": 7}
        for r in (replies[0], replies[2]):
            assert r["ok"] is False and "longer than max_line_bytes=1000" in r["error"]
        assert len(replies) == 3


def test_blank_lines_are_answered_and_an_unterminated_last_line_too():
    handled, replies, _ = _run_loop(b'\n   \n\t\r\n{"a":1}\n{"b":2}', 1000, chunked=3)
    assert handled == [b'{"a":1}', b'{"b":2}']
    assert [r["ok"] for r in replies] == [False, False, False, True, True]
    assert all("blank request line" in r["error"] for r in replies[:3])


# --- the environment's BaseExceptions and non-finite values -------------------------------------

class _Hostile(gymnasium.Env):
    """Two actions: 0 calls ``behaviour``; 1 returns ``reward`` and ``obs``."""

    def __init__(self, behaviour=None, reward=1.0, obs=(0.0, 0.0)):
        self.action_space = gymnasium.spaces.Discrete(2)
        self.observation_space = gymnasium.spaces.Box(-np.inf, np.inf, (2,), np.float64)
        self.behaviour, self.reward, self.obs = behaviour, reward, np.array(obs)

    def reset(self, *, seed=None, options=None):
        return self.obs, {}

    def step(self, action):
        if action == 0:
            self.behaviour()
        return self.obs, self.reward, False, False, {}


class _BadStr(Exception):
    def __str__(self):
        raise RuntimeError("no")


def _raise(exc):
    def behaviour():
        raise exc
    return behaviour


@pytest.mark.parametrize("behaviour, fragment", [
    (lambda: sys.exit(0), "SystemExit: the environment called sys.exit(0)"),
    (lambda: sys.exit("bye"), "SystemExit: the environment called sys.exit('bye')"),
    (_raise(GeneratorExit()), "GeneratorExit"),
    (_raise(_BadStr()), "_BadStr: <the exception's message could not be formatted>"),
])
def test_an_environment_exiting_or_raising_any_base_exception_is_an_error_reply(behaviour, fragment):
    server = EnvServer(_Hostile(behaviour))
    reply, stop = server.handle(b'{"cmd":"step","action":0}')
    assert not stop
    obj = json.loads(reply)
    assert obj["ok"] is False and fragment in obj["error"]
    assert json.loads(server.handle(b'{"cmd":"step","action":1}')[0])["ok"] is True  # still serving


def test_keyboard_interrupt_in_the_server_is_not_swallowed():
    server = EnvServer(_Hostile(_raise(KeyboardInterrupt())))
    with pytest.raises(KeyboardInterrupt):
        server.handle(b'{"cmd":"step","action":0}')


def test_an_env_calling_sys_exit_inside_serve_is_reported_to_the_client_not_a_clean_close(tmp_path):
    (tmp_path / "exiting_env.py").write_text(textwrap.dedent('''
        import sys
        import gymnasium
        from gymnasium.envs.classic_control import CartPoleEnv
        class ExitingCartPole(CartPoleEnv):
            def step(self, action):
                sys.exit(0)
        gymnasium.register("ExitingCartPole-v0", entry_point=ExitingCartPole)
    '''))
    env = dict(os.environ, PYTHONPATH=f"{tmp_path}{os.pathsep}{os.environ.get('PYTHONPATH', '')}")
    with GymnasiumClient.spawn("exiting_env:ExitingCartPole-v0", env=env, timeout=20) as client:
        client.reset(seed=0)
        with pytest.raises(BridgeServerError, match=r"SystemExit: the environment called sys.exit\(0\)"):
            client.step(0)
        client.reset(seed=0)  # the server is still serving
    assert client.proc.returncode == 0


def test_a_factory_calling_sys_exit_is_a_startup_failure(tmp_path):
    env_id = "rollcheck-test/ExitingFactory-v0"
    gymnasium.register(env_id, entry_point=lambda: sys.exit(7))
    try:
        in_r, in_w = os.pipe()
        out_r, out_w = os.pipe()
        os.write(in_w, b'{"cmd":"describe"}\n{"cmd":"close"}\n')
        os.close(in_w)
        status = serve(env_id, in_fd=in_r, out_fd=out_w, spin_us=0)
        os.close(out_w)
        replies = [json.loads(r) for r in os.read(out_r, 1 << 16).splitlines()]
        os.close(in_r)
        os.close(out_r)
    finally:
        del gymnasium.registry[env_id]
    assert status == 2
    assert replies[0]["ok"] is False and "SystemExit: the environment called sys.exit(7)" in replies[0]["error"]
    assert replies[1] == {"ok": True}


def test_a_request_nested_too_deep_is_an_invalid_request_reply():
    reply, stop = EnvServer(_Hostile()).handle(b"[" * 100000 + b"]" * 100000)
    obj = json.loads(reply)
    assert not stop and obj["ok"] is False and obj["error"].startswith("InvalidRequest: request nested too deep")
