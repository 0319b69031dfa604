"""One checked session over three sources: the Gymnasium, pure spec ``Env`` and bridge-client adapters
behave alike, both ways (a good source passes; each bad contract is reported naming field and value).

The same scripted dynamics drive every adapter: observation ``[t, 0]``, reward 0.25, an episode of 6
steps; on step 2 the source does ``mode`` (a reward of 1.0, a NaN observation entry, or both done
flags). Each source records the actions it was handed, so a refused action provably never reached it.
The bridge adapter runs over an in-process stand-in client (the session only uses ``reset_raw``,
``step_raw``, ``obs_shape``, ``n_actions``/``action_space``, ``contract``, ``close``) so that Box
actions can be driven through it too; one test uses a real spawned :class:`GymnasiumClient`.
"""

from __future__ import annotations

import ast
import math
import pathlib
import subprocess
import sys
import textwrap

import gymnasium as gym
import numpy as np
import pytest
from gymnasium import spaces

from rollcheck import CheckedSession, Contract, ContractViolation
from rollcheck.impl.bridge_client import GymnasiumClient
from rollcheck.impl.bridge_session import bridge_session
from rollcheck.impl.session import BridgeSource, GymnasiumSource, SessionState, SpecEnvSource
from rollcheck.spec import Box, Env, StepResult
from rollcheck.spec.errors import ArgumentError

BOX = Box((1,), -1.0, 1.0, "float64")
GOOD_ACTION = {"discrete": 1, "box": np.array([0.5])}

CASES = {
    # name: (contract, mode, field, rule, predicate on the reported value)
    "reward_range": (Contract(reward_range=(0.0, 0.5)), "reward", "reward", "Contract.reward_range",
                     lambda v: v == 1.0),
    "nan_observation": (Contract(), "nan", "next_observation", "Contract.check_obs_finite",
                        lambda v: "nan" in str(v)),
    "both_flags": (Contract(require_exclusive_done_flags=True), "both", "terminated",
                   "Contract.require_exclusive_done_flags", lambda v: v == (True, True)),
}


def scripted_step(t: int, mode: str) -> tuple:
    """``(obs, reward, terminated, truncated)`` of step ``t + 1`` (see the module docstring)."""
    t += 1
    bad = t == 2
    obs = np.array([float(t), math.nan if bad and mode == "nan" else 0.0])
    both = bad and mode == "both"
    return obs, 1.0 if bad and mode == "reward" else 0.25, both, both or t >= 6


class ScriptedGymEnv(gym.Env):
    metadata = {"render_modes": []}

    def __init__(self, mode: str = "none", kind: str = "discrete"):
        self.mode, self.t, self.actions, self.seeds = mode, 0, [], []
        self.action_space = (spaces.Discrete(2) if kind == "discrete"
                             else spaces.Box(-1.0, 1.0, shape=(1,), dtype=np.float64))
        self.observation_space = spaces.Box(-np.inf, np.inf, shape=(2,), dtype=np.float64)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.seeds.append(seed)
        self.t = 0
        return np.zeros(2), {}

    def step(self, action):
        self.actions.append(action)
        obs, reward, te, tr = scripted_step(self.t, self.mode)
        self.t += 1
        return obs, reward, te, tr, {}


class ScriptedClient:
    """A stand-in bridge client: what :class:`BridgeSource` and ``CheckedSession.subprocess`` use."""

    def __init__(self, mode: str = "none", kind: str = "discrete", contract: "Contract | None" = None):
        self.mode, self.t, self.actions, self.seeds, self.closed = mode, 0, [], [], 0
        self.obs_shape = (2,)
        self.n_actions = 2 if kind == "discrete" else None
        self.action_space = BOX if kind == "box" else None
        self.contract = Contract() if contract is None else contract

    def reset_raw(self, seed=None):
        self.seeds.append(seed)
        self.t = 0
        return np.zeros(2)

    def step_raw(self, action):
        self.actions.append(action)
        out = scripted_step(self.t, self.mode)
        self.t += 1
        return out

    def close(self):
        self.closed += 1


class Recorded:
    """The spec ``Env`` of the script, recording the actions it is handed."""

    def __init__(self, mode: str):
        self.actions: list = []

        def observe(t):
            return np.zeros(2) if t == 0 else scripted_step(t - 1, mode)[0]

        def step(t, a):
            self.actions.append(a)
            _obs, reward, te, tr = scripted_step(t, mode)
            return StepResult(state=t + 1, reward=reward, terminated=te, truncated=tr)

        self.env = Env(initial_state=0, observe=observe, step=step)


def make_session(adapter: str, kind: str, mode: str = "none", contract: Contract = Contract(), seed=0):
    """``(session, the actions list of its source)``."""
    if adapter == "gymnasium":
        env = ScriptedGymEnv(mode, kind)
        return CheckedSession.gymnasium(env, seed=seed, contract=contract), env.actions
    if adapter == "spec_env":
        rec = Recorded(mode)
        space = {"n_actions": 2} if kind == "discrete" else {"action_space": BOX}
        return CheckedSession.of_env(rec.env, contract, obs_shape=(2,), **space), rec.actions
    client = ScriptedClient(mode, kind, contract)
    return CheckedSession.subprocess(client, seed=seed), client.actions


