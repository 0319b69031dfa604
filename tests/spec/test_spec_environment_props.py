"""Spec.RL.Environment: rollouts agree with stepping, and SafeEnv paths keep the invariant.

A small pure environment (a walker on the integers, action 0/1/2 = left/stay/right, terminated at
5, truncated at -3 never reached safely) checks that ``rollout_from`` records exactly what
``step_gym`` returns along the same path, that ``states``/``evolve`` agree, and that
``check_action_path_safe`` holds on every action-valid path of a correct ``SafeEnv`` and finds the
first bad state of a broken one.
"""

from __future__ import annotations

from hypothesis import given, strategies as st

from rollcheck.spec import (Env, SafeEnv, StepResult, Transition, check_action_path_safe, evolve, evolve_from, reset,
                            rollout, rollout_from, states, states_from, step_gym)


def walk(s: int, a: int) -> StepResult:
    nxt = s + a - 1
    return StepResult(state=nxt, reward=float(a), terminated=nxt >= 5, truncated=nxt <= -3)


WALKER = Env(initial_state=0, observe=lambda s: [float(s), float(s * s)], step=walk)
NON_NEGATIVE = SafeEnv(env=WALKER, invariant=lambda s: s >= 0, action_ok=lambda s, a: not (s == 0 and a == 0))
BROKEN = SafeEnv(env=WALKER, invariant=lambda s: s >= 0)  # forgets to forbid stepping left from 0
paths = st.lists(st.integers(0, 2), max_size=12)


@given(st.integers(-4, 6), paths)
def test_rollout_from_agrees_with_step_gym(start, actions):
    ts = rollout_from(WALKER, start, actions)
    ss = states_from(WALKER, start, actions)
    assert len(ts) == len(actions) and len(ss) == len(actions) + 1 and ss[0] == start
    assert evolve_from(WALKER, start, actions) == ss[-1]
    for t, s, a, s_next in zip(ts, ss, actions, ss[1:]):
        obs, r, te, tr, state = step_gym(WALKER, s, a)
        assert state == s_next
        assert t == Transition(observation=WALKER.observe(s), action=a, reward=r, next_observation=obs,
                               terminated=te, truncated=tr)


@given(paths)
def test_rollout_starts_at_reset(actions):
    obs, s0 = reset(WALKER)
    assert s0 == 0 and obs == [0.0, 0.0]
    assert rollout(WALKER, actions) == rollout_from(WALKER, s0, actions)
    assert states(WALKER, actions) == states_from(WALKER, s0, actions) and evolve(WALKER, actions) == states(WALKER, actions)[-1]


@given(st.integers(0, 4), paths)
def test_correct_safe_env_keeps_its_invariant_on_valid_paths(start, actions):
    report = check_action_path_safe(NON_NEGATIVE, actions, state=start)
    assert report.ok
    assert report.path_ok == NON_NEGATIVE.action_path_ok(start, actions)


@given(paths)
def test_broken_safe_env_is_caught_at_the_first_bad_state(actions):
    visited = states(WALKER, actions)
    bad = [i for i, s in enumerate(visited) if s < 0]
    report = check_action_path_safe(BROKEN, actions)
    assert report.path_ok
    if bad:
        assert not report.ok and report.failed_at == bad[0] and report.state == visited[bad[0]]
    else:
        assert report.ok and report.failed_at is None


def test_invalid_paths_and_bad_starts_are_vacuously_ok():
    assert check_action_path_safe(NON_NEGATIVE, [0]) == check_action_path_safe(NON_NEGATIVE, [0])
    r = check_action_path_safe(NON_NEGATIVE, [0])
    assert r.ok and not r.path_ok
    r = check_action_path_safe(NON_NEGATIVE, [2], state=-1)
    assert r.ok and not r.path_ok and r.state == -1
    assert not check_action_path_safe(BROKEN, [1, 0, 2]).ok
