"""A conditional env property that no checked call exercised is never reported as held.

``episode.truncated_at_limit`` is judged only at a step that reaches ``max_episode_steps``;
``episode.never_past_done`` only after some layer returned terminated or truncated. A run in which
neither happens says "not exercised" (skipped, with the reason) instead of a vacuous pass; and the
default program length lets a program run an episode into its time limit, so on an env whose
episodes do last that long (Acrobot: 500 steps) a time-limit bug is caught with the defaults.
"""

from __future__ import annotations

import warnings

import gymnasium as gym
import numpy as np
import pytest
from gymnasium import spaces

import env_zoo_wrappers as zoo
from rollcheck.properties.env.fuzz import DEFAULT_MAX_STEPS, default_max_steps, fuzz_env


def _fuzz(env, wrappers=(), **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fuzz_env(env, wrappers=wrappers, **{"max_examples": 12, "time_budget": None, **kw})


def test_default_program_length_reaches_the_episode_limit():
    assert default_max_steps(None) == DEFAULT_MAX_STEPS
    assert default_max_steps(200) == DEFAULT_MAX_STEPS  # MountainCar: 400 actions cross the limit already
    assert default_max_steps(500) == 1000  # CartPole, Acrobot: two episodes to the limit
    assert default_max_steps(1000) == 2000  # MuJoCo (a time budget cuts it to the measured step cost)


def test_a_time_limit_bug_on_long_episodes_is_caught_with_the_defaults():
    # Acrobot's random episodes run into the 500-step limit; TimeoutAsTermination reports that cut
    # as a termination. With 400-action programs (the old default) no program could reach it.
    report = _fuzz("Acrobot-v1", (f"{zoo.__name__}:TimeoutAsTermination",))
    assert report.meta["max_steps"] == 1000
    assert "episode.truncated_at_limit" in {r.id for r in report.failed}, report.to_markdown()
    short = _fuzz("Acrobot-v1", (f"{zoo.__name__}:TimeoutAsTermination",), max_steps=DEFAULT_MAX_STEPS)
    r = short.result("episode.truncated_at_limit")  # too short to reach the limit: not a pass, "not exercised"
    assert r.status == "skipped" and r.skip_reason.startswith("not exercised"), (r.status, r.skip_reason)
    clean = _fuzz("Acrobot-v1")
    assert clean.result("episode.truncated_at_limit").status == "held"
    assert clean.result("episode.never_past_done").status == "held"


def test_a_limit_no_episode_reaches_is_not_exercised_and_says_so():
    # a random or biased policy never balances CartPole for 500 steps
    report = _fuzz("CartPole-v1", max_examples=6)
    r = report.result("episode.truncated_at_limit")
    assert r.status == "skipped" and r.skip_reason.startswith("not exercised: no checked episode reached "
                                                               "max_episode_steps=500"), r.skip_reason
    assert "--max-episode-steps" in r.skip_reason
    assert report.exit_code == 0  # the other properties held
    lowered = _fuzz("CartPole-v1", max_examples=6, max_episode_steps=12)
    assert lowered.result("episode.truncated_at_limit").status == "held"


class _NeverEnds(gym.Env):
    """No termination, no time limit: no episode ever ends."""

    observation_space = spaces.Box(-1.0, 1.0, (2,), np.float32)
    action_space = spaces.Discrete(2)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        return np.zeros(2, np.float32), {}

    def step(self, action):
        return np.zeros(2, np.float32), 0.0, False, False, {}


class _EndsAfterFive(_NeverEnds):
    def reset(self, *, seed=None, options=None):
        self.t = 0
        return super().reset(seed=seed, options=options)

    def step(self, action):
        self.t += 1
        return np.zeros(2, np.float32), 0.0, self.t >= 5, False, {}


@pytest.mark.parametrize("factory, status", [(_NeverEnds, "skipped"), (_EndsAfterFive, "held")],
                         ids=["never ends", "ends after five"])
def test_never_past_done_needs_an_episode_that_ends(factory, status):
    report = _fuzz(factory, max_steps=40)
    r = report.result("episode.never_past_done")
    assert r.status == status, (r.status, r.skip_reason)
    if status == "skipped":
        assert r.skip_reason.startswith("not exercised: no layer returned terminated or truncated")
    assert report.exit_code == 0
