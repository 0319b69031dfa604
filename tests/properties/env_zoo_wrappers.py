"""Wrappers with planted bugs, one per env property, for rollcheck env's own tests.

Each entry of :data:`PLANTED` names the stack (a registered id and wrappers from this module),
the property that must catch the bug and the other properties the same bug may also break
(e.g. a NaN observation is also outside its Box). Most bugs hide where ``check_env``'s few
fixed-seed steps do not look: after twenty steps, in the second episode, in tilted states
reached by repeating one action, at the exact Box bounds, at the time limit.

Importable by name (``tests.properties.env_zoo_wrappers:NaNRewardAfterRun``) so reproducers
and ``rollcheck env --wrapper`` can use them.
"""

from __future__ import annotations

from dataclasses import dataclass

import gymnasium as gym
import numpy as np


class _Recorded(gym.utils.RecordConstructorArgs):
    """Makes a wrapper re-creatable from ``env.spec`` as Gymnasium's own are (``check_env`` needs it)."""

    def __init__(self, env):
        gym.utils.RecordConstructorArgs.__init__(self)
        super(gym.utils.RecordConstructorArgs, self).__init__(env)


class ObsDtypeFloat64(_Recorded, gym.ObservationWrapper):
    """spaces: returns float64 observations while observation_space says float32."""

    def observation(self, obs):
        return np.asarray(obs, dtype=np.float64)


class ObsOutOfBoundsLate(_Recorded, gym.Wrapper):
    """spaces: after 20 steps of an episode, the cart position leaves its declared bounds."""

    def reset(self, *, seed=None, options=None):
        self.t = 0
        return self.env.reset(seed=seed, options=options)

    def step(self, action):
        obs, r, te, tr, info = self.env.step(action)
        self.t += 1
        if self.t > 20:
            obs = obs.copy()
            obs[0] = np.float32(9.0)
        return obs, r, te, tr, info


class NaNRewardAfterRun(_Recorded, gym.Wrapper):
    """numerics.reward: the reward is NaN once the same action was taken 6 times in a row."""

    def reset(self, *, seed=None, options=None):
        self.last, self.run = None, 0
        return self.env.reset(seed=seed, options=options)

    def step(self, action):
        obs, r, te, tr, info = self.env.step(action)
        self.run = self.run + 1 if action == self.last else 1
        self.last = action
        return obs, (float("nan") if self.run >= 6 else r), te, tr, info


class IntDoneFlags(_Recorded, gym.Wrapper):
    """numerics.done_flags: terminated comes back as an int (0/1), not a boolean."""

    def step(self, action):
        obs, r, te, tr, info = self.env.step(action)
        return obs, r, int(te), tr, info


class InfoListSecondEpisode(_Recorded, gym.Wrapper):
    """numerics.info_dict: from the second episode on, step's info is a list."""

    def __init__(self, env):
        super().__init__(env)
        self.episodes = 0

    def reset(self, *, seed=None, options=None):
        self.episodes = self.episodes + 1 if seed is None else 1
        return self.env.reset(seed=seed, options=options)

    def step(self, action):
        obs, r, te, tr, info = self.env.step(action)
        return obs, r, te, tr, (list(info.items()) if self.episodes >= 2 else info)


class NaNVelocityWhenTilted(_Recorded, gym.ObservationWrapper):
    """numerics.observation_finite: the cart velocity becomes NaN when the pole tilts past 0.15 rad."""

    def observation(self, obs):
        if abs(float(obs[2])) > 0.15:
            obs = obs.copy()
            obs[1] = np.float32("nan")
        return obs


class RejectLastActionWhenTilted(_Recorded, gym.Wrapper):
    """actions.accepted: rejects the last discrete action once the pole leans right past 0.05 rad."""

    def reset(self, *, seed=None, options=None):
        obs, info = self.env.reset(seed=seed, options=options)
        self.obs = obs
        return obs, info

    def step(self, action):
        if action == self.action_space.n - 1 and float(self.obs[2]) > 0.05:
            raise ValueError(f"action {action} not allowed in this state")
        out = self.env.step(action)
        self.obs = out[0]
        return out


