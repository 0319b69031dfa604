"""The instrumented stepping engine behind ``rollcheck env``: run one ``(seed, actions)`` program.

A *program* is a reset seed and a flat list of actions. :func:`run_program` resets the env with
``reset(seed=seed)``, steps through the actions, and on ``terminated or truncated`` resets it
(``reset()``, no seed: the env's RNG carries on, as in Gymnasium's autoreset) before the next
action, so it never steps past done. It returns the trajectory as value snapshots (large arrays
as digests); given a :class:`Checker` it also checks every call against the per-call properties,
watches values returned earlier for later in-place changes (by value) and for shared memory
(``np.shares_memory``), and probes every valid action in sampled reached states by replaying the
recorded ``(seed, actions)`` history into a fresh instance (never by copying the env; a replay
that diverges is reported as unfaithful, not asserted).

:class:`LayerInstrument` observes ``step``/``reset`` at the boundaries between the layers of a wrapper
stack (outermost = 0, the base env last): what each layer received from the harness or an outer
layer and emitted. Calls a layer makes to itself inside its own ``reset``/``step`` are internal and
pass through unobserved; the per-layer checks name the first layer that breaks its own contract.

Mirrors TorchLean ``Gymnasium.Session.stepChecked`` (check every transition, reset on done) and
``Session.reset (seed?)``. Invariant enforced: the harness never calls ``step`` on an env whose
last step returned ``terminated`` or ``truncated`` without a reset in between.
"""

from __future__ import annotations

import pickle
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import numpy as np
from gymnasium import spaces

from rollcheck.properties.env.checks import first_difference, fingerprint, short, snapshot
from rollcheck.properties.env.catalog import (ALIASING_NO_MUTATION, ALIASING_NO_SHARED_MEMORY, PER_CALL, ArrayPair,
                                             Call, LayerCall, ReturnedValue)
from rollcheck.spec.contract import Contract
from rollcheck.spec.errors import RollcheckError

__all__ = ["PropertyFailure", "failure", "Counters", "LayerInstrument", "Checker", "layers_of", "build_env",
           "run_program", "probe_actions", "episode_limit"]


class PropertyFailure(RollcheckError):
    """A property failed on the current program. One subclass per property id, so Hypothesis
    shrinks each property's failure separately (its "interesting origin" includes the type)."""

    def __init__(self, pid: str, message: str, step: "int | None" = None, expected: Any = None,
                 actual: Any = None, context: "dict | None" = None) -> None:
        super().__init__(f"{pid}: {message}")
        self.pid, self.message, self.step = pid, message, step
        self.expected, self.actual = expected, actual
        self.context = dict(context or {})
        self.program: Any = None


_FAILURE_TYPES: dict[str, type] = {}


def failure(pid: str, message: str, **kw: Any) -> PropertyFailure:
    cls = _FAILURE_TYPES.get(pid)
    if cls is None:
        cls = type("PropertyFailure_" + pid.replace(".", "_"), (PropertyFailure,), {})
        _FAILURE_TYPES[pid] = cls
    return cls(pid, message, **kw)


@dataclass
class Counters:
    """How much each property was exercised: examples, steps, episodes (keyed by property id)."""

    examples: dict = field(default_factory=dict)
    steps: dict = field(default_factory=dict)
    episodes: dict = field(default_factory=dict)

    def add(self, pid: str, steps: int = 0, episodes: int = 0, examples: int = 0) -> None:
        self.steps[pid] = self.steps.get(pid, 0) + steps
        self.episodes[pid] = self.episodes.get(pid, 0) + episodes
        self.examples[pid] = self.examples.get(pid, 0) + examples


def build_env(make_env: Callable[[], Any], wrappers: Sequence[Callable[[Any], Any]] = ()) -> Any:
    env = make_env()
    for w in wrappers:
        env = w(env)
    return env


def layers_of(env: Any) -> list:
    """The wrapper stack, outermost first, base env last."""
    out, seen = [env], {id(env)}
    while _is_env(getattr(env, "env", None)) and id(env.env) not in seen:
        env = env.env
        seen.add(id(env))
        out.append(env)
    return out


def _is_env(x: Any) -> bool:
    return x is not None and callable(getattr(x, "step", None)) and callable(getattr(x, "reset", None)) \
        and hasattr(x, "observation_space")


