"""One bad contract through every consumer: each one reports it, naming the field and the value.

The four breaches (issue 10's "done when"): a reward outside ``Contract.reward_range``, a NaN
observation, both done flags under ``require_exclusive_done_flags``, and an action outside
``Fin n_actions``. The consumers: the in-process session (Gymnasium env and pure spec ``Env``),
the bridge session, the bridge client's own reply checks, the vectorised collector, recorded files
(JSON and npz), ``validate_arrays``, and the env fuzzer per call and per vector batch. Every
consumer judges through :mod:`rollcheck.impl.contract_judge`, so each must report the same field,
value and rule; each also passes the same data when the contract admits it (no false alarms).
"""

from __future__ import annotations

import json
import math
import sys
import textwrap

import gymnasium as gym
import numpy as np
import pytest
from gymnasium import spaces

from rollcheck import CheckedSession, Contract, ContractViolation, fuzz_env, validate_arrays, validate_rollout_file
from rollcheck.impl.bridge_client import BridgeContractViolation, GymnasiumClient
from rollcheck.impl.bridge_session import bridge_session
from rollcheck.impl.vector_collect import collect_rollout_vector_with
from rollcheck.spec import Env, StepResult

CASES = {
    # name: (contract, what the env does, the field, the rule, a predicate on the reported value)
    "reward_range": (Contract(reward_range=(0.0, 0.5)), "reward", "reward", "Contract.reward_range",
                     lambda v: v == 1.0),
    "nan_observation": (Contract(), "nan", "next_observation", "Contract.check_obs_finite",
                        lambda v: "nan" in str(v)),
    "both_flags": (Contract(require_exclusive_done_flags=True), "both", "terminated",
                   "Contract.require_exclusive_done_flags", lambda v: v == (True, True)),
}


class BadEnv(gym.Env):
    """Two actions, observation ``[t, 0]``; on step 2 it does ``mode`` (a reward of 1.0, a NaN
    observation entry, or both flags true); every other step is clean (reward 0.25)."""

    metadata = {"render_modes": []}

    def __init__(self, mode: str = "none"):
        self.mode = mode
        self.action_space = spaces.Discrete(2)
        self.observation_space = spaces.Box(-np.inf, np.inf, shape=(2,), dtype=np.float64)
        self.t = 0

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.t = 0
        return np.array([0.0, 0.0]), {}

    def step(self, action):
        assert self.action_space.contains(action), f"the env was handed action {action!r}"
        self.t += 1
        bad = self.t == 2
        obs = np.array([float(self.t), math.nan if bad and self.mode == "nan" else 0.0])
        reward = 1.0 if bad and self.mode == "reward" else 0.25
        both = bad and self.mode == "both"
        return obs, reward, both, both or self.t >= 6, {}


def spec_env(mode: str) -> Env:
    def observe(t):
        return np.array([float(t), math.nan if t == 2 and mode == "nan" else 0.0])

    def step(t, a):
        bad = t + 1 == 2
        both = bad and mode == "both"
        return StepResult(state=t + 1, reward=1.0 if bad and mode == "reward" else 0.25, terminated=both,
                          truncated=both or t + 1 >= 6)

    return Env(initial_state=0, observe=observe, step=step)


def assert_names(violations, field, rule, value_ok):
    hits = [v for v in violations if v.field.endswith(field.replace("next_observation", "obs"))
            or v.field == field]
    assert hits, f"no violation of {field!r} in {[str(v) for v in violations]}"
    assert any(v.rule == rule and value_ok(v.value) for v in hits), [str(v) for v in hits]
    assert all(field in str(v) or v.field in str(v) for v in hits)


def run_session(sess):
    s = sess.start()
    for _ in range(4):
        _tr, s = sess.step_checked(s, 1)


# ---------------------------------------------------------------------------------------------
# Sessions: in-process (Gymnasium env, pure spec Env) and over the bridge
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize("kind", ["gymnasium", "of_env"])
def test_in_process_sessions_report_the_breach(case, kind):
    contract, mode, field, rule, value_ok = CASES[case]

    def make(m):
        if kind == "gymnasium":
            return CheckedSession.gymnasium(BadEnv(m), seed=0, contract=contract)
        return CheckedSession.of_env(spec_env(m), contract, obs_shape=[2], n_actions=2)

    with pytest.raises(ContractViolation) as exc:
        run_session(make(mode))
    assert_names(exc.value.violations, field, rule, value_ok)
    run_session(make("none"))  # the same contract passes a clean env


@pytest.mark.parametrize("kind", ["gymnasium", "of_env"])
def test_in_process_sessions_refuse_an_out_of_range_action(kind):
    sess = (CheckedSession.gymnasium(BadEnv(), seed=0) if kind == "gymnasium"
            else CheckedSession.of_env(spec_env("none"), obs_shape=[2], n_actions=2))
    s = sess.start()
    with pytest.raises(ContractViolation) as exc:
        sess.step_checked(s, 2)  # BadEnv asserts if it is ever handed this action
    assert_names(exc.value.violations, "action", "Fin n_actions", lambda v: v == 2)
    sess.step_checked(s, np.int64(1))


