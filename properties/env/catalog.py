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

from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np

from rollcheck.properties.env.checks import (done_flag_problems, first_difference, observation_numeric_problems,
                                             reward_problems, same_value, short, space_problems,
                                             value_in_space_problems)
from rollcheck.impl.contract_judge import judge_columns
from rollcheck.properties.core.property import BatchProperty, CallProperty, PropertySet, RunProperty
from rollcheck.spec.contract import Contract

__all__ = ["Call", "LayerCall", "ENV_PROPERTIES", "PER_CALL", "RUN_LEVEL", "VECTOR_PROPERTIES", "trajectory_difference", "same_record",
           "ActionProbe", "ArrayPair", "LayerStack", "ReturnedValue", "SeedRuns", "TrajectoryPair", "VectorBatch",
           "SPACES_OBSERVATION_IN_SPACE", "NUMERICS_OBSERVATION_FINITE", "NUMERICS_REWARD", "NUMERICS_DONE_FLAGS",
           "NUMERICS_INFO_DICT", "EPISODE_NEVER_PAST_DONE", "EPISODE_TRUNCATED_AT_LIMIT", "WRAPPER_LAYER_CONTRACT",
           "SPACES_WELL_FORMED", "ACTIONS_ACCEPTED", "ALIASING_NO_MUTATION", "ALIASING_NO_SHARED_MEMORY", "DETERMINISM_FRESH_INSTANCES",
           "DETERMINISM_RESEEDED_INSTANCE", "DETERMINISM_SEEDS_DIFFER", "RESET_PURITY", "VECTOR_SUB_ENV_MATCHES_SINGLE",
           "VECTOR_AUTORESET_NEXT_STEP", "VECTOR_BATCH_IN_SPACE"]


class LayerCall(NamedTuple):
    """One ``reset``/``step`` call received by one layer of the wrapper stack (0 = outermost).
    A tuple: the instrument builds one per layer per call, so it must be cheap to make."""

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
# The records run-level and batch checks look at (one value each: RunProperty/BatchProperty.check(record))
# ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class TrajectoryPair:
    """Two recorded trajectories that should agree (``determinism.*``, ``reset.purity``, sub-env vs single)."""

    expected: list
    actual: list


@dataclass(frozen=True)
class LayerStack:
    """The wrapper layers of one env, outermost first (``spaces.well_formed``)."""

    layers: list


@dataclass(frozen=True)
class ActionProbe:
    """One valid action to try on a probe's ``step`` (``actions.accepted``)."""

    step: Any
    action: Any


@dataclass(frozen=True)
class ReturnedValue:
    """A value an env returned: its snapshot then and the value now (``aliasing.no_mutation``)."""

    label: str
    snapshot: Any
    live: Any


@dataclass(frozen=True)
class ArrayPair:
    """Two arrays an env returned (the same return, or this one and the previous), named for findings."""

    array: Any
    other: Any
    label: str
    other_label: str


@dataclass(frozen=True)
class SeedRuns:
    """Trajectories of the same actions under several seeds, and the base env's final RNG states."""

    trajectories: list
    rng_states: list


@dataclass(frozen=True)
class VectorBatch:
    """One vector ``reset`` (``out`` None) or ``step`` (``out`` its 5-tuple); ``done_before[i]``: sub-env
    ``i`` was done at the previous step (so this step is its autoreset)."""

    vec: Any
    contract: Contract
    obs: Any
    out: "tuple | None" = None
    done_before: Any = None


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
    if _same_records(expected, actual):
        return None
    for i, (a, b) in enumerate(zip(expected, actual)):
        d = first_difference(a, b)
        if d is not None:
            return i, _name(d, ("kind", "observation", "reward", "terminated", "truncated"))
    if len(expected) != len(actual):
        return min(len(expected), len(actual)), f"lengths differ: {len(expected)} vs {len(actual)} calls"
    return None