class RejectExactBoxBounds(_Recorded, gym.ActionWrapper):
    """actions.accepted: rejects Box actions exactly at the bounds (off-by-one interval)."""

    def action(self, action):
        a = np.asarray(action)
        if np.any(a <= self.action_space.low) or np.any(a >= self.action_space.high):
            raise ValueError(f"action {a} must be strictly inside the bounds")
        return action


class GlobalRNGNoise(_Recorded, gym.ObservationWrapper):
    """determinism.fresh_instances: adds noise from the *global* numpy RNG to each observation."""

    def observation(self, obs):
        return (obs + np.random.normal(0.0, 1e-3, size=obs.shape)).astype(obs.dtype)


class IgnoresSeed(_Recorded, gym.Wrapper):
    """determinism.seeds_differ: resets the inner env with a fixed seed, whatever the caller asks."""

    def reset(self, *, seed=None, options=None):
        return self.env.reset(seed=12345, options=options)


class LeakyEpisodeCounter(_Recorded, gym.Wrapper):
    """reset.purity: a per-instance episode counter survives reset(seed=...) and shifts the reward."""

    def __init__(self, env):
        super().__init__(env)
        self.episodes = 0

    def reset(self, *, seed=None, options=None):
        self.episodes += 1
        return self.env.reset(seed=seed, options=options)

    def step(self, action):
        obs, r, te, tr, info = self.env.step(action)
        return obs, float(r) + 0.01 * self.episodes, te, tr, info


class SharedObsBuffer(_Recorded, gym.ObservationWrapper):
    """aliasing.no_mutation: writes every observation into one buffer and returns that buffer."""

    def __init__(self, env):
        super().__init__(env)
        self.buffer = np.zeros(env.observation_space.shape, env.observation_space.dtype)

    def observation(self, obs):
        self.buffer[...] = obs
        return self.buffer


class ConstantObsView(_Recorded, gym.ObservationWrapper):
    """aliasing.no_shared_memory only: returns the same writable zero buffer every call. Its value
    never changes, so the value-level check holds; a user's in-place edit would corrupt every later
    observation (``np.shares_memory(obs_t, obs_t+1)``, which ``check_env`` flags)."""

    def __init__(self, env):
        super().__init__(env)
        self.buffer = np.zeros(env.observation_space.shape, env.observation_space.dtype)

    def observation(self, obs):
        return self.buffer


class SharedInfoDict(_Recorded, gym.Wrapper):
    """aliasing.no_mutation: returns the same info dict every step, updated in place."""

    def __init__(self, env):
        super().__init__(env)
        self.info = {"steps": 0}

    def step(self, action):
        obs, r, te, tr, _ = self.env.step(action)
        self.info["steps"] += 1
        return obs, r, te, tr, self.info


class TimeoutAsTermination(_Recorded, gym.Wrapper):
    """episode.truncated_at_limit: reports a time-limit cut as a termination."""

    def step(self, action):
        obs, r, te, tr, info = self.env.step(action)
        return obs, r, bool(te or tr), False, info


class FrameSkipPastDone(_Recorded, gym.Wrapper):
    """episode.never_past_done: steps the inner env twice per call, even after it is done."""

    def step(self, action):
        obs, r, te, tr, info = self.env.step(action)
        obs2, r2, te2, tr2, info2 = self.env.step(action)
        return obs2, float(r) + float(r2), bool(te or te2), bool(tr or tr2), info2


class ScaleObsKeepSpace(_Recorded, gym.ObservationWrapper):
    """wrapper.layer_contract: scales observations by 100 but keeps the inner observation_space."""

    def observation(self, obs):
        return (obs * 100).astype(obs.dtype)


class ClipToSpace(_Recorded, gym.ObservationWrapper):
    """A correct wrapper: clips observations into its own (declared) observation_space."""

    def observation(self, obs):
        return np.clip(obs, self.observation_space.low, self.observation_space.high).astype(self.observation_space.dtype)


