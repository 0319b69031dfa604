"""Boundary.Json: a generated interchange file with deliberately corrupted transitions.

``load_rollout_all`` must report exactly the corrupted indices, each naming every field that was
broken (up to three per transition, a missing field included) (non-standard ``NaN``/``Infinity`` tokens included), and parse the rest to the transitions
that were written; ``load_rollout`` must raise at the first corrupted index; ``dumps_rollout`` and
the loader round-trip.
"""

from __future__ import annotations

import json
import math
import tempfile
from pathlib import Path

import pytest
from hypothesis import given, strategies as st

from rollcheck.properties.strategies import shaped_tensors, shapes
from rollcheck.spec import (Contract, ContractViolation, ArgumentError, Transition, dumps_rollout,
                            load_rollout, load_rollout_all, parse_rollout_text, transitions_to_json)


def _first_leaf_set(value, new):
    if isinstance(value, list):
        return [_first_leaf_set(value[0], new)] + value[1:]
    return new


# corruption kind -> (field it breaks, rule reported, function transition-dict -> corrupted dict)
CORRUPTIONS = {
    "nan_token": ("reward", "Boundary.Json", lambda j, n: {**j, "reward": math.nan}),
    "infinity_token": ("obs", "Boundary.Json", lambda j, n: {**j, "obs": _first_leaf_set(j["obs"], math.inf)}),
    "minus_infinity_token": ("next_obs", "Boundary.Json",
                             lambda j, n: {**j, "next_obs": _first_leaf_set(j["next_obs"], -math.inf)}),
    "bool_reward": ("reward", "Boundary.Json.parseFloat", lambda j, n: {**j, "reward": True}),
    "fractional_action": ("action", "Boundary.Json.parseNatStrict", lambda j, n: {**j, "action": 1.5}),
    "negative_action": ("action", "Boundary.Json.parseNatStrict", lambda j, n: {**j, "action": -1}),
    "out_of_range_action": ("action", "Fin n_actions", lambda j, n: {**j, "action": n}),
    "string_action": ("action", "Boundary.Json.parseNatStrict", lambda j, n: {**j, "action": "0"}),
    "wrong_shape": ("next_obs", "Spec.Shape", lambda j, n: {**j, "next_obs": [j["next_obs"], j["next_obs"]]}),
    "int_flag": ("truncated", "Boundary.Json.parseBool", lambda j, n: {**j, "truncated": 0}),
    "missing_terminated": ("terminated", "Boundary.Json",
                           lambda j, n: {k: v for k, v in j.items() if k != "terminated"}),
    "missing_obs": ("obs", "Boundary.Json", lambda j, n: {k: v for k, v in j.items() if k != "obs"}),
}


@st.composite
def rollout_files(draw):
    dims = draw(shapes(max_rank=2, max_side=3, min_side=1))
    n = draw(st.integers(1, 4))
    size = draw(st.integers(1, 12))
    tensor = shaped_tensors(dims, as_numpy=False, finite_only=True)
    good = [{"obs": draw(tensor), "action": draw(st.integers(0, n - 1)),
             "reward": draw(st.floats(allow_nan=False, allow_infinity=False)),
             "terminated": draw(st.booleans()), "truncated": draw(st.booleans()), "next_obs": draw(tensor)}
            for _ in range(size)]
    # each bad transition gets one to three corruptions, on distinct fields
    kinds = st.lists(st.sampled_from(sorted(CORRUPTIONS)), min_size=1, max_size=3, unique_by=lambda k: CORRUPTIONS[k][0])
    bad = draw(st.dictionaries(st.integers(0, size - 1), kinds, max_size=size))
    written = []
    for i, j in enumerate(good):
        for kind in bad.get(i, []):
            j = CORRUPTIONS[kind][2](j, n)
        written.append(j)
    return dims, n, good, bad, json.dumps({"transitions": written}, allow_nan=True)


def expected_pairs(kinds: list[str]) -> set[tuple[str, str]]:
    return {CORRUPTIONS[k][:2] for k in kinds}


