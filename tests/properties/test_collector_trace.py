"""The instrumented callbacks of rollcheck.properties.collector.trace behave as documented."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given

from collector_zoo import correct_collect
from rollcheck.properties.collector.run import build_inputs, run_collector
from rollcheck.properties.collector.trace import SENTINEL, CollectorCase, MlpPolicy, PolicySpec
from rollcheck.properties.collector.validate import check_case, collector_cases
from rollcheck.spec import ArgumentError


def _drive(inputs, actions):
    s = inputs.session.start()
    out = []
    for a in actions:
        obs = inputs.session.observe(s)
        tr, s = inputs.session.step_checked(s, a)
        out.append((obs, tr))
    return s, out


def test_reused_buffer_is_overwritten_in_place_and_scribbled():
    inputs = build_inputs(CollectorCase(obs_shape=(2,), buffers="reuse", horizon=2))
    s = inputs.session.start()
    first = inputs.session.observe(s)
    kept = first.copy()
    tr, s = inputs.session.step_checked(s, 1)
    assert inputs.session.observe(s) is first            # one buffer for every observation
    assert np.array_equal(first, tr.next_observation)    # ... now showing the next one
    assert not np.array_equal(first, kept)
    assert np.array_equal(inputs.trace.steps[0].presented, kept)
    inputs.session.scribble()
    assert np.all(first == SENTINEL)


def test_fresh_buffers_are_read_only_copies():
    inputs = build_inputs(CollectorCase(buffers="fresh"))
    s = inputs.session.start()
    a, b = inputs.session.observe(s), inputs.session.observe(s)
    assert a is not b and not a.flags.writeable


def test_functional_sessions_record_stale_session_values():
    inputs = build_inputs(CollectorCase(session_style="functional", horizon=3))
    s0 = inputs.session.start()
    _tr, s1 = inputs.session.step_checked(s0, 0)
    inputs.session.step_checked(s0, 0)                   # stale: s1 was returned since
    assert [st.threaded for st in inputs.trace.steps] == [True, False]
    assert s1 is not s0


@pytest.mark.parametrize("kind, flags", [("terminated", (True, False)), ("truncated", (False, True)),
                                         ("both", (True, True))])
def test_episode_ends_and_auto_reset(kind, flags):
    inputs = build_inputs(CollectorCase(obs_shape=(), episodes=((2, kind),), horizon=4, n_actions=3))
    _s, out = _drive(inputs, [0, 2, 1, 1])
    assert [(tr.terminated, tr.truncated) for _o, tr in out] == [(False, False), flags, (False, False), (False, False)]
    end = inputs.trace.steps[1]
    assert not np.array_equal(end.transition.next_observation, end.after)   # pre-reset next obs != reset obs
    assert np.array_equal(inputs.trace.steps[2].presented, end.after)
    assert out[0][0].shape == ()                                            # scalar observations
    assert inputs.trace.episodes == 2


def test_rewards_depend_on_action_and_are_not_float32_exact():
    inputs = build_inputs(CollectorCase(n_actions=2, horizon=2))
    _s, out = _drive(inputs, [1, 0])
    assert out[0][1].reward != float(np.float32(out[0][1].reward))


@pytest.mark.parametrize("mode", ["normal", "shifted_up", "shifted_down", "extreme", "near_tied"])
def test_policy_logit_modes(mode):
    pol = MlpPolicy(3, 4, PolicySpec(hidden=3, weight_seed=5, logits=mode))
    z = pol.predict_logits(np.array([0.1, -0.2, 0.3]))
    assert z.shape == (4,) and np.all(np.isfinite(z))
    with np.errstate(over="ignore", under="ignore", invalid="ignore"):
        naive = np.exp(z) / np.sum(np.exp(z))
    if mode in ("shifted_up", "shifted_down"):
        assert not np.all(np.isfinite(naive))           # a naive softmax breaks here
    if mode == "near_tied":
        assert 0 < np.ptp(z) < 1e-9
    if mode == "extreme":
        assert np.ptp(z) > 100
    assert pol.predict_value(np.array([0.1, -0.2, 0.3])) == pol.predict_value(np.array([0.1, -0.2, 0.3]))


def test_single_action_and_scalar_policy():
    pol = MlpPolicy(1, 1, PolicySpec())
    assert pol.predict_logits(np.array(0.5)).shape == (1,)


@pytest.mark.parametrize("kwargs, field", [
    ({"n_actions": 0}, "n_actions"), ({"horizon": 0}, "horizon"), ({"rng_seed": -1}, "rng_seed"),
    ({"rng_counter": 2**64 - 1, "horizon": 2}, "rng_counter"), ({"episodes": ((0, "terminated"),)}, "episodes"),
    ({"episodes": ((1, "done"),)}, "episodes"), ({"buffers": "shared"}, "buffers"), ({"obs_shape": (0,)}, "obs_shape"),
    ({"cast": "int8"}, "cast")])
def test_case_rejects_what_the_types_would_not_admit(kwargs, field):
    with pytest.raises(ArgumentError, match=field):
        CollectorCase(**kwargs)


def test_run_records_collector_exceptions_and_global_rng():
    def boom(*args, **kwargs):
        raise RuntimeError("kaput")

    def rng_user(*args, **kwargs):
        np.random.random()
        return correct_collect(*args, **kwargs)

    bad = run_collector(boom, CollectorCase())
    assert bad.rollout is None and bad.error.startswith("RuntimeError: kaput")
    assert run_collector(rng_user, CollectorCase()).global_rng_touched
    assert not run_collector(correct_collect, CollectorCase()).global_rng_touched


@given(collector_cases())
def test_correct_collector_satisfies_every_property_on_every_case(case):
    assert check_case(correct_collect, case) == []


def test_recorded_gymnasium_session_traces_the_pre_reset_observation():
    inputs = build_inputs(CollectorCase(env_id="CartPole-v1", obs_shape=(4,), n_actions=2, horizon=40, env_seed=1))
    try:
        _s, out = _drive(inputs, [0] * 40)          # always push left: the pole falls within ~10 steps
    finally:
        inputs.close()
    steps = inputs.trace.steps
    t = next(i for i, st in enumerate(steps) if st.transition.terminated)
    assert not np.array_equal(steps[t].transition.next_observation, steps[t].after)   # reset happened
    assert np.array_equal(steps[t + 1].presented, steps[t].after)
    assert all(np.array_equal(o, st.presented) for (o, _tr), st in zip(out, steps))
