"""What ``rollcheck env`` fuzzes, as a callable and as code: targets, wrappers, reproducers.

An env target is resolved as Gymnasium resolves ids, registry first: a registered id
(``"CartPole-v1"``; a third-party id such as ``"ALE/Pong-v5"``, ``"MiniGrid-Empty-5x5-v0"`` or
``"highway-fast-v0"`` imports its package's registration, as ``gym.make`` users expect), a
``"module:EnvId"`` string exactly as ``gymnasium.make`` reads it, else a ``"MODULE:FACTORY"``
string naming a zero-argument callable (the resolution used is recorded in ``EnvTarget.note``),
or the callable itself; each wrapper is ``"MODULE:CALLABLE"`` or a callable ``env -> env``. :func:`resolve_target` turns them into callables plus the Python
source that rebuilds the same stack, which :func:`reproducer` uses to print a short snippet that
replays a failing ``(seed, actions)`` program and shows the failing check.

Not a TorchLean definition (TorchLean's ``Gymnasium.Client`` spawns a server by env id); the
invariant enforced: a target that cannot be imported or built raises :class:`TargetError` with the
reason, which the CLI maps to exit status 2.
"""

from __future__ import annotations

import functools
import importlib
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np
from rollcheck.spec.errors import RollcheckError

__all__ = ["TargetError", "EnvTarget", "resolve_target", "reproducer", "comment", "action_code", "actions_code"]


class TargetError(RollcheckError):
    """The env or a wrapper cannot be imported or built (exit status 2)."""


@dataclass(frozen=True)
class EnvTarget:
    """A buildable env stack: ``make()`` and the source lines that do the same."""

    label: str
    make_env: Callable[[], Any]
    wrappers: tuple
    imports: tuple
    build_lines: tuple
    note: str = ""

    def make(self) -> Any:
        env = self.make_env()
        for w in self.wrappers:
            env = w(env)
        return env


def _import_ref(ref: str, what: str) -> Any:
    module_name, _, attr = ref.partition(":")
    if not module_name or not attr:
        raise TargetError(f"{what}={ref!r} should look like MODULE:CALLABLE")
    try:
        obj: Any = importlib.import_module(module_name)
    except Exception as exc:
        raise TargetError(f"{what}={ref!r}: cannot import module {module_name!r} ({type(exc).__name__}: {exc})") from exc
    for part in attr.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise TargetError(f"{what}={ref!r}: module {module_name!r} has no attribute {attr!r}") from None
    if not callable(obj):
        raise TargetError(f"{what}={ref!r} is a {type(obj).__name__}, not a callable")
    return obj


def _ref_of(obj: Any) -> "tuple[str, str] | None":
    """``(module, qualname)`` when ``obj`` can be imported back by name."""
    mod, qual = getattr(obj, "__module__", None), getattr(obj, "__qualname__", None)
    if not mod or not qual or "<" in qual or mod == "__main__":
        return None
    return mod, qual


def _code_for_callable(obj: Any, var: str, fallback: str) -> tuple[list, str]:
    if isinstance(obj, functools.partial) and not obj.keywords and all(isinstance(a, (str, int, float)) for a in obj.args):
        inner = _ref_of(obj.func)
        if inner is not None:
            mod, qual = inner
            args = ", ".join(repr(a) for a in obj.args)
            return [f"import {mod}"], f"{mod}.{qual}({args}{', ' if args and var else ''}{var})"
    ref = _ref_of(obj)
    if ref is None:
        return [], fallback
    mod, qual = ref
    head = qual.split(".")[0]
    return [f"from {mod} import {head}"], f"{qual}({var})"


