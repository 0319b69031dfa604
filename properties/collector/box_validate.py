"""Validate a continuous-action (``Box``) rollout collector: the collector properties for Gaussian policies.

The continuous counterpart of :mod:`rollcheck.properties.collector.catalog` and
:func:`rollcheck.properties.collector.validate.validate_collector` — rollcheck's extension of
TorchLean's ``PPO.collectRolloutFromCallbacks`` to diagonal-Gaussian policies on a ``Box``
(:mod:`rollcheck.spec.gaussian`; the collector's signature is in :mod:`.box_run`). The properties
reuse the discrete ids where the statement is the same (``session.*``, ``rollout.*``,
``step.state_is_presented_observation``, ``step.value_is_critic`` ...); the action ones are new:

- ``step.env_action_in_box`` — every action passed to ``step_checked`` satisfies the Box (clipped
  or rescaled *before* the environment, as SB3 and CleanRL's ``ClipAction`` do);
- ``step.action_is_spec_sample`` — the recorded action is the spec's draw at ``(rng_seed, counter)``:
  the unclipped sample ``mean + exp(log_std)·z`` (or ``tanh`` of it when squashed);
- ``step.env_action_is_mapped_action`` — the action stepped is ``clip(recorded action)`` (or
  ``low + (a + 1)(high - low)/2`` when squashed);
- ``step.old_log_prob_is_gaussian_log_prob`` — ``old_log_prob`` is the log-probability of the
  *recorded* (unclipped) action under ``(mean, log_std)`` at the state, with the tanh correction
  when squashed;
- ``rollout.counter_advanced`` — the counter advanced by ``2·d`` per step (two uniforms per entry).

Floats are compared with ``math.isclose(rel_tol=tol, abs_tol=tol)``; actions exactly.

Invariant enforced: a :class:`Report` with one result per property; each failure names the first
failing step with expected and actual values and a paste-able reproducer.
"""

from __future__ import annotations

import inspect
import math
import time
from typing import Any, Callable, Iterable

import numpy as np
from hypothesis import strategies as st

from rollcheck.spec.arguments import check_count
from rollcheck.spec import (box_action_violations, clip_to_box, diag_gaussian_log_prob, gaussian_policy_step,
                            squashed_log_prob)
from rollcheck.spec.errors import ArgumentError
from rollcheck.spec.gaussian import unscale_action
from rollcheck.spec.random_stream import MASK64

from rollcheck.properties.collector.box_run import (BOX_BOUNDS, BoxCollectorCase, BoxCollectorRun, BoxPolicySpec,
                                                    box_env_signature, box_inputs, run_box_collector)
from rollcheck.properties.collector.trace import CASTS, END_KINDS
from rollcheck.properties.collector.validate import RunCache, check_property, describe_target, explore
from rollcheck.properties.core.profiles import rollcheck_settings
from rollcheck.properties.core.property import CaseProperty, PropertySet, findings_of
from rollcheck.properties.core.report import Finding, Report

__all__ = ["BOX_COLLECTOR_PROPERTIES", "box_collector_cases", "box_signature_problem", "check_box_case",
           "render_box_reproducer", "validate_box_collector"]

_MAX_HORIZON = 16

# -- what the spec says each step holds ---------------------------------------------------------------
def _expected(run: BoxCollectorRun) -> list[dict]:
    cached = run._variants.get("_expected")
    if cached is not None:
        return cached
    case, inputs, box = run.case, run.inputs, run.case.box
    out, counter = [], case.rng_counter
    for ts in run.trace.steps:
        state = np.asarray(inputs.cast_obs(ts.presented))
        mean, log_std = (np.asarray(x, dtype=np.float64) for x in inputs.policy.predict_gaussian(state))
        g = gaussian_policy_step(case.rng_seed, counter & MASK64, mean, log_std, box, squash=case.squash)
        counter += 2 * box.size
        tr = ts.transition
        out.append({"state": state, "mean": mean, "log_std": log_std, "draw": g,
                    "value": inputs.policy.predict_value(state),
                    "next_value": None if tr is None else inputs.policy.predict_value(inputs.cast_obs(tr.next_observation)),
                    "reward": None if tr is None else inputs.cast_reward(tr.reward),
                    "done": None if tr is None else tr.done, "terminated": None if tr is None else tr.terminated})
    run._variants["_expected"] = out
    return out


