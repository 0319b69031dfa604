"""Record what a Gymnasium vector environment really did, step by step (the ground truth for buffers).

Mirrors the observation side of TorchLean's ``Gymnasium.Session`` (``reset``/``step`` returning
``(obs, reward, terminated, truncated)``) for ``N`` sub-environments: :class:`RecordingVecEnv`
wraps a ``gymnasium.vector.VectorEnv`` and keeps, for every ``step``, copies of

- ``obs (N, *obs)``: the observation presented before the step (what a policy should have seen);
- ``actions (N,)``, ``rewards (N,)``, ``terminated (N,)``, ``truncated (N,)``: what the env got and said;
- ``next_obs (N, *obs)``: the *true* next observation, before any auto-reset: with
  ``AutoresetMode.SAME_STEP`` the env returns the reset observation and this is ``info["final_obs"]``
  (taken by :func:`rollcheck.impl.vector_autoreset.true_next_observations`, the vector collector's
  own helper); with ``NEXT_STEP`` (Gymnasium's default) the env returns the final observation itself;
- ``autoreset_step (N,)``: with ``NEXT_STEP``, the step after a done only resets that sub-env (the
  action is ignored, reward 0): such steps are marked so checks can tell them from transitions.

:meth:`RecordingVecEnv.trace` stacks the steps into a frozen :class:`VecTrace` with ``(T, N, ...)``
arrays, the ``trace=`` argument of :func:`rollcheck.properties.rollout.arrays.validate_arrays`.
Copies are taken at once, so an env that reuses its buffers cannot rewrite history.

:class:`SubEnvRecorder` records the same thing for *any* vector env — ``gymnasium.vector``,
Stable-Baselines3's ``VecEnv`` (``DummyVecEnv``/``SubprocVecEnv``), TorchRL's
``SerialEnv``/``ParallelEnv`` (around ``GymWrapper``), Tianshou's vector envs — by wrapping each
*sub-environment* instead of the vector env: ``recorder.wrap(make_env, i)`` is a (picklable)
factory whose env logs every ``reset`` and ``step`` it sees. The log is the env's own 5-tuple
(``terminated`` and ``truncated`` as the env said them, the true next observation before any
auto-reset), read below the library, so it is ground truth that no library info dict can bend.
Each sub-env instance appends to its own file in the recorder's temporary directory, so sub-envs
living in worker processes (``SubprocVecEnv``, ``ParallelEnv``, ``AsyncVectorEnv``) are recorded
too; :meth:`SubEnvRecorder.take` assembles the steps not yet taken into a :class:`VecTrace`.
"""

from __future__ import annotations

import itertools
import os
import shutil
import tempfile
import weakref
from dataclasses import dataclass
from functools import partial
from typing import Any, Callable

import numpy as np

from rollcheck.impl.vector_autoreset import true_next_observations
from rollcheck.impl.vector_rollout import TimeByEnvArrays
from rollcheck.spec.arguments import check_count, check_index, check_int
from rollcheck.spec.errors import ArgumentError

__all__ = ["AUTORESET_MODES", "RecordingVecEnv", "SubEnvRecorder", "VecTrace"]


@dataclass(frozen=True, eq=False)
class VecTrace(TimeByEnvArrays):
    """The env's own record of ``T`` steps of ``N`` sub-environments (read-only arrays);
    ``horizon`` is ``T`` and ``num_envs`` is ``N``."""

    obs: np.ndarray
    actions: np.ndarray
    rewards: np.ndarray
    terminated: np.ndarray
    truncated: np.ndarray
    next_obs: np.ndarray
    autoreset_step: np.ndarray

    def __post_init__(self) -> None:
        shape = np.shape(self.actions)[:2]
        if len(shape) != 2:
            raise ArgumentError(f"VecTrace.actions has shape {list(np.shape(self.actions))}; expected (T, N) "
                                "(or (T, N, *box_shape) for continuous actions)")
        for name in ("obs", "actions", "rewards", "terminated", "truncated", "next_obs", "autoreset_step"):
            arr = np.array(getattr(self, name), copy=True)
            if arr.shape[:2] != shape:
                raise ArgumentError(f"VecTrace.{name} has shape {list(arr.shape)}; "
                                      f"expected (T, N)={list(shape)} first")
            if name in ("terminated", "truncated", "autoreset_step"):
                arr = arr.astype(bool)
            arr.setflags(write=False)
            object.__setattr__(self, name, arr)
        if self.obs.shape != self.next_obs.shape:
            raise ArgumentError(f"VecTrace.next_obs has shape {list(self.next_obs.shape)} "
                                  f"but obs has {list(self.obs.shape)}")


def _vector_wrapper_base() -> type:
    import gymnasium

    return gymnasium.vector.VectorWrapper


