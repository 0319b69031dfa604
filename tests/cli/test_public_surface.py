"""The public surface (issue 10 item 4 and 8): ``import rollcheck`` gives every name a user needs,
every exception derives from ``RollcheckError``, examples import only from the public surface,
and the package's modules import each other without a cycle (function-local imports included)."""

from __future__ import annotations

import ast
import importlib
import inspect
import pkgutil
import re
from pathlib import Path

import pytest

import rollcheck

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("spec", "impl", "properties", "rollcheck")
OPTIONAL = {"torch", "torchrl", "tensordict", "tianshou", "stable_baselines3", "minari", "h5py", "redis"}

REQUIRED = ("Shape", "Contract", "ContractViolation", "Transition", "Step", "Rollout", "Box",
            "collect_rollout_from_callbacks", "collect_rollout_from_session", "collect_rollout_from_gymnasium",
            "CheckedSession", "validate_collector", "validate_arrays", "validate_sb3", "validate_rollout_file",
            "fuzz_env", "env_machine", "session_machine", "Report", "RollcheckError", "ArgumentError",
            "CallProperty", "RunProperty", "BatchProperty", "SessionProperty", "CaseProperty", "RecordsProperty",
            "BufferProperty", "BufferCase", "arrays_case", "sb3_case", "CollectorCase", "PolicySpec", "check_case")


def _module_name(path: Path) -> str:
    rel = path.relative_to(ROOT).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(["rollcheck", *parts[1:]] if parts[0] == "rollcheck" else ["rollcheck", *parts])


def _sources() -> "dict[str, Path]":
    out = {}
    for pkg in PACKAGES:
        for path in sorted((ROOT / pkg).rglob("*.py")):
            out[_module_name(path)] = path
    return out


def test_every_required_name_is_public():
    missing = [n for n in REQUIRED if n not in rollcheck.__all__]
    assert not missing, missing
    assert {"strategies", "__version__"} <= set(rollcheck.__all__)


def test_every_public_name_resolves():
    unresolved = []
    for name in rollcheck.__all__:
        try:
            getattr(rollcheck, name)
        except ImportError as exc:  # an adapter whose optional extra is not installed
            if exc.name is None or exc.name.split(".")[0] not in OPTIONAL:
                unresolved.append(f"{name}: {exc}")
        except AttributeError as exc:
            unresolved.append(f"{name}: {exc}")
    assert not unresolved, unresolved
    with pytest.raises(AttributeError, match="no attribute 'not_a_name'"):
        rollcheck.not_a_name  # noqa: B018


def test_every_exception_derives_from_rollcheck_error():
    strays = []
    for name in _sources():
        if name.endswith("__main__"):
            continue
        try:
            module = importlib.import_module(name)
        except ImportError as exc:
            if exc.name is not None and exc.name.split(".")[0] in OPTIONAL:
                continue
            raise
        for cls_name, cls in inspect.getmembers(module, inspect.isclass):
            # Exceptions only: KeyboardInterrupt-like control-flow signals (BaseException) are not errors
            if cls.__module__ == name and issubclass(cls, Exception) and not issubclass(cls, rollcheck.RollcheckError):
                strays.append(f"{name}.{cls_name}")
    assert not strays, strays


def _python_blocks(text: str) -> "list[str]":
    return re.findall(r"```python\n(.*?)```", text, re.S)


def test_readme_and_docstring_examples_import_only_the_public_surface():
    private = re.compile(r"^\s*(?:>>>\s*)?(?:from rollcheck\.(?!strategies\b)\S+ import|import rollcheck\.)", re.M)
    readme = (ROOT / "README.md").read_text()
    bad = [f"README: {m.group(0).strip()}" for block in _python_blocks(readme) for m in private.finditer(block)]
    for name, path in _sources().items():
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, (ast.Module, ast.FunctionDef, ast.ClassDef, ast.AsyncFunctionDef)):
                doc = ast.get_docstring(node) or ""
                bad += [f"{name}: {line.strip()}" for line in doc.splitlines()
                        if line.strip().startswith(">>>") and private.match(line)]
    assert not bad, bad


def test_the_subpackages_stay_importable():
    for pkg in ("rollcheck.spec", "rollcheck.impl", "rollcheck.properties"):
        module = importlib.import_module(pkg)
        assert [m.name for m in pkgutil.iter_modules(module.__path__)], pkg