def expected_transition(j: dict) -> Transition:
    return Transition(observation=j["obs"], action=j["action"], reward=j["reward"], next_observation=j["next_obs"],
                      terminated=j["terminated"], truncated=j["truncated"])


@given(rollout_files())
def test_loader_reports_exactly_the_corrupted_transitions(case):
    dims, n, good, bad, text = case
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "rollout.json"
        path.write_text(text, encoding="utf-8")
        results = load_rollout_all(path, dims, n)
        assert len(results) == len(good)
        assert {i for i, r in enumerate(results) if isinstance(r, ContractViolation)} == set(bad)
        for i, r in enumerate(results):
            if i in bad:
                assert set(zip(r.fields, r.rules)) == expected_pairs(bad[i]), (bad[i], r)
                assert all(v.index == i for v in r.violations)
                for field, _rule in expected_pairs(bad[i]):
                    assert f'transition {i}, field "{field}"' in str(r)
            else:
                assert r == expected_transition(good[i])
        if bad:
            with pytest.raises(ContractViolation) as info:
                load_rollout(path, dims, n)
            assert info.value.first.index == min(bad)
            assert set(zip(info.value.fields, info.value.rules)) == expected_pairs(bad[min(bad)])
        else:
            assert load_rollout(path, dims, n) == results
    assert [str(r) for r in parse_rollout_text(text, dims, n)] == [str(r) for r in results]


@given(rollout_files())
def test_dumps_and_load_round_trip(case):
    dims, n, good, _bad, _text = case
    transitions = [expected_transition(j) for j in good]
    text = dumps_rollout(transitions)
    assert parse_rollout_text(text, dims, n) == transitions
    assert json.loads(text) == transitions_to_json(transitions)


def test_contract_violations_in_a_file_are_reported_per_transition():
    doc = {"transitions": [
        {"obs": [0.0], "action": 0, "reward": 5.0, "terminated": True, "truncated": True, "next_obs": [2.0]},
        {"obs": [0.5], "action": 0, "reward": 0.5, "terminated": False, "truncated": False, "next_obs": [0.5]}]}
    c = Contract(obs_range=(0.0, 1.0), reward_range=(0.0, 1.0), require_exclusive_done_flags=True)
    first, second = parse_rollout_text(json.dumps(doc), [1], 1, c)
    assert set(zip(first.fields, first.rules)) == {("terminated", "Contract.require_exclusive_done_flags"),
                                                   ("reward", "Contract.reward_range"),
                                                   ("next_obs", "Contract.obs_range")}
    assert isinstance(second, Transition)


def test_huge_integers_in_a_file_are_violations_not_crashes():
    text = '{"transitions": [{"obs": [1%s], "action": 0, "reward": 1%s, "terminated": false, "truncated": false,' \
           ' "next_obs": [0]}]}' % ("0" * 400, "0" * 400)
    (r,) = parse_rollout_text(text, [1], 1)
    assert set(r.fields) == {"obs", "reward"}


@pytest.mark.parametrize("text, field", [("[]", "file"), ("{}", "transitions"), ('{"transitions": 3}', "transitions"),
                                         ("{", "file"), ('{"transitions": NaN}', "transitions")])
def test_malformed_documents_name_the_problem(text, field):
    with pytest.raises(ContractViolation) as info:
        parse_rollout_text(text, [1], 2)
    assert info.value.fields == (field,)


def test_missing_file_and_bad_arguments():
    with pytest.raises(ContractViolation, match="cannot read rollout file"):
        load_rollout("/nonexistent/rollout.json", [1], 2)
    with pytest.raises(ArgumentError, match="n_actions=0"):
        parse_rollout_text('{"transitions": []}', [1], 0)
    t = Transition(observation=[0.0], action=0, reward=math.nan, next_observation=[0.0], terminated=False,
                   truncated=False)
    with pytest.raises(ArgumentError, match="reward"):
        dumps_rollout([t])
