"""Hypothesis stateful machines over a Gymnasium env and over a checked session, for users' suites.

Two factories return :class:`hypothesis.stateful.RuleBasedStateMachine` subclasses; a user writes
``TestMyEnv = env_machine("mypkg.envs:make_env").TestCase`` (or ``session_machine(...)``) and
Hypothesis searches sequences of calls, checking after every call and shrinking a failure to the
shortest sequence, printed as ``state = EnvMachine_...(); state.step_run(action=0, n=6); ...``.
Failures raise :class:`~rollcheck.properties.env.runner.PropertyFailure` whose message opens with
the property id (the ids of :mod:`rollcheck.properties.env.catalog`, or :data:`SESSION_PROPERTIES`)
and names the step.

:func:`env_machine` mirrors Gymnasium ``Env.reset``/``Env.step`` as TorchLean's
``Gymnasium.Session`` drives them (``start`` = ``reset (seed?)``, ``stepChecked`` never past done).
Rules: ``reset(seed)`` (seeded or not; the first reset is always seeded), ``step(action)`` and a
biased ``step_run(action, n)`` repeating one action up to ``max_run`` times, both only while the
episode is not over. Every call is checked with the fuzzer's own checks
(:class:`~rollcheck.properties.env.runner.Checker`: ``spaces.observation_in_space``,
``numerics.*``, ``episode.*``, ``wrapper.layer_contract``, ``actions.accepted``, and
``aliasing.no_mutation`` over the values of the last returns, after every rule,
``aliasing.no_shared_memory``); a shadow instance
replays the whole seeded history call by call (``determinism.fresh_instances``: identical values,
bit for bit), and a fresh instance reset with the latest seed replays the calls since that reset
(``reset.purity``).

:func:`session_machine` mirrors TorchLean ``Session.CheckedSession`` (``start``, ``observe``,
``stepChecked : Sess → Fin nActions → IO (Transition × Sess)``) threaded as in
``Gymnasium.Session.stepChecked`` and ``CheckedSession.ofEnv``, and the guarantee of
``Boundary.checkTransitionFin`` (``contractHolds_of_checkTransitionFin_eq_ok``): every returned
transition satisfies the session's contract (:func:`rollcheck.spec.contract_holds`). Its
invariants are :data:`SESSION_PROPERTIES` plus ``aliasing.no_mutation``.

The per-call checks, snapshots and the stepping of the fuzzer are reused, not restated (the
underscored helpers of :mod:`rollcheck.properties.env.runner` included); the two machines share
this module (~590 lines, over the usual ~400) because they share their plumbing.

Invariant of both machines: the global ``random`` and ``numpy.random`` states after a run (at
``teardown``) are what they were when the machine was built.

References: https://hypothesis.readthedocs.io/en/latest/stateful.html ,
https://gymnasium.farama.org/api/env/ .
"""

from __future__ import annotations

import random
import re
from contextlib import contextmanager
from typing import Any, Callable, Iterator, Sequence

import numpy as np
from hypothesis import settings as Settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from rollcheck.impl.session import CheckedSession
from rollcheck.properties.env.checks import first_difference, short, snapshot
from rollcheck.properties.env.programs import action_strategy
from rollcheck.properties.env.catalog import (ACTIONS_ACCEPTED, ALIASING_NO_MUTATION, ALIASING_NO_SHARED_MEMORY,
                                             DETERMINISM_FRESH_INSTANCES, PER_CALL,
                                             RESET_PURITY, ReturnedValue, trajectory_difference)
from rollcheck.properties.env.runner import (Checker, Counters, PropertyFailure, _record, _reset, _unpack,
                                             episode_limit, failure)
from rollcheck.properties.env.target import resolve_target
from rollcheck.properties.core.profiles import rollcheck_settings
from rollcheck.properties.core.property import PropertySet, SessionProperty
from rollcheck.spec import (Contract, ContractViolation, Env, ArgumentError, Transition, contract_holds, step_gym,
                            transition_violations)
