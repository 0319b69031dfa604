"""Conformance reports: Markdown for people, JSON for tools, JUnit XML for CI dashboards.

Not a TorchLean definition: this is where rollcheck says which invariants held. A :class:`Report`
lists one :class:`PropertyResult` per property (id, TorchLean definition, statement, status,
how much was tried) with every :class:`Finding` (first failing step, expected, actual, and a
reproducer a user can paste). ``Report.write`` writes all three formats atomically.

Invariant enforced: ``Report.exit_code`` is 0 when every property passed (or was skipped on
purpose), 1 when any failed; a target that could not be run is exit 2 (``Report.error``).
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET

from rollcheck.impl.atomic_io import atomic_write_text
from rollcheck.spec.errors import ArgumentError

__all__ = ["Finding", "PropertyResult", "Report", "STATUSES"]

STATUSES = ("passed", "failed", "skipped")


def _jsonable(x: Any) -> Any:
    """Values as JSON-safe data (non-finite floats become the strings 'nan', 'inf', '-inf')."""
    if isinstance(x, float):
        return x if math.isfinite(x) else repr(x)
    if isinstance(x, dict):
        return {str(k): _jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_jsonable(v) for v in x]
    if hasattr(x, "tolist"):
        return _jsonable(x.tolist())
    if x is None or isinstance(x, (bool, int, str)):
        return x
    return repr(x)


@dataclass
class Finding:
    """One violation of a property: where it first failed, what was expected, what was seen."""

    message: str
    step: "int | None" = None
    expected: Any = None
    actual: Any = None
    reproducer: "str | None" = None
    context: dict = field(default_factory=dict)


@dataclass
class PropertyResult:
    """The outcome of one property over a run."""

    id: str
    lean: str
    statement: str
    status: str = "passed"
    examples: int = 0
    steps: int = 0
    episodes: int = 0
    findings: list[Finding] = field(default_factory=list)
    skip_reason: "str | None" = None

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ArgumentError(f"PropertyResult.status={self.status!r} should be one of {STATUSES}")

    def fail(self, finding: Finding) -> None:
        self.status = "failed"
        self.findings.append(finding)


@dataclass
class Report:
    """A whole run: what was checked (``target``), against what, and every property's result."""

    title: str
    target: str
    results: list[PropertyResult] = field(default_factory=list)
    meta: dict = field(default_factory=dict)
    error: "str | None" = None
    started: float = field(default_factory=time.time)
    duration_s: float = 0.0

    @property
    def failed(self) -> list[PropertyResult]:
        return [r for r in self.results if r.status == "failed"]

    @property
    def ok(self) -> bool:
        return self.error is None and not self.failed

    @property
    def exit_code(self) -> int:
        if self.error is not None:
            return 2
        return 1 if self.failed else 0

    def result(self, pid: str) -> PropertyResult:
        for r in self.results:
            if r.id == pid:
                return r
        raise ArgumentError(f"no result for property {pid!r} in report {self.title!r}")

    # -- renderings ---------------------------------------------------------------------------
    def to_dict(self) -> dict:
        return _jsonable({"title": self.title, "target": self.target, "ok": self.ok,
                          "exit_code": self.exit_code, "error": self.error, "meta": self.meta,
                          "started": self.started, "duration_s": self.duration_s,
                          "results": [asdict(r) for r in self.results]})

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, allow_nan=False)

    def to_markdown(self) -> str:
        lines = [f"# {self.title}", "", f"- target: `{self.target}`",
                 f"- verdict: **{'PASS' if self.ok else ('ERROR' if self.error else 'FAIL')}** "
                 f"({len(self.results) - len(self.failed)}/{len(self.results)} properties hold)",
                 f"- duration: {self.duration_s:.2f} s"]
        for k, v in self.meta.items():
            lines.append(f"- {k}: {v}")
        if self.error:
            lines += ["", "## Error", "", "```", self.error, "```"]
        lines += ["", "| property | TorchLean | status | examples | steps | episodes |",
                  "|---|---|---|---|---|---|"]
        for r in self.results:
            lines.append(f"| `{r.id}` | `{r.lean}` | {r.status} | {r.examples} | {r.steps} | {r.episodes} |")
        for r in self.failed:
            lines += ["", f"## `{r.id}` — {r.statement}", "", f"TorchLean: `{r.lean}`"]
            for i, f in enumerate(r.findings, 1):
                lines += ["", f"{i}. {f.message}"]
                if f.step is not None:
                    lines.append(f"   - first failing step: {f.step}")
                if f.expected is not None or f.actual is not None:
                    lines.append(f"   - expected: `{_jsonable(f.expected)}`")
                    lines.append(f"   - actual: `{_jsonable(f.actual)}`")
                if f.reproducer:
                    lines += ["", "   ```python"] + ["   " + ln for ln in f.reproducer.splitlines()] + ["   ```"]
        return "\n".join(lines) + "\n"

    def to_junit_xml(self) -> str:
        suite = ET.Element("testsuite", name=self.title, tests=str(len(self.results)),
                           failures=str(len(self.failed)), errors="1" if self.error else "0",
                           skipped=str(sum(r.status == "skipped" for r in self.results)),
                           time=f"{self.duration_s:.3f}")
        if self.error:
            case = ET.SubElement(suite, "testcase", classname=self.target, name="target")
            ET.SubElement(case, "error", message=self.error.splitlines()[0] if self.error else "").text = self.error
        for r in self.results:
            case = ET.SubElement(suite, "testcase", classname=self.target, name=r.id)
            if r.status == "failed":
                first = r.findings[0].message if r.findings else "failed"
                body = "\n\n".join(f"{f.message}\nstep={f.step} expected={_jsonable(f.expected)} "
                                   f"actual={_jsonable(f.actual)}\n{f.reproducer or ''}" for f in r.findings)
                ET.SubElement(case, "failure", message=first).text = body
            elif r.status == "skipped":
                ET.SubElement(case, "skipped", message=r.skip_reason or "skipped")
        return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(suite, encoding="unicode") + "\n"

    def write(self, report_dir: "str | Path", stem: str) -> dict[str, Path]:
        """Write ``stem.md``, ``stem.json`` and ``stem.junit.xml`` under ``report_dir``, each atomically."""
        d = Path(report_dir)
        return {"markdown": atomic_write_text(d / f"{stem}.md", self.to_markdown()),
                "json": atomic_write_text(d / f"{stem}.json", self.to_json()),
                "junit": atomic_write_text(d / f"{stem}.junit.xml", self.to_junit_xml())}
