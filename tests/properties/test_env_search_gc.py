"""``run_search`` collects garbage less often while it runs and leaves the caller's GC settings as they were."""

from __future__ import annotations

import gc

import pytest
from hypothesis import strategies as st

from rollcheck.properties.env.search import GC_THRESHOLDS, Deadline, run_search
from rollcheck.properties.env.runner import failure


def _search(run):
    return run_search(run, st.integers(0, 100), seed=0, max_examples=20, deadline=Deadline.after(30),
                      shrink_seconds=5, silenced=set())


@pytest.mark.parametrize("theirs", [(700, 10, 10), (100_000, 5, 500), (0, 10, 10)], ids=["default", "higher", "off"])
def test_thresholds_are_raised_inside_and_restored_after(theirs):
    before = gc.get_threshold()
    seen = []
    gc.set_threshold(*theirs)
    try:
        def run(value):
            seen.append(gc.get_threshold())
            if value > 50:
                raise failure("p", "big")

        out = _search(run)
        assert gc.get_threshold() == theirs
        assert "p" in out.failures and seen
        expected = theirs if theirs[0] == 0 else tuple(max(a, b) for a, b in zip(GC_THRESHOLDS, theirs))
        assert set(seen) == {expected}

        def broken(value):
            raise RuntimeError("the harness broke")

        assert isinstance(_search(broken).error, RuntimeError) and gc.get_threshold() == theirs
    finally:
        gc.set_threshold(*before)
