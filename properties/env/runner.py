"""The instrumented stepping engine behind ``rollcheck env``: run one ``(seed, actions)`` program.

A *program* is a reset seed and a flat list of actions. :func:`run_program` resets the env with
``reset(seed=seed)``, steps through the actions, and on ``terminated or truncated`` resets it
(``reset()``, no seed: the env's RNG carries on, as in Gymnasium's autoreset) before the next
action, so it never steps past done. It returns the trajectory as value snapshots; given a
:class:`Checker` it also checks every call against the per-call properties, watches every value
returned earlier for later in-place changes (aliasing: values are compared, not identities),
and probes every valid action in sampled reached states on deep copies of the env.

:class:`Instrument` patches ``step``/``reset`` on every layer of a wrapper stack (outermost = 0,
the base env last) so each call records what every layer received and emitted; the per-layer
checks then name the first layer that breaks its own contract.

Mirrors TorchLean ``Gymnasium.Session.stepChecked`` (check every transition, reset on done) and
``Session.reset (seed?)``. Invariant enforced: the harness never calls ``step`` on an env whose
last step returned ``terminated`` or ``truncated`` without a reset in between.
"""

from __future__ import annotations

import copy
import pickle
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import numpy as np
from gymnasium import spaces

from rollcheck.properties.env.checks import short, snapshot
from rollcheck.properties.env.catalog import PER_CALL, RUN_LEVEL, Call, LayerCall
from rollcheck.spec.contract import Contract
from rollcheck.spec.errors import RollcheckError

__all__ = ["PropertyFailure", "failure", "Counters", "Instrument", "Checker", "layers_of", "build_env",
           "run_program", "probe_actions", "probe_interval", "episode_limit"]


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


class Instrument:
    """Patch ``step``/``reset`` on every layer to log (layer, action in, output) per call."""

    def __init__(self, env: Any) -> None:
        self.layers = layers_of(env)
        self.log: list[LayerCall] = []
        self.done = [False] * len(self.layers)
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
        return "the harness" if i == 0 else f"layer {i - 1} ({_name(self.layers[i - 1])})"

    def _step_proxy(self, i: int, orig: Callable) -> Callable:
        layer = self.layers[i]

        def step(action: Any) -> Any:
            past = self.done[i]
            out = orig(action)
            try:
                self.done[i] = bool(out[2]) or bool(out[3])
            except Exception:
                self.done[i] = True
            self.log.append(LayerCall(i, _name(layer), "step", action, out, layer.observation_space,
                                      layer.action_space, past, self._caller(i)))
            return out
        return step

    def _reset_proxy(self, i: int, orig: Callable) -> Callable:
        layer = self.layers[i]

        def reset(*args: Any, **kwargs: Any) -> Any:
            out = orig(*args, **kwargs)
            self.done[i] = False
            self.log.append(LayerCall(i, _name(layer), "reset", None, out, layer.observation_space,
                                      layer.action_space, False, self._caller(i)))
            return out
        return reset

    def take(self) -> list[LayerCall]:
        log, self.log = self.log, []
        return log


def probe_actions(space: Any) -> list:
    """Valid actions to try in a reached state: every discrete value, Box bounds in its dtype."""
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
    return []


class Checker:
    """Checks every call of one program against the active per-call properties.

    A failing property raises :class:`PropertyFailure` unless it is in ``silenced`` (already
    reported in this search), in which case it is only counted.
    """

    def __init__(self, env: Any, active: set, silenced: set, counters: Counters, contract: Contract,
                 probe_every: int = 7, max_probes: int = 12) -> None:
        self.env, self.active, self.silenced, self.counters = env, active, silenced, counters
        self.contract = contract
        self.per_call = [p for p in PER_CALL if p.id in active]
        self.instrument = Instrument(env)
        self.limit = episode_limit(env)
        self.returned: list = []  # (step, label, live value, snapshot)
        self.probe_every, self.probes_left = probe_every, max_probes
        self.probe_values = probe_actions(env.action_space) if "actions.accepted" in active else []
        self.probe_error: "str | None" = None

    def fail(self, pid: str, message: str, **kw: Any) -> None:
        if pid in self.silenced:
            return
        if kw.get("step") is not None and kw["step"] < 0:
            kw["step"] = None  # the initial reset, before any action
        raise failure(pid, message, **kw)

    def on_call(self, kind: str, step: int, episode: int, t: int, action: Any, out: Any) -> None:
        layer_calls = self.instrument.take()
        obs, reward, te, tr, info = out if kind == "step" else (out[0], None, None, None, out[1])
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

    def _check_alias(self, entries: list, now: int) -> None:
        for when, label, live, snap in entries:
            where = "the first reset" if when < 0 else f"action {when}" if "step" in label else f"the reset after action {when}"
            for problem in RUN_LEVEL["aliasing.no_mutation"].check(f"{label} returned at {where}", snap, live)[:1]:
                self.fail("aliasing.no_mutation", f"{problem} (seen after action {now})", step=when,
                          expected=snap, actual=snapshot(live), context={"detected_at": now})

    def finish(self, last_step: int) -> None:
        if "aliasing.no_mutation" in self.active:
            self._check_alias(self.returned, last_step)

    def maybe_probe(self, step: int) -> None:
        if not self.probe_values or self.probes_left <= 0 or self.probe_error or (step + 1) % self.probe_every:
            return
        self.probes_left -= 1
        self.instrument.remove()
        try:
            pristine = copy.deepcopy(self.env)
        except Exception as exc:
            self.probe_error = f"the env cannot be deep-copied ({type(exc).__name__}: {exc}); probing disabled"
            return
        finally:
            self.instrument.install()
        for a in self.probe_values:
            self.counters.add("actions.accepted", steps=1)
            for problem in RUN_LEVEL["actions.accepted"].check(copy.deepcopy(pristine).step, a)[:1]:
                self.fail("actions.accepted", f"{problem} in the state reached after action {step - 1} "
                          f"(the action is in {self.env.action_space})", step=step,
                          expected=f"an accepted action from {self.env.action_space}", actual=problem,
                          context={"probe_action": a})


def probe_interval(env: Any, base: int = 7) -> int:
    """Probe every ``base`` actions, less often for envs that are costly to deep-copy.

    The cost proxy is the pickled size (deterministic, unlike a timing): Taxi's transition table
    pickles to ~86 KB and is probed every 35 actions, CartPole (~2 KB) every 7.
    """
    try:
        size = len(pickle.dumps(env))
    except Exception:
        return base
    return base * max(1, size // 16384)


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
    return (kind, snapshot(obs), snapshot(reward), snapshot(te), snapshot(tr))


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
        checker.on_call("reset", -1, 0, 0, None, out)
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
