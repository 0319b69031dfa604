"""``fuzz_env``: search an environment and its wrapper stack for contract violations.

Gymnasium's ``check_env`` runs a handful of resets and steps with fixed seeds; a bug that shows
after twenty steps, in the second episode, or only in states a random policy rarely reaches goes
unseen. ``fuzz_env`` drives Hypothesis over :class:`~rollcheck.properties.env.programs.Program` s
(reset seeds and action sequences mixing long random episodes and biased runs of one action),
runs each on instrumented fresh instances (:mod:`rollcheck.properties.env.runner`), and checks
every property of :mod:`rollcheck.properties.env.catalog`. Each failing property shrinks to a
minimal ``(seed, actions)`` and its :class:`~rollcheck.properties.core.report.Finding` carries a
short Python snippet that replays it.

Per example: fresh instance B runs the program with every per-call check (and, at one step the
program chooses, ``actions.accepted`` probes every valid action on another fresh instance that
replays B's recorded history); fresh instance A runs a history, then the program twice
(``reset.purity`` and ``determinism.reseeded_instance`` against B's and A's own trajectory); only on
a mismatch does a third fresh instance decide whether two fresh instances already differ
(``determinism.fresh_instances``). The search is :func:`rollcheck.properties.env.search.run_search`
(shared with the vector fuzzer): one phase per property found, so other properties keep being
searched.

Time: ``time_budget`` seconds (default 60) bound the whole run. The cost of ``make``, ``reset`` and
``step`` is measured first and programs are sized so the search runs a few dozen examples at
least; the static checks, the search and the vector search each get a share of the budget, and
each phase may shrink for a share of it. The report says how much each property explored and
whether the budget cut the search short (``meta["incomplete"]``).

Mirrors TorchLean ``Gymnasium.Session`` (``start``/``reset (seed?)``/``stepChecked``) and
``Boundary.Core``'s checkers. Invariant enforced: the global ``random`` and ``numpy.random``
states are the same after the run as before it; the run is a function of ``seed``.
"""

from __future__ import annotations

import functools
import random
import sys
import time
from typing import Any, Callable, Sequence

import numpy as np

from rollcheck.properties.env.programs import Program, programs, random_actions
from rollcheck.properties.env.catalog import (DETERMINISM_FRESH_INSTANCES, DETERMINISM_RESEEDED_INSTANCE,
                                             DETERMINISM_SEEDS_DIFFER, ENV_PROPERTIES, RESET_PURITY,
                                             SPACES_WELL_FORMED, VECTOR_PROPERTIES, LayerStack, SeedRuns,
                                             TrajectoryPair, trajectory_difference)
from rollcheck.properties.core.property import RunProperty
from rollcheck.properties.env.runner import (Checker, Counters, PropertyFailure, episode_limit, failure, layers_of,
                                             run_program)
from rollcheck.properties.env.jobs import PARTS, run_parts
from rollcheck.properties.env.search import Deadline, SearchOutcome, run_search
from rollcheck.properties.env.target import EnvTarget, TargetError, reproducer, resolve_target
from rollcheck.properties.core.report import Finding, PropertyResult, Report
from rollcheck.spec.contract import Contract
from rollcheck.spec.errors import ArgumentError, RollcheckError
from rollcheck.spec.arguments import check_count, check_seed

__all__ = ["fuzz_env", "WorkerBroke", "ProgramRunner", "default_max_steps", "DEFAULT_MAX_EXAMPLES", "DEFAULT_MAX_STEPS",
           "DEFAULT_TIME_BUDGET", "DEFAULT_CALL_TIMEOUT"]

DEFAULT_MAX_EXAMPLES = 300
DEFAULT_MAX_STEPS = 400
DEFAULT_TIME_BUDGET = 60.0
DEFAULT_CALL_TIMEOUT = 60.0
#: examples the search is sized for within its share of the budget (programs shorten to fit)
TARGET_EXAMPLES = 30
_DETERMINISM = ("determinism.fresh_instances", "determinism.reseeded_instance", "reset.purity")
#: the properties the program search judges (the others are judged once per run, or by the vector search)
_SEARCHED = frozenset(ENV_PROPERTIES.without(["spaces.well_formed", "determinism.seeds_differ", "vector"]).ids)


def _positive(name: str, value: Any) -> int:
    return check_count(name, value)


