"""The collector properties: every invariant of TorchLean's rollout collection, one named value each.

Mirrors ``NN.Runtime.RL.PPO.collectRolloutFromCallbacks`` line by line (``PPO/Collect.lean``),
``PPO.Rollout`` (``steps_size_eq_horizon``), ``PolicyGradient.sampleActionFromLogits`` /
``actionLogSoftmax`` and ``Rollout.toActorCriticSample``. Each :class:`Property` takes a
:class:`~rollcheck.properties.collector.run.CollectorRun` (the case, the trace of every session
call, the returned rollout) and returns a list of :class:`Finding` (empty when it holds).

The expected values are recomputed here from the trace with the spec functions, never taken from
the collector: step ``t``'s state is ``cast_obs`` of the observation the session was presenting
when the ``t``-th ``step_checked`` arrived; its action is the spec sampler's draw at
``(rng_seed, rng_counter + t)``; ``next_value`` uses the transition's ``next_observation`` (before
the auto-reset), and so on. Floats are compared within a tolerance derived per quantity from the
dtype the collector produced and the magnitudes involved (:mod:`rollcheck.properties.core.tolerances`;
``CollectorRun.tolerance`` overrides a quantity); states, actions and flags exactly.

Invariant enforced: ids are stable (reports, ``--skip``, the pytest plugin and the zoo test use
them); a finding names the first failing step, the expected and the actual value.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from rollcheck.spec import (Rollout, Step, action_log_softmax, action_violations, sample_action_from_logits,
                            to_actor_critic_sample)
from rollcheck.spec.random_stream import MASK64

from rollcheck.properties.collector.run import CollectorRun
from rollcheck.properties.core.property import CaseProperty, PropertySet
from rollcheck.properties.core.report import Finding
from rollcheck.properties.core.tolerances import produced_eps

__all__ = ["COLLECTOR_PROPERTIES", "ExpectedStep", "GAMMA", "LAMBDA", "expected_steps"]

GAMMA, LAMBDA = 0.99, 0.95   # for sample.matches_spec
_MAX_LISTED = 8


@dataclass(frozen=True)
class ExpectedStep:
    """What the spec says step ``t`` must hold, given what the session presented and returned."""

    state: np.ndarray
    logits: np.ndarray
    action_stepped: Any            # the raw action the collector passed to step_checked
    action_ok: bool                # ... is a Fin n_actions
    sampled_action: int            # sampleActionFromLogits (rng_seed, rng_counter + t)
    old_log_prob: "float | None"   # actionLogSoftmax logits action_stepped (None if out of range)
    value: float
    next_value: "float | None"
    reward: "float | None"
    done: "bool | None"
    terminated: "bool | None"


def expected_steps(run: CollectorRun) -> list[ExpectedStep]:
    """The spec's step ``t`` for every ``step_checked`` call in the trace (memoised on the run)."""
    cached = run._variants.get("_expected")
    if cached is not None:
        return cached
    case, inputs = run.case, run.inputs
    out = []
    for t, ts in enumerate(run.trace.steps):
        state = np.asarray(inputs.cast_obs(ts.presented))
        logits = np.asarray(inputs.policy.predict_logits(state), dtype=np.float64)
        counter = (case.rng_counter + t) & MASK64
        _, sampled = sample_action_from_logits(case.rng_seed, counter, logits)
        ok = not action_violations(case.n_actions, ts.action)
        tr = ts.transition
        out.append(ExpectedStep(
            state=state, logits=logits, action_stepped=ts.action, action_ok=ok, sampled_action=sampled,
            old_log_prob=action_log_softmax(logits, int(ts.action)) if ok else None,
            value=inputs.policy.predict_value(state),
            next_value=None if tr is None else inputs.policy.predict_value(inputs.cast_obs(tr.next_observation)),
            reward=None if tr is None else inputs.cast_reward(tr.reward),
            done=None if tr is None else tr.done, terminated=None if tr is None else tr.terminated))
    run._variants["_expected"] = out
    return out


def _steps(run: CollectorRun) -> "list[tuple[int, Step, ExpectedStep]]":
    """``(t, actual step, expected step)`` for the steps both the rollout and the trace have."""
    if run.rollout is None:
        return []
    return list(zip(range(len(run.rollout.steps)), run.rollout.steps, expected_steps(run)))