class RecordingVecEnv(_vector_wrapper_base()):  # type: ignore[misc]
    """A ``gymnasium.vector.VectorWrapper`` that records every step (see the module docstring)."""

    def __init__(self, env: Any) -> None:
        super().__init__(env)
        mode = getattr(env, "metadata", {}).get("autoreset_mode")
        self._same_step = getattr(mode, "name", str(mode)) == "SAME_STEP"
        self._last_obs: "np.ndarray | None" = None
        self._prev_done = np.zeros(self.num_envs, bool)
        self._steps: list[tuple[np.ndarray, ...]] = []

    def reset(self, *, seed: Any = None, options: Any = None):
        obs, info = self.env.reset(seed=seed, options=options)
        self._last_obs = np.array(obs, copy=True)
        self._prev_done = np.zeros(self.num_envs, bool)
        return obs, info

    def step(self, actions: Any):
        if self._last_obs is None:
            raise ArgumentError("RecordingVecEnv.step called before reset")
        obs, rewards, terminated, truncated, info = self.env.step(actions)
        if self._same_step and "final_obs" in info:
            ended = info.get("_final_obs", np.zeros(self.num_envs, bool))
            true_next = true_next_observations(obs, info, ended)[0]   # a copy, final_obs in the ended rows
        else:
            true_next = np.array(obs, copy=True)
        reset_step = np.zeros(self.num_envs, bool) if self._same_step else self._prev_done.copy()
        self._steps.append((self._last_obs, np.array(actions, copy=True), np.array(rewards, copy=True),
                            np.array(terminated, bool), np.array(truncated, bool), true_next, reset_step))
        self._last_obs = np.array(obs, copy=True)
        self._prev_done = np.asarray(terminated, bool) | np.asarray(truncated, bool)
        return obs, rewards, terminated, truncated, info

    def clear(self) -> None:
        """Forget the steps recorded so far (keeps the current observation)."""
        self._steps = []

    def trace(self, start: int = 0, stop: "int | None" = None) -> VecTrace:
        """Steps ``start:stop`` recorded since the last :meth:`clear` as a :class:`VecTrace`."""
        steps = self._steps[start:stop]
        if not steps:
            raise ArgumentError(f"no recorded steps in [{start}:{stop}] (recorded: {len(self._steps)})")
        cols = [np.stack(c) for c in zip(*steps)]
        return VecTrace(*cols)


#: How the vector env resets a sub-env after a done: ``same_step`` (SB3, TorchRL, Tianshou,
#: gymnasium's ``AutoresetMode.SAME_STEP``: the step that ends an episode also resets, one
#: transition per vector step) or ``next_step`` (gymnasium's default: the next vector step only
#: resets that sub-env; it is recorded as an ``autoreset_step`` row with action ``-1``, reward 0).
AUTORESET_MODES = ("same_step", "next_step")

_RESET, _STEP = 0, 1
_instances = itertools.count()


def _recording_wrapper_base() -> type:
    import gymnasium

    return gymnasium.Wrapper


class _RecordingEnv(_recording_wrapper_base()):  # type: ignore[misc]
    """A sub-env that appends each ``reset``/``step`` it sees to its own log file (npy records)."""

    def __init__(self, env: Any, path: str) -> None:
        super().__init__(env)
        self._log = open(path, "ab")

    def _write(self, *arrays: Any) -> None:
        for a in arrays:
            np.save(self._log, np.array(a, copy=True), allow_pickle=False)
        self._log.flush()  # readable by the recorder at once, wherever this sub-env lives

    def reset(self, **kwargs: Any):
        obs, info = self.env.reset(**kwargs)
        self._write(_RESET, obs)
        return obs, info

    def step(self, action: Any):
        obs, reward, terminated, truncated, info = self.env.step(action)
        self._write(_STEP, action, obs, np.array([float(reward), bool(terminated), bool(truncated)]))
        return obs, reward, terminated, truncated, info

    def close(self) -> None:
        try:
            super().close()
        finally:
            self._log.close()


def _make_recorded(make_env: Callable[[], Any], directory: str, index: int) -> Any:
    """Module-level (so picklable for worker processes): ``make_env()`` wrapped to log to ``directory``."""
    env = make_env()
    path = os.path.join(directory, f"env{index}.{os.getpid()}.{next(_instances)}.npylog")
    return _RecordingEnv(env, path)


def _read_log(path: str) -> list[tuple]:
    """The events of one sub-env instance: ``(RESET, obs)`` or ``(STEP, action, obs, reward, te, tr)``.

    A record cut short (the sub-env is writing right now) ends the list.
    """
    events: list[tuple] = []
    with open(path, "rb") as f:
        while True:
            try:
                kind = int(np.load(f, allow_pickle=False))
                if kind == _RESET:
                    events.append((_RESET, np.load(f, allow_pickle=False)))
                else:
                    action, obs, rtt = (np.load(f, allow_pickle=False) for _ in range(3))
                    events.append((_STEP, action, obs, float(rtt[0]), bool(rtt[1]), bool(rtt[2])))
            except (EOFError, ValueError, OSError):  # end of file, or a record being written
                return events


