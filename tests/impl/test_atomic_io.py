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
