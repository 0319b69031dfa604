"""Spin-then-block waiting on a pipe: the low-latency read used by both ends of the bridge.

No TorchLean counterpart (TorchLean's client and ``scripts/rl/gymnasium_server.py`` block in
``readLine``); this is plumbing under :mod:`rollcheck.impl.bridge_client` and
:mod:`rollcheck.impl.bridge_server` that leaves the wire protocol untouched.

Why: in a strict request/response protocol each round trip costs two process wake-ups (the
reader sleeps in the kernel until the peer writes). Spinning briefly on ``poll(fd, 0)`` before
sleeping lets a message that arrives within the spin budget be picked up without a wake-up.
What that buys depends on where the scheduler puts the two processes (measured on the 2-CPU
project VM, ``benchmarks/bench_bridge.py``): pipe wake-ups are "sync" wake-ups, which usually
place client and server on the *same* CPU, where they simply alternate and spinning cannot help
(it can only delay the peer — hence the adaptivity below); when they run on *different* CPUs
(typical of a quiet machine), each blocking read pays the wake-up of an idle virtual CPU
(~100 µs in this VM); spinning keeps both awake and the CartPole bridge runs at 35–46k steps/s
instead of 7–10k for blocking reads in that placement (about 4–5x). The default budget, 300 µs,
covers the ~40 µs a PPO collector spends in its policy between two requests (100 µs gave the
collector 2.1x the naive bridge, 300 µs 3.5x; ``benchmarks/bench_bridge.py``).

Invariants enforced:

- **bounded spinning**: :func:`wait_readable` spins at most ``spin_us`` microseconds, then blocks
  in ``poll`` with the *remaining* deadline, so an idle peer costs no CPU after the budget and a
  silent peer still times out at the deadline (never later than a blocking ``poll`` would);
- **no shared state is changed**: the file descriptor stays in blocking mode (``O_NONBLOCK``
  would be shared with any process that inherited the same pipe or terminal); readiness is
  tested with ``poll(…, 0)``;
- ``spin_us = 0`` disables spinning (pure blocking ``poll``);
- **adaptive** (:class:`AdaptiveSpin`): spinning only helps when both processes have a CPU to
  themselves. On a loaded machine a spinning process competes with its own peer and the other
  tasks, and measured throughput *drops* (several-fold with both ends spinning 200 µs
  unconditionally). So a wait that had to block, or that lost the CPU mid-spin, halves the budget
  (down to none), a wait answered while spinning restores it, and with spinning off one wait in
  :data:`_REPROBE_EVERY` (then fewer) probes again. Measured cost where spinning cannot help
  (both processes on one CPU): about 5% against ``spin_us=0``.

The spin budget is a parameter of :meth:`GymnasiumClient.spawn` and of the server
(``--spin-us``, or the environment variable :data:`SPIN_ENV_VAR` the client sets when it spawns a
server). Measured effect: ``benchmarks/bench_bridge.py`` prints the bridge with and without it.
POSIX only (``select.poll``).
"""

from __future__ import annotations

import os
import select
import time
from typing import Any, Mapping

from rollcheck.spec.errors import ArgumentError

__all__ = ["AdaptiveSpin", "DEFAULT_SPIN_US", "MAX_SPIN_US", "POLL_READ", "SPIN_ENV_VAR", "spin_us_from_env",
           "validate_spin_us", "wait_readable"]

#: Default spin budget in microseconds (bounded, and adaptive: see ``AdaptiveSpin``).
DEFAULT_SPIN_US = 300
#: Largest accepted spin budget (10 ms): spinning longer than a scheduler tick only burns CPU.
MAX_SPIN_US = 10_000
#: Environment variable through which a spawning client tells our server its spin budget.
SPIN_ENV_VAR = "ROLLCHECK_BRIDGE_SPIN_US"
#: Events that end a wait: data, or the peer hanging up / an error (the read then reports it).
POLL_READ = select.POLLIN | select.POLLPRI | select.POLLHUP | select.POLLERR


def validate_spin_us(spin_us: Any, field: str = "spin_us") -> int:
    """``spin_us`` as an int in ``[0, MAX_SPIN_US]``, or :class:`ArgumentError` naming the field."""
    if isinstance(spin_us, bool) or not isinstance(spin_us, int) or not 0 <= spin_us <= MAX_SPIN_US:
        raise ArgumentError(f"{field}={spin_us!r} should be an integer number of microseconds in "
                              f"[0, {MAX_SPIN_US}] (0 disables spinning)")
    return spin_us


