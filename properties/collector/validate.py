"""Validate a third-party rollout collector with the seed's signature, with shrunk reproducers.

Mirrors TorchLean's ``NN.Runtime.RL.PPO.collectRolloutFromCallbacks`` as a *specification*: a
user's ``collect(start, observe, step_checked, cast_obs, cast_reward, predict_logits,
predict_value, rng_seed, rng_counter, *, horizon, n_actions, obs_shape) -> (Rollout, counter)``
is driven with instrumented callbacks (:mod:`.collector_trace`, each call run by :mod:`.collector_run`)
over Hypothesis-generated cases, and every property of
:data:`~.collector_properties.COLLECTOR_PROPERTIES` is checked on each run.

How the search works: one seeded pass over ``examples`` generated cases checks every property on
each run (:func:`explore`); then, for each property violated there (or with a failure saved in
the Hypothesis example database of the rollcheck profile, keyed by target, property and
case space), ``hypothesis.find`` searches the same seeded sequence again with that property alone
and *shrinks* the first violating case to a minimal one. Runs are memoised per case, so the
collector runs about ``examples`` times plus the shrinking.

Invariant enforced: the :class:`Report` has one result per (non-skipped) property; each failure
carries the first failing step, expected and actual values and a paste-able reproducer; a target
that cannot be called with the seed's signature is ``Report.error`` (exit status 2).
"""

from __future__ import annotations

import inspect
import time
from random import Random
from typing import Any, Callable, Iterable

from hypothesis import HealthCheck, Phase, find, settings
from hypothesis import strategies as st
from hypothesis.errors import NoSuchExample

from rollcheck.properties.core.profiles import rollcheck_settings

from rollcheck.spec.arguments import check_count
from rollcheck.spec.errors import ArgumentError

from rollcheck.properties.collector.catalog import COLLECTOR_PROPERTIES
from rollcheck.properties.collector.run import build_inputs, run_collector
from rollcheck.properties.collector.trace import (BUFFERS, CASTS, END_KINDS, LOGIT_MODES, SESSION_STYLES, CollectorCase, PolicySpec,
                              env_signature)
from rollcheck.properties.collector.sampler import properties_for, run_campaign
from rollcheck.properties.core.property import CaseProperty, PropertySet, RunProperty, evaluate_property, findings_of
from rollcheck.properties.core.report import Finding, PropertyResult, Report, report_stem
from rollcheck.properties.core.tolerances import Tolerances

__all__ = ["RunCache", "check_case", "check_property", "collector_cases", "describe_target", "explore",
           "render_reproducer", "signature_problem", "validate_collector"]

_SHAPES = [(), (1,), (2,), (3,), (2, 2)]
_MAX_HORIZON = 24


_POLICIES = st.builds(PolicySpec, hidden=st.integers(1, 6), weight_seed=st.integers(0, 2**16),
                      logits=st.sampled_from(LOGIT_MODES), value_scale=st.sampled_from([1.0, 1000.0]))
_SEEDS = st.one_of(st.integers(0, 2**16), st.integers(0, 2**64 - 1))
_EPISODES = st.lists(st.tuples(st.integers(1, 6), st.sampled_from(END_KINDS)), max_size=6).map(tuple)
_SMALL = st.one_of(st.integers(0, 1000), st.integers(2**63 - 40, 2**63 + 40))
_ANY_COUNTER = st.integers(0, 2**64 - 1)
_SHAPE, _N_ACTIONS = st.sampled_from(_SHAPES), st.integers(1, 5)
_BUFFERS, _STYLES, _CASTS = st.sampled_from(BUFFERS), st.sampled_from(SESSION_STYLES), st.sampled_from(CASTS)
_COUNTER_KIND = st.integers(0, 2)