def _steps(run: BoxCollectorRun) -> list:
    return [] if run.rollout is None else list(run.rollout.steps)


def _flat(x: Any) -> "list[float] | None":
    try:
        return np.asarray(x, dtype=np.float64).reshape(-1).tolist()
    except (TypeError, ValueError):
        return None


def _first(bad: list, message: str, expected: Callable[[int], Any], actual: Callable[[int], Any]) -> list[Finding]:
    if not bad:
        return []
    t = bad[0]
    return [Finding(message=f"step {t}: {message}", step=t, expected=expected(t), actual=actual(t),
                    context={"failing_steps": bad[:32]})]


def _close(a: Any, b: Any, tol: float) -> bool:
    try:
        a, b = float(a), float(b)
    except (TypeError, ValueError):
        return False
    return a == b or math.isclose(a, b, rel_tol=tol, abs_tol=tol) or (a != a and b != b)


# -- the properties -----------------------------------------------------------------------------------
def _completes(run: BoxCollectorRun) -> list[Finding]:
    if run.error is None:
        return []
    first = run.error.splitlines()[0]
    return [Finding(message=f"collect did not return a rollout: {first}", expected="(Rollout, counter)",
                    actual=first, context={"error": run.error})]


def _started_once(run: BoxCollectorRun) -> list[Finding]:
    n = run.trace.starts
    return [] if n == 1 else [Finding(message=f"start() was called {n} times", expected=1, actual=n)]


def _threaded(run: BoxCollectorRun) -> list[Finding]:
    stale = [t for t, ts in enumerate(run.trace.steps) if not ts.threaded]
    return _first(stale, "step_checked got a stale session value", lambda t: "the latest session value",
                  lambda t: "an older session value")


def _steps_eq_horizon(run: BoxCollectorRun) -> list[Finding]:
    n, h = len(run.trace.steps), run.case.horizon
    if n == h or (run.error is not None and n < h):
        return []
    return [Finding(message=f"step_checked was called {n} times for horizon={h}", expected=h, actual=n)]


def _length(run: BoxCollectorRun) -> list[Finding]:
    r, h = run.rollout, run.case.horizon
    if r is None or (r.horizon == h and len(r.steps) == h):
        return []
    return [Finding(message=f"the rollout has {len(r.steps)} steps; horizon={h} asked", expected=h, actual=len(r.steps))]


def _counter(run: BoxCollectorRun) -> list[Finding]:
    if run.rollout is None:
        return []
    want = run.case.rng_counter + 2 * run.case.box.size * run.case.horizon
    got = run.counter
    if isinstance(got, (int, np.integer)) and not isinstance(got, bool) and int(got) == want:
        return []
    return [Finding(message=f"returned counter {got!r} but rng_counter + 2 * d * horizon = {want} "
                    "(two uniforms per action entry)", expected=want, actual=got)]


def _state_presented(run: BoxCollectorRun) -> list[Finding]:
    exp, steps = _expected(run), _steps(run)
    bad = [t for t, (st_, ex) in enumerate(zip(steps, exp))
           if not (st_.state.shape == ex["state"].shape and np.array_equal(st_.state, ex["state"], equal_nan=True))]
    return _first(bad, "state is not cast_obs of the observation presented before this step_checked",
                  lambda t: exp[t]["state"].tolist(), lambda t: steps[t].state.tolist())


def _env_action_in_box(run: BoxCollectorRun) -> list[Finding]:
    box = run.case.box
    bad = [t for t, ts in enumerate(run.trace.steps) if box_action_violations(box, ts.action)]
    return _first(bad, f"the action passed to step_checked is outside {box.describe()} (clip it, or rescale a "
                  "tanh-squashed action, before the environment)",
                  lambda t: f"an action in {box.describe()}", lambda t: repr(run.trace.steps[t].action))


def _action_sampled(run: BoxCollectorRun) -> list[Finding]:
    exp, steps = _expected(run), _steps(run)
    bad = [t for t, (st_, ex) in enumerate(zip(steps, exp)) if _flat(st_.action) != list(ex["draw"].action)]
    what = "tanh(mean + exp(log_std) * z)" if run.case.squash else "the unclipped sample mean + exp(log_std) * z"
    return _first(bad, f"the recorded action is not {what} with z the spec's normals at (rng_seed, rng_counter + "
                  "2d·t)", lambda t: list(exp[t]["draw"].action), lambda t: _flat(steps[t].action))


