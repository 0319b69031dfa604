"""Instrumented callbacks for driving a rollout collector: scripted sessions, generated policies, traces.

Mirrors the inputs of TorchLean's ``NN.Runtime.RL.PPO.collectRolloutFromCallbacks``: a checked
session (``start``, ``observe``, ``stepChecked``, with ``resetOnDone := true`` as in
``Session.CheckedSession.gymnasium``), ``castObservation``/``castReward``, ``predictLogits``/
``predictValue`` and the RNG stream ``(rngSeed, rngCounter)``. A :class:`CollectorCase` is one
plain, printable choice of all of them; :func:`~.run.build_inputs` turns it into callables
whose every call is written to a :class:`SessionTrace`:

- each ``start``; each ``step_checked`` with the session value it was handed (was it the one the
  previous call returned?), the observation the session was presenting at that moment (a copy),
  the action received (raw) and the :class:`~rollcheck.spec.Transition` returned;
- the observation after the step (the reset observation when the episode ended).

The sessions are adversarial on purpose: ``buffers="reuse"`` hands out *one* writable array that
every later ``observe``/``step_checked`` overwrites in place (as many Gymnasium envs do) and that
is scribbled over after the collector returns; ``session_style="functional"`` makes the session
value an immutable token, so a collector that keeps stepping a stale session sees the old state.
Episodes end by termination, truncation or both (``episodes``); observations may be scalars;
policies are small numpy MLPs with generated weights whose logits can be normal, shifted by
+-800 (a naive ``exp`` overflows or underflows), extreme (x1e4) or near-tied (differences ~1e-12).

Real Gymnasium environments are traced through :class:`RecordedSession` over
``rollcheck.impl.session.CheckedSession.gymnasium``. Putting the pieces together and calling a
collector once lives in :mod:`.run` (:func:`~.run.build_inputs`, :func:`~.run.run_collector`,
:class:`~.run.CollectorRun`), which imports this module; :mod:`.catalog` only reads the runs.

Invariant enforced: every value here is a pure function of the case, so a case replays exactly
(determinism properties and shrunk reproducers rely on it). References: Gymnasium's ``Env.step``
contract (``terminated``/``truncated``), https://gymnasium.farama.org/api/env/.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from rollcheck.spec import Contract, Shape, Transition, check_transition_fin
from rollcheck.spec.errors import RollcheckError, ArgumentError
from rollcheck.spec.arguments import check_count, check_nat

__all__ = ["BUFFERS", "CASTS", "END_KINDS", "LOGIT_MODES", "SESSION_STYLES", "CollectorCase", "MlpPolicy",
           "PolicySpec", "RecordedSession", "ScriptedSession", "SessionTrace", "StepBudgetExceeded", "TracedStep",
           "cast_functions", "env_signature"]

END_KINDS = ("terminated", "truncated", "both")
BUFFERS = ("fresh", "reuse")
SESSION_STYLES = ("mutable", "functional")
CASTS = ("float64", "float32")
LOGIT_MODES = ("normal", "shifted_up", "shifted_down", "extreme", "near_tied")
SENTINEL = 7777.25  # written into reused buffers after the collector returns


def _choice(name: str, value: Any, allowed: tuple) -> None:
    if value not in allowed:
        raise ArgumentError(f"{name}={value!r} should be one of {allowed}")


@dataclass(frozen=True)
class PolicySpec:
    """A small actor-critic MLP: ``hidden`` tanh units, weights drawn from ``weight_seed``."""

    hidden: int = 4
    weight_seed: int = 0
    logits: str = "normal"
    value_scale: float = 1.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "hidden", check_count("PolicySpec.hidden", self.hidden))
        _choice("PolicySpec.logits", self.logits, LOGIT_MODES)
        object.__setattr__(self, "weight_seed", check_nat("PolicySpec.weight_seed", self.weight_seed))


@dataclass(frozen=True)
class CollectorCase:
    """Everything one collector call is given, as plain data (its ``repr`` is paste-able Python).

    ``episodes`` scripts how the session's episodes end: ``(length, kind)`` pairs, ``kind`` in
    ``END_KINDS``; after the script the episode runs on without ending. With ``env_id`` set the
    session is that Gymnasium environment (reset with ``env_seed``) and ``obs_shape``,
    ``n_actions``, ``episodes``, ``buffers``, ``session_style`` and ``obs_dtype`` are its own.
    """

    obs_shape: tuple = (2,)
    n_actions: int = 2
    horizon: int = 4
    rng_seed: int = 0
    rng_counter: int = 0
    episodes: tuple = ()
    buffers: str = "fresh"
    session_style: str = "mutable"
    obs_dtype: str = "float64"
    cast: str = "float64"
    policy: PolicySpec = field(default_factory=PolicySpec)
    env_id: "str | None" = None
    env_seed: int = 0

    def __post_init__(self) -> None:
        if not isinstance(self.obs_shape, tuple) or Shape.of(self.obs_shape).size == 0:
            raise ArgumentError(f"CollectorCase.obs_shape={self.obs_shape!r} should be a tuple of positive ints")
        object.__setattr__(self, "n_actions", check_count("CollectorCase.n_actions", self.n_actions))
        object.__setattr__(self, "horizon", check_count("CollectorCase.horizon", self.horizon))
        for name in ("rng_seed", "rng_counter"):
            object.__setattr__(self, name, check_nat(f"CollectorCase.{name}", getattr(self, name), most=2**64 - 1))
        if self.rng_counter + self.horizon >= 2**64:
            raise ArgumentError(f"CollectorCase.rng_counter={self.rng_counter} + horizon={self.horizon} "
                                  "overflows the 64-bit counter")
        for i, ep in enumerate(self.episodes):
            if not (isinstance(ep, tuple) and len(ep) == 2 and isinstance(ep[0], int) and ep[0] > 0
                    and ep[1] in END_KINDS):
                raise ArgumentError(f"CollectorCase.episodes[{i}]={ep!r} should be (length > 0, one of {END_KINDS})")
        _choice("CollectorCase.buffers", self.buffers, BUFFERS)
        _choice("CollectorCase.session_style", self.session_style, SESSION_STYLES)
        _choice("CollectorCase.obs_dtype", self.obs_dtype, CASTS)
        _choice("CollectorCase.cast", self.cast, CASTS)

    @property
    def shape(self) -> Shape:
        return Shape.of(self.obs_shape)


class MlpPolicy:
    """``predict_logits`` / ``predict_value`` of a one-hidden-layer tanh MLP (pure numpy, float64)."""

    def __init__(self, obs_size: int, n_actions: int, spec: PolicySpec) -> None:
        rng = np.random.default_rng(spec.weight_seed)
        self.spec = spec
        self.obs_size = obs_size
        self.w1 = rng.normal(0.0, 1.0 / np.sqrt(max(obs_size, 1)), size=(spec.hidden, obs_size))
        self.b1 = rng.normal(0.0, 0.1, size=spec.hidden)
        self.w_pi = rng.normal(0.0, 1.0, size=(n_actions, spec.hidden))
        self.b_pi = rng.normal(0.0, 0.5, size=n_actions)
        self.w_v = rng.normal(0.0, 1.0, size=spec.hidden)
        self.b_v = float(rng.normal(0.0, 0.5))

    def _hidden(self, obs: Any) -> np.ndarray:
        x = np.asarray(obs, dtype=np.float64).reshape(-1)
        if x.size != self.obs_size:
            raise ArgumentError(f"policy got an observation with {x.size} elements, expected {self.obs_size}")
        return np.tanh(self.w1 @ x + self.b1)

    def predict_logits(self, obs: Any) -> np.ndarray:
        raw = self.w_pi @ self._hidden(obs) + self.b_pi
        mode = self.spec.logits
        if mode == "shifted_up":
            return raw + 800.0
        if mode == "shifted_down":
            return raw - 800.0
        if mode == "extreme":
            return raw * 1.0e4
        if mode == "near_tied":
            return 0.25 + raw * 1.0e-12
        return raw

    def predict_value(self, obs: Any) -> float:
        return float(self.spec.value_scale * (self.w_v @ self._hidden(obs) + self.b_v))


def cast_functions(cast: str) -> "tuple[Callable[[Any], Any], Callable[[float], float]]":
    """``(cast_obs, cast_reward)`` for the scalar backend ``cast`` (Lean ``castObservation``/``castReward``).

    ``float64`` returns the session's array itself when it already is float64 (no copy: a
    collector that keeps it keeps the session's buffer); ``float32`` rounds like a Float32 backend.
    """
    _choice("cast", cast, CASTS)
    if cast == "float32":
        return (lambda o: np.asarray(o, dtype=np.float32)), (lambda r: float(np.float32(r)))
    return (lambda o: np.asarray(o, dtype=np.float64)), (lambda r: float(r))


@dataclass
class TracedStep:
    """One ``step_checked`` call as the session saw it."""

    presented: np.ndarray          # the observation current when the call arrived (a copy)
    action: Any                    # the raw action received
    transition: "Transition | None" = None
    after: "np.ndarray | None" = None   # the observation current after the call (post-reset)
    threaded: bool = True          # was the session value the one returned last?


@dataclass
class SessionTrace:
    """Every call a collector made on the instrumented session."""

    starts: int = 0
    observes: int = 0
    steps: list[TracedStep] = field(default_factory=list)
    handed_out: list[np.ndarray] = field(default_factory=list)  # buffers given away by observe

    @property
    def episodes(self) -> int:
        ends = sum(1 for s in self.steps if s.transition is not None and s.transition.done)
        return ends + (1 if self.steps else 0)


class StepBudgetExceeded(RollcheckError, RuntimeError):
    """The collector kept stepping far past its horizon (the harness stops it here)."""


class _Token:
    """An immutable session value for ``session_style="functional"``."""

    __slots__ = ("serial",)

    def __init__(self, serial: int) -> None:
        self.serial = serial

    def __repr__(self) -> str:
        return f"<session #{self.serial}>"


class ScriptedSession:
    """A checked session over a scripted environment (see the module docstring).

    The episode ``k`` starts at a negative reset observation; step ``t`` of it with action ``a``
    moves to ``10 k + 0.7 (t + 1) + 0.1 a + 0.01 i`` (element ``i``), so states depend on the
    episode, the time and the action; rewards are ``0.1 + 0.3 t + 0.7 a - 0.05 k`` (not exactly
    representable in float32).
    """

    def __init__(self, case: CollectorCase, trace: SessionTrace, budget: int) -> None:
        self.case = case
        self.trace = trace
        self.budget = budget
        self.dtype = np.float32 if case.obs_dtype == "float32" else np.float64
        self.offsets = 0.01 * np.arange(max(case.shape.size, 1), dtype=np.float64).reshape(case.obs_shape)
        self.buffer = np.zeros(case.obs_shape, dtype=self.dtype)
        self.states: dict[int, tuple[int, int, np.ndarray]] = {}   # serial -> (episode, t, obs)
        self.latest = 0
        self.mutable_sess: "list[int] | None" = None

    def _obs(self, base: float) -> np.ndarray:
        return (base + self.offsets).astype(self.dtype)

    def _reset_obs(self, k: int) -> np.ndarray:
        return self._obs(-1.5 * (k + 1) - 0.05)

    def _end_kind(self, k: int, t: int) -> "str | None":
        if k < len(self.case.episodes) and t + 1 == self.case.episodes[k][0]:
            return self.case.episodes[k][1]
        return None

    def _new(self, state: tuple[int, int, np.ndarray]) -> Any:
        self.latest += 1
        self.states[self.latest] = state
        if self.case.session_style == "functional":
            return _Token(self.latest)
        if self.mutable_sess is None:
            self.mutable_sess = [self.latest]
        self.mutable_sess[0] = self.latest
        return self.mutable_sess

    def _serial(self, sess: Any) -> int:
        if isinstance(sess, _Token):
            return sess.serial
        if self.mutable_sess is not None and sess is self.mutable_sess:
            return sess[0]
        raise ArgumentError(f"step_checked/observe got {sess!r:.60}, which is not a session value start() returned")

    def _present(self, obs: np.ndarray) -> np.ndarray:
        if self.case.buffers == "reuse":
            self.buffer[...] = obs
            return self.buffer
        out = obs.copy()
        out.setflags(write=False)
        return out

    # -- the three callbacks ------------------------------------------------------------------
    def start(self) -> Any:
        self.trace.starts += 1
        return self._new((0, 0, self._reset_obs(0)))

    def observe(self, sess: Any) -> np.ndarray:
        self.trace.observes += 1
        out = self._present(self.states[self._serial(sess)][2])
        if self.case.buffers == "reuse" and not self.trace.handed_out:
            self.trace.handed_out.append(out)   # the one shared buffer
        return out

    def step_checked(self, sess: Any, action: Any) -> "tuple[Transition, Any]":
        if len(self.trace.steps) >= self.budget:
            raise StepBudgetExceeded(f"step_checked called more than {self.budget} times "
                                     f"for horizon={self.case.horizon}")
        serial = self._serial(sess)
        k, t, obs = self.states[serial]
        record = TracedStep(presented=obs.copy(), action=action, threaded=serial == self.latest)
        self.trace.steps.append(record)
        a = action.__index__() if hasattr(action, "__index__") and not isinstance(action, bool) else None
        nxt = self._obs(10.0 * k + 0.7 * (t + 1) + 0.1 * (a if a is not None else 0))
        kind = self._end_kind(k, t)
        reward = 0.1 + 0.3 * t + 0.7 * (a if a is not None else 0) - 0.05 * k
        tr = check_transition_fin(Contract(), obs, nxt, action, reward, kind in ("terminated", "both"),
                                  kind in ("truncated", "both"), obs_shape=self.case.shape,
                                  n_actions=self.case.n_actions)
        record.transition = tr
        after = self._reset_obs(k + 1) if kind else nxt
        record.after = after.copy()
        new_sess = self._new((k + 1, 0, after) if kind else (k, t + 1, after))
        if self.case.buffers == "reuse":
            self.buffer[...] = after   # the buffer handed out earlier now shows the next observation
        return tr, new_sess

    def scribble(self) -> None:
        """Overwrite every buffer this session handed out (the collector has returned)."""
        for buf in self.trace.handed_out:
            if buf.flags.writeable:
                buf[...] = SENTINEL


class RecordedSession:
    """Any checked session (``start``/``observe``/``step_checked``), with every call traced.

    Used for real Gymnasium environments: the presented observation is read with the session's
    own ``observe`` just before each step is delegated, and again after it (the reset observation).
    """

    def __init__(self, inner: Any, trace: SessionTrace, budget: int) -> None:
        self.inner = inner
        self.trace = trace
        self.budget = budget
        self.latest: Any = None

    def start(self) -> Any:
        self.trace.starts += 1
        self.latest = self.inner.start()
        return self.latest

    def observe(self, sess: Any) -> Any:
        self.trace.observes += 1
        return self.inner.observe(sess)

    def step_checked(self, sess: Any, action: Any) -> "tuple[Transition, Any]":
        if len(self.trace.steps) >= self.budget:
            raise StepBudgetExceeded(f"step_checked called more than {self.budget} times")
        record = TracedStep(presented=np.array(self.inner.observe(sess), copy=True), action=action,
                            threaded=sess is self.latest)
        self.trace.steps.append(record)
        tr, new_sess = self.inner.step_checked(sess, action)
        record.transition = tr
        record.after = np.array(self.inner.observe(new_sess), copy=True)
        self.latest = new_sess
        return tr, new_sess

    def scribble(self) -> None:
        return None  # the environment owns its buffers

    def close(self) -> None:
        self.inner.close()


def env_signature(env_id: str) -> "tuple[tuple, int]":
    """``(obs_shape, n_actions)`` of a Gymnasium environment with a ``Discrete`` action space."""
    import gymnasium

    from rollcheck.impl.toy_envs import register_toy_envs
    register_toy_envs()
    env = gymnasium.make(env_id)
    try:
        n = getattr(env.action_space, "n", None)
        if n is None:
            raise ArgumentError(f"env {env_id!r} has action space {env.action_space}; a Discrete space is required")
        return tuple(int(d) for d in env.observation_space.shape), int(n)
    finally:
        env.close()

