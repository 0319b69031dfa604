"""The bridge wire protocol: exact round trips, strict decoding, server request handling (in-process)."""

from __future__ import annotations

import json
import math
import re

import gymnasium as gym
import numpy as np
import pytest
from hypothesis import given, strategies as st
from hypothesis.extra.numpy import arrays

from rollcheck.impl.bridge_client import check_step_reply
from rollcheck.impl.bridge_protocol import (BridgeProtocolError, BridgeServerError, decode_describe_reply,
                                            decode_reset_reply, decode_step_many_reply,
                                            decode_step_reply, encode_float, encode_tensor)
from rollcheck.impl.bridge_server import EnvServer
from rollcheck.spec import Contract, ContractViolation, Shape, transition_violations

any_float = st.floats(allow_nan=True, allow_infinity=True, allow_subnormal=True, width=64)
special = st.sampled_from([math.nan, math.inf, -math.inf, -0.0, 0.0, 5e-324, -5e-324, 2.2250738585072014e-308,
                           1.7976931348623157e308])
floats = st.one_of(special, any_float)
shapes = st.lists(st.integers(0, 3), min_size=0, max_size=3).map(tuple)


def _strict_json(line: bytes) -> object:
    def reject(token: str) -> None:
        raise ValueError(f"non-standard token {token}")
    return json.loads(line, parse_constant=reject)


def _same_bits(a: np.ndarray, b: np.ndarray) -> bool:
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return a.shape == b.shape and (np.isnan(a) == np.isnan(b)).all() and (
        a[~np.isnan(a)].tobytes() == b[~np.isnan(b)].tobytes())


@given(shape=shapes, data=st.data())
def test_observations_round_trip_exactly(shape, data):
    obs = data.draw(arrays(np.float64, shape, elements=floats))
    line = b'{"ok":true,"obs":%s}' % encode_tensor(obs).encode()
    _strict_json(line)  # standard JSON: no bare NaN/Infinity tokens
    decoded = decode_reset_reply(line, Shape(shape))
    assert decoded.dtype == np.float64
    assert _same_bits(decoded, obs)  # NaN stays NaN, -0.0 keeps its sign, subnormals are exact


@given(obs=arrays(np.float32, (4,), elements=st.floats(width=32, allow_nan=True, allow_infinity=True)),
       reward=floats, terminated=st.booleans(), truncated=st.booleans())
def test_step_reply_round_trips_float32_observations(obs, reward, terminated, truncated):
    line = ('{"ok":true,"obs":%s,"reward":%s,"terminated":%s,"truncated":%s}' % (
        encode_tensor(obs), encode_float(reward), json.dumps(terminated), json.dumps(truncated))).encode()
    _strict_json(line)
    got_obs, got_reward, got_te, got_tr = decode_step_reply(line, Shape((4,)))
    assert _same_bits(got_obs, obs.astype(np.float64))
    assert _same_bits(np.array(got_reward), np.array(reward))
    assert (got_te, got_tr) == (terminated, truncated)


JSON_NUMBER = re.compile(r"-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?")


@given(floats)
def test_every_float_is_a_json_number_or_a_lean_non_finite_string(x):
    text = encode_float(x)
    assert JSON_NUMBER.fullmatch(text) or text in ('"NaN"', '"Infinity"', '"-Infinity"'), text
    assert JSON_NUMBER.fullmatch(text) is None or float(text) == x and math.copysign(1, float(text)) == math.copysign(1, x)


numbers = st.one_of(floats, st.integers(-2**70, 2**70), st.just(10**400))
leaves = st.one_of(numbers, st.booleans(), st.none(), st.sampled_from(["NaN", "Infinity", "-Infinity", "nan", "1.0"]))


def _nested(shape: tuple, leaf):
    strategy = leaf
    for n in reversed(shape):
        strategy = st.lists(strategy, min_size=max(0, n - 1), max_size=n + 1)
    return strategy


@given(shape=st.lists(st.integers(0, 3), min_size=0, max_size=3).map(tuple), data=st.data())
def test_decode_tensor_fast_path_agrees_with_the_element_by_element_oracle(shape, data):
    from rollcheck.impl.bridge_protocol import _flatten, decode_tensor

    value = data.draw(_nested(shape, numbers if data.draw(st.booleans()) else leaves))
    expected_problems: list[str] = []
    flat: list[float] = []
    _flatten(value, shape, 0, "obs", flat, expected_problems)
    problems: list[str] = []
    got = decode_tensor(value, Shape(shape), "obs", problems)
    assert bool(problems) == bool(expected_problems), (problems, expected_problems)
    if not problems:
        assert _same_bits(got, np.array(flat, dtype=np.float64).reshape(shape))


def test_non_finite_spelling_and_bare_tokens():
    assert [encode_float(x) for x in (math.nan, math.inf, -math.inf, -0.0)] == [
        '"NaN"', '"Infinity"', '"-Infinity"', "-0.0"]
    # Python's json.dumps (TorchLean's reference server) writes bare tokens: decoded too
    obs, reward, _, _ = decode_step_reply(b'{"ok":true,"obs":[NaN,-Infinity],"reward":Infinity,'
                                          b'"terminated":false,"truncated":false}', Shape((2,)))
    assert math.isnan(obs[0]) and obs[1] == -math.inf and reward == math.inf