def _mapped(run: BoxCollectorRun, action: Any) -> "tuple[float, ...] | None":
    flat = _flat(action)
    if flat is None or len(flat) != run.case.box.size:
        return None
    return unscale_action(run.case.box, flat) if run.case.squash else clip_to_box(run.case.box, flat)


def _env_action_mapped(run: BoxCollectorRun) -> list[Finding]:
    steps = _steps(run)
    bad = [t for t, (st_, ts) in enumerate(zip(steps, run.trace.steps))
           if _flat(ts.action) != (list(m) if (m := _mapped(run, st_.action)) is not None else None)]
    what = "low + (a + 1)(high - low)/2 of" if run.case.squash else "clip(a, low, high) of"
    return _first(bad, f"the action passed to step_checked is not {what} the recorded action a",
                  lambda t: list(_mapped(run, steps[t].action) or []), lambda t: _flat(run.trace.steps[t].action))


def _expected_log_prob(run: BoxCollectorRun, ex: dict, action: Any) -> "float | None":
    flat = _flat(action)
    if flat is None or len(flat) != run.case.box.size:
        return None
    if flat == list(ex["draw"].action):
        return ex["draw"].log_prob
    if run.case.squash:
        if not all(-1.0 < a < 1.0 for a in flat):
            return None
        return squashed_log_prob(ex["mean"], ex["log_std"], [math.atanh(a) for a in flat])
    return diag_gaussian_log_prob(ex["mean"], ex["log_std"], flat)


def _log_prob(run: BoxCollectorRun) -> list[Finding]:
    exp, steps, tol = _expected(run), _steps(run), run.tolerance
    want = [_expected_log_prob(run, ex, st_.action) for st_, ex in zip(steps, exp)]
    bad = [t for t, (st_, w) in enumerate(zip(steps, want)) if w is not None and not _close(w, st_.old_log_prob, tol)]
    what = ("the squashed Gaussian log-probability (with the tanh correction) of the recorded action"
            if run.case.squash else "the Gaussian log-probability of the recorded (unclipped) action")
    return _first(bad, f"old_log_prob is not {what}", lambda t: want[t], lambda t: steps[t].old_log_prob)


def _floats(attr: str, message: str) -> Callable[[BoxCollectorRun], list[Finding]]:
    def check(run: BoxCollectorRun) -> list[Finding]:
        exp, steps = _expected(run), _steps(run)
        bad = [t for t, (st_, ex) in enumerate(zip(steps, exp))
               if ex[attr] is not None and not _close(ex[attr], getattr(st_, attr), run.tolerance)]
        return _first(bad, message, lambda t: exp[t][attr], lambda t: getattr(steps[t], attr))
    return check


def _flags(attr: str, message: str) -> Callable[[BoxCollectorRun], list[Finding]]:
    def check(run: BoxCollectorRun) -> list[Finding]:
        exp, steps = _expected(run), _steps(run)
        bad = [t for t, (st_, ex) in enumerate(zip(steps, exp)) if ex[attr] is not None and getattr(st_, attr) != ex[attr]]
        return _first(bad, message, lambda t: exp[t][attr], lambda t: getattr(steps[t], attr))
    return check


def _deterministic(run: BoxCollectorRun) -> list[Finding]:
    if run.rollout is None:
        return []
    again = run.variant("again")
    if again.rollout is None:
        return [Finding(message=f"the same call failed the second time: {again.error}", actual=again.error)]
    if run.rollout == again.rollout and again.counter == run.counter:
        return []
    t = next((t for t, (a, b) in enumerate(zip(run.rollout.steps, again.rollout.steps)) if a != b), None)
    return [Finding(message="the same call returned a different rollout or counter"
                    + (f" (first differing step {t})" if t is not None else ""), step=t)]


