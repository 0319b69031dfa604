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

Each call is screened at once and its Box bounds and numeric contract rules are judged in batches by
the contract judge (:class:`Checker`); the failure raised is the one judging every call at once
would raise (the first in call order, in the same words).

Mirrors TorchLean ``Gymnasium.Session.stepChecked`` (check every transition, reset on done) and
``Session.reset (seed?)``. Invariant enforced: the harness never calls ``step`` on an env whose
last step returned ``terminated`` or ``truncated`` without a reset in between.
"""

from __future__ import annotations

import collections
import pickle
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from rollcheck.impl.contract_judge import column_bad_mask
from rollcheck.properties.env.checks import (DIGEST_BYTES, first_difference, fingerprint, in_space,
                                             observation_numeric_problems, same_value, short, snapshot)
from rollcheck.properties.env.catalog import (ALIASING_NO_MUTATION, ALIASING_NO_SHARED_MEMORY, PER_CALL, ArrayPair,
                                             Call, LayerCall, ReturnedValue, same_record)
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


_WRAPPER_OBS, _WRAPPER_ACT = gym.Wrapper.observation_space, gym.Wrapper.action_space
_UNSET = object()


def _new_call(fields: tuple) -> LayerCall:
    return tuple.__new__(LayerCall, fields)  # every field given: skips NamedTuple's keyword handling


class LayerInstrument:
    """Log what every layer of the stack receives and emits, at the boundaries between layers.

    ``step``/``reset`` of each layer are shadowed by logging proxies, but only calls that cross a
    boundary are observed: a call from the harness into layer 0, or from layer ``i`` (or any layer
    outside it) into an inner layer. A call a layer makes to itself or to an outer layer while it
    is inside its own ``reset``/``step`` (LunarLander's ``reset`` calls ``self.step``) is *internal*:
    it goes straight to the original method, unlogged and unjudged, and leaves the layer's "done"
    state alone. A layer's "done" state is cleared when a ``reset`` of it returns.

    A proxy keeps only a raw record ``(index, kind, action, out, past_done, caller index)``
    (:meth:`take_raw`); the layers' spaces are read once per harness call, when it returns
    (:meth:`all_spaces`), and :meth:`layer_calls` turns the records into :class:`LayerCall` s.
    """

    def __init__(self, env: Any) -> None:
        self.layers = layers_of(env)
        self._raw: list[tuple] = []  # raw records of the calls since the last take
        self.done = [False] * len(self.layers)
        self.internal_calls = 0
        self._active: list[int] = []  # the layers whose reset/step is running, outermost first
        self._callers = [f"layer {j} ({_name(layer)})" for j, layer in enumerate(self.layers)] + ["the harness"]
        self.names = [_name(layer) for layer in self.layers]
        # layers whose spaces are gymnasium.Wrapper's own properties (the inner layer's unless set)
        self._wrapper_spaces = [getattr(type(layer), "observation_space", None) is _WRAPPER_OBS
                                and getattr(type(layer), "action_space", None) is _WRAPPER_ACT for layer in self.layers]
        self._saved: list[dict] = []
        self.install()

    def spaces(self, i: int) -> tuple:
        """``(observation_space, action_space)`` of layer ``i``, exactly as its properties return them:
        ``gymnasium.Wrapper``'s properties (the layer's own space if set, else the inner layer's) are
        followed through the layers' ``__dict__`` instead of a chain of property calls."""
        layers, plain = self.layers, self._wrapper_spaces
        obs = act = None
        j = i
        while obs is None or act is None:
            layer = layers[j]
            if not plain[j] or j + 1 == len(layers):
                if obs is None:
                    obs = layer.observation_space
                if act is None:
                    act = layer.action_space
                break
            d = layer.__dict__
            if "_observation_space" not in d or "_action_space" not in d:  # not set up by Wrapper.__init__
                if obs is None:
                    obs = layer.observation_space
                if act is None:
                    act = layer.action_space
                break
            if obs is None:
                obs = d["_observation_space"]
            if act is None:
                act = d["_action_space"]
            j += 1
        return obs, act

    def inherits_spaces(self, j: int) -> bool:
        """Layer ``j`` is a ``gymnasium.Wrapper`` that set neither space: its spaces are, by
        ``Wrapper``'s properties, exactly layer ``j + 1``'s."""
        if not self._wrapper_spaces[j] or j + 1 == len(self.layers):
            return False
        d = self.layers[j].__dict__
        return d.get("_observation_space", _UNSET) is None and d.get("_action_space", _UNSET) is None

    def all_spaces(self) -> list:
        """``(observation_space, action_space)`` of every layer, as :meth:`spaces` reads them, in one
        pass from the base env outwards (a plain ``gymnasium.Wrapper`` layer inherits what it did not set)."""
        layers, plain = self.layers, self._wrapper_spaces
        n = len(layers)
        out: list = [None] * n
        below: "tuple | None" = None
        for j in range(n - 1, -1, -1):
            layer = layers[j]
            if plain[j] and below is not None:
                d = layer.__dict__
                if "_observation_space" in d and "_action_space" in d:
                    o, a = d["_observation_space"], d["_action_space"]
                    if o is not None or a is not None:  # else both inherited: the very same pair
                        below = (below[0] if o is None else o, below[1] if a is None else a)
                    out[j] = below
                    continue
            out[j] = below = (layer.observation_space, layer.action_space)
        return out

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

    def _step_proxy(self, i: int, orig: Callable) -> Callable:
        active, done, log = self._active, self.done, self._raw
        instrument = self

        def step(action: Any) -> Any:
            if active and active[-1] >= i:  # a call from inside layer i (or an inner one) to itself: internal
                instrument.internal_calls += 1
                return orig(action)
            past, caller = done[i], active[-1] if active else -1
            active.append(i)
            try:
                out = orig(action)
            finally:
                active.pop()
            try:
                done[i] = bool(out[2]) or bool(out[3])
            except Exception:
                done[i] = True
            log.append((i, "step", action, out, past, caller))
            return out
        return step

    def _reset_proxy(self, i: int, orig: Callable) -> Callable:
        active, done, log = self._active, self.done, self._raw
        instrument = self

        def reset(*args: Any, **kwargs: Any) -> Any:
            if active and active[-1] >= i:
                instrument.internal_calls += 1
                return orig(*args, **kwargs)
            caller = active[-1] if active else -1
            active.append(i)
            try:
                out = orig(*args, **kwargs)
            finally:
                active.pop()
            done[i] = False
            log.append((i, "reset", None, out, False, caller))
            return out
        return reset

    def take_raw(self) -> list:
        """The raw records of the calls since the last take, in the order they returned (inner first)."""
        log = self._raw
        if not log:
            return []
        raw = log[:]
        log.clear()
        return raw

    def layer_calls(self, raw: list, spaces_now: "list | None" = None) -> list[LayerCall]:
        """``raw`` records as :class:`LayerCall` s, with each layer's spaces as they are now."""
        if not raw:
            return []
        spaces_now = self.all_spaces() if spaces_now is None else spaces_now
        names, callers = self.names, self._callers
        return [_new_call((i, names[i], kind, action, out, spaces_now[i][0], spaces_now[i][1], past, callers[caller]))
                for i, kind, action, out, past, caller in raw]

    @property
    def log(self) -> list[LayerCall]:
        """The calls since the last take, as :class:`LayerCall` s (kept until taken)."""
        return self.layer_calls(self._raw)

    def take(self) -> list[LayerCall]:
        """The calls since the last take, as :class:`LayerCall` s."""
        return self.layer_calls(self.take_raw())


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

    Speed without a different verdict: each call is first *screened* (:func:`in_space` and a few
    type tests per layer, the identity of values a wrapper passes through unchanged judged once).
    A call the screen cannot clear is judged at once by the properties' own checks, in their order.
    The contract's numeric rules on the outermost values (``numerics.observation_finite``,
    ``numerics.reward``, ``numerics.done_flags``) are judged in batches of up to ``batch`` calls by
    the contract judge (:func:`~rollcheck.impl.contract_judge.judge_columns`, on copies taken at
    the call); a row it flags is re-judged by the properties' own checks, which word the finding.
    Every other failure (and the end of the program) first judges the calls still batched, so the
    failure raised is always the first one in call order, as if each call were judged at once.

    ``actions.accepted`` probes (``make`` given): at a probed step the recorded history (every
    ``reset(seed=...)``/``reset()``/``step(action)`` since the last seeded reset) is replayed into a
    fresh instance from ``make``; only if it reproduces the recorded trajectory exactly is each
    probe action stepped there (resetting on done), so the probe tests the state the run really
    reached. A replay that diverges makes the probe unfaithful: it is skipped and said so
    (``probe_notes``), never asserted. The env itself is never copied.

    Memory is bounded: the value-level aliasing check keeps the last ``alias_window`` returns,
    the memory-level one only the previous return's arrays, the history keeps digests and the
    batch at most ``batch`` rows.
    """

    def __init__(self, env: Any, active: set, silenced: set, counters: Counters, contract: Contract,
                 probe_every: int = 0, max_probes: int = 12, make: "Callable[[], Any] | None" = None,
                 probe_steps: Sequence[int] = (), alias_window: int = 4, batch: int = 256) -> None:
        self.env, self.active, self.silenced, self.counters = env, active, silenced, counters
        self.contract = contract
        self.per_call = [p for p in PER_CALL if p.id in active]
        self.instrument = LayerInstrument(env)
        self.limit = episode_limit(env)
        self.returned: collections.deque = collections.deque(maxlen=alias_window)  # the last returns:
        # (step, kind, observation, its copy, info, its copy)
        self.alias_window = alias_window
        self.previous_arrays: list = []  # (label, path, array) of the previous return
        self.make, self.probe_steps = make, set(probe_steps)
        self.probe_every, self.probes_left = probe_every, max_probes
        self.probe_values = probe_actions(env.action_space) if "actions.accepted" in active and make else []
        # the history a probe replays is kept only while a probe may still come (before the last probed step)
        self._history_until = float("inf") if probe_every > 0 else max(probe_steps, default=-1)
        self.probe_notes: list[str] = []
        self.history: list = []  # ("reset", kwargs, record) / ("step", action, record) since the last seeded reset
        self.probes_run = 0
        self.batch = batch
        self.pending: list = []  # calls whose numeric rules the judge has not seen yet
        self.tally = [0, 0, 0]   # steps, resets, probe steps: added to ``counters`` by :meth:`close`
        # the calls that exercise the conditional properties: a step at the episode limit
        # (episode.truncated_at_limit), a call after which some layer was done (episode.never_past_done)
        self.exercised = [0, 0]
        self._batched = [p for p in self.per_call if p.id in _BATCHED]
        self._screened = [p for p in self.per_call if p.id not in _BATCHED]
        self._mutation = "aliasing.no_mutation" in active
        self._shared = "aliasing.no_shared_memory" in active
        self._in_space = "spaces.observation_in_space" in active
        self._layer_contract = "wrapper.layer_contract" in active
        # what the screen still has to clear (``silenced`` does not change while a program runs)
        self._screen_space = self._in_space and "spaces.observation_in_space" not in silenced
        self._screen_layers = self._layer_contract and "wrapper.layer_contract" not in silenced

    def fail(self, pid: str, message: str, **kw: Any) -> None:
        self.flush()  # a call still batched comes first
        if pid in self.silenced:
            return
        if kw.get("step") is not None and kw["step"] < 0:
            kw["step"] = None  # the initial reset, before any action
        raise failure(pid, message, **kw)

    def on_call(self, kind: str, step: int, episode: int, t: int, action: Any, out: Any,
                reset_kwargs: "dict | None" = None, record: "tuple | None" = None) -> None:
        raw = self.instrument.take_raw()
        is_step = kind == "step"
        if is_step:
            obs, reward, te, tr, info = out
        else:
            (obs, info), reward, te, tr = out, None, None, None
        if record is None:
            record = _record(kind, obs, reward, te, tr)
        if self.probe_values and step < self._history_until:
            if not is_step and reset_kwargs and "seed" in reset_kwargs:
                self.history = []
            self.history.append(("step", action if type(action) is int else snapshot(action), record) if is_step
                                else ("reset", dict(reset_kwargs or {}), record))
        self.tally[0 if is_step else 1] += 1
        if is_step and t == self.limit:
            self.exercised[0] += 1
        if True in self.instrument.done:
            self.exercised[1] += 1
        copy = record[1]
        obs_copy = copy if type(copy) is np.ndarray and type(obs) is np.ndarray else None
        # one copy of info for the batch row and the aliasing window (both only read it)
        info_copy = ({} if type(info) is dict and not info else snapshot(info)) if self._mutation else None
        row = self._defer(kind, step, episode, t, obs, obs_copy, copy, reward, te, tr, info, info_copy, raw)
        if row is None:
            self.flush()
            self._judge_now(kind, step, episode, t, action, out, self.instrument.layer_calls(raw))
        elif row is not _CLEAR:
            pending = self.pending
            pending.append(row)
            if len(pending) >= self.batch:
                self.flush()
        if self._mutation:
            returned = self.returned
            if returned:
                last = returned[-1]
                live, kept, live_info = last[2], last[3], last[4]
                if not (type(live) is np.ndarray and type(kept) is np.ndarray and live.dtype == kept.dtype
                        and live.shape == kept.shape and live.tobytes() == kept.tobytes()) \
                        or not (not last[5] if type(live_info) is dict and not live_info
                                else same_value(last[5], live_info)):
                    self._check_alias([last], step)
            returned.append((step, kind, obs, obs_copy if obs_copy is not None else snapshot(obs), info, info_copy))
        if self._shared:
            self._check_shared(kind, step, obs, info)

    # -- per-call judgement ---------------------------------------------------------------------

    def _defer(self, kind: str, step: int, episode: int, t: int, obs: Any, obs_copy: Any, shown: Any, reward: Any,
               te: Any, tr: Any, info: Any, info_copy: Any, raw: list) -> Any:
        """Screen one call. ``None``: judge it at once (the screen cannot clear it); :data:`_CLEAR`:
        nothing left to judge; else the row the batched judgement takes (copies and plain scalars):
        ``(kind, step, episode, t, obs judged by the numeric rules or None, reward, terminated,
        truncated, observation copy (or digest), info copy, Box whose bounds are judged or None, (index, name)
        of the innermost layer passing that observation through or None)``."""
        is_step = kind == "step"
        space = self.env.observation_space
        check_space, check_layers = self._screen_space, self._screen_layers
        bounds = None
        outer_ok: "bool | None" = None  # the outer observation is in its space (None: not decided yet)
        if check_space or check_layers:
            if obs_copy is not None and type(space) is spaces.Box and obs.dtype == space.dtype \
                    and obs.shape == space.shape:
                bounds = space  # dtype and shape now; the bounds in the batch, on the copy
            elif check_space:
                outer_ok = in_space(space, obs) is True
                if not outer_ok:
                    return None
        if not isinstance(info, dict):
            return None
        for r in raw:
            if r[4]:  # past done
                return None
        if is_step and self.limit is not None and t == self.limit:
            return None  # episode.truncated_at_limit: the full check decides
        layer = None
        if check_layers and raw:
            instrument = self.instrument
            layer = _layers_screen(raw, instrument, obs, space, bounds, outer_ok)
            if layer is False:
                return None
        judged_obs, r, a, b = None, None, None, None
        if self._batched:
            if obs_copy is not None and obs_copy.dtype.kind in "fiu":
                judged_obs = obs_copy
            elif observation_numeric_problems(self.contract, obs, f"observation from {kind}"):
                return None
            if is_step:
                rt = type(reward)
                if not (rt is float or (rt is int and -_INT_EXACT < reward < _INT_EXACT)
                        or (isinstance(reward, np.floating) and reward.dtype.itemsize <= 8)):
                    return None
                if not (_is_flag(te) and _is_flag(tr)):
                    return None
                r, a, b = float(reward), bool(te), bool(tr)
        if judged_obs is None and bounds is None and r is None:
            return _CLEAR
        if info_copy is None:
            info_copy = {} if not info else snapshot(info)  # info is a dict here
        return (kind, step, episode, t, judged_obs, r, a, b, obs_copy if obs_copy is not None else shown, info_copy,
                bounds, layer)

    def _call(self, kind: str, step: int, episode: int, t: int, action: Any, out: Any, layer_calls: list) -> Call:
        obs, reward, te, tr, info = out if kind == "step" else (out[0], None, None, None, out[1])
        base = len(self.instrument.layers) - 1
        return Call(kind, step, episode, t, action, obs, reward, te, tr, info, self.env.observation_space,
                    self.contract, self.limit,
                    any(lc.index == base and lc.kind == "step" and _true(lc.out, 2) for lc in layer_calls),
                    layer_calls)

    def _judge_now(self, kind: str, step: int, episode: int, t: int, action: Any, out: Any, layer_calls: list) -> None:
        """Every per-call property on this call, in order (the first that fails and is not silenced raises)."""
        call = self._call(kind, step, episode, t, action, out, layer_calls)
        for p in self.per_call:
            if p.id == "episode.truncated_at_limit" and self.limit is None:
                continue
            problems = p.check(call)
            if problems:
                self.fail(p.id, problems[0], step=step, actual=_summary(kind, out),
                          context={"episode": episode, "t": t, "all": problems})

    def flush(self) -> None:
        """Judge the batched calls: the Box bounds of their observations and the contract judge on
        their numeric columns. A flagged call is re-judged by the deferred properties' own checks,
        in order, on the copies (every other property cleared it when it was returned)."""
        if not self.pending:
            return
        pending, self.pending = self.pending, []
        for i in _flag_rows(self.contract, pending):
            kind, step, episode, t, judged, reward, te, tr, copy, info, bounds, layer = pending[i]
            is_step = kind == "step"
            out = (copy, reward, te, tr, info) if is_step else (copy, info)
            lcs = [] if layer is None else [LayerCall(layer[0], layer[1], kind, None,
                                                      (copy, 0.0, False, False, info) if is_step else (copy, info),
                                                      bounds, None)]
            call = Call(kind, step, episode, t, None, copy if bounds is not None else judged, reward, te, tr, info,
                        bounds, self.contract, self.limit, False, lcs)
            for p in self.per_call:
                if p.id in _BATCHED or (p.id == "spaces.observation_in_space" and bounds is not None) \
                        or (p.id == "wrapper.layer_contract" and lcs):
                    problems = p.check(call)
                    if problems:
                        self.fail(p.id, problems[0], step=step, actual=_summary(kind, out),
                                  context={"episode": episode, "t": t, "all": problems})

    def close(self) -> None:
        """Add this program's tallies to ``counters`` (called once, when the program ends or fails)."""
        steps, resets, probes = self.tally
        self.tally = [0, 0, 0]
        add = self.counters.add
        at_limit, done = self.exercised
        self.exercised = [0, 0]
        add("_at_limit", steps=at_limit)
        add("_done", steps=done)
        add("_checked", steps=steps)
        add("_all", steps=steps + probes)
        add("actions.accepted", steps=steps + probes, episodes=resets)
        for p in self.per_call:
            if p.id == "episode.truncated_at_limit" and self.limit is None:
                continue
            add(p.id, steps=steps, episodes=resets)
        for pid in ("aliasing.no_mutation", "aliasing.no_shared_memory"):
            if pid in self.active:
                add(pid, steps=steps, episodes=resets)

    # -- aliasing -------------------------------------------------------------------------------

    def _check_shared(self, kind: str, step: int, obs: Any, info: Any) -> None:
        if type(obs) is np.ndarray and type(info) is dict and not info:  # the common case: one array, no info
            if obs.size:
                for label, other_path, other in self.previous_arrays:
                    if np.may_share_memory(obs, other):
                        self._shared_problem(kind, step, obs, other, "observation",
                                             f"{other_path} {label(self._where(kind, step))}")
                self.previous_arrays = [(_previous_label, "observation", obs)]
            else:
                self.previous_arrays = []
            return
        now: list = []
        _array_leaves(obs, "observation", now)
        if type(info) is not dict or info:
            _array_leaves(info, "info", now)
        for i, (path, arr) in enumerate(now):
            for other_path, other in now[:i]:
                if np.may_share_memory(arr, other):
                    self._shared_problem(kind, step, arr, other, path, f"{other_path} of the same return")
            for label, other_path, other in self.previous_arrays:
                if np.may_share_memory(arr, other):
                    self._shared_problem(kind, step, arr, other, path, f"{other_path} {label(self._where(kind, step))}")
        self.previous_arrays = [(_previous_label, p, a) for p, a in now]

    @staticmethod
    def _where(kind: str, step: int) -> str:
        return "the first reset" if step < 0 else f"action {step}" if kind == "step" else f"the reset after action {step}"

    def _shared_problem(self, kind: str, step: int, arr: Any, other: Any, path: str, other_label: str) -> None:
        for problem in ALIASING_NO_SHARED_MEMORY.check(ArrayPair(arr, other, f"{path} from {kind}", other_label))[:1]:
            self.fail("aliasing.no_shared_memory", f"{problem} (returned at {self._where(kind, step)})", step=step)

    def _check_alias(self, entries: Any, now: int) -> None:
        for when, kind, obs, obs_copy, info, info_copy in entries:
            where = "the first reset" if when < 0 else f"action {when}" if kind == "step" else f"the reset after action {when}"
            for what, live, snap in (("observation", obs, obs_copy), ("info", info, info_copy)):
                if same_value(snap, live):
                    continue
                label = f"{what} from {kind} returned at {where}"
                for problem in ALIASING_NO_MUTATION.check(ReturnedValue(label, snap, live))[:1]:
                    self.fail("aliasing.no_mutation", f"{problem} (seen after action {now})", step=when,
                              expected=snap, actual=snapshot(live), context={"detected_at": now})

    def finish(self, last_step: int) -> None:
        self.flush()
        if self._mutation:
            self._check_alias(self.returned, last_step)

    # -- actions.accepted probes ----------------------------------------------------------------

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
                self.tally[2] += 1
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
        replayed = 0  # steps reproduced faithfully (env steps the fuzzer took)
        try:
            for i, (kind, arg, rec) in enumerate(self.history):
                try:
                    out = fresh.reset(**arg) if kind == "reset" else fresh.step(arg)
                    got = _record(kind, out[0]) if kind == "reset" else _record(kind, out[0], out[1], out[2], out[3])
                except Exception as exc:
                    got, exc_text = None, f"{type(exc).__name__}: {exc}"
                else:
                    exc_text = ""
                d = None if got is None or same_record(rec, got) else first_difference(rec, got)
                if got is None or d is not None:
                    note = (f"actions.accepted: a probe before action {step} was skipped: a fresh instance replaying "
                            f"the recorded (seed, actions) history diverged at call {i} ({exc_text or d}), so a probe "
                            f"there would not test the state the run reached")
                    if note not in self.probe_notes and len(self.probe_notes) < 5:
                        self.probe_notes.append(note)
                    return False
                replayed += kind == "step"
            return True
        finally:
            self.counters.add("_all", steps=replayed)


