"""Batched judgement gives the same verdicts as judging every call at once.

The fuzzer screens each call and leaves the Box bounds and the contract's numeric rules to a batch
(``Checker(batch=256)``); ``batch=1`` judges each call before the next one is made, as the
instrumented run always did. On every planted bug and on clean envs, over seeded programs (with
one property silenced, as later search phases run, too), both raise the same failure (property,
words, step, context) or none, and return the same trajectory.
"""

from __future__ import annotations

import warnings

import gymnasium as gym
import numpy as np
import pytest

import env_zoo_wrappers as zoo
from rollcheck.properties.env.catalog import ENV_PROPERTIES, VECTOR_PROPERTIES
from rollcheck.properties.env.programs import random_actions
from rollcheck.properties.env.runner import Checker, Counters, PropertyFailure, run_program
from rollcheck.properties.env.target import resolve_target
from rollcheck.spec.contract import Contract

ACTIVE = frozenset(ENV_PROPERTIES.without([p.id for p in VECTOR_PROPERTIES]).ids)
# every planted bug but the one that makes two runs differ on purpose (global-RNG noise)
STACKS = [(p.name, p.env, p.wrappers) for p in zoo.PLANTED if p.catches != "determinism.fresh_instances"] + [
    ("clean CartPole", "CartPole-v1", ()), ("clean Pendulum", "Pendulum-v1", ()), ("clean Taxi", "Taxi-v4", ()),
    ("clean FrozenLake", "FrozenLake-v1", ())]


def _programs(space, n=4, length=150):
    out = []
    for k in range(n):
        actions = random_actions(space, k, length)
        if k % 2:  # a biased run of one action drives CartPole's pole down, MountainCar to a wall
            actions = [actions[0]] * (length // 2) + actions[length // 2:]
        out.append((k, actions, (k * 37) % length))
    return out


def _outcome(target, seed, actions, probe_at, batch, silenced, contract):
    env = target.make()
    checker = Checker(env, set(ACTIVE), set(silenced), Counters(), contract, make=target.make,
                      probe_steps=(probe_at,), batch=batch)
    try:
        records = run_program(env, seed, actions, checker)
    except PropertyFailure as exc:
        return ("failed", exc.pid, exc.message, exc.step, repr(exc.context), repr(exc.actual))
    finally:
        env.close()
    return ("ran", repr(records))


@pytest.mark.parametrize("contract", [Contract(), Contract(reward_range=(0.0, 0.5), obs_range=(-2.0, 2.0))],
                         ids=["default", "ranges"])
@pytest.mark.parametrize("name, env, wrappers", STACKS, ids=[s[0] for s in STACKS])
def test_batched_and_immediate_judgement_agree(name, env, wrappers, contract):
    target = resolve_target(env, wrappers)
    space = target.make().action_space
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for seed, actions, probe_at in _programs(space):
            first = _outcome(target, seed, actions, probe_at, 1, (), contract)
            assert _outcome(target, seed, actions, probe_at, 256, (), contract) == first
            if first[0] == "failed":  # silenced, as a later phase runs: the next failure must agree too
                silenced = {first[1]}
                assert (_outcome(target, seed, actions, probe_at, 256, silenced, contract)
                        == _outcome(target, seed, actions, probe_at, 1, silenced, contract))


def test_a_late_nan_in_a_batch_is_reported_at_its_own_step():
    target = resolve_target("CartPole-v1", (f"{zoo.__name__}:NaNVelocityWhenTilted",))
    actions = [1] * 120
    out = _outcome(target, 0, actions, 200, 256, (), Contract())
    assert out[0] == "failed" and out[1] in ("spaces.observation_in_space", "numerics.observation_finite")
    assert out == _outcome(target, 0, actions, 200, 1, (), Contract())
    assert isinstance(out[3], int) and out[3] < 120


class _OwnSpaceProperty(gym.Wrapper):
    """A wrapper whose spaces are properties of its own (the instrument must ask them)."""

    @property
    def observation_space(self):
        return self.env.observation_space

    @property
    def action_space(self):
        return gym.spaces.Discrete(2)


@pytest.mark.parametrize("name, env, wrappers", STACKS, ids=[s[0] for s in STACKS])
def test_the_instrument_reads_every_layers_spaces_as_its_properties_do(name, env, wrappers):
    from rollcheck.properties.env.runner import LayerInstrument, layers_of

    stack = resolve_target(env, wrappers).make()
    for top in (stack, _OwnSpaceProperty(stack)):
        instrument = LayerInstrument(top)
        every = instrument.all_spaces()  # the one pass from the base env outwards reads the same objects
        for i, layer in enumerate(layers_of(top)):
            obs, act = instrument.spaces(i)
            assert every[i][0] is obs and (every[i][1] is act or type(layer) is _OwnSpaceProperty)
            assert obs is layer.observation_space
            assert act == layer.action_space and (type(layer) is _OwnSpaceProperty or act is layer.action_space)
        instrument.remove()
