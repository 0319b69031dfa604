"""Instrumented inputs for a continuous-action (``Box``) rollout collector, and one recorded call.

The continuous counterpart of :mod:`rollcheck.properties.collector.trace` and
:mod:`rollcheck.properties.collector.run` (rollcheck's extension of TorchLean, whose collector
``PPO.collectRolloutFromCallbacks`` samples ``Fin nActions`` only). A continuous collector has the
seed's signature with a Gaussian head in place of the logits and a Box in place of ``n_actions``::

    collect(start, observe, step_checked, cast_obs, cast_reward, predict_gaussian, predict_value,
            rng_seed, rng_counter, *, horizon, action_space, obs_shape, squash) -> (Rollout, counter)

``predict_gaussian(obs) -> (mean, log_std)`` (two ``(d,)`` float64 arrays), ``action_space`` a
:class:`rollcheck.spec.Box`, ``squash`` whether the policy is tanh-squashed (see
:mod:`rollcheck.spec.gaussian` for the conventions: the recorded action is the unclipped sample, or
``tanh(u)``; the environment gets the clipped, or rescaled, action).

A :class:`BoxCollectorCase` is one plain, printable choice of everything; :func:`run_box_collector`
builds fresh callables for it (a scripted session whose ``step_checked`` records the raw action it
was handed and then applies the Box contract, so an unclipped action is both traced and refused; or
``CheckedSession.gymnasium`` on a real env with a ``Box`` action space), calls the collector once and
returns a :class:`~rollcheck.properties.collector.run.CollectorRun`-like :class:`BoxCollectorRun`.

Invariant enforced: a run is a pure function of ``(collect, case)`` (fresh inputs every call), so
variants (the same case again, another seed) replay exactly; the collector's own exception is a
finding, never a crash of the harness.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from rollcheck.spec.arguments import check_count, check_nat
from rollcheck.spec import Box, Contract, Rollout, Shape, Transition, check_transition_fin
from rollcheck.spec.errors import ArgumentError

from rollcheck.properties.collector.run import CollectorInputs, call_collector, gymnasium_session
from rollcheck.properties.collector.trace import (CASTS, END_KINDS, SessionTrace, StepBudgetExceeded, TracedStep,
                                                  RecordedSession, cast_functions)

__all__ = ["BOX_BOUNDS", "LOG_STD_MODES", "BoxCollectorCase", "BoxCollectorRun", "BoxPolicy", "BoxPolicySpec",
           "BoxScriptedSession", "box_env_signature", "box_inputs", "run_box_collector"]

BOX_BOUNDS = ("narrow", "wide", "asymmetric", "unbounded")
LOG_STD_MODES = ("constant", "state")


@dataclass(frozen=True)
class BoxPolicySpec:
    """A small Gaussian actor-critic: ``hidden`` tanh units, weights from ``weight_seed``; ``log_std``
    a constant vector (``"constant"``, SB3/CleanRL) or a function of the state (``"state"``), centred
    on ``log_std_shift``."""

    hidden: int = 4
    weight_seed: int = 0
    log_std: str = "constant"
    log_std_shift: float = 0.0

    def __post_init__(self) -> None:
        check_count("BoxPolicySpec.hidden", self.hidden)
        if not isinstance(self.weight_seed, int) or self.weight_seed < 0:
            raise ArgumentError(f"BoxPolicySpec.weight_seed={self.weight_seed!r} should be a non-negative int")
        if self.log_std not in LOG_STD_MODES:
            raise ArgumentError(f"BoxPolicySpec.log_std={self.log_std!r} should be one of {LOG_STD_MODES}")


def _box(bounds: str, dims: tuple) -> Box:
    size = Shape.of(dims).size
    if bounds == "narrow":
        return Box(dims, -0.5, 0.5, "float64")
    if bounds == "wide":
        return Box(dims, -5.0, 5.0, "float64")
    if bounds == "asymmetric":
        return Box(dims, [-0.25 - 0.5 * i for i in range(size)], [1.0 + i for i in range(size)], "float64")
    return Box(dims, None, None, "float64")


@dataclass(frozen=True)
class BoxCollectorCase:
    """Everything one continuous collector call is given, as plain data (its ``repr`` is paste-able).

    ``bounds`` picks the Box (``narrow`` ``[-0.5, 0.5]`` clips a unit-std sample about 60% of the time;
    ``unbounded`` never clips and is not used with ``squash``). With ``env_id`` the session is that
    Gymnasium environment and ``obs_shape``/``action_shape``/``bounds``/``episodes`` are its own.
    """

    obs_shape: tuple = (2,)
    action_shape: tuple = (1,)
    bounds: str = "narrow"
    squash: bool = False
    horizon: int = 4
    rng_seed: int = 0
    rng_counter: int = 0
    episodes: tuple = ()
    cast: str = "float64"
    policy: BoxPolicySpec = field(default_factory=BoxPolicySpec)
    env_id: "str | None" = None
    env_seed: int = 0
    env_box: "Box | None" = None

    def __post_init__(self) -> None:
        if not isinstance(self.obs_shape, tuple) or Shape.of(self.obs_shape).size == 0:
            raise ArgumentError(f"BoxCollectorCase.obs_shape={self.obs_shape!r} should be a tuple of positive ints")
        if not isinstance(self.action_shape, tuple) or Shape.of(self.action_shape).size == 0:
            raise ArgumentError(f"BoxCollectorCase.action_shape={self.action_shape!r} should be a non-empty shape")
        if self.bounds not in BOX_BOUNDS:
            raise ArgumentError(f"BoxCollectorCase.bounds={self.bounds!r} should be one of {BOX_BOUNDS}")
        if not isinstance(self.squash, bool):
            raise ArgumentError(f"BoxCollectorCase.squash={self.squash!r} should be a bool")
        if self.squash and not self.box.bounded:
            raise ArgumentError("BoxCollectorCase: a squashed policy needs a bounded Box")
        check_count("BoxCollectorCase.horizon", self.horizon)
        for name in ("rng_seed", "rng_counter"):
            v = getattr(self, name)
            check_nat(f"BoxCollectorCase.{name}", v, most=2**64 - 1)
        if self.rng_counter + 2 * self.box.size * self.horizon >= 2**64:
            raise ArgumentError("BoxCollectorCase: rng_counter + 2 * d * horizon overflows the 64-bit counter")
        for i, ep in enumerate(self.episodes):
            if not (isinstance(ep, tuple) and len(ep) == 2 and isinstance(ep[0], int) and ep[0] > 0
                    and ep[1] in END_KINDS):
                raise ArgumentError(f"BoxCollectorCase.episodes[{i}]={ep!r} should be (length > 0, one of {END_KINDS})")
        if self.cast not in CASTS:
            raise ArgumentError(f"BoxCollectorCase.cast={self.cast!r} should be one of {CASTS}")

    @property
    def shape(self) -> Shape:
        return Shape.of(self.obs_shape)

    @property
    def box(self) -> Box:
        return self.env_box if self.env_box is not None else _box(self.bounds, self.action_shape)


class BoxPolicy:
    """``predict_gaussian`` / ``predict_value`` of a one-hidden-layer tanh MLP (numpy, float64)."""

    def __init__(self, obs_size: int, action_size: int, spec: BoxPolicySpec) -> None:
        rng = np.random.default_rng(spec.weight_seed)
        self.spec = spec
        self.obs_size = obs_size
        self.w1 = rng.normal(0.0, 1.0 / np.sqrt(max(obs_size, 1)), size=(spec.hidden, obs_size))
        self.b1 = rng.normal(0.0, 0.1, size=spec.hidden)
        self.w_mu = rng.normal(0.0, 1.0, size=(action_size, spec.hidden))
        self.b_mu = rng.normal(0.0, 0.5, size=action_size)
        self.w_s = rng.normal(0.0, 0.3, size=(action_size, spec.hidden))
        self.b_s = rng.normal(0.0, 0.3, size=action_size) + spec.log_std_shift
        self.w_v = rng.normal(0.0, 1.0, size=spec.hidden)
        self.b_v = float(rng.normal(0.0, 0.5))
        self.constant_log_std = self.b_s.copy()
        self.constant_log_std.setflags(write=False)

    def _hidden(self, obs: Any) -> np.ndarray:
        x = np.asarray(obs, dtype=np.float64).reshape(-1)
        if x.size != self.obs_size:
            raise ArgumentError(f"policy got an observation with {x.size} elements, expected {self.obs_size}")
        return np.tanh(self.w1 @ x + self.b1)

    def predict_gaussian(self, obs: Any) -> "tuple[np.ndarray, np.ndarray]":
        h = self._hidden(obs)
        mean = self.w_mu @ h + self.b_mu
        if self.spec.log_std == "state":
            return mean, self.w_s @ h + self.b_s
        return mean, self.constant_log_std

    def predict_value(self, obs: Any) -> float:
        return float(self.w_v @ self._hidden(obs) + self.b_v)


class BoxScriptedSession:
    """A checked session over a scripted environment with a ``Box`` action space.

    Step ``t`` of episode ``k`` with action ``a`` moves to ``10 k + 0.7 (t + 1) + 0.1 Σa + 0.01 i``
    (entry ``i``); the reward is ``0.1 + 0.3 t + 0.7 a_0 - 0.05 k``. The raw action is traced first,
    then the step goes through ``check_transition_fin(..., action_space=box)``: an action outside
    the Box raises ``ContractViolation`` (what a real checked session does).
    """

    def __init__(self, case: BoxCollectorCase, trace: SessionTrace, budget: int) -> None:
        self.case, self.trace, self.budget = case, trace, budget
        self.box = case.box
        self.offsets = 0.01 * np.arange(case.shape.size, dtype=np.float64).reshape(case.obs_shape)
        self.states: dict[int, tuple[int, int, np.ndarray]] = {}
        self.latest = 0
        self.sess = [0]

    def _obs(self, base: float) -> np.ndarray:
        out = base + self.offsets
        out.setflags(write=False)
        return out

    def _new(self, state: tuple) -> list:
        self.latest += 1
        self.states[self.latest] = state
        self.sess[0] = self.latest
        return self.sess

    def start(self) -> Any:
        self.trace.starts += 1
        return self._new((0, 0, self._obs(-1.55)))

    def observe(self, sess: Any) -> np.ndarray:
        self.trace.observes += 1
        return self.states[self.latest][2]

    def step_checked(self, sess: Any, action: Any) -> "tuple[Transition, Any]":
        if len(self.trace.steps) >= self.budget:
            raise StepBudgetExceeded(f"step_checked called more than {self.budget} times "
                                     f"for horizon={self.case.horizon}")
        k, t, obs = self.states[self.latest]
        raw = np.array(action, dtype=np.float64, copy=True) if _real_tensor(action) else action
        record = TracedStep(presented=obs.copy(), action=raw, threaded=sess is self.sess)
        self.trace.steps.append(record)
        a = np.asarray(raw, dtype=np.float64).reshape(-1) if _real_tensor(raw) else np.zeros(1)
        nxt = self._obs(10.0 * k + 0.7 * (t + 1) + 0.1 * float(np.sum(a)))
        kind = None
        if k < len(self.case.episodes) and t + 1 == self.case.episodes[k][0]:
            kind = self.case.episodes[k][1]
        reward = 0.1 + 0.3 * t + 0.7 * float(a[0] if a.size else 0.0) - 0.05 * k
        tr = check_transition_fin(Contract(), obs, nxt, action, reward, kind in ("terminated", "both"),
                                  kind in ("truncated", "both"), obs_shape=self.case.shape, action_space=self.box)
        record.transition = tr
        after = self._obs(-1.5 * (k + 2) - 0.05) if kind else nxt
        record.after = after.copy()
        return tr, self._new((k + 1, 0, after) if kind else (k, t + 1, after))

    def scribble(self) -> None:
        return None   # observations are handed out read-only


def _real_tensor(x: Any) -> bool:
    try:
        arr = np.asarray(x)
    except Exception:   # noqa: BLE001 — anything numpy cannot read is not a tensor
        return False
    return arr.dtype.kind in "fiu"


def box_env_signature(env_id: str) -> "tuple[tuple, Box]":
    """``(obs_shape, Box)`` of a Gymnasium environment with a ``Box`` action space."""
    import gymnasium

    from rollcheck.impl.session import box_of_gymnasium
    from rollcheck.impl.toy_envs import register_toy_envs
    from gymnasium import spaces

    register_toy_envs()
    env = gymnasium.make(env_id)
    try:
        if not isinstance(env.action_space, spaces.Box):
            raise ArgumentError(f"env {env_id!r} has action space {env.action_space}; a Box space is required")
        return tuple(int(d) for d in env.observation_space.shape), box_of_gymnasium(env.action_space)
    finally:
        env.close()


@dataclass
class BoxInputs(CollectorInputs):
    """The arguments of one continuous collector call and what records it."""

    case: BoxCollectorCase
    policy: BoxPolicy

    def policy_callback(self) -> Callable[[Any], Any]:
        return self.policy.predict_gaussian

    def keywords(self) -> dict:
        c = self.case
        return {"horizon": c.horizon, "action_space": c.box, "obs_shape": c.shape, "squash": c.squash}


def box_inputs(case: BoxCollectorCase) -> BoxInputs:
    """Fresh instrumented callbacks for ``case``."""
    trace = SessionTrace()
    budget = 4 * case.horizon + 16
    if case.env_id is not None:
        session: Any = RecordedSession(gymnasium_session(case.env_id, case.env_seed), trace, budget)
    else:
        session = BoxScriptedSession(case, trace, budget)
    policy = BoxPolicy(case.shape.size, case.box.size, case.policy)
    cast_obs, cast_reward = cast_functions(case.cast)
    return BoxInputs(case, session, trace, policy, cast_obs, cast_reward)


@dataclass
class BoxCollectorRun:
    """The outcome of calling a continuous ``collect`` on one case (see ``CollectorRun``)."""

    collect: Callable[..., Any]
    case: BoxCollectorCase
    inputs: BoxInputs
    rollout: "Rollout | None" = None
    counter: Any = None
    error: "str | None" = None
    global_rng_touched: bool = False
    changed_by_scribble: list = field(default_factory=list)
    tolerance: float = 1e-9
    _variants: dict = field(default_factory=dict)

    @property
    def trace(self) -> SessionTrace:
        return self.inputs.trace

    def variant(self, kind: Any) -> "BoxCollectorRun":
        if kind not in self._variants:
            seed = None if kind == "again" else kind[1]
            self._variants[kind] = run_box_collector(self.collect, self.case, rng_seed=seed, tolerance=self.tolerance)
        return self._variants[kind]


def run_box_collector(collect: Callable[..., Any], case: BoxCollectorCase, *, rng_seed: "int | None" = None,
                      tolerance: float = 1e-9) -> BoxCollectorRun:
    """Call ``collect`` once on fresh instrumented inputs for ``case`` and record what happened."""
    inputs = box_inputs(case)
    run = BoxCollectorRun(collect, case, inputs, tolerance=tolerance)
    try:
        call_collector(collect, inputs, run, rng_seed)
    finally:
        inputs.close()
    return run