#: Packages whose import registers third-party Gymnasium ids, by the id's namespace or name prefix.
REGISTERING_PACKAGES = {
    "ALE": "ale_py", "MiniGrid": "minigrid", "BabyAI": "minigrid", "highway": "highway_env",
    "merge": "highway_env", "roundabout": "highway_env", "parking": "highway_env",
    "intersection": "highway_env", "racetrack": "highway_env", "u-turn": "highway_env", "two-way": "highway_env",
    "exit": "highway_env", "lane-keeping": "highway_env", "FlappyBird": "flappy_bird_gymnasium",
    "stocks": "gym_anytrading", "forex": "gym_anytrading", "PointMaze": "gymnasium_robotics",
    "AntMaze": "gymnasium_robotics", "Fetch": "gymnasium_robotics", "Hand": "gymnasium_robotics",
    "Adroit": "gymnasium_robotics", "FrankaKitchen": "gymnasium_robotics",
}


def _registered(env_id: str) -> "tuple[bool, str, str]":
    """``(found, package imported for it or "", why not)`` for a Gymnasium id (``module:EnvId`` allowed)."""
    import gymnasium as gym

    module, _, name = env_id.rpartition(":")
    try:
        if module:  # module:EnvId, read as gymnasium.make reads it: import the module, then look the id up
            importlib.import_module(module)
        gym.spec(name)
        return True, "", ""
    except Exception as exc:
        why = f"{type(exc).__name__}: {exc}"
    if module:
        return False, "", why
    head = env_id.split("/")[0] if "/" in env_id else env_id.split("-")[0]
    package = REGISTERING_PACKAGES.get(head)
    if package is None:
        return False, "", why
    try:
        importlib.import_module(package)
        gym.spec(env_id)
    except Exception as exc:
        return False, "", f"{why}; importing {package!r} (which registers {head!r} ids) did not help: {type(exc).__name__}: {exc}"
    return True, package, ""


def _gym_make(env_id: str, kwargs: dict) -> Any:
    import gymnasium as gym

    return gym.make(env_id, disable_env_checker=True, **kwargs)


def resolve_target(env: Any, wrappers: Sequence[Any] = (), *, make_kwargs: "dict | None" = None,
                   max_episode_steps: "int | None" = None) -> EnvTarget:
    """Resolve an env target and wrappers (strings or callables); raise :class:`TargetError`.

    ``make_kwargs`` and ``max_episode_steps`` go to ``gymnasium.make`` (registered ids only).
    """
    imports: list[str] = ["import gymnasium as gym", "import numpy as np"]
    if make_kwargs is not None and not isinstance(make_kwargs, dict):
        raise TargetError(f"make_kwargs={make_kwargs!r} should be a dict of keyword arguments for gymnasium.make")
    kwargs = dict(make_kwargs or {})
    if max_episode_steps is not None:
        if isinstance(max_episode_steps, bool) or not isinstance(max_episode_steps, int) or max_episode_steps < 1:
            raise TargetError(f"max_episode_steps={max_episode_steps!r} should be a positive int")
        kwargs["max_episode_steps"] = max_episode_steps
    note = ""
    if isinstance(env, str):
        found, package, why = _registered(env)
        if found:
            if package:
                imports.append(f"import {package}  # registers {env}")
            make_env = functools.partial(_gym_make, env, kwargs)
            args = "".join(f", {k}={v!r}" for k, v in kwargs.items())
            line, label = f"env = gym.make({env!r}, disable_env_checker=True{args})", env
            note = (f"{env!r}: registered Gymnasium id" + (f" (imported {package!r} for its registration)" if package else "")
                    + (" — module:EnvId, as gymnasium.make reads it" if ":" in env else ""))
        elif ":" in env and not env.split(":", 1)[0].endswith("/"):
            try:
                factory = _import_ref(env, "ENV")
            except TargetError as exc:
                raise TargetError(f"ENV={env!r} is neither a Gymnasium id ({why}) nor MODULE:FACTORY ({exc})") from None
            if kwargs:
                raise TargetError(f"make_kwargs/max_episode_steps={kwargs!r} apply to registered ids; ENV={env!r} "
                                  "is a MODULE:FACTORY (pass the arguments in your factory)")
            mod, attr = env.split(":", 1)
            imports.append(f"from {mod} import {attr.split('.')[0]}")
            make_env, line, label = factory, f"env = {attr}()", env
            note = f"{env!r}: MODULE:FACTORY (not a Gymnasium id: {why})"
        else:
            raise TargetError(f"ENV={env!r} is not a registered Gymnasium id ({why})")
    elif callable(env):
        if kwargs:
            raise TargetError(f"make_kwargs/max_episode_steps={kwargs!r} apply to registered ids, not to a callable")
        more, call = _code_for_callable(env, "", "make_env()  # your env factory")
        imports += more
        make_env, line = env, f"env = {call}"
        label = ".".join(_ref_of(env) or ("<callable>",))
    else:
        raise TargetError(f"ENV={env!r} should be a registered id, module:EnvId, MODULE:FACTORY or a callable")
    built, lines = [], [line]
    for i, w in enumerate(wrappers):
        if isinstance(w, str):
            fn = _import_ref(w, f"--wrapper[{i}]")
            mod, attr = w.split(":", 1)
            imports.append(f"from {mod} import {attr.split('.')[0]}")
            lines.append(f"env = {attr}(env)")
        elif callable(w):
            fn = w
            more, call = _code_for_callable(w, "env", f"wrapper_{i}(env)  # your wrapper")
            imports += more
            lines.append(f"env = {call}")
        else:
            raise TargetError(f"wrappers[{i}]={w!r} should be MODULE:CALLABLE or a callable")
        built.append(fn)
    names = [label] + [w if isinstance(w, str) else getattr(w, "__name__", repr(w)) for w in wrappers]
    return EnvTarget(" | ".join(names), make_env, tuple(built), tuple(dict.fromkeys(imports)), tuple(lines), note)