def test_integer_observations_are_sent_as_json_numbers():
    assert encode_tensor(np.array([[1, 2], [3, 4]], dtype=np.int64)) == "[[1,2],[3,4]]"
    assert encode_tensor(np.int64(7)) == "7"
    assert encode_tensor(np.array([True, False])) == "[1,0]"
    with pytest.raises(TypeError, match="dtype object"):
        encode_tensor(np.array([None]))


@pytest.mark.parametrize("line, fragment", [
    (b"not json", "not JSON"),
    (b"[1,2]", "expected a JSON object"),
    (b'{"obs":[1.0]}', "field 'ok'"),
    (b'{"ok":1,"obs":[1.0]}', "field 'ok' is 1"),
    (b'{"ok":true,"reward":1.0,"terminated":false,"truncated":false}', "missing field 'obs'"),
    (b'{"ok":true,"obs":[1.0],"reward":1.0,"terminated":false,"truncated":false}', "length 1 does not match"),
    (b'{"ok":true,"obs":[1.0,"nan"],"reward":1.0,"terminated":false,"truncated":false}', "obs[1]"),
    (b'{"ok":true,"obs":[1.0,true],"reward":1.0,"terminated":false,"truncated":false}', "obs[1]"),
    (b'{"ok":true,"obs":[1.0,2.0],"reward":true,"terminated":false,"truncated":false}', "field 'reward'"),
    (b'{"ok":true,"obs":[1.0,2.0],"reward":"1.0","terminated":false,"truncated":false}', "field 'reward'"),
    (b'{"ok":true,"obs":[1.0,2.0],"reward":1.0,"terminated":0,"truncated":false}', "field 'terminated'"),
    (b'{"ok":true,"obs":[[1.0],[2.0]],"reward":1.0,"terminated":false,"truncated":"no"}', "obs[0]"),
])
def test_bad_step_replies_name_the_field(line, fragment):
    with pytest.raises(BridgeProtocolError, match=re.escape(fragment)):
        decode_step_reply(line, Shape((2,)))


def test_every_problem_of_a_reply_is_reported():
    line = b'{"ok":true,"obs":[1.0,"x"],"reward":null,"terminated":1,"truncated":"no"}'
    with pytest.raises(BridgeProtocolError) as info:
        decode_step_reply(line, Shape((2,)))
    for field in ("obs[1]", "'reward'", "'terminated'", "'truncated'"):
        assert field in str(info.value)


def test_ok_false_is_a_server_error_and_must_carry_a_string():
    with pytest.raises(BridgeServerError, match="boom"):
        decode_reset_reply(b'{"ok":false,"error":"boom"}', Shape((1,)))
    with pytest.raises(BridgeProtocolError, match="field 'error'"):
        decode_reset_reply(b'{"ok":false,"error":3}', Shape((1,)))


def test_describe_reply_is_strict():
    d = decode_describe_reply(b'{"ok":true,"n_actions":2,"obs_shape":[4],"obs_dtype":"float32"}')
    assert (d.n_actions, d.obs_shape, d.obs_dtype) == (2, Shape((4,)), "float32")
    with pytest.raises(BridgeProtocolError) as info:
        decode_describe_reply(b'{"ok":true,"n_actions":true,"obs_shape":[-1],"obs_dtype":"f"}')
    assert "'n_actions': expected a non-negative integer, got True" in str(info.value)
    assert "'obs_shape[0]': expected a non-negative integer, got -1" in str(info.value)
    with pytest.raises(BridgeProtocolError, match="missing field 'obs_dtype'"):
        decode_describe_reply(b'{"ok":true,"n_actions":2,"obs_shape":[4]}')


def test_step_many_reply_shape_rules():
    ok = b'{"ok":true,"obs":[[1.0],[2.0]],"reward":[1.0,1.0],"terminated":[false,true],"truncated":[false,false]}'
    batch = decode_step_many_reply(ok, Shape((1,)), 5)
    assert len(batch) == 2 and batch.done.tolist() == [False, True]
    early_done = ok.replace(b"[false,true]", b"[true,false]")
    with pytest.raises(BridgeProtocolError, match="done at step 0"):
        decode_step_many_reply(early_done, Shape((1,)), 5)
    no_done = ok.replace(b"[false,true]", b"[false,false]")
    with pytest.raises(BridgeProtocolError, match="only 2 of 5"):
        decode_step_many_reply(no_done, Shape((1,)), 5)
    with_resets = ok[:-1] + b',"reset_obs":[[0.5]]}'
    assert decode_step_many_reply(with_resets, Shape((1,)), 2, reset_on_done=True).reset_obs.tolist() == [[0.5]]
    with pytest.raises(BridgeProtocolError, match="reset_obs"):
        decode_step_many_reply(ok, Shape((1,)), 2, reset_on_done=True)