def same_record(x: Any, y: Any) -> bool:
    """A fast sufficient test that two trajectory records ``(kind, obs, reward, terminated,
    truncated)`` are the same value: ``True`` only when :func:`~rollcheck.properties.env.checks.first_difference`
    would find nothing (equal kinds, arrays of one dtype and shape with equal bytes, plain scalars of
    one type that compare equal, else :func:`~rollcheck.properties.env.checks.same_value`); ``False``
    means "ask the slow comparison", which may still find them equal (NaN rewards, say)."""
    if type(x) is not tuple or type(y) is not tuple or len(x) != 5 or len(y) != 5 or x[0] != y[0]:
        return False
    o, p = x[1], y[1]
    if type(o) is np.ndarray:
        if type(p) is not np.ndarray or o.dtype != p.dtype or o.shape != p.shape or o.dtype.kind == "O" \
                or o.tobytes() != p.tobytes():
            return False
    elif not same_value(o, p):
        return False
    r, a, b = x[2], x[3], x[4]
    tr, ta, tb = type(r), type(a), type(b)
    if tr is not type(y[2]) or ta is not type(y[3]) or tb is not type(y[4]):
        return False
    if tr in _PLAIN_SCALARS and ta in _PLAIN_SCALARS and tb in _PLAIN_SCALARS:
        return r == y[2] and a == y[3] and b == y[4]
    return same_value(r, y[2]) and same_value(a, y[3]) and same_value(b, y[4])


def _same_records(expected: list, actual: list) -> bool:
    """Every record the same value (:func:`same_record`): a fast sufficient test of equality."""
    return len(expected) == len(actual) and all(map(same_record, expected, actual))


_PLAIN_SCALARS = frozenset((float, int, bool, type(None)))


def _same_trajectory(pair: TrajectoryPair) -> list[str]:
    """``determinism.*``, ``reset.purity``, ``vector.sub_env_matches_single``: the trajectories agree."""
    d = trajectory_difference(pair.expected, pair.actual)
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

def _well_formed(stack: LayerStack) -> list[str]:
    """``spaces.well_formed`` over a wrapper stack (outermost first)."""
    out: list[str] = []
    for i, layer in enumerate(stack.layers):
        for attr in ("observation_space", "action_space"):
            out += space_problems(getattr(layer, attr, None), f"layer {i} ({type(layer).__name__}).{attr}")
    return out


def _accepted(probe: ActionProbe) -> list[str]:
    """``actions.accepted``: ``step(action)`` returns instead of raising."""
    try:
        probe.step(probe.action)
    except Exception as exc:
        return [f"step({short(probe.action)}) raised {type(exc).__name__}: {exc}"]
    return []


def _unchanged(value: ReturnedValue) -> list[str]:
    """``aliasing.no_mutation``: the value returned earlier still equals its snapshot."""
    d = first_difference(value.snapshot, value.live)
    return [] if d is None else [f"the {value.label} changed after later calls: {d}"]


def _no_shared_memory(pair: ArrayPair) -> list[str]:
    """``aliasing.no_shared_memory``: two returned arrays do not overlap in memory (a user's in-place
    edit of one would corrupt the other). Two read-only arrays cannot be corrupted and pass."""
    arr, other = pair.array, pair.other
    if not (arr.flags.writeable or other.flags.writeable) or not np.may_share_memory(arr, other):
        return []
    try:
        shared = np.shares_memory(arr, other, max_work=100_000)
    except np.exceptions.TooHardError:
        return []  # undecidable cheaply: never a false alarm
    return [f"the {pair.label} shares memory with the {pair.other_label} (np.shares_memory): an in-place edit of one "
            f"changes the other"] if shared else []


def _seeds_differ(runs: SeedRuns) -> list[str]:
    """``determinism.seeds_differ``: fails only when every trajectory is identical *and* the base env's
    ``np_random`` ends in the same state for every seed (the seed never reached it); a deterministic env
    whose RNG does receive the seed passes."""
    trajectories, rng_states = runs.trajectories, runs.rng_states
    if any(trajectory_difference(trajectories[0], t) is not None for t in trajectories[1:]):
        return []
    if None in rng_states or len(set(rng_states)) > 1:
        return []
    return [f"{len(trajectories)} seeds with the same actions give identical trajectories, and the base env's "
            "np_random ends in the same state for every seed: the seed never reaches it"]


