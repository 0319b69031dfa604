"""The one argument validator: numpy and Python ints alike, bools refused, one message shape."""

import math

import numpy as np
import pytest

from rollcheck import ArgumentError, Box, CheckedSession, Contract
from rollcheck.impl.bridge_session import bridge_session
from rollcheck.impl.toy_envs import CounterEnv
from rollcheck.spec.arguments import (check_bool, check_count, check_index, check_int, check_nat, check_real,
                                      check_reals, check_seed, is_int)
from rollcheck.spec.policy_gradient import as_logits

INTS = [3, np.int64(3), np.int32(3), np.uint8(3), np.intp(3)]


@pytest.mark.parametrize("value", INTS)
def test_numpy_and_python_ints_are_accepted_alike(value):
    for got in (check_int("x", value), check_count("x", value), check_nat("x", value),
                check_seed("seed", value), check_index("i", value, 4)):
        assert got == 3 and type(got) is int
    assert is_int(value)


@pytest.mark.parametrize("value", [True, False, np.bool_(True)])
def test_bools_are_not_numbers(value):
    assert not is_int(value)
    for check in (lambda: check_count("horizon", value), lambda: check_seed("seed", value),
                  lambda: check_index("i", value, 4), lambda: check_real("gamma", value)):
        with pytest.raises(ArgumentError, match=r"^(horizon|seed|i|gamma)=(np\.)?(True|False)"):
            check()


@pytest.mark.parametrize("call, message", [
    (lambda: check_count("horizon", 0), "horizon=0 should be at least 1"),
    (lambda: check_count("horizon", np.int64(0)), "horizon=0 should be at least 1"),
    (lambda: check_count("horizon", True), "horizon=True should be an int, not a bool"),
    (lambda: check_count("horizon", 2.0), "horizon=2.0 should be an int"),
    (lambda: check_count("horizon", "3"), "horizon='3' should be an int"),
    (lambda: check_seed("seed", -1), "seed=-1 should be at least 0"),
    (lambda: check_seed("seed", None, optional=False), "seed=None should be an int"),
    (lambda: check_count("num_envs", 2000, most=1024), "num_envs=2000 should be at most 1024"),
    (lambda: check_index("i", 3, 3), r"i=3 should be in \[0, 3\)"),
    (lambda: check_bool("reset_on_done", 1), "reset_on_done=1 should be a bool"),
    (lambda: check_real("lam", "0.9"), "lam='0.9' should be a real number"),
    (lambda: check_real("lam", 1.5, most=1.0), "lam=1.5 should be at most 1.0"),
    (lambda: check_real("t", float("nan"), finite=True), "t=nan should be finite"),
    (lambda: check_real("t", 10 ** 400), r"t=1000.* is too large for a float"),
])
def test_one_message_shape_naming_field_and_value(call, message):
    with pytest.raises(ArgumentError, match="^" + message):
        call()


def test_valid_values_pass_through():
    assert check_bool("f", np.bool_(False)) is False and check_bool("f", True) is True
    assert check_real("x", np.float32(0.5)) == 0.5 and type(check_real("x", np.float32(0.5))) is float
    assert check_seed("seed", None) is None


def test_constructors_take_numpy_counts():
    sess = CheckedSession.gymnasium(CounterEnv(n_actions=2), seed=np.int64(0), n_actions=np.int64(2))
    assert sess.n_actions == 2 and type(sess.n_actions) is int
    direct = CheckedSession(start=sess.start, observe=sess.observe, step_checked=sess.step_checked,
                            obs_shape=[1], n_actions=np.int64(2))
    assert type(direct.n_actions) is int
    with pytest.raises(ArgumentError, match="CheckedSession.n_actions=True should be an int, not a bool"):
        CheckedSession(start=sess.start, observe=sess.observe, step_checked=sess.step_checked,
                       obs_shape=[1], n_actions=True)


class _FakeClient:
    """The bridge client surface a bridge session uses, without a subprocess."""

    def __init__(self):
        from rollcheck import Shape

        self.obs_shape, self.n_actions, self.contract, self.seeds = Shape(()), 2, Contract(), []

    def reset_raw(self, seed=None):
        self.seeds.append(seed)
        return np.zeros(())

    def step_raw(self, action):
        return np.zeros(()), 0.0, False, False

    def close(self):
        pass


def test_bridge_session_takes_a_numpy_seed():
    client = _FakeClient()
    sess = bridge_session(client, seed=np.int64(7))
    sess.start()
    assert client.seeds == [7] and type(client.seeds[0]) is int
    with pytest.raises(ArgumentError, match="seed=True should be an int, not a bool"):
        bridge_session(client, seed=True)


def test_check_reals_reads_numpy_scalars_like_python_numbers():
    assert check_reals("x", [np.float32(0.5), np.int64(2), 3, 1.5]) == [0.5, 2.0, 3.0, 1.5]
    assert check_reals("x", np.arange(4.0).reshape(2, 2)) == [0.0, 1.0, 2.0, 3.0]   # row-major
    assert check_reals("x", [[1.0], (2.0, 3.0)]) == [1.0, 2.0, 3.0]
    assert check_reals("x", 2.0) == [2.0]
    nan_inf = check_reals("x", [float("nan"), -np.inf])
    assert math.isnan(nan_inf[0]) and nan_inf[1] == -math.inf   # kept: finiteness is the contract's rule
    with pytest.raises(ArgumentError, match=r"x\[1\]=True is not a real number"):
        check_reals("x", [1.0, True])
    with pytest.raises(ArgumentError, match=r"x\[0\]=np.True_ is not a real number|x\[0\]=True is not a real number"):
        check_reals("x", [np.bool_(True)])
    with pytest.raises(ArgumentError, match=r"x\[2\]='a' is not a real number"):
        check_reals("x", [1.0, 2.0, "a"])
    with pytest.raises(ArgumentError, match=r"x\[0\]=1000.* is too large for a float"):
        check_reals("x", [10 ** 400])


def test_spec_vectors_accept_lists_of_numpy_floats():
    assert as_logits([np.float32(0.25), np.float64(-1.0)]) == [0.25, -1.0]
    box = Box((2,), [np.float32(-1.0), np.float32(-2.0)], np.float32(2.0))
    assert box.lows() == (-1.0, -2.0) and box.highs() == (2.0, 2.0)
    with pytest.raises(ArgumentError, match="nested"):
        as_logits([[0.0, 1.0]])
    with pytest.raises(ArgumentError, match=r"Box.low\[1\]=True is not a real number"):
        Box((2,), [0.0, True], 1.0)
