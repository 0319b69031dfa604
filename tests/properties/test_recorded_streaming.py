"""The streaming fast paths of the recorded-file checks equal a row-by-row oracle, whatever the chunking.

The readers hand the checks reused buffers, chunk by chunk; the checks answer "is this chunk
clean?" with a few reductions (the judge's ``*_all_ok``) and compare the chain as machine words.
These tests plant faults (NaN/out-of-range values, broken chains, missing episode ends, flags that
are not exactly 0/1, actions out of range, bitwise-different but equal values: -0.0 vs 0.0, NaNs
with other payloads) and check that every format and every chunk size reports exactly what a
plain Python loop over the rows finds: the same count per property, the same transitions.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from rollcheck.properties.rollout.recorded import validate_rollout_file
from rollcheck.spec import Contract, transition_violations

CONTRACT = Contract(obs_range=(-1.0, 1.0), reward_range=(-1.0, 1.0), require_exclusive_done_flags=True)
OTHER_NAN = np.array([0x7FC00001], dtype=np.uint32).view(np.float32)[0]  # a NaN with another payload
VALUES = [0.0, -0.0, 0.25, -0.5, 0.75, np.nan, OTHER_NAN, np.inf, 2.0, -3.0]
FIELD_PROPERTY = {"action": "recorded.action_in_range", "terminated": "recorded.done_flags",
                  "truncated": "recorded.done_flags", "reward": "recorded.reward_contract",
                  "obs": "recorded.observation_contract", "observation": "recorded.observation_contract",
                  "next_obs": "recorded.next_observation_contract",
                  "next_observation": "recorded.next_observation_contract"}


@st.composite
def recordings(draw, numeric_flags=False):
    n = draw(st.integers(1, 24))
    rng = np.random.default_rng(draw(st.integers(0, 2 ** 32 - 1)))
    ends = rng.random(n) < 0.2
    kind = rng.random(n) < 0.5
    te, tr = ends & kind, ends & ~kind
    obs = np.empty((n, 2), np.float32)
    nxt = rng.uniform(-0.9, 0.9, (n, 2)).astype(np.float32)
    for t in range(n):
        obs[t] = nxt[t - 1] if t and not ends[t - 1] else rng.uniform(-0.9, 0.9, 2)
    actions = rng.integers(0, 2, n)
    rewards = rng.uniform(-1, 1, n).astype(np.float32)
    te_col, tr_col = (te.astype(np.float32), tr.astype(np.float32)) if numeric_flags else (te, tr)
    for _ in range(draw(st.integers(0, 4))):  # planted faults
        t = draw(st.integers(0, n - 1))
        what = draw(st.sampled_from(["obs", "next_obs", "reward", "action", "flag", "end", "both"]))
        v = draw(st.sampled_from(VALUES))
        if what in ("obs", "next_obs"):
            (obs if what == "obs" else nxt)[t, draw(st.integers(0, 1))] = v
        elif what == "reward":
            rewards[t] = v
        elif what == "action":
            actions[t] = draw(st.sampled_from([-1, 2, 7]))
        elif what == "flag" and numeric_flags:
            te_col[t] = draw(st.sampled_from([0.5, np.nan, -0.0, 2.0, 1.0]))
        elif what == "end":  # a missing episode end
            te_col[t] = tr_col[t] = 0
        elif what == "both":
            te_col[t] = tr_col[t] = 1
    return obs, nxt, actions, rewards, te_col, tr_col


def _same(a, b) -> bool:
    return bool(np.all((a == b) | (np.isnan(a) & np.isnan(b))))


def oracle(obs, nxt, actions, rewards, te_col, tr_col):
    """``(count per property, bad transitions, chain-break transitions)``, one row at a time."""
    te, tr = te_col != 0, tr_col != 0  # what the judge sees of numeric flags
    count: dict = {}
    bad = set()
    for i in range(len(actions)):
        fields = {FIELD_PROPERTY[v.field] for v in transition_violations(
            CONTRACT, obs[i], nxt[i], actions[i], rewards[i], bool(te[i]), bool(tr[i]), obs_shape=[2], n_actions=2)}
        for col in (te_col, tr_col):
            if col.dtype != np.bool_ and not (col[i] == 0 or col[i] == 1):
                count["recorded.done_flags"] = count.get("recorded.done_flags", 0) + 1
                bad.add(i)
        for pid in fields:
            count[pid] = count.get(pid, 0) + 1
        if fields:
            bad.add(i)
    chain = {t for t in range(len(actions) - 1) if not (te[t] or tr[t]) and not _same(nxt[t], obs[t + 1])}
    if chain:
        count["recorded.next_obs_chain"] = len(chain)
    return count, bad | chain, chain


def check(path, expected, chunk_rows, box=None):
    count, bad, chain = expected
    report = validate_rollout_file(path, [2], 2, CONTRACT, max_findings=10 ** 6, chunk_rows=chunk_rows)
    assert report.error is None, report.error
    assert report.meta["violations_by_property"] == count
    assert report.meta["bad_transitions"] == len(bad)
    assert set(report.meta["bad_transition_indices"]) == bad
    assert {f.step for f in report.result("recorded.next_obs_chain").findings} == chain
    assert report.exit_code == (1 if count else 0)
    return report


@settings(max_examples=60, deadline=None)
@given(recordings(), st.sampled_from([1, 2, 3, 7, 1000]), st.booleans())
def test_npz_stream_equals_the_row_oracle(tmp_path_factory, rec, chunk_rows, compressed):
    obs, nxt, actions, rewards, te, tr = rec
    path = tmp_path_factory.mktemp("s") / "r.npz"
    (np.savez_compressed if compressed else np.savez)(path, obs=obs, next_obs=nxt, actions=actions, rewards=rewards,
                                                      terminated=te, truncated=tr)
    check(path, oracle(*rec), chunk_rows)


@settings(max_examples=40, deadline=None)
@given(recordings(numeric_flags=True), st.sampled_from([1, 3, 1000]))
def test_d4rl_numeric_flags_stream_equals_the_row_oracle(tmp_path_factory, rec, chunk_rows):
    obs, nxt, actions, rewards, te, tr = rec
    path = tmp_path_factory.mktemp("s") / "r.npz"
    np.savez(path, observations=obs, next_observations=nxt, actions=actions, rewards=rewards, terminals=te,
             timeouts=tr)
    check(path, oracle(*rec), chunk_rows)


@pytest.mark.h5py
@settings(max_examples=30, deadline=None)
@given(recordings(numeric_flags=True), st.sampled_from([1, 3, 1000]), st.booleans(), st.booleans())
def test_hdf5_stream_equals_the_row_oracle_contiguous_and_compressed(tmp_path_factory, rec, chunk_rows, gzip,
                                                                    userblock):
    """Contiguous datasets are read at the offset HDF5 reports (a user block before the HDF5 data
    included), chunked and compressed ones through h5py: the same verdicts."""
    h5py = pytest.importorskip("h5py", reason="optional extra rollcheck[datasets] (h5py) not installed: .ci/run installs the extras and runs these tests under -m extras")
    obs, nxt, actions, rewards, te, tr = rec
    path = tmp_path_factory.mktemp("s") / "r.hdf5"
    extra = {"compression": "gzip", "chunks": True} if gzip else {}
    with h5py.File(path, "w", **({"userblock_size": 512} if userblock else {})) as f:
        for name, col in (("observations", obs), ("next_observations", nxt), ("actions", actions),
                          ("rewards", rewards), ("terminals", te), ("timeouts", tr)):
            f.create_dataset(name, data=col, **extra)
    check(path, oracle(*rec), chunk_rows)


def test_a_break_across_a_chunk_boundary_is_found_and_a_clean_boundary_is_not(tmp_path):
    """The last row of a chunk is kept as a copy: the reused buffer is overwritten by the next chunk."""
    n = 12
    obs = np.arange(n * 2, dtype=np.float32).reshape(n, 2) / 100
    nxt = np.roll(obs, -1, axis=0)
    nxt[-1] = 0.5
    te = np.zeros(n, bool)
    te[-1] = True
    cols = dict(obs=obs, next_obs=nxt, actions=np.zeros(n, np.int64), rewards=np.zeros(n, np.float32),
                terminated=te, truncated=np.zeros(n, bool))
    np.savez(tmp_path / "ok.npz", **cols)
    for chunk_rows in (1, 4, 5, 100):
        assert validate_rollout_file(tmp_path / "ok.npz", [2], 2, CONTRACT, chunk_rows=chunk_rows).exit_code == 0
    nxt[3] = -0.0, 0.5  # row 3 is the last row of the first chunk of 4
    np.savez(tmp_path / "bad.npz", **cols)
    for chunk_rows in (1, 4, 5, 100):
        report = validate_rollout_file(tmp_path / "bad.npz", [2], 2, CONTRACT, chunk_rows=chunk_rows)
        (f,) = report.result("recorded.next_obs_chain").findings
        assert f.step == 3 and report.meta["bad_transitions"] == 1


def test_equal_values_with_other_bits_are_not_a_broken_chain(tmp_path):
    obs = np.array([[0.0, np.nan], [-0.0, OTHER_NAN], [0.5, 0.5]], dtype=np.float32)
    nxt = np.array([[-0.0, OTHER_NAN], [0.5, 0.5], [0.1, 0.1]], dtype=np.float32)
    te = np.array([False, False, True])
    np.savez(tmp_path / "r.npz", obs=obs, next_obs=nxt, actions=np.zeros(3, np.int64), rewards=np.zeros(3),
             terminated=te, truncated=np.zeros(3, bool))
    report = validate_rollout_file(tmp_path / "r.npz", [2], 2, Contract(check_obs_finite=False))
    assert report.exit_code == 0, report.to_markdown()
    assert report.result("recorded.next_obs_chain").findings == []
