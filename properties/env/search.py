"""The one search loop behind ``rollcheck env``: single-env and vector fuzzers both run it.

Each *phase* is one :func:`hypothesis.find` call hunting for an example on which some property
that is not yet reported fails, then shrinking that one property's failure (``find``'s condition
is "fails the property this phase locked on"). The property is then silenced and the next phase
hunts for the others, so one early failure does not starve the rest. Only public Hypothesis is
used: ``find`` with an explicit :class:`hypothesis.settings` object, ``random=`` for a seeded
search and ``database_key=`` so a shared example database (``--database``) replays a failure found
anywhere (Hypothesis uses no database for a seeded search, so with a database the generation is
Hypothesis's own and the saved failures are replayed first).

Time is rollcheck's own budget, a :class:`Deadline` (never Hypothesis internals): once the search's
deadline passes, or a phase's shrink allowance is spent, the condition ends the ``find`` call at
once (a ``BaseException``, which Hypothesis passes through as it does ``KeyboardInterrupt``) and
the smallest failure recorded so far stands. Whether the budget cut the
search short is recorded in :class:`SearchOutcome`.

While a search runs, Python's cyclic garbage collector runs less often (its thresholds raised to
at least :data:`GC_THRESHOLDS`: each example allocates many short-lived objects, and collecting
them every 700 allocations cost about a tenth of a CartPole run); the caller's thresholds are
restored when the search returns or raises.

Not a TorchLean definition; the invariant enforced: every failure returned was observed by running
the subject (never inferred), and the loop ends by the deadline (an example is not started when the average example would end past it).
"""

from __future__ import annotations

import gc
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from random import Random
from typing import Any, Callable, Iterator

from hypothesis import HealthCheck, Phase, Verbosity, find, settings
from hypothesis.errors import HypothesisException

from rollcheck.properties.env.runner import PropertyFailure

__all__ = ["Deadline", "GC_THRESHOLDS", "SearchOutcome", "run_search"]

#: the garbage collector's thresholds while a search runs (at least these; higher ones are kept)
GC_THRESHOLDS = (50_000, 50, 100)


@dataclass(frozen=True)
class Deadline:
    """A point on the ``time.monotonic`` clock; ``None`` seconds means no bound."""

    at: "float | None"

    @classmethod
    def after(cls, seconds: "float | None") -> "Deadline":
        return cls(None if seconds is None else time.monotonic() + seconds)

    def left(self) -> float:
        return float("inf") if self.at is None else self.at - time.monotonic()

    def passed(self) -> bool:
        return self.at is not None and time.monotonic() >= self.at

    def sooner(self, seconds: float) -> "Deadline":
        """This deadline or ``seconds`` from now, whichever comes first."""
        other = time.monotonic() + seconds
        return Deadline(other if self.at is None else min(self.at, other))


@dataclass
class SearchOutcome:
    """What a search found and how much it explored."""

    failures: dict = field(default_factory=dict)   # pid -> (PropertyFailure, example value)
    explored: int = 0                              # examples run while hunting (not shrinking)
    shrink_runs: int = 0                           # examples run while shrinking
    phases: int = 0
    cut_short: bool = False                        # the deadline ended the hunt before max_examples
    shrink_cut: list = field(default_factory=list)  # pids whose shrinking the allowance ended
    error: "BaseException | None" = None           # an unexpected exception from the harness itself
    interrupted: bool = False                      # Ctrl-C: what was found before it is kept


class _Stop(BaseException):
    """Raised inside ``find``'s condition to end the phase now. Hypothesis lets a ``BaseException``
    that is not an ``Exception`` (like ``KeyboardInterrupt``) through without shrinking it."""


def _size(value: Any) -> tuple:
    """A rough order on examples (fewer actions first) to keep the smallest failure per property."""
    if isinstance(value, tuple) and len(value) == 2 and isinstance(value[1], list):  # vector: (seed, programs)
        return (sum(len(getattr(p, "actions", ())) for p in value[1]), 0)
    return (len(getattr(value, "actions", ())), len(getattr(value, "history", ())))


