"""The named properties ``rollcheck env`` checks on an environment and its wrapper stack.

Each :class:`~rollcheck.properties.core.property.Property` has a stable dotted id, the TorchLean or
Gymnasium definition it mirrors and a one-line statement. Per-call properties carry a ``check``
that takes one :class:`Call` (what one ``reset``/``step`` of the outermost env returned, plus
what every wrapper layer saw and emitted during it) and returns a list of problems (sentences;
empty when the property holds). Run-level properties (determinism, reset purity, probing every
action, vector envs) carry a ``check`` over two recorded trajectories or a probe outcome.

Mirrors: TorchLean ``NN.Runtime.RL.Boundary.Core`` (``checkObservation``, ``checkReward``,
``checkDoneFlags``, ``checkAction``), ``Gymnasium.Session.stepChecked`` (reset on done, never
step past it), ``Gymnasium.Session.reset (seed?)``; Gymnasium ``Env.reset``/``Env.step``,
``Space.contains``, ``TimeLimit``, ``gymnasium.vector.AutoresetMode.NEXT_STEP``.

Invariant enforced: ids are unique (``ENV_PROPERTIES`` is a :class:`PropertySet`) and are the
names users pass to ``--skip`` and read in reports.
"""

from __future__ import annotations

import pickle
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from rollcheck.properties.env.checks import (done_flag_problems, first_difference, observation_numeric_problems,
                                             reward_problems, short, space_problems, value_in_space_problems)
from rollcheck.properties.core.property import Property, PropertySet
from rollcheck.spec.contract import Contract

__all__ = ["Call", "LayerCall", "ENV_PROPERTIES", "PER_CALL", "RUN_LEVEL", "VECTOR_PROPERTIES", "trajectory_difference"]


@dataclass
class LayerCall:
    """One ``reset``/``step`` call received by one layer of the wrapper stack (0 = outermost)."""

    index: int
    name: str
    kind: str
    action: Any
    out: Any
    observation_space: Any
    action_space: Any
    past_done: bool = False
    caller: str = "the harness"


@dataclass
class Call:
    """One ``reset`` or ``step`` of the outermost env, as the harness saw it."""

    kind: str
    step: int
    episode: int
    t: int
    action: Any
    obs: Any
    reward: Any
    terminated: Any
    truncated: Any
    info: Any
    observation_space: Any
    contract: Contract
    limit: "int | None" = None
    base_terminated: bool = False
    layers: list = field(default_factory=list)


# ---------------------------------------------------------------------------------------------
# Per-call checks
# ---------------------------------------------------------------------------------------------

def _obs_in_space(c: Call) -> list[str]:
    return value_in_space_problems(c.observation_space, c.obs, f"observation from {c.kind}")


def _obs_finite(c: Call) -> list[str]:
    return observation_numeric_problems(c.contract, c.obs, f"observation from {c.kind}")


def _reward(c: Call) -> list[str]:
    return [f"reward {p}" for p in reward_problems(c.contract, c.reward)] if c.kind == "step" else []


def _flags(c: Call) -> list[str]:
    return done_flag_problems(c.contract, c.terminated, c.truncated) if c.kind == "step" else []


def _info(c: Call) -> list[str]:
    return [] if isinstance(c.info, dict) else [f"info from {c.kind} is a {type(c.info).__name__}, not a dict: {short(c.info)}"]


def _truncated_at_limit(c: Call) -> list[str]:
    if c.kind != "step" or c.limit is None or c.t != c.limit:
        return []
    if bool(c.truncated) or c.base_terminated:
        return []
    return [f"step {c.t} of the episode reached max_episode_steps={c.limit} but returned "
            f"terminated={c.terminated!r}, truncated={c.truncated!r} (the base env did not terminate, "
            f"so the cut is a truncation)"]