class SubEnvRecorder:
    """Records what each sub-environment of any vector env really did (see the module docstring).

    ``recorder = SubEnvRecorder(num_envs)``; build the vector env from ``recorder.wrap(make_env, i)``
    for ``i in range(num_envs)`` (sub-env ``i`` of the vector env must be made by factory ``i``);
    after collecting, :meth:`take` returns the steps since the previous ``take`` as a ``(T, N)``
    :class:`VecTrace`. ``close()`` (or the context manager, or garbage collection) deletes the logs.
    If one index was instantiated more than once (a library building a throwaway env to read its
    specs), the instance that took the most steps is the sub-env.
    """

    def __init__(self, num_envs: int, autoreset: str = "same_step") -> None:
        num_envs = check_count("num_envs", num_envs)
        if autoreset not in AUTORESET_MODES:
            raise ArgumentError(f"autoreset={autoreset!r} should be one of {', '.join(AUTORESET_MODES)}")
        self.num_envs = int(num_envs)
        self.autoreset = autoreset
        self.directory = tempfile.mkdtemp(prefix="rollcheck-subenv-")
        self._taken = 0
        self._finalizer = weakref.finalize(self, shutil.rmtree, self.directory, True)

    def wrap(self, make_env: Callable[[], Any], index: int) -> Callable[[], Any]:
        """A picklable factory making ``make_env()`` as recorded sub-env ``index``."""
        if not callable(make_env):
            raise ArgumentError(f"make_env={make_env!r:.80} should be a callable returning a gymnasium env")
        index = check_index("index", index, self.num_envs)
        return partial(_make_recorded, make_env, self.directory, index)

    def wrap_all(self, make_env: Callable[[], Any]) -> list[Callable[[], Any]]:
        """``[wrap(make_env, i) for i in range(num_envs)]``."""
        return [self.wrap(make_env, i) for i in range(self.num_envs)]

    def steps_recorded(self) -> int:
        """Vector steps recorded so far in every sub-env (the fewest over sub-envs)."""
        return min(len(rows) for rows in self._columns())

    def take(self, steps: "int | None" = None) -> VecTrace:
        """The next ``steps`` vector steps not yet taken (all of them when ``None``) as a :class:`VecTrace`."""
        columns = self._columns()
        available = min(len(rows) for rows in columns) - self._taken
        if available <= 0:
            raise ArgumentError(f"no vector step recorded since the last take (steps per sub-env: "
                                f"{[len(r) for r in columns]}, taken: {self._taken})")
        if steps is None:
            steps = available
        try:
            steps = check_int("steps", steps, least=1, most=available)
        except ArgumentError as exc:
            raise ArgumentError(f"{exc} (steps recorded and not yet taken: {available}; per sub-env: "
                                f"{[len(r) - self._taken for r in columns]})") from None
        start, stop = self._taken, self._taken + steps
        self._taken = stop
        per_env = [rows[start:stop] for rows in columns]
        cols = [np.stack([np.stack([per_env[i][t][k] for i in range(self.num_envs)]) for t in range(stop - start)])
                for k in range(7)]
        return VecTrace(*cols)

    def _columns(self) -> list[list[tuple]]:
        names = os.listdir(self.directory) if os.path.isdir(self.directory) else []
        columns = []
        for i in range(self.num_envs):
            logs = [_read_log(os.path.join(self.directory, n)) for n in sorted(names)
                    if n.startswith(f"env{i}.")]
            if not logs:
                raise ArgumentError(f"sub-env {i} was never made through recorder.wrap(make_env, {i})")
            events = max(logs, key=lambda ev: sum(e[0] == _STEP for e in ev))
            columns.append(self._rows(events))
        return columns

    def _rows(self, events: list[tuple]) -> list[tuple]:
        """One ``(obs, action, reward, terminated, truncated, next_obs, autoreset_step)`` per vector step."""
        rows: list[tuple] = []
        obs = None
        done = False
        for event in events:
            if event[0] == _RESET:
                if self.autoreset == "next_step" and done and obs is not None:
                    rows.append((obs, np.array(-1), 0.0, False, False, event[1], True))
                obs, done = event[1], False
                continue
            _, action, next_obs, reward, terminated, truncated = event
            if obs is None:
                raise ArgumentError("a recorded sub-env was stepped before its first reset")
            rows.append((obs, action, reward, terminated, truncated, next_obs, False))
            obs, done = next_obs, terminated or truncated
        return rows

    def close(self) -> None:
        """Delete the logs (the recorded envs should be closed first). Idempotent."""
        self._finalizer()

    def __enter__(self) -> "SubEnvRecorder":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
