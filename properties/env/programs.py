"""Action programs for the env fuzzer, as Hypothesis strategies.

A :class:`Program` is what one fuzzing example runs: a reset seed and a flat action list, plus a
*history* (another seed and actions run first on the same instance, for ``reset.purity``) and
the step before which ``actions.accepted`` probes every valid action. The
action list is drawn as a few *segments*, each shrinking independently:

- ``explicit``: a short list of actions drawn one by one (shrinks to the simplest actions);
- ``repeat``: one action repeated up to ``max_run`` times (biased runs drive many envs to
  extreme states fast: CartPole's pole falls, MountainCar's car sits at a wall);
- ``random``: ``k`` actions sampled from the action space by a seeded generator (long
  episodes at a small cost in Hypothesis choices).

A Discrete action is a Python ``int`` in ``explicit`` and ``repeat`` segments and a scalar of the
space's dtype (``np.int64``, as ``Discrete.sample()`` and a policy's ``argmax`` give it) in
``random`` ones, so an env that mishandles either representation meets both.

Not a TorchLean definition: this is the search space over TorchLean's ``Session.reset (seed?)``
and ``stepChecked`` calls. Invariant enforced: every action drawn is an element of the action
space with exactly its dtype (Box bounds included), and no program is longer than ``max_steps``.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

import numpy as np
from gymnasium import spaces
from hypothesis import strategies as st

from rollcheck.properties.env.runner import probe_actions

__all__ = ["Program", "programs", "random_actions", "action_strategy"]


@dataclass(frozen=True)
class Program:
    seed: int
    actions: tuple
    history_seed: int = 0
    history: tuple = ()
    probe_at: int = 0  # actions.accepted probes the state before actions[probe_at % len(actions)]


def random_actions(space: Any, rng_seed: int, k: int) -> list:
    """``k`` actions from ``space``, deterministic in ``rng_seed`` (never touches global RNGs)."""
    rng = np.random.default_rng(rng_seed)
    if isinstance(space, spaces.Discrete):  # scalars of the space's dtype, as Discrete.sample() gives them
        return list(rng.integers(space.start, space.start + space.n, size=k).astype(space.dtype, copy=False))
    if isinstance(space, spaces.Box) and space.dtype.kind == "f":
        low, high = space.low.astype(np.float64), space.high.astype(np.float64)
        finite = np.isfinite(low) & np.isfinite(high)
        u = rng.uniform(np.where(finite, low, 0.0), np.where(finite, high, 1.0), size=(k, *space.shape))
        u = np.where(finite, u, rng.standard_normal(size=(k, *space.shape)))
        u = np.clip(u, low, high).astype(space.dtype)
        return [np.clip(row, space.low, space.high) for row in u]
    probe = copy.deepcopy(space)
    probe.seed(int(rng_seed))
    return [probe.sample() for _ in range(k)]


def action_strategy(space: Any) -> st.SearchStrategy:
    """One action: any discrete value, or a Box corner / seeded sample, in the space's dtype."""
    if isinstance(space, spaces.Discrete):
        return st.integers(int(space.start), int(space.start + space.n - 1))
    corners = probe_actions(space)
    seeded = st.integers(0, 2**32 - 1).map(lambda s: random_actions(space, s, 1)[0])
    return st.one_of(st.sampled_from(corners), seeded) if corners else seeded


def _segment(space: Any, max_steps: int, max_run: int) -> st.SearchStrategy:
    action = action_strategy(space)
    return st.one_of(
        st.tuples(st.just("explicit"), st.lists(action, min_size=1, max_size=6)),
        st.tuples(st.just("repeat"), action, st.integers(1, max_run)),
        st.tuples(st.just("random"), st.integers(0, 2**32 - 1), st.integers(1, max_steps)),
    )


def _flatten(space: Any, segments: list, max_steps: int) -> tuple:
    out: list = []
    for seg in segments:
        if len(out) >= max_steps:
            break
        room = max_steps - len(out)
        if seg[0] == "explicit":
            out += seg[1][:room]
        elif seg[0] == "repeat":
            out += [seg[1]] * min(seg[2], room)
        else:
            out += random_actions(space, seg[1], min(seg[2], room))
    return tuple(out)


def programs(space: Any, max_steps: int, max_run: int = 200) -> st.SearchStrategy:
    """Programs of at most ``max_steps`` actions over ``space`` (see the module docstring)."""
    segs = st.lists(_segment(space, max_steps, max_run), min_size=1, max_size=8)
    history = st.tuples(st.integers(0, 2**31 - 1), st.integers(0, max(1, max_steps // 4)), st.integers(0, 2**32 - 1))

    def build(seed: int, segments: list, hist: tuple, probe_at: int) -> Program:
        hseed, hlen, hrng = hist
        return Program(seed=seed, actions=_flatten(space, segments, max_steps), history_seed=hseed,
                       history=tuple(random_actions(space, hrng, hlen)), probe_at=probe_at)

    return st.builds(build, st.integers(0, 2**31 - 1), segs, history, st.integers(0, max_steps))
