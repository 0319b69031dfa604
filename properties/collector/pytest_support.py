"""One pytest test per collector property, in a few lines of a user's test suite.

Not a TorchLean definition: this is how the properties of :mod:`.collector_properties` (which
mirror ``PPO.collectRolloutFromCallbacks``) and of :mod:`.env_properties` (``Boundary.Core``
checks, ``Gymnasium.Session``) reach a CI run. For a collector, two ways in::

    # tests/test_my_collector.py — a parametrized test, one case per property id
    from rollcheck import collector_property_tests
    test_my_collector = collector_property_tests("mypkg.ppo:collect", horizon=None)

    # or, with the rollcheck pytest plugin's marker and fixture
    @pytest.mark.rollcheck_collector("mypkg.ppo:collect")
    def test_my_collector(rollcheck_property):
        rollcheck_property.assert_holds()

For an environment, ``test_my_env = env_property_tests("CartPole-v1", max_examples=20)`` or
``@pytest.mark.rollcheck_env("CartPole-v1", max_examples=20)`` with the same ``rollcheck_property``
argument: :func:`~rollcheck.properties.env.fuzz.fuzz_env` runs once per process and each test
reports one property of that run.

Each test id is the property id (``test_my_collector[step.next_value_before_reset]``), so
``-k``, ``--deselect`` and JUnit dashboards use the same names as reports and ``--skip``. The
number of examples and the example database come from the rollcheck profile
(``--rollcheck-profile ci|dev|thorough``; ``rollcheck-ci`` under ``CI=true``); pass ``examples=`` to fix it.
Tests are independent, so ``pytest -n auto`` (pytest-xdist) spreads them over workers; runs of the
collector are memoised per worker process, so the properties on one worker share their runs.

Invariant enforced: a failing test's message carries the property, the TorchLean definition, the
first failing step, expected and actual values and the paste-able reproducer.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any, Callable, Iterable

from rollcheck.properties.core.profiles import rollcheck_settings
from rollcheck.spec.errors import ArgumentError

from rollcheck.properties.collector.catalog import COLLECTOR_PROPERTIES
from rollcheck.properties.core.report import PropertyResult, pasteable
from rollcheck.properties.collector.validate import RunCache, check_property, collector_cases, describe_target, signature_problem

__all__ = ["EnvPropertyCheck", "PropertyCheck", "collector_property_tests", "env_property_checks",
           "env_property_tests", "format_result", "property_checks", "resolve_target"]

_CACHES: dict[tuple, tuple] = {}
_ENV_REPORTS: dict[str, Any] = {}


def resolve_target(target: "str | Callable[..., Any]") -> Callable[..., Any]:
    """``"package.module:function"`` (or a callable, returned as is) as the collector function."""
    if callable(target):
        return target
    if not isinstance(target, str) or ":" not in target:
        raise ArgumentError(f"target={target!r} should be a callable or 'module:function'")
    module_name, qual = target.split(":", 1)
    obj: Any = importlib.import_module(module_name)
    for part in qual.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise ArgumentError(f"target={target!r}: module {module_name!r} has no attribute {qual!r}") from None
    return obj


def _show(value: Any) -> str:
    return repr(value.tolist() if hasattr(value, "tolist") else value)


def format_result(result: PropertyResult) -> str:
    """A failing property as text for a test failure (every finding, with its reproducer)."""
    if result.status == "error":
        return (f"{result.id} could not be evaluated — {result.statement}\nTorchLean: {result.lean}\n"
                f"{result.error_reason}")
    lines = [f"{result.id} violated — {result.statement}", f"TorchLean: {result.lean}",
             f"({result.examples} cases tried)"]
    for f in result.findings:
        lines += ["", f.message]
        if f.step is not None:
            lines.append(f"  first failing step: {f.step}")
        lines += [f"  expected: {_show(f.expected)}", f"  actual:   {_show(f.actual)}"]
        if f.reproducer:
            lines += ["", "Reproducer (paste into python, or save as a file):", "", pasteable(f.reproducer)]
    return "\n".join(lines)


@dataclass(frozen=True)
class PropertyCheck:
    """One property of one collector, ready to run inside a test."""

    target: Any
    property_id: str
    env: "str | None" = None
    horizon: "int | None" = None
    examples: "int | None" = None
    seed: int = 0
    tolerance: Any = None   # None: derived per quantity from the dtypes (see properties.core.tolerances)

    def run(self) -> PropertyResult:
        collect = resolve_target(self.target)
        problem = signature_problem(collect)
        if problem is not None:
            raise ArgumentError(problem)
        examples = rollcheck_settings().max_examples if self.examples is None else self.examples
        key = (id(collect), self.env, self.horizon, self.tolerance)
        if key not in _CACHES:
            _CACHES[key] = (collect, collector_cases(horizon=self.horizon, env=self.env),
                            RunCache(collect, self.tolerance))
        _collect, strategy, cache = _CACHES[key]
        return check_property(collect, COLLECTOR_PROPERTIES[self.property_id], strategy, examples=examples,
                              seed=self.seed, cache=cache, database=rollcheck_settings().database,
                              key=f"{describe_target(collect)}:{self.env}:{self.horizon}")

    def assert_holds(self) -> PropertyResult:
        """Run the check; fail the current pytest test (with the reproducer) if it is violated."""
        import pytest

        result = self.run()
        if result.status in ("failed", "error"):
            pytest.fail(format_result(result), pytrace=False)
        return result


def property_checks(target: Any, *, env: "str | None" = None, horizon: "int | None" = None,
                    examples: "int | None" = None, seed: int = 0, skip: Iterable[str] = (),
                    tolerance: Any = None) -> list[PropertyCheck]:
    """One :class:`PropertyCheck` per property id not in ``skip``."""
    return [PropertyCheck(target, pid, env, horizon, examples, seed, tolerance)
            for pid in COLLECTOR_PROPERTIES.without(skip).ids]


def collector_property_tests(target: Any, *, env: "str | None" = None, horizon: "int | None" = None,
                             examples: "int | None" = None, seed: int = 0, skip: Iterable[str] = (),
                             tolerance: Any = None) -> Callable[..., None]:
    """A pytest test function parametrized over the collector properties (assign it to ``test_...``)."""
    import pytest

    checks = property_checks(target, env=env, horizon=horizon, examples=examples, seed=seed, skip=skip,
                             tolerance=tolerance)

    @pytest.mark.parametrize("rollcheck_check", checks, ids=[c.property_id for c in checks])
    def test_collector_property(rollcheck_check: PropertyCheck) -> None:
        rollcheck_check.assert_holds()

    return test_collector_property


# -- environments: one test per env property (rollcheck.properties.env.fuzz) ---------------------
@dataclass(frozen=True)
class EnvPropertyCheck:
    """One env property of one environment; the fuzzing run is shared by the checks of a process."""

    make_env: Any
    property_id: str
    fuzz_kwargs: tuple = ()

    def report(self) -> Any:
        from rollcheck.properties.env.fuzz import fuzz_env

        key = repr((self.make_env, self.fuzz_kwargs))
        if key not in _ENV_REPORTS:
            _ENV_REPORTS[key] = fuzz_env(self.make_env, **dict(self.fuzz_kwargs))
        return _ENV_REPORTS[key]

    def run(self) -> PropertyResult:
        report = self.report()
        if report.error:
            raise ArgumentError(f"environment {self.make_env!r} cannot be fuzzed: {report.error}")
        return report.result(self.property_id)

    def assert_holds(self) -> PropertyResult:
        import pytest

        result = self.run()
        if result.status in ("failed", "error"):
            pytest.fail(format_result(result), pytrace=False)
        return result


def env_property_checks(make_env: Any, *, skip: Iterable[str] = (), **fuzz_kwargs: Any) -> list[EnvPropertyCheck]:
    """One :class:`EnvPropertyCheck` per env property (``fuzz_kwargs`` go to ``fuzz_env``)."""
    from rollcheck.properties.env.catalog import ENV_PROPERTIES, VECTOR_PROPERTIES

    props = ENV_PROPERTIES if fuzz_kwargs.get("vector") else ENV_PROPERTIES.without([p.id for p in VECTOR_PROPERTIES])
    skip = list(skip)
    kwargs = tuple(sorted({**fuzz_kwargs, "skip": tuple(skip)}.items()))
    return [EnvPropertyCheck(make_env, pid, kwargs) for pid in props.without(skip).ids]


def env_property_tests(make_env: Any, *, skip: Iterable[str] = (), **fuzz_kwargs: Any) -> Callable[..., None]:
    """A pytest test function parametrized over the env properties (assign it to ``test_...``)."""
    import pytest

    checks = env_property_checks(make_env, skip=skip, **fuzz_kwargs)

    @pytest.mark.parametrize("rollcheck_check", checks, ids=[c.property_id for c in checks])
    def test_env_property(rollcheck_check: EnvPropertyCheck) -> None:
        rollcheck_check.assert_holds()

    return test_env_property
