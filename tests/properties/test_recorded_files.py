"""Recorded rollout files: the JSON fast path agrees with the spec's parser (the oracle) on every
transition; ``.npz`` files are read without pickle and every bad transition is reported."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
from hypothesis import given, strategies as st

from rollcheck.properties.rollout.recorded import RECORDED_PROPERTIES, validate_rollout_file
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


_CONTRACT_PROPERTIES = {"recorded.transition_schema", "recorded.action_in_range", "recorded.done_flags",
                        "recorded.reward_contract", "recorded.observation_contract",
                        "recorded.next_observation_contract"}


@given(documents(), st.integers(1, 3), contracts)
def test_json_fast_path_equals_spec_parser(tmp_path_factory, doc, n_actions, contract):
    dims, text = doc
    path = tmp_path_factory.mktemp("j") / "r.json"
    path.write_text(text)
    report = validate_rollout_file(path, list(dims), n_actions, contract, max_findings=10 ** 6)
    slow = _oracle(text, dims, n_actions, contract)
    n = len(json.loads(text)["transitions"])
    if n == 0:
        assert report.exit_code == 2 and "no transitions" in report.error
        return
    assert report.meta["transitions"] == n
    fast = sorted((f.step, f.context["spec"]) for r in report.results if r.id in _CONTRACT_PROPERTIES
                  for f in r.findings)
    assert fast == sorted((v.index, str(v)) for v in slow)
    assert report.meta["bad_transitions"] >= len({v.index for v in slow})


def _cols(n=6, obs_dim=3):
    """A clean chain: next_obs[t] == obs[t+1]; one episode, unfinished at the end of the file."""
    rng = np.random.default_rng(1)
    states = rng.normal(size=(n + 1, obs_dim))
    return {"obs": states[:-1].astype(np.float32).astype(np.float64), "actions": rng.integers(0, 2, n),
            "rewards": np.ones(n), "terminated": np.zeros(n, bool), "truncated": np.zeros(n, bool),
            "next_obs": np.concatenate([states[1:-1].astype(np.float32), states[-1:]]).astype(np.float64)}


def _contract_findings(report):
    return sorted((f.step, f.context["spec"]) for r in report.results if r.id in _CONTRACT_PROPERTIES
                  for f in r.findings if "spec" in f.context)


def test_npz_every_bad_transition_is_reported(tmp_path):
    cols = _cols(8)
    cols["obs"][1, 0] = np.inf
    cols["next_obs"][0, 0] = np.inf  # keeps the chain
    cols["next_obs"][6, 2] = np.nan
    cols["obs"][7, 2] = np.nan
    cols["actions"][4] = 7
    cols["rewards"][6] = -np.inf
    cols["terminated"][5] = cols["truncated"][5] = True
    path = tmp_path / "r.npz"
    np.savez(path, **cols)
    contract = Contract(require_exclusive_done_flags=True)
    report = validate_rollout_file(path, [3], 2, contract)
    assert report.exit_code == 1
    assert report.meta["bad_transition_indices"] == [0, 1, 4, 5, 6, 7]
    steps = {r.id: [f.step for f in r.findings] for r in report.results}
    assert steps["recorded.observation_contract"] == [1, 7]
    assert steps["recorded.next_observation_contract"] == [0, 6]
    assert steps["recorded.action_in_range"] == [4]
    assert steps["recorded.done_flags"] == [5]
    assert steps["recorded.reward_contract"] == [6]
    assert steps["recorded.next_obs_chain"] == []
    assert set(steps) == set(RECORDED_PROPERTIES.ids)
    # the same words as the spec, row by row, and each finding names episode and step
    expected = sorted((i, str(v.at(i))) for i in range(8) for v in transition_violations(
        contract, cols["obs"][i], cols["next_obs"][i], cols["actions"][i], cols["rewards"][i],
        cols["terminated"][i], cols["truncated"][i], obs_shape=[3], n_actions=2))
    assert _contract_findings(report) == expected
    flags = report.result("recorded.done_flags").findings[0]
    assert flags.message.startswith("episode 0, step 5: ") and flags.context["episode"] == 0
    obs7 = report.result("recorded.observation_contract").findings[1]
    assert obs7.message.startswith("episode 1, step 1: ")  # the episode after the done at 5 (6 is its step 0)
    assert report.meta["final_episode_unfinished"] is True


def test_npz_longdouble_columns_are_judged_as_the_spec_converts_them(tmp_path):
    # A longdouble beyond float64 is finite in its own dtype but inf after the spec's float(x).
    cols = _cols(4)
    cols["obs"] = cols["obs"].astype(np.longdouble)
    cols["next_obs"] = cols["next_obs"].astype(np.longdouble)
    cols["rewards"] = cols["rewards"].astype(np.longdouble)
    cols["obs"][1, 0] = np.longdouble("1e400")
    cols["next_obs"][0, 0] = np.longdouble("1e400")
    cols["rewards"][2] = -np.longdouble("1e400")
    path = tmp_path / "r.npz"
    np.savez(path, **cols)
    with np.errstate(over="ignore"):
        report = validate_rollout_file(path, [3], 2)
        expected = sorted((i, str(v.at(i))) for i in range(4) for v in transition_violations(
            Contract(), cols["obs"][i], cols["next_obs"][i], cols["actions"][i], cols["rewards"][i],
            cols["terminated"][i], cols["truncated"][i], obs_shape=[3], n_actions=2))
    assert report.meta["bad_transition_indices"] == [0, 1, 2]
    assert _contract_findings(report) == expected


def _json_doc(cols, n):
    return {"transitions": [{"obs": cols["obs"][i].tolist(), "action": int(cols["actions"][i]), "reward": 1.0,
                             "terminated": False, "truncated": i == n - 1, "next_obs": cols["next_obs"][i].tolist()}
                            for i in range(n)]}


def test_clean_npz_and_clean_json_pass(tmp_path):
    cols = _cols()
    np.savez(tmp_path / "ok.npz", **cols)
    report = validate_rollout_file(tmp_path / "ok.npz", [3], 2)
    assert report.exit_code == 0, report.to_markdown()
    assert report.result("recorded.next_obs_chain").status == "held"
    (tmp_path / "ok.json").write_text(json.dumps(_json_doc(cols, 6)))
    report = validate_rollout_file(tmp_path / "ok.json", [3], 2)
    assert report.exit_code == 0 and report.meta["format"] == "json" and report.meta["transitions"] == 6
    assert report.meta["final_episode_unfinished"] is False and report.meta["episodes_ended"] == 1


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
    report = validate_rollout_file(tmp_path / "o.npz", [3], 2)
    assert report.exit_code == 2 and "array 'obs' is an object array" in report.error
    assert "allow_pickle=False" in report.error


@pytest.mark.parametrize("mutate, match", [
    (lambda c: c.pop("next_obs"), r"closest is 'rollcheck', missing array\(s\) \['next_obs'\]"),
    (lambda c: c.update(rewards=np.ones(5)), "different lengths"),
    (lambda c: c.update(actions=np.zeros((6, 1), int)), r"actions have row shape \[1\]"),
    (lambda c: c.update(rewards=np.ones((6, 2))), r"'rewards' has shape \[6, 2\]"),
])
def test_npz_unreadable_layouts_are_errors(tmp_path, mutate, match):
    cols = _cols()
    mutate(cols)
    np.savez(tmp_path / "x.npz", **cols)
    report = validate_rollout_file(tmp_path / "x.npz", [3], 2)
    assert report.exit_code == 2
    assert re.search(match, report.error), report.error


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
    np.savez(tmp_path / "c.npz", **cols)
    report = validate_rollout_file(tmp_path / "c.npz", [3], 2)
    assert report.exit_code == 1 and report.meta["bad_transitions"] == 6
    (obs,) = report.result("recorded.observation_contract").findings
    assert "every one of the 6 transitions" in obs.message and "does not match" in obs.message
    assert obs.context["column"] is True
    (flags,) = report.result("recorded.done_flags").findings
    assert "column `terminated` has dtype int8" in flags.message
    assert [f.step for f in report.result("recorded.action_in_range").findings] == [2]
    assert report.meta["violations_by_property"]["recorded.observation_contract"] == 6