def _never_past_done(c: Call) -> list[str]:
    late = [lc for lc in c.layers if lc.past_done]
    if not late:
        return []
    lc = min(late, key=lambda lc: lc.index)  # the outermost one: its caller is the culprit, inner ones follow
    return [f"layer {lc.index} ({lc.name}) was stepped by {lc.caller} after it returned terminated/truncated "
            f"and before any reset"]


_REWARD_REAL = Contract(check_reward_finite=False)
_FLAGS = Contract()


def _layer_contract(c: Call) -> list[str]:
    for lc in sorted(c.layers, key=lambda lc: -lc.index):  # innermost first
        # layer 0 receives the harness's own actions, drawn from its action space
        if lc.index > 0 and lc.kind == "step" and lc.action is not None and lc.action_space is not None:
            problems = value_in_space_problems(lc.action_space, lc.action, "action")
            if problems:
                try:
                    ok = lc.action_space.contains(lc.action)  # Gymnasium's own (laxer about dtypes) decides
                except Exception:
                    ok = False
                if not ok:
                    return [f"{lc.caller} passed action {short(lc.action)} to layer {lc.index} ({lc.name}), "
                            f"outside its action_space {lc.action_space}"]
        if not isinstance(lc.out, tuple) or len(lc.out) != (5 if lc.kind == "step" else 2):
            return [f"layer {lc.index} ({lc.name}).{lc.kind} returned {short(lc.out)}, not a "
                    f"{5 if lc.kind == 'step' else 2}-tuple"]
        problems = value_in_space_problems(lc.observation_space, lc.out[0], f"observation from {lc.kind}")
        if lc.kind == "step":
            problems += reward_problems(_REWARD_REAL, lc.out[1])
            problems += done_flag_problems(_FLAGS, lc.out[2], lc.out[3])
        if problems:
            return [f"layer {lc.index} ({lc.name}) breaks its own declared spaces: {problems[0]}"]
    return []


def trajectory_difference(expected: list, actual: list) -> "tuple[int, str] | None":
    """First record where two trajectories differ: ``(record index, description)`` or ``None``.

    Records are ``(kind, obs, reward, terminated, truncated)``; ``info`` is not compared (it may
    carry wall-clock time, e.g. ``RecordEpisodeStatistics``'s ``episode.t``).
    """
    if _same_bytes(expected, actual):
        return None
    for i, (a, b) in enumerate(zip(expected, actual)):
        d = first_difference(a, b)
        if d is not None:
            return i, _name(d, ("kind", "observation", "reward", "terminated", "truncated"))
    if len(expected) != len(actual):
        return min(len(expected), len(actual)), f"lengths differ: {len(expected)} vs {len(actual)} calls"
    return None


def _same_bytes(expected: list, actual: list) -> bool:
    """A fast sufficient test of equality: identical pickles (the slow comparison decides otherwise)."""
    try:
        return pickle.dumps(expected, protocol=5) == pickle.dumps(actual, protocol=5)
    except Exception:
        return False


def _same_trajectory(expected: list, actual: list) -> list[str]:
    """``determinism.*``, ``reset.purity``, ``vector.sub_env_matches_single``: the trajectories agree."""
    d = trajectory_difference(expected, actual)
    return [] if d is None else [f"call {d[0]} differs ({d[1]})"]


def _name(diff: str, names: tuple) -> str:
    for i, n in enumerate(names):
        prefix = f"[{i}]"
        if diff.startswith(prefix):
            return n + diff[len(prefix):]
    return diff


# ---------------------------------------------------------------------------------------------
# Run-level checks (each is the function the engine calls for that property)
# ---------------------------------------------------------------------------------------------

def _well_formed(layers: list) -> list[str]:
    """``spaces.well_formed`` over a wrapper stack (outermost first)."""
    out: list[str] = []
    for i, layer in enumerate(layers):
        for attr in ("observation_space", "action_space"):
            out += space_problems(getattr(layer, attr, None), f"layer {i} ({type(layer).__name__}).{attr}")
    return out