def collector_cases(*, horizon: "int | None" = None, env: "str | None" = None,
                    env_spaces: "tuple[tuple, int] | None" = None) -> st.SearchStrategy[CollectorCase]:
    """Cases for :func:`validate_collector`: scripted adversarial sessions, plus ``env`` runs if given.

    ``horizon`` fixes every case's horizon (else 1..24, 1 included). Counters include values near
    2**63 (int64 overflow) and up to 2**64 - 1 - horizon. Shrinking goes towards a scalar
    observation, one action, horizon 1, seed and counter 0, no episode end, fresh buffers.
    """
    horizon = None if horizon is None else check_count("horizon", horizon)
    horizons = st.just(horizon) if horizon is not None else st.integers(1, _MAX_HORIZON)

    @st.composite
    def scripted(draw: Any) -> CollectorCase:
        h = draw(horizons)
        counter = draw(_SMALL) if draw(_COUNTER_KIND) < 2 else draw(_ANY_COUNTER) % (2**64 - h)
        return CollectorCase(obs_shape=draw(_SHAPE), n_actions=draw(_N_ACTIONS), horizon=h, rng_seed=draw(_SEEDS),
                             rng_counter=counter, episodes=draw(_EPISODES), buffers=draw(_BUFFERS),
                             session_style=draw(_STYLES), obs_dtype=draw(_CASTS), cast=draw(_CASTS),
                             policy=draw(_POLICIES))

    if env is None:
        return scripted()
    if env_spaces is None:
        env_spaces = env_signature(env)
    shape, n_actions = env_spaces

    env_horizons = st.just(horizon) if horizon is not None else st.integers(1, 64)
    env_seeds = st.integers(0, 1000)

    @st.composite
    def real(draw: Any) -> CollectorCase:
        h = draw(env_horizons)
        return CollectorCase(obs_shape=shape, n_actions=n_actions, horizon=h, rng_seed=draw(_SEEDS),
                             rng_counter=draw(_SMALL), cast=draw(_CASTS), policy=draw(_POLICIES), env_id=env,
                             env_seed=draw(env_seeds))

    return st.one_of(scripted(), real())


class RunCache:
    """Memoised runs of ``collect`` per case (cases are frozen and hashable); cleared past ``limit`` runs.

    ``run_case`` runs one case (:func:`~.run.run_collector`, or the continuous collector's
    ``run_box_collector``) and ``render`` prints a case's reproducer; the one search loop below
    (:func:`explore`, :func:`check_property`) serves both collectors through them.
    """

    def __init__(self, collect: Callable[..., Any], tolerance: Any = None, limit: int = 1024, *,
                 run_case: Callable[..., Any] = run_collector,
                 render: "Callable[[Any, Any, str], str] | None" = None) -> None:
        self.collect, self.limit, self.run_case = collect, limit, run_case
        self.tolerance = Tolerances.of(tolerance) if run_case is run_collector else tolerance
        self.render = render_reproducer if render is None else render
        self.runs: dict[Any, Any] = {}
        self.first_error: "str | None" = None   # the failure of the first run that returned no rollout

    def get(self, case: Any) -> Any:
        run = self.runs.get(case)
        if run is None:
            if len(self.runs) >= self.limit:
                self.runs.clear()
            run = self.runs[case] = self.run_case(self.collect, case, tolerance=self.tolerance)
            if run.rollout is None and self.first_error is None:
                self.first_error = run.error or "collect returned no rollout"
        return run


def describe_target(collect: Any) -> str:
    """``module:qualname`` of a function (or its ``repr`` when it has no importable name)."""
    module, qual = getattr(collect, "__module__", None), getattr(collect, "__qualname__", None)
    if module and qual and "<" not in qual:
        return f"{module}:{qual}"
    return repr(collect)


def signature_problem(collect: Any) -> "str | None":
    """Why ``collect`` cannot be called with the seed's signature, or ``None``."""
    if not callable(collect):
        return f"{collect!r:.80} is not callable"
    try:
        sig = inspect.signature(collect)
    except (TypeError, ValueError):
        return None   # builtins and C functions: try calling
    case = CollectorCase()
    args, kwargs = build_inputs(case).args()
    try:
        sig.bind(*args, **kwargs)
    except TypeError as exc:
        return (f"{describe_target(collect)}{sig} cannot be called as collect(start, observe, step_checked, cast_obs, "
                f"cast_reward, predict_logits, predict_value, rng_seed, rng_counter, *, horizon, n_actions, "
                f"obs_shape): {exc}")
    return None