from rollcheck.spec.arguments import check_bool, check_count

__all__ = ["env_machine", "session_machine", "ENV_MACHINE_PROPERTIES", "SESSION_PROPERTIES",
           "SESSION_MACHINE_PROPERTIES", "DEFAULT_STEP_COUNT", "DEFAULT_MAX_RUN"]

DEFAULT_STEP_COUNT = 50
DEFAULT_MAX_RUN = 50
#: ``actions.accepted`` probes (every valid action, on a fresh instance replaying the history) per example.
PROBES_PER_EXAMPLE = 4
SEEDS = st.integers(0, 2**32 - 1)

#: The env properties an :func:`env_machine` checks (the rest need a whole search or a vector env).
ENV_MACHINE_PROPERTIES = PropertySet([*PER_CALL, ACTIONS_ACCEPTED, ALIASING_NO_MUTATION, ALIASING_NO_SHARED_MEMORY,
                                      DETERMINISM_FRESH_INSTANCES, RESET_PURITY])

_FIELDS = ("observation", "action", "reward", "next_observation", "terminated", "truncated")


def _positive(name: str, value: Any) -> int:
    return check_count(name, value)


def _class_name(prefix: str, label: str) -> str:
    return prefix + "_" + (re.sub(r"\W+", "_", label).strip("_") or "target")[:60]


def _with_step_count(cls: type, step_count: int) -> type:
    """``cls.TestCase`` runs with the rollcheck profile's settings (explicitly, never a global load)
    and ``stateful_step_count``."""
    cls.TestCase.settings = Settings(rollcheck_settings(), stateful_step_count=step_count)
    return cls


class _KeepsGlobalRNG(RuleBasedStateMachine):
    """Saves the global ``random``/``numpy.random`` states when built, restores them at teardown."""

    def __init__(self) -> None:
        super().__init__()
        self._global_rng = (random.getstate(), np.random.get_state())
        self._to_close: list = []

    def teardown(self) -> None:
        for obj in self._to_close:
            try:
                obj.close()
            except Exception:
                pass
        random.setstate(self._global_rng[0])
        np.random.set_state(self._global_rng[1])


@contextmanager
def _located(where: Callable[[], str]) -> Iterator[None]:
    """Re-raise a :class:`PropertyFailure` with the machine's position appended to its message."""
    try:
        yield
    except PropertyFailure as exc:
        if exc.context.get("located"):
            raise
        raise failure(exc.pid, f"{exc.message} [{where()}]", step=exc.step, expected=exc.expected,
                      actual=exc.actual, context={**exc.context, "located": True}) from None


# ---------------------------------------------------------------------------------------------
# env_machine
# ---------------------------------------------------------------------------------------------