def _accepted(step: Any, action: Any) -> list[str]:
    """``actions.accepted``: ``step(action)`` returns instead of raising."""
    try:
        step(action)
    except Exception as exc:
        return [f"step({short(action)}) raised {type(exc).__name__}: {exc}"]
    return []


def _unchanged(label: str, snap: Any, live: Any) -> list[str]:
    """``aliasing.no_mutation``: the value returned earlier still equals its snapshot."""
    d = first_difference(snap, live)
    return [] if d is None else [f"the {label} changed after later calls: {d}"]


def _no_shared_memory(arr: np.ndarray, other: np.ndarray, label: str, other_label: str) -> list[str]:
    """``aliasing.no_shared_memory``: two returned arrays do not overlap in memory (a user's in-place
    edit of one would corrupt the other). Two read-only arrays cannot be corrupted and pass."""
    if not (arr.flags.writeable or other.flags.writeable) or not np.may_share_memory(arr, other):
        return []
    try:
        shared = np.shares_memory(arr, other, max_work=100_000)
    except np.exceptions.TooHardError:
        return []  # undecidable cheaply: never a false alarm
    return [f"the {label} shares memory with the {other_label} (np.shares_memory): an in-place edit of one "
            f"changes the other"] if shared else []


def _seeds_differ(trajectories: list, rng_states: list) -> list[str]:
    """``determinism.seeds_differ``: fails only when every trajectory is identical *and* the base env's
    ``np_random`` ends in the same state for every seed (the seed never reached it); a deterministic env
    whose RNG does receive the seed passes."""
    if any(trajectory_difference(trajectories[0], t) is not None for t in trajectories[1:]):
        return []
    if None in rng_states or len(set(rng_states)) > 1:
        return []
    return [f"{len(trajectories)} seeds with the same actions give identical trajectories, and the base env's "
            "np_random ends in the same state for every seed: the seed never reaches it"]


def _autoreset_next_step(done_before: bool, reward: Any, terminated: Any, truncated: Any) -> list[str]:
    """``vector.autoreset_next_step`` for one sub-env at one step."""
    if done_before and (float(reward) != 0.0 or bool(terminated) or bool(truncated)):
        return [f"the sub-env was done at the previous step, so this step is its autoreset (reward 0, "
                f"terminated False, truncated False); got reward={reward!r}, terminated={terminated!r}, "
                f"truncated={truncated!r}"]
    return []


def _float64(arr: np.ndarray) -> np.ndarray:
    """``arr`` as float64, as the spec reads each reward (``float(r)``: a longdouble beyond float64 is inf)."""
    with np.errstate(over="ignore"):
        return arr.astype(np.float64, copy=False)


def _batch_in_space(vec: Any, contract: Contract, obs: Any, out: "tuple | None") -> list[str]:
    """``vector.batch_in_space`` for one vector ``reset`` (``out`` None) or ``step``."""
    n = vec.num_envs
    problems = value_in_space_problems(vec.observation_space, obs, "batched observation")
    problems += observation_numeric_problems(contract, obs, "batched observation")
    if out is not None:
        _, rew, te, tr, info = out
        if not isinstance(rew, np.ndarray) or rew.shape != (n,) or rew.dtype.kind not in "fiu":
            problems.append(f"rewards={short(rew)} should be a real ({n},) array")
        elif contract.check_reward_finite and not np.isfinite(_float64(rew)).all():
            problems.append(f"rewards={short(rew)} contain a non-finite entry (Contract.check_reward_finite)")
        for name, flags in (("terminated", te), ("truncated", tr)):
            if not isinstance(flags, np.ndarray) or flags.shape != (n,) or flags.dtype != np.bool_:
                problems.append(f"{name}={short(flags)} should be a bool ({n},) array")
        if not isinstance(info, dict):
            problems.append(f"info={short(info)} should be a dict")
    return problems