class InvertedBounds(_Recorded, gym.Wrapper):
    """spaces.well_formed: the observation space's bounds were mutated so that low > high."""

    def __init__(self, env):
        super().__init__(env)
        space = gym.spaces.Box(env.observation_space.low, env.observation_space.high, dtype=env.observation_space.dtype)
        space.low[0] = space.high[0] + 1
        self.observation_space = space


class StickyDoneVector(gym.vector.VectorWrapper):
    """vector.autoreset_next_step: reports the autoreset step as still terminated."""

    def reset(self, **kw):
        self.prev = np.zeros(self.num_envs, dtype=bool)
        return self.env.reset(**kw)

    def step(self, actions):
        obs, r, te, tr, info = self.env.step(actions)
        te, self.prev = te | self.prev, te.copy()
        return obs, r, te, tr, info


@dataclass(frozen=True)
class Planted:
    """One planted bug: the stack, the property that must catch it, the others it may break."""

    name: str
    env: str
    wrappers: tuple
    catches: str
    also: tuple = ()
    max_steps: "int | None" = None  # when the bug needs long episodes (e.g. to reach the time limit)


_M = __name__


def _w(*names: str) -> tuple:
    return tuple(f"{_M}:{n}" for n in names)


PLANTED = (
    Planted("obs dtype float64", "CartPole-v1", _w("ObsDtypeFloat64"), "spaces.observation_in_space",
            ("wrapper.layer_contract",)),
    Planted("obs out of bounds after 20 steps", "CartPole-v1", _w("ObsOutOfBoundsLate"), "spaces.observation_in_space",
            ("wrapper.layer_contract",)),
    Planted("space with low > high", "CartPole-v1", _w("InvertedBounds"), "spaces.well_formed",
            ("spaces.observation_in_space", "wrapper.layer_contract")),
    Planted("NaN reward after a run of one action", "CartPole-v1", _w("NaNRewardAfterRun"), "numerics.reward"),
    Planted("int terminated flag", "CartPole-v1", _w("IntDoneFlags"), "numerics.done_flags",
            ("wrapper.layer_contract", "determinism.fresh_instances", "determinism.reseeded_instance", "reset.purity")),
    Planted("info a list from episode 2", "CartPole-v1", _w("InfoListSecondEpisode"), "numerics.info_dict"),
    Planted("NaN observation when tilted", "CartPole-v1", _w("NaNVelocityWhenTilted"), "numerics.observation_finite",
            ("spaces.observation_in_space", "wrapper.layer_contract")),
    Planted("last action rejected when tilted", "CartPole-v1", _w("RejectLastActionWhenTilted"), "actions.accepted"),
    Planted("Box bounds rejected", "Pendulum-v1", _w("RejectExactBoxBounds"), "actions.accepted",
            ("determinism.seeds_differ",)),
    Planted("global-RNG noise", "CartPole-v1", _w("GlobalRNGNoise"), "determinism.fresh_instances",
            ("determinism.reseeded_instance", "reset.purity")),
    Planted("seed ignored", "CartPole-v1", _w("IgnoresSeed"), "determinism.seeds_differ"),
    Planted("episode counter survives reset(seed)", "CartPole-v1", _w("LeakyEpisodeCounter"), "reset.purity",
            ("determinism.reseeded_instance",)),
    Planted("shared observation buffer", "CartPole-v1", _w("SharedObsBuffer"), "aliasing.no_mutation",
            ("aliasing.no_shared_memory",)),
    Planted("constant observation view", "CartPole-v1", _w("ConstantObsView"), "aliasing.no_shared_memory"),
    Planted("shared info dict", "CartPole-v1", _w("SharedInfoDict"), "aliasing.no_mutation"),
    Planted("time-limit cut reported as termination", "MountainCar-v0", _w("TimeoutAsTermination"),
            "episode.truncated_at_limit", max_steps=450),
    Planted("frame skip steps past done", "CartPole-v1", _w("FrameSkipPastDone"), "episode.never_past_done"),
    Planted("inner layer leaves its space, outer clips", "CartPole-v1", _w("ScaleObsKeepSpace", "ClipToSpace"),
            "wrapper.layer_contract"),
    Planted("NaN reward for a Dict action", f"{_M}:DictActionEnv", (), "numerics.reward"),
    Planted("Tuple action rejected", f"{_M}:TupleActionEnv", (), "actions.accepted"),
)


