"""Recorded rollout files: the JSON fast path agrees with the spec's parser (the oracle) on every
transition; ``.npz`` files are read without pickle and every bad transition is reported."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, strategies as st

from rollcheck.properties.rollout.recorded import (RECORDED_PROPERTIES, RolloutFileError, json_rollout_violations,
                                           load_npz_columns, npz_rollout_violations, validate_rollout_file)
from rollcheck.spec import Contract, ContractViolation, parse_rollout_text, transition_violations

leaves = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True), st.floats(-3, 3), st.integers(-5, 5),
    st.sampled_from([0.0, -0.0, 5e-324, 10 ** 400, -(10 ** 400), True, None, "1.0"]))
good_leaves = st.one_of(st.floats(-3, 3), st.integers(-3, 3), st.sampled_from([-0.0, 5e-324, 1e300]))


def tensors(dims, leaf):
    if not dims:
        return leaf
    return st.lists(tensors(dims[1:], leaf), min_size=dims[0], max_size=dims[0])


@st.composite
def transition_objects(draw, dims):
    good = draw(st.integers(0, 3)) > 0
    leaf = good_leaves if good else leaves
    obs_strategy = tensors(dims, leaf) if good or draw(st.booleans()) else st.one_of(
        tensors((2,), leaf), tensors((), leaf), st.just({"x": 1}), tensors((1, 1), leaf))
    t = {"obs": draw(obs_strategy), "next_obs": draw(obs_strategy),
         "action": draw(st.integers(0, 2) if good else st.one_of(
             st.integers(-2, 4), st.sampled_from([1.0, 1.5, True, "0", float("nan"), 2 ** 70]))),
         "reward": draw(st.floats(-2, 2) if good else leaves),
         "terminated": draw(st.booleans() if good else st.one_of(st.booleans(), st.sampled_from([0, 1, None]))),
         "truncated": draw(st.booleans())}
    if not good and draw(st.integers(0, 5)) == 0:
        del t[draw(st.sampled_from(sorted(t)))]
    if not good and draw(st.integers(0, 9)) == 0:
        return draw(st.sampled_from([[], 3, "t", None]))
    return t


contracts = st.builds(Contract, check_obs_finite=st.booleans(), check_reward_finite=st.booleans(),
                      obs_range=st.sampled_from([None, (-1.0, 1.0), (0.0, 0.0), (-1e300, 1e300)]),
                      reward_range=st.sampled_from([None, (-1.0, 1.0), (-0.0, 0.0)]),
                      require_exclusive_done_flags=st.booleans())


@st.composite
def documents(draw):
    dims = draw(st.sampled_from([(), (2,), (2, 1), (0,)]))
    rows = draw(st.lists(transition_objects(dims), max_size=6))
    return dims, json.dumps({"transitions": rows}, allow_nan=True)


def _oracle(text, dims, n_actions, contract):
    return [v for r in parse_rollout_text(text, list(dims), n_actions, contract) if isinstance(r, ContractViolation)
            for v in r.violations]


@given(documents(), st.integers(1, 3), contracts)
def test_json_fast_path_equals_spec_parser(doc, n_actions, contract):
    dims, text = doc
    n, fast = json_rollout_violations(text, list(dims), n_actions, contract)
    slow = _oracle(text, dims, n_actions, contract)
    assert n == len(json.loads(text)["transitions"])
    assert [str(v) for v in fast] == [str(v) for v in slow]


def _cols(n=6, obs_dim=3):
    rng = np.random.default_rng(1)
    return {"obs": rng.normal(size=(n, obs_dim)).astype(np.float32), "actions": rng.integers(0, 2, n),
            "rewards": np.ones(n), "terminated": np.zeros(n, bool), "truncated": np.zeros(n, bool),
            "next_obs": rng.normal(size=(n, obs_dim))}


def test_npz_every_bad_transition_is_reported(tmp_path):
    cols = _cols(8)
    cols["obs"][1, 0] = np.inf
    cols["next_obs"][6, 2] = np.nan
    cols["actions"][4] = 7
    cols["rewards"][6] = -np.inf
    cols["terminated"][5] = cols["truncated"][5] = True
    path = tmp_path / "r.npz"
    np.savez(path, **cols)
    contract = Contract(require_exclusive_done_flags=True)
    report = validate_rollout_file(path, [3], 2, contract)
    assert report.exit_code == 1
    assert report.meta["bad_transition_indices"] == [1, 4, 5, 6]
    steps = {r.id: [f.step for f in r.findings] for r in report.results}
    assert steps["recorded.observation_contract"] == [1]
    assert steps["recorded.next_observation_contract"] == [6]
    assert steps["recorded.action_in_range"] == [4]
    assert steps["recorded.done_flags"] == [5]
    assert steps["recorded.reward_contract"] == [6]
    assert set(steps) == set(RECORDED_PROPERTIES.ids)
    # the same words as the spec, row by row
    expected = sorted((i, str(v.at(i))) for i in range(8) for v in transition_violations(
        contract, cols["obs"][i], cols["next_obs"][i], cols["actions"][i], cols["rewards"][i],
        cols["terminated"][i], cols["truncated"][i], obs_shape=[3], n_actions=2))
    got = sorted((f.step, f.message) for r in report.results for f in r.findings)
    assert got == expected
    first = report.result("recorded.action_in_range").findings[0]
    assert "np.load" in first.reproducer and "allow_pickle=False" in first.reproducer



def test_npz_longdouble_columns_are_judged_as_the_spec_converts_them(tmp_path):
    # A longdouble beyond float64 is finite in its own dtype but inf after the spec's float(x).
    cols = _cols(4)
    cols["obs"] = cols["obs"].astype(np.longdouble)
    cols["rewards"] = cols["rewards"].astype(np.longdouble)
    cols["obs"][1, 0] = np.longdouble("1e400")
    cols["rewards"][2] = -np.longdouble("1e400")
    path = tmp_path / "r.npz"
    np.savez(path, **cols)
    with np.errstate(over="ignore"):
        column_violations, rows = npz_rollout_violations(load_npz_columns(path), [3], 2, Contract())
        expected = [str(v.at(i)) for i in range(4) for v in transition_violations(
            Contract(), cols["obs"][i], cols["next_obs"][i], cols["actions"][i], cols["rewards"][i],
            cols["terminated"][i], cols["truncated"][i], obs_shape=[3], n_actions=2)]
    assert column_violations == []
    assert [v.index for v in rows] == [1, 2] and [str(v) for v in rows] == expected

def test_clean_npz_and_clean_json_pass(tmp_path):
    cols = _cols()
    np.savez(tmp_path / "ok.npz", **cols)
    assert validate_rollout_file(tmp_path / "ok.npz", [3], 2).exit_code == 0
    doc = {"transitions": [{"obs": cols["obs"][i].tolist(), "action": int(cols["actions"][i]), "reward": 1.0,
                            "terminated": False, "truncated": i == 5, "next_obs": cols["next_obs"][i].tolist()}
                           for i in range(6)]}
    (tmp_path / "ok.json").write_text(json.dumps(doc))
    report = validate_rollout_file(tmp_path / "ok.json", [3], 2)
    assert report.exit_code == 0 and report.meta["format"] == "json" and report.meta["transitions"] == 6


def test_json_with_nan_token_names_the_transition(tmp_path):
    text = ('{"transitions": [{"obs": [0.0], "action": 0, "reward": NaN, "terminated": false, "truncated": false,'
            ' "next_obs": [0.0]}, {"obs": [0.0], "action": 1, "reward": 1, "terminated": false, '
            '"truncated": false, "next_obs": [Infinity]}]}')
    (tmp_path / "r.json").write_text(text)
    report = validate_rollout_file(tmp_path / "r.json", [1], 2)
    assert report.exit_code == 1
    assert report.meta["bad_transition_indices"] == [0, 1]
    assert [f.step for f in report.result("recorded.reward_contract").findings] == [0]
    assert [f.step for f in report.result("recorded.next_observation_contract").findings] == [1]


def test_npz_object_arrays_are_refused_without_unpickling(tmp_path):
    cols = _cols()
    cols["obs"] = np.array([object()] * 6)
    np.savez(tmp_path / "o.npz", **cols)  # savez pickles object arrays; we never unpickle them
    with pytest.raises(RolloutFileError, match=r"array 'obs' .* object array"):
        load_npz_columns(tmp_path / "o.npz")
    report = validate_rollout_file(tmp_path / "o.npz", [3], 2)
    assert report.exit_code == 2 and "allow_pickle=False" in report.error


@pytest.mark.parametrize("mutate, match", [
    (lambda c: c.pop("next_obs"), r"missing array\(s\) \['next_obs'\]"),
    (lambda c: c.update(rewards=np.ones(5)), "different lengths"),
    (lambda c: c.update(actions=np.zeros((6, 1), int)), r"'actions' has shape \[6, 1\]"),
])
def test_npz_unreadable_layouts_are_errors(tmp_path, mutate, match):
    cols = _cols()
    mutate(cols)
    np.savez(tmp_path / "x.npz", **cols)
    report = validate_rollout_file(tmp_path / "x.npz", [3], 2)
    assert report.exit_code == 2
    assert __import__("re").search(match, report.error), report.error


def test_unreadable_json_is_an_error(tmp_path):
    (tmp_path / "bad.json").write_text("{not json")
    assert validate_rollout_file(tmp_path / "bad.json", [1], 2).exit_code == 2
    (tmp_path / "nolist.json").write_text('{"steps": []}')
    report = validate_rollout_file(tmp_path / "nolist.json", [1], 2)
    assert report.exit_code == 2 and "transitions" in report.error
    assert validate_rollout_file(tmp_path / "missing.json", [1], 2).exit_code == 2


def test_npz_column_of_a_refused_dtype_is_reported_once_and_other_rows_still_checked(tmp_path):
    cols = _cols()
    cols["terminated"] = np.zeros(6, np.int8)
    cols["obs"] = np.zeros((6, 2))  # wrong row shape for obs_shape [3]
    cols["actions"][2] = 9
    column, rows = npz_rollout_violations(cols, [3], 2)
    assert [v.field for v in column] == ["obs", "terminated"]
    assert "every one of the 6 transitions" in column[0].message and "does not match" in column[0].message
    assert [(v.index, v.field) for v in rows] == [(2, "action")]
    np.savez(tmp_path / "c.npz", **cols)
    report = validate_rollout_file(tmp_path / "c.npz", [3], 2)
    assert report.exit_code == 1 and report.meta["bad_transitions"] == 6
