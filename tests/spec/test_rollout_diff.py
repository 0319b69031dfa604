"""``first_difference``: the first step and field where two interchange documents differ (both ways)."""

from __future__ import annotations

import copy
import math

import pytest
from hypothesis import given, strategies as st

from rollcheck.spec import ArgumentError
from rollcheck.spec.rollout_diff import first_difference

number = st.one_of(st.floats(), st.integers(-5, 5))
transition = st.fixed_dictionaries({"obs": st.lists(number, min_size=2, max_size=2), "action": st.integers(0, 3),
                                    "reward": number, "terminated": st.booleans(), "truncated": st.booleans(),
                                    "next_obs": st.lists(number, min_size=2, max_size=2)})
documents = st.lists(transition, max_size=6).map(lambda ts: {"transitions": ts})


@given(documents)
def test_a_document_equals_itself_and_its_copy(doc):
    assert first_difference(doc, doc) is None and first_difference(doc, copy.deepcopy(doc)) is None


@given(documents.filter(lambda d: d["transitions"]), st.data())
def test_a_planted_change_is_found_at_its_step_and_field(doc, data):
    other = copy.deepcopy(doc)
    step = data.draw(st.integers(0, len(doc["transitions"]) - 1))
    field = data.draw(st.sampled_from(["obs", "action", "reward", "terminated", "next_obs"]))
    t = other["transitions"][step]
    if field in ("obs", "next_obs"):
        t[field][1] = "changed"
        expected = f"{field}[1]"
    elif field == "terminated":
        t[field] = not t[field]
        expected = field
    else:
        t[field] = "changed"
        expected = field
    diff = first_difference(doc, other)
    assert diff is not None and (diff.step, diff.field) == (step, expected)


def test_floats_are_compared_bit_for_bit_unless_atol():
    a = {"transitions": [{"obs": [0.0], "action": 0, "reward": 0.1}]}
    b = {"transitions": [{"obs": [-0.0], "action": 0, "reward": 0.1 + 1e-17}]}
    diff = first_difference(a, b)
    assert (diff.step, diff.field) == (0, "obs[0]") and "0.0 != -0.0" in str(diff)
    assert first_difference(a, b, atol=1e-12) is None
    nan = {"transitions": [{"reward": math.nan}]}
    assert first_difference(nan, copy.deepcopy(nan)) is None
    assert first_difference({"transitions": [{"terminated": True}]}, {"transitions": [{"terminated": 1}]}) is not None


def test_lengths_extra_fields_and_missing_fields():
    a = {"transitions": [{"action": 0}, {"action": 1}]}
    diff = first_difference(a, {"transitions": [{"action": 0}]})
    assert (diff.step, diff.field) == (1, "transitions") and "left file has 2 transitions, the right 1" in str(diff)
    diff = first_difference({"transitions": [{"action": 0, "value": 1.0}]}, {"transitions": [{"action": 0}]})
    assert (diff.step, diff.field, diff.reason) == (0, "value", "missing in the right file")
    diff = first_difference({"transitions": [{"obs": [1.0, 2.0]}]}, {"transitions": [{"obs": [1.0]}]})
    assert (diff.field, diff.reason) == ("obs", "length 2 != 1")


@pytest.mark.parametrize("bad, atol", [({"x": []}, 0.0), ([], 0.0), ({"transitions": []}, -1.0)])
def test_bad_arguments(bad, atol):
    with pytest.raises(ArgumentError):
        first_difference(bad if isinstance(bad, dict) and "transitions" not in bad or isinstance(bad, list)
                         else {"transitions": []}, {"transitions": []}, atol)
