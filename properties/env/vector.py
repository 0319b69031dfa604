"""Vector-env checks for ``rollcheck env --vector N``: a ``SyncVectorEnv`` of N copies of the stack.

Each example resets the vector env with ``seed`` (Gymnasium seeds sub-env ``i`` with
``seed + i``) and steps a joint action program. Three properties:

- ``vector.batch_in_space``: the batched observation is in the vector ``observation_space`` with
  exactly its dtype; rewards are an ``(N,)`` real array; ``terminated``/``truncated`` ``(N,)`` bool
  arrays; finite per the contract;
- ``vector.autoreset_next_step``: in ``AutoresetMode.NEXT_STEP`` (the default) the step after a
  sub-env is done resets it: reward 0, both flags false, the action ignored;
- ``vector.sub_env_matches_single``: sub-env ``i``'s trajectory equals a single env reset with
  ``seed + i`` and stepped with the actions the vector env did not ignore (every single-env
  property therefore transfers to each sub-env).

Mirrors ``gymnasium.vector.SyncVectorEnv`` and ``gymnasium.vector.AutoresetMode.NEXT_STEP`` (see
https://farama.org/Vector-Autoreset-Mode). The search is the single-env fuzzer's own loop
(:func:`rollcheck.properties.env.search.run_search`); failures shrink to a minimal
``(seed, joint actions)`` and come with a replay snippet.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
from hypothesis import strategies as st

from rollcheck.properties.env.checks import short, snapshot
from rollcheck.properties.env.programs import programs, random_actions
from rollcheck.properties.env.catalog import (VECTOR_AUTORESET_NEXT_STEP, VECTOR_BATCH_IN_SPACE,
                                             VECTOR_SUB_ENV_MATCHES_SINGLE, TrajectoryPair, VectorBatch)
from rollcheck.properties.env.runner import PropertyFailure, failure, run_program
from rollcheck.properties.env.search import Deadline, run_search
from rollcheck.properties.env.target import EnvTarget, action_code, comment
from rollcheck.properties.core.report import Finding, PropertyResult
from rollcheck.spec.contract import Contract

__all__ = ["check_vector", "make_vector"]

_IDS = ("vector.batch_in_space", "vector.autoreset_next_step", "vector.sub_env_matches_single")


def make_vector(target: EnvTarget, n: int, vector_wrappers: Sequence[Any] = ()) -> Any:
    import gymnasium as gym

    vec = gym.vector.SyncVectorEnv([target.make for _ in range(n)])
    for w in vector_wrappers:
        vec = w(vec)
    return vec


def _canon(x: Any) -> Any:
    """A value with its container structure, every leaf as a numpy array (``36`` and ``np.int64(36)`` agree)."""
    if isinstance(x, tuple):
        return tuple(_canon(v) for v in x)
    if isinstance(x, dict):
        return {k: _canon(v) for k, v in x.items()}
    return np.array(x)


class _VectorSearch:
    def __init__(self, target: EnvTarget, n: int, active: set, contract: Contract, vector_wrappers: Sequence[Any]):
        self.target, self.n, self.active, self.contract = target, n, active, contract
        self.vector_wrappers = vector_wrappers
        self.silenced: set = set()
        self.steps = self.episodes = self.examples = 0

    def _split(self, vec: Any, obs: Any) -> list:
        """Sub-env observations of a batch (``iterate`` handles Tuple/Dict spaces), as canonical snapshots."""
        from gymnasium.vector.utils import iterate
        try:
            return [_canon(snapshot(o)) for o in iterate(vec.observation_space, obs)]
        except Exception:
            return [("<unsplittable batch>", short(obs))] * self.n

    def fail(self, pid: str, message: str, step: "int | None") -> None:
        if pid in self.active and pid not in self.silenced:
            raise failure(pid, message, step=step)

    def example(self, seed: int, joint: list) -> None:
        self.examples += 1
        vec = make_vector(self.target, self.n, self.vector_wrappers)
        try:
            obs, info = vec.reset(seed=seed)
            for p in VECTOR_BATCH_IN_SPACE.check(VectorBatch(vec, self.contract, obs))[:1]:
                self.fail("vector.batch_in_space", f"reset: {p}", None)
            split = self._split(vec, obs)
            recs = [[("reset", split[i], None, None, None)] for i in range(self.n)]
            used: list[list] = [[] for _ in range(self.n)]
            prev = np.zeros(self.n, dtype=bool)
            for t, actions in enumerate(joint):
                out = vec.step(np.stack([np.asarray(a) for a in actions]))
                self.steps += 1
                obs, rew, te, tr, info = out
                for p in VECTOR_BATCH_IN_SPACE.check(VectorBatch(vec, self.contract, obs, out))[:1]:
                    self.fail("vector.batch_in_space", f"step {t}: {p}", t)
                te, tr = np.asarray(te, dtype=bool), np.asarray(tr, dtype=bool)
                split = self._split(vec, obs)
                for p in VECTOR_AUTORESET_NEXT_STEP.check(VectorBatch(vec, self.contract, obs, out, prev))[:1]:
                    self.fail("vector.autoreset_next_step", f"step {t}, {p}", t)
                for i in range(self.n):
                    if prev[i]:
                        recs[i].append(("reset", split[i], None, None, None))
                    else:
                        used[i].append(actions[i])
                        recs[i].append(("step", split[i], float(rew[i]), bool(te[i]), bool(tr[i])))
                done = te | tr
                self.episodes += int(done.sum())
                prev = done
        finally:
            vec.close()
        if "vector.sub_env_matches_single" not in self.active:
            return
        for i in range(self.n):
            single = self.target.make()
            try:
                ref = run_program(single, seed + i, used[i])
            except PropertyFailure:
                continue  # the single-env properties report it
            finally:
                single.close()
            ref = [(r[0], _canon(r[1]), None, None, None) if r[0] == "reset" else
                   (r[0], _canon(r[1]), float(r[2]), bool(r[3]), bool(r[4])) for r in ref]
            m = min(len(ref), len(recs[i]))
            for p in VECTOR_SUB_ENV_MATCHES_SINGLE.check(TrajectoryPair(ref[:m], recs[i][:m]))[:1]:
                self.fail("vector.sub_env_matches_single",
                          f"sub-env {i} differs from a single env reset with seed {seed + i}: {p}", None)


def _reproducer(target: EnvTarget, n: int, seed: int, joint: list, pid: str, message: str,
                vector_wrappers: Sequence[Any]) -> str:
    rows = ",\n    ".join("[" + ", ".join(action_code(a) for a in row) + "]" for row in joint)
    wrap = [f"vec = {getattr(w, '__name__', 'vector_wrapper')}(vec)  # your vector wrapper" for w in vector_wrappers]
    return "\n".join([*target.imports, "import collections", "", "", "def make():", "    " + "\n    ".join(target.build_lines),
                      "    return env", "", "", f"# rollcheck env: {pid}", comment(message),
                      f"vec = gym.vector.SyncVectorEnv([make] * {n})  # AutoresetMode.NEXT_STEP", *wrap,
                      f"obs, info = vec.reset(seed={seed})  # sub-env i is seeded with {seed} + i",
                      f"joint_actions = [\n    {rows}\n]", "for t, actions in enumerate(joint_actions):",
                      "    obs, rewards, terminated, truncated, info = vec.step(np.stack([np.asarray(a) for a in actions]))",
                      "    print(t, rewards, terminated, truncated)"]) + "\n"


def check_vector(target: EnvTarget, n: int, active: set, results: dict, *, seed: int, max_examples: int,
                 max_steps: int, contract: Contract, vector_wrappers: Sequence[Any] = (),
                 deadline: "Deadline | None" = None, shrink_seconds: float = 10.0) -> bool:
    """Search the vector env of ``n`` copies; fill ``results`` for the ``vector.*`` ids in place.

    Runs the same search loop as the single-env fuzzer (:func:`run_search`). Returns whether the
    deadline cut the search short.
    """
    wanted = [p for p in _IDS if p in active]
    if not wanted:
        return False
    probe = target.make()
    try:
        space = probe.action_space
    finally:
        probe.close()
    search = _VectorSearch(target, n, set(wanted), contract, vector_wrappers)
    strategy = st.tuples(st.integers(0, 2**31 - 1), st.lists(programs(space, max_steps), min_size=n, max_size=n))
    default = random_actions(space, seed, 1)[0]

    def joint_of(progs: list) -> list:
        """Row k: sub-env i's k-th action (a shorter program repeats its last action)."""
        t = max(len(p.actions) for p in progs)
        return [[p.actions[min(k, len(p.actions) - 1)] if p.actions else default for p in progs] for k in range(t)]

    def run(args: tuple) -> None:
        vseed, progs = args
        search.example(vseed, joint_of(progs))

    outcome = run_search(run, strategy, seed=seed * 104729 + 1, max_examples=max_examples,
                         deadline=deadline or Deadline(None), shrink_seconds=shrink_seconds,
                         silenced=search.silenced, max_phases=len(wanted))
    if outcome.error is not None:
        raise outcome.error
    for pid in wanted:
        r: PropertyResult = results[pid]
        r.examples += search.examples
        r.steps += search.steps * n
        r.episodes += search.episodes
        if pid in outcome.failures:
            exc, (vseed, progs) = outcome.failures[pid]
            joint = joint_of(progs)
            keep = joint[: exc.step + 1] if exc.step is not None else joint
            r.fail(Finding(exc.message, step=exc.step, context={"seed": vseed, "num_envs": n, "steps": len(keep)},
                           reproducer=_reproducer(target, n, vseed, keep, pid, exc.message, vector_wrappers)))
    return outcome.cut_short