class _EnvMachine(_KeepsGlobalRNG):
    """The rules' bodies; :func:`env_machine` binds the target and the action strategy."""

    _target: Any = None
    _active: frozenset = frozenset()
    _contract: Contract = Contract()
    _limit: "int | None" = None
    _probe_every = 7

    def __init__(self) -> None:
        super().__init__()
        self.env = self._target.make()
        self._to_close.append(self.env)
        self.checker = Checker(self.env, set(self._active), set(), Counters(), self._contract,
                               probe_every=self._probe_every, max_probes=PROBES_PER_EXAMPLE, make=self._target.make,
                               batch=1)  # each rule's call is judged before the rule returns
        if self._limit is not None:
            self.checker.limit = self._limit
        self.shadow = None
        if "determinism.fresh_instances" in self._active:
            self.shadow = self._target.make()
            self._to_close.append(self.shadow)
        self.fresh: Any = None  # reset.purity: a fresh instance reset with the latest seed
        self.steps, self.episode, self.t, self.done = 0, -1, 0, True
        self.seed: "int | None" = None
        self.since_seed = 0

    def _where(self, what: str) -> str:
        return f"{what}; {self.since_seed} step(s) since reset(seed={self.seed})"

    def _at_step(self, k: int, t: int, action: Any) -> str:
        return self._where(f"action {k} (= {short(action)}; episode {self.episode}, step {t} of the episode)")

    def _replay(self, call: Callable[[Any], tuple], kind: str, rec: tuple) -> None:
        """The shadows make the same call; their values must be identical to ``rec``."""
        for pid, other, what in (("determinism.fresh_instances", self.shadow,
                                  "a fresh instance replaying the same seeded history"),
                                 ("reset.purity", self.fresh,
                                  f"a fresh instance reset with seed={self.seed} and given the same actions")):
            if other is None:
                continue
            try:
                out = _unpack(call(other), 2 if kind == "reset" else 5, kind, None, self.steps - 1)
            except PropertyFailure:
                raise
            except Exception as exc:
                raise failure(pid, f"{what} raised {type(exc).__name__}: {exc} where this instance did not",
                              step=self.steps - 1) from None
            d = trajectory_difference([rec], [_record(kind, *out[:1 if kind == "reset" else 4])])
            if d is not None:
                raise failure(pid, f"{what} returned a different value from {kind}: {d[1]}", step=self.steps - 1,
                              expected=rec, actual=out[:4])

    def _reset(self, seed: "int | None") -> None:
        kw = {} if seed is None else {"seed": seed}
        what = ("the initial reset" if self.episode < 0
                else f"reset({'seed=%d' % seed if kw else ''}) after action {self.steps - 1}")
        with _located(lambda: self._where(what)):
            out = _reset(self.env, self.checker, self.steps - 1, **kw)
            self.episode, self.t, self.done = self.episode + 1, 0, False
            if seed is not None:
                self.seed, self.since_seed = seed, 0
                if self.episode > 0 and "reset.purity" in self._active:
                    if self.fresh is not None:
                        self.fresh.close()
                        self._to_close.remove(self.fresh)
                    self.fresh = self._target.make()
                    self._to_close.append(self.fresh)
            self.checker.on_call("reset", self.steps - 1, self.episode, 0, None, out, reset_kwargs=kw)
            self._replay(lambda e: e.reset(**kw), "reset", _record("reset", out[0]))

    def _step(self, action: Any) -> None:
        k, t = self.steps, self.t + 1
        with _located(lambda: self._at_step(k, t, action)):
            self.checker.maybe_probe(k)
            try:
                out = self.env.step(action)
            except Exception as exc:
                raise failure("actions.accepted", f"step({short(action)}) raised {type(exc).__name__}: {exc} "
                              f"(the action is in {self.env.action_space})", step=k) from None
            out = _unpack(out, 5, "step(...)", self.checker, k)
            self.steps, self.t, self.since_seed = k + 1, self.t + 1, self.since_seed + 1
            self.checker.on_call("step", k, self.episode, self.t, action, out)
            self._replay(lambda e: e.step(snapshot(action)), "step", _record("step", *out[:4]))
            self.done = bool(out[2]) or bool(out[3])

    def _can_step(self) -> bool:
        return not self.done

    def _check_returned(self) -> None:
        if "aliasing.no_mutation" in self._active and self.checker.returned:
            with _located(lambda: self._where(f"checked after action {self.steps - 1}")):
                self.checker.finish(self.steps - 1)


