"""The interchange JSON reader streams: batches cut at the array's own commas, each parsed by the
strict parser, memory bounded by a block and a batch. Both ways: it reports exactly what the
whole-document reader reports (a UTF-8 BOM sends the same text down the whole-document path), on
clean and on bad files, with every strictness rule (duplicate keys, numbers from their text, NaN
tokens, depth) landing in any batch; malformed text is an error worded as before."""

from __future__ import annotations

import json
import tracemalloc

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from rollcheck.properties.rollout.readers.json_stream import open_layout
from rollcheck.properties.rollout.readers.source import open_source
from rollcheck.properties.rollout.recorded import validate_rollout_file
from rollcheck.spec import Contract

ROW = {"obs": [0.5, 0.25], "action": 1, "reward": 1.0, "terminated": False, "truncated": False,
       "next_obs": [0.5, 0.25]}
CONTRACT = Contract(reward_range=(-1.0, 1.0), require_exclusive_done_flags=True)


def _summary(report):
    return (report.exit_code, report.error, report.meta.get("transitions"), report.meta.get("violations_by_property"),
            report.meta.get("bad_transitions"), report.meta.get("bad_transition_indices"),
            sorted((r.id, f.message) for r in report.results for f in r.findings))


def _both_ways(tmp_path, text, chunk_rows, **kw):
    """(streamed report, whole-document report) of the same document text."""
    (tmp_path / "s.json").write_bytes(text.encode())
    (tmp_path / "w.json").write_bytes(b"\xef\xbb\xbf" + text.encode())  # a BOM: the whole-document reader
    assert open_layout(open_source(tmp_path / "w.json")) is None
    return (validate_rollout_file(tmp_path / "s.json", [2], 2, CONTRACT, chunk_rows=chunk_rows, **kw),
            validate_rollout_file(tmp_path / "w.json", [2], 2, CONTRACT, **kw))


def _rows(n, seed=0):
    rng = np.random.default_rng(seed)
    rows, obs = [], [0.0, 0.0]
    for t in range(n):
        nxt = [round(float(x), 3) for x in rng.uniform(-1, 1, 2)]
        done = bool(rng.random() < 0.2)
        rows.append({"obs": obs, "action": int(rng.integers(2)), "reward": 0.5, "terminated": done,
                     "truncated": False, "next_obs": nxt})
        obs = [0.0, 0.0] if done else nxt
    return rows


FAULTS = [
    ('"action": 1', '"action": 0.99999999999999999'),   # judged from its text
    ('"action": 1', '"action": 1.0'),                   # an exact integer: fine
    ('"reward": 0.5', '"reward": NaN'),                 # a NaN token
    ('"reward": 0.5', '"reward": 0.5, "reward": 0.5'),  # a repeated key
    ('"obs": [', '"obs": ["]", '),                      # a string holding a bracket: not a cut
    ('"terminated": false', '"terminated": true, "truncated": true'),  # both flags (exclusive)
    ('"next_obs": [', '"next_obs": [9, '),              # a broken chain, and the wrong shape
]


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 30), st.lists(st.tuples(st.integers(0, 29), st.sampled_from(FAULTS)), max_size=4),
       st.sampled_from([1, 2, 5, 64]), st.sampled_from(["", " ", "\n  "]), st.booleans())
def test_streamed_reports_equal_the_whole_document_reader(tmp_path_factory, n, faults, chunk_rows, space, meta_last):
    rows = [json.dumps(r) for r in _rows(n)]
    for i, (old, new) in faults:
        if i < n:
            rows[i] = rows[i].replace(old, new, 1)
    body = f'"transitions":{space}[{space}' + f",{space}".join(rows) + f"{space}]"
    meta = '"meta": {"obs_shape": [2], "note": "a } ] , \\" : [ in a string"}'
    text = "{" + (f"{body}, {meta}" if meta_last else f"{meta},{space}{body}") + "}"
    streamed, whole = _both_ways(tmp_path_factory.mktemp("j"), text, chunk_rows)
    assert _summary(streamed) == _summary(whole)


@pytest.mark.parametrize("text, words", [
    ('{"transitions": [' + json.dumps(ROW) + ', tru]}', "bad JSON"),
    ('{"transitions": [' + json.dumps(ROW) + ',]}', "bad JSON"),
    ('{"transitions": [' + json.dumps(ROW) + ']} x', "bad JSON"),
    ('{"transitions": [' + json.dumps(ROW) + '], "transitions": []}', "duplicate top-level key(s) ['transitions']"),
    ('{"transitions": {}}', "must be an array"),
    ('{"steps": []}', "missing required field `transitions`"),
    ('[' + json.dumps(ROW) + ']', "top-level JSON must be an object"),
    ('{"transitions": [' + "[" * 70 + "]" * 70 + ']}', "levels deep (at most 64 allowed)"),
])
def test_malformed_documents_are_errors_worded_as_the_whole_document_reader_words_them(tmp_path, text, words):
    streamed, whole = _both_ways(tmp_path, text, 1)
    assert streamed.exit_code == whole.exit_code == 2
    assert words in whole.error and streamed.error == whole.error


def test_memory_is_a_batch_not_the_document(tmp_path):
    rows = _rows(40000)
    path = tmp_path / "big.json"
    path.write_text(json.dumps({"transitions": rows}))
    del rows
    tracemalloc.start()
    try:
        report = validate_rollout_file(path, [2], 2, CONTRACT, chunk_rows=1000)
        streamed = tracemalloc.get_traced_memory()[1]
        tracemalloc.reset_peak()
        json.loads(path.read_bytes())  # what holding the document costs
        whole = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert report.exit_code == 0 and report.meta["transitions"] == 40000, report.to_markdown()
    assert streamed < whole / 3, (streamed, whole)