def _close(env: Any) -> None:
    try:
        env.close()
    except Exception:
        pass


def _action_index(records: list, index: int) -> "int | None":
    """The action whose call produced record ``index`` (``None`` for the first reset)."""
    n = sum(1 for r in records[: index + 1] if r[0] == "step") - 1
    return n if n >= 0 else None


class ProgramRunner:
    """Runs one program (a fuzzing example) on fresh instances and raises the first property it breaks;
    keeps what is active or silenced and the counters of a whole search."""

    def __init__(self, target: EnvTarget, active: set, contract: Contract, progress: Any) -> None:
        self.target, self.active, self.contract, self.progress = target, active, contract, progress
        self.silenced: set = set()
        self.counters = Counters()
        self.generated = 0
        self.meta: dict = {}
        self.probe_notes: list[str] = []
        self.probes_run = 0

    def example(self, program: Program) -> None:
        self.generated += 1
        if self.progress is not None:
            self.progress(self.generated, self.counters.steps.get("_checked", 0))
        for pid in self.active - {"spaces.well_formed", "determinism.seeds_differ"}:
            self.counters.add(pid, examples=1)
        try:
            self._example(program)
        except PropertyFailure as exc:
            exc.program = program
            raise

    def _example(self, program: Program) -> None:
        b = self.target.make()
        try:
            probe_at = () if not program.actions else (program.probe_at % len(program.actions),)
            checker = Checker(b, self.active, self.silenced, self.counters, self.contract,
                              make=self.target.make, probe_steps=probe_at)
            try:
                rec_b = run_program(b, program.seed, program.actions, checker)
            except PropertyFailure as exc:
                if exc.pid in self.silenced or exc.pid not in self.active:
                    return  # the env cannot go on; that property was reported already (or is not judged here)
                raise
            finally:
                self.probes_run += checker.probes_run
                for note in checker.probe_notes:
                    if note not in self.probe_notes and len(self.probe_notes) < 5:
                        self.probe_notes.append(note)
        finally:
            _close(b)
        wanted = [p for p in _DETERMINISM if p in self.active and p not in self.silenced]
        if not wanted:
            return
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
        def same(expected: list, actual: list) -> list[str]:  # every determinism property compares trajectories alike
            return RESET_PURITY.check(TrajectoryPair(expected, actual))

        p1, p2 = same(rec_b, rec_a1), same(rec_a1, rec_a2)
        if not p1 and not p2:
            return
        c = self.target.make()
        try:
            rec_c = run_program(c, program.seed, program.actions)
        finally:
            _close(c)
        self.counters.add("_all", steps=len(program.actions))
        p0 = same(rec_b, rec_c)
        if p0 or (p1 and not program.history):
            self._fail(DETERMINISM_FRESH_INSTANCES, rec_b, rec_c if p0 else rec_a1,
                       "two fresh instances reset with the same seed and given the same actions diverge")
            return  # two fresh instances already differ: re-seeding and purity cannot be judged
        if p2:
            self._fail(DETERMINISM_RESEEDED_INSTANCE, rec_a1, rec_a2,
                       "re-seeding the same instance and replaying the same actions gives a different trajectory")
        if p1:
            self._fail(RESET_PURITY, rec_b, rec_a1,
                       f"after a history of {len(program.history)} steps (seed {program.history_seed}), "
                       "reset(seed) does not replay like a fresh env")

    def _fail(self, prop: RunProperty, expected: list, actual: list, what: str) -> None:
        pid = prop.id
        if pid not in self.active or pid in self.silenced:
            return
        problem = prop.check(TrajectoryPair(expected, actual))[0]
        index = trajectory_difference(expected, actual)[0]
        raise failure(pid, f"{what}: {problem}", step=_action_index(expected, index), context={"call": index})


def _static_checks(target: EnvTarget, active: set, seed: int, results: dict, meta: dict, seeds_actions: int,
                   n_seeds: int = 8) -> None:
    env = target.make()
    try:
        if "spaces.well_formed" in active:
            layers = layers_of(env)
            results["spaces.well_formed"].examples += len(layers)
            for problem in SPACES_WELL_FORMED.check(LayerStack(layers)):
                results["spaces.well_formed"].fail(Finding(
                    problem, reproducer=reproducer(target, "spaces.well_formed", seed, (), message=problem)))
        if "determinism.seeds_differ" in active:
            _seeds_differ(target, env, seed, results["determinism.seeds_differ"], meta, seeds_actions, n_seeds)
    finally:
        _close(env)