def env_machine(make_env: "str | Callable[[], Any]", *, wrappers: Sequence[Any] = (),
                contract: "Contract | None" = None, max_episode_steps: "int | None" = None,
                skip: Sequence[str] = (), max_run: int = DEFAULT_MAX_RUN,
                stateful_step_count: int = DEFAULT_STEP_COUNT) -> type:
    """A :class:`RuleBasedStateMachine` over ``make_env`` (a registered id, ``"MODULE:FACTORY"`` or a
    zero-argument callable, resolved as by ``fuzz_env``) wrapped by ``wrappers`` in order.

    ``contract`` (default ``Contract()``) decides what is finite/in range; ``max_episode_steps``
    is the limit ``episode.truncated_at_limit`` checks (default: the env spec's or its ``TimeLimit``'s);
    ``skip`` leaves out property ids or prefixes (e.g. ``reset.purity`` for ``NormalizeObservation``).
    One env is built here to read the action space (a target that cannot be built raises
    :class:`~rollcheck.properties.env.target.TargetError`). ``.TestCase`` runs with the rollcheck
    profile's settings (``--rollcheck-profile``) and ``stateful_step_count`` rules per example.
    """
    contract = Contract() if contract is None else contract
    if not isinstance(contract, Contract):
        raise ArgumentError(f"contract={contract!r} should be a rollcheck.spec.Contract")
    if max_episode_steps is not None:
        _positive("max_episode_steps", max_episode_steps)
    max_run, stateful_step_count = _positive("max_run", max_run), _positive("stateful_step_count", stateful_step_count)
    active = frozenset(ENV_MACHINE_PROPERTIES.without(skip).ids)
    target = resolve_target(make_env, wrappers)
    probe = target.make()
    try:
        space, limit, every = probe.action_space, max_episode_steps or episode_limit(probe), 7
    finally:
        probe.close()
    action = action_strategy(space)

    class EnvMachine(_EnvMachine):
        _target, _active, _contract, _limit, _probe_every = target, active, contract, limit, every

        @initialize(seed=SEEDS)
        def reset_first(self, seed: int) -> None:
            """The first reset is always seeded: an unseeded one would make the shadows diverge."""
            self._reset(seed)

        @rule(seed=st.none() | SEEDS)
        def reset(self, seed: "int | None") -> None:
            self._reset(seed)

        @precondition(_EnvMachine._can_step)
        @rule(action=action)
        def step(self, action: Any) -> None:
            self._step(action)

        @precondition(_EnvMachine._can_step)
        @rule(action=action, n=st.integers(1, max_run))
        def step_run(self, action: Any, n: int) -> None:
            """One action repeated ``n`` times, or until the episode ends."""
            for _ in range(n):
                if self.done:
                    break
                self._step(action)

        @invariant()
        def no_earlier_value_mutated(self) -> None:
            self._check_returned()

    EnvMachine.__name__ = EnvMachine.__qualname__ = _class_name("EnvMachine", target.label)
    return _with_step_count(EnvMachine, stateful_step_count)


# ---------------------------------------------------------------------------------------------
# session_machine
# ---------------------------------------------------------------------------------------------

def _as_float64(value: Any) -> Any:
    try:
        return np.array(value, dtype=np.float64)
    except Exception:
        return snapshot(value)


def _fields(tr: Transition) -> tuple:
    return tuple(getattr(tr, f) for f in _FIELDS)


def _differs(names: Sequence[str], expected: Sequence[Any], actual: Sequence[Any]) -> list[str]:
    for name, e, a in zip(names, expected, actual):
        d = first_difference(e, a)
        if d is not None:
            return [f"{name}: expected {short(e)}, got {short(a)}"]
    return []


def _contract_problems(session: CheckedSession, tr: Transition, action: int) -> list[str]:
    """``session.contract_holds``: the transition is of the stepped action and satisfies ``ContractHolds``."""
    out = [] if tr.action == action else [f"transition.action={tr.action!r} but step_checked was given {action!r}"]
    if not contract_holds(session.contract, tr):
        vs = transition_violations(session.contract, *_fields(tr), obs_shape=session.obs_shape,
                                   n_actions=session.n_actions)
        out.append("the transition breaks the session's contract: " + ("; ".join(str(v) for v in vs) or "ContractHolds is false"))
    return out


def _shape_problems(dims: tuple, label: str, value: Any) -> list[str]:
    """``session.obs_shape``: ``value`` is a real tensor of shape ``dims``."""
    shape = getattr(value, "shape", None)
    if shape is None or tuple(shape) != dims or getattr(getattr(value, "dtype", None), "kind", "") not in "fiu":
        return [f"{label} is {short(value)}; expected a real array of shape {list(dims)}"]
    return []


