"""The fuzzer's vectorised value checks agree with the spec oracle; snapshots detect aliasing by value."""

from __future__ import annotations

import numpy as np
import pytest
from gymnasium import spaces
from hypothesis import example, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from rollcheck.properties.env.checks import (done_flag_problems, first_difference, observation_numeric_problems,
                                             reward_problems, snapshot, space_problems, value_in_space_problems,
                                             values_equal)
from rollcheck.properties.env.target import actions_code
from rollcheck.spec.contract import (Contract, done_flags_violations, observation_violations, reward_violations)

contracts = st.builds(Contract, check_obs_finite=st.booleans(), check_reward_finite=st.booleans(),
                      obs_range=st.none() | st.tuples(st.floats(-10, 0), st.floats(0, 10)),
                      reward_range=st.none() | st.tuples(st.floats(-10, 0), st.floats(0, 10)))


OBS_DTYPES = [np.float16, np.float32, np.float64, np.longdouble, np.int64, np.uint8, np.uint64]


@given(contracts, hnp.arrays(st.sampled_from(OBS_DTYPES), hnp.array_shapes(min_dims=1, max_dims=2, max_side=4)))
# numpy 2 (NEP 50) would round the float64 bound to float32: 1.3971275f <= 1.3971274669493878 in float32.
@example(Contract(obs_range=(0.0, 1.3971274669493878)), np.array([1.3971275], dtype=np.float32))
# a longdouble beyond float64 is inf to the spec (float(x)), though finite in its own dtype.
@example(Contract(), np.array([np.longdouble("1e400")]))
@example(Contract(obs_range=(0.0, 1.0)), np.array([np.longdouble(1) + np.finfo(np.longdouble).eps]))
def test_observation_check_agrees_with_spec_oracle(contract, obs):
    with np.errstate(over="ignore", under="ignore"):
        fast = observation_numeric_problems(contract, obs)
        oracle = observation_violations(contract, obs, list(obs.shape))
    assert bool(fast) == bool(oracle)


@pytest.mark.parametrize("contract", [Contract(), Contract(obs_range=(0.0, 1.0)), Contract(check_obs_finite=False)])
@pytest.mark.parametrize("obs", [10 ** 400, [1, 10 ** 400], 2 ** 70, -(2 ** 70), [2 ** 64, 0]],
                         ids=["10**400", "[1,10**400]", "2**70", "-2**70", "[2**64,0]"])
def test_python_int_observations_beyond_int64_agree_with_spec_oracle(contract, obs):
    # Python ints beyond int64 become object arrays in numpy; the spec converts them with float().
    fast = observation_numeric_problems(contract, obs)
    oracle = observation_violations(contract, obs, list(np.shape(obs)))
    assert bool(fast) == bool(oracle)


@given(contracts, st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.integers(-5, 5), st.booleans(),
                            st.just(np.float32(np.nan)), st.just(np.array([1.0])), st.text(max_size=2)))
def test_reward_check_is_the_spec_check(contract, reward):
    assert len(reward_problems(contract, reward)) == len(reward_violations(contract, reward))


@given(st.sampled_from([True, False, np.bool_(True), 0, 1, np.int64(1), None, np.array([True])]),
       st.sampled_from([True, np.bool_(False), 1]))
def test_done_flags_check_is_the_spec_check(te, tr):
    assert len(done_flag_problems(Contract(), te, tr)) == len(done_flags_violations(Contract(), te, tr))


def test_value_in_space_is_exact_about_dtype_and_shape():
    box = spaces.Box(-1.0, 1.0, shape=(2,), dtype=np.float32)
    assert value_in_space_problems(box, np.zeros(2, np.float32), "obs") == []
    assert "dtype float64" in value_in_space_problems(box, np.zeros(2), "obs")[0]
    assert "shape [3]" in value_in_space_problems(box, np.zeros(3, np.float32), "obs")[0]
    assert "outside the bounds" in value_in_space_problems(box, np.array([0, 2], np.float32), "obs")[0]
    assert "not a numpy array" in value_in_space_problems(box, [0.0, 0.0], "obs")[0]
    d = spaces.Discrete(3)
    assert value_in_space_problems(d, 2, "obs") == []  # FrozenLake/Taxi return Python ints
    assert value_in_space_problems(d, np.int64(2), "obs") == []
    assert value_in_space_problems(d, np.int32(2), "obs")
    assert value_in_space_problems(d, True, "obs")
    assert value_in_space_problems(d, 3, "obs")


def test_space_problems_finds_mutated_bounds_and_non_spaces():
    box = spaces.Box(-1.0, 1.0, shape=(2,), dtype=np.float32)
    assert space_problems(box, "s") == []
    box.low[0] = 5.0
    assert "low > high" in space_problems(box, "s")[0]
    assert "not a gymnasium.spaces.Space" in space_problems((4,), "s")[0]


@settings(max_examples=30)
@given(hnp.arrays(np.float64, (3,), elements=st.floats(allow_nan=True)))
def test_snapshot_compares_values_not_identity(arr):
    snap = snapshot({"obs": arr, "list": [arr]})
    assert values_equal(snap, {"obs": arr, "list": [arr]})  # NaN == NaN here
    arr[0] = 1e300 if not arr[0] == 1e300 else -1e300
    assert not values_equal(snap, {"obs": arr, "list": [arr]})
    assert "['obs']" in first_difference(snap, {"obs": arr, "list": [arr]})


