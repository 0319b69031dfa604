"""Spec.Shape and the value constructors: round trips and what the Lean types refuse.

Shapes survive ``to_list``/``Shape.of``/``as_shape`` and ``dim``/``scalar``; a tensor flattens to
the same row-major floats as a nested list and as a numpy array (float32 or float64, ``-0.0`` and
NaN included) and ``unflatten`` inverts ``flatten_tensor``; ``Transition``, ``Step`` and ``Rollout``
refuse what ``ObservedTransition``, ``PPO.Step`` and ``PPO.Rollout`` would not admit.
"""

from __future__ import annotations

import math
import struct

import numpy as np
import pytest
from hypothesis import given, strategies as st

from rollcheck.properties.strategies import rollouts, shaped_tensors, shapes, steps
from rollcheck.spec import (ContractViolation, ArgumentError, Rollout, Shape, Step, Transition, as_shape,
                            flatten_tensor, steps_from_columns, unflatten)


def bits(xs) -> list[bytes]:
    """Exact identity of floats (tells -0.0 from 0.0 and compares NaN payload-free)."""
    return [b"nan" if x != x else struct.pack("<d", x) for x in xs]


@given(shapes())
def test_shape_round_trips(dims):
    s = Shape.of(dims)
    assert s.to_list() == dims and as_shape(dims) == s and as_shape(s) is s
    assert Shape.of(s.to_list()) == s and s.rank == len(dims) and s.size == math.prod(dims)
    built = Shape.scalar()
    for n in reversed(dims):
        built = Shape.dim(n, built)
    assert built == s
    assert s.pretty() == "[" + ", ".join(map(str, dims)) + "]" == str(s)
    assert Shape.of(np.array(dims, dtype=np.int64)) == s


@given(st.data())
def test_flatten_unflatten_round_trip_and_list_vs_numpy(data):
    dims = data.draw(shapes())
    value = data.draw(shaped_tensors(dims, as_numpy=False))
    flat = flatten_tensor(value, dims)
    assert len(flat) == math.prod(dims)
    back = unflatten(flat, Shape.of(dims))
    assert bits(flatten_tensor(back, dims)) == bits(flat)
    arr = np.array(value, dtype=np.float64).reshape(dims)
    assert bits(flatten_tensor(arr, dims)) == bits(flat)
    assert bits(flatten_tensor(arr.tolist(), Shape.of(dims))) == bits(flat)


@given(st.data())
def test_numpy_tensors_flatten_to_their_exact_values(data):
    dims = data.draw(shapes())
    arr = data.draw(shaped_tensors(dims, as_numpy=True))
    flat = flatten_tensor(arr, dims, field="next_observation")
    assert bits(flat) == bits(float(x) for x in arr.ravel())
    assert bits(flatten_tensor(unflatten(flat, Shape.of(dims)), dims)) == bits(flat)


@given(st.data())
def test_wrong_shapes_are_rejected_naming_the_field(data):
    dims = data.draw(shapes(max_rank=2, max_side=3))
    other = data.draw(shapes(max_rank=3, max_side=3, min_side=1).filter(lambda s: s != dims))
    value = data.draw(shaped_tensors(other))
    with pytest.raises(ContractViolation) as info:
        flatten_tensor(value, dims, field="obs")
    assert info.value.fields == ("obs",) and info.value.rules == ("Spec.Shape",)


@pytest.mark.parametrize("value, dims", [(True, []), ([1.0, False], [2]), (np.array([True, False]), [2]),
                                         ("1.0", []), (None, []), ([1.0, None], [2]), (np.array([1 + 1j, 0j]), [2]),
                                         ([10**400, 1.0], [2]), (np.bool_(False), [])])
def test_non_real_leaves_are_rejected(value, dims):
    with pytest.raises(ContractViolation) as info:
        flatten_tensor(value, dims, field="obs")
    assert info.value.fields == ("obs",)


@pytest.mark.parametrize("bad", [[-1], [1.5], [True], "ab", 3, [None]])
def test_as_shape_rejects_non_shapes(bad):
    with pytest.raises(ArgumentError, match=r"obs_shape(\[\d\])?="):
        as_shape(bad)


def test_shape_rejects_bad_dims():
    for dims in [(-1,), (1.0,), (True,), [2]]:
        with pytest.raises(ArgumentError, match="Shape.dims"):
            Shape(dims)  # type: ignore[arg-type]


