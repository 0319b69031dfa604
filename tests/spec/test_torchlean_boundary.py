"""``torchlean=True``: what TorchLean's ``loadRolloutAll``/``loadRollout`` would accept and say.

Every message below is transcribed from ``NN/Runtime/RL/Boundary/Json.lean`` and
``Boundary/Core.lean``; each case is checked both ways (a clean file is accepted, each planted
fault is reported with TorchLean's first error for that transition, not rollcheck's list).
"""

from __future__ import annotations

import json
import math

import pytest

from rollcheck.spec import Contract, ContractViolation, Transition, load_rollout, load_rollout_all
from rollcheck.spec.boundary_json import TorchLeanFileError
from rollcheck.spec.torchlean_boundary import lean_float_str, torchlean_verdict


def good(**change):
    t = {"obs": [0.0, 1.0], "action": 1, "reward": 1.0, "terminated": False, "truncated": False,
         "next_obs": [1.0, 2.0]}
    t.update(change)
    return {k: v for k, v in t.items() if v is not DROP}


DROP = object()


BIG = "__1e400__"  # written as the JSON number 1e400 (json.dumps would write the token Infinity)


def write(tmp_path, transitions, name="r.json"):
    p = tmp_path / name
    p.write_text(json.dumps({"transitions": transitions}).replace(f'"{BIG}"', "1e400"))
    return p


def test_a_clean_file_is_accepted_and_loaded(tmp_path):
    p = write(tmp_path, [good(), good(action=0, terminated=True)])
    verdict = torchlean_verdict(p, [2], 2)
    assert verdict.accepted and verdict.first_error is None and verdict.n_transitions == 2
    assert load_rollout(p, [2], 2, torchlean=True) == load_rollout(p, [2], 2)
    assert "accept all 2 transitions" in verdict.summary()


@pytest.mark.parametrize("transition, message", [
    ("x", "RL boundary: transition must be an object: object expected"),
    (good(obs=DROP, action=DROP), "RL boundary: transition missing field `obs`."),
    (good(action=DROP, reward=DROP), "RL boundary: transition missing field `action`."),
    (good(obs=[0.0], action=1.5), "RL boundary: `obs` did not match the expected shape [2]."),
    (good(next_obs=[[1.0], [2.0]]), "RL boundary: `next_obs` did not match the expected shape [2]."),
    (good(obs=[True, 1.0]), "RL boundary: `obs` did not match the expected shape [2]."),
    (good(action=1.5, reward="x"), "RL boundary: expected integer JSON number, got 1.500000."),
    (good(action=-1), "RL boundary: expected nonnegative integer, got -1.000000."),
    (good(action="1"), "RL boundary: expected a JSON number."),
    (good(action=True), "RL boundary: expected a JSON number."),
    (good(reward=None), "RL boundary: expected `reward` to be a JSON number."),
    (good(terminated=1), "RL boundary: expected `terminated` to be a JSON boolean."),
    (good(truncated="no"), "RL boundary: expected `truncated` to be a JSON boolean."),
    (good(action=7, reward=BIG), "RL boundary: action out of range: 7 (nActions=2)."),
    (good(reward=BIG), "RL boundary: expected finite reward, got inf."),
    (good(obs=[BIG, 0.0]), "RL boundary: expected finite observation tensor (no NaNs/Infs)."),
    (good(next_obs=[0.0, BIG]), "RL boundary: expected finite nextObservation tensor (no NaNs/Infs)."),
])
def test_each_fault_gets_torchleans_first_message(tmp_path, transition, message):
    p = write(tmp_path, [good(), transition, good()])
    verdict = torchlean_verdict(p, [2], 2)
    assert not verdict.accepted and verdict.errors == ((1, message),) and verdict.first_error == message
    results = load_rollout_all(p, [2], 2, torchlean=True)
    assert isinstance(results[0], Transition) and isinstance(results[2], Transition)
    assert isinstance(results[1], ContractViolation) and results[1].first.message == message
    with pytest.raises(ContractViolation, match="transition 1") as exc:
        load_rollout(p, [2], 2, torchlean=True)
    assert exc.value.first.message == message