@contextmanager
def _fewer_collections() -> Iterator[None]:
    """The garbage collector's thresholds raised to at least :data:`GC_THRESHOLDS` inside the block,
    the caller's own restored after it (a threshold of 0, automatic collection off, is left as it is)."""
    before = gc.get_threshold()
    if before[0]:
        gc.set_threshold(*(max(mine, theirs) for mine, theirs in zip(GC_THRESHOLDS, before)))
    try:
        yield
    finally:
        gc.set_threshold(*before)


@_fewer_collections()
def run_search(run: Callable[[Any], None], strategy: Any, *, seed: int, max_examples: int, deadline: Deadline,
               shrink_seconds: float, silenced: set, database: Any = None, database_key: "bytes | None" = None,
               max_phases: int = 32) -> SearchOutcome:
    """Search ``strategy`` with ``run`` (raises :class:`PropertyFailure` when a property fails).

    ``silenced`` (property ids already reported) grows as phases find failures; a failure of a
    silenced property counts as a pass. ``max_examples`` bounds the hunt over all phases;
    ``deadline`` bounds the time; each phase may shrink for ``shrink_seconds`` at most.
    """
    out = SearchOutcome()
    timing = [0.0, 0]  # seconds spent running examples, examples run

    for phase in range(max_phases):
        budget = max_examples - out.explored
        if budget < 1 or deadline.passed() or out.error is not None:
            out.cut_short = out.cut_short or (budget >= 1 and deadline.passed())
            break
        locked: dict[str, Any] = {}  # the property this phase shrinks, and its shrink deadline

        def condition(value: Any) -> bool:
            # stop when the deadline passed, or when the next example would likely end past it
            until = locked["until"] if locked else deadline
            if until.passed() or (timing[1] and until.left() < timing[0] / timing[1]):
                if locked:
                    out.shrink_cut.append(locked["pid"])
                else:
                    out.cut_short = True
                raise _Stop  # ends find() at once; the failures recorded so far stand
            if locked:
                out.shrink_runs += 1
            else:
                out.explored += 1
            started = time.monotonic()
            try:
                run(value)
            except PropertyFailure as exc:
                if exc.pid in silenced:
                    return False
                if not locked:
                    locked.update(pid=exc.pid, until=deadline.sooner(shrink_seconds))
                if exc.pid != locked["pid"]:
                    if exc.pid not in out.failures:  # another property: keep it, a later phase shrinks it
                        out.failures[exc.pid] = (exc, value)
                    return False
                best = out.failures.get(exc.pid)
                if best is None or _size(value) <= _size(best[1]):
                    out.failures[exc.pid] = (exc, value)
                return True
            except Exception as exc:  # the harness itself broke: stop searching, report it
                out.error = exc
                raise _Stop from None
            finally:
                timing[0] += time.monotonic() - started
                timing[1] += 1
            return False

        phase_settings = settings(
            settings.get_profile("default"), max_examples=budget, deadline=None, database=database,
            phases=[Phase.reuse, Phase.generate, Phase.shrink] if database is not None else [Phase.generate, Phase.shrink],
            suppress_health_check=list(HealthCheck), verbosity=Verbosity.quiet, derandomize=False,
            report_multiple_bugs=False, print_blob=False, backend="hypothesis")
        out.phases += 1
        try:
            # an explicit seed turns Hypothesis's database off, so a search with a database is not seeded
            find(strategy, condition, settings=phase_settings,
                 random=Random(seed * 7919 + phase) if database is None else None,
                 database_key=None if database_key is None else database_key + b"/" + str(phase).encode())
        except HypothesisException:
            pass  # NoSuchExample (nothing failed) or a flaky replay: the failures recorded above stand
        except _Stop:
            pass
        except KeyboardInterrupt:
            out.interrupted = True
            break
        if not locked:
            out.cut_short = out.cut_short or deadline.passed()
            break  # a whole phase found nothing new: the search is over
        silenced.add(locked["pid"])
    return out
