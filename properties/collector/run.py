"""One rollout-collector call on instrumented inputs, recorded: the run the collector properties judge.

Mirrors one application of TorchLean's ``NN.Runtime.RL.PPO.collectRolloutFromCallbacks`` to
concrete callbacks: ``collect(start, observe, step_checked, cast_obs, cast_reward, predict_logits,
predict_value, rng_seed, rng_counter, *, horizon, n_actions, obs_shape) -> (Rollout, counter)``.
:func:`build_inputs` turns a :class:`~rollcheck.properties.collector.trace.CollectorCase` into
those callables (a :class:`~rollcheck.properties.collector.trace.ScriptedSession`, or a
:class:`~rollcheck.properties.collector.trace.RecordedSession` over
``CheckedSession.gymnasium`` for a real environment, a generated MLP policy and the casts), and
:func:`run_collector` calls ``collect`` once on them and keeps everything in a
:class:`CollectorRun`: the session trace, the returned rollout and counter or the exception text,
whether Python's, numpy's or torch's global RNG was touched, and which recorded states changed when the
session scribbled over the buffers it had handed out. :mod:`.collector_properties` reads only
these runs; the instrumented pieces themselves live in :mod:`.collector_trace`.

Invariant enforced: a run is a pure function of ``(collect, case)`` — every call builds fresh
inputs, so :meth:`CollectorRun.variant` (the same case again, another seed, fresh buffers) replays
exactly, which the determinism properties and shrunk reproducers rely on; the collector's own
exception is a finding (``CollectorRun.error``), never a crash of the harness; a Gymnasium
session is closed whatever happens.

(Historical import path: these names are also importable from :mod:`.collector_trace`.)
"""

from __future__ import annotations

import random
import sys
import traceback
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from rollcheck.spec import Rollout

from rollcheck.properties.core.tolerances import Tolerances

from rollcheck.properties.collector.trace import (CollectorCase, MlpPolicy, RecordedSession, ScriptedSession, SessionTrace,
                              cast_functions)

__all__ = ["CollectorInputs", "CollectorRun", "build_inputs", "call_collector", "gymnasium_session", "run_collector"]


def gymnasium_session(env_id: str, env_seed: int) -> Any:
    """``CheckedSession.gymnasium(gymnasium.make(env_id), seed=env_seed, reset_on_done=True)``."""
    import gymnasium

    from rollcheck.impl.session import CheckedSession
    from rollcheck.impl.toy_envs import register_toy_envs
    register_toy_envs()
    return CheckedSession.gymnasium(gymnasium.make(env_id), seed=env_seed, reset_on_done=True)


@dataclass
class CollectorInputs:
    """The positional and keyword arguments of one collector call, plus what records it."""

    case: CollectorCase
    session: Any
    trace: SessionTrace
    policy: MlpPolicy
    cast_obs: Callable[[Any], Any]
    cast_reward: Callable[[float], float]

    def policy_callback(self) -> Callable[[Any], Any]:
        """The policy argument: ``predict_logits`` (``predict_gaussian`` for Box actions)."""
        return self.policy.predict_logits

    def keywords(self) -> dict:
        """The keyword arguments that fix the collector's types."""
        c = self.case
        return {"horizon": c.horizon, "n_actions": c.n_actions, "obs_shape": c.shape}

    def args(self, rng_seed: "int | None" = None) -> tuple[tuple, dict]:
        c = self.case
        seed = c.rng_seed if rng_seed is None else rng_seed
        return ((self.session.start, self.session.observe, self.session.step_checked, self.cast_obs,
                 self.cast_reward, self.policy_callback(), self.policy.predict_value, seed, c.rng_counter),
                self.keywords())

    def close(self) -> None:
        close = getattr(self.session, "close", None)
        if close is not None:
            close()


def build_inputs(case: CollectorCase, *, buffers: "str | None" = None) -> CollectorInputs:
    """Fresh instrumented callbacks for ``case`` (``buffers`` overrides the case's buffer mode)."""
    if buffers is not None and buffers != case.buffers:
        from dataclasses import replace
        case = replace(case, buffers=buffers)
    trace = SessionTrace()
    budget = 4 * case.horizon + 16
    if case.env_id is not None:
        session: Any = RecordedSession(gymnasium_session(case.env_id, case.env_seed), trace, budget)
    else:
        session = ScriptedSession(case, trace, budget)
    policy = MlpPolicy(case.shape.size, case.n_actions, case.policy)
    cast_obs, cast_reward = cast_functions(case.cast)
    return CollectorInputs(case, session, trace, policy, cast_obs, cast_reward)