PER_CALL = PropertySet([
    Property("spaces.observation_in_space", "Boundary.checkObservation; gymnasium Space.contains",
          "every observation from reset and step is in observation_space with exactly its dtype and shape",
          _obs_in_space),
    Property("numerics.observation_finite", "Boundary.checkObservation (Contract.check_obs_finite, obs_range)",
          "every observation entry is finite (and in Contract.obs_range when set)", _obs_finite),
    Property("numerics.reward", "Boundary.checkReward", "every reward is a real scalar, finite (and in Contract.reward_range)",
          _reward),
    Property("numerics.done_flags", "Boundary.checkDoneFlags", "terminated and truncated are booleans (Python or numpy)",
          _flags),
    Property("numerics.info_dict", "gymnasium Env.reset / Env.step", "info is a dict on reset and on step", _info),
    Property("episode.never_past_done", "Gymnasium.Session.stepChecked (resetOnDone)",
          "no layer is stepped after it returned terminated or truncated, before a reset", _never_past_done),
    Property("episode.truncated_at_limit", "gymnasium TimeLimit; Boundary.Transition.done",
          "with a known max_episode_steps, an episode cut at the limit is truncated unless the base env terminated then",
          _truncated_at_limit),
    Property("wrapper.layer_contract", "gymnasium Wrapper spaces; Boundary.checkObservation per layer",
          "every layer emits observations in its own observation_space and passes inward actions in its inner action_space",
          _layer_contract),
])

RUN_LEVEL = PropertySet([
    Property("spaces.well_formed", "gymnasium.spaces (Box, Discrete, ...) constructors",
          "observation_space and action_space of every layer are well-formed spaces whose samples they contain", _well_formed),
    Property("actions.accepted", "Boundary.checkAction (every a : Fin n_actions)",
          "every valid action (each discrete value, Box bounds in the space's dtype) is accepted in every probed state", _accepted),
    Property("aliasing.no_mutation", "Boundary.Transition (stores copies)",
          "no observation or info returned earlier changes value because of a later call", _unchanged),
    Property("aliasing.no_shared_memory", "Boundary.Transition (stores copies); gymnasium check_env's obs aliasing check",
          "no returned observation or info array shares memory with another array of the same return or of the "
          "previous one (np.shares_memory)", _no_shared_memory),
    Property("determinism.fresh_instances", "Gymnasium.Session.reset (seed?)",
          "the same seed and actions give the same multi-episode trajectory on two fresh instances",
          _same_trajectory),
    Property("determinism.reseeded_instance", "Gymnasium.Session.reset (seed?)",
          "re-seeding the same instance and replaying the actions gives the same trajectory again",
          _same_trajectory),
    Property("determinism.seeds_differ", "gymnasium Env.reset(seed=...) seeds np_random",
          "different seeds do not all give identical trajectories (the seed reaches the env)", _seeds_differ),
    Property("reset.purity", "Gymnasium.Session.reset (seed?)",
          "after any history, reset(seed=s) replays exactly like a fresh env's reset(seed=s)", _same_trajectory),
])

VECTOR_PROPERTIES = PropertySet([
    Property("vector.sub_env_matches_single", "gymnasium.vector.SyncVectorEnv (reset seeds seed+i)",
          "sub-env i of the vector env steps exactly like a single env reset with seed+i, per its autoreset mode",
          _same_trajectory),
    Property("vector.autoreset_next_step", "gymnasium.vector.AutoresetMode.NEXT_STEP",
          "the step after a sub-env is done resets it: reward 0, terminated and truncated false, action ignored", _autoreset_next_step),
    Property("vector.batch_in_space", "gymnasium.vector.VectorEnv observation_space",
          "batched observations are in the vector observation_space with its dtype; rewards and flags are (N,) arrays", _batch_in_space),
])

ENV_PROPERTIES = PropertySet(list(PER_CALL) + list(RUN_LEVEL) + list(VECTOR_PROPERTIES))