def _per_step(run: CollectorRun, what: str, ok: Callable[[Step, ExpectedStep], "bool | None"],
              expected: Callable[[ExpectedStep], Any], actual: Callable[[Step], Any]) -> list[Finding]:
    bad = [(t, st, ex) for t, st, ex in _steps(run) if ok(st, ex) is False]
    if not bad:
        return []
    t, st, ex = bad[0]
    listed = ", ".join(str(b[0]) for b in bad[:_MAX_LISTED]) + (" ..." if len(bad) > _MAX_LISTED else "")
    return [Finding(message=f"step {t}: {what} (failing steps: {listed} of {run.case.horizon})",
                    step=t, expected=expected(ex), actual=actual(st),
                    context={"failing_steps": [b[0] for b in bad]})]


def _same_state(st: Step, ex: ExpectedStep) -> bool:
    return st.state.shape == ex.state.shape and np.array_equal(st.state, ex.state, equal_nan=True)


def _compare_runs(a: Rollout, b: Rollout) -> "int | None":
    for t, (x, y) in enumerate(zip(a.steps, b.steps)):
        if x != y:
            return t
    return None if len(a.steps) == len(b.steps) else min(len(a.steps), len(b.steps))


# -- the checks ---------------------------------------------------------------------------------
def _completes(run: CollectorRun) -> list[Finding]:
    if run.error is None:
        return []
    return [Finding(message=f"collect failed on a session whose every step is valid: {run.error.splitlines()[0]}",
                    expected="(Rollout, counter)", actual=run.error.splitlines()[0], context={"error": run.error})]


def _no_global_rng(run: CollectorRun) -> list[Finding]:
    if not run.global_rng_touched:
        return []
    return [Finding(message="collect changed the global `random`/`numpy.random` state: it draws from a "
                    "hidden RNG instead of the (rng_seed, counter) stream",
                    expected="global RNG state unchanged", actual="changed")]


def _started_once(run: CollectorRun) -> list[Finding]:
    if run.trace.starts == 1:
        return []
    return [Finding(message=f"start() was called {run.trace.starts} times", expected=1, actual=run.trace.starts)]


def _threaded(run: CollectorRun) -> list[Finding]:
    stale = [t for t, ts in enumerate(run.trace.steps) if not ts.threaded]
    if not stale:
        return []
    return [Finding(message=f"step_checked call {stale[0]} got a stale session value, not the one the previous "
                    "call (or start) returned", step=stale[0], expected="the latest session value",
                    actual="an older session value", context={"stale_calls": stale})]


def _steps_eq_horizon(run: CollectorRun) -> list[Finding]:
    n = len(run.trace.steps)
    if n == run.case.horizon or (run.error is not None and n < run.case.horizon):
        return []
    return [Finding(message=f"step_checked was called {n} times for horizon={run.case.horizon}",
                    expected=run.case.horizon, actual=n)]


def _length(run: CollectorRun) -> list[Finding]:
    r = run.rollout
    if r is None or (r.horizon == run.case.horizon and len(r.steps) == run.case.horizon):
        return []
    return [Finding(message=f"the rollout has {len(r.steps)} steps (horizon={r.horizon}); {run.case.horizon} asked",
                    step=min(len(r.steps), run.case.horizon), expected=run.case.horizon, actual=len(r.steps))]


def _counter(run: CollectorRun) -> list[Finding]:
    if run.rollout is None:
        return []
    want = run.case.rng_counter + run.case.horizon
    got = run.counter
    if isinstance(got, (int, np.integer)) and not isinstance(got, bool) and int(got) == want:
        return []
    return [Finding(message=f"returned counter {got!r} but rng_counter + horizon = {want}", expected=want, actual=got)]


def _state_presented(run: CollectorRun) -> list[Finding]:
    return _per_step(run, "state is not cast_obs of the observation presented before this step_checked",
                     _same_state, lambda ex: ex.state, lambda st: st.state)


def _state_not_aliased(run: CollectorRun) -> list[Finding]:
    findings = []
    if run.changed_by_scribble:
        t = run.changed_by_scribble[0]
        findings.append(Finding(message=f"step {t}: the returned state changed when the session overwrote its "
                                "buffer after collect returned", step=t))
    if run.rollout is None or run.case.buffers != "reuse" or run.case.env_id is not None:
        return findings
    fresh = run.variant("fresh")
    if fresh.rollout is None:
        return findings
    bad = []
    pairs = zip(run.rollout.steps, fresh.rollout.steps, run.trace.steps, fresh.trace.steps)
    for t, (a, b, ta, tb) in enumerate(pairs):
        if not (np.array_equal(ta.presented, tb.presented) and ta.action == tb.action):
            break   # the two runs went different ways (a nondeterministic collector): compare no further
        if not (a.state.shape == b.state.shape and np.array_equal(a.state, b.state, equal_nan=True)):
            bad.append(t)
    if bad:
        t = bad[0]
        findings.append(Finding(
            message=f"step {t}: the state differs when the session reuses its observation buffer (the collector "
                    "keeps a reference to the session's array instead of a copy)", step=t,
            expected=fresh.rollout.steps[t].state, actual=run.rollout.steps[t].state,
            context={"failing_steps": bad}))
    return findings


