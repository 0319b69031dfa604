"""The collector's quick whole-batch contract test never passes a batch the spec would refuse.

``_batch_clean`` decides, per vector step, whether the spec must look at the step's rows. It must
be *sound* (clean ⇒ no row violates the contract; otherwise a bad transition would be recorded)
and, for well-typed batches, *exact* (no row violates ⇒ clean; otherwise the hot path is slow).
The oracle is :func:`rollcheck.spec.transition_violations` on every row.
"""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from rollcheck.impl.contract_judge import column_bad_mask
from rollcheck.impl.vector_collect import _batch_clean
from rollcheck.properties.strategies import SPECIAL_FLOATS
from rollcheck.spec import Contract, transition_violations

special = st.sampled_from([0.0, -0.0, 1.0, -1.0, 0.1, 1e308, -1e308, 5e-324, np.nan, np.inf, -np.inf])
value = st.one_of(special, st.floats(-10, 10))
bounds = st.one_of(st.none(), st.tuples(st.floats(-5, 5), st.floats(0, 5)).map(lambda p: (p[0], p[0] + p[1])))
contracts = st.builds(Contract, check_obs_finite=st.booleans(), check_reward_finite=st.booleans(),
                      obs_range=bounds, reward_range=bounds, require_exclusive_done_flags=st.booleans())


@st.composite
def steps(draw):
    n = draw(st.integers(1, 5))
    k = draw(st.integers(1, 3))
    obs_dtype = draw(st.sampled_from([np.float64, np.float32]))
    next_raw = np.array(draw(st.lists(value, min_size=n * k, max_size=n * k)), dtype=np.float64)
    with np.errstate(over="ignore"):
        next_raw = next_raw.astype(obs_dtype).reshape(n, k)
    rew_dtype = draw(st.sampled_from([np.float64, np.float32, np.int64]))
    if rew_dtype == np.int64:
        rew = np.array(draw(st.lists(st.integers(-10, 10), min_size=n, max_size=n)), dtype=np.int64)
    else:
        with np.errstate(over="ignore"):
            rew = np.array(draw(st.lists(value, min_size=n, max_size=n)), dtype=np.float64).astype(rew_dtype)
    te = np.array(draw(st.lists(st.booleans(), min_size=n, max_size=n)))
    tr = np.array(draw(st.lists(st.booleans(), min_size=n, max_size=n)))
    return next_raw, rew, te, tr


@given(contracts, steps())
def test_batch_clean_is_exactly_no_row_violates_the_spec(contract, step):
    next_raw, rew, te, tr = step
    n, k = next_raw.shape
    good_obs = np.zeros(k)
    if contract.obs_range is not None:
        good_obs[:] = contract.obs_range[0]
    spec_clean = all(
        not transition_violations(contract, good_obs, next_raw[i], 0, rew[i], te[i], tr[i], obs_shape=[k], n_actions=1)
        for i in range(n))
    assert _batch_clean(contract, next_raw.astype(np.float64), rew, te, tr, n) == spec_clean


def test_ill_typed_columns_are_never_clean():
    ok = (np.zeros((2, 1)), np.zeros(2), np.zeros(2, bool), np.zeros(2, bool))
    assert _batch_clean(Contract(), *ok, 2)
    assert not _batch_clean(Contract(), ok[0], np.zeros(2, bool), ok[2], ok[3], 2)      # bool reward
    assert not _batch_clean(Contract(), ok[0], ok[1], np.zeros(2), ok[3], 2)             # float flags
    assert not _batch_clean(Contract(), ok[0], [0.0, 0.0], ok[2], ok[3], 2)              # not an array
    assert not _batch_clean(Contract(), ok[0], np.zeros(3), ok[2], ok[3], 2)             # wrong length


# The per-step quick verdict: the scalar predicates used for a few sub-envs (n <= 64) and the masks
# used for more agree with the judge's masks, for every reward dtype
@given(contracts, st.one_of(st.integers(1, 9), st.integers(60, 70)), st.sampled_from(["float64", "float32", "float16", "int64", "bool"]),
       st.data())
def test_small_batch_quick_verdict_is_the_mask_verdict(contract, n, reward_dtype, data):
    values = st.one_of(st.floats(-3, 3), st.sampled_from(SPECIAL_FLOATS))
    nxt = np.array(data.draw(st.lists(values, min_size=2 * n, max_size=2 * n)), dtype=np.float64).reshape(n, 2)
    with np.errstate(over="ignore", invalid="ignore"):
        rew = np.array(data.draw(st.lists(values, min_size=n, max_size=n)), dtype=np.float64)
        rew = np.nan_to_num(rew).astype(reward_dtype) if reward_dtype in ("int64", "bool") else rew.astype(reward_dtype)
    te = np.array(data.draw(st.lists(st.booleans(), min_size=n, max_size=n)))
    tr = np.array(data.draw(st.lists(st.booleans(), min_size=n, max_size=n)))
    nxt.setflags(write=False)
    masks = not column_bad_mask(contract, obs_shape=(2,), next_observation=nxt, reward=rew, terminated=te,
                                truncated=tr).any()
    assert _batch_clean(contract, nxt, rew, te, tr, n) == masks