def _seed_changes(run: BoxCollectorRun) -> list[Finding]:
    """A Gaussian draw from another stream equals this one with probability 0 (unlike a categorical draw)."""
    if run.rollout is None or not run.trace.steps:
        return []
    other_seed = (run.case.rng_seed + 0x9E3779B97F4A7C15) & MASK64
    other = run.variant(("seed", other_seed))
    if other.rollout is None or not other.rollout.steps:
        return []
    a, b = _flat(run.rollout.steps[0].action), _flat(other.rollout.steps[0].action)
    if a != b:
        return []
    return [Finding(message=f"rng_seed={other_seed} records the same first action as rng_seed={run.case.rng_seed}: "
                    "the seed does not reach the sampler", step=0, expected="a different action", actual=b,
                    context={"other_seed": other_seed})]


def _no_global_rng(run: BoxCollectorRun) -> list[Finding]:
    if not run.global_rng_touched:
        return []
    return [Finding(message="collect changed the global `random`/`numpy.random` state: it draws from a hidden RNG "
                    "instead of the (rng_seed, counter) stream", expected="unchanged", actual="changed")]


BOX_COLLECTOR_PROPERTIES = PropertySet([
    CaseProperty("collector.completes", "PPO.collectRolloutFromCallbacks (continuous extension)",
                 "on a session whose every step is valid, collect returns a (Rollout, counter) pair", _completes),
    CaseProperty("session.started_once", "collectRolloutFromCallbacks: let mut sess ← start",
                 "start() is called exactly once", _started_once),
    CaseProperty("session.threaded", "collectRolloutFromCallbacks: sess := sess'",
                 "each step_checked receives the session value the previous call returned", _threaded),
    CaseProperty("session.steps_eq_horizon", "collectRolloutFromCallbacks: for _t in [0:horizon]",
                 "step_checked is called exactly horizon times", _steps_eq_horizon),
    CaseProperty("rollout.length_eq_horizon", "PPO.Rollout.steps_size_eq_horizon",
                 "the rollout has exactly horizon steps", _length),
    CaseProperty("rollout.counter_advanced", "rollcheck.spec.gaussian.sample_diag_gaussian (counter + 2d)",
                 "the returned counter is rng_counter + 2 * d * horizon", _counter),
    CaseProperty("step.state_is_presented_observation", "collectRolloutFromCallbacks: state := castObservation (observe sess)",
                 "step t's state is cast_obs of the observation presented before the t-th step_checked", _state_presented),
    CaseProperty("step.env_action_in_box", "Box contract (shape, finite, low <= a <= high) before env.step",
                 "every action passed to step_checked lies in the Box (clipped or rescaled first)", _env_action_in_box),
    CaseProperty("step.action_is_spec_sample", "rollcheck.spec.gaussian.gaussian_policy_step (seed, counter)",
                 "the recorded action is the spec's Gaussian draw (unclipped; tanh of it when squashed)", _action_sampled),
    CaseProperty("step.env_action_is_mapped_action", "SB3 collect_rollouts: clip (or unscale_action) before env.step",
                 "the action stepped is clip(recorded action), or its rescaling from [-1, 1] when squashed",
                 _env_action_mapped),
    CaseProperty("step.old_log_prob_is_gaussian_log_prob", "SB3 DiagGaussian / SquashedDiagGaussian log_prob",
                 "old_log_prob is the log-probability of the recorded (unclipped) action, tanh-corrected when squashed",
                 _log_prob),
    CaseProperty("step.value_is_critic", "collectRolloutFromCallbacks: value := predictValue obs",
                 "value = predict_value(state)", _floats("value", "value is not predict_value(state)")),
    CaseProperty("step.next_value_before_reset", "collectRolloutFromCallbacks: nextValue := predictValue nextObservation",
                 "next_value = predict_value(cast_obs(next observation before any auto-reset))",
                 _floats("next_value", "next_value is not predict_value(cast_obs(tr.next_observation)) (before auto-reset)")),
    CaseProperty("step.reward_is_cast_reward", "collectRolloutFromCallbacks: reward := castReward tr.reward",
                 "reward = cast_reward(transition reward)", _floats("reward", "reward is not cast_reward(tr.reward)")),
    CaseProperty("step.done_is_terminated_or_truncated", "collectRolloutFromCallbacks: done := tr.terminated || tr.truncated",
                 "done = terminated or truncated", _flags("done", "done is not tr.terminated or tr.truncated")),
    CaseProperty("step.terminated_as_reported", "collectRolloutFromCallbacks: terminated := tr.terminated",
                 "terminated is the transition's terminated flag", _flags("terminated", "terminated is not tr.terminated")),
    CaseProperty("collector.deterministic", "Spec.Random.keyOf rngSeed counter (collection is a function of its inputs)",
                 "the same call returns the same rollout and counter", _deterministic),
    CaseProperty("collector.seed_changes_actions", "rollcheck.spec.gaussian.standard_normal (seed := rngSeed)",
                 "a different rng_seed changes the first sampled action", _seed_changes),
    CaseProperty("collector.no_global_rng", "Spec.Random.uniform seed counter (no hidden RNG state)",
                 "collect leaves Python's and numpy's global RNG state untouched", _no_global_rng),
])