def _rejection_problems(action: int, outcome: Any) -> list[str]:
    """``session.rejects_invalid_action``: ``outcome`` (what step_checked did) is a rejection naming ``action``."""
    if isinstance(outcome, ContractViolation):
        return [] if "action" in outcome.fields else [f"ContractViolation on fields {list(outcome.fields)}, not \"action\": {outcome}"]
    if isinstance(outcome, ArgumentError):
        text = str(outcome)
        return [] if "action" in text and str(action) in text else [f"ArgumentError that does not name action {action}: {text}"]
    if isinstance(outcome, BaseException):
        return [f"raised {type(outcome).__name__}: {outcome}; expected ContractViolation or ArgumentError naming the action"]
    return [f"accepted it and returned {short(outcome)}"]


SESSION_PROPERTIES = PropertySet([
    SessionProperty("session.contract_holds", "Boundary.contractHolds_of_checkTransitionFin_eq_ok",
        "every transition step_checked returns is a Transition of the given action satisfying the session's contract",
        _contract_problems),
    SessionProperty("session.obs_shape", "Boundary.Transition obsShape nActions; CheckedSession.observe : Sess → Tensor Float obsShape",
        "observe(sess), transition.observation and transition.next_observation are real tensors of obs_shape",
        _shape_problems),
    SessionProperty("session.observation_threaded", "CheckedSession.stepChecked (uses observe s as the observation field)",
        "transition.observation equals observe(sess) taken before the step", _differs),
    SessionProperty("session.next_observation_threaded", "Gymnasium.Session.stepChecked (no reset: observation := obs')",
        "after a step that is not done, observe(sess') equals transition.next_observation", _differs),
    SessionProperty("session.observe_pure", "CheckedSession.observe : Sess → Tensor Float obsShape (a function)",
        "observing the same session value twice gives the same observation", _differs),
    SessionProperty("session.rejects_invalid_action", "CheckedSession.stepChecked : Sess → Fin nActions → ...",
        "an action outside [0, n_actions) is rejected with ContractViolation or ArgumentError naming the action",
        _rejection_problems),
    SessionProperty("session.matches_reference", "CheckedSession.ofEnv (Spec.RL.Env as the reference)",
        "observations and transitions equal the reference's along the same actions", _differs),
])

#: What a :func:`session_machine` checks: :data:`SESSION_PROPERTIES` and two env property ids.
SESSION_MACHINE_PROPERTIES = PropertySet([*SESSION_PROPERTIES, ALIASING_NO_MUTATION, ACTIONS_ACCEPTED])


class _SpecReference:
    """A pure ``Spec.RL.Env`` stepped as ``CheckedSession.ofEnv`` does (reset to ``initial_state`` on done)."""

    def __init__(self, env: Env, reset_on_done: bool) -> None:
        self.env, self.reset_on_done, self.state = env, reset_on_done, env.initial_state

    def start(self) -> None:
        self.state = self.env.initial_state

    def observation(self) -> Any:
        return self.env.observe(self.state)

    def step(self, action: int) -> Transition:
        obs = self.env.observe(self.state)
        next_obs, reward, te, tr, state = step_gym(self.env, self.state, action)
        out = Transition(obs, action, reward, next_obs, te, tr)
        self.state = self.env.initial_state if self.reset_on_done and out.done else state
        return out

    def close(self) -> None:
        return None


class _SessionReference:
    """A second session, stepped in lockstep."""

    def __init__(self, session: CheckedSession) -> None:
        self.session, self.sess = session, None

    def start(self) -> None:
        self.sess = self.session.start()

    def observation(self) -> Any:
        return self.session.observe(self.sess)

    def step(self, action: int) -> Transition:
        tr, self.sess = self.session.step_checked(self.sess, action)
        return tr

    def close(self) -> None:
        self.session.close()


def _build_session(factory: Callable[[], Any], name: str) -> CheckedSession:
    session = factory()
    if not isinstance(session, CheckedSession):
        raise ArgumentError(f"{name}() returned {session!r:.80}; it should return a rollcheck CheckedSession")
    return session