def render_reproducer(collect: Any, case: CollectorCase, pid: str) -> str:
    """A paste-able Python snippet that rebuilds ``case`` and re-checks ``pid`` on ``collect``."""
    target = describe_target(collect)
    if ":" in target and not target.startswith("<"):
        module, qual = target.split(":", 1)
        if "." in qual:
            head = qual.split(".")[0]
            get = [f"from {module} import {head}", f"collect = {qual}"]
        else:
            get = [f"from {module} import {qual} as collect"]
    else:
        get = [f"collect = ...  # your collector ({target} has no importable name)"]
    return "\n".join([
        f"# rollcheck: minimal (Hypothesis-shrunk) case violating {pid}",
        "from rollcheck import CollectorCase, PolicySpec, check_case",
        *get,
        "",
        f"case = {case!r}",
        f"for finding in check_case(collect, case, only=[{pid!r}]):",
        "    print(finding.message, '| expected:', finding.expected, '| actual:', finding.actual)",
    ])


def check_case(collect: Callable[..., Any], case: CollectorCase, *, only: "Iterable[str] | None" = None,
               tolerance: Any = None) -> list[Finding]:
    """Run ``collect`` once on ``case`` and return the findings of every (or ``only`` the named) property."""
    props = [COLLECTOR_PROPERTIES[p] for p in only] if only is not None else list(COLLECTOR_PROPERTIES)
    return findings_of(props, run_collector(collect, case, tolerance=tolerance))


def _search_settings(examples: int, database: Any) -> settings:
    """The search's own settings: the profile supplies only ``examples`` and ``database``."""
    return settings(max_examples=examples, deadline=None, database=database, derandomize=False, backend="hypothesis",
                    phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.shrink],
                    suppress_health_check=list(HealthCheck))


# Properties judged from the session trace alone: they are evaluated even on a run whose collector
# raised; every other property needs the returned rollout, so such a run is not one of its cases.
_JUDGED_WITHOUT_ROLLOUT = frozenset({"collector.completes", "collector.no_global_rng", "session.started_once",
                                     "session.threaded", "step.env_action_in_box"})


def _count(result: PropertyResult, run: Any) -> None:
    """Count ``run`` as one case of ``result``'s property, if the property could be evaluated on it."""
    if run.rollout is None and result.id not in _JUDGED_WITHOUT_ROLLOUT:
        return
    result.examples += 1
    result.steps += len(run.trace.steps)
    result.episodes += run.trace.episodes


def check_property(collect: Callable[..., Any], prop: CaseProperty, strategy: st.SearchStrategy, *, examples: int,
                   seed: int, cache: RunCache, database: Any, key: str,
                   result: "PropertyResult | None" = None, seen: "set | None" = None,
                   known_violated: bool = False) -> PropertyResult:
    """Search for a minimal case violating ``prop`` (Hypothesis ``find``, shrinking); count what was tried.

    With an example ``database`` the search replays saved failures first and saves the new one;
    ``known_violated`` (set by :func:`validate_collector` after :func:`explore`) makes sure a
    violation seen in the seeded pass is found again even if the unseeded search misses it.
    """
    result = result or PropertyResult(id=prop.id, lean=prop.lean, statement=prop.statement)
    seen = set() if seen is None else seen

    def violated(case: Any) -> bool:
        run = cache.get(case)
        if case not in seen:
            seen.add(case)
            _count(result, run)
        return bool(evaluate_property(prop, run))

    case = None
    if database is not None:   # Hypothesis ignores the database under a fixed seed: search unseeded first
        try:
            case = find(strategy, violated, settings=_search_settings(examples, database),
                        database_key=_db_key(key, prop.id))
        except NoSuchExample:
            pass
    if case is None and (database is None or known_violated):
        try:   # the seeded sequence (the one explore() walked: its runs are memoised)
            case = find(strategy, violated, settings=_search_settings(examples, None), random=Random(seed))
        except NoSuchExample:
            pass
    if case is None:
        if known_violated:
            result.fail(Finding(message=f"{prop.id} was violated during the search but not when searched again "
                                "(is the collector deterministic?)"))
        return result
    run = cache.get(case)
    for f in evaluate_property(prop, run) or [Finding(message=f"{prop.id} was violated during the search but not "
                                                      "when the shrunk case was run again (is the collector "
                                                      "deterministic?)")]:
        f.reproducer = cache.render(collect, case, prop.id)
        f.context.update(property=prop.id, lean=prop.lean, case=repr(case))
        result.fail(f)
    return result