# ---------------------------------------------------------------------------------------------
# Reproducers
# ---------------------------------------------------------------------------------------------

def action_code(a: Any) -> str:
    """Python source that rebuilds action ``a`` exactly (arrays with their dtype, Dict/Tuple actions
    element by element; every name it uses comes from ``import numpy as np`` and ``import collections``)."""
    if isinstance(a, np.ndarray):
        if a.dtype.kind in "fc" and not np.isfinite(a).all():  # nan/inf have no literal: rebuild from the bytes
            return f"np.frombuffer(bytes.fromhex({a.tobytes().hex()!r}), dtype=np.{a.dtype}).reshape({a.shape!r}).copy()"
        return f"np.array({a.tolist()!r}, dtype=np.{a.dtype})"
    if isinstance(a, np.generic):
        value = a.item()
        if isinstance(value, float) and not np.isfinite(value):
            return f"np.{a.dtype}(float({repr(value)!r}))"
        return f"np.{a.dtype}({value!r})"
    if isinstance(a, float) and not np.isfinite(a):
        return f"float({repr(a)!r})"
    if isinstance(a, dict):
        items = ", ".join(f"({k!r}, {action_code(v)})" for k, v in a.items())
        body = "{" + ", ".join(f"{k!r}: {action_code(v)}" for k, v in a.items()) + "}"
        return f"collections.OrderedDict([{items}])" if type(a).__name__ == "OrderedDict" else body
    if isinstance(a, tuple):
        inner = ", ".join(action_code(v) for v in a)
        return f"({inner},)" if len(a) == 1 else f"({inner})"
    if isinstance(a, list):
        return "[" + ", ".join(action_code(v) for v in a) + "]"
    return repr(a)


def actions_code(actions: Sequence[Any]) -> str:
    """``actions`` as a short list expression, run-length encoded (``[1] * 9 + [0, 1]``)."""
    if not actions:
        return "[]"
    runs: list[tuple[str, int]] = []
    for a in actions:
        code = action_code(a)
        if runs and runs[-1][0] == code:
            runs[-1] = (code, runs[-1][1] + 1)
        else:
            runs.append((code, 1))
    parts: list[str] = []
    singles: list[str] = []
    for code, n in runs:
        if n >= 4:
            if singles:
                parts.append("[" + ", ".join(singles) + "]")
                singles = []
            parts.append(f"[{code}] * {n}")
        else:
            singles += [code] * n
    if singles:
        parts.append("[" + ", ".join(singles) + "]")
    return " + ".join(parts)