def _seeds_differ(target: EnvTarget, env: Any, seed: int, result: PropertyResult, meta: dict, k: int,
                  n_seeds: int) -> None:
    actions = random_actions(env.action_space, seed, k)
    trajectories, rng_states = [], []
    for s in range(seed, seed + n_seeds):
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
    problems = DETERMINISM_SEEDS_DIFFER.check(SeedRuns(trajectories, rng_states))
    if not problems and all(trajectory_difference(trajectories[0], t) is None for t in trajectories[1:]):
        meta["seeds_differ"] = ("every seed gives the same trajectory, but the seed reaches the base env's "
                                "np_random: the env looks deterministic (not a violation)")
    for problem in problems:
        result.fail(Finding(f"seeds {seed}..{seed + n_seeds - 1}, {k} actions: {problem}", step=0,
                            reproducer=reproducer(target, "determinism.seeds_differ", seed, actions,
                                                  message="every seed gives the same trajectory")))


def _finding(target: EnvTarget, exc: PropertyFailure) -> Finding:
    program: Program = exc.program
    step = exc.step if exc.step is not None else -1  # None: the first reset, before any action
    probe = exc.context.get("probe_actions")
    if exc.pid == "actions.accepted" and probe is not None:
        # the probe replayed actions[:step] into a fresh instance, then stepped the probe actions in turn
        actions = list(program.actions[:max(0, step)]) + list(probe)
    elif exc.pid == "aliasing.no_mutation":
        actions = list(program.actions[:exc.context.get("detected_at", step) + 1])  # run until the change shows
    elif exc.pid in _DETERMINISM:
        actions = list(program.actions)
    else:
        actions = list(program.actions[:step + 1])
    context = {k: v for k, v in exc.context.items() if k != "probe_actions"}
    context.update(seed=program.seed, n_actions=len(actions))
    if exc.pid in ("reset.purity", "determinism.reseeded_instance"):
        context.update(history_seed=program.history_seed, history_length=len(program.history))
    return Finding(exc.message, step=exc.step, expected=exc.expected, actual=exc.actual, context=context,
                   reproducer=reproducer(target, exc.pid, program.seed, actions, message=exc.message,
                                         history_seed=program.history_seed, history=program.history))


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


def _measure(target: EnvTarget, space: Any, seed: int, seconds: float) -> dict:
    """Seconds per ``make()``, ``reset`` and ``step`` of the target, measured on one fresh instance
    (up to 50 steps or ``seconds``). Raises whatever the env raises (the caller reports it)."""
    t0 = time.perf_counter()
    env = target.make()
    t1 = time.perf_counter()
    try:
        env.reset(seed=seed)
        t2 = time.perf_counter()
        steps, resets = 0, 0
        for a in random_actions(space, seed, 50):
            out = env.step(a)
            steps += 1
            if bool(out[2]) or bool(out[3]):
                env.reset()
                resets += 1
            if time.perf_counter() - t2 > seconds:
                break
        t3 = time.perf_counter()
    finally:
        _close(env)
    return {"make_s": t1 - t0, "reset_s": t2 - t1, "step_s": (t3 - t2) / max(1, steps + resets), "steps": steps}


def default_max_steps(limit: "int | None") -> int:
    """Actions per program at most, by default: :data:`DEFAULT_MAX_STEPS`, or twice the episode limit
    when that is more, so a program can run two episodes into their ``TimeLimit``
    (``episode.truncated_at_limit`` is judged only there): the reset after a truncation and the
    next episode's count are exercised too. Longer programs also spread the fixed cost of an example
    (drawing it, three fresh instances, the probe) over more env steps; with a time budget the
    length is cut to fit the measured step cost."""
    if limit is None:
        return DEFAULT_MAX_STEPS
    return max(DEFAULT_MAX_STEPS, 2 * int(limit))


def _program_length(cost: dict, seconds: float, max_steps: int) -> int:
    """Actions per program so that about :data:`TARGET_EXAMPLES` examples fit in ``seconds``: an
    example makes three instances, resets about four times and steps about four times its length."""
    per_example = seconds / TARGET_EXAMPLES - 3 * cost["make_s"] - 4 * cost["reset_s"]
    return int(min(max_steps, max(8, per_example / (4 * max(cost["step_s"], 1e-7)))))