#: the per-call properties judged in batches by the contract judge (the rest are screened per call)
_BATCHED = ("numerics.observation_finite", "numerics.reward", "numerics.done_flags")
_CLEAR = ()  # a screened call with nothing left to judge
_INT_EXACT = 2 ** 53
_REWARD_REAL = Contract(check_reward_finite=False)


def _previous_label(where: str) -> str:
    return f"returned by the previous call ({where} came next)"


def _is_flag(x: Any) -> bool:
    return x is True or x is False or type(x) is np.bool_


def _layers_screen(raw: list, instrument: LayerInstrument, obs: Any, space: Any, bounds: Any,
                   outer_ok: "bool | None") -> Any:
    """Screen ``wrapper.layer_contract`` over the instrument's raw records: ``False`` when the full
    check must decide; else ``None``, or ``(index, name)`` of the innermost layer that passes the
    outer observation (the same object, against the same space object) through, when that
    observation's bounds are left to the batch. A value passed through unchanged (the same object,
    against the same space) is screened once, and a layer that inherits its inner layer's spaces
    and passes that layer's values through (the same objects) has that layer's verdict."""
    seen: set = set()
    deferred = None
    p_index, p_kind, p_action, p_out = -1, None, None, None  # the record screened (or passed) last
    for index, kind, action, out, _past, _caller in raw:
        if index == p_index - 1 and kind is p_kind and action is p_action and type(out) is tuple \
                and len(out) == len(p_out) and out[0] is p_out[0] \
                and (len(out) == 2 or (out[1] is p_out[1] and out[2] is p_out[2] and out[3] is p_out[3])) \
                and instrument.inherits_spaces(index):
            p_index = index
            continue  # the same values against the same spaces as the layer just inside: its verdict
        is_step = kind == "step"
        if type(out) is not tuple or len(out) != (5 if is_step else 2):
            return False
        p_index, p_kind, p_action, p_out = index, kind, action, out
        value_space, action_space = instrument.spaces(index)
        if is_step and index > 0 and action is not None and action_space is not None:
            key = (id(action_space), id(action))
            if key not in seen:
                if type(action_space) is spaces.Discrete and type(action) is int:
                    start = int(action_space.start)
                    if not start <= action < start + int(action_space.n):
                        return False
                elif in_space(action_space, action) is not True:
                    return False
                seen.add(key)
        value = out[0]
        if value is obs and value_space is space:
            if bounds is not None:
                if deferred is None or index > deferred[0]:
                    deferred = (index, instrument.names[index])
            else:
                if outer_ok is None:
                    outer_ok = in_space(space, obs) is True
                if not outer_ok:
                    return False
        else:
            key = (id(value_space), id(value))
            if key not in seen:
                if in_space(value_space, value) is not True:
                    return False
                seen.add(key)
        if is_step:
            te, tr, r = out[2], out[3], out[1]
            if not ((te is True or te is False or type(te) is np.bool_) and (tr is True or tr is False or type(tr) is np.bool_)):
                return False
            if not (type(r) is float or type(r) is int or isinstance(r, np.floating)):
                return False
    return deferred