def test_transition_stores_read_only_copies():
    obs = np.array([1.0, 2.0], dtype=np.float32)
    t = Transition(observation=obs, action=0, reward=1, next_observation=[3, 4], terminated=False, truncated=True)
    obs[0] = 99.0
    assert t.observation.tolist() == [1.0, 2.0] and t.observation.dtype == np.float64
    assert not t.observation.flags.writeable and t.done and t.reward == 1.0
    with pytest.raises(ValueError):
        t.next_observation[0] = 0.0


@pytest.mark.parametrize("kwargs, field", [
    ({"action": -1}, "action"), ({"action": True}, "action"), ({"action": 1.5}, "action"),
    ({"reward": True}, "reward"), ({"reward": "1"}, "reward"), ({"terminated": 1}, "terminated"),
    ({"truncated": None}, "truncated"), ({"next_observation": [1.0]}, "next_observation"),
    ({"observation": np.array([True, False])}, "observation"), ({"observation": ["a", "b"]}, "observation"),
])
def test_transition_constructor_rejections(kwargs, field):
    base = dict(observation=[0.0, 0.0], action=0, reward=0.0, next_observation=[0.0, 0.0], terminated=False,
                truncated=False)
    with pytest.raises(ArgumentError, match=field):
        Transition(**{**base, **kwargs})


STEP = dict(state=[0.0], action=0, old_log_prob=-0.5, reward=1.0, done=False, value=0.0, next_value=0.0,
            terminated=False)


@pytest.mark.parametrize("kwargs, needle", [
    ({"terminated": True, "done": False}, "Step.terminated=True"), ({"action": -1}, "Step.action"),
    ({"action": 1.0}, "Step.action"), ({"reward": None}, "Step.reward"), ({"value": True}, "Step.value"),
    ({"done": 0}, "Step.done"), ({"state": ["x"]}, "Step.state"), ({"next_value": "0"}, "Step.next_value"),
])
def test_step_constructor_rejections(kwargs, needle):
    with pytest.raises(ArgumentError, match=needle):
        Step(**{**STEP, **kwargs})


@given(st.data())
def test_step_keeps_a_read_only_copy_of_state_with_its_dtype(data):
    step = data.draw(steps([2], 3))
    state = np.array(step.state)  # writable copy
    again = Step(state=state, action=step.action, old_log_prob=step.old_log_prob, reward=step.reward,
                 done=step.done, value=step.value, next_value=step.next_value, terminated=step.terminated)
    state[...] = 7.0
    assert again == step and again.state.dtype == step.state.dtype and not again.state.flags.writeable
    assert (not step.terminated) or step.done


@given(rollouts())
def test_rollout_columns_and_length(r):
    assert len(r) == r.horizon == len(r.steps) == len(r.actions) == len(r.dones)
    assert all(0 <= a < r.n_actions for a in r.actions)
    assert all(s.state.shape == r.obs_shape.dims for s in r)
    rebuilt = steps_from_columns([s.state for s in r], r.actions, r.old_log_probs, r.rewards, r.dones, r.values,
                                 r.next_values, r.terminateds)
    assert Rollout(steps=rebuilt, horizon=r.horizon) == r


@given(rollouts(max_horizon=4), st.integers(0, 6))
def test_rollout_refuses_any_other_length(r, h):
    if h == r.horizon:
        assert Rollout(steps=r.steps, horizon=h) == r
    else:
        with pytest.raises(ArgumentError, match="horizon"):
            Rollout(steps=r.steps, horizon=h)


@pytest.mark.parametrize("kwargs, needle", [
    ({"horizon": 0}, "Rollout.horizon"), ({"horizon": True}, "Rollout.horizon"), ({"horizon": 1.0}, "Rollout.horizon"),
    ({"n_actions": 0}, "Rollout.n_actions"), ({"n_actions": 1}, "out of range"),
    ({"obs_shape": [2]}, "expected \\[2\\]"), ({"steps": [STEP]}, "is not a Step"),
])
def test_rollout_constructor_rejections(kwargs, needle):
    base = {"steps": [Step(**{**STEP, "action": 1})], "horizon": 1}
    with pytest.raises(ArgumentError, match=needle):
        Rollout(**{**base, **kwargs})


def test_steps_from_columns_rejects_ragged_columns():
    with pytest.raises(ArgumentError, match="different lengths"):
        steps_from_columns([[0.0]], [0, 1], [0.0], [0.0], [False], [0.0], [0.0], [False])