def spin_us_from_env(environ: "Mapping[str, str] | None" = None) -> int:
    """The spin budget from :data:`SPIN_ENV_VAR` (``DEFAULT_SPIN_US`` when unset)."""
    environ = os.environ if environ is None else environ
    text = environ.get(SPIN_ENV_VAR)
    if text is None or text == "":
        return DEFAULT_SPIN_US
    try:
        value = int(text)
    except ValueError:
        raise ArgumentError(f"{SPIN_ENV_VAR}={text!r} should be an integer number of "
                              f"microseconds") from None
    return validate_spin_us(value, SPIN_ENV_VAR)


def wait_readable(poller: "select.poll", spin_s: float, deadline: "float | None") -> bool:
    """Wait until ``poller``'s one registered fd is readable (or hung up); ``False`` at the deadline.

    Spins on ``poll(0)`` for up to ``spin_s`` seconds, then blocks in ``poll`` until ``deadline``
    (a ``time.monotonic()`` value; ``None`` waits forever). Returns ``True`` as soon as the fd is
    readable, ``False`` only once ``time.monotonic() >= deadline``.
    """
    poll = poller.poll
    if poll(0) or (spin_s > 0.0 and _spin(poll, spin_s)):
        return True
    return _block(poll, deadline)


def _spin(poll: Any, spin_s: float) -> bool:
    """Busy-poll up to ``spin_s`` s; ``False`` if nothing came or this process was descheduled."""
    clock = time.perf_counter
    last = clock()
    spin_end = last + spin_s
    while last < spin_end:
        if poll(0):
            return True
        now = clock()
        if now - last > _PREEMPTED_S:  # we lost the CPU mid-spin: spinning is not paying off
            return False
        last = now
    return False


def _block(poll: Any, deadline: "float | None") -> bool:
    if deadline is None:
        while not poll():
            pass
        return True
    monotonic = time.monotonic
    while True:
        remaining = deadline - monotonic()
        if remaining <= 0.0:
            return bool(poll(0))
        if poll(remaining * 1000.0 + 1.0):
            return True


#: A gap this long between two spin iterations means the scheduler took the CPU away.
_PREEMPTED_S = 10e-6
#: With spinning switched off, one wait in this many spins again (the load may have gone); the
#: interval doubles after each failed probe, up to :data:`_REPROBE_MAX`, and resets on a success.
_REPROBE_EVERY = 64
_REPROBE_MAX = 4096


class AdaptiveSpin:
    """Spin-then-block waits on one fd whose spin budget adapts to whether spinning pays off.

    A wait whose message arrives *while spinning* restores the full ``spin_us`` budget (a message
    already there when the wait starts proves nothing and changes nothing); a wait that had to
    block (the message came later, or the process lost the CPU mid-spin for more than
    :data:`_PREEMPTED_S` — a loaded machine, or the peer on the same CPU, where spinning only
    steals the CPU the peer needs) halves it, down to no spinning; with spinning off, a wait now and then (every
    :data:`_REPROBE_EVERY`-th, backing off exponentially while probes fail) tries the full budget
    again. Deadlines are those of :func:`wait_readable`: spinning never delays a timeout.
    """

    __slots__ = ("_poll", "_full_s", "_budget_s", "_idle_waits", "_reprobe")

    def __init__(self, poller: "select.poll", spin_us: int) -> None:
        self._poll = poller.poll
        self._full_s = validate_spin_us(spin_us) * 1e-6
        self._budget_s = self._full_s
        self._idle_waits = 0
        self._reprobe = _REPROBE_EVERY

    @property
    def budget_us(self) -> float:
        """The current spin budget in microseconds (0 while spinning is switched off)."""
        return self._budget_s * 1e6

    def wait(self, deadline: "float | None") -> bool:
        """Like :func:`wait_readable` with the current budget; ``False`` only at the deadline."""
        if self._should_spin() and self._try_spin():
            return True
        return _block(self._poll, deadline)

    def spin_before_read(self) -> None:
        """Spin (adaptively) if spinning is on, else return at once: the caller's blocking read waits.

        For a reader without a deadline (the server): with spinning off this costs no system call.
        """
        if self._should_spin():
            self._try_spin()

    def _should_spin(self) -> bool:
        if self._budget_s > 0.0:
            return True
        if self._full_s > 0.0:
            self._idle_waits += 1
            if self._idle_waits >= self._reprobe:  # probe: the load may have gone
                self._idle_waits = 0
                self._budget_s = self._full_s
                return True
        return False

    def _try_spin(self) -> bool:
        poll = self._poll
        if poll(0):  # already there: says nothing about whether spinning pays off
            return True
        if _spin(poll, self._budget_s):
            self._budget_s = self._full_s
            self._reprobe = _REPROBE_EVERY
            return True
        budget = self._budget_s * 0.5
        if budget < 2e-6:  # switched off until the next probe, which comes later each time
            budget = 0.0
            self._reprobe = min(2 * self._reprobe, _REPROBE_MAX)
        self._budget_s = budget
        return False