def test_step_many_reward_too_large_for_a_float_is_named():
    # JSON integers are unbounded; like decode_step_reply, step_many must name the field, not crash
    # with numpy's OverflowError when the column is converted to float64.
    big = b"1" + b"0" * 400
    line = (b'{"ok":true,"obs":[[1.0],[2.0]],"reward":[1.0,' + big
            + b'],"terminated":[false,true],"truncated":[false,false]}')
    with pytest.raises(BridgeProtocolError, match=re.escape("field 'reward[1]'") + ".*too large for a float"):
        decode_step_many_reply(line, Shape((1,)), 2)
    with pytest.raises(BridgeProtocolError, match="too large for a float"):
        decode_step_reply(b'{"ok":true,"obs":[1.0],"reward":' + big + b',"terminated":false,"truncated":false}',
                          Shape((1,)))

# --- the client's fast contract check agrees with the spec -------------------------------------

contracts = st.builds(Contract, check_obs_finite=st.booleans(), check_reward_finite=st.booleans(),
                      obs_range=st.none() | st.just((-1.0, 1.0)), reward_range=st.none() | st.just((0.0, 1.0)),
                      require_exclusive_done_flags=st.booleans())


@given(contract=contracts, obs=arrays(np.float64, (3,), elements=floats), reward=floats,
       terminated=st.booleans(), truncated=st.booleans())
def test_client_contract_check_agrees_with_spec(contract, obs, reward, terminated, truncated):
    expected = transition_violations(contract, obs, obs, 0, reward, terminated, truncated,
                                     obs_shape=Shape((3,)), n_actions=1)
    expected = [v for v in expected if v.field != "observation"]  # the step reply has one observation
    try:
        check_step_reply(contract, Shape((3,)), obs, reward, terminated, truncated)
    except ContractViolation as exc:
        assert expected, f"rejected what the spec accepts: {exc}"
        assert sorted(v.rule for v in exc.violations) == sorted(v.rule for v in expected)
    else:
        assert not expected, f"accepted what the spec rejects: {expected}"


# --- the server's request handling, in-process -------------------------------------------------

@pytest.fixture
def server():
    env = gym.make("CartPole-v1")
    yield EnvServer(env)
    env.close()


def _reply(server: EnvServer, line: bytes) -> dict:
    out, _stop = server.handle(line)
    assert out.endswith(b"\n") and out.count(b"\n") == 1
    return _strict_json(out)


def test_server_answers_the_four_commands(server):
    assert _reply(server, b'{"cmd":"describe"}') == {"ok": True, "n_actions": 2, "obs_shape": [4],
                                                       "obs_dtype": "float32"}
    first = _reply(server, b'{"cmd":"reset","seed":3}')["obs"]
    assert _reply(server, b'{"seed":3,"cmd":"reset"}')["obs"] == first  # Lean sorts keys
    for line in (b'{"cmd":"step","action":1}', b'{"action":1,"cmd":"step"}', b'{"cmd": "step", "action": 0}',
                 b' {"cmd":"step","action":1.0} '):
        reply = _reply(server, line)
        assert set(reply) == {"ok", "obs", "reward", "terminated", "truncated"} and reply["reward"] == 1.0
    assert server.handle(b'{"cmd":"close"}') == (b'{"ok":true}\n', True)


@pytest.mark.parametrize("line, fragment", [
    (b'{"cmd":"step","action":2}', "'action'=2 should be in [0, 2)"),
    (b'{"cmd":"step","action":-1}', "'action'=-1"),
    (b'{"cmd":"step","action":true}', "'action'=True should be an integer"),
    (b'{"cmd":"step"}', "requires field 'action'"),
    (b'{"cmd":"reset","seed":-4}', "'seed'=-4"),
    (b'{"cmd":"reset","seed":"x"}', "'seed'='x'"),
    (b'{"cmd":"reset","options":{}}', "unknown field(s) 'options'"),
    (b'{"cmd":"jump"}', "'cmd'='jump'"),
    (b'[1]', "should be a JSON object"),
    (b'garbage', "not JSON"),
    (b'{"cmd":"step_many","actions":[]}', "'actions'=[]"),
    (b'{"cmd":"step_many","actions":[0,5]}', "'actions[1]'=5"),
])
def test_server_rejects_bad_requests_by_name(server, line, fragment):
    reply = _reply(server, line)
    assert reply["ok"] is False and fragment in reply["error"], reply


def test_server_reports_env_exceptions_and_keeps_serving(server):
    reply = _reply(server, b'{"cmd":"step","action":0}')  # before reset: OrderEnforcing raises
    assert reply["ok"] is False and "ResetNeeded" in reply["error"]
    assert _reply(server, b'{"cmd":"reset"}')["ok"] is True


def test_server_refuses_non_discrete_action_spaces():
    env = gym.make("Pendulum-v1")
    with pytest.raises(ValueError, match="only Discrete action spaces"):
        EnvServer(env)
    env.close()