def test_contract_options_in_torchleans_check_order(tmp_path):
    c = Contract(reward_range=(0.0, 0.5), obs_range=(0.0, 1.0), require_exclusive_done_flags=True)
    p = write(tmp_path, [good(terminated=True, truncated=True, reward=2.0),
                         good(reward=2.0, obs=[5.0, 0.0]), good(reward=0.5, obs=[5.0, 0.0]),
                         good(reward=0.5, next_obs=[0.5, 3.0]), good(reward=0.5, next_obs=[0.5, 1.0])])
    assert torchlean_verdict(p, [2], 2, c).errors == (
        (0, "RL boundary: both `terminated` and `truncated` are true (contract requires exclusivity)."),
        (1, "RL boundary: reward out of range: got 2.000000, expected in [0.000000, 0.500000]."),
        (2, "RL boundary: observation tensor out of range: expected all entries in [0.000000, 1.000000]."),
        (3, "RL boundary: nextObservation tensor out of range: expected all entries in [0.000000, 1.000000]."))


@pytest.mark.parametrize("text, message", [
    ('{"transitions": [{"obs": [NaN, 1.0]}]}', "RL boundary: bad JSON: "),
    ('{"transitions": [', "RL boundary: bad JSON: "),
    ("[1, 2]", "RL boundary: top-level JSON must be an object: object expected"),
    ('{"rollout": []}', "RL boundary: missing required field `transitions`"),
    ('{"transitions": {}}', "RL boundary: field `transitions` must be an array"),
])
def test_file_level_faults_refuse_the_whole_file(tmp_path, text, message):
    p = tmp_path / "f.json"
    p.write_text(text)
    verdict = torchlean_verdict(p, [2], 2)
    assert not verdict.accepted and verdict.file_error.startswith(message) and verdict.errors == ()
    with pytest.raises(TorchLeanFileError) as exc:
        load_rollout_all(p, [2], 2, torchlean=True)
    assert exc.value.lean_message.startswith(message)


def test_a_nan_token_fails_one_transition_for_rollcheck_but_the_file_for_torchlean(tmp_path):
    p = tmp_path / "nan.json"
    rows = [json.dumps(good()), json.dumps(good()).replace('"reward": 1.0', '"reward": NaN')]
    p.write_text('{"transitions": [' + ", ".join(rows) + "]}")
    mine = load_rollout_all(p, [2], 2)
    assert isinstance(mine[0], Transition) and isinstance(mine[1], ContractViolation)
    assert torchlean_verdict(p, [2], 2).file_error.startswith("RL boundary: bad JSON")


def test_actions_go_through_float_as_in_lean(tmp_path):
    p = write(tmp_path, [good(action=2**53 + 1), good(action=2**64), good(action=2**65), good(action=1.0)])
    results = load_rollout_all(p, [2], 2**64, torchlean=True)
    assert results[0].action == 2**53                 # Float rounds 2^53 + 1 down, then toUInt64
    assert results[1].action == 2**64 - 1             # toUInt64 saturates; Float.ofNat (2^64 - 1) == 2^64
    assert results[2].first.message.startswith("RL boundary: expected integer JSON number, got 36893488147419103232")
    assert results[3].action == 1


def test_lean_float_str():
    assert [lean_float_str(x) for x in (1.5, -1.0, math.nan, math.inf, -math.inf, 0.1)] == \
        ["1.500000", "-1.000000", "NaN", "inf", "-inf", "0.100000"]


def test_negative_zero_is_read_as_zero_by_torchlean_and_kept_by_rollcheck(tmp_path):
    p = tmp_path / "z.json"
    p.write_text(json.dumps({"transitions": [good(obs=[-0.0, 1.0], reward=-0.0)]}))
    lean, mine = load_rollout(p, [2], 2, torchlean=True)[0], load_rollout(p, [2], 2)[0]
    assert math.copysign(1.0, lean.reward) == 1.0 and math.copysign(1.0, lean.observation[0]) == 1.0
    assert math.copysign(1.0, mine.reward) == -1.0 and math.copysign(1.0, mine.observation[0]) == -1.0