def _action_stepped(run: CollectorRun) -> list[Finding]:
    return _per_step(run, "Step.action is not the action passed to step_checked",
                     lambda st, ex: st.action == ex.action_stepped if ex.action_ok else None,
                     lambda ex: ex.action_stepped, lambda st: st.action)


def _action_in_range(run: CollectorRun) -> list[Finding]:
    n = run.case.n_actions
    bad = [(t, ts.action) for t, ts in enumerate(run.trace.steps) if action_violations(n, ts.action)]
    if run.rollout is not None:
        bad += [(t, st.action) for t, st in enumerate(run.rollout.steps) if st.action >= n]
    if not bad:
        return []
    t, a = min(bad, key=lambda b: b[0])
    return [Finding(message=f"step {t}: action {a!r} is not in Fin {n}", step=t, expected=f"0 <= action < {n}",
                    actual=repr(a))]


def _action_sampled(run: CollectorRun) -> list[Finding]:
    exp = expected_steps(run)
    bad = [t for t, ex in enumerate(exp) if not ex.action_ok or int(ex.action_stepped) != ex.sampled_action]
    if not bad:
        return []
    t = bad[0]
    return [Finding(message=f"step {t}: the action passed to step_checked is not sampleActionFromLogits"
                    f"(rng_seed, rng_counter + {t}, predict_logits(state))", step=t,
                    expected=exp[t].sampled_action, actual=exp[t].action_stepped,
                    context={"failing_steps": bad, "logits": exp[t].logits.tolist()})]


_QUANTITY = {"old_log_prob": "log_prob", "value": "value", "next_value": "value", "reward": "reward"}


def _scale(attr: str, ex: ExpectedStep, typical: float) -> float:
    """The magnitude step ``ex``'s ``attr`` went through (see :mod:`rollcheck.properties.core.tolerances`)."""
    if attr == "old_log_prob":
        finite = ex.logits[np.isfinite(ex.logits)]
        return 1.0 + (float(np.abs(finite).max()) if finite.size else 0.0)
    if attr in ("value", "next_value"):
        return typical
    return 0.0


def _floats(name: str, attr: str) -> Callable[[CollectorRun], list[Finding]]:
    """Step ``attr`` against the spec's value, within the tolerance derived from the dtype the
    collector produced for it (float32 when every recorded value round-trips through float32)."""
    def check(run: CollectorRun) -> list[Finding]:
        steps = _steps(run)
        if not steps:
            return []
        eps = produced_eps([float(getattr(st, attr)) for _, st, _ in steps])
        wanted = [abs(w) for _, _, ex in steps if (w := getattr(ex, attr)) is not None and math.isfinite(w)]
        typical = float(np.mean(wanted)) if wanted else 0.0
        quantity = _QUANTITY[attr]

        def ok(st: Step, ex: ExpectedStep) -> "bool | None":
            want = getattr(ex, attr)
            if want is None:
                return None
            return bool(run.tolerance.close(quantity, want, getattr(st, attr), eps, _scale(attr, ex, typical)))
        return _per_step(run, name, ok, lambda ex: getattr(ex, attr), lambda st: getattr(st, attr))
    return check


def _flags(name: str, attr: str) -> Callable[[CollectorRun], list[Finding]]:
    def check(run: CollectorRun) -> list[Finding]:
        def ok(st: Step, ex: ExpectedStep) -> "bool | None":
            want = getattr(ex, attr)
            return None if want is None else getattr(st, attr) == want
        return _per_step(run, name, ok, lambda ex: getattr(ex, attr), lambda st: getattr(st, attr))
    return check


def _deterministic(run: CollectorRun) -> list[Finding]:
    if run.rollout is None:
        return []
    again = run.variant("again")
    if again.rollout is None:
        return [Finding(message=f"the same call failed the second time: {again.error}", actual=again.error)]
    t = _compare_runs(run.rollout, again.rollout)
    if t is None and again.counter == run.counter:
        return []
    if t is None:
        return [Finding(message="the same call returned a different counter", expected=run.counter,
                        actual=again.counter)]
    a = run.rollout.steps[t] if t < len(run.rollout.steps) else None
    b = again.rollout.steps[t] if t < len(again.rollout.steps) else None
    return [Finding(message=f"step {t}: the same call returned a different step the second time", step=t,
                    expected=_step_dict(a), actual=_step_dict(b))]


