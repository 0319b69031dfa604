"""What ``rollcheck env`` fuzzes, as a callable and as code: targets, wrappers, reproducers.

An env target is a registered Gymnasium id (``"CartPole-v1"``), a ``"MODULE:FACTORY"`` string
naming a zero-argument callable, or the callable itself; each wrapper is ``"MODULE:CALLABLE"`` or
a callable ``env -> env``. :func:`resolve_target` turns them into callables plus the Python
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

__all__ = ["TargetError", "EnvTarget", "resolve_target", "reproducer", "action_code", "actions_code"]


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


def resolve_target(env: Any, wrappers: Sequence[Any] = ()) -> EnvTarget:
    """Resolve an env target and wrappers (strings or callables); raise :class:`TargetError`."""
    imports: list[str] = ["import gymnasium as gym", "import numpy as np"]
    if isinstance(env, str):
        if ":" in env and not env.split(":", 1)[0].endswith("/"):
            factory = _import_ref(env, "ENV")
            mod, attr = env.split(":", 1)
            imports.append(f"from {mod} import {attr.split('.')[0]}")
            make_env, line, label = factory, f"env = {attr}()", env
        else:
            import gymnasium as gym
            try:
                gym.spec(env)
            except Exception as exc:
                raise TargetError(f"ENV={env!r} is not a registered Gymnasium id ({type(exc).__name__}: {exc})") from exc
            make_env = functools.partial(gym.make, env, disable_env_checker=True)
            line, label = f"env = gym.make({env!r}, disable_env_checker=True)", env
    elif callable(env):
        more, call = _code_for_callable(env, "", "make_env()  # your env factory")
        imports += more
        make_env, line = env, f"env = {call}"
        label = ".".join(_ref_of(env) or ("<callable>",))
    else:
        raise TargetError(f"ENV={env!r} should be a registered id, MODULE:FACTORY or a callable")
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
    return EnvTarget(" | ".join(names), make_env, tuple(built), tuple(dict.fromkeys(imports)), tuple(lines))


# ---------------------------------------------------------------------------------------------
# Reproducers
# ---------------------------------------------------------------------------------------------

def action_code(a: Any) -> str:
    if isinstance(a, np.ndarray):
        return f"np.array({a.tolist()!r}, dtype=np.{a.dtype})"
    if isinstance(a, np.generic):
        return f"np.{a.dtype}({a.item()!r})"
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


_LOOP = """def replay(env, seed, actions):
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


def reproducer(target: EnvTarget, pid: str, seed: int, actions: Sequence[Any], *, message: str,
               history_seed: "int | None" = None, history: Sequence[Any] = (), probe: Any = None) -> str:
    """A short runnable Python snippet replaying ``(seed, actions)`` and showing ``pid``'s failing check."""
    imports = list(target.imports)
    make = "\n    ".join(target.build_lines)
    head = [*imports, "", "", "def make():", f"    {make}", "    return env", "", ""]
    if pid == "spaces.well_formed":
        return "\n".join(head + [f"# rollcheck env: {pid}", f"# {message}",
                                  "from rollcheck.properties.env.checks import space_problems",
                                  "from rollcheck.properties.env.runner import layers_of", "env = make()",
                                  "for i, layer in enumerate(layers_of(env)):",
                                  "    print(i, type(layer).__name__, space_problems(layer.observation_space, 'observation_space'),",
                                  "          space_problems(layer.action_space, 'action_space'))"]) + "\n"
    lines = [f"# rollcheck env: {pid}", f"# {message}", f"seed, actions = {seed}, {actions_code(actions)}"]
    if pid in ("determinism.fresh_instances", "determinism.reseeded_instance", "reset.purity", "determinism.seeds_differ"):
        head.append(_LOOP)
        head.append("")
        if pid == "determinism.fresh_instances":
            lines += ["a, b = replay(make(), seed, actions), replay(make(), seed, actions)"]
        elif pid == "determinism.reseeded_instance":
            lines += ["env = make()", "a = replay(env, seed, actions)", "b = replay(env, seed, actions)  # same instance, re-seeded"]
        elif pid == "determinism.seeds_differ":
            lines += ["trajectories = [replay(make(), s, actions) for s in range(seed, seed + 8)]",
                      "a, b = trajectories[0], trajectories[-1]  # every seed gives the same trajectory"]
        else:
            lines += ["a = replay(make(), seed, actions)  # fresh env", "env = make()",
                      f"replay(env, {history_seed}, {actions_code(history)})  # any history",
                      "b = replay(env, seed, actions)  # after the history: should equal a"]
        lines += ["from rollcheck.properties.env.checks import first_difference",
                  "for i, (x, y) in enumerate(zip(a, b)):",
                  "    if first_difference(x, y) is not None:",
                  "        print('call', i, 'differs:', first_difference(x, y))",
                  "        break"]
        if pid == "determinism.seeds_differ":
            lines[-4:] = ["print(all(str(t) == str(a) for t in trajectories))  # True: the seed is ignored"]
        return "\n".join(head + lines) + "\n"
    lines += ["env = make()"]
    if pid in ("wrapper.layer_contract", "episode.never_past_done"):
        lines += ["from rollcheck.properties.env.runner import Instrument", "layers = Instrument(env)  # logs every layer's calls"]
    if pid == "aliasing.no_mutation":
        lines += ["import copy", "returned = []"]
    lines += ["obs, info = env.reset(seed=seed)"]
    if pid == "aliasing.no_mutation":
        lines += ["returned.append((obs, copy.deepcopy(obs), info, copy.deepcopy(info)))"]
    lines += ["for action in actions:", "    obs, reward, terminated, truncated, info = env.step(action)"]
    if pid == "aliasing.no_mutation":
        lines += ["    returned.append((obs, copy.deepcopy(obs), info, copy.deepcopy(info)))"]
    lines += ["    if terminated or truncated:", "        obs, info = env.reset()"]
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
        "aliasing.no_mutation": ["from rollcheck.properties.env.checks import first_difference",
                                 "for i, (o, o0, n, n0) in enumerate(returned):",
                                 "    d = first_difference(o0, o) or first_difference(n0, n)",
                                 "    if d: print('value returned by call', i, 'changed later:', d); break"],
        "actions.accepted": [f"env.step({action_code(probe)})  # raises, though the action is valid"
                             if probe is not None else "# the last step above raises, though the action is valid"],
        "wrapper.layer_contract": ["for call in layers.log[-12:]:",
                                   "    print(call.index, call.name, call.kind, repr(call.out)[:100], call.observation_space)"],
        "episode.never_past_done": ["print([(c.index, c.name, c.kind) for c in layers.log if c.past_done])"],
    }.get(pid, ["print(obs, reward, terminated, truncated, info)"])
    return "\n".join(head + lines + tail) + "\n"