# -- the search ---------------------------------------------------------------------------------------
_POLICIES = st.builds(BoxPolicySpec, hidden=st.integers(1, 6), weight_seed=st.integers(0, 2**16),
                      log_std=st.sampled_from(("constant", "state")), log_std_shift=st.sampled_from([0.0, -1.0, 1.0]))
_EPISODES = st.lists(st.tuples(st.integers(1, 6), st.sampled_from(END_KINDS)), max_size=4).map(tuple)
_COUNTERS = st.one_of(st.integers(0, 1000), st.integers(2**63 - 40, 2**63 + 40))


def box_collector_cases(*, horizon: "int | None" = None, env: "str | None" = None) -> st.SearchStrategy:
    """Cases for :func:`validate_box_collector`: scripted Box sessions (narrow, wide, asymmetric and
    unbounded Boxes, plain and tanh-squashed policies, constant and state-dependent log-stds), plus
    ``env`` runs if given. Shrinks towards a scalar-sized action, horizon 1, seed and counter 0."""
    horizon = None if horizon is None else check_count("horizon", horizon)
    horizons = st.just(horizon) if horizon is not None else st.integers(1, _MAX_HORIZON)

    @st.composite
    def scripted(draw: Any) -> BoxCollectorCase:
        bounds = draw(st.sampled_from(BOX_BOUNDS))
        squash = bounds != "unbounded" and draw(st.booleans())
        return BoxCollectorCase(obs_shape=draw(st.sampled_from([(1,), (2,), (3,)])),
                                action_shape=draw(st.sampled_from([(1,), (2,), (3,)])), bounds=bounds, squash=squash,
                                horizon=draw(horizons), rng_seed=draw(st.integers(0, 2**64 - 1)),
                                rng_counter=draw(_COUNTERS), episodes=draw(_EPISODES), cast=draw(st.sampled_from(CASTS)),
                                policy=draw(_POLICIES))

    if env is None:
        return scripted()
    obs_shape, box = box_env_signature(env)

    @st.composite
    def real(draw: Any) -> BoxCollectorCase:
        squash = box.bounded and draw(st.booleans())
        return BoxCollectorCase(obs_shape=obs_shape, action_shape=box.shape.dims, squash=squash,
                                horizon=draw(st.just(horizon) if horizon is not None else st.integers(1, 48)),
                                rng_seed=draw(st.integers(0, 2**32)), rng_counter=draw(st.integers(0, 1000)),
                                cast=draw(st.sampled_from(CASTS)), policy=draw(_POLICIES), env_id=env,
                                env_seed=draw(st.integers(0, 1000)), env_box=box)

    return st.one_of(scripted(), real())


def check_box_case(collect: Callable[..., Any], case: BoxCollectorCase, *, only: "Iterable[str] | None" = None,
                   tolerance: float = 1e-9) -> list[Finding]:
    """Run ``collect`` once on ``case`` and return the findings of every (or ``only`` the named) property."""
    props = [BOX_COLLECTOR_PROPERTIES[p] for p in only] if only is not None else list(BOX_COLLECTOR_PROPERTIES)
    return findings_of(props, run_box_collector(collect, case, tolerance=tolerance))


