"""Wording a value never runs user code and never raises (spec.errors.safe_repr / format_value)."""

from __future__ import annotations

import math

import numpy as np

from rollcheck import Contract, ContractViolation
from rollcheck.spec.contract import reward_violations
from rollcheck.spec.errors import format_value, safe_repr


class _Hostile:
    calls = 0

    def __repr__(self):
        type(self).calls += 1
        raise RuntimeError("no repr")


def test_a_users_repr_is_never_called():
    text = format_value([_Hostile(), 1.5])
    assert "_Hostile object>" in text and "1.5" in text and _Hostile.calls == 0


def test_a_huge_int_is_described_not_converted():
    assert format_value(10 ** 5000) == "<int of about 5001 digits>"
    assert format_value(-(10 ** 5000)) == "<int of -about 5001 digits>"
    assert format_value(12345) == "12345"      # ordinary ints as repr


def test_plain_values_read_as_their_repr():
    for value in (1.5, math.nan, -0.0, True, None, "text", (1,), {1: 2.0}, np.float32(1.5), np.int64(3)):
        assert format_value(value) == repr(value)
    assert format_value(np.array([1.0, np.nan])) == repr(np.array([1.0, np.nan]))
    assert len(format_value("y" * 10 ** 6)) == 80 and format_value("y" * 10 ** 6).endswith("...")
    assert safe_repr({1, 2}) == "{1, 2}"


def test_a_huge_int_reward_is_a_violation_not_a_crash():
    violations = reward_violations(Contract(), 10 ** 5000)
    assert [v.field for v in violations] == ["reward"]
    assert violations[0].message == "<int of about 5001 digits> is too large for a float"


def test_a_session_reports_a_huge_int_reward_as_a_contract_violation():
    import gymnasium as gym
    import pytest
    from gymnasium import spaces

    from rollcheck import CheckedSession

    class HugeReward(gym.Env):
        observation_space, action_space = spaces.Box(-1.0, 1.0, (2,), np.float64), spaces.Discrete(2)

        def reset(self, *, seed=None, options=None):
            return np.zeros(2), {}

        def step(self, action):
            return np.zeros(2), 10 ** 5000, False, False, {}

    session = CheckedSession.gymnasium(HugeReward(), seed=0)
    with pytest.raises(ContractViolation, match=r'field "reward": <int of about 5001 digits> is too large'):
        session.step_checked(session.start(), 0)