def _flag_rows(contract: Contract, pending: list) -> list[int]:
    """Indices of the batched calls that may break a deferred rule (a superset): observations outside
    their Box's bounds, and whatever the contract judge refuses in the numeric columns.

    A row whose bounds are batched holds one copy of the observation (of the Box's own dtype and
    shape) for both judgements, so each Box's rows make one column for both."""
    n = len(pending)
    bad = np.zeros(n, dtype=bool)
    boxed: dict = {}  # id(Box) -> (Box, rows, judged by the numeric rules too?)
    loose: dict = {}  # (dtype, shape) -> rows whose observation only the numeric rules judge
    box = pending[0][10]
    if box is not None and all(row[10] is box and row[4] is not None for row in pending):  # the usual batch
        boxed[id(box)] = (box, list(range(n)), [True] * n)
        steps = [i for i, row in enumerate(pending) if row[5] is not None]
        rows_left: list = []
    else:
        steps, rows_left = [], pending
    for i, row in enumerate(rows_left):
        box = row[10]
        if box is not None:
            group = boxed.get(id(box))
            if group is None:
                group = boxed[id(box)] = (box, [], [])
            group[1].append(i)
            group[2].append(row[4] is not None)
        elif row[4] is not None:
            loose.setdefault((row[4].dtype, row[4].shape), []).append(i)
        if row[5] is not None:  # a reward (set on steps only)
            steps.append(i)
    judge_obs = contract.check_obs_finite or contract.obs_range is not None
    for box, rows, judged in boxed.values():
        column = _column([pending[i][8] for i in rows], box.shape)
        inside = (column >= box.low) & (column <= box.high)  # Box.contains, row by row
        bad[rows] |= ~inside.reshape(len(rows), -1).all(axis=1)
        if judge_obs and any(judged):
            if not all(judged):
                keep = np.array(judged)
                column, rows = column[keep], [r for r, k in zip(rows, judged) if k]
            bad[rows] |= column_bad_mask(contract, obs_shape=box.shape, observation=column)
    if judge_obs:
        for (_dtype, shape), rows in loose.items():
            bad[rows] |= column_bad_mask(contract, obs_shape=shape, observation=_column([pending[i][4] for i in rows], shape))
    if steps:
        rewards = np.array([pending[i][5] for i in steps], dtype=np.float64)
        te = np.array([pending[i][6] for i in steps], dtype=bool)
        tr = np.array([pending[i][7] for i in steps], dtype=bool)
        bad[steps] |= column_bad_mask(contract, obs_shape=(), reward=rewards, terminated=te, truncated=tr)
    return np.flatnonzero(bad).tolist()


