"""Spin-then-block waits: bounded spinning, deadlines kept, the budget adapting to what pays off."""

from __future__ import annotations

import os
import select
import threading
import time

import pytest

from rollcheck.impl import bridge_io
from rollcheck.impl.bridge_io import (DEFAULT_SPIN_US, MAX_SPIN_US, POLL_READ, SPIN_ENV_VAR, AdaptiveSpin,
                                      spin_us_from_env, validate_spin_us, wait_readable)
from rollcheck.spec import ArgumentError


@pytest.fixture
def pipe():
    r, w = os.pipe()
    poller = select.poll()
    poller.register(r, POLL_READ)
    yield r, w, poller
    for fd in (r, w):
        try:
            os.close(fd)
        except OSError:
            pass


@pytest.mark.parametrize("spin_us", [0, 200, MAX_SPIN_US])
def test_silent_peer_times_out_at_the_deadline_not_later(pipe, spin_us):
    _r, _w, poller = pipe
    for wait in (lambda d: wait_readable(poller, spin_us * 1e-6, d), AdaptiveSpin(poller, spin_us).wait):
        t0 = time.monotonic()
        assert wait(t0 + 0.15) is False
        elapsed = time.monotonic() - t0
        assert 0.15 <= elapsed < 0.15 + 0.25, elapsed


def test_spin_longer_than_the_timeout_still_returns_at_the_deadline(pipe):
    _r, _w, poller = pipe
    t0 = time.monotonic()
    assert wait_readable(poller, 5.0, t0 + 0.05) is False  # 5 s of spin budget, 50 ms deadline
    assert time.monotonic() - t0 < 5.0


def test_data_and_hang_up_end_the_wait(pipe):
    r, w, poller = pipe
    os.write(w, b"x\n")
    assert wait_readable(poller, 0.0, time.monotonic() + 1) and os.read(r, 10) == b"x\n"
    threading.Timer(0.05, os.write, (w, b"late\n")).start()
    assert AdaptiveSpin(poller, 100).wait(time.monotonic() + 5)  # arrives after the spin: blocks, then True
    assert os.read(r, 10) == b"late\n"
    os.close(w)
    assert wait_readable(poller, 1e-4, None)  # EOF counts as readable (the read then sees b"")
    assert os.read(r, 10) == b""


def test_budget_halves_when_spinning_fails_and_is_restored_when_it_pays_off(pipe, monkeypatch):
    r, w, poller = pipe
    spins = []
    real_spin = bridge_io._spin
    monkeypatch.setattr(bridge_io, "_spin", lambda poll, s: spins.append(s) or real_spin(poll, s))
    spin = AdaptiveSpin(poller, 64)
    assert spin.budget_us == pytest.approx(64)
    budgets = []
    for _ in range(6):  # nothing arrives: each wait spins in vain, then times out
        assert spin.wait(time.monotonic() + 0.001) is False
        budgets.append(spin.budget_us)
    assert budgets[:5] == pytest.approx([32, 16, 8, 4, 2]) and budgets[5] == 0 and len(spins) == 6
    for i in range(bridge_io._REPROBE_EVERY * 2 - 1):  # switched off (no spinning); the probe interval doubled
        spin.wait(time.monotonic() + 1e-4) if i % 2 else spin.spin_before_read()
    assert len(spins) == 6 and spin.budget_us == 0
    os.write(w, b"y")
    assert spin.wait(time.monotonic() + 1)  # the probe: spinning is on again, and it pays off
    assert spin.budget_us == pytest.approx(64)  # restored
    os.read(r, 10)
    spin.spin_before_read()  # nothing arrives: one failed spin halves the budget
    assert spin.budget_us == pytest.approx(32)


def test_only_a_message_caught_while_spinning_restores_the_budget(pipe, monkeypatch):
    r, w, poller = pipe
    outcomes = [False, True]  # scripted spins: one in vain, then one that catches the message
    monkeypatch.setattr(bridge_io, "_spin", lambda poll, s: outcomes.pop(0))
    spin = AdaptiveSpin(poller, 64)
    assert spin.wait(time.monotonic() + 0.001) is False and spin.budget_us == pytest.approx(32)
    os.write(w, b"z")
    assert spin.wait(time.monotonic() + 1)  # already there: no spin, and no evidence either way
    assert spin.budget_us == pytest.approx(32) and outcomes == [True]
    os.read(r, 10)
    assert spin.wait(time.monotonic() + 1) and spin.budget_us == pytest.approx(64) and outcomes == []


def test_losing_the_cpu_mid_spin_ends_the_spin_as_a_failure(pipe, monkeypatch):
    _r, _w, poller = pipe
    ticks = iter([0.0, 1e-6, 2e-6, 2e-6 + 2 * bridge_io._PREEMPTED_S] + [1.0] * 10)
    monkeypatch.setattr(bridge_io.time, "perf_counter", lambda: next(ticks))
    assert bridge_io._spin(poller.poll, 0.5) is False  # gave up at the gap, long before 0.5 s
    assert next(ticks) == 1.0


def test_zero_spin_never_spins(pipe, monkeypatch):
    _r, _w, poller = pipe
    monkeypatch.setattr(bridge_io, "_spin", lambda *a: pytest.fail("spun with spin_us=0"))
    assert AdaptiveSpin(poller, 0).wait(time.monotonic() + 0.01) is False
    assert wait_readable(poller, 0.0, time.monotonic() + 0.01) is False


@pytest.mark.parametrize("bad", [-1, MAX_SPIN_US + 1, 1.5, True, "100", None])
def test_bad_spin_budgets_are_named(bad):
    with pytest.raises(ArgumentError, match=f"spin_us={bad!r} should be an integer number of microseconds"):
        validate_spin_us(bad)


def test_spin_budget_from_the_environment():
    assert spin_us_from_env({}) == DEFAULT_SPIN_US
    assert spin_us_from_env({SPIN_ENV_VAR: ""}) == DEFAULT_SPIN_US
    assert spin_us_from_env({SPIN_ENV_VAR: "0"}) == 0
    assert spin_us_from_env({SPIN_ENV_VAR: "250"}) == 250
    with pytest.raises(ArgumentError, match=f"{SPIN_ENV_VAR}='fast' should be an integer"):
        spin_us_from_env({SPIN_ENV_VAR: "fast"})
    with pytest.raises(ArgumentError, match=f"{SPIN_ENV_VAR}=-5 should be"):
        spin_us_from_env({SPIN_ENV_VAR: "-5"})