def episode_limit(env: Any) -> "int | None":
    """The known ``max_episode_steps``: the env spec's, else the outermost ``TimeLimit`` layer's."""
    spec = getattr(env, "spec", None)
    limit = getattr(spec, "max_episode_steps", None)
    if limit is None:
        for layer in layers_of(env):
            limit = getattr(layer, "_max_episode_steps", None)
            if limit is not None:
                break
    return int(limit) if limit is not None else None


def _name(layer: Any) -> str:
    return type(layer).__name__


class LayerInstrument:
    """Log what every layer of the stack receives and emits, at the boundaries between layers.

    ``step``/``reset`` of each layer are shadowed by logging proxies, but only calls that cross a
    boundary are observed: a call from the harness into layer 0, or from layer ``i`` (or any layer
    outside it) into an inner layer. A call a layer makes to itself or to an outer layer while it
    is inside its own ``reset``/``step`` (LunarLander's ``reset`` calls ``self.step``) is *internal*:
    it goes straight to the original method, unlogged and unjudged, and leaves the layer's "done"
    state alone. A layer's "done" state is cleared when a ``reset`` of it returns.
    """

    def __init__(self, env: Any) -> None:
        self.layers = layers_of(env)
        self.log: list[LayerCall] = []
        self.done = [False] * len(self.layers)
        self.internal_calls = 0
        self._active: list[int] = []  # the layers whose reset/step is running, outermost first
        self._saved: list[dict] = []
        self.install()

    def install(self) -> None:
        self._saved = []
        for i, layer in enumerate(self.layers):
            saved = {k: layer.__dict__[k] for k in ("step", "reset") if k in layer.__dict__}
            self._saved.append(saved)
            layer.step = self._step_proxy(i, layer.step)
            layer.reset = self._reset_proxy(i, layer.reset)

    def remove(self) -> None:
        for layer, saved in zip(self.layers, self._saved):
            for k in ("step", "reset"):
                layer.__dict__.pop(k, None)
                if k in saved:
                    layer.__dict__[k] = saved[k]

    def _caller(self, i: int) -> str:
        if not self._active:
            return "the harness"
        j = self._active[-1]
        return f"layer {j} ({_name(self.layers[j])})"

    def _boundary(self, i: int) -> bool:
        """A call into layer ``i`` from the harness (nothing running) or from a layer outside ``i``."""
        return not self._active or self._active[-1] < i

    def _step_proxy(self, i: int, orig: Callable) -> Callable:
        layer = self.layers[i]

        def step(action: Any) -> Any:
            if not self._boundary(i):
                self.internal_calls += 1
                return orig(action)
            past, caller = self.done[i], self._caller(i)
            self._active.append(i)
            try:
                out = orig(action)
            finally:
                self._active.pop()
            try:
                self.done[i] = bool(out[2]) or bool(out[3])
            except Exception:
                self.done[i] = True
            self.log.append(LayerCall(i, _name(layer), "step", action, out, layer.observation_space,
                                      layer.action_space, past, caller))
            return out
        return step

    def _reset_proxy(self, i: int, orig: Callable) -> Callable:
        layer = self.layers[i]

        def reset(*args: Any, **kwargs: Any) -> Any:
            if not self._boundary(i):
                self.internal_calls += 1
                return orig(*args, **kwargs)
            caller = self._caller(i)
            self._active.append(i)
            try:
                out = orig(*args, **kwargs)
            finally:
                self._active.pop()
            self.done[i] = False
            self.log.append(LayerCall(i, _name(layer), "reset", None, out, layer.observation_space,
                                      layer.action_space, False, caller))
            return out
        return reset

    def take(self) -> list[LayerCall]:
        log, self.log = self.log, []
        return log


def probe_actions(space: Any) -> list:
    """Valid actions to try in a reached state: every discrete value, Box bounds in its dtype, and
    for Dict/Tuple spaces combinations of their parts' probes."""
    if isinstance(space, spaces.Discrete):
        n, s = int(space.n), int(space.start)
        values = range(s, s + n) if n <= 64 else sorted({s, s + n - 1, *np.linspace(s, s + n - 1, 30).astype(int)})
        return [int(v) for v in values]
    if isinstance(space, spaces.Box):
        low = np.where(np.isfinite(space.low), space.low, -1.0).astype(space.dtype)
        high = np.where(np.isfinite(space.high), space.high, 1.0).astype(space.dtype)
        mid = (low.astype(np.float64) / 2 + high.astype(np.float64) / 2).astype(space.dtype)
        return [low, high, mid]
    if isinstance(space, spaces.MultiDiscrete):
        return [np.zeros(space.shape, space.dtype) + space.start, (space.nvec - 1 + space.start).astype(space.dtype)]
    if isinstance(space, spaces.MultiBinary):
        return [np.zeros(space.shape, space.dtype), np.ones(space.shape, space.dtype)]
    if isinstance(space, (spaces.Dict, spaces.Tuple)):
        # the j-th probe combines each part's j-th probe (cycling): all-low, all-high, ..., every part's values
        keys = list(space.spaces) if isinstance(space, spaces.Dict) else list(range(len(space.spaces)))
        parts = [probe_actions(space.spaces[k]) for k in keys]
        if not parts or any(not p for p in parts):
            return []
        rows = [[p[j % len(p)] for p in parts] for j in range(min(64, max(len(p) for p in parts)))]
        if isinstance(space, spaces.Dict):
            return [dict(zip(keys, row)) for row in rows]
        return [tuple(row) for row in rows]
    return []


