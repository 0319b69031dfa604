"""rollcheck's env properties as plain Hypothesis tests, for pytest and for HypoFuzz.

:func:`env_hypothesis_tests` returns one ``@given`` test function per env property (the program
strategy of :mod:`rollcheck.properties.env.programs`, the per-example run of
:mod:`rollcheck.properties.env.fuzz`), with the rollcheck profile's settings applied explicitly.
Put them in a test module and pytest runs them; HypoFuzz (``hypothesis fuzz``) runs the same
tests on as many cores or machines as it is given, sharing failures through Hypothesis's example
database::

    # test_my_env_fuzz.py
    from rollcheck import env_hypothesis_tests
    globals().update(env_hypothesis_tests("mypkg:make_env", prefix="test_my_env"))

    $ pip install hypofuzz && hypothesis fuzz -n 8 test_my_env_fuzz.py

Each test judges only its own property (the others are not evaluated there), so each fails and
shrinks separately. Not a TorchLean definition; mirrors the checks of
:func:`~rollcheck.properties.env.fuzz.fuzz_env` example by example, without the time budget (the
fuzzing engine owns the time).
"""

from __future__ import annotations

import re
from typing import Any, Callable, Sequence

from hypothesis import given, settings

from rollcheck.properties.core.profiles import rollcheck_settings
from rollcheck.properties.env.catalog import ENV_PROPERTIES, VECTOR_PROPERTIES
from rollcheck.properties.env.fuzz import DEFAULT_MAX_STEPS, ProgramRunner
from rollcheck.properties.env.programs import programs
from rollcheck.properties.env.target import resolve_target
from rollcheck.spec.contract import Contract

__all__ = ["env_hypothesis_tests"]

#: properties judged once per run, not per example (left to ``rollcheck env``)
_WHOLE_RUN = ("spaces.well_formed", "determinism.seeds_differ")


def env_hypothesis_tests(make_env: "str | Callable[[], Any]", *, wrappers: Sequence[Any] = (),
                         contract: "Contract | None" = None, max_steps: int = DEFAULT_MAX_STEPS,
                         skip: Sequence[str] = (), prefix: str = "test_rollcheck_env",
                         hypothesis_settings: "settings | None" = None) -> dict[str, Callable[..., None]]:
    """``{test name: @given test}``, one per per-example env property of ``make_env``.

    ``hypothesis_settings`` defaults to the rollcheck profile's (``--rollcheck-profile``).
    """
    target = resolve_target(make_env, wrappers)
    env = target.make()
    try:
        space = env.action_space
    finally:
        env.close()
    contract = Contract() if contract is None else contract
    ids = [pid for pid in ENV_PROPERTIES.without([p.id for p in VECTOR_PROPERTIES]).without(skip).ids
           if pid not in _WHOLE_RUN]
    strategy = programs(space, max_steps)
    chosen = hypothesis_settings or rollcheck_settings()
    tests = {}
    for pid in ids:
        name = f"{prefix}_{re.sub(r'[^A-Za-z0-9]+', '_', pid)}"
        tests[name] = settings(chosen, deadline=None)(given(program=strategy)(_one_property(target, pid, contract, name)))
    return tests


def _one_property(target: Any, pid: str, contract: Contract, name: str) -> Callable[[Any], None]:
    def test(program: Any) -> None:
        ProgramRunner(target, {pid}, contract, None).example(program)  # only this property is judged

    test.__name__ = test.__qualname__ = name
    test.__doc__ = f"rollcheck env property {pid} on {target.label}: {ENV_PROPERTIES[pid].statement}"
    return test