SCRIPTED_SERVER = textwrap.dedent('''
    import json, sys
    mode = sys.argv[1]
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
            bad = t == 2
            both = bad and mode == "both"
            out = {"ok": True, "obs": [float(t), "NaN" if bad and mode == "nan" else 0.0],
                   "reward": 1.0 if bad and mode == "reward" else 0.25,
                   "terminated": both, "truncated": both or t >= 6}
        else:
            print(json.dumps({"ok": True}), flush=True)
            break
        print(json.dumps(out), flush=True)
''')


def scripted_client(mode, contract):
    return GymnasiumClient.spawn("scripted", obs_shape=[2], n_actions=2, contract=contract, timeout=20,
                                 command=[sys.executable, "-c", SCRIPTED_SERVER, mode])


@pytest.mark.parametrize("case", list(CASES))
def test_bridge_session_and_bridge_replies_report_the_breach(case):
    contract, mode, field, rule, value_ok = CASES[case]
    # The bridge session takes the contract the client was spawned with (TorchLean's s.client.contract).
    with scripted_client(mode, contract) as client:
        with pytest.raises(ContractViolation) as exc:
            run_session(bridge_session(client, seed=0))
        assert_names(exc.value.violations, field, rule, value_ok)
    with scripted_client(mode, contract) as client:
        with pytest.raises(ContractViolation) as exc:
            run_session(CheckedSession.subprocess(client, seed=np.int64(0)))
        assert_names(exc.value.violations, field, rule, value_ok)
    # The client's own reply check (GymnasiumClient.step), field named as the protocol names it.
    with scripted_client(mode, contract) as client:
        client.reset(seed=0)
        client.step(1)
        with pytest.raises(BridgeContractViolation) as exc:
            client.step(1)
        assert_names(exc.value.violations, field, rule, value_ok)
    with scripted_client("none", contract) as client:
        run_session(bridge_session(client, seed=0))


def test_bridge_session_refuses_an_out_of_range_action_before_sending_it():
    with scripted_client("none", Contract()) as client:
        sess = bridge_session(client, seed=0)
        s = sess.start()
        with pytest.raises(ContractViolation) as exc:
            sess.step_checked(s, 2)
        assert_names(exc.value.violations, "action", "Fin n_actions", lambda v: v == 2)


def test_a_caller_contract_overrides_the_clients():
    with scripted_client("reward", Contract(reward_range=(0.0, 0.5))) as client:
        run_session(bridge_session(client, contract=Contract(), seed=0))  # the caller's contract admits 1.0


# ---------------------------------------------------------------------------------------------
# The vectorised collector
# ---------------------------------------------------------------------------------------------

def uniform_logits(obs):
    return np.zeros((obs.shape[0], 2))


def zero_values(obs):
    return np.zeros(obs.shape[0])


@pytest.mark.parametrize("case", list(CASES))
def test_vector_collector_reports_the_breach(case):
    contract, mode, field, rule, value_ok = CASES[case]

    def collect(m):
        vec = gym.vector.SyncVectorEnv([lambda: BadEnv(m), lambda: BadEnv("none")])
        try:
            return collect_rollout_vector_with(vec, lambda o: o, lambda r: r, uniform_logits, zero_values,
                                               [0, 1], [0, 0], horizon=4, contract=contract, reset_seeds=[0, 1])
        finally:
            vec.close()

    with pytest.raises(ContractViolation) as exc:
        collect(mode)
    assert_names(exc.value.violations, field, rule, value_ok)
    collect("none")


# ---------------------------------------------------------------------------------------------
# Recorded files (JSON and npz) and validate_arrays
# ---------------------------------------------------------------------------------------------

def rows(mode):
    out, obs = [], [0.0, 0.0]
    for t in range(1, 5):
        bad = t == 2
        nxt = [float(t), math.nan if bad and mode == "nan" else 0.0]
        both = bad and mode == "both"
        out.append({"obs": obs, "action": 1, "reward": 1.0 if bad and mode == "reward" else 0.25,
                    "next_obs": nxt, "terminated": both, "truncated": both})
        obs = nxt
    if mode == "action":
        out[1]["action"] = 2
    return out


def write_json(path, rs):
    text = json.dumps({"transitions": rs})  # NaN as Python's bare token, which the reader accepts
    path.write_text(text)


def write_npz(path, rs):
    np.savez(path, obs=np.array([r["obs"] for r in rs]), actions=np.array([r["action"] for r in rs]),
             rewards=np.array([r["reward"] for r in rs]), terminated=np.array([r["terminated"] for r in rs]),
             truncated=np.array([r["truncated"] for r in rs]), next_obs=np.array([r["next_obs"] for r in rs]))


RECORDED = dict(CASES, action=(Contract(), "action", "action", "Fin n_actions", lambda v: v == 2))