def _array_leaves(value: Any, path: str, out: list) -> None:
    if isinstance(value, np.ndarray):
        if value.size:
            out.append((path, value))
    elif isinstance(value, dict):
        for k, v in value.items():
            _array_leaves(v, f"{path}[{k!r}]", out)
    elif isinstance(value, (list, tuple)):
        for i, v in enumerate(value):
            _array_leaves(v, f"{path}[{i}]", out)


class Checker:
    """Checks every call of one program against the active per-call properties.

    A failing property raises :class:`PropertyFailure` unless it is in ``silenced`` (already
    reported in this search), in which case it is only counted.

    ``actions.accepted`` probes (``make`` given): at a probed step the recorded history (every
    ``reset(seed=...)``/``reset()``/``step(action)`` since the last seeded reset) is replayed into a
    fresh instance from ``make``; only if it reproduces the recorded trajectory exactly is each
    probe action stepped there (resetting on done), so the probe tests the state the run really
    reached. A replay that diverges makes the probe unfaithful: it is skipped and said so
    (``probe_notes``), never asserted. The env itself is never copied.

    Memory is bounded: the value-level aliasing check keeps the last ``alias_window`` returns,
    the memory-level one only the previous return's arrays, and the history keeps digests.
    """

    def __init__(self, env: Any, active: set, silenced: set, counters: Counters, contract: Contract,
                 probe_every: int = 0, max_probes: int = 12, make: "Callable[[], Any] | None" = None,
                 probe_steps: Sequence[int] = (), alias_window: int = 4) -> None:
        self.env, self.active, self.silenced, self.counters = env, active, silenced, counters
        self.contract = contract
        self.per_call = [p for p in PER_CALL if p.id in active]
        self.instrument = LayerInstrument(env)
        self.limit = episode_limit(env)
        self.returned: list = []  # (step, label, live value, snapshot), the last alias_window returns
        self.alias_window = alias_window
        self.previous_arrays: list = []  # (label, path, array) of the previous return
        self.make, self.probe_steps = make, set(probe_steps)
        self.probe_every, self.probes_left = probe_every, max_probes
        self.probe_values = probe_actions(env.action_space) if "actions.accepted" in active and make else []
        self.probe_notes: list[str] = []
        self.history: list = []  # ("reset", kwargs, record) / ("step", action, record) since the last seeded reset
        self.probes_run = 0

    def fail(self, pid: str, message: str, **kw: Any) -> None:
        if pid in self.silenced:
            return
        if kw.get("step") is not None and kw["step"] < 0:
            kw["step"] = None  # the initial reset, before any action
        raise failure(pid, message, **kw)

    def on_call(self, kind: str, step: int, episode: int, t: int, action: Any, out: Any,
                reset_kwargs: "dict | None" = None) -> None:
        layer_calls = self.instrument.take()
        obs, reward, te, tr, info = out if kind == "step" else (out[0], None, None, None, out[1])
        if self.probe_values:
            if kind == "reset" and reset_kwargs and "seed" in reset_kwargs:
                self.history = []
            rec = _record(kind, obs, reward, te, tr)
            self.history.append(("reset", dict(reset_kwargs or {}), rec) if kind == "reset" else ("step", snapshot(action), rec))
        base = len(self.instrument.layers) - 1
        call = Call(kind, step, episode, t, action, obs, reward, te, tr, info, self.env.observation_space,
                    self.contract, self.limit,
                    any(lc.index == base and lc.kind == "step" and _true(lc.out, 2) for lc in layer_calls),
                    layer_calls)
        self.counters.add("_checked", steps=kind == "step")
        self.counters.add("_all", steps=kind == "step")
        self.counters.add("actions.accepted", episodes=kind == "reset")
        for p in self.per_call:
            if p.id == "episode.truncated_at_limit" and self.limit is None:
                continue
            self.counters.add(p.id, steps=kind == "step", episodes=kind == "reset")
            problems = p.check(call)
            if problems:
                self.fail(p.id, problems[0], step=step, actual=_summary(kind, out),
                          context={"episode": episode, "t": t, "all": problems})
        if "aliasing.no_mutation" in self.active:
            self.counters.add("aliasing.no_mutation", steps=kind == "step", episodes=kind == "reset")
            if self.returned:
                self._check_alias(self.returned[-2:], step)
            self.returned.append((step, f"observation from {kind}", obs, snapshot(obs)))
            self.returned.append((step, f"info from {kind}", info, snapshot(info)))
            del self.returned[:-2 * self.alias_window]
        if "aliasing.no_shared_memory" in self.active:
            self.counters.add("aliasing.no_shared_memory", steps=kind == "step", episodes=kind == "reset")
            self._check_shared(kind, step, obs, info)

    def _check_shared(self, kind: str, step: int, obs: Any, info: Any) -> None:
        now: list = []
        _array_leaves(obs, "observation", now)
        _array_leaves(info, "info", now)
        where = "the first reset" if step < 0 else f"action {step}" if kind == "step" else f"the reset after action {step}"
        for i, (path, arr) in enumerate(now):
            for other_path, other in now[:i]:
                for problem in ALIASING_NO_SHARED_MEMORY.check(ArrayPair(arr, other, f"{path} from {kind}",
                                                                         f"{other_path} of the same return"))[:1]:
                    self.fail("aliasing.no_shared_memory", f"{problem} (returned at {where})", step=step)
            for label, other_path, other in self.previous_arrays:
                for problem in ALIASING_NO_SHARED_MEMORY.check(ArrayPair(arr, other, f"{path} from {kind}",
                                                                         f"{other_path} {label}"))[:1]:
                    self.fail("aliasing.no_shared_memory", f"{problem} (returned at {where})", step=step)
        self.previous_arrays = [(f"returned by the previous call ({where} came next)", p, a) for p, a in now]

    def _check_alias(self, entries: list, now: int) -> None:
        for when, label, live, snap in entries:
            where = "the first reset" if when < 0 else f"action {when}" if "step" in label else f"the reset after action {when}"
            for problem in ALIASING_NO_MUTATION.check(ReturnedValue(f"{label} returned at {where}", snap, live))[:1]:
                self.fail("aliasing.no_mutation", f"{problem} (seen after action {now})", step=when,
                          expected=snap, actual=snapshot(live), context={"detected_at": now})

    def finish(self, last_step: int) -> None:
        if "aliasing.no_mutation" in self.active:
            self._check_alias(self.returned, last_step)

    def maybe_probe(self, step: int) -> None:
        """Probe every valid action in the state reached before action ``step`` (see the class doc)."""
        if not self.probe_values or not self.history:
            return
        wanted = step in self.probe_steps or (self.probe_every > 0 and self.probes_left > 0
                                              and (step + 1) % self.probe_every == 0)
        if not wanted:
            return
        self.probes_left -= 1
        fresh = self.make()
        try:
            if not self._replay_history(fresh, step):
                return
            self.probes_run += 1
            tried: list = []
            for a in self.probe_values:
                tried.append(a)
                self.counters.add("actions.accepted", steps=1)
                self.counters.add("_all", steps=1)
                try:
                    out = fresh.step(a)
                except Exception as exc:
                    self.fail("actions.accepted", f"step({short(a)}) raised {type(exc).__name__}: {exc} in the state "
                              f"reached after action {step - 1}, then the probe actions before it (the action is in "
                              f"{self.env.action_space})", step=step,
                              expected=f"an accepted action from {self.env.action_space}",
                              actual=f"{type(exc).__name__}: {exc}", context={"probe_actions": list(tried)})
                    return
                if _true(out, 2) or _true(out, 3):
                    fresh.reset()
        finally:
            try:
                fresh.close()
            except Exception:
                pass

    def _replay_history(self, fresh: Any, step: int) -> bool:
        """Replay the recorded history into ``fresh``; ``False`` (and a note) when it diverges."""
        for i, (kind, arg, rec) in enumerate(self.history):
            try:
                out = fresh.reset(**arg) if kind == "reset" else fresh.step(arg)
                got = _record(kind, out[0]) if kind == "reset" else _record(kind, out[0], out[1], out[2], out[3])
            except Exception as exc:
                got, exc_text = None, f"{type(exc).__name__}: {exc}"
            else:
                exc_text = ""
            d = None if got is None else first_difference(rec, got)
            if got is None or d is not None:
                note = (f"actions.accepted: a probe before action {step} was skipped: a fresh instance replaying the "
                        f"recorded (seed, actions) history diverged at call {i} ({exc_text or d}), so a probe there "
                        f"would not test the state the run reached")
                if note not in self.probe_notes and len(self.probe_notes) < 5:
                    self.probe_notes.append(note)
                return False
            if kind == "step":
                self.counters.add("_all", steps=1)
        return True


