"""Atomic writes: a file is written whole or not at all, with ordinary permissions."""

import os

import pytest

from rollcheck.impl import atomic_io
from rollcheck.impl.atomic_io import atomic_write_bytes, atomic_write_text


def test_writes_whole_file_and_creates_parents(tmp_path):
    target = tmp_path / "a" / "b" / "report.md"
    assert atomic_write_text(target, "héllo\n") == target
    assert target.read_text(encoding="utf-8") == "héllo\n"
    assert os.listdir(target.parent) == ["report.md"]


def test_mode_follows_umask_not_mkstemp(tmp_path):
    old = os.umask(0o022)
    try:
        path = atomic_write_bytes(tmp_path / "r.json", b"{}")
    finally:
        os.umask(old)
    assert os.stat(path).st_mode & 0o777 == 0o644


def test_failed_replace_keeps_old_file_and_leaves_no_temp(tmp_path, monkeypatch):
    target = tmp_path / "r.json"
    target.write_text("old")

    def boom(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(atomic_io.os, "replace", boom)
    with pytest.raises(OSError, match="disk full"):
        atomic_write_text(target, "new")
    assert target.read_text() == "old"
    assert os.listdir(tmp_path) == ["r.json"]


def test_interrupt_during_write_leaves_no_partial_file(tmp_path, monkeypatch):
    target = tmp_path / "r.md"

    def interrupted(fd):
        raise KeyboardInterrupt

    monkeypatch.setattr(atomic_io.os, "fsync", interrupted)
    with pytest.raises(KeyboardInterrupt):
        atomic_write_text(target, "x" * 10_000)
    assert not target.exists()
    assert os.listdir(tmp_path) == []


def test_replace_files_is_all_or_nothing(tmp_path, monkeypatch):
    old = {tmp_path / n: f"old {n}" for n in ("a.md", "a.json", "a.junit.xml")}
    for p, text in old.items():
        p.write_text(text)
    real, calls = os.replace, []

    def second_fails(src, dst):
        calls.append(dst)
        if len(calls) == 2:
            raise OSError(28, "No space left on device")
        return real(src, dst)

    monkeypatch.setattr(atomic_io.os, "replace", second_fails)
    with pytest.raises(OSError, match="No space left"):
        atomic_io.replace_files({p: b"new" for p in old})
    assert {p: p.read_text() for p in old} == old
    assert sorted(os.listdir(tmp_path)) == sorted(p.name for p in old)


def test_replace_files_removes_paths_mapped_to_none(tmp_path):
    (tmp_path / "run.rollout.json").write_text("stale rollout")
    atomic_io.replace_files({tmp_path / "run.summary.json": b"{}", tmp_path / "run.rollout.json": None})
    assert sorted(os.listdir(tmp_path)) == ["run.summary.json"]


def test_write_failure_replaces_nothing(tmp_path, monkeypatch):
    (tmp_path / "a.md").write_text("old")
    real = atomic_io.os.fdopen

    def full_disk(fd, *a, **k):
        fh = real(fd, *a, **k)
        if len(os.listdir(tmp_path)) >= 3:   # the second temporary
            fh.close()
            raise OSError(28, "No space left on device")
        return fh

    monkeypatch.setattr(atomic_io.os, "fdopen", full_disk)
    with pytest.raises(OSError):
        atomic_io.replace_files({tmp_path / "a.md": b"new", tmp_path / "a.json": b"new"})
    assert os.listdir(tmp_path) == ["a.md"] and (tmp_path / "a.md").read_text() == "old"