def _autoreset_next_step(batch: VectorBatch) -> list[str]:
    """``vector.autoreset_next_step``: each sub-env done at the previous step is reset by this one."""
    if batch.out is None or batch.done_before is None:
        return []
    _, rew, te, tr, _ = batch.out
    out = []
    for i in range(len(batch.done_before)):
        reward, terminated, truncated = rew[i], te[i], tr[i]
        if batch.done_before[i] and (float(reward) != 0.0 or bool(terminated) or bool(truncated)):
            out.append(f"sub-env {i}: the sub-env was done at the previous step, so this step is its autoreset "
                       f"(reward 0, terminated False, truncated False); got reward={reward!r}, "
                       f"terminated={terminated!r}, truncated={truncated!r}")
    return out


def _batch_in_space(batch: VectorBatch) -> list[str]:
    """``vector.batch_in_space`` for one vector ``reset`` (``out`` None) or ``step``."""
    vec, contract, obs, out = batch.vec, batch.contract, batch.obs, batch.out
    n = vec.num_envs
    problems = value_in_space_problems(vec.observation_space, obs, "batched observation")
    problems += observation_numeric_problems(contract, obs, "batched observation")
    if out is not None:
        _, rew, te, tr, info = out
        # the batch shapes are the vector API's; every contract rule on the columns is the judge's
        if not isinstance(rew, np.ndarray) or rew.shape != (n,):
            problems.append(f"rewards={short(rew)} should be a real ({n},) array")
        else:
            problems += [f"rewards[{v.index}]: {v.message} ({v.rule})"
                         for v in judge_columns(contract, obs_shape=(), reward=rew)[:1]]
        shaped = True
        for name, flags in (("terminated", te), ("truncated", tr)):
            if not isinstance(flags, np.ndarray) or flags.shape != (n,):
                problems.append(f"{name}={short(flags)} should be a bool ({n},) array")
                shaped = False
        if shaped:
            problems += [f"{v.field}[{v.index}]: {v.message} ({v.rule})"
                         for v in judge_columns(contract, obs_shape=(), terminated=te, truncated=tr)[:1]]
        if not isinstance(info, dict):
            problems.append(f"info={short(info)} should be a dict")
    return problems


SPACES_OBSERVATION_IN_SPACE = CallProperty("spaces.observation_in_space", "Boundary.checkObservation; gymnasium Space.contains",
    "every observation from reset and step is in observation_space with exactly its dtype and shape",
    _obs_in_space)
NUMERICS_OBSERVATION_FINITE = CallProperty("numerics.observation_finite", "Boundary.checkObservation (Contract.check_obs_finite, obs_range)",
    "every observation entry is finite (and in Contract.obs_range when set)", _obs_finite)
NUMERICS_REWARD = CallProperty("numerics.reward", "Boundary.checkReward", "every reward is a real scalar, finite (and in Contract.reward_range)",
    _reward)
NUMERICS_DONE_FLAGS = CallProperty("numerics.done_flags", "Boundary.checkDoneFlags", "terminated and truncated are booleans (Python or numpy)",
    _flags)
NUMERICS_INFO_DICT = CallProperty("numerics.info_dict", "gymnasium Env.reset / Env.step", "info is a dict on reset and on step", _info)
EPISODE_NEVER_PAST_DONE = CallProperty("episode.never_past_done", "Gymnasium.Session.stepChecked (resetOnDone)",
    "no layer is stepped after it returned terminated or truncated, before a reset", _never_past_done)
EPISODE_TRUNCATED_AT_LIMIT = CallProperty("episode.truncated_at_limit", "gymnasium TimeLimit; Boundary.Transition.done",
    "with a known max_episode_steps, an episode cut at the limit is truncated unless the base env terminated then",
    _truncated_at_limit)
WRAPPER_LAYER_CONTRACT = CallProperty("wrapper.layer_contract", "gymnasium Wrapper spaces; Boundary.checkObservation per layer",
    "every layer emits observations in its own observation_space and passes inward actions in its inner action_space",
    _layer_contract)

