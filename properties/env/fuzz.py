"""``fuzz_env``: search an environment and its wrapper stack for contract violations.

Gymnasium's ``check_env`` runs a handful of resets and steps with fixed seeds; a bug that shows
after twenty steps, in the second episode, or only in states a random policy rarely reaches goes
unseen. ``fuzz_env`` drives Hypothesis over :class:`~rollcheck.properties.env.programs.Program` s
(reset seeds and action sequences mixing long random episodes and biased runs of one action),
runs each on instrumented fresh instances (:mod:`rollcheck.properties.env.runner`), and checks
every property of :mod:`rollcheck.properties.env.catalog`. Each failing property shrinks to a
minimal ``(seed, actions)`` and its :class:`~rollcheck.properties.core.report.Finding` carries a
short Python snippet that replays it.

Per example: fresh instance B runs the program with every per-call check; fresh instance A runs a
history, then the program twice (``reset.purity`` and ``determinism.reseeded_instance`` against
B's and A's own trajectory); only on a mismatch does a third fresh instance decide whether two
fresh instances already differ (``determinism.fresh_instances``). Failures of a property already
found are silenced in later search phases so other properties keep being searched.

Mirrors TorchLean ``Gymnasium.Session`` (``start``/``reset (seed?)``/``stepChecked``) and
``Boundary.Core``'s checkers. Invariant enforced: the global ``random`` and ``numpy.random``
states are the same after the run as before it; the run is a function of ``seed``.
"""

from __future__ import annotations

import random
import sys
import time
from typing import Any, Callable, Sequence

import numpy as np

from rollcheck.properties.env.programs import Program, programs, random_actions
from rollcheck.properties.env.catalog import ENV_PROPERTIES, RUN_LEVEL, VECTOR_PROPERTIES, trajectory_difference
from rollcheck.properties.env.runner import (Checker, Counters, PropertyFailure, episode_limit, failure, layers_of,
                                             probe_interval, run_program)
from rollcheck.properties.env.target import EnvTarget, TargetError, reproducer, resolve_target
from rollcheck.properties.core.report import Finding, PropertyResult, Report
from rollcheck.spec.contract import Contract
from rollcheck.spec.errors import RollcheckError, ArgumentError

__all__ = ["fuzz_env", "DEFAULT_MAX_EXAMPLES", "DEFAULT_MAX_STEPS"]

DEFAULT_MAX_EXAMPLES = 300
DEFAULT_MAX_STEPS = 400
_DETERMINISM = ("determinism.fresh_instances", "determinism.reseeded_instance", "reset.purity")


