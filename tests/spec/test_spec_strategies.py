"""properties.strategies: the generators draw what their docstrings promise and reject bad arguments.

Also checks a public-surface invariant of ``rollcheck.spec``: every exported name is the value it
documents (a function or class), not a submodule that happens to share its name.
"""

from __future__ import annotations

import math
import types

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import rollcheck.spec as spec
from rollcheck.properties import strategies as S
from rollcheck.spec import ArgumentError, Rollout, Step, flatten_tensor


def test_public_names_are_not_shadowed_by_submodules():
    assert [n for n in spec.__all__ if isinstance(getattr(spec, n), types.ModuleType)] == []
    assert callable(spec.rollout) and spec.rollout.__module__ == "rollcheck.spec.environment"


@given(S.shapes(max_rank=2, max_side=3, min_side=1))
def test_shapes_respect_their_bounds(dims):
    assert len(dims) <= 2 and all(1 <= d <= 3 for d in dims)


@given(st.data())
def test_shaped_tensors_have_the_shape_and_the_kind_asked_for(data):
    dims = data.draw(S.shapes())
    as_numpy = data.draw(st.sampled_from([None, True, False]))
    value = data.draw(S.shaped_tensors(dims, as_numpy=as_numpy))
    if as_numpy is True:
        assert isinstance(value, np.ndarray) and value.shape == tuple(dims) and value.dtype in (np.float32, np.float64)
    if as_numpy is False:
        assert not isinstance(value, np.ndarray)
    assert len(flatten_tensor(value, dims)) == math.prod(dims)
    finite = data.draw(S.shaped_tensors(dims, finite_only=True))
    assert all(math.isfinite(x) for x in flatten_tensor(finite, dims))


def test_shaped_tensors_reach_the_corner_cases():
    seen: set[str] = set()

    @settings(max_examples=300, database=None, derandomize=True)
    @given(S.shaped_tensors([4]))
    def collect(value):
        for x in np.asarray(value, dtype=np.float64).ravel():
            if math.isnan(x):
                seen.add("nan")
            elif math.isinf(x):
                seen.add("+inf" if x > 0 else "-inf")
            elif x == 0 and math.copysign(1, x) < 0:
                seen.add("-0.0")
            elif x != 0 and abs(x) < 2.2250738585072014e-308:
                seen.add("subnormal")
        seen.add(type(value).__name__ if not isinstance(value, np.ndarray) else str(value.dtype))

    collect()
    assert {"nan", "+inf", "-inf", "-0.0", "subnormal", "list", "float32", "float64"} <= seen


@given(S.transitions([2], 3, well_typed=None))
def test_transitions_label_their_ill_typed_fields(raw):
    assert raw.ill_typed <= {"observation", "next_observation", "action", "reward", "terminated", "truncated"}
    assert raw.kwargs["obs_shape"] == [2] and raw.kwargs["n_actions"] == 3
    if "action" not in raw.ill_typed:
        assert 0 <= raw.action < 3


@given(S.rollouts(obs_shape=[3], n_actions=2, horizon=4))
def test_rollouts_follow_the_requested_sizes(r):
    assert isinstance(r, Rollout) and r.horizon == 4 and r.n_actions == 2 and r.obs_shape.dims == (3,)
    assert all(isinstance(s, Step) and (s.done or not s.terminated) for s in r)


@given(S.logits(3, as_numpy=None))
def test_logits_are_finite_vectors(zs):
    assert len(zs) == 3 and all(math.isfinite(z) and abs(z) <= 1e300 for z in zs)


@given(S.gae_inputs(horizon=5))
def test_gae_inputs_are_consistent(kw):
    assert all(len(kw[k]) == 5 for k in ("rewards", "values", "next_values", "dones", "terminated"))
    assert all(d or not t for d, t in zip(kw["dones"], kw["terminated"])) and 0 <= kw["gamma"] <= 1


@pytest.mark.parametrize("make, needle", [
    (lambda: S.shapes(max_rank=-1), "max_rank=-1 should be at least 0"),
    (lambda: S.shapes(min_rank=3, max_rank=2), "min_rank=3 should be at most max_rank=2"),
    (lambda: S.shapes(max_side=1.5), "max_side=1.5 should be an int"),
    (lambda: S.shaped_tensors([2], finite_only=True, allow_nan=True), "finite_only=True contradicts"),
    (lambda: S.shaped_tensors([-1]), r"shape\[0\]=-1 should be at least 0"),
    (lambda: S.shaped_tensors([2], elements=[1.0]), "elements="),
    (lambda: S.shaped_tensors([2], dtypes=("int8",)), "dtypes="),
    (lambda: S.shaped_tensors([2], as_numpy=1), "as_numpy=1 should be a bool or None"),
    (lambda: S.contracts(exclusive="no"), "exclusive='no'"),
    (lambda: S.transitions([2], 0), "n_actions=0 should be at least 1"),
    (lambda: S.transitions([2], 2, well_typed=1), "well_typed=1"),
    (lambda: S.steps([2], 2, max_magnitude=math.inf), "max_magnitude=inf"),
    (lambda: S.rollouts(horizon=0), "horizon=0 should be at least 1"),
    (lambda: S.logits(0), "n_actions=0 should be at least 1"),
    (lambda: S.logits(max_abs=-1.0), "max_abs=-1.0"),
    (lambda: S.gae_inputs(max_horizon=0), "max_horizon=0 should be at least 1"),
])
def test_bad_arguments_are_rejected_naming_them(make, needle):
    with pytest.raises(ArgumentError, match=needle.replace("(", r"\(").replace(")", r"\)")):
        make()