class _SessionMachine(_KeepsGlobalRNG):
    _make_session: Any = None
    _reference: Any = None
    _reset_on_done = True
    _active: frozenset = frozenset()

    def __init__(self) -> None:
        super().__init__()
        self.session = _build_session(type(self)._make_session, "make_session")
        self._to_close.append(self.session)
        self.dims = self.session.obs_shape.dims
        self.ref: Any = None
        ref = type(self)._reference
        if isinstance(ref, Env):
            self.ref = _SpecReference(ref, self._reset_on_done)
        elif ref is not None:
            other = _build_session(ref, "reference")
            self.ref = _SessionReference(other)
            self._to_close.append(other)
        self.sess: Any = None
        self.started, self.halted = False, False
        self.steps = 0
        self.sess_obs: Any = None  # what observe gave on the current session value (float64 copy)
        self.returned: list = []  # (label, getter of the live value, snapshot)
        self.seen: set = set()  # ids of the observation objects in ``returned`` (all kept alive there)

    def _fail(self, pid: str, problems: list, where: str) -> None:
        if problems and pid in self._active:
            raise failure(pid, f"{problems[0]} [{where}]", step=self.steps)

    def _observe(self, where: str) -> np.ndarray:
        obs = self.session.observe(self.sess)
        self._fail("session.obs_shape", _shape_problems(self.dims, "observe(sess)", obs), where)
        value = _as_float64(obs)
        if self.sess_obs is not None:
            self._fail("session.observe_pure", _differs(["observe(sess)"], [self.sess_obs], [value]),
                       where + ", observing the same session value again")
        self.sess_obs = value
        if id(obs) not in self.seen:  # the same object again is compared with its first snapshot
            self.seen.add(id(obs))
            self.returned.append((f"observation from observe ({where})", lambda: obs, snapshot(obs)))
        if self.ref is not None:
            self._fail("session.matches_reference",
                       _differs(["observe(sess)"], [_as_float64(self.ref.observation())], [value]), where)
        return value

    def _start(self) -> None:
        self.sess, self.started, self.halted, self.sess_obs = self.session.start(), True, False, None
        if self.ref is not None:
            self.ref.start()
        self._observe("after start()")

    def _step(self, action: int) -> None:
        k, where = self.steps, f"step {self.steps}, step_checked(sess, {action})"
        before = self._observe(f"before {where}")
        expected: Any = None
        if self.ref is not None:
            try:
                expected = self.ref.step(action)
            except ContractViolation as exc:  # a reference session rejected the step
                expected = exc
        try:
            out = self.session.step_checked(self.sess, action)
        except ContractViolation as exc:
            # The session rejected what the environment returned: its job, unless the reference accepts it.
            if isinstance(expected, Transition) and contract_holds(self.session.contract, expected):
                self._fail("session.matches_reference", [f"the session raised {exc}; the reference's transition "
                                                         f"{short(_fields(expected))} satisfies the contract"], where)
            self.halted = True
            return
        except Exception as exc:
            self._fail("actions.accepted", [f"step_checked raised {type(exc).__name__}: {exc} on a valid action"], where)
            raise
        if not (isinstance(out, tuple) and len(out) == 2 and isinstance(out[0], Transition)):
            raise failure("session.contract_holds", f"step_checked returned {short(out)}, not a (Transition, "
                          f"session) pair [{where}]", step=k)
        tr, new = out
        if isinstance(expected, ContractViolation):
            self._fail("session.matches_reference", [f"the reference rejected this step ({expected}); the session "
                                                     f"returned {short(_fields(tr))}"], where)
        self._fail("session.contract_holds", _contract_problems(self.session, tr, action), where)
        for name in ("observation", "next_observation"):
            self._fail("session.obs_shape", _shape_problems(self.dims, f"transition.{name}", getattr(tr, name)), where)
        self._fail("session.observation_threaded", _differs(["transition.observation"], [before], [tr.observation]), where)
        self.returned.append((f"transition from {where}", lambda: _fields(tr), snapshot(_fields(tr))))
        if expected is not None:
            self._fail("session.matches_reference", _differs(_FIELDS, _fields(expected), _fields(tr)), where)
        self.sess, self.sess_obs = new, None
        after = self._observe(f"after {where}")
        if not tr.done:
            self._fail("session.next_observation_threaded",
                       _differs(["observe(sess')"], [tr.next_observation], [after]), f"{where} (not done)")
        self.steps = k + 1

    def _step_invalid(self, action: int) -> None:
        where = f"step {self.steps}, step_checked(sess, {action}) with n_actions={self.session.n_actions}"
        try:
            outcome = self.session.step_checked(self.sess, action)
        except Exception as exc:
            outcome = exc
        self._fail("session.rejects_invalid_action", _rejection_problems(action, outcome), where)

    def _can_step(self) -> bool:
        return self.started and not self.halted

    def _check_returned(self) -> None:
        for label, live, snap in self.returned:
            problems = ALIASING_NO_MUTATION.check(ReturnedValue(label, snap, live()))
            self._fail("aliasing.no_mutation", problems, f"seen after step {self.steps - 1}")