def _step_dict(st: "Step | None") -> Any:
    if st is None:
        return None
    return {"state": st.state.tolist(), "action": st.action, "old_log_prob": st.old_log_prob, "reward": st.reward,
            "done": st.done, "value": st.value, "next_value": st.next_value, "terminated": st.terminated}


def _other_seed(run: CollectorRun) -> "int | None":
    """A seed whose spec draw at step 0 differs from the case's (None when no seed changes it)."""
    exp = expected_steps(run)
    if not exp:
        return None
    logits, c = exp[0].logits, run.case.rng_counter
    for k in range(1, 65):
        s = (run.case.rng_seed + k * 0x9E3779B97F4A7C15) & MASK64
        if sample_action_from_logits(s, c, logits)[1] != exp[0].sampled_action:
            return s
    return None


def _seed_changes(run: CollectorRun) -> list[Finding]:
    if run.rollout is None or not run.trace.steps:
        return []
    s = _other_seed(run)
    if s is None:
        return []
    other = run.variant(("seed", s))
    if not other.trace.steps or other.trace.steps[0].action != run.trace.steps[0].action:
        return []
    return [Finding(message=f"rng_seed={s} gives the same first action as rng_seed={run.case.rng_seed}, although "
                    "the spec sampler draws differently: the seed does not reach the sampler", step=0,
                    expected=f"an action other than {run.trace.steps[0].action!r}", actual=other.trace.steps[0].action,
                    context={"other_seed": s})]


def _sample(run: CollectorRun) -> list[Finding]:
    r = run.rollout
    exp = expected_steps(run)
    if r is None or len(exp) != run.case.horizon or not all(e.action_ok and e.reward is not None for e in exp):
        return []
    want_rollout = Rollout(steps=tuple(Step(state=e.state, action=int(e.action_stepped), old_log_prob=e.old_log_prob,
                                            reward=e.reward, done=e.done, value=e.value, next_value=e.next_value,
                                            terminated=e.terminated) for e in exp), horizon=run.case.horizon)
    want = to_actor_critic_sample(want_rollout, GAMMA, LAMBDA, run.case.n_actions)
    try:
        got = to_actor_critic_sample(r, GAMMA, LAMBDA, run.case.n_actions)
    except Exception as exc:
        return [Finding(message=f"to_actor_critic_sample rejected the rollout: {exc}", actual=str(exc))]
    names = ("states", "actions_one_hot", "old_log_prob", "advantages", "value_target")
    eps = max(produced_eps([float(getattr(st, a)) for st in r.steps]) for a in ("old_log_prob", "value",
                                                                                   "next_value", "reward"))
    magnitude = max((abs(e.reward) + abs(e.value) + abs(e.next_value) for e in exp), default=0.0)
    horizon_scale = magnitude / (1.0 - GAMMA * LAMBDA)
    max_logit = max((float(np.abs(e.logits[np.isfinite(e.logits)]).max(initial=0.0)) for e in exp), default=0.0)
    quantities = {"states": ("value", 0.0), "actions_one_hot": ("value", 0.0),
                  "old_log_prob": ("log_prob", 1.0 + max_logit), "advantages": ("advantage", horizon_scale),
                  "value_target": ("return", horizon_scale)}
    for name, w, g in zip(names, want.as_tuple(), got.as_tuple()):
        quantity, scale = quantities[name]
        exact = name in ("states", "actions_one_hot")
        close = (np.array_equal(w, g) if exact else run.tolerance.close(quantity, w, g, eps, scale)) \
            if w.shape == g.shape else False
        same = bool(np.all(close))
        if not same:
            rows = [] if w.shape != g.shape else sorted({int(k[0]) for k in np.argwhere(~np.asarray(close))}) \
                if not exact else [t for t in range(len(w)) if not np.array_equal(w[t], g[t])]
            t = rows[0] if rows else None
            return [Finding(message=f"ActorCriticSample.{name} differs from the spec's (GAE with gamma={GAMMA}, "
                            f"lambda={LAMBDA}, truncation bootstrapped from next_value)"
                            + (f" first at row {t}" if t is not None else ""), step=t,
                            expected=w[t].tolist() if t is not None else w.tolist(),
                            actual=g[t].tolist() if t is not None else g.tolist())]
    return []


