"""Boundary.Core: the checkers accept exactly when the Prop predicates hold, and report every violation.

Lean proves ``contractHolds_of_checkTransitionFin_eq_ok`` (soundness); here both directions are
tested on generated well-typed transitions, the violation list is compared with an expectation
computed in this file (independently of the spec), and ill-typed inputs are shown to be rejected
with the field named.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, strategies as st

from rollcheck.properties.strategies import contracts, shapes, transitions
from rollcheck.spec import (Contract, ContractViolation, ArgumentError, Transition, check_action,
                            check_done_flags, check_observation, check_reward, check_transition,
                            check_transition_fin, contract_holds, done_flags_holds, observation_holds,
                            reward_holds, transition_violations)

FIELDS_OF_OBS = ("observation", "next_observation")
TYPE_RULES = {
    "observation": {"Spec.Shape", "Spec.Tensor Float"},
    "next_observation": {"Spec.Shape", "Spec.Tensor Float"},
    "action": {"Fin n_actions"},
    "reward": {"Spec.Tensor Float"},
    "terminated": {"Bool"},
    "truncated": {"Bool"},
}


def _finite(x: float) -> bool:
    return x - x == 0.0  # NaN - NaN and inf - inf are NaN; written differently from the spec on purpose


def _inside(lo: float, hi: float, x: float) -> bool:
    return not (x < lo or x > hi or x != x)


def expected_rules(c: Contract, obs, nxt, reward: float, te: bool, tr: bool) -> set[tuple[str, str]]:
    """The (field, rule) pairs a contract-respecting checker must report for a well-typed transition."""
    out: set[tuple[str, str]] = set()
    if c.require_exclusive_done_flags and te and tr:
        out.add(("terminated", "Contract.require_exclusive_done_flags"))
    if c.check_reward_finite and not _finite(reward):
        out.add(("reward", "Contract.check_reward_finite"))
    if c.reward_range is not None and not _inside(*c.reward_range, reward):
        out.add(("reward", "Contract.reward_range"))
    for name, arr in zip(FIELDS_OF_OBS, (obs, nxt)):
        flat = [float(x) for x in np.asarray(arr, dtype=np.float64).ravel()]
        if c.check_obs_finite and not all(_finite(x) for x in flat):
            out.add((name, "Contract.check_obs_finite"))
        if c.obs_range is not None and not all(_inside(*c.obs_range, x) for x in flat):
            out.add((name, "Contract.obs_range"))
    return out


def as_array(value, shape) -> np.ndarray:
    return np.asarray(value, dtype=np.float64).reshape(shape)


@given(st.data())
def test_checker_accepts_iff_contract_holds(data):
    shape = data.draw(shapes(max_rank=2, max_side=3), label="shape")
    n = data.draw(st.integers(1, 4), label="n_actions")
    c = data.draw(contracts(), label="contract")
    raw = data.draw(transitions(shape, n), label="raw")
    t = Transition(observation=as_array(raw.observation, shape), action=raw.action, reward=raw.reward,
                   next_observation=as_array(raw.next_observation, shape), terminated=raw.terminated,
                   truncated=raw.truncated)
    expected = expected_rules(c, t.observation, t.next_observation, t.reward, t.terminated, t.truncated)
    holds = contract_holds(c, t)
    assert holds == (not expected), "the predicate disagrees with this test's reading of the contract"
    try:
        got = check_transition_fin(c, **raw.kwargs)
    except ContractViolation as err:
        assert not holds, f"completeness: the contract holds but the checker said {err}"
        pairs = list(zip(err.fields, err.rules))
        assert len(pairs) == len(set(pairs)), f"duplicate violations: {pairs}"
        assert set(pairs) == expected
        for v in err.violations:
            assert v.field in str(err)
    else:
        assert holds, "soundness: the checker accepted a transition that breaks the contract"
        assert got == t
        assert got.observation.shape == tuple(shape) and got.next_observation.shape == tuple(shape)
    assert (transition_violations(c, **raw.kwargs) == []) == holds
    assert check_transition(c, **raw.kwargs) == t if holds else True


@given(st.data())
def test_component_checkers_agree_with_component_predicates(data):
    shape = data.draw(shapes(max_rank=2, max_side=3))
    c = data.draw(contracts())
    raw = data.draw(transitions(shape, 2))
    flat = [float(x) for x in as_array(raw.observation, shape).ravel()]
    try:
        got = check_observation(c, raw.observation, shape)
        assert observation_holds(c, flat)
        assert [math.copysign(1, x) for x in got] == [math.copysign(1, x) for x in flat]  # -0.0 survives
    except ContractViolation as err:
        assert not observation_holds(c, flat) and set(err.fields) == {"observation"}
    reward = float(raw.reward)
    try:
        assert check_reward(c, raw.reward) == reward or reward != reward
        assert reward_holds(c, reward)
    except ContractViolation as err:
        assert not reward_holds(c, reward) and set(err.fields) == {"reward"}
    try:
        check_done_flags(c, raw.terminated, raw.truncated)
        assert done_flags_holds(c, bool(raw.terminated), bool(raw.truncated))
    except ContractViolation:
        assert not done_flags_holds(c, bool(raw.terminated), bool(raw.truncated))


@given(st.data())
def test_ill_typed_inputs_are_rejected_naming_every_bad_field(data):
    shape = data.draw(shapes(max_rank=2, max_side=3))
    n = data.draw(st.integers(1, 4))
    c = data.draw(contracts())
    raw = data.draw(transitions(shape, n, well_typed=False))
    with pytest.raises(ContractViolation) as info:
        check_transition_fin(c, **raw.kwargs)
    err = info.value
    for name in raw.ill_typed:
        rules = {v.rule for v in err.violations if v.field == name}
        assert len(rules) == 1 and rules <= TYPE_RULES[name], (name, err)
        assert f'field "{name}"' in str(err)
    # well-typed fields get exactly their contract violations, nothing more
    good = set(TYPE_RULES) - raw.ill_typed
    reported = {(v.field, v.rule) for v in err.violations if v.field in good}
    obs = raw.observation if "observation" in good else np.zeros(shape)
    nxt = raw.next_observation if "next_observation" in good else np.zeros(shape)
    flags_ok = {"terminated", "truncated"} <= good
    expected = expected_rules(c, as_array(obs, shape), as_array(nxt, shape),
                              float(raw.reward) if "reward" in good else 0.0,
                              bool(raw.terminated) and flags_ok, bool(raw.truncated) and flags_ok)
    assert reported == {p for p in expected if p[0] in good}


@pytest.mark.parametrize("action", [True, False, 1.5, -1, 3, -0.5, math.nan, math.inf, None, "1", [0],
                                    np.array([0]), np.bool_(True), 1 + 0j, 10**30])
def test_bad_actions_are_rejected_naming_the_action_and_n_actions(action):
    with pytest.raises(ContractViolation) as info:
        check_action(3, action)
    assert info.value.fields == ("action",) and "n_actions=3" in str(info.value)


@pytest.mark.parametrize("action", [0, 2, 2.0, np.int64(1), np.uint8(2), np.float32(1.0), np.array(2)])
def test_integral_actions_in_range_are_accepted_as_ints(action):
    got = check_action(3, action)
    assert type(got) is int and got == int(action)


def test_every_violation_is_collected():
    c = Contract(obs_range=(0.0, 1.0), reward_range=(0.0, 1.0), require_exclusive_done_flags=True)
    with pytest.raises(ContractViolation) as info:
        check_transition_fin(c, [math.nan, 2.0], [0.5, -math.inf], 1, math.inf, True, True,
                             obs_shape=[2], n_actions=2)
    assert set(zip(info.value.fields, info.value.rules)) == {
        ("terminated", "Contract.require_exclusive_done_flags"),
        ("reward", "Contract.check_reward_finite"), ("reward", "Contract.reward_range"),
        ("observation", "Contract.check_obs_finite"), ("observation", "Contract.obs_range"),
        ("next_observation", "Contract.check_obs_finite"), ("next_observation", "Contract.obs_range")}
    with pytest.raises(ContractViolation) as info:
        check_transition_fin(c, [[0.0]], 0.5, 7, True, 1, None, obs_shape=[2], n_actions=2)
    assert set(info.value.fields) == {"observation", "next_observation", "action", "reward", "terminated",
                                      "truncated"}


def test_huge_integer_reward_is_a_violation_not_a_crash():
    with pytest.raises(ContractViolation) as info:
        check_reward(Contract(), 10**400)
    assert info.value.rules == ("Spec.Tensor Float",)


@given(lo=st.floats(allow_nan=False), hi=st.floats(allow_nan=False))
def test_contract_rejects_reversed_ranges(lo, hi):
    for name in ("obs_range", "reward_range"):
        if lo > hi:
            with pytest.raises(ArgumentError, match=f"{name}.*should be at most"):
                Contract(**{name: (lo, hi)})
        else:
            assert getattr(Contract(**{name: (lo, hi)}), name) == (lo, hi)


@pytest.mark.parametrize("rng", [(math.nan, 1.0), (0.0, math.nan), (math.nan, math.nan)])
@pytest.mark.parametrize("name", ["obs_range", "reward_range"])
def test_contract_rejects_nan_bounds(name, rng):
    with pytest.raises(ArgumentError, match=f"Contract.{name}=.*NaN"):
        Contract(**{name: rng})


@pytest.mark.parametrize("kwargs", [{"check_obs_finite": 1}, {"check_reward_finite": None},
                                    {"require_exclusive_done_flags": "yes"}, {"obs_range": (0.0,)},
                                    {"obs_range": 3.0}, {"reward_range": (True, 2.0)},
                                    {"reward_range": ("0", "1")}, {"obs_range": (0, 10**400)},
                                    {"obs_range": (np.bool_(False), 1.0)}])
def test_contract_rejects_malformed_fields_naming_them(kwargs):
    (name,) = kwargs
    with pytest.raises(ArgumentError, match=f"Contract.{name}="):
        Contract(**kwargs)