PER_CALL = PropertySet([SPACES_OBSERVATION_IN_SPACE, NUMERICS_OBSERVATION_FINITE, NUMERICS_REWARD, NUMERICS_DONE_FLAGS, NUMERICS_INFO_DICT, EPISODE_NEVER_PAST_DONE, EPISODE_TRUNCATED_AT_LIMIT, WRAPPER_LAYER_CONTRACT])

SPACES_WELL_FORMED = RunProperty("spaces.well_formed", "gymnasium.spaces (Box, Discrete, ...) constructors",
    "observation_space and action_space of every layer are well-formed spaces whose samples they contain", _well_formed)
ACTIONS_ACCEPTED = RunProperty("actions.accepted", "Boundary.checkAction (every a : Fin n_actions)",
    "every valid action (each discrete value, Box bounds in the space's dtype) is accepted in every probed state", _accepted)
ALIASING_NO_MUTATION = RunProperty("aliasing.no_mutation", "Boundary.Transition (stores copies)",
    "no observation or info returned earlier changes value because of a later call", _unchanged)
ALIASING_NO_SHARED_MEMORY = RunProperty(
    "aliasing.no_shared_memory", "Boundary.Transition (stores copies); gymnasium check_env's obs aliasing check",
    "no returned observation or info array shares memory with another array of the same return or of the "
    "previous one (np.shares_memory)", _no_shared_memory)
DETERMINISM_FRESH_INSTANCES = RunProperty("determinism.fresh_instances", "Gymnasium.Session.reset (seed?)",
    "the same seed and actions give the same multi-episode trajectory on two fresh instances",
    _same_trajectory)
DETERMINISM_RESEEDED_INSTANCE = RunProperty("determinism.reseeded_instance", "Gymnasium.Session.reset (seed?)",
    "re-seeding the same instance and replaying the actions gives the same trajectory again",
    _same_trajectory)
DETERMINISM_SEEDS_DIFFER = RunProperty("determinism.seeds_differ", "gymnasium Env.reset(seed=...) seeds np_random",
    "different seeds do not all give identical trajectories (the seed reaches the env)", _seeds_differ)
RESET_PURITY = RunProperty("reset.purity", "Gymnasium.Session.reset (seed?)",
    "after any history, reset(seed=s) replays exactly like a fresh env's reset(seed=s)", _same_trajectory)

RUN_LEVEL = PropertySet([SPACES_WELL_FORMED, ACTIONS_ACCEPTED, ALIASING_NO_MUTATION, ALIASING_NO_SHARED_MEMORY,
                         DETERMINISM_FRESH_INSTANCES, DETERMINISM_RESEEDED_INSTANCE, DETERMINISM_SEEDS_DIFFER,
                         RESET_PURITY])

VECTOR_SUB_ENV_MATCHES_SINGLE = RunProperty("vector.sub_env_matches_single", "gymnasium.vector.SyncVectorEnv (reset seeds seed+i)",
    "sub-env i of the vector env steps exactly like a single env reset with seed+i, per its autoreset mode",
    _same_trajectory)
VECTOR_AUTORESET_NEXT_STEP = BatchProperty("vector.autoreset_next_step", "gymnasium.vector.AutoresetMode.NEXT_STEP",
    "the step after a sub-env is done resets it: reward 0, terminated and truncated false, action ignored", _autoreset_next_step)
VECTOR_BATCH_IN_SPACE = BatchProperty("vector.batch_in_space", "gymnasium.vector.VectorEnv observation_space",
    "batched observations are in the vector observation_space with its dtype; rewards and flags are (N,) arrays", _batch_in_space)

VECTOR_PROPERTIES = PropertySet([VECTOR_SUB_ENV_MATCHES_SINGLE, VECTOR_AUTORESET_NEXT_STEP, VECTOR_BATCH_IN_SPACE])

ENV_PROPERTIES = PropertySet(list(PER_CALL) + list(RUN_LEVEL) + list(VECTOR_PROPERTIES))