_SAME = """def same(x, y):
    \"\"\"x and y are the same value: same keys, same entries (NaN equal to NaN), same dtypes.\"\"\"
    if isinstance(x, dict) or isinstance(y, dict):
        return isinstance(x, dict) and isinstance(y, dict) and x.keys() == y.keys() and all(same(x[k], y[k]) for k in x)
    if isinstance(x, (tuple, list)) or isinstance(y, (tuple, list)):
        return type(x) is type(y) and len(x) == len(y) and all(same(p, q) for p, q in zip(x, y))
    x, y = np.asarray(x), np.asarray(y)
    return x.dtype == y.dtype and np.array_equal(x, y, equal_nan=x.dtype.kind in "fc")
"""

_LOOP = _SAME + """

def replay(env, seed, actions):
    \"\"\"reset(seed), then step; reset (no seed) after each done. Returns every (obs, reward, te, tr).\"\"\"
    obs, info = env.reset(seed=seed)
    out = [{"observation": obs}]
    for action in actions:
        obs, reward, terminated, truncated, info = env.step(action)
        out.append({"observation": obs, "reward": reward, "terminated": terminated, "truncated": truncated})
        if terminated or truncated:
            obs, info = env.reset()
            out.append({"observation": obs})
    return out
"""


def comment(message: str) -> str:
    """``message`` as Python comment lines (a message may span lines, e.g. a Box's repr)."""
    return "\n".join("# " + line for line in (str(message).splitlines() or [""]))