def _column(arrays: list, shape: tuple) -> np.ndarray:
    """``np.stack(arrays)`` for arrays of one dtype and ``shape`` (one concatenation: faster for many small ones)."""
    if not shape:
        return np.array(arrays)
    return np.concatenate(arrays).reshape((len(arrays), *shape))


def _done(out: Any) -> bool:
    """``terminated or truncated`` of a checked 5-tuple (a flag that cannot be read as a bool counts as not set)."""
    te, tr = out[2], out[3]
    if te is False and tr is False:  # the usual step, decided without a call
        return False
    return _true(out, 2) or _true(out, 3)


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
    if type(obs) is np.ndarray and obs.nbytes <= DIGEST_BYTES and obs.dtype.kind != "O":
        kept = obs.copy()  # fingerprint's own answer for a small array, without the call
    else:
        kept = fingerprint(obs)
    return (kind, kept, reward if type(reward) in _PLAIN else snapshot(reward),
            te if type(te) in _PLAIN else snapshot(te), tr if type(tr) in _PLAIN else snapshot(tr))


_PLAIN = frozenset((float, int, bool, type(None), np.bool_, np.float64, np.float32))  # immutable: kept as they are


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
    if checker is None:
        return _run_unchecked(env, seed, actions)
    try:
        return _run_checked(env, seed, actions, checker)
    finally:
        checker.close()