def _check_budget(name: str, value: Any) -> "float | None":
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0 or value != value:
        raise ArgumentError(f"{name}={value!r} should be a positive number of seconds (or None: no bound)")
    return float(value)


def fuzz_env(make_env: "str | Callable[[], Any]", *, wrappers: Sequence[Any] = (),
             max_examples: int = DEFAULT_MAX_EXAMPLES, max_steps: "int | None" = None, seed: int = 0,
             skip: Sequence[str] = (), contract: "Contract | None" = None, vector: "int | None" = None,
             progress: "bool | None" = False, time_budget: "float | None" = DEFAULT_TIME_BUDGET,
             vector_wrappers: Sequence[Any] = (), make_kwargs: "dict | None" = None,
             max_episode_steps: "int | None" = None, database: Any = None, jobs: "int | None" = None,
             call_timeout: float = DEFAULT_CALL_TIMEOUT) -> Report:
    """Fuzz ``make_env`` (a registered id, ``"module:EnvId"``, ``"MODULE:FACTORY"`` or a zero-argument
    callable), wrapped by ``wrappers`` in order, against every env property; return the :class:`Report`.

    At most ``max_examples`` programs of at most ``max_steps`` actions each are searched (``seed``
    fixes the search; ``max_steps=None``: :func:`default_max_steps` of the env's episode limit, so
    a program can run an episode into its time limit) within ``time_budget`` seconds (``None``: no bound; programs are shortened to
    fit the measured step cost); ``skip`` names properties (or prefixes like ``determinism``) to
    leave out; ``vector=N`` also checks a ``SyncVectorEnv`` of N copies (each of ``vector_wrappers``,
    a callable ``vector_env -> vector_env``, is applied to it in order). ``make_kwargs`` and
    ``max_episode_steps`` go to ``gymnasium.make`` for a registered id. ``database`` is a Hypothesis
    example database (e.g. ``DirectoryBasedExampleDatabase(path)`` or ``RedisExampleDatabase``): the
    shrunk failures are saved there and replayed first by every later run with the same target.
    ``progress=None`` shows a progress bar on stderr only when it is a terminal. A target that cannot
    be built gives a report with ``error`` set (exit status 2).

    ``jobs=N`` splits the run into its independent parts (:data:`~rollcheck.properties.env.jobs.PARTS`:
    the per-call search, the replay search, the static checks, the vector search), each with a
    fixed share of ``time_budget``, and runs them ``N`` at a time in worker processes (each user call
    supervised with ``call_timeout``); the merged report is the same for every ``N`` (up to timings
    and what the budget cut). ``jobs=None`` runs one search over every property in this process.
    """
    max_examples = _positive("max_examples", max_examples)
    max_steps = None if max_steps is None else _positive("max_steps", max_steps)
    seed = check_seed("seed", seed, optional=False)
    if jobs is not None:
        return _fuzz_in_parts(make_env, check_count("jobs", jobs), call_timeout, dict(
            wrappers=wrappers, max_examples=max_examples, max_steps=max_steps, seed=seed, skip=skip,
            contract=contract, vector=vector, progress=progress, time_budget=time_budget,
            vector_wrappers=vector_wrappers, make_kwargs=make_kwargs, max_episode_steps=max_episode_steps,
            database=database))
    if vector is not None:
        _positive("vector", vector)
    time_budget = _check_budget("time_budget", time_budget)
    contract = Contract() if contract is None else contract
    if not isinstance(contract, Contract):
        raise ArgumentError(f"contract={contract!r} should be a rollcheck.spec.Contract")
    props = ENV_PROPERTIES if vector else ENV_PROPERTIES.without([p.id for p in VECTOR_PROPERTIES])
    chosen = props.without(skip)
    active = set(chosen.ids)
    started = time.perf_counter()
    deadline = Deadline.after(time_budget)
    random_state, np_state = random.getstate(), np.random.get_state()
    report = Report(title="rollcheck env", target=str(make_env if isinstance(make_env, str) else getattr(make_env, "__name__", make_env)),
                    meta={"seed": seed, "max_examples": max_examples, "max_steps": max_steps, "vector": vector,
                          "time_budget_s": time_budget, "skipped": list(skip)})
    results = {p.id: PropertyResult(p.id, p.lean, p.statement) for p in props}
    for p in props:
        if p.id not in active:
            results[p.id].status, results[p.id].skip_reason = "skipped", "skipped on request (--skip)"
    bar = None
    search: "ProgramRunner | None" = None
    try:
        try:
            target = resolve_target(make_env, wrappers, make_kwargs=make_kwargs, max_episode_steps=max_episode_steps)
            report.target = target.label
            if target.note:
                report.meta["resolved"] = target.note
            env = target.make()
            try:
                space, limit = env.action_space, episode_limit(env)
            finally:
                _close(env)
            if max_steps is None:
                max_steps = default_max_steps(limit)
                report.meta["max_steps"] = max_steps
            budget = time_budget if time_budget is not None else 600.0
            cost = _measure(target, space, seed, seconds=0.05 * budget)
        except TargetError as exc:
            report.error = str(exc)
            return report
        except Exception as exc:
            report.error = f"the env could not be built, reset or stepped once: {type(exc).__name__}: {exc}"
            return report
        search_share = budget * (0.55 if vector else 0.8)
        steps = _program_length(cost, search_share, max_steps) if time_budget is not None else max_steps
        # determinism.seeds_differ: n fresh instances of k actions each, within ~8% of the budget
        per_seed = cost["make_s"] + cost["reset_s"]
        n_seeds = int(min(8, max(2, 0.08 * budget / max(per_seed + 3 * cost["step_s"], 1e-7))))
        seeds_actions = int(min(30, max(3, (0.08 * budget / n_seeds - per_seed) / max(cost["step_s"], 1e-7))))
        measured_steps = cost.pop("steps")
        report.meta.update(measured_cost_s={k: round(v, 6) for k, v in cost.items()}, program_max_steps=steps)
        if limit is None and "episode.truncated_at_limit" in active:
            results["episode.truncated_at_limit"].status = "skipped"
            results["episode.truncated_at_limit"].skip_reason = "no known max_episode_steps (no env spec, no TimeLimit layer)"
        bar, tick = _progress_bar(progress, max_examples, target.label)
        if bar is not None:
            bar.start()
        search = ProgramRunner(target, active, contract, tick)
        search.counters.add("_all", steps=measured_steps)
        _static_checks(target, active, seed, results, search.meta, seeds_actions, n_seeds)
        search_deadline = Deadline(None if deadline.at is None else
                                   deadline.at - budget * (0.4 if vector else 0.05))
        if active & _SEARCHED:
            outcome = run_search(search.example, programs(space, steps), seed=seed, max_examples=max_examples,
                                 deadline=search_deadline, shrink_seconds=0.15 * budget, silenced=search.silenced,
                                 database=database, database_key=_database_key(target, steps))
        else:  # only whole-run or vector properties are active: no program search to run
            outcome = SearchOutcome()
        if outcome.error is not None:
            report.error = _internal_error(outcome.error)
        cut = {"search": outcome.cut_short, "shrinking": sorted(outcome.shrink_cut)}
        if vector:
            from rollcheck.properties.env.vector import check_vector
            cut["vector"] = check_vector(target, vector, active, results, seed=seed,
                                         max_examples=max(5, max_examples // 3), max_steps=steps, contract=contract,
                                         vector_wrappers=vector_wrappers, deadline=deadline,
                                         shrink_seconds=0.1 * budget)
        search.counters.add("_all", steps=results["determinism.seeds_differ"].steps)
        for pid, (exc, program) in outcome.failures.items():
            exc.program = program
            results[pid].fail(_finding(target, exc))
        for pid, r in results.items():
            if r.status == "skipped":
                continue
            r.examples += search.counters.examples.get(pid, 0)
            r.steps += search.counters.steps.get(pid, 0)
            r.episodes += search.counters.episodes.get(pid, 0)
        if outcome.error is None:
            _unexercised(results, search.counters, limit, steps)
        if search.probe_notes:
            search.meta["probing"] = " | ".join(search.probe_notes)
        if "actions.accepted" in active:
            search.meta["probes"] = f"{search.probes_run} probe states replayed faithfully"
        incomplete = outcome.cut_short or bool(cut.get("vector")) or outcome.interrupted
        report.meta.update(search.meta, examples=search.generated, explored=outcome.explored,
                           shrink_runs=outcome.shrink_runs, max_episode_steps=limit,
                           checked_steps=search.counters.steps.get("_checked", 0),
                           env_steps=search.counters.steps.get("_all", 0), incomplete=incomplete,
                           cut_short=_cut_text(cut, outcome.explored, max_examples))
        if outcome.interrupted:
            report.meta["cut_short"] = "interrupted (KeyboardInterrupt): the results are what was found before it"
            report.error = "interrupted before the search finished"
    except KeyboardInterrupt:
        report.meta["incomplete"] = True
        report.meta["cut_short"] = "interrupted (KeyboardInterrupt): the results are what was found before it"
        report.error = "interrupted before the search finished"
    finally:
        if bar is not None:
            bar.stop()
        random.setstate(random_state)
        np.random.set_state(np_state)
        report.results = [results[p.id] for p in props]
        report.duration_s = time.perf_counter() - started
    if report.meta.get("incomplete") and report.error == "interrupted before the search finished":
        raise _Interrupted(report)
    return report


def _unexercised(results: dict, counters: Counters, limit: "int | None", max_steps: int) -> None:
    """A conditional property that no checked call exercised earned no ``held``: it is skipped, saying why
    (``episode.truncated_at_limit`` is judged only at a step reaching the limit, ``episode.never_past_done``
    only after some layer returned terminated or truncated)."""
    checked = counters.steps.get("_checked", 0)
    for pid, key, why in (
            ("episode.truncated_at_limit", "_at_limit",
             f"no checked episode reached max_episode_steps={limit} in {checked} checked steps (programs of at most "
             f"{max_steps} actions): raise --max-steps or --time-budget, or lower the limit with --max-episode-steps"),
            ("episode.never_past_done", "_done",
             f"no layer returned terminated or truncated in {checked} checked steps, so no call could come after one")):
        r = results.get(pid)
        if r is not None and r.status == "held" and checked and not counters.steps.get(key, 0):
            r.skip(f"not exercised: {why}")


class _Interrupted(KeyboardInterrupt):
    """Ctrl-C during :func:`fuzz_env`: carries the partial report (``.report``) to the caller."""

    def __init__(self, report: Report) -> None:
        super().__init__("rollcheck env interrupted")
        self.report = report


def _cut_text(cut: dict, explored: int, max_examples: int) -> str:
    parts = []
    if cut["search"]:
        parts.append(f"the time budget ended the search after {explored} of at most {max_examples} programs")
    if cut["shrinking"]:
        parts.append(f"shrinking stopped at its time share for {', '.join(cut['shrinking'])} (the finding is "
                     "real but may not be minimal)")
    if cut.get("vector"):
        parts.append("the time budget ended the vector search early")
    return "; ".join(parts) or "no: the search ran to completion"


def _database_key(target: EnvTarget, steps: int) -> bytes:
    return f"rollcheck env|{target.label}|{steps}".encode()


def _internal_error(cause: BaseException) -> str:
    import traceback
    tb = "".join(traceback.format_exception(type(cause), cause, cause.__traceback__, limit=-4))
    return f"the search stopped on an unexpected {type(cause).__name__}: {cause}\n{tb}"


# ---------------------------------------------------------------------------------------------
# jobs=N: the independent parts of a run in worker processes, merged into one report
# ---------------------------------------------------------------------------------------------

def _members(pid: str, members: tuple) -> bool:
    return any(pid == m or pid.startswith(m + ".") for m in members)


def _part_report(make_env: Any, kwargs: dict) -> dict:
    return fuzz_env(make_env, **kwargs).to_dict()


def _fuzz_in_parts(make_env: Any, jobs: int, call_timeout: float, kwargs: dict) -> Report:
    """:func:`fuzz_env` with ``jobs``: each part of :data:`PARTS` that has an active property is a
    ``fuzz_env`` run of those properties only, with its share of the budget; the reports merge in
    part order (so the result does not depend on ``jobs`` or on which worker finished first)."""
    started = time.perf_counter()
    vector, skip, budget = kwargs["vector"], list(kwargs["skip"]), _check_budget("time_budget", kwargs["time_budget"])
    if vector is not None:
        _positive("vector", vector)
    props = ENV_PROPERTIES if vector else ENV_PROPERTIES.without([p.id for p in VECTOR_PROPERTIES])
    active = props.without(skip).ids
    parts = [(name, [pid for pid in active if _members(pid, members)], share) for name, members, share in PARTS]
    parts = [(name, ids, share) for name, ids, share in parts if ids]
    total = sum(share for _, _, share in parts)
    tasks = []
    for name, ids, share in parts:
        part_vector = vector if name == "vector" else None
        own = ENV_PROPERTIES if part_vector else ENV_PROPERTIES.without([p.id for p in VECTOR_PROPERTIES])
        part = dict(kwargs, skip=[pid for pid in own.ids if pid not in ids], vector=part_vector,
                    time_budget=None if budget is None else budget * share / total,
                    progress=kwargs["progress"] if name == "calls" else False)  # one bar: the main search
        tasks.append((name, functools.partial(_part_report, make_env, part)))
    report = Report(title="rollcheck env", target=str(make_env if isinstance(make_env, str) else getattr(make_env, "__name__", make_env)),
                    meta={"seed": kwargs["seed"], "max_examples": kwargs["max_examples"],
                          "max_steps": kwargs["max_steps"], "vector": vector, "time_budget_s": budget,
                          "skipped": skip, "jobs": jobs, "parts": [name for name, _, _ in parts]})
    report.results = [PropertyResult(p.id, p.lean, p.statement) for p in props]
    try:
        outcomes = run_parts(tasks, jobs=jobs, call_timeout=call_timeout,
                             deadline_s=None if budget is None else budget + 30.0)
    except KeyboardInterrupt:
        report.meta.update(incomplete=True, cut_short="interrupted (KeyboardInterrupt): no part's results were kept")
        report.error = "interrupted before the search finished"
        report.duration_s = time.perf_counter() - started
        raise _Interrupted(report) from None
    broken = next((o.broken for o in outcomes if o.broken is not None), None)
    if broken is not None:
        raise WorkerBroke(broken)
    _merge(report, parts, outcomes, skip)
    report.duration_s = time.perf_counter() - started
    return report


class WorkerBroke(RollcheckError):
    """``fuzz_env(jobs=N)``: the subject broke a part's worker (raised a ``BaseException``, exited,
    crashed or hung); ``outcome`` is the supervisor's :class:`~rollcheck.impl.supervisor.Outcome`
    naming the call (``rollcheck env`` turns it into an error report, as when its own worker breaks)."""

    def __init__(self, outcome: Any) -> None:
        super().__init__(f"the env broke a worker: {outcome.describe()}")
        self.outcome = outcome


_SUMMED = ("examples", "explored", "shrink_runs", "checked_steps", "env_steps")
_FIRST = ("resolved", "measured_cost_s", "program_max_steps", "max_episode_steps", "probing", "probes", "seeds_differ")


def _merge(report: Report, parts: list, outcomes: list, skip: list) -> None:
    by_id = {r.id: i for i, r in enumerate(report.results)}
    owner = {pid: name for name, ids, _ in parts for pid in ids}
    cut, errors = [], []
    for (name, ids, _share), outcome in zip(parts, outcomes):
        if not outcome.ok:
            errors.append(f"part {name!r} ({', '.join(ids)}): {outcome.reason}")
            for pid in ids:
                report.results[by_id[pid]].set_error(f"not evaluated: the {name} part's worker {outcome.reason}")
            report.meta["incomplete"] = True
            continue
        part = Report.from_dict(outcome.value)
        if part.target:
            report.target = part.target
        for r in part.results:
            if owner.get(r.id) == name:
                report.results[by_id[r.id]] = r
        for key in _SUMMED:
            report.meta[key] = report.meta.get(key, 0) + int(part.meta.get(key, 0) or 0)
        for key in _FIRST:
            if key in part.meta and key not in report.meta:
                report.meta[key] = part.meta[key]
        if part.meta.get("incomplete"):
            report.meta["incomplete"] = True
            cut.append(f"{name}: {part.meta.get('cut_short')}")
        if part.error:
            errors.append(f"part {name!r}: {part.error}")
    for r in report.results:
        if r.id not in owner:
            r.skip("skipped on request (--skip)")
    report.meta.setdefault("incomplete", False)
    report.meta["cut_short"] = "; ".join(cut) or "no: the search ran to completion"
    if errors and len(errors) == len(parts):  # every part broke off (e.g. the env cannot be built)
        reasons = {e.split(": ", 1)[1] for e in errors}
        report.error = reasons.pop() if len(reasons) == 1 else "\n".join(errors)
    elif errors:
        report.meta["part_errors"] = errors
