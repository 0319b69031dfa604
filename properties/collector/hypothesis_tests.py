"""rollcheck's collector properties as plain Hypothesis tests, for pytest and for HypoFuzz.

:func:`collector_hypothesis_tests` returns one ``@given`` test function per collector property:
the case strategy of :func:`~rollcheck.properties.collector.validate.collector_cases`, one run of
the user's collector per case (:func:`~rollcheck.properties.collector.run.run_collector`, memoised
per process so the properties of one case share its run), and that property's check. Put them in a
test module and pytest runs them; HypoFuzz (``hypothesis fuzz``) runs the same tests on as many
cores or machines as it is given, sharing failures through Hypothesis's example database::

    # test_my_collector_fuzz.py
    from rollcheck import collector_hypothesis_tests
    globals().update(collector_hypothesis_tests("mypkg.ppo:collect", prefix="test_my_collector"))

    $ pip install hypofuzz && hypothesis fuzz -n 8 test_my_collector_fuzz.py

Settings are explicit, as for :func:`~rollcheck.properties.env.hypothesis_tests.env_hypothesis_tests`:
``hypothesis_settings`` (e.g. ``settings(database=RedisExampleDatabase(...))``, a shared example
database) or, by default, the rollcheck profile's (``--rollcheck-profile``); nothing global is loaded.

Mirrors TorchLean ``PPO.collectRolloutFromCallbacks`` as a specification, property by property
(:data:`~rollcheck.properties.collector.catalog.COLLECTOR_PROPERTIES`). Invariant enforced: a test
fails exactly when :func:`~rollcheck.properties.collector.validate.check_case` reports a finding of
its property on the drawn case; the failure message carries the finding and the paste-able
reproducer.
"""

from __future__ import annotations

import re
from typing import Any, Callable, Iterable

from hypothesis import given, settings

from rollcheck.properties.collector.catalog import COLLECTOR_PROPERTIES
from rollcheck.properties.collector.pytest_support import resolve_target
from rollcheck.properties.collector.trace import CollectorCase
from rollcheck.properties.collector.validate import (RunCache, collector_cases, render_reproducer,
                                                     signature_problem)
from rollcheck.properties.core.profiles import rollcheck_settings
from rollcheck.properties.core.property import Property
from rollcheck.spec.errors import ArgumentError, RollcheckError

__all__ = ["CollectorPropertyFailed", "collector_hypothesis_tests"]


class CollectorPropertyFailed(RollcheckError, AssertionError):
    """A collector property was violated on a Hypothesis-drawn case (the test's failure)."""


def collector_hypothesis_tests(target: "str | Callable[..., Any]", *, env: "str | None" = None,
                               horizon: "int | None" = None, skip: Iterable[str] = (),
                               prefix: str = "test_rollcheck_collector", tolerance: Any = None,
                               hypothesis_settings: "settings | None" = None) -> dict[str, Callable[..., None]]:
    """``{test name: @given test}``, one per collector property not in ``skip`` (an id or a prefix).

    ``target`` is the collector (``"module:function"`` or the callable, with the seed's signature);
    ``env`` adds cases run on that Gymnasium env, ``horizon`` fixes every case's horizon (as
    :func:`~rollcheck.validate_collector`). ``hypothesis_settings`` defaults to the rollcheck
    profile's settings (its example count and database).
    """
    collect = resolve_target(target)
    problem = signature_problem(collect)
    if problem is not None:
        raise ArgumentError(problem)
    if not isinstance(prefix, str) or not prefix.isidentifier():
        raise ArgumentError(f"prefix={prefix!r} should be a Python identifier (the tests' name prefix)")
    if hypothesis_settings is not None and not isinstance(hypothesis_settings, settings):
        raise ArgumentError(f"hypothesis_settings={hypothesis_settings!r:.80} should be a hypothesis.settings object")
    strategy = collector_cases(horizon=horizon, env=env)
    cache = RunCache(collect, tolerance)
    chosen = hypothesis_settings or rollcheck_settings()
    tests = {}
    for prop in COLLECTOR_PROPERTIES.without(list(skip)):
        name = f"{prefix}_{re.sub(r'[^A-Za-z0-9]+', '_', prop.id)}"
        tests[name] = settings(chosen, deadline=None)(given(case=strategy)(_one_property(collect, cache, prop, name)))
    return tests


def _one_property(collect: Any, cache: RunCache, prop: Property, name: str) -> Callable[[CollectorCase], None]:
    def test(case: CollectorCase) -> None:
        run = cache.get(case)
        try:
            findings = list(prop.check(run))
        except Exception as exc:  # the property could not be judged on this run: a failure, said so
            raise CollectorPropertyFailed(f"checking {prop.id} raised {type(exc).__name__}: {exc}") from exc
        if findings:
            first = findings[0]
            lines = [f"{prop.id} violated: {first.message}", f"TorchLean: {prop.lean}"]
            if first.step is not None:
                lines.append(f"first failing step: {first.step}")
            lines += [f"expected: {first.expected!r:.200}", f"actual:   {first.actual!r:.200}", "",
                      "Reproducer:", render_reproducer(collect, case, prop.id)]
            raise CollectorPropertyFailed("\n".join(lines))

    test.__name__ = test.__qualname__ = name
    test.__doc__ = f"rollcheck collector property {prop.id}: {prop.statement}"
    return test
