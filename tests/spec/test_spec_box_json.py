"""The interchange file's continuous-action form: ``"action": [floats]`` and the ``action_space`` header."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from rollcheck.spec import ArgumentError, ContractViolation, Transition
from rollcheck.spec.boundary_json import dumps_rollout, parse_rollout_text, rollout_action_space
from rollcheck.spec.box import Box, box_from_json, box_to_json

BOX = Box((2,), [-1.0, 0.0], [1.0, 3.0])


def _t(action):
    return Transition(observation=[0.0], action=np.array(action, dtype=np.float64), reward=0.5,
                      next_observation=[1.0], terminated=False, truncated=False)


@given(st.lists(st.tuples(st.floats(-1, 1), st.floats(0, 3)), min_size=1, max_size=5))
def test_round_trip(actions):
    ts = [_t(list(a)) for a in actions]
    text = dumps_rollout(ts, BOX)
    assert rollout_action_space(text) == BOX
    assert parse_rollout_text(text, [1], None) == ts
    assert parse_rollout_text(text, [1], BOX) == ts


@pytest.mark.parametrize("box", [BOX, Box((1,)), Box((2, 1), -math.inf, 1.0, "float64"), Box(())])
def test_header_round_trip(box):
    assert box_from_json(json.loads(json.dumps(box_to_json(box), allow_nan=False))) == box


def test_bad_actions_are_named_per_transition():
    rows = [{"obs": [0.0], "action": a, "reward": 0.0, "terminated": False, "truncated": False, "next_obs": [0.0]}
            for a in ([0.5, 1.0], [2.0, 1.0], [0.5], [True, 1.0], "x")]
    text = json.dumps({"transitions": rows}).replace('"x"', "[NaN, 1.0]")
    results = parse_rollout_text(text, [1], BOX)
    assert isinstance(results[0], Transition)
    rules = [r.rules for r in results[1:]]
    assert rules == [("Box.bounds",), ("Spec.Shape",), ("Spec.Tensor Float",), ("Boundary.Json",)]
    assert all(isinstance(r, ContractViolation) and r.first.index == i + 1 and r.first.field == "action"
               for i, r in enumerate(results[1:]))


def test_bad_headers():
    for header, match in [({"type": "discrete"}, "type"), ({"type": "box", "shape": [1], "low": 3}, "low"),
                          ({"type": "box", "shape": [1], "extra": 1}, "unknown"),
                          ({"type": "box", "shape": ["a"]}, "shape")]:
        with pytest.raises(ContractViolation, match=match):
            rollout_action_space(json.dumps({"action_space": header, "transitions": []}))
    assert rollout_action_space('{"transitions": []}') is None
    with pytest.raises(ArgumentError, match="header"):
        parse_rollout_text('{"transitions": []}', [1], None)