def _recorded_findings(report):
    return [(f.context.get("field"), f.context.get("rule"), f.actual, f.message)
            for r in report.results for f in r.findings]


@pytest.mark.parametrize("fmt", ["json", "npz"])
@pytest.mark.parametrize("case", list(RECORDED))
def test_recorded_files_report_the_breach(tmp_path, fmt, case):
    contract, mode, field, rule, value_ok = RECORDED[case]
    path = tmp_path / f"rollout.{fmt}"
    (write_json if fmt == "json" else write_npz)(path, rows(mode))
    report = validate_rollout_file(path, obs_shape=[2], n_actions=2, contract=contract)
    found = _recorded_findings(report)
    fields = {"next_observation": ("next_obs", "next_observation"), "action": ("action", "actions"),
              "reward": ("reward", "rewards"), "terminated": ("terminated",)}[field]
    if fmt == "json" and mode == "nan":  # JSON has no NaN number: the reader names the token (Boundary.Json)
        rule, value_ok = "Boundary.Json", (lambda v: "NaN" in str(v))
    assert any(f in fields and r == rule and value_ok(a) and "transition 1" in m for f, r, a, m in found), found
    clean = tmp_path / f"clean.{fmt}"
    (write_json if fmt == "json" else write_npz)(clean, rows("none"))
    assert not _recorded_findings(validate_rollout_file(clean, obs_shape=[2], n_actions=2, contract=contract))


def buffer(mode, t_len=4, n_env=2):
    """A CleanRL-style buffer (T, N) whose env 1 holds the breach at step 2."""
    obs = np.zeros((t_len, n_env, 2))
    obs[:, :, 0] = np.arange(t_len)[:, None]
    rewards = np.full((t_len, n_env), 0.25)
    actions = np.ones((t_len, n_env), dtype=np.int64)
    if mode == "nan":
        obs[2, 1, 1] = math.nan
    if mode == "reward":
        rewards[2, 1] = 1.0
    if mode == "action":
        actions[2, 1] = 2
    return {"obs": obs, "actions": actions, "rewards": rewards, "dones": np.zeros((t_len, n_env), bool),
            "logprobs": np.full((t_len, n_env), -math.log(2)), "values": np.zeros((t_len, n_env))}


ARRAYS = {"reward_range": (Contract(reward_range=(0.0, 0.5)), "reward", "arrays.contract", "reward", lambda v: v == 1.0),
          "nan_observation": (Contract(), "nan", "arrays.contract", "obs", lambda v: "nan" in str(v)),
          "action": (Contract(), "action", "arrays.shapes", None, None)}


@pytest.mark.parametrize("case", list(ARRAYS))
def test_validate_arrays_reports_the_breach(case):
    # A buffer holds no terminated/truncated pair per step (CleanRL keeps `dones` only), so the
    # exclusive-flags rule has nothing to judge there.
    contract, mode, pid, field, value_ok = ARRAYS[case]
    report = validate_arrays(buffer(mode), n_actions=2, contract=contract)
    findings = report.result(pid).findings
    assert findings, [(r.id, r.findings) for r in report.results]
    if field is not None:
        assert any(f.context.get("field") == field and value_ok(f.actual) and "step 2, env 1" in f.message
                   for f in findings), [f.message for f in findings]
    else:
        assert any("2" in f.message and "Fin 2" in f.message for f in findings), [f.message for f in findings]
    assert not validate_arrays(buffer("none"), n_actions=2, contract=contract).result(pid).findings


# ---------------------------------------------------------------------------------------------
# The env fuzzer, per call and per vector batch
# ---------------------------------------------------------------------------------------------

FUZZ = {"reward_range": ("numerics.reward", "vector.batch_in_space", "Contract.reward_range", "1.0"),
        "nan_observation": ("numerics.observation_finite", "vector.batch_in_space", "Contract.check_obs_finite", "nan"),
        "both_flags": ("numerics.done_flags", None, "Contract.require_exclusive_done_flags", "both")}


@pytest.mark.parametrize("case", list(FUZZ))
def test_env_fuzzer_reports_the_breach_per_call_and_per_vector_batch(case):
    contract, mode, *_ = CASES[case]
    call_pid, vector_pid, rule, word = FUZZ[case]
    report = fuzz_env(lambda: BadEnv(mode), contract=contract, max_examples=5, max_steps=8, seed=0,
                      vector=2 if vector_pid else None)
    msgs = " | ".join(f.message for f in report.result(call_pid).findings)
    assert rule in msgs and word in msgs.lower(), msgs
    if vector_pid:  # the batch's first problem: a NaN is also outside the Box, which is judged first
        vmsgs = " | ".join(f.message for f in report.result(vector_pid).findings)
        assert (rule in vmsgs or mode == "nan") and word in vmsgs.lower(), vmsgs
    clean = fuzz_env(lambda: BadEnv("none"), contract=contract, max_examples=5, max_steps=8, seed=0,
                     vector=2 if vector_pid else None)
    assert not clean.result(call_pid).findings
    if vector_pid:
        assert not clean.result(vector_pid).findings