def _run_unchecked(env: Any, seed: int, actions: Sequence[Any]) -> list:
    episode, t = 0, 0
    out = _reset(env, None, -1, seed=seed)
    records = [_record("reset", out[0])]
    append, step_env = records.append, env.step
    for step, action in enumerate(actions):
        try:
            out = step_env(action)
        except Exception as exc:
            raise failure("actions.accepted", f"step({short(action)}) raised {type(exc).__name__}: {exc} "
                          f"(episode {episode}, step {t} of the episode)", step=step) from exc
        if type(out) is not tuple or len(out) != 5:
            out = _unpack(out, 5, "step(...)", None, step)
        t += 1
        append(_record("step", out[0], out[1], out[2], out[3]))
        if _done(out):
            episode, t = episode + 1, 0
            out = _reset(env, None, step)
            append(_record("reset", out[0]))
    return records


def _run_checked(env: Any, seed: int, actions: Sequence[Any], checker: Checker) -> list:
    episode, t = 0, 0
    out = _reset(env, checker, -1, seed=seed)
    records = [_record("reset", out[0])]
    checker.on_call("reset", -1, 0, 0, None, out, reset_kwargs={"seed": seed}, record=records[-1])
    probe = checker.maybe_probe if checker.probe_values else None
    for step, action in enumerate(actions):
        if probe is not None:
            probe(step)
        try:
            out = env.step(action)
        except Exception as exc:
            message = (f"step({short(action)}) raised {type(exc).__name__}: {exc} "
                       f"(episode {episode}, step {t} of the episode)")
            checker.fail("actions.accepted", message, step=step, actual=f"{type(exc).__name__}: {exc}")
            raise failure("actions.accepted", message, step=step) from exc
        out = _unpack(out, 5, "step(...)", checker, step)
        t += 1
        records.append(_record("step", out[0], out[1], out[2], out[3]))
        checker.on_call("step", step, episode, t, action, out, record=records[-1])
        if _done(out):
            episode, t = episode + 1, 0
            out = _reset(env, checker, step)
            records.append(_record("reset", out[0]))
            checker.on_call("reset", step, episode, 0, None, out, record=records[-1])
    checker.finish(len(actions) - 1)
    return records