COLLECTOR_PROPERTIES = PropertySet([
    CaseProperty("collector.completes", "PPO.collectRolloutFromCallbacks : IO (Rollout α obsShape nActions horizon × Nat)",
       "on a session whose every step is valid, collect returns a (Rollout, counter) pair", _completes),
    CaseProperty("session.started_once", "collectRolloutFromCallbacks: let mut sess ← start",
       "start() is called exactly once", _started_once),
    CaseProperty("session.threaded", "collectRolloutFromCallbacks: let (tr, sess') ← stepChecked sess a; sess := sess'",
       "each step_checked receives the session value the previous call returned", _threaded),
    CaseProperty("session.steps_eq_horizon", "collectRolloutFromCallbacks: for _t in [0:horizon]",
       "step_checked is called exactly horizon times", _steps_eq_horizon),
    CaseProperty("rollout.length_eq_horizon", "PPO.Rollout.steps_size_eq_horizon",
       "the rollout has exactly horizon steps", _length),
    CaseProperty("rollout.counter_advanced", "PolicyGradient.sampleActionFromLogits (returns counter + 1)",
       "the returned counter is rng_counter + horizon", _counter),
    CaseProperty("step.state_is_presented_observation",
       "collectRolloutFromCallbacks: state := map castObservation (observe sess)",
       "step t's state is cast_obs of the observation presented before the t-th step_checked", _state_presented),
    CaseProperty("step.state_not_aliased", "PPO.Step.state : Tensor α obsShape (a value, not a reference)",
       "step t's state stays the same when the session reuses or overwrites its buffers", _state_not_aliased),
    CaseProperty("step.action_is_stepped_action", "collectRolloutFromCallbacks: action := tr.action",
       "step t's action is the action passed to the t-th step_checked", _action_stepped),
    CaseProperty("step.action_in_range", "Session.CheckedSession.stepChecked : Sess → Fin nActions → ...",
       "every action passed to step_checked and recorded is in Fin n_actions", _action_in_range),
    CaseProperty("step.action_is_spec_sample", "PolicyGradient.sampleActionFromLogits rngSeed counter (predictLogits obs)",
       "the t-th action is the spec sampler's draw at (rng_seed, rng_counter + t) from the state's logits",
       _action_sampled),
    CaseProperty("step.old_log_prob_is_log_softmax", "PolicyGradient.actionLogSoftmax logits a",
       "old_log_prob = action_log_softmax(predict_logits(state), action)",
       _floats("old_log_prob is not action_log_softmax(predict_logits(state), action)", "old_log_prob")),
    CaseProperty("step.value_is_critic", "collectRolloutFromCallbacks: value := predictValue obs",
       "value = predict_value(state)", _floats("value is not predict_value(state)", "value")),
    CaseProperty("step.next_value_before_reset",
       "collectRolloutFromCallbacks: nextValue := predictValue (map castObservation tr.nextObservation)",
       "next_value = predict_value(cast_obs(next observation before any auto-reset))",
       _floats("next_value is not predict_value(cast_obs(tr.next_observation)) (before auto-reset)", "next_value")),
    CaseProperty("step.reward_is_cast_reward", "collectRolloutFromCallbacks: reward := castReward tr.reward",
       "reward = cast_reward(transition reward)", _floats("reward is not cast_reward(tr.reward)", "reward")),
    CaseProperty("step.done_is_terminated_or_truncated", "collectRolloutFromCallbacks: done := tr.terminated || tr.truncated",
       "done = terminated or truncated", _flags("done is not tr.terminated or tr.truncated", "done")),
    CaseProperty("step.terminated_as_reported", "collectRolloutFromCallbacks: terminated := tr.terminated",
       "terminated is the transition's terminated flag", _flags("terminated is not tr.terminated", "terminated")),
    CaseProperty("collector.deterministic", "Spec.Random.keyOf rngSeed counter (collection is a function of its inputs)",
       "the same call returns the same rollout and counter", _deterministic),
    CaseProperty("collector.seed_changes_actions", "PolicyGradient.sampleActionFromLogits (seed := rngSeed)",
       "a different rng_seed changes the sampled actions", _seed_changes),
    CaseProperty("collector.no_global_rng", "Spec.Random.uniform seed counter (no hidden RNG state)",
       "collect leaves Python's and numpy's global RNG state untouched", _no_global_rng),
    CaseProperty("sample.matches_spec", "PPO.Rollout.toActorCriticSample",
       "the actor-critic minibatch equals the spec's, with truncation bootstrapped from next_value", _sample),
])
