"""Conformance reports: Markdown for people, JSON for tools, JUnit XML for CI dashboards.

Not a TorchLean definition: this is where rollcheck says which invariants held. A :class:`Report`
lists one :class:`PropertyResult` per property (id, TorchLean definition, statement, status,
how much was tried) with every :class:`Finding` (first failing step, expected, actual, and a
reproducer a user can paste). ``Report.write`` writes the three formats as one unit.

Invariants enforced (a verdict is earned):

- every property ends ``held``, ``failed``, ``skipped`` or ``error`` (:data:`STATUSES`; ``error``:
  it could not be evaluated because the subject raised, exited, hung or crashed);
- a report whose run broke off (``Report.error`` set) claims no property held: :meth:`Report.settle`
  turns every ``held`` into ``error`` (every count, rendering and the exit code settle first);
- the terminal summary, Markdown, JSON and JUnit XML count the same four numbers
  (:meth:`Report.counts`);
- ``Report.exit_code`` is 0 only when no property failed or errored and at least one held; 1 when a
  property failed (a violation found before the subject broke is still a violation); else 2.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import textwrap
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET

from rollcheck.impl.atomic_io import replace_files
from rollcheck.spec.errors import ArgumentError, RollcheckError
from rollcheck.spec.errors import safe_repr as spec_safe_repr

__all__ = ["Finding", "PropertyResult", "Report", "ReportWriteError", "STATUSES", "pasteable", "report_stem",
           "safe_repr"]

STATUSES = ("held", "failed", "skipped", "error")
_REPR_LIMIT = 2000


class ReportWriteError(RollcheckError, OSError):
    """The report files could not be written (directory missing rights, a file, disk full ...)."""


_CONTINUES = ("else", "elif", "except", "finally", ")", "]", "}")


def pasteable(snippet: str) -> str:
    """``snippet`` as it runs pasted into ``python -``, saved as a file, or typed into the interpreter.

    Flush left; no blank line inside an indented block (the interactive interpreter would end the
    block there); a blank line wherever a block ends before a statement at the left margin (the
    interpreter needs it to run the block); and a blank line at the end.
    """
    lines = [ln.rstrip() for ln in textwrap.dedent(snippet.expandtabs(4)).splitlines()]
    out: list[str] = []
    for i, ln in enumerate(lines):
        if not ln:
            following = next((nxt for nxt in lines[i + 1:] if nxt), "")
            if following.startswith(" ") or (out and out[-1] == ""):
                continue
            out.append(ln)
            continue
        if not ln.startswith(" ") and out and out[-1].startswith(" ") and not ln.startswith(_CONTINUES):
            out.append("")
        out.append(ln)
    while out and not out[0]:
        out.pop(0)
    return "\n".join(out).rstrip("\n") + "\n\n"


def report_stem(command: str, subject: str, options: "dict | None" = None) -> str:
    """``<command>-<subject>-<digest>``: unique per subject and per the options that define the run.

    ``subject`` is the full target (``mypkg.ppo:collect``, ``CartPole-v1``); the 8-hex digest covers
    the subject itself and ``options`` (wrappers, env, horizon, seeds ...), so two subjects, or
    one subject under two option sets, never share a file.
    """
    readable = re.sub(r"[^A-Za-z0-9_.-]+", "_", subject).strip("_")[:80] or "target"
    canon = json.dumps({"subject": subject, "options": options or {}}, sort_keys=True, default=repr)
    return f"{command}-{readable}-{hashlib.sha256(canon.encode()).hexdigest()[:8]}"


def safe_repr(x: Any, limit: int = _REPR_LIMIT) -> str:
    """The spec's :func:`~rollcheck.spec.errors.safe_repr` of ``x`` (no user ``__repr__`` is called),
    cut to ``limit`` characters saying how much was left out."""
    text = spec_safe_repr(x, limit)
    return text if len(text) <= limit else text[:limit] + f"... ({len(text) - limit} more characters)"


def _jsonable(x: Any) -> Any:
    """Values as JSON-safe data (non-finite floats become the strings 'nan', 'inf', '-inf').

    Never raises: anything that is not plain data is shown by :func:`safe_repr`.
    """
    if x is None or isinstance(x, (bool, int, str)):
        return x
    if isinstance(x, float):
        return x if math.isfinite(x) else repr(x)
    if isinstance(x, dict):
        return {str(k) if isinstance(k, (str, int, float, bool)) else safe_repr(k): _jsonable(v)
                for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_jsonable(v) for v in x]
    try:
        if hasattr(type(x), "tolist"):  # numpy arrays and scalars
            return _jsonable(x.tolist())
    except Exception:  # noqa: BLE001
        pass
    return safe_repr(x)


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
    """The outcome of one property over a run: one of :data:`STATUSES` and how much was tried.

    ``skip_reason`` says why a ``skipped`` property was left out, ``error_reason`` why an ``error``
    property could not be evaluated. Change the status with :meth:`fail`, :meth:`skip` and
    :meth:`set_error`: a failure is never hidden by a later error or skip.
    """

    id: str
    lean: str
    statement: str
    status: str = "held"
    examples: int = 0
    steps: int = 0
    episodes: int = 0
    findings: list[Finding] = field(default_factory=list)
    skip_reason: "str | None" = None
    error_reason: "str | None" = None

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            hint = " ('passed' is now 'held')" if self.status == "passed" else ""
            raise ArgumentError(f"PropertyResult.status={self.status!r} should be one of {STATUSES}{hint}")

    def fail(self, finding: Finding) -> None:
        """Record a violation: the property failed."""
        self.status = "failed"
        self.findings.append(finding)

    def skip(self, reason: str) -> None:
        """Leave the property out on purpose (unless it already failed)."""
        if self.status != "failed":
            self.status, self.skip_reason = "skipped", reason

    def set_error(self, reason: str) -> None:
        """The property could not be evaluated (the subject broke); a failure or skip stays."""
        if self.status == "held":
            self.status, self.error_reason = "error", reason


@dataclass
class Report:
    """A whole run: what was checked (``target``), against what, and every property's result.

    ``error`` is set when the run broke off (the target could not be built, the subject raised,
    exited, crashed or hung); it names the call that broke. ``provenance`` records the versions,
    command line and seeds of the run (:mod:`rollcheck.properties.core.provenance`).
    """

    title: str
    target: str
    results: list[PropertyResult] = field(default_factory=list)
    meta: dict = field(default_factory=dict)
    error: "str | None" = None
    started: float = field(default_factory=time.time)
    duration_s: float = 0.0
    provenance: dict = field(default_factory=dict)

    def settle(self) -> "Report":
        """A run that broke off earned no ``held``: turn each into ``error`` (idempotent)."""
        if self.error is not None:
            reason = "not evaluated: " + (self.error.strip().splitlines() or ["the run broke off"])[0]
            for r in self.results:
                r.set_error(reason)
        return self

    def _with(self, status: str) -> list[PropertyResult]:
        self.settle()
        return [r for r in self.results if r.status == status]

    @property
    def held(self) -> list[PropertyResult]:
        return self._with("held")

    @property
    def failed(self) -> list[PropertyResult]:
        return self._with("failed")

    @property
    def skipped(self) -> list[PropertyResult]:
        return self._with("skipped")

    @property
    def errored(self) -> list[PropertyResult]:
        return self._with("error")

    def counts(self) -> dict[str, int]:
        """``{"held", "failed", "skipped", "error", "total"}``: the numbers every rendering shows."""
        self.settle()
        out = {s: sum(r.status == s for r in self.results) for s in STATUSES}
        out["total"] = len(self.results)
        return out

    @property
    def exit_code(self) -> int:
        c = self.counts()
        if c["failed"]:
            return 1
        if c["error"] or self.error is not None or not c["held"]:
            return 2
        return 0

    @property
    def ok(self) -> bool:
        return self.exit_code == 0

    @property
    def verdict(self) -> str:
        """``PASS`` (exit 0), ``FAIL`` (a property failed) or ``ERROR`` (nothing failed, not all earned)."""
        return {0: "PASS", 1: "FAIL"}.get(self.exit_code, "ERROR")

    def count_line(self) -> str:
        """``3 held, 1 failed, 0 error, 2 skipped of 6 properties``: the same words everywhere."""
        c = self.counts()
        return (f"{c['held']} held, {c['failed']} failed, {c['error']} error, {c['skipped']} skipped "
                f"of {c['total']} properties")

    def result(self, pid: str) -> PropertyResult:
        for r in self.results:
            if r.id == pid:
                return r
        raise ArgumentError(f"no result for property {pid!r} in report {self.title!r}")

    # -- renderings ---------------------------------------------------------------------------
    def to_dict(self) -> dict:
        self.settle()
        return _jsonable({"title": self.title, "target": self.target, "verdict": self.verdict, "ok": self.ok,
                          "exit_code": self.exit_code, "counts": self.counts(), "error": self.error,
                          "meta": self.meta, "provenance": self.provenance, "started": self.started,
                          "duration_s": self.duration_s, "results": [asdict(r) for r in self.results]})

    @classmethod
    def from_dict(cls, data: dict) -> "Report":
        """The report :meth:`to_dict` described (values as JSON data); for reports sent between processes."""
        results = []
        for r in data.get("results", []):
            r = dict(r)
            r["findings"] = [Finding(**f) for f in r.get("findings", [])]
            results.append(PropertyResult(**r))
        return cls(title=data["title"], target=data["target"], results=results, meta=dict(data.get("meta", {})),
                   error=data.get("error"), started=data.get("started", time.time()),
                   duration_s=data.get("duration_s", 0.0), provenance=dict(data.get("provenance", {})))

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, allow_nan=False)

    def to_markdown(self) -> str:
        lines = [f"# {self.title}", "", f"- target: `{self.target}`",
                 f"- verdict: **{self.verdict}** ({self.count_line()})",
                 f"- duration: {self.duration_s:.2f} s"]
        for k, v in self.meta.items():
            lines.append(f"- {k}: {_jsonable(v)}")
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
                    # flush left, so the block pastes into `python -` and the interpreter as it is
                    lines += ["", "```python", *pasteable(f.reproducer).splitlines(), "```"]
        not_run = [r for r in self.results if r.status in ("error", "skipped")]
        if not_run:
            lines += ["", "## Not evaluated", ""]
            for r in not_run:
                lines.append(f"- `{r.id}` ({r.status}): {r.error_reason or r.skip_reason or r.status}")
        if self.provenance:
            lines += ["", "## Provenance", ""]
            for k, v in self.provenance.items():
                lines.append(f"- {k}: `{_jsonable(v)}`")
        return "\n".join(lines) + "\n"

    def to_junit_xml(self) -> str:
        c = self.counts()
        lone_error = bool(self.error) and not self.results
        suite = ET.Element("testsuite", name=self.title, tests=str(c["total"] + lone_error),
                           failures=str(c["failed"]), errors=str(c["error"] + lone_error),
                           skipped=str(c["skipped"]), time=f"{self.duration_s:.3f}")
        if lone_error:
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
            elif r.status == "error":
                reason = r.error_reason or "not evaluated"
                ET.SubElement(case, "error", message=reason.splitlines()[0]).text = self.error or reason
        return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(suite, encoding="unicode") + "\n"

    def paths(self, report_dir: "str | Path", stem: str) -> dict[str, Path]:
        """Where :meth:`write` puts the three files."""
        d = Path(report_dir)
        return {"markdown": d / f"{stem}.md", "json": d / f"{stem}.json", "junit": d / f"{stem}.junit.xml"}

    def write(self, report_dir: "str | Path", stem: str) -> dict[str, Path]:
        """Write ``stem.md``, ``stem.json`` and ``stem.junit.xml`` under ``report_dir`` as one unit.

        All three are written to temporaries first and then renamed; on any failure none of the
        previous files is replaced and :class:`ReportWriteError` names the directory and the reason.
        """
        paths = self.paths(report_dir, stem)
        texts = {paths["markdown"]: self.to_markdown(), paths["json"]: self.to_json(),
                 paths["junit"]: self.to_junit_xml()}
        try:
            replace_files({p: t.encode("utf-8") for p, t in texts.items()})
        except OSError as exc:
            raise ReportWriteError(f"cannot write the reports {stem}.{{md,json,junit.xml}} to "
                                   f"{str(report_dir)!r}: {exc.strerror or exc}") from exc
        return paths