def _db_key(key: str, pid: str) -> bytes:
    return f"rollcheck.collector:{key}:{pid}".encode()


def explore(props: "list[CaseProperty]", strategy: st.SearchStrategy, *, examples: int, seed: int,
            cache: RunCache) -> "tuple[dict[str, PropertyResult], dict[str, set], set[str]]":
    """One pass over ``examples`` generated cases, every property checked on each run.

    Returns the per-property results (counts only), the cases each has seen, and the ids of the
    properties violated somewhere; only those are then searched again one by one, to shrink.
    """
    results = {p.id: PropertyResult(id=p.id, lean=p.lean, statement=p.statement) for p in props}
    seen: dict[str, set] = {p.id: set() for p in props}
    violated: set[str] = set()

    def observe(case: Any) -> bool:
        run = cache.get(case)
        for p in props:
            if case not in seen[p.id]:
                seen[p.id].add(case)
                _count(results[p.id], run)
            if p.id not in violated and evaluate_property(p, run):
                violated.add(p.id)
        return False

    try:
        find(strategy, observe, settings=_search_settings(examples, None), random=Random(seed))
    except NoSuchExample:
        pass
    return results, seen, violated


def validate_collector(collect: Callable[..., Any], *, env: "str | None" = None, horizon: "int | None" = None,
                       examples: "int | None" = None, seed: int = 0, skip: Iterable[str] = (),
                       report_dir: Any = None, tolerance: Any = None, database: Any = "profile",
                       only: "Iterable[str] | None" = None, target_name: "str | None" = None,
                       sampler: str = "spec") -> Report:
    """Check ``collect`` against every collector property; returns a :class:`Report`.

    ``env`` adds runs on that Gymnasium environment id (its own sessions always run too);
    ``horizon`` fixes the horizon (default: 1..24); ``examples`` cases per property (default: the
    rollcheck profile's ``max_examples``); ``seed`` seeds the search; ``skip`` drops
    property ids or prefixes; ``only`` keeps just those ids; ``report_dir`` writes
    ``collector-<name>.{md,json,junit.xml}`` there; ``tolerance`` fixes float tolerances (``None``:
    derived per quantity from the dtypes the collector produced; a float: every quantity; a mapping
    ``{"log_prob": 1e-6, ...}``: those quantities, see :mod:`rollcheck.properties.core.tolerances`);
    ``database`` is a Hypothesis example database (``"profile"``: the rollcheck profile's); ``target_name``
    names the target in the report (default ``module:qualname`` of ``collect``); ``sampler`` is
    ``"spec"`` (actions must be the ``(seed, counter)`` stream's, checked exactly) or ``"any"`` (the
    collector samples its own way: actions, seed sensitivity and determinism are judged in
    distribution on a fixed campaign, :mod:`rollcheck.properties.collector.sampler`).
    """
    t0 = time.time()
    examples = rollcheck_settings().max_examples if examples is None else examples
    examples = check_count("examples", examples)
    horizon = None if horizon is None else check_count("horizon", horizon)
    if not isinstance(seed, int) or isinstance(seed, bool):
        raise ArgumentError(f"seed={seed!r} should be an int")
    tolerances = Tolerances.of(tolerance)
    per_case, campaign_props = properties_for(sampler)
    known = PropertySet(per_case + campaign_props)
    kept = {p.id for p in known.without(skip)}
    if only is not None:
        only = list(only)
        for pid in only:
            known[pid]
        kept &= set(only)
    props = [p for p in per_case if p.id in kept]
    campaign_props = [p for p in campaign_props if p.id in kept]
    target = target_name or describe_target(collect)
    report = Report(title=f"rollcheck collector: {target}", target=target,
                    meta={"examples": examples, "seed": seed, "env": env or "(scripted sessions only)",
                          "horizon": horizon or f"1..{_MAX_HORIZON}", "sampler": sampler,
                          "tolerance": tolerances.describe(), "skipped": ", ".join(skip) or "none"})
    report.error = signature_problem(collect)
    strategy = None
    if report.error is None:
        try:
            strategy = collector_cases(horizon=horizon, env=env)
        except Exception as exc:
            report.error = f"environment {env!r} cannot be used: {type(exc).__name__}: {exc}"
    if strategy is not None:
        db = rollcheck_settings().database if database == "profile" else database
        cache = RunCache(collect, tolerances)
        key = f"{target}:{env}:{horizon}"
        props = list(props)
        results, seen, violated = explore(props, strategy, examples=examples, seed=seed, cache=cache)
        for prop in props:
            saved = db is not None and next(iter(db.fetch(_db_key(key, prop.id))), None) is not None
            if prop.id in violated or saved:   # shrink it (or replay the database's saved failure)
                check_property(collect, prop, strategy, examples=examples, seed=seed, cache=cache, database=db,
                               key=key, result=results[prop.id], seen=seen[prop.id],
                               known_violated=prop.id in violated)
            result = results[prop.id]
            if result.examples == 0 and cache.first_error is not None:
                result.set_error("not evaluated: collect returned no rollout on any case "
                                 f"(first: {cache.first_error.splitlines()[0]})")
            report.results.append(result)
        if campaign_props:
            report.results += _campaign_results(collect, campaign_props, tolerances)
    report.duration_s = time.time() - t0
    if report_dir is not None:
        options = {"env": env, "horizon": horizon, "examples": examples, "seed": seed, "skip": sorted(skip),
                   "tolerance": tolerance, "only": only, "sampler": sampler}
        report.meta["written"] = {k: str(v) for k, v in report.write(report_dir, _stem(target, options)).items()}
    return report


