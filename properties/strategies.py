"""Reusable Hypothesis strategies for the values of rollcheck's spec.

Not a TorchLean definition itself: these strategies *generate* the values TorchLean's types talk
about (``Spec.Shape``, ``Tensor Float shape``, ``Boundary.Contract``, raw Gym-style transitions,
``PPO.Step``, ``PPO.Rollout``, logits, GAE columns), so rollcheck's own tests, later work and users'
suites can state properties of :mod:`rollcheck.spec` without re-inventing generators.

Invariants the strategies guarantee (each docstring says what it draws):
- tensors come as nested lists *or* numpy arrays (float32 and float64) and reach the corner cases
  a boundary check must handle: NaN, ±inf, subnormals, ``-0.0``, the largest finite float;
- :func:`transitions` draws *raw* checker inputs and records which fields it made ill-typed
  (:attr:`RawTransition.ill_typed`), so a test knows the expected verdict without asking the spec;
- every argument is validated up front with an :class:`~rollcheck.spec.errors.ArgumentError`
  naming it, e.g. ``ArgumentError: max_rank=-1 should be at least 0``.

References: Hypothesis strategies API, https://hypothesis.readthedocs.io/en/latest/reference/strategies.html.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from rollcheck.spec import Contract, ArgumentError, Rollout, Shape, Step, as_shape, unflatten
from rollcheck.spec.arguments import check_int, check_real

__all__ = ["RawTransition", "SPECIAL_FLOATS", "contracts", "gae_inputs", "logits", "rollouts", "shaped_tensors",
           "shapes", "steps", "transitions"]

#: Corner-case floats every boundary check must get right.
SPECIAL_FLOATS = (0.0, -0.0, 5e-324, -5e-324, 2.2250738585072014e-308, 1.0, -1.0, 1.7976931348623157e308,
                  -1.7976931348623157e308, math.inf, -math.inf, math.nan)

_ILL_TYPED_FIELDS = ("observation", "next_observation", "action", "reward", "terminated", "truncated")


def _nat(name: str, value: Any, least: int = 0) -> int:
    return check_int(name, value, least=least)


def _flag(name: str, value: Any, allow_none: bool = True) -> "bool | None":
    if value is None and allow_none:
        return None
    if not isinstance(value, bool):
        raise ArgumentError(f"{name}={value!r} should be a bool" + (" or None" if allow_none else ""))
    return value


def shapes(max_rank: int = 3, max_side: int = 4, *, min_rank: int = 0, min_side: int = 0) -> st.SearchStrategy[list[int]]:
    """Tensor shapes as lists of ints: rank in ``[min_rank, max_rank]``, sides in ``[min_side, max_side]``.

    The scalar shape ``[]`` is drawn whenever ``min_rank == 0``; sides of 0 (empty tensors) when
    ``min_side == 0``. Use ``Shape.of(s)`` for a :class:`~rollcheck.spec.Shape`.
    """
    _nat("min_rank", min_rank)
    _nat("max_rank", max_rank)
    _nat("min_side", min_side)
    _nat("max_side", max_side)
    if min_rank > max_rank:
        raise ArgumentError(f"min_rank={min_rank} should be at most max_rank={max_rank}")
    if min_side > max_side:
        raise ArgumentError(f"min_side={min_side} should be at most max_side={max_side}")
    return st.lists(st.integers(min_side, max_side), min_size=min_rank, max_size=max_rank)


def _element_floats(width: int, allow_nan: bool, allow_infinity: bool) -> st.SearchStrategy[float]:
    specials = [x for x in SPECIAL_FLOATS
                if (allow_nan or not math.isnan(x)) and (allow_infinity or not math.isinf(x))]
    if width < 64:  # keep only values the narrow dtype represents exactly, add its own extremes
        info = np.finfo(f"float{width}")
        top, tiny = float(info.max), float(info.smallest_subnormal)
        specials = [x for x in specials if math.isnan(x) or math.isinf(x)
                    or (abs(x) <= top and float(np.array(x).astype(info.dtype)) == x)]
        specials += [tiny, -tiny, top, -top]
    return st.one_of(
        st.floats(allow_nan=allow_nan, allow_infinity=allow_infinity, allow_subnormal=True, width=width),
        st.sampled_from(specials),
        st.integers(-3, 3).map(float),  # small values land inside and on the edges of small ranges
    )


def shaped_tensors(shape: "Shape | list[int]", *, as_numpy: "bool | None" = None, allow_nan: "bool | None" = None,
                   allow_infinity: "bool | None" = None, finite_only: bool = False,
                   elements: "st.SearchStrategy[float] | None" = None,
                   dtypes: tuple[str, ...] = ("float32", "float64")) -> st.SearchStrategy[Any]:
    """Tensors of exactly ``shape``: nested lists (``as_numpy=False``), numpy arrays (``True``) or either.

    Nested lists hold Python floats (a bare float for the scalar shape ``[]``); arrays have a dtype
    from ``dtypes``. Elements include NaN and ±inf unless ``allow_nan=False``/``allow_infinity=False``
    or ``finite_only=True``, and always reach subnormals and ``-0.0``. A custom ``elements`` strategy
    is used as given for nested lists and cast to the array's dtype for numpy arrays (a float32
    array may then round or overflow the drawn values — the array *is* the drawn value).
    """
    dims = as_shape(shape, "shape").dims
    _flag("as_numpy", as_numpy)
    _flag("finite_only", finite_only, allow_none=False)
    if finite_only and (allow_nan or allow_infinity):
        raise ArgumentError(f"finite_only=True contradicts allow_nan={allow_nan}, allow_infinity={allow_infinity}")
    nan = (not finite_only) if allow_nan is None else _flag("allow_nan", allow_nan, allow_none=False)
    inf = (not finite_only) if allow_infinity is None else _flag("allow_infinity", allow_infinity, allow_none=False)
    if elements is not None and not isinstance(elements, st.SearchStrategy):
        raise ArgumentError(f"elements={elements!r} should be a Hypothesis strategy")
    if not dtypes or any(d not in ("float16", "float32", "float64") for d in dtypes):
        raise ArgumentError(f"dtypes={dtypes!r} should be a non-empty tuple of 'float16', 'float32', 'float64'")
    size = math.prod(dims)

    def lists(elem: st.SearchStrategy[float]) -> st.SearchStrategy[Any]:
        return st.lists(elem, min_size=size, max_size=size).map(lambda flat: unflatten(flat, Shape(dims)))

    list_strategy = lists(elements if elements is not None else _element_floats(64, nan, inf))

    def array_of(dtype: str) -> st.SearchStrategy[np.ndarray]:
        if elements is not None:
            return lists(elements).map(lambda v: np.array(v, dtype=dtype).reshape(dims))
        width = {"float16": 16, "float32": 32, "float64": 64}[dtype]
        return hnp.arrays(dtype, dims, elements=_element_floats(width, nan, inf), fill=st.nothing())

    array_strategy = st.one_of(*(array_of(d) for d in dtypes))
    if as_numpy is None:
        return st.one_of(list_strategy, array_strategy)
    return array_strategy if as_numpy else list_strategy


def contracts(*, ranges: bool = True, exclusive: "bool | None" = None) -> st.SearchStrategy[Contract]:
    """Valid :class:`~rollcheck.spec.Contract` values.

    Finite-check flags are drawn freely; with ``ranges=True`` each range is ``None`` or a closed
    interval ``(lo, hi)`` with ``lo <= hi`` (infinite bounds and ``lo == hi`` included, bounds
    clustered around small integers so drawn tensors fall inside, outside and on the edge).
    ``exclusive`` fixes ``require_exclusive_done_flags`` (``None`` draws it).
    """
    _flag("ranges", ranges, allow_none=False)
    _flag("exclusive", exclusive)
    bound = st.one_of(st.integers(-3, 3).map(float), st.floats(allow_nan=False),
                      st.sampled_from([-0.0, 5e-324, -5e-324]))
    interval = st.tuples(bound, bound).map(lambda p: (min(p), max(p)))
    rng = st.one_of(st.none(), interval) if ranges else st.none()
    excl = st.booleans() if exclusive is None else st.just(exclusive)
    return st.builds(Contract, check_obs_finite=st.booleans(), check_reward_finite=st.booleans(),
                     obs_range=rng, reward_range=rng, require_exclusive_done_flags=excl)


@dataclass(frozen=True)
class RawTransition:
    """Raw inputs for ``check_transition_fin``/``check_transition`` and the fields made ill-typed.

    ``ill_typed`` names each field deliberately given a value the Lean type would not admit (wrong
    shape, bool where a number belongs, non-integral or out-of-range action, non-bool flag); it is
    empty for a well-typed transition, whose values may still break a contract (NaN, ranges).
    Call the checker as ``check_transition_fin(contract, **raw.kwargs)``.
    """

    observation: Any
    next_observation: Any
    action: Any
    reward: Any
    terminated: Any
    truncated: Any
    obs_shape: list[int]
    n_actions: int
    ill_typed: frozenset[str] = field(default_factory=frozenset)

    @property
    def kwargs(self) -> dict[str, Any]:
        return {"observation": self.observation, "next_observation": self.next_observation,
                "action": self.action, "reward": self.reward, "terminated": self.terminated,
                "truncated": self.truncated, "obs_shape": self.obs_shape, "n_actions": self.n_actions}


def _bad_tensor(dims: tuple[int, ...], as_numpy: "bool | None") -> st.SearchStrategy[Any]:
    """Values that are not a real tensor of shape ``dims``.

    A different shape with every side >= 1 can never be read as ``dims`` (a shape with a side of 0
    could: ``[]`` is a nested list of shape ``[0]`` and of ``[0, 3]``), so wrong shapes avoid 0.
    """
    wrong = shapes(max_rank=3, max_side=3, min_side=1).map(lambda s: s if tuple(s) != dims else s + [2])
    options = [wrong.flatmap(lambda s: shaped_tensors(s, as_numpy=as_numpy)), st.just(None), st.just("0.0")]
    if as_numpy is not False:  # bool and complex arrays are rejected whatever their size
        options += [st.just(np.zeros(dims, dtype=bool)), st.just(np.zeros(dims, dtype=complex))]
    if as_numpy is not True and math.prod(dims) > 0:  # a nested list with a bool leaf
        options.append(st.just(unflatten([0.0] * (math.prod(dims) - 1) + [True], Shape(dims))))
    return st.one_of(*options)


def transitions(obs_shape: "Shape | list[int]", n_actions: int, *, well_typed: "bool | None" = True,
                as_numpy: "bool | None" = None, finite_only: bool = False) -> st.SearchStrategy[RawTransition]:
    """Raw transitions for an environment with ``obs_shape`` observations and ``n_actions`` actions.

    ``well_typed=True`` (default): every field has the right type and shape and the action is in
    ``[0, n_actions)``; values may be NaN/±inf (unless ``finite_only``) so contracts can fail.
    ``well_typed=False``: at least one field is ill-typed (listed in ``ill_typed``); the rest are
    well typed. ``well_typed=None`` draws either.
    """
    dims = as_shape(obs_shape).dims
    _nat("n_actions", n_actions, least=1)
    _flag("well_typed", well_typed)
    _flag("as_numpy", as_numpy)
    _flag("finite_only", finite_only, allow_none=False)
    if well_typed is None:
        return st.one_of(transitions(obs_shape, n_actions, well_typed=True, as_numpy=as_numpy, finite_only=finite_only),
                         transitions(obs_shape, n_actions, well_typed=False, as_numpy=as_numpy, finite_only=finite_only))
    tensor = shaped_tensors(list(dims), as_numpy=as_numpy, finite_only=finite_only)
    reward = _element_floats(64, not finite_only, not finite_only)
    if not finite_only:  # make the non-finite rewards common enough to matter in 60 examples
        reward = st.one_of(reward, st.sampled_from([math.nan, math.inf, -math.inf]))
    good = {"observation": tensor, "next_observation": tensor,
            "action": st.integers(0, n_actions - 1), "reward": reward,
            "terminated": st.booleans(), "truncated": st.booleans()}
    if as_numpy is not False:
        good["reward"] = st.one_of(reward, reward.map(np.float64), st.integers(-3, 3).map(np.int64))
        good["terminated"] = st.one_of(st.booleans(), st.booleans().map(np.bool_))
    bad_flag = st.sampled_from([0, 1, None, "True", 1.0])
    bad = {"observation": _bad_tensor(dims, as_numpy), "next_observation": _bad_tensor(dims, as_numpy),
           "action": st.one_of(st.integers(n_actions, n_actions + 10**20), st.integers(-(10**20), -1),
                               st.sampled_from([0.5, 1.5, -1.0, math.nan, math.inf, True, False, None, "1",
                                                [0], np.array([0]), 1 + 0j])),
           "reward": st.sampled_from([True, False, None, "1.0", [1.0], 1 + 0j, np.array([1.0]), np.bool_(True)]),
           "terminated": bad_flag, "truncated": bad_flag}

    @st.composite
    def draw(data) -> RawTransition:
        chosen: frozenset[str] = frozenset()
        if not well_typed:
            chosen = frozenset(data(st.sets(st.sampled_from(_ILL_TYPED_FIELDS), min_size=1)))
        values = {name: data(bad[name] if name in chosen else good[name]) for name in _ILL_TYPED_FIELDS}
        return RawTransition(**values, obs_shape=list(dims), n_actions=n_actions, ill_typed=chosen)

    return draw()


def steps(obs_shape: "Shape | list[int]", n_actions: int, *, dtypes: tuple[str, ...] = ("float32", "float64"),
          max_magnitude: float = 1e6) -> st.SearchStrategy[Step]:
    """Valid :class:`~rollcheck.spec.Step` records: finite state of ``obs_shape``, action in range,
    finite floats bounded by ``max_magnitude``, and ``terminated → done``."""
    dims = as_shape(obs_shape).dims
    _nat("n_actions", n_actions, least=1)
    if not (isinstance(max_magnitude, (int, float)) and 0 < max_magnitude < math.inf):
        raise ArgumentError(f"max_magnitude={max_magnitude!r} should be a positive finite number")
    num = st.floats(-max_magnitude, max_magnitude, allow_subnormal=True)
    flags = st.sampled_from([(False, False), (True, False), (True, True)])  # (done, terminated)
    return st.builds(
        lambda state, a, lp, r, v, nv, fl: Step(state=state, action=a, old_log_prob=lp, reward=r, done=fl[0],
                                                value=v, next_value=nv, terminated=fl[1]),
        shaped_tensors(list(dims), as_numpy=True, finite_only=True, dtypes=dtypes).map(
            lambda a: np.clip(a, -max_magnitude, max_magnitude)),
        st.integers(0, n_actions - 1), st.floats(-50.0, 0.0), num, num, num, flags)


def rollouts(obs_shape: "Shape | list[int] | None" = None, n_actions: "int | None" = None, *,
             horizon: "int | None" = None, max_horizon: int = 8, max_magnitude: float = 1e6) -> st.SearchStrategy[Rollout]:
    """Valid :class:`~rollcheck.spec.Rollout` values (``n_actions`` and ``obs_shape`` recorded).

    Unspecified ``obs_shape``/``n_actions``/``horizon`` are drawn (shapes of rank ≤ 2, sides 1..3;
    ``n_actions`` in 1..5; ``horizon`` in ``1..max_horizon``).
    """
    _nat("max_horizon", max_horizon, least=1)
    if horizon is not None:
        _nat("horizon", horizon, least=1)
    if n_actions is not None:
        _nat("n_actions", n_actions, least=1)
    shape_s = shapes(max_rank=2, max_side=3, min_side=1) if obs_shape is None else st.just(list(as_shape(obs_shape).dims))
    n_s = st.integers(1, 5) if n_actions is None else st.just(n_actions)
    h_s = st.integers(1, max_horizon) if horizon is None else st.just(horizon)

    @st.composite
    def draw(data) -> Rollout:
        shape, n, h = data(shape_s), data(n_s), data(h_s)
        items = data(st.lists(steps(shape, n, max_magnitude=max_magnitude), min_size=h, max_size=h))
        return Rollout(steps=items, horizon=h, n_actions=n, obs_shape=shape)

    return draw()


def logits(n_actions: "int | None" = None, *, max_actions: int = 8, max_abs: float = 1e300,
           as_numpy: "bool | None" = False) -> st.SearchStrategy[Any]:
    """Finite logit vectors of length ``n_actions`` (drawn in ``1..max_actions`` if ``None``).

    Entries lie in ``[-max_abs, max_abs]`` and reach both ends (±1e300 by default), and vectors
    include near-ties (equal entries and neighbours a few ulps apart). ``as_numpy`` as in
    :func:`shaped_tensors` (numpy vectors are float64).
    """
    _nat("max_actions", max_actions, least=1)
    if n_actions is not None:
        _nat("n_actions", n_actions, least=1)
    max_abs = check_real("max_abs", max_abs, positive=True, finite=True)
    _flag("as_numpy", as_numpy)
    base = st.floats(-max_abs, max_abs)
    entry = st.one_of(base, st.sampled_from([0.0, -0.0, float(max_abs), -float(max_abs)]),
                      st.floats(-min(max_abs, 50.0), min(max_abs, 50.0)))
    size = st.integers(1, max_actions) if n_actions is None else st.just(n_actions)

    @st.composite
    def draw(data) -> Any:
        n = data(size)
        if n >= 2 and data(st.booleans()):  # near-tie: nudge copies of one value by a few ulps
            x = data(base)
            vec = [x] * n
            for i in range(n):
                for _ in range(data(st.integers(0, 2))):
                    vec[i] = math.nextafter(vec[i], math.inf if data(st.booleans()) else -math.inf)
            vec = [min(max(v, -max_abs), max_abs) for v in vec]
        else:
            vec = data(st.lists(entry, min_size=n, max_size=n))
        numpy = data(st.booleans()) if as_numpy is None else as_numpy
        return np.array(vec, dtype=np.float64) if numpy else vec

    return draw()


def gae_inputs(*, horizon: "int | None" = None, max_horizon: int = 10, max_magnitude: float = 100.0,
               discounts: bool = True) -> st.SearchStrategy[dict[str, Any]]:
    """Keyword arguments for ``generalized_advantage_estimation``.

    ``gamma``, ``lam`` in ``[0, 1]`` (edges included; with ``discounts=False`` both are 1), finite
    columns bounded by ``max_magnitude``, and ``terminated[t] → dones[t]``.
    """
    _nat("max_horizon", max_horizon, least=1)
    if horizon is not None:
        _nat("horizon", horizon, least=1)
    if not (isinstance(max_magnitude, (int, float)) and 0 < max_magnitude < math.inf):
        raise ArgumentError(f"max_magnitude={max_magnitude!r} should be a positive finite number")
    unit = st.one_of(st.sampled_from([0.0, 0.5, 0.9, 0.99, 1.0]), st.floats(0.0, 1.0)) if discounts else st.just(1.0)
    num = st.floats(-max_magnitude, max_magnitude)
    h_s = st.integers(1, max_horizon) if horizon is None else st.just(horizon)

    @st.composite
    def draw(data) -> dict[str, Any]:
        h = data(h_s)
        col = st.lists(num, min_size=h, max_size=h)
        flags = data(st.lists(st.sampled_from([(False, False), (True, False), (True, True)]), min_size=h, max_size=h))
        return {"gamma": data(unit), "lam": data(unit), "rewards": data(col), "values": data(col),
                "next_values": data(col), "dones": [d for d, _ in flags], "terminated": [t for _, t in flags]}

    return draw()