ADAPTERS = ["gymnasium", "spec_env", "bridge"]
KINDS = ["discrete", "box"]


def run(sess, kind, steps=8):
    s = sess.start()
    out = []
    for _ in range(steps):
        tr, s = sess.step_checked(s, GOOD_ACTION[kind])
        out.append(tr)
    return out, s


def assert_reports(violations, field, rule, value_ok):
    hits = [v for v in violations if v.field == field]
    assert hits, f"no violation of {field!r} in {[str(v) for v in violations]}"
    assert any(v.rule == rule and value_ok(v.value) for v in hits), [str(v) for v in hits]
    assert all(f'field "{field}"' in str(v) for v in hits)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("adapter", ADAPTERS)
def test_a_good_source_passes_with_the_same_semantics(adapter, kind):
    sess, actions = make_session(adapter, kind)
    trs, s = run(sess, kind)
    assert [tr.next_observation[0] for tr in trs] == [1, 2, 3, 4, 5, 6, 1, 2]
    assert [tr.observation[0] for tr in trs] == [0, 1, 2, 3, 4, 5, 0, 1]   # reset on done after step 6
    assert [tr.truncated for tr in trs] == [False] * 5 + [True, False, False]
    assert all(tr.reward == 0.25 and not tr.terminated for tr in trs)
    assert isinstance(s, SessionState) and not s.observation.flags.writeable
    assert len(actions) == 8
    if kind == "box":
        assert sess.action_space == BOX and sess.n_actions is None
        assert all(isinstance(tr.action, np.ndarray) and tr.action.tolist() == [0.5] for tr in trs)
        assert all(a is not tr.action for a, tr in zip(actions, trs))  # the source got its own copy
    else:
        assert sess.n_actions == 2 and all(tr.action == 1 for tr in trs)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize("adapter", ADAPTERS)
def test_each_bad_contract_is_reported_naming_field_and_value(adapter, case, kind):
    contract, mode, field, rule, value_ok = CASES[case]
    sess, _actions = make_session(adapter, kind, mode, contract)
    s = sess.start()
    _tr, s = sess.step_checked(s, GOOD_ACTION[kind])  # step 1 is clean
    with pytest.raises(ContractViolation) as exc:
        sess.step_checked(s, GOOD_ACTION[kind])
    assert_reports(exc.value.violations, field, rule, value_ok)


BAD_ACTIONS = {
    "discrete": [(2, "Fin n_actions", lambda v: str(v) == "2"), (np.int64(-1), "Fin n_actions", lambda v: str(v) == "-1"),
                 (True, "Fin n_actions", lambda v: str(v) == "True")],
    "box": [(np.array([1.5]), "Box.bounds", lambda v: "1.5" in str(v)),
            (np.array([math.nan]), "Box.finite", lambda v: "nan" in str(v)),
            (np.array([0.1, 0.2]), None, lambda v: "0.1" in str(v))],  # wrong shape
}


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("adapter", ADAPTERS)
def test_an_action_outside_the_space_is_refused_before_the_source_sees_it(adapter, kind):
    sess, actions = make_session(adapter, kind)
    s = sess.start()
    for action, rule, value_ok in BAD_ACTIONS[kind]:
        with pytest.raises(ContractViolation) as exc:
            sess.step_checked(s, action)
        hits = [v for v in exc.value.violations if v.field == "action"]
        assert hits and any(value_ok(v.value) and (rule is None or v.rule == rule) for v in hits), \
            [str(v) for v in exc.value.violations]
        assert actions == []
    tr, _ = sess.step_checked(s, np.int64(1) if kind == "discrete" else np.array([1.0], dtype=np.float32))
    assert (type(tr.action) is int and tr.action == 1) if kind == "discrete" else tr.action.tolist() == [1.0]
    assert len(actions) == 1


@pytest.mark.parametrize("adapter", ["gymnasium", "bridge"])
def test_seeds_as_numpy_ints_work_and_bools_are_refused(adapter):
    env = ScriptedGymEnv() if adapter == "gymnasium" else ScriptedClient()
    make = CheckedSession.gymnasium if adapter == "gymnasium" else CheckedSession.subprocess
    sess = make(env, seed=np.int64(7))
    s = sess.start()
    sess.step_checked(s, 1)
    assert env.seeds == [7] and type(env.seeds[0]) is int
    for bad in (True, np.bool_(False), -1, 1.5):
        with pytest.raises(ArgumentError, match="seed="):
            make(env, seed=bad)
    assert bridge_session(ScriptedClient(), seed=np.uint8(3)).start() is not None


def test_a_spec_env_source_takes_the_same_seeds_though_a_pure_env_ignores_them():
    rec = Recorded("none")
    sess = CheckedSession.of_source(SpecEnvSource(rec.env), obs_shape=(2,), n_actions=2, seed=np.int64(7))
    run(sess, "discrete", steps=2)
    for bad in (True, np.bool_(True), -3):
        with pytest.raises(ArgumentError, match="seed="):
            CheckedSession.of_source(SpecEnvSource(rec.env), obs_shape=(2,), n_actions=2, seed=bad)


