"""``--replay`` runs the env in a supervised worker: an env that hangs, crashes, exits or raises a
``BaseException`` cannot wedge or end the harness; the replay stays bounded by its time budget, the
divergences found before the env broke are still reported, and the break itself is named by
episode and step. Both ways: the same recording replays clean with a well-behaved env."""

from __future__ import annotations

import os
import signal
import time

import gymnasium as gym
import numpy as np
import pytest

from rollcheck.impl.supervisor import supported
from recorded_zoo import record
from rollcheck.properties.rollout.recorded import validate_rollout_file

pytestmark = pytest.mark.skipif(not supported(), reason="--replay runs the env in a forked worker (os.fork, "
                                "os.setpgid); this platform has neither, so there is no supervised replay to test")


class Breaks(gym.Wrapper):
    """CartPole that breaks on its ``at``-th step call: hangs, segfaults, exits, or raises SystemExit."""

    def __init__(self, how: str, at: int, max_steps: int = 15):
        super().__init__(gym.make("CartPole-v1", max_episode_steps=max_steps))
        self.how, self.at, self.calls = how, at, 0

    def step(self, action):
        self.calls += 1
        if self.calls == self.at:
            if self.how == "hang":
                time.sleep(600)
            elif self.how == "segfault":
                os.kill(os.getpid(), signal.SIGSEGV)
            elif self.how == "exit":
                os._exit(3)
            elif self.how == "systemexit":
                raise SystemExit(0)
        return self.env.step(action)


@pytest.fixture(scope="module")
def recording(tmp_path_factory):
    cols = record(max_steps=15)
    folder = tmp_path_factory.mktemp("replay")
    np.savez(folder / "r.npz", **cols)
    cols["rewards"] = cols["rewards"].copy()
    cols["rewards"][2] = 0.5  # episode 0 stops reproducing at step 2 (its reward)
    np.savez(folder / "tampered.npz", **cols)
    ends = np.flatnonzero(cols["terminated"] | cols["truncated"])
    return folder / "r.npz", folder / "tampered.npz", ends


def test_a_well_behaved_env_replays_clean_in_the_worker(recording):
    path, tampered, _ = recording
    report = validate_rollout_file(path, [4], 2, replay=lambda: Breaks("none", 0), seed=0)
    assert report.exit_code == 0, report.to_markdown()
    assert report.meta["replay_episodes_reproduced"] == 3 and "replay_stopped" not in report.meta
    report = validate_rollout_file(tampered, [4], 2, replay=lambda: Breaks("none", 0), seed=0)
    (f,) = report.result("recorded.replay_reproduces").findings
    assert (f.step, f.context["episode"], f.context["step_in_episode"]) == (2, 0, 2) and "reward: env" in f.message
    assert report.meta["replay_episodes_reproduced"] == 2 and report.meta["bad_transitions"] == 1


@pytest.mark.parametrize("how, kind", [("hang", "hung"), ("segfault", "crashed"), ("exit", "exited"),
                                       ("systemexit", "raised")])
def test_an_env_that_breaks_is_named_by_episode_and_step_and_earlier_findings_survive(recording, how, kind):
    _, tampered, ends = recording
    calls = 3 + int(ends[1] - ends[0]) + 2  # episode 0: 3 steps (diverges at 2), episode 1 whole, episode 2: 2nd step
    t0 = time.monotonic()
    report = validate_rollout_file(tampered, [4], 2, replay=lambda: Breaks(how, calls), seed=0, time_budget=1.5)
    assert time.monotonic() - t0 < 10  # bounded: the budget (one call may take it all) plus the supervisor's grace
    assert report.exit_code == 1 and report.error is None
    stopped = report.meta["replay_stopped"]
    assert stopped["outcome"] == kind and stopped["describe"]
    first, last = report.result("recorded.replay_reproduces").findings
    assert (first.context["episode"], first.context["step_in_episode"]) == (0, 2)  # found before the env broke
    assert "the replay stopped here" in last.message
    assert (last.context["episode"], last.context["step_in_episode"]) == (2, 1)
    assert last.step == int(ends[1]) + 2 and tuple(stopped["at"]) == (int(ends[1]) + 2, 2, 1)
    assert report.meta["replay_episodes_checked"] == 3 and report.meta["replay_episodes_reproduced"] == 1
    # the rest of the report is intact: every other property still held
    assert [r.id for r in report.failed] == ["recorded.replay_reproduces"]


def test_the_time_budget_bounds_a_slow_env(recording):
    path, _, _ = recording

    class Slow(Breaks):
        def step(self, action):
            time.sleep(0.05)
            return self.env.step(action)

    t0 = time.monotonic()
    report = validate_rollout_file(path, [4], 2, replay=lambda: Slow("none", 0), seed=0, time_budget=0.3)
    assert time.monotonic() - t0 < 5
    assert report.meta["replay_out_of_time"] is True
    assert report.meta["replay_episodes_reproduced"] < 3
