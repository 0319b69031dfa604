"""Hostile recorded files (issue 11 item 5): what is read, how much, and what each refusal says;
and what a file may declare about itself (an exporter's meta block).

Each case is checked both ways: the hostile file is refused (or bounded) with a message naming
what it is, and the well-formed neighbour passes.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import threading
import time
import tracemalloc
import zipfile

import numpy as np
import pytest

from rollcheck.properties.rollout.recorded import validate_rollout_file
from rollcheck.spec import ArgumentError
from rollcheck.spec.strict_json import json_depth, loads_strict

ROW = {"obs": [0.5, 0.25], "action": 1, "reward": 1.0, "terminated": False, "truncated": True, "next_obs": [0.0, 0.0]}


def _good_json(path, rows=(ROW,)):
    path.write_text(json.dumps({"transitions": list(rows)}))
    return path


def _within(seconds, fn):
    out = {}
    thread = threading.Thread(target=lambda: out.update(report=fn()), daemon=True)
    start = time.perf_counter()
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), f"still reading after {seconds} s"
    return out["report"], time.perf_counter() - start


def test_symlink_to_dev_zero_is_refused_without_reading(tmp_path):
    link = tmp_path / "zero.json"
    link.symlink_to("/dev/zero")
    report, took = _within(5, lambda: validate_rollout_file(link, [2], 2))
    assert report.exit_code == 2 and "is a character device" in report.error and took < 2
    assert validate_rollout_file(_good_json(tmp_path / "ok.json"), [2], 2).exit_code == 0


def test_fifo_is_refused_without_blocking(tmp_path):
    fifo = tmp_path / "pipe.json"
    os.mkfifo(fifo)
    report, took = _within(5, lambda: validate_rollout_file(fifo, [2], 2))
    assert report.exit_code == 2 and "FIFO" in report.error and "pass '-'" in report.error and took < 2


def _cli(args, **kw):
    return subprocess.run([sys.executable, "-m", "rollcheck", "rollout", *args], capture_output=True, text=True,
                          timeout=60, **kw)


def test_stdin_dash_is_read_once_and_dev_stdin_pipes_are_refused_clearly(tmp_path):
    good = _good_json(tmp_path / "ok.json").read_text()
    args = ["--obs-shape", "2", "--n-actions", "2", "--report-dir", str(tmp_path / "rep")]
    done = _cli(["-", *args], input=good)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "rep" / "rollout-stdin.json").exists()
    # process substitution and /dev/stdin on a pipe: refused with the way out, not "bad JSON"
    sub = subprocess.run(["bash", "-c", f'{sys.executable} -m rollcheck rollout <(cat {tmp_path / "ok.json"}) '
                          f'--obs-shape 2 --n-actions 2 --report-dir {tmp_path / "rep2"}'],
                         capture_output=True, text=True, timeout=60)
    assert sub.returncode == 2 and "FIFO" in sub.stderr and "rollcheck rollout - <" in sub.stderr
    dev = _cli(["/dev/stdin", *args], input=good)
    assert dev.returncode == 2 and "pass '-'" in dev.stderr and "bad JSON" not in dev.stderr


def test_max_bytes_caps_files_and_stdin(tmp_path, monkeypatch):
    path = _good_json(tmp_path / "ok.json")
    size = path.stat().st_size
    assert validate_rollout_file(path, [2], 2, max_bytes=size).exit_code == 0
    report = validate_rollout_file(path, [2], 2, max_bytes=size - 1)
    assert report.exit_code == 2 and f"more than --max-bytes {size - 1}" in report.error
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(path.read_bytes())))
    report = validate_rollout_file("-", [2], 2, max_bytes=size - 1)
    assert report.exit_code == 2 and "standard input holds more than --max-bytes" in report.error


def test_deep_nesting_is_a_clear_violation_not_a_recursion_error(tmp_path):
    deep = tmp_path / "deep.json"
    deep.write_text('{"transitions": ' + "[" * 100000 + "]" * 100000 + "}")
    report = validate_rollout_file(deep, [2], 2)
    assert report.exit_code == 2 and "nests 100001 levels deep (at most 64 allowed)" in report.error
    assert json_depth('{"a": "[[[\\"[", "b": [[1], {"c": []}]}', 100) == 4  # brackets in strings do not count


def test_duplicate_keys_are_violations_naming_the_key(tmp_path):
    bad = dict(ROW, action=5)
    text = '{"transitions": [' + json.dumps(bad) + '], "transitions": []}'
    (tmp_path / "dup.json").write_text(text)
    report = validate_rollout_file(tmp_path / "dup.json", [2], 2)
    assert report.exit_code == 2 and "duplicate top-level key(s) ['transitions']" in report.error
    row = json.dumps(ROW)[:-1] + ', "action": 0}'
    (tmp_path / "duprow.json").write_text('{"transitions": [' + row + "]}")
    report = validate_rollout_file(tmp_path / "duprow.json", [2], 2)
    assert report.exit_code == 1
    (finding,) = report.result("recorded.transition_schema").findings
    assert "duplicate key `action`" in finding.message and finding.step == 0


@pytest.mark.parametrize("text, ok", [("1", True), ("1.0", True), ("1e0", True), ("0.99999999999999999", False),
                                      ("1.00000000000000001", False), ("1e-400", False)])
def test_actions_are_judged_from_their_text(tmp_path, text, ok):
    row = json.dumps(ROW).replace('"action": 1', f'"action": {text}')
    (tmp_path / "a.json").write_text('{"transitions": [' + row + "]}")
    report = validate_rollout_file(tmp_path / "a.json", [2], 2)
    assert report.exit_code == (0 if ok else 1), report.to_markdown()
    if not ok:
        (finding,) = report.result("recorded.action_in_range").findings
        assert f"exact integer JSON number, got {text}" in finding.message
    assert isinstance(loads_strict("[0.99999999999999999]")[0], float)  # rewards still read as the float


def test_empty_rollouts_are_not_a_vacuous_pass(tmp_path):
    (tmp_path / "e.json").write_text('{"transitions": []}')
    report = validate_rollout_file(tmp_path / "e.json", [2], 2)
    assert report.exit_code == 2 and "holds no transitions" in report.error
    np.savez(tmp_path / "e.npz", obs=np.zeros((0, 2)), actions=np.zeros(0, int), rewards=np.zeros(0),
             terminated=np.zeros(0, bool), truncated=np.zeros(0, bool), next_obs=np.zeros((0, 2)))
    assert validate_rollout_file(tmp_path / "e.npz", [2], 2).exit_code == 2


def _npz_with_member(path, name, header: bytes, payload: bytes, others=True):
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr(f"{name}.npy", header + payload)
        if others:
            for other, arr in {"actions": np.zeros(2, int), "rewards": np.zeros(2), "terminated": np.zeros(2, bool),
                               "truncated": np.zeros(2, bool), "next_obs": np.zeros((2, 4))}.items():
                buf = io.BytesIO()
                np.save(buf, arr)
                zf.writestr(f"{other}.npy", buf.getvalue())


def _header(d, version=(1, 0)):
    buf = io.BytesIO()
    (np.lib.format.write_array_header_1_0 if version == (1, 0) else np.lib.format.write_array_header_2_0)(buf, d)
    return buf.getvalue()


@pytest.mark.parametrize("header, payload, words", [
    (_header({"descr": "<f8", "fortran_order": False, "shape": (10 ** 12, 4)}), b"\0" * 64,
     "claims shape [1000000000000, 4] of float64 (32 TB) but its member holds 64 B"),
    (b"\x93NUMPY\x01\x00\x10\x00{'descr': <f8}   \n", b"", "malformed .npy header"),
    (b"NOTNUMPY" + b"\0" * 8, b"", "not a .npy member (bad magic"),
    (b"\x93NUMPY\x03\x00" + b"\0" * 8, b"", "format version 3.0"),
    (_header({"descr": "|O", "fortran_order": False, "shape": (2, 4)}), b"\0" * 16, "is an object array"),
    (_header({"descr": [("a", "<f8")], "fortran_order": False, "shape": (2, 4)}), b"\0" * 64, "has dtype"),
])
def test_each_npy_problem_is_named_before_any_allocation(tmp_path, header, payload, words):
    path = tmp_path / "h.npz"
    _npz_with_member(path, "obs", header, payload)
    tracemalloc.start()
    try:
        report = validate_rollout_file(path, [4], 2)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert report.exit_code == 2 and words in report.error, report.error
    assert peak < 5 * 2 ** 20


def test_zip_bomb_is_bounded_by_max_bytes_and_streamed_in_bounded_memory(tmp_path):
    n = 1_000_000
    path = tmp_path / "bomb.npz"
    np.savez_compressed(path, obs=np.zeros((n, 4)), actions=np.zeros(n, np.int8), rewards=np.zeros(n, np.float32),
                        terminated=np.zeros(n, bool), truncated=np.zeros(n, bool), next_obs=np.zeros((n, 4)))
    assert path.stat().st_size < 2 * 2 ** 20  # ~70 MB of data
    report = validate_rollout_file(path, [4], 1, max_bytes=50 * 2 ** 20)
    assert report.exit_code == 2 and "declares" in report.error and "decompressed" in report.error
    tracemalloc.start()
    try:
        report = validate_rollout_file(path, [4], 1, chunk_rows=1 << 15)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert report.exit_code == 0 and report.meta["transitions"] == n
    assert peak < 30 * 2 ** 20, peak  # chunks, not the 70 MB of columns


def test_huge_obs_shape_never_allocates(tmp_path):
    np.savez(tmp_path / "s.npz", obs=np.zeros((3, 2)), actions=np.zeros(3, int), rewards=np.zeros(3),
             terminated=np.zeros(3, bool), truncated=np.ones(3, bool), next_obs=np.zeros((3, 2)))
    _good_json(tmp_path / "s.json")
    for name in ("s.npz", "s.json"):
        tracemalloc.start()
        try:
            report = validate_rollout_file(tmp_path / name, [100000, 100000], 2)
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        assert report.exit_code == 1 and peak < 5 * 2 ** 20, (name, peak)
        finding = report.result("recorded.observation_contract").findings[0]
        assert "100000" in finding.message


def test_reports_of_all_bad_files_stay_small_and_counts_exact(tmp_path):
    n = 20000
    rewards = np.full(n, np.nan)
    np.savez(tmp_path / "bad.npz", obs=np.zeros((n, 2)), actions=np.full(n, 9), rewards=rewards,
             terminated=np.zeros(n, bool), truncated=np.ones(n, bool), next_obs=np.zeros((n, 2)))
    report = validate_rollout_file(tmp_path / "bad.npz", [2], 2, max_findings=10, chunk_rows=4096)
    assert report.exit_code == 1 and report.meta["bad_transitions"] == n
    assert report.meta["violations_by_property"] == {"recorded.action_in_range": n, "recorded.reward_contract": n}
    assert all(len(r.findings) <= 10 for r in report.results)
    assert len(report.to_json()) < 40_000 and len(report.to_markdown()) < 40_000
    rows = [dict(ROW, reward=None, action=-1)] * 5000  # JSON rows the spec judges one by one
    _good_json(tmp_path / "bad.json", rows)
    report = validate_rollout_file(tmp_path / "bad.json", [2], 2, max_findings=3)
    assert report.meta["violations_by_property"] == {"recorded.action_in_range": 5000,
                                                     "recorded.reward_contract": 5000}
    assert len(report.to_json()) < 20_000


def test_exporter_meta_block_declares_shape_and_actions(tmp_path):
    doc = {"meta": {"exporter": "torchlean", "obs_shape": [2], "n_actions": 2, "env_id": "CartPole-v1", "seed": 3},
           "transitions": [ROW]}
    (tmp_path / "m.json").write_text(json.dumps(doc))
    report = validate_rollout_file(tmp_path / "m.json")  # no obs_shape, no n_actions: the meta block says
    assert report.exit_code == 0 and report.meta["obs_shape"] == "[2]" and report.meta["n_actions"] == 2
    assert report.meta["exporter_meta"]["env_id"] == "CartPole-v1"
    assert validate_rollout_file(tmp_path / "m.json", [2], 2).exit_code == 0
    report = validate_rollout_file(tmp_path / "m.json", [3], 2)
    assert report.exit_code == 2 and "meta says obs_shape [2] but obs_shape [3] was given" in report.error
    report = validate_rollout_file(tmp_path / "m.json", [2], 5)
    assert report.exit_code == 2 and "meta says n_actions 2 but n_actions 5" in report.error
    doc["meta"] = ["not", "an", "object"]
    (tmp_path / "bad.json").write_text(json.dumps(doc))
    report = validate_rollout_file(tmp_path / "bad.json", [2], 2)
    assert report.exit_code == 2 and "meta block is an object" in report.error
    (tmp_path / "plain.json").write_text(json.dumps({"transitions": [ROW]}))
    with pytest.raises(ArgumentError, match="needs obs_shape and n_actions"):
        validate_rollout_file(tmp_path / "plain.json")