def _positive(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ArgumentError(f"{name}={value!r} should be at least one")
    return value


def _close(env: Any) -> None:
    try:
        env.close()
    except Exception:
        pass


def _action_index(records: list, index: int) -> "int | None":
    """The action whose call produced record ``index`` (``None`` for the first reset)."""
    n = sum(1 for r in records[: index + 1] if r[0] == "step") - 1
    return n if n >= 0 else None


class _Search:
    """State of one fuzzing run: the target, what is active or silenced, counters, findings."""

    def __init__(self, target: EnvTarget, active: set, contract: Contract, progress: Any) -> None:
        self.target, self.active, self.contract, self.progress = target, active, contract, progress
        self.silenced: set = set()
        self.phase_failed: set = set()
        self.counters = Counters()
        self.failures: dict[str, PropertyFailure] = {}
        self.generated = 0
        self.meta: dict = {}
        self.probe_every = 7

    def example(self, program: Program) -> None:
        if not self.phase_failed:
            self.generated += 1
            if self.progress is not None:
                self.progress(self.generated, self.counters.steps.get("_checked", 0))
        for pid in self.active - {"spaces.well_formed", "determinism.seeds_differ"}:
            self.counters.add(pid, examples=1)
        try:
            self._example(program)
        except PropertyFailure as exc:
            exc.program = program
            self.phase_failed.add(exc.pid)
            raise

    def _example(self, program: Program) -> None:
        b = self.target.make()
        try:
            checker = Checker(b, self.active, self.silenced, self.counters, self.contract, probe_every=self.probe_every)
            try:
                rec_b = run_program(b, program.seed, program.actions, checker)
            except PropertyFailure as exc:
                if exc.pid in self.silenced:
                    return  # the env cannot go on; that property was reported already
                raise
            if checker.probe_error:
                self.meta["probing"] = checker.probe_error
        finally:
            _close(b)
        wanted = [p for p in _DETERMINISM if p in self.active and p not in self.silenced]
        if not wanted or (self.phase_failed and not self.phase_failed & set(wanted)):
            return  # shrinking a per-call failure: the determinism runs cannot change the verdict
        a = self.target.make()
        try:
            if program.history:
                run_program(a, program.history_seed, program.history)
            rec_a1 = run_program(a, program.seed, program.actions)
            rec_a2 = run_program(a, program.seed, program.actions)
        except PropertyFailure:
            return  # the env broke differently on a re-run; the fresh-instance runs report it
        finally:
            _close(a)
        n = len(program.actions) + len(program.history)
        self.counters.add("_all", steps=n + len(program.actions))
        for pid in wanted:
            self.counters.add(pid, steps=n + 2 * len(program.actions), episodes=sum(r[0] == "reset" for r in rec_b))
        same = RUN_LEVEL["reset.purity"].check  # every determinism property compares trajectories alike
        p1, p2 = same(rec_b, rec_a1), same(rec_a1, rec_a2)
        if not p1 and not p2:
            return
        c = self.target.make()
        try:
            rec_c = run_program(c, program.seed, program.actions)
        finally:
            _close(c)
        p0 = same(rec_b, rec_c)
        if p0 or (p1 and not program.history):
            self._fail("determinism.fresh_instances", rec_b, rec_c if p0 else rec_a1,
                       "two fresh instances reset with the same seed and given the same actions diverge")
            return  # two fresh instances already differ: re-seeding and purity cannot be judged
        if p2:
            self._fail("determinism.reseeded_instance", rec_a1, rec_a2,
                       "re-seeding the same instance and replaying the same actions gives a different trajectory")
        if p1:
            self._fail("reset.purity", rec_b, rec_a1,
                       f"after a history of {len(program.history)} steps (seed {program.history_seed}), "
                       "reset(seed) does not replay like a fresh env")

    def _fail(self, pid: str, expected: list, actual: list, what: str) -> None:
        if pid not in self.active or pid in self.silenced:
            return
        problem = RUN_LEVEL[pid].check(expected, actual)[0]
        index = trajectory_difference(expected, actual)[0]
        raise failure(pid, f"{what}: {problem}", step=_action_index(expected, index), context={"call": index})


def _static_checks(target: EnvTarget, active: set, seed: int, results: dict, meta: dict) -> None:
    env = target.make()
    try:
        if "spaces.well_formed" in active:
            layers = layers_of(env)
            results["spaces.well_formed"].examples += len(layers)
            for problem in RUN_LEVEL["spaces.well_formed"].check(layers):
                results["spaces.well_formed"].fail(Finding(
                    problem, reproducer=reproducer(target, "spaces.well_formed", seed, (), message=problem)))
        if "determinism.seeds_differ" in active:
            _seeds_differ(target, env, seed, results["determinism.seeds_differ"], meta)
    finally:
        _close(env)


def _seeds_differ(target: EnvTarget, env: Any, seed: int, result: PropertyResult, meta: dict) -> None:
    actions = random_actions(env.action_space, seed, 30)
    trajectories, rng_states = [], []
    for s in range(seed, seed + 8):
        e = target.make()
        try:
            trajectories.append(run_program(e, s, actions))
            base = layers_of(e)[-1]
            gen = getattr(base, "_np_random", None)
            rng_states.append(repr(gen.bit_generator.state) if gen is not None else None)
            result.examples += 1
            result.steps += len(actions)
            result.episodes += sum(r[0] == "reset" for r in trajectories[-1])
        except PropertyFailure:
            return  # the per-call properties report this env's failure
        finally:
            _close(e)
    problems = RUN_LEVEL["determinism.seeds_differ"].check(trajectories, rng_states)
    if not problems and all(trajectory_difference(trajectories[0], t) is None for t in trajectories[1:]):
        meta["seeds_differ"] = ("every seed gives the same trajectory, but the seed reaches the base env's "
                                "np_random: the env looks deterministic (not a violation)")
    for problem in problems:
        result.fail(Finding(f"seeds {seed}..{seed + 7}, 30 actions: {problem}", step=0,
                            reproducer=reproducer(target, "determinism.seeds_differ", seed, actions,
                                                  message="every seed gives the same trajectory")))


def _finding(target: EnvTarget, exc: PropertyFailure) -> Finding:
    program: Program = exc.program
    step = exc.step if exc.step is not None else -1  # None: the first reset, before any action
    if exc.pid == "actions.accepted" and "probe_action" in exc.context:
        keep = max(0, step)  # the probe is stepped from the state reached after actions[:step]
    elif exc.pid == "aliasing.no_mutation":
        keep = exc.context.get("detected_at", step) + 1  # run until the change is visible
    else:
        keep = step + 1
    actions = list(program.actions[:keep]) if exc.pid not in _DETERMINISM else list(program.actions)
    context = {k: v for k, v in exc.context.items() if k != "probe_action"}
    context.update(seed=program.seed, n_actions=len(actions))
    if exc.pid == "reset.purity":
        context.update(history_seed=program.history_seed, history_length=len(program.history))
    return Finding(exc.message, step=exc.step, expected=exc.expected, actual=exc.actual, context=context,
                   reproducer=reproducer(target, exc.pid, program.seed, actions, message=exc.message,
                                         history_seed=program.history_seed, history=program.history,
                                         probe=exc.context.get("probe_action")))


def _flatten_errors(exc: BaseException) -> list[BaseException]:
    if isinstance(exc, BaseExceptionGroup):
        out: list[BaseException] = []
        for e in exc.exceptions:
            out += _flatten_errors(e)
        return out
    return [exc]


class _InternalError(RollcheckError):
    """Something other than a property failure stopped the search (reported as ``Report.error``)."""

    def __init__(self, cause: BaseException) -> None:
        import traceback
        tb = "".join(traceback.format_exception(type(cause), cause, cause.__traceback__, limit=-4))
        super().__init__(f"the search stopped on an unexpected {type(cause).__name__}: {cause}\n{tb}")


def _hypothesis_search(search: _Search, target: EnvTarget, space: Any, max_examples: int, max_steps: int,
                       seed: int, shrink_seconds: float) -> None:
    from hypothesis import HealthCheck, Phase, Verbosity, given, settings
    from hypothesis import seed as hseed
    from hypothesis.internal.conjecture import engine

    strategy = programs(space, max_steps)
    saved_limit = getattr(engine, "MAX_SHRINKING_SECONDS", None)
    try:
        engine.MAX_SHRINKING_SECONDS = shrink_seconds  # bound shrinking time (Hypothesis's default: 300 s)
        for phase in range(4):
            budget = max_examples - search.generated
            if budget < 1:
                break
            search.phase_failed = set()

            @settings(max_examples=budget, deadline=None, database=None, derandomize=False,
                      suppress_health_check=list(HealthCheck), verbosity=Verbosity.quiet, report_multiple_bugs=True,
                      phases=[Phase.generate, Phase.shrink], print_blob=False)
            @hseed(seed * 7919 + phase)
            @given(strategy)
            def fuzz(program: Program) -> None:
                search.example(program)

            try:
                fuzz()
                break
            except BaseException as exc:  # an ExceptionGroup when several properties failed
                found = [e for e in _flatten_errors(exc) if isinstance(e, PropertyFailure)]
                others = [e for e in _flatten_errors(exc) if not isinstance(e, PropertyFailure)]
                if others and not found:
                    raise _InternalError(others[0]) from others[0]
                for e in found:
                    if e.program is not None and e.pid not in search.failures:
                        search.failures[e.pid] = e
                    search.silenced.add(e.pid)
    finally:
        if saved_limit is not None:
            engine.MAX_SHRINKING_SECONDS = saved_limit


def _progress_bar(enabled: "bool | None", total: int, label: str):
    show = sys.stderr.isatty() if enabled is None else enabled
    if not show:
        return None, None
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    bar = Progress(TextColumn("[bold]rollcheck env[/] {task.description}"), BarColumn(), MofNCompleteColumn(),
                   TextColumn("{task.fields[steps]} checked steps"), TimeElapsedColumn(),
                   console=Console(stderr=True), transient=False)
    task = bar.add_task(label, total=total, steps=0)
    return bar, (lambda done, steps: bar.update(task, completed=min(done, total), steps=steps))


def fuzz_env(make_env: "str | Callable[[], Any]", *, wrappers: Sequence[Any] = (),
             max_examples: int = DEFAULT_MAX_EXAMPLES, max_steps: int = DEFAULT_MAX_STEPS, seed: int = 0,
             skip: Sequence[str] = (), contract: "Contract | None" = None, vector: "int | None" = None,
             progress: "bool | None" = False, shrink_seconds: float = 20.0,
             vector_wrappers: Sequence[Any] = ()) -> Report:
    """Fuzz ``make_env`` (a registered id, ``"MODULE:FACTORY"`` or a zero-argument callable),
    wrapped by ``wrappers`` in order, against every env property; return the :class:`Report`.

    ``max_examples`` programs of at most ``max_steps`` actions each are searched (``seed`` fixes
    the search); ``skip`` names properties (or prefixes like ``determinism``) to leave out;
    ``vector=N`` also checks a ``SyncVectorEnv`` of N copies (each of ``vector_wrappers``, a
    callable ``vector_env -> vector_env``, is applied to it in order). ``progress=None`` shows a progress
    bar on stderr only when it is a terminal. A target that cannot be built gives a report with
    ``error`` set (exit status 2).
    """
    max_examples, max_steps = _positive("max_examples", max_examples), _positive("max_steps", max_steps)
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ArgumentError(f"seed={seed!r} should be a non-negative int")
    if vector is not None:
        _positive("vector", vector)
    contract = Contract() if contract is None else contract
    if not isinstance(contract, Contract):
        raise ArgumentError(f"contract={contract!r} should be a rollcheck.spec.Contract")
    props = ENV_PROPERTIES if vector else ENV_PROPERTIES.without([p.id for p in VECTOR_PROPERTIES])
    chosen = props.without(skip)
    active = set(chosen.ids)
    started = time.perf_counter()
    random_state, np_state = random.getstate(), np.random.get_state()
    report = Report(title="rollcheck env", target=str(make_env if isinstance(make_env, str) else getattr(make_env, "__name__", make_env)),
                    meta={"seed": seed, "max_examples": max_examples, "max_steps": max_steps, "vector": vector,
                          "skipped": list(skip)})
    results = {p.id: PropertyResult(p.id, p.lean, p.statement) for p in props}
    for p in props:
        if p.id not in active:
            results[p.id].status, results[p.id].skip_reason = "skipped", "skipped on request (--skip)"
    bar = None
    try:
        try:
            target = resolve_target(make_env, wrappers)
            report.target = target.label
            env = target.make()
            try:
                space, limit, probe_every = env.action_space, episode_limit(env), probe_interval(env)
                run_program(env, seed, random_actions(space, seed, 1))
            except PropertyFailure:
                pass  # the search finds it again and reports it with a reproducer
            finally:
                _close(env)
        except TargetError as exc:
            report.error = str(exc)
            return report
        except Exception as exc:
            report.error = f"the env could not be built, reset or stepped once: {type(exc).__name__}: {exc}"
            return report
        if limit is None and "episode.truncated_at_limit" in active:
            results["episode.truncated_at_limit"].status = "skipped"
            results["episode.truncated_at_limit"].skip_reason = "no known max_episode_steps (no env spec, no TimeLimit layer)"
        bar, tick = _progress_bar(progress, max_examples, target.label)
        if bar is not None:
            bar.start()
        search = _Search(target, active, contract, tick)
        search.probe_every = probe_every
        _static_checks(target, active, seed, results, search.meta)
        try:
            _hypothesis_search(search, target, space, max_examples, max_steps, seed, shrink_seconds)
        except _InternalError as exc:
            report.error = str(exc)
        if vector:
            from rollcheck.properties.env.vector import check_vector
            check_vector(target, vector, active, results, seed=seed, max_examples=max(5, max_examples // 3),
                         max_steps=max_steps, contract=contract, vector_wrappers=vector_wrappers,
                         shrink_seconds=shrink_seconds)
        for pid, exc in search.failures.items():
            results[pid].fail(_finding(target, exc))
        for pid, r in results.items():
            if r.status == "skipped":
                continue
            r.examples += search.counters.examples.get(pid, 0)
            r.steps += search.counters.steps.get(pid, 0)
            r.episodes += search.counters.episodes.get(pid, 0)
        report.meta.update(search.meta, examples=search.generated, max_episode_steps=limit,
                           checked_steps=search.counters.steps.get("_checked", 0),
                           env_steps=search.counters.steps.get("_all", 0))
    finally:
        if bar is not None:
            bar.stop()
        random.setstate(random_state)
        np.random.set_state(np_state)
        report.results = [results[p.id] for p in props]
        report.duration_s = time.perf_counter() - started
    return report