def reproducer(target: EnvTarget, pid: str, seed: int, actions: Sequence[Any], *, message: str,
               history_seed: "int | None" = None, history: Sequence[Any] = (), probe: Any = None) -> str:
    """A short runnable Python snippet replaying ``(seed, actions)`` and showing ``pid``'s failing check."""
    imports = list(target.imports) + ["import collections"]
    make = "\n    ".join(target.build_lines)
    head = [*imports, "", "", "def make():", f"    {make}", "    return env", "", ""]
    if pid == "spaces.well_formed":
        return "\n".join(head + [f"# rollcheck env: {pid}", comment(message),
                                  "from rollcheck import layers_of, space_problems", "env = make()",
                                  "for i, layer in enumerate(layers_of(env)):",
                                  "    print(i, type(layer).__name__, space_problems(layer.observation_space, 'observation_space'),",
                                  "          space_problems(layer.action_space, 'action_space'))"]) + "\n"
    lines = [f"# rollcheck env: {pid}", comment(message), f"seed, actions = {seed}, {actions_code(actions)}"]
    if pid in ("determinism.fresh_instances", "determinism.reseeded_instance", "reset.purity", "determinism.seeds_differ"):
        head.append(_LOOP)
        head.append("")
        if pid == "determinism.fresh_instances":
            lines += ["a, b = replay(make(), seed, actions), replay(make(), seed, actions)"]
        elif pid == "determinism.reseeded_instance":
            lines += ["env = make()"]
            if history:
                lines += [f"replay(env, {history_seed}, {actions_code(history)})  # what this instance ran first"]
            lines += ["a = replay(env, seed, actions)", "b = replay(env, seed, actions)  # same instance, re-seeded"]
        elif pid == "determinism.seeds_differ":
            lines += ["trajectories = [replay(make(), s, actions) for s in range(seed, seed + 8)]",
                      "a, b = trajectories[0], trajectories[-1]  # every seed gives the same trajectory"]
        else:
            lines += ["a = replay(make(), seed, actions)  # fresh env", "env = make()",
                      f"replay(env, {history_seed}, {actions_code(history)})  # any history",
                      "b = replay(env, seed, actions)  # after the history: should equal a"]
        lines += ["for i, (x, y) in enumerate(zip(a, b)):",
                  "    if not same(x, y):",
                  "        print('call', i, 'differs:', x, 'vs', y)",
                  "        break",
                  "else:",
                  "    print('no difference' if len(a) == len(b) else f'lengths differ: {len(a)} vs {len(b)}')"]
        if pid == "determinism.seeds_differ":
            lines[-6:] = ["print(all(same(t, a) for t in trajectories))  # True: the seed is ignored"]
        return "\n".join(head + lines) + "\n"
    lines += ["env = make()"]
    if pid in ("wrapper.layer_contract", "episode.never_past_done"):
        lines += ["from rollcheck import LayerInstrument", "layers = LayerInstrument(env)  # logs every layer's calls"]
    if pid == "aliasing.no_mutation":
        head += [_SAME, ""]
        lines += ["import copy", "returned = []"]
    if pid == "aliasing.no_shared_memory":
        lines += ["def arrays(x):", "    if isinstance(x, np.ndarray):", "        return [x]",
                  "    if isinstance(x, dict):", "        return [a for v in x.values() for a in arrays(v)]",
                  "    if isinstance(x, (list, tuple)):", "        return [a for v in x for a in arrays(v)]",
                  "    return []", "", "returned = []"]
    lines += ["obs, info = env.reset(seed=seed)"]
    if pid == "aliasing.no_shared_memory":
        lines += ["returned.append(arrays(obs) + arrays(info))"]
    if pid == "aliasing.no_mutation":
        lines += ["returned.append((obs, copy.deepcopy(obs), info, copy.deepcopy(info)))"]
    lines += ["for action in actions:", "    obs, reward, terminated, truncated, info = env.step(action)"]
    if pid == "aliasing.no_shared_memory":
        lines += ["    returned.append(arrays(obs) + arrays(info))"]
    if pid == "aliasing.no_mutation":
        lines += ["    returned.append((obs, copy.deepcopy(obs), info, copy.deepcopy(info)))"]
    lines += ["    if terminated or truncated:", "        obs, info = env.reset()"]
    if pid == "aliasing.no_shared_memory":
        lines += ["        returned.append(arrays(obs) + arrays(info))"]
    if pid == "aliasing.no_mutation":
        lines += ["        returned.append((obs, copy.deepcopy(obs), info, copy.deepcopy(info)))"]
    tail = {
        "spaces.observation_in_space": ["print(repr(obs), env.observation_space)",
                                        "print(env.observation_space.contains(obs), getattr(obs, 'dtype', type(obs)))"],
        "numerics.observation_finite": ["print(obs)  # expected every entry finite"],
        "numerics.reward": ["print(repr(reward))  # expected a finite real scalar"],
        "numerics.done_flags": ["print(type(terminated), type(truncated))  # expected bool or numpy.bool_"],
        "numerics.info_dict": ["print(type(info))  # expected dict"],
        "episode.truncated_at_limit": ["print(terminated, truncated)  # at max_episode_steps: expected truncated=True"],
        "aliasing.no_mutation": ["for i, (o, o0, n, n0) in enumerate(returned):",
                                 "    if not (same(o0, o) and same(n0, n)):",
                                 "        print('value returned by call', i, 'changed later:', o0, n0, 'now', o, n)",
                                 "        break"],
        "actions.accepted": [f"env.step({action_code(probe)})  # raises, though the action is valid"
                             if probe is not None else "# the last step above raises, though the action is valid"],
        "aliasing.no_shared_memory": [
            "for i, now in enumerate(returned):",
            "    before = returned[i - 1] if i else []",
            "    pairs = [(a, b) for j, a in enumerate(now) for b in now[:j] + before]",
            "    if any(np.shares_memory(a, b) for a, b in pairs):",
            "        print('call', i, 'returned an array sharing memory with an earlier one (np.shares_memory)')",
            "        break"],
        "wrapper.layer_contract": ["for call in layers.log[-12:]:",
                                   "    print(call.index, call.name, call.kind, repr(call.out)[:100], call.observation_space)"],
        "episode.never_past_done": ["print([(c.index, c.name, c.kind) for c in layers.log if c.past_done])"],
    }.get(pid, ["print(obs, reward, terminated, truncated, info)"])
    return "\n".join(head + lines + tail) + "\n"