def render_box_reproducer(collect: Any, case: BoxCollectorCase, pid: str) -> str:
    """A paste-able snippet that rebuilds ``case`` and re-checks ``pid`` on ``collect``."""
    target = describe_target(collect)
    if ":" in target and not target.startswith("<"):
        module, qual = target.split(":", 1)
        get = [f"from {module} import {qual.split('.')[0]}", f"collect = {qual}"]
    else:
        get = [f"collect = ...  # your collector ({target} has no importable name)"]
    return "\n".join([f"# rollcheck: minimal (Hypothesis-shrunk) case violating {pid}",
                      "from rollcheck import Box, BoxCollectorCase, BoxPolicySpec, check_box_case", *get, "",
                      f"case = {case!r}", f"for finding in check_box_case(collect, case, only=[{pid!r}]):",
                      "    print(finding.message, '| expected:', finding.expected, '| actual:', finding.actual)"])


def box_signature_problem(collect: Any) -> "str | None":
    """Why ``collect`` cannot be called with the continuous signature (see :mod:`.box_run`), or ``None``."""
    if not callable(collect):
        return f"{collect!r:.80} is not callable"
    try:
        sig = inspect.signature(collect)
    except (TypeError, ValueError):
        return None   # builtins and C functions: try calling
    inputs = box_inputs(BoxCollectorCase())
    try:
        sig.bind(*inputs.args()[0], **inputs.args()[1])
    except TypeError as exc:
        return (f"{describe_target(collect)}{sig} cannot be called as collect(start, observe, step_checked, "
                "cast_obs, cast_reward, predict_gaussian, predict_value, rng_seed, rng_counter, *, horizon, "
                f"action_space, obs_shape, squash): {exc}")
    finally:
        inputs.close()
    return None


def validate_box_collector(collect: Callable[..., Any], *, env: "str | None" = None, horizon: "int | None" = None,
                           examples: "int | None" = None, seed: int = 0, skip: Iterable[str] = (),
                           report_dir: Any = None, tolerance: float = 1e-9,
                           target_name: "str | None" = None) -> Report:
    """Check a continuous ``collect`` against :data:`BOX_COLLECTOR_PROPERTIES`; returns a :class:`Report`.

    The arguments are :func:`~rollcheck.properties.collector.validate.validate_collector`'s; ``env``
    must have a ``Box`` action space. Violated properties are searched again and shrunk. A target
    that cannot be called with the continuous signature is ``Report.error`` (exit status 2).
    """
    t0 = time.time()
    examples = rollcheck_settings().max_examples if examples is None else examples
    examples = check_count("examples", examples)
    if not isinstance(seed, int) or isinstance(seed, bool):
        raise ArgumentError(f"seed={seed!r} should be an int")
    if not (isinstance(tolerance, float) and 0 <= tolerance < 1):
        raise ArgumentError(f"tolerance={tolerance!r} should be a float in [0, 1)")
    skip = list(skip)
    props = list(BOX_COLLECTOR_PROPERTIES.without(skip))
    target = target_name or describe_target(collect)
    report = Report(title=f"rollcheck collector (Box actions): {target}", target=target,
                    meta={"examples": examples, "seed": seed, "env": env or "(scripted sessions only)",
                          "horizon": horizon or f"1..{_MAX_HORIZON}", "tolerance": tolerance,
                          "action_space": "box", "skipped": ", ".join(skip) or "none"})
    report.error = box_signature_problem(collect)
    strategy = None
    if report.error is None:
        try:
            strategy = box_collector_cases(horizon=horizon, env=env)
        except Exception as exc:  # noqa: BLE001 — an unusable env is the report's error, not a crash
            report.error = f"environment {env!r} cannot be used: {type(exc).__name__}: {exc}"
    if strategy is not None:
        cache = RunCache(collect, tolerance, run_case=run_box_collector, render=render_box_reproducer)
        results, seen, violated = explore(props, strategy, examples=examples, seed=seed, cache=cache)
        for prop in props:
            if prop.id in violated:   # search the seeded sequence again for it alone and shrink
                check_property(collect, prop, strategy, examples=examples, seed=seed, cache=cache, database=None,
                               key=target, result=results[prop.id], seen=seen[prop.id], known_violated=True)
            result = results[prop.id]
            if result.examples == 0 and cache.first_error is not None:
                result.set_error("not evaluated: collect returned no rollout on any case "
                                 f"(first: {cache.first_error.splitlines()[0]})")
            report.results.append(result)
    report.duration_s = time.time() - t0
    if report_dir is not None:
        stem = "collector-box-" + "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in target.split(":")[-1])[:60]
        report.meta["written"] = {k: str(v) for k, v in report.write(report_dir, stem).items()}
    return report