# ---------------------------------------------------------------------------------------------
# Clean envs that trapped the old instrumentation (false alarms); every property must hold.
# ---------------------------------------------------------------------------------------------

class SelfSteppingEnv(gym.Env):
    """Like LunarLander/BipedalWalker/CarRacing: ``reset`` calls ``self.step`` with an internal
    action outside the declared action space (an int64 ``[0, 0]`` for a float32 Box), and the
    state before the first reset is unusable (``assert self.body is not None``)."""

    metadata = {"render_modes": []}

    def __init__(self):
        self.observation_space = gym.spaces.Box(-10.0, 10.0, (2,), np.float32)
        self.action_space = gym.spaces.Box(-1.0, 1.0, (2,), np.float32)
        self.body = None
        self.t = 0

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.body = self.np_random.uniform(-1, 1, 2).astype(np.float32)
        self.t = 0
        obs, *_ = self.step(np.array([0, 0]))  # internal call, as Box2D envs do
        self.t = 0
        return obs, {}

    def step(self, action):
        assert self.body is not None, "reset() first"
        self.body = np.clip(self.body + 0.1 * np.asarray(action, np.float32), -10, 10).astype(np.float32)
        self.t += 1
        return self.body.copy(), float(-np.abs(self.body).sum()), bool(self.t >= 15), False, {}

    def __deepcopy__(self, memo):  # EzPickle-style: a copy is a fresh, never-reset instance
        return SelfSteppingEnv()


def make_self_stepping():
    from gymnasium.wrappers import OrderEnforcing, PassiveEnvChecker, TimeLimit
    return TimeLimit(OrderEnforcing(PassiveEnvChecker(SelfSteppingEnv())), max_episode_steps=40)


class ProcessNoiseEnv(gym.Env):
    """Two fresh instances diverge (noise from the OS), so a probe replay cannot be faithful: the
    probe must be skipped and said so, never asserted."""

    def __init__(self):
        self.observation_space = gym.spaces.Box(0, 2**31, (1,), np.int64)
        self.action_space = gym.spaces.Discrete(2)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.t = 0
        return np.array([int.from_bytes(__import__("os").urandom(3), "little")], np.int64), {}

    def step(self, action):
        self.t += 1
        return np.array([int.from_bytes(__import__("os").urandom(3), "little")], np.int64), 0.0, False, self.t >= 20, {}


class DictActionEnv(gym.Env):
    """numerics.reward with a Dict action space: NaN reward once ``force[0]`` sits at its bound."""

    def __init__(self):
        self.observation_space = gym.spaces.Box(-1.0, 1.0, (2,), np.float32)
        self.action_space = gym.spaces.Dict({"move": gym.spaces.Discrete(3),
                                             "force": gym.spaces.Box(-1.0, 1.0, (2,), np.float32)})

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.t = 0
        return np.zeros(2, np.float32), {}

    def step(self, action):
        self.t += 1
        bad = float(action["force"][0]) >= 1.0
        return np.zeros(2, np.float32), float("nan") if bad else 0.0, False, self.t >= 30, {}


class TupleActionEnv(gym.Env):
    """actions.accepted with a Tuple action space: step raises for ``(1, x)`` with x at the high bound."""

    def __init__(self):
        self.observation_space = gym.spaces.Box(-1.0, 1.0, (1,), np.float32)
        self.action_space = gym.spaces.Tuple((gym.spaces.Discrete(2), gym.spaces.Box(-2.0, 2.0, (1,), np.float32)))

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.t = 0
        return np.zeros(1, np.float32), {}

    def step(self, action):
        self.t += 1
        if int(action[0]) == 1 and float(action[1][0]) >= 2.0:
            raise ValueError("action (1, high) not handled")
        return np.zeros(1, np.float32), 0.0, False, self.t >= 30, {}