# -- one collector call, recorded ---------------------------------------------------------------
def _rng_state() -> tuple:
    """Python's, numpy's and (when the collector's process has imported it) torch's global RNG
    states: a collector must touch none of them."""
    st = np.random.get_state(legacy=False)
    torch = sys.modules.get("torch")
    torch_state = None
    if torch is not None and hasattr(torch, "random") and hasattr(torch.random, "get_rng_state"):
        torch_state = bytes(torch.random.get_rng_state().numpy().tobytes())
    return (random.getstate(), (st["state"]["key"].tobytes(), st["state"]["pos"], st["has_gauss"]), torch_state)


@dataclass
class CollectorRun:
    """The outcome of calling ``collect`` on one case: inputs, trace, return value or exception.

    ``rollout``/``counter`` are set when ``collect`` returned a ``(Rollout, int)`` pair;
    ``error`` holds the exception text (with a traceback tail) or the return-type problem.
    ``variant(kind)`` lazily re-runs the same case (``"again"``), with another seed
    (``("seed", s)``; that run's ``case`` still names the original seed) or with fresh buffers
    (``"fresh"``), for the properties that compare runs.
    """

    collect: Callable[..., Any]
    case: CollectorCase
    inputs: CollectorInputs
    rollout: "Rollout | None" = None
    counter: Any = None
    error: "str | None" = None
    global_rng_touched: bool = False
    changed_by_scribble: list = field(default_factory=list)
    tolerance: Tolerances = field(default_factory=Tolerances)
    _variants: dict = field(default_factory=dict)

    @property
    def trace(self) -> SessionTrace:
        return self.inputs.trace

    def variant(self, kind: Any) -> "CollectorRun":
        if kind not in self._variants:
            if kind == "again":
                self._variants[kind] = run_collector(self.collect, self.case, tolerance=self.tolerance)
            elif kind == "fresh":
                self._variants[kind] = run_collector(self.collect, self.case, buffers="fresh",
                                                     tolerance=self.tolerance)
            else:
                self._variants[kind] = run_collector(self.collect, self.case, rng_seed=kind[1],
                                                     tolerance=self.tolerance)
        return self._variants[kind]


def call_collector(collect: Callable[..., Any], inputs: CollectorInputs, run: Any,
                   rng_seed: "int | None" = None) -> None:
    """Call ``collect`` once on ``inputs`` and record in ``run`` what happened: the exception (with a
    traceback tail) or the return-type problem in ``error``, else ``rollout`` and ``counter``, and
    whether any global RNG moved. Shared by the discrete and the continuous collector runs."""
    args, kwargs = inputs.args(rng_seed)
    before = _rng_state()
    try:
        result = collect(*args, **kwargs)
    except Exception as exc:  # the collector's own failure is a finding, not a harness crash
        tb = traceback.format_exception(type(exc), exc, exc.__traceback__)
        run.error = f"{type(exc).__name__}: {exc}\n" + "".join(tb[-3:])
        return
    finally:
        run.global_rng_touched = before != _rng_state()
    if not (isinstance(result, tuple) and len(result) == 2 and isinstance(result[0], Rollout)):
        run.error = f"collect returned {type(result).__name__} {result!r:.120}; expected a (Rollout, counter) pair"
    else:
        run.rollout, run.counter = result


def run_collector(collect: Callable[..., Any], case: CollectorCase, *, buffers: "str | None" = None,
                  rng_seed: "int | None" = None, tolerance: Any = None) -> CollectorRun:
    """Call ``collect`` once on fresh instrumented inputs for ``case`` and record what happened."""
    inputs = build_inputs(case, buffers=buffers)
    run = CollectorRun(collect, case, inputs, tolerance=Tolerances.of(tolerance))
    try:
        call_collector(collect, inputs, run, rng_seed)
        if run.rollout is not None:   # a returned state a later scribble changes was not copied
            before_states = [st.state.copy() for st in run.rollout.steps]
            inputs.session.scribble()
            run.changed_by_scribble = [t for t, (b, st) in enumerate(zip(before_states, run.rollout.steps))
                                       if not np.array_equal(b, st.state, equal_nan=True)]
    finally:
        inputs.close()
    return run