def _true(out: Any, i: int) -> bool:
    try:
        return bool(out[i])
    except Exception:
        return False


def _summary(kind: str, out: Any) -> Any:
    if kind == "reset" and isinstance(out, tuple) and len(out) == 2:
        return {"observation": short(out[0]), "info": short(out[1])}
    if kind == "step" and isinstance(out, tuple) and len(out) == 5:
        return {"observation": short(out[0]), "reward": short(out[1]), "terminated": short(out[2]),
                "truncated": short(out[3]), "info": short(out[4])}
    return short(out)


def _record(kind: str, obs: Any, reward: Any = None, te: Any = None, tr: Any = None) -> tuple:
    """One trajectory record; large arrays are kept as digests (:func:`fingerprint`), so memory stays bounded."""
    return (kind, fingerprint(obs), snapshot(reward), snapshot(te), snapshot(tr))


def _unpack(out: Any, n: int, what: str, checker: "Checker | None", step: int) -> tuple:
    if isinstance(out, tuple) and len(out) == n:
        return out
    message = f"{what} returned {short(out)}, not a {n}-tuple"
    if checker is not None:
        checker.fail("spaces.observation_in_space", message, step=step)
    raise failure("spaces.observation_in_space", message, step=step)


def _reset(env: Any, checker: "Checker | None", step: int, **kwargs: Any) -> tuple:
    """``env.reset(**kwargs)``; an exception after the first reset breaks ``reset.purity`` (a fresh env resets)."""
    try:
        out = env.reset(**kwargs)
    except Exception as exc:
        message = f"reset({', '.join(f'{k}={v}' for k, v in kwargs.items())}) raised {type(exc).__name__}: {exc}"
        if checker is not None:
            checker.fail("reset.purity", message, step=step)
        raise failure("reset.purity", message, step=step) from exc
    return _unpack(out, 2, "reset(seed=...)" if kwargs else "reset()", checker, step)


