"""``rollcheck collector`` against collectors that raise, exit, crash or hang, and names per subject."""

from __future__ import annotations

import json

import pytest

from robust import counts_in_every_format, report_files, rollcheck, write_module

HOSTILE_COLLECTOR = '''
import ctypes, os, sys, time

MODE = os.environ["HOSTILE"]


class Unprintable:
    def __repr__(self):
        raise RuntimeError("no repr")


def collect(start, observe, step_checked, cast_obs, cast_reward, predict_logits, predict_value, rng_seed,
            rng_counter, *, horizon, n_actions, obs_shape):
    if MODE == "raises":
        raise ValueError("collector is broken")
    if MODE == "exit0":
        sys.exit(0)
    if MODE == "os_exit":
        os._exit(0)
    if MODE == "segfault":
        ctypes.string_at(0)
    if MODE == "hang":
        time.sleep(10_000)
    if MODE == "unprintable":
        return Unprintable()
    raise AssertionError(MODE)
'''


@pytest.mark.parametrize("mode, code, names", [
    ("raises", 1, "collector is broken"),         # collector.completes fails: a violation, found first
    ("exit0", 2, "raised SystemExit: 0"),
    ("os_exit", 2, "exited with status 0"),
    ("segfault", 2, "crashed (SIGSEGV)"),
    ("hang", 2, "did not return within 2 s"),
    ("unprintable", 2, "__repr__"),
])
def test_hostile_collector_never_holds_vacuously(tmp_path, mode, code, names):
    write_module(tmp_path, "hostile_collector", HOSTILE_COLLECTOR)
    run = rollcheck(tmp_path, "collector", "hostile_collector:collect", "--examples", "5", "--timeout", "2",
                    "--report-dir", "out", HOSTILE=mode)
    assert run.code == code, (run.out, run.err)
    counts = counts_in_every_format(tmp_path / "out")
    # nothing that needs a returned rollout may hold: at most the trace-only properties
    assert counts["held"] <= 2 and counts["error"] >= 17, counts
    data = counts["data"]
    text = json.dumps(data)
    assert names in text
    if mode == "raises":
        assert data["results"][0]["id"] == "collector.completes" and data["results"][0]["status"] == "failed"
        held = {r["id"] for r in data["results"] if r["status"] == "held"}
        assert "rollout.length_eq_horizon" not in held
    if mode == "hang":
        assert run.seconds < 2 + 8


def test_two_collectors_of_similar_names_never_share_a_report(tmp_path):
    for module in ("ppo", "ppo_ok"):
        write_module(tmp_path, module, HOSTILE_COLLECTOR)
    for module in ("ppo", "ppo_ok"):
        assert rollcheck(tmp_path, "collector", f"{module}:collect", "--examples", "3", "--report-dir", "out",
                         HOSTILE="raises").code == 1
    names = [p.name for p in report_files(tmp_path / "out")]
    assert len(names) == 6 and sum(n.startswith("collector-ppo_collect-") for n in names) == 3
    assert sum(n.startswith("collector-ppo_ok_collect-") for n in names) == 3


def test_missing_module_or_function_writes_nothing(tmp_path):
    write_module(tmp_path, "hostile_collector", HOSTILE_COLLECTOR)
    for target in ("no_such_module:collect", "hostile_collector:no_such_function", "no_colon"):
        run = rollcheck(tmp_path, "collector", target, "--report-dir", "out", HOSTILE="raises")
        assert run.code == 2 and run.err
    assert not (tmp_path / "out").exists()