def session_machine(make_session: Callable[[], CheckedSession], *, reference: Any = None,
                    reset_on_done: bool = True, skip: Sequence[str] = (), max_run: int = 20,
                    stateful_step_count: int = DEFAULT_STEP_COUNT) -> type:
    """A :class:`RuleBasedStateMachine` over the sessions ``make_session()`` returns (one per example).

    ``reference`` is a pure spec ``Env`` (stepped like ``CheckedSession.of_env``, back to its
    initial state on done when ``reset_on_done``) or a second zero-argument session factory; with
    it, observations and transitions must equal the reference's along the same actions. ``skip``
    leaves out ids of :data:`SESSION_MACHINE_PROPERTIES` (or prefixes). One session is built here
    to read ``n_actions`` (and closed).
    """
    if not callable(make_session):
        raise ArgumentError(f"make_session={make_session!r:.80} should be a zero-argument callable returning a CheckedSession")
    if reference is not None and not isinstance(reference, Env) and not callable(reference):
        raise ArgumentError(f"reference={reference!r:.80} should be a rollcheck.spec.Env or a session factory")
    reset_on_done = check_bool("reset_on_done", reset_on_done)
    max_run, stateful_step_count = _positive("max_run", max_run), _positive("stateful_step_count", stateful_step_count)
    active = frozenset(SESSION_MACHINE_PROPERTIES.without(skip).ids)
    probe = _build_session(make_session, "make_session")
    n = probe.n_actions
    probe.close()
    valid, invalid = st.integers(0, n - 1), st.integers(-3, -1) | st.integers(n, n + 3)

    class SessionMachine(_SessionMachine):
        _make_session, _reference, _reset_on_done, _active = staticmethod(make_session), reference, reset_on_done, active

        @rule()
        def start(self) -> None:
            self._start()

        @precondition(lambda self: self.started)
        @rule()
        def observe(self) -> None:
            self._observe(f"observe after step {self.steps - 1}")

        @precondition(_SessionMachine._can_step)
        @rule(action=valid)
        def step_checked(self, action: int) -> None:
            self._step(action)

        @precondition(_SessionMachine._can_step)
        @rule(action=valid, n=st.integers(1, max_run))
        def step_checked_run(self, action: int, n: int) -> None:
            for _ in range(n):
                if self.halted:
                    break
                self._step(action)

        @precondition(lambda self: self.started and "session.rejects_invalid_action" in self._active)
        @rule(action=invalid)
        def step_checked_out_of_range(self, action: int) -> None:
            self._step_invalid(action)

        @invariant()
        def no_earlier_value_mutated(self) -> None:
            self._check_returned()

    label = getattr(make_session, "__qualname__", None) or getattr(getattr(make_session, "func", None), "__qualname__", "session")
    SessionMachine.__name__ = SessionMachine.__qualname__ = _class_name("SessionMachine", label)
    return _with_step_count(SessionMachine, stateful_step_count)