def test_a_spec_env_session_without_reset_on_done_runs_on_and_refuses_bad_arguments():
    rec = Recorded("none")
    sess = CheckedSession.of_env(rec.env, obs_shape=(2,), n_actions=np.int64(2), reset_on_done=False)
    trs, _ = run(sess, "discrete", steps=7)
    assert [tr.next_observation[0] for tr in trs] == [1, 2, 3, 4, 5, 6, 7]  # no reset without reset_on_done
    with pytest.raises(ArgumentError, match="reset_on_done="):
        CheckedSession.of_env(rec.env, obs_shape=(2,), n_actions=2, reset_on_done=1)
    with pytest.raises(ArgumentError, match="n_actions=True"):
        CheckedSession.of_env(rec.env, obs_shape=(2,), n_actions=True)
    with pytest.raises(ArgumentError, match="env="):
        SpecEnvSource(ScriptedGymEnv())


def test_the_bridge_clients_contract_is_the_default_and_an_explicit_one_overrides_it():
    strict = Contract(reward_range=(0.0, 0.5))
    with pytest.raises(ContractViolation) as exc:
        run(CheckedSession.subprocess(ScriptedClient("reward", contract=strict), seed=0), "discrete")
    assert_reports(exc.value.violations, "reward", "Contract.reward_range", lambda v: v == 1.0)
    with pytest.raises(ContractViolation):
        run(bridge_session(ScriptedClient("reward", contract=strict), seed=0), "discrete")
    sess = CheckedSession.subprocess(ScriptedClient("reward", contract=strict), seed=0, contract=Contract())
    assert sess.contract == Contract()
    run(sess, "discrete")  # the caller's contract admits 1.0
    lenient = ScriptedClient("reward", contract=Contract())
    with pytest.raises(ContractViolation):  # and a stricter caller contract applies too
        run(bridge_session(lenient, contract=strict, seed=0), "discrete")


SCRIPTED_SERVER = textwrap.dedent('''
    import json, sys
    t = 0
    for line in sys.stdin:
        cmd = json.loads(line)["cmd"]
        if cmd == "describe":
            out = {"ok": True, "n_actions": 2, "obs_shape": [2], "obs_dtype": "float64"}
        elif cmd == "reset":
            t = 0
            out = {"ok": True, "obs": [0.0, 0.0]}
        elif cmd == "step":
            t += 1
            out = {"ok": True, "obs": [float(t), 0.0], "reward": 1.0 if t == 2 else 0.25,
                   "terminated": False, "truncated": t >= 6}
        else:
            print(json.dumps({"ok": True}), flush=True)
            break
        print(json.dumps(out), flush=True)
''')


def test_a_spawned_client_carries_its_contract_into_the_session():
    strict = Contract(reward_range=(0.0, 0.5))
    with GymnasiumClient.spawn("scripted", contract=strict, timeout=20,
                               command=[sys.executable, "-c", SCRIPTED_SERVER]) as client:
        sess = CheckedSession.subprocess(client, seed=np.int64(0))
        assert sess.contract is strict and sess.n_actions == 2
        with pytest.raises(ContractViolation) as exc:
            run(sess, "discrete")
        assert_reports(exc.value.violations, "reward", "Contract.reward_range", lambda v: v == 1.0)
        run(bridge_session(client, contract=Contract(), seed=0), "discrete")


def test_close_closes_the_source_once():
    client = ScriptedClient()
    with CheckedSession.subprocess(client, seed=0) as sess:
        sess.close()
    assert client.closed == 1


def test_of_source_takes_any_source():
    sess = CheckedSession.of_source(BridgeSource(ScriptedClient()), obs_shape=[2], n_actions=2, seed=np.int32(1))
    run(sess, "discrete")
    sess = CheckedSession.of_source(GymnasiumSource(ScriptedGymEnv(kind="box")), obs_shape=[2], action_space=BOX)
    run(sess, "box")
    with pytest.raises(ArgumentError, match="give one"):
        CheckedSession.of_source(BridgeSource(ScriptedClient()), obs_shape=[2], n_actions=2, action_space=BOX)


# ---------------------------------------------------------------------------------------------
# Import structure: no cycle between the session and the bridge, none hidden in a function
# ---------------------------------------------------------------------------------------------

IMPL = pathlib.Path(__file__).resolve().parents[2] / "impl"


def test_no_module_in_impl_imports_rollcheck_inside_a_function():
    found = []
    for path in sorted(IMPL.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                for inner in ast.walk(node):
                    if isinstance(inner, ast.ImportFrom) and (inner.level or (inner.module or "").startswith("rollcheck")):
                        found.append(f"{path.name}:{inner.lineno}")
                    elif isinstance(inner, ast.Import) and any(a.name.startswith("rollcheck") for a in inner.names):
                        found.append(f"{path.name}:{inner.lineno}")
    assert found == []


def test_the_session_module_does_not_import_the_bridge():
    code = ("import sys, rollcheck.impl.session; "
            "print(sorted(m for m in sys.modules if m.startswith('rollcheck.impl.bridge')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