def _campaign_results(collect: Callable[..., Any], props: "list[RunProperty]",
                      tolerances: Tolerances) -> "list[PropertyResult]":
    """The ``--sampler any`` properties, judged once on the fixed campaign of long runs."""
    campaign = run_campaign(collect, tolerance=tolerances)
    out = []
    for prop in props:
        result = PropertyResult(id=prop.id, lean=prop.lean, statement=prop.statement, examples=len(campaign.runs),
                                steps=sum(len(r.trace.steps) for r in campaign.runs),
                                episodes=sum(r.trace.episodes for r in campaign.runs))
        broken = next((r.error for r in campaign.runs if r.rollout is None), None)
        if all(r.rollout is None for r in campaign.runs):
            result.set_error(f"not evaluated: collect returned no rollout on any campaign case "
                             f"(first: {(broken or '?').splitlines()[0]})")
            out.append(result)
            continue
        try:
            findings = list(prop.check(campaign))
        except Exception as exc:   # a property must never take the harness down; say what happened
            findings = []
            result.set_error(f"checking {prop.id} raised {type(exc).__name__}: {exc}")
        for f in findings:
            f.context.setdefault("property", prop.id)
            result.fail(f)
        out.append(result)
    return out


def _stem(target: str, options: dict) -> str:
    return report_stem("collector", target, options)