def test_first_difference_names_dtype_and_type_changes():
    assert "float32" in first_difference(np.zeros(2, np.float32), np.zeros(2))
    assert first_difference(1.0, np.float64(1.0)) is not None
    assert first_difference((1, 2), (1, 2)) is None


@pytest.mark.parametrize("actions, code", [([], "[]"), ([1, 1, 1, 1, 0], "[1] * 4 + [0]"), ([0, 1], "[0, 1]"),
                                           ([np.array([1.0], np.float32)], "[np.array([1.0], dtype=np.float32)]")])
def test_actions_code_is_run_length_encoded_python(actions, code):
    assert actions_code(actions) == code
    assert [np.asarray(a).tolist() for a in eval(code)] == [np.asarray(a).tolist() for a in actions]


SPACES = [spaces.Discrete(3), spaces.Discrete(4, start=-2), spaces.Box(-2.0, 2.0, shape=(2,), dtype=np.float32),
          spaces.Box(-np.inf, np.inf, shape=(1,), dtype=np.float64), spaces.MultiDiscrete([2, 3]), spaces.MultiBinary(3)]


@settings(max_examples=40)
@given(st.sampled_from(SPACES), st.data())
def test_programs_draw_valid_actions_with_the_space_dtype(space, data):
    from rollcheck.properties.env.programs import programs
    program = data.draw(programs(space, max_steps=50))
    assert len(program.actions) <= 50 and len(program.history) <= 50
    for a in program.actions + program.history:
        assert space.contains(a), (space, a)
        if isinstance(a, np.ndarray):
            assert a.dtype == space.dtype and a.shape == space.shape
        else:  # Discrete: a Python int (explicit, repeat segments) or a scalar of its dtype (random segments)
            assert (type(a) is int) or type(a) is space.dtype.type, (space, type(a))


def test_discrete_actions_come_in_both_representations():
    from hypothesis import find

    from rollcheck.properties.env.programs import action_strategy, random_actions

    space = spaces.Discrete(3, start=-1)
    sampled = random_actions(space, 7, 40)
    assert {type(a) for a in sampled} == {np.int64} and {int(a) for a in sampled} == {-1, 0, 1}
    assert type(find(action_strategy(space), lambda a: True)) is int


def test_vector_reward_finiteness_is_judged_in_float64_like_the_spec():
    # A longdouble reward beyond float64 is finite in its own dtype but inf after the spec's float().
    from types import SimpleNamespace

    from rollcheck.properties.env.catalog import VECTOR_BATCH_IN_SPACE, VectorBatch

    vec = SimpleNamespace(num_envs=2, observation_space=spaces.Box(-1.0, 1.0, shape=(2, 1), dtype=np.float32))
    obs = np.zeros((2, 1), np.float32)
    rew = np.array([0.0, np.longdouble("1e400")], dtype=np.longdouble)
    flags = np.zeros(2, bool)
    with np.errstate(over="ignore"):
        assert reward_violations(Contract(), rew[1])  # the oracle
        problems = VECTOR_BATCH_IN_SPACE.check(VectorBatch(vec, Contract(), obs, (obs, rew, flags, flags, {})))
    assert any("Contract.check_reward_finite" in p for p in problems)


class _RaisingRepr:
    def __repr__(self):
        raise RuntimeError("repr refused")


class _LoopingRepr:
    def __repr__(self):  # would wedge the harness if it were ever called
        while True:
            pass


class _HugeRepr:
    def __repr__(self):
        return "x" * 10**7


def test_short_never_calls_a_users_repr_and_is_capped():
    from rollcheck.properties.env.checks import safe_repr, short

    for hostile in (_RaisingRepr(), _LoopingRepr(), _HugeRepr()):
        text = short({"obj": hostile, "list": [hostile, 1.5]})
        assert type(hostile).__name__ in text and len(text) <= 120
    assert short(np.array([_RaisingRepr()], dtype=object)).startswith("array([<")
    assert short("y" * 10**6).endswith("...") and len(short("y" * 10**6)) == 120
    assert safe_repr({1, 2}) == "{1, 2}" and safe_repr((1,)) == "(1,)" and safe_repr(np.float32(1.5)) == "np.float32(1.5)"
    assert short(list(range(1000))).endswith("...")


def test_objects_with_identity_equality_are_compared_by_their_attributes():
    import copy

    a = _RaisingRepr()
    a.value = [1, 2]
    b = copy.deepcopy(a)
    assert first_difference(a, b) is None  # a snapshot (a copy) of an unchanged object
    b.value.append(3)
    assert "__dict__['value']" in first_difference(a, b)


@given(start=st.integers(-3, 3), n=st.integers(1, 4), value=st.integers(-6, 8),
       kind=st.sampled_from(["int", "int64", "int32", "uint8", "bool", "float"]))
def test_the_discrete_screen_never_clears_what_the_full_check_rejects(start, n, value, kind):
    """``in_space`` (the screen) on a Discrete space: ``True`` exactly when the full check finds nothing,
    ``False`` only when it finds something; ``None`` (ask the full check) for every other representation."""
    from rollcheck.properties.env.checks import in_space, value_in_space_problems

    space = spaces.Discrete(n, start=start)
    v = {"int": value, "int64": np.int64(value), "int32": np.int32(value), "uint8": np.uint8(value % 256),
         "bool": bool(value % 2), "float": float(value)}[kind]
    screened, problems = in_space(space, v), value_in_space_problems(space, v, "action")
    assert screened is None or screened is (not problems), (v, screened, problems)
    if kind in ("int", "int64"):
        assert screened is not None  # a Python int and a scalar of the space's dtype are screened, not judged in full
