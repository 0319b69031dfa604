"""The fast ``step`` reply decoder agrees with the strict decoder (its oracle) on every line."""

from __future__ import annotations

import math
import re

import gymnasium as gym
import numpy as np
import pytest
from hypothesis import given, strategies as st
from hypothesis.extra.numpy import arrays

from rollcheck.impl.bridge_fast_decode import JSON_NUMBER, step_reply_decoder, step_reply_pattern
from rollcheck.impl.bridge_protocol import BridgeError, decode_step_reply, encode_float, encode_tensor
from rollcheck.impl.bridge_server import EnvServer
from rollcheck.spec import Shape

JSON_NUMBER_GRAMMAR = r"-?(0|[1-9][0-9]{0,5})(\.[0-9]{1,20})?([eE][-+]?[0-9]{1,4})?"
numbers = st.one_of(
    st.from_regex(JSON_NUMBER_GRAMMAR, fullmatch=True),
    st.floats(allow_nan=True, allow_infinity=True).map(encode_float),
    st.sampled_from(["-0", "0", "-0.0", "-0e0", "1" + "0" * 300, "1" + "0" * 299, "-" + "9" * 310, "1e999",
                     "-1e-999", "5e-324", "00", "01", "1.", ".5", "+1", "1e", "0x1", "1_0", "Infinity",
                     "NaN", "true", '"1"', "[]", " 1", "1 "]),
)
shapes = st.lists(st.integers(1, 3), min_size=0, max_size=3).map(tuple)
flags = st.sampled_from(["true", "false", "1", "0", "null", '"true"'])


def outcome(decode, line: bytes):
    """``("ok", value)`` or ``("error", type, message)`` — what a decoder does with ``line``."""
    try:
        obs, reward, te, tr = decode(line)
    except BridgeError as exc:
        return ("error", type(exc), str(exc))
    return ("ok", obs.shape, obs.dtype, obs.tobytes(), np.isnan(obs).tobytes(),
            math.copysign(1.0, reward), repr(reward), type(te), te, type(tr), tr)


def _nested(tokens: list[str], dims: tuple[int, ...]) -> str:
    if not dims:
        return tokens.pop(0)
    return "[" + ",".join(_nested(tokens, dims[1:]) for _ in range(dims[0])) + "]"


@st.composite
def reply_lines(draw) -> "tuple[tuple[int, ...], bytes]":
    dims = draw(shapes)
    size = int(np.prod(dims)) if dims else 1
    tokens = draw(st.lists(numbers, min_size=size, max_size=size))
    obs_text = _nested(list(tokens), dims)
    if draw(st.booleans()):  # a wrong shape now and then
        obs_text = draw(st.sampled_from(["[" + obs_text + "]", obs_text + ",1", "[]", "5"]))
    line = '{"ok":true,"obs":%s,"reward":%s,"terminated":%s,"truncated":%s}' % (
        obs_text, draw(numbers), draw(flags), draw(flags))
    mutation = draw(st.sampled_from(["none"] * 6 + ["space", "order", "trailing", "ok_false", "dup"]))
    if mutation == "space":
        line = line.replace(",", ", ", 1)
    elif mutation == "order":
        line = line.replace('"ok":true,', "")[:-1] + ',"ok":true}'
    elif mutation == "trailing":
        line += " "
    elif mutation == "ok_false":
        line = '{"ok":false,"error":"boom"}'
    elif mutation == "dup":
        line = line[:-1] + ',"reward":2.0}'
    return dims, line.encode()


@given(reply_lines())
def test_fast_decoder_agrees_with_the_strict_decoder(case):
    dims, line = case
    shape = Shape(dims)
    assert outcome(step_reply_decoder(shape), line) == outcome(lambda b: decode_step_reply(b, shape), line)


@given(shapes.flatmap(lambda d: st.tuples(st.just(d), arrays(np.float64, d, elements=st.floats(width=64)))),
       st.floats(), st.booleans(), st.booleans())
def test_our_servers_layout_takes_the_fast_path_and_round_trips(case, reward, te, tr):
    dims, obs = case
    line = ('{"ok":true,"obs":%s,"reward":%s,"terminated":%s,"truncated":%s}' % (
        encode_tensor(obs), encode_float(reward), str(te).lower(), str(tr).lower())).encode()
    finite = np.isfinite(obs).all() and math.isfinite(reward)
    assert (step_reply_pattern(Shape(dims)).fullmatch(line) is not None) == bool(finite)
    got = step_reply_decoder(Shape(dims))(line)
    assert outcome(lambda b: got, line) == outcome(lambda b: decode_step_reply(b, Shape(dims)), line)
    assert got[0].tobytes() == obs.tobytes() or not finite


@given(st.from_regex(JSON_NUMBER_GRAMMAR, fullmatch=True))
def test_number_pattern_accepts_json_numbers_except_the_two_strict_only_spellings(text):
    matched = re.fullmatch(JSON_NUMBER, text.encode()) is not None
    assert matched == (text != "-0")


@pytest.mark.parametrize("reward,expected", [("-0", "0.0"), ("-0.0", "-0.0"), ("7", "7.0")])
def test_integer_minus_zero_keeps_json_semantics(reward, expected):
    line = b'{"ok":true,"obs":[1],"reward":%s,"terminated":false,"truncated":false}' % reward.encode()
    assert repr(step_reply_decoder(Shape((1,)))(line)[1]) == expected


def test_huge_integer_is_named_by_the_strict_path():
    line = b'{"ok":true,"obs":[1],"reward":1%s,"terminated":false,"truncated":false}' % (b"0" * 400)
    with pytest.raises(BridgeError, match="too large for a float"):
        step_reply_decoder(Shape((1,)))(line)


def test_real_cartpole_replies_take_the_fast_path():
    env = gym.make("CartPole-v1")
    server = EnvServer(env)
    server.reset(0)
    pattern = step_reply_pattern(Shape((4,)))
    for a in [0, 1] * 20:
        reply = server.handle(b'{"cmd":"step","action":%d}' % a)[0][:-1]
        assert pattern.fullmatch(reply), reply
        assert outcome(step_reply_decoder(Shape((4,))), reply) == outcome(
            lambda b: decode_step_reply(b, Shape((4,))), reply)
        if b'"terminated":true' in reply or b'"truncated":true' in reply:
            server.reset(None)
    env.close()


def test_zero_size_shapes_use_the_strict_decoder():
    line = b'{"ok":true,"obs":[],"reward":1.0,"terminated":false,"truncated":false}'
    obs, *_ = step_reply_decoder(Shape((0,)))(line)
    assert obs.shape == (0,)