def run_program(env: Any, seed: int, actions: Sequence[Any], checker: "Checker | None" = None) -> list:
    """Reset with ``seed``, step through ``actions`` (resetting without a seed after each done).

    Returns the trajectory: one record ``(kind, obs, reward, terminated, truncated)`` per call.
    With a ``checker`` every call is checked; a failing property raises :class:`PropertyFailure`.
    """
    episode, t = 0, 0
    out = _reset(env, checker, -1, seed=seed)
    records = [_record("reset", out[0])]
    if checker is not None:
        checker.on_call("reset", -1, 0, 0, None, out, reset_kwargs={"seed": seed})
    for step, action in enumerate(actions):
        if checker is not None:
            checker.maybe_probe(step)
        try:
            out = env.step(action)
        except Exception as exc:
            message = (f"step({short(action)}) raised {type(exc).__name__}: {exc} "
                       f"(episode {episode}, step {t} of the episode)")
            if checker is not None:
                checker.counters.add("actions.accepted", steps=1)
                checker.fail("actions.accepted", message, step=step, actual=f"{type(exc).__name__}: {exc}")
            raise failure("actions.accepted", message, step=step) from exc
        out = _unpack(out, 5, "step(...)", checker, step)
        t += 1
        records.append(_record("step", out[0], out[1], out[2], out[3]))
        if checker is not None:
            checker.counters.add("actions.accepted", steps=1)
            checker.on_call("step", step, episode, t, action, out)
        if _true(out, 2) or _true(out, 3):
            episode, t = episode + 1, 0
            out = _reset(env, checker, step)
            records.append(_record("reset", out[0]))
            if checker is not None:
                checker.on_call("reset", step, episode, 0, None, out)
    if checker is not None:
        checker.finish(len(actions) - 1)
    return records
