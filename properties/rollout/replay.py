"""Replaying a recorded rollout: does the dataset reproduce in its environment?

Not a TorchLean definition; it checks what TorchLean's ``Transition`` assumes of a recording:
that ``next_obs, reward, terminated, truncated`` are what the environment returned for ``obs``
and ``action``. :class:`Replayer` re-simulates each episode — ``reset(seed=...)`` at its first
step, then ``step`` with the recorded actions — and reports, per episode, the first step where
the recorded reset observation, next observation, reward or flags differ from the env's
(observations compared exactly, NaN equal to NaN). Seeds: Minari's per-episode seeds, or
``seed`` for the first episode and an unseeded ``reset()`` for the next ones (one env collecting
episode after episode, as a plain Gymnasium loop does). Bounded by ``time_budget`` seconds,
checked before every ``reset`` and ``step``: the episodes not reached are counted, never judged
(an episode the budget cuts short is checked but not reproduced).

The env is user code: :mod:`~rollcheck.properties.rollout.replay_worker` runs the replay in a
supervised worker process. ``position`` (an ``int64[5]`` array, typically in memory shared with
the supervisor) holds ``(transition, episode, step)`` of the call in flight and the episodes
checked and reproduced so far, so a hang or crash is named by episode and step; ``on_divergence`` hears each divergence as it is found.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

__all__ = ["Replayer"]


def _same(a: Any, b: Any) -> bool:
    a, b = np.asarray(a), np.asarray(b)
    if a.shape != b.shape:
        return False
    with np.errstate(invalid="ignore"):
        eq = a == b
        if a.dtype.kind == "f" or b.dtype.kind == "f":
            eq = eq | (np.isnan(a.astype(np.float64)) & np.isnan(b.astype(np.float64)))
    return bool(np.all(eq))


@dataclass
class Replayer:
    """Re-simulates episodes row by row (see the module docstring).

    ``make_env()`` builds the env once; ``seeds[k]`` is episode ``k``'s reset seed (``None``:
    unseeded); ``seed`` seeds the first episode when ``seeds`` is empty.
    """

    make_env: Callable[[], Any]
    seeds: tuple = ()
    seed: "int | None" = None
    time_budget: float = 60.0
    position: Any = None
    on_divergence: "Callable[[tuple[int, int, int, str]], None] | None" = None
    env: Any = None
    started: "float | None" = None
    episodes_checked: int = 0
    episodes_reproduced: int = 0
    out_of_time: bool = False
    _episode: Any = None
    _diverged: bool = False
    _ended: bool = True
    divergences: list = field(default_factory=list)

    def _reset(self, episode: int) -> Any:
        if self.env is None:
            self.env = self.make_env()
        if self.seeds:
            seed = self.seeds[episode] if episode < len(self.seeds) else None
        else:
            seed = self.seed if self.episodes_checked == 0 else None
        obs, _ = self.env.reset(seed=None if seed is None else int(seed))
        return obs

    def close(self) -> None:
        if self.env is not None:
            self.env.close()
            self.env = None

    def _at(self, index: int, episode: int, step: int) -> bool:
        """Record where the next env call is; ``False`` (and ``out_of_time``) once the budget is spent."""
        if self.position is not None:
            self.position[:] = (index, episode, step, self.episodes_checked, self.episodes_reproduced)
        if time.perf_counter() - self.started > self.time_budget:
            self.out_of_time = True
            return False
        return True

    def _found(self, found: list, item: tuple[int, int, int, str]) -> None:
        self._diverged = True
        found.append(item)
        self.divergences.append(item)
        if self.on_divergence is not None:
            self.on_divergence(item)

    def _finish(self) -> None:
        if self._episode is not None and not self._diverged:
            self.episodes_reproduced += 1

    def rows(self, index: np.ndarray, episode: np.ndarray, step: np.ndarray, obs: np.ndarray,
             next_obs: "np.ndarray | None", actions: np.ndarray, rewards: np.ndarray, terminated: np.ndarray,
             truncated: np.ndarray) -> list[tuple[int, int, int, str]]:
        """Replay these rows; ``(transition, episode, step, what differs)`` for each episode's first divergence."""
        if self.started is None:
            self.started = time.perf_counter()
        found = []
        for i in range(len(index)):
            ep, st = int(episode[i]), int(step[i])
            if ep != self._episode:
                if not self._at(int(index[i]), ep, st):
                    break
                self._finish()
                self._episode, self._diverged = ep, False
                if st != 0:  # the file starts mid-episode: nothing to reset to
                    self.episodes_checked += 1
                    self._diverged = True
                    continue
                try:
                    first = self._reset(ep)
                except Exception as exc:  # the env broke: this episode cannot reproduce
                    self.episodes_checked += 1
                    self._found(found, (int(index[i]), ep, st, f"env.reset raised {type(exc).__name__}: {exc}"))
                    continue
                self.episodes_checked += 1
                if not _same(first, obs[i]):
                    self._found(found, (int(index[i]), ep, st,
                                        f"reset observation differs: env {np.asarray(first).tolist()!r:.120} "
                                        f"vs recorded obs {np.asarray(obs[i]).tolist()!r:.120}"))
                    continue
            if self._diverged:
                continue
            if not self._at(int(index[i]), ep, st):
                self._diverged = True  # cut short by the budget: checked, not reproduced
                break
            action = actions[i]
            try:
                nxt, reward, term, trunc, _ = self.env.step(action.item() if np.ndim(action) == 0 else np.asarray(action))
            except Exception as exc:  # the env broke on a recorded action
                self._found(found, (int(index[i]), ep, st,
                                    f"env.step({action.tolist()!r}) raised {type(exc).__name__}: {exc}"))
                continue
            what = []
            if next_obs is not None and not _same(nxt, next_obs[i]):
                what.append(f"next_obs: env {np.asarray(nxt).tolist()!r:.120} vs recorded "
                            f"{np.asarray(next_obs[i]).tolist()!r:.120}")
            if not _same(float(reward), float(rewards[i])):
                what.append(f"reward: env {float(reward)!r} vs recorded {float(rewards[i])!r}")
            if bool(term) != bool(terminated[i]) or bool(trunc) != bool(truncated[i]):
                what.append(f"flags: env terminated={bool(term)}, truncated={bool(trunc)} vs recorded "
                            f"terminated={bool(terminated[i])}, truncated={bool(truncated[i])}")
            if what:
                self._found(found, (int(index[i]), ep, st, "; ".join(what)))
        return found

    def finish(self) -> None:
        self._finish()
        self._episode = None
        self.close()
