"""Counter-based random numbers: TorchLean's ``Spec.Random``, bit for bit.

Mirrors ``Spec.Random`` of TorchLean (``NN/Spec/Core/Random.lean``, imported as
``NN.Spec.Core.Random`` by ``NN/Runtime/RL/Algorithms/PolicyGradient.lean``; lean-dojo/TorchLean,
read at commit 0f845313599795032960d487708c309e1fb2f40e): ``splitmix64``, ``keyOf``, ``nextSeed``,
``sampleNat``, ``sampleUnit`` and the scalar case of ``uniform``. All word arithmetic is ``UInt64``
(mod ``2**64``); ``Nat`` arguments are wrapped by ``UInt64.ofNat`` (mod ``2**64``) first::

    splitmix64 x   = let z1 = x + 0x9e3779b97f4a7c15
                         z2 = (z1 ^ (z1 >> 30)) * 0xbf58476d1ce4e5b9
                         z3 = (z2 ^ (z2 >> 27)) * 0x94d049bb133111eb
                     in z3 ^ (z3 >> 31)
    keyOf s c      = splitmix64 (UInt64.ofNat s + UInt64.ofNat c)
    sampleNat k i d = (splitmix64 (k + UInt64.ofNat i)).toNat % d          (d = 2**32 by default)
    uniform k      = (sampleNat k 0 2**32 : Float) / (2**32 : Float)        (scalar shape)

so the PPO sampler's draw at ``(seed, counter)`` is ``uniform(seed, counter) =
uniform_of_key(key_of(seed, counter))``, a multiple of ``2**-32`` in ``[0, 1)`` (the division is
exact in float64). Known answers (checked in ``tests/spec/test_torchlean_known_answers.py``):
``uniform(0, 0) == 1293516399 / 2**32 == 0.30117025575600564``, ``uniform(42, 7) ==
0.42017563292756677``.

Two properties a reader should know, both TorchLean's own: ``seed`` and ``counter`` enter only
through their sum mod ``2**64`` (``uniform(1, 0) == uniform(0, 1)``), and any non-negative int is
accepted and wrapped (``uniform(2**64, 0) == uniform(0, 0)``). Invariant enforced: arguments are
non-negative ints (Lean ``Nat``; bools and negative numbers are rejected); nothing else is
checked, nothing global is touched.
"""

from __future__ import annotations

from .errors import ArgumentError

__all__ = ["GOLDEN_GAMMA", "MASK64", "UNIFORM_DENOM", "key_of", "next_seed", "sample_nat", "sample_unit",
           "splitmix64", "uniform", "uniform_of_key"]

MASK64 = (1 << 64) - 1
GOLDEN_GAMMA = 0x9E3779B97F4A7C15
UNIFORM_DENOM = 1 << 32  # ``(2:Nat) ^ 32``, the denominator of ``Spec.Random.uniform``


def _nat(name: str, value: object) -> int:
    """A Lean ``Nat`` argument as a Python int (any size); rejects bools, negatives and non-integers."""
    if isinstance(value, bool) or not hasattr(value, "__index__"):
        raise ArgumentError(f"{name}={value!r:.80} should be a non-negative int (Lean Nat)")
    v = int(value)  # type: ignore[arg-type]
    if v < 0:
        raise ArgumentError(f"{name}={v} should be a non-negative int (Lean Nat)")
    return v


def splitmix64(x: int) -> int:
    """TorchLean ``Spec.Random.splitmix64`` on a 64-bit word (the increment is included)."""
    z = (x + GOLDEN_GAMMA) & MASK64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK64
    return z ^ (z >> 31)


def key_of(seed: int, counter: int) -> int:
    """``keyOf seed counter = splitmix64 (UInt64.ofNat seed + UInt64.ofNat counter)``."""
    s = _nat("seed", seed) & MASK64
    c = _nat("counter", counter) & MASK64
    return splitmix64((s + c) & MASK64)


def next_seed(seed: int, counter: int) -> int:
    """``nextSeed seed counter = (splitmix64 (ofNat seed + ofNat counter + 0x9e3779b97f4a7c15)).toNat``."""
    s = _nat("seed", seed) & MASK64
    c = _nat("counter", counter) & MASK64
    return splitmix64((s + c + GOLDEN_GAMMA) & MASK64)


def sample_nat(key: int, linear_index: int, denom: int = UNIFORM_DENOM) -> int:
    """``sampleNat key linearIndex denom = (splitmix64 (key + UInt64.ofNat linearIndex)).toNat % denom``.

    ``denom = 0`` gives the word itself (Lean's ``n % 0 = n``).
    """
    k = _nat("key", key) & MASK64
    i = _nat("linear_index", linear_index) & MASK64
    d = _nat("denom", denom)
    word = splitmix64((k + i) & MASK64)
    return word % d if d else word


def sample_unit(u: int, denom: int) -> float:
    """``sampleUnit u denom = (u : Float) / (denom : Float)`` (``Float.ofNat`` rounds to nearest)."""
    num, den = float(_nat("u", u)), float(_nat("denom", denom))
    if den == 0.0:  # IEEE division, as Lean's Float: u/0 = inf, 0/0 = NaN
        return float("nan") if num == 0.0 else float("inf")
    return num / den


def uniform_of_key(key: int) -> float:
    """``Spec.Random.uniform key`` at the scalar shape: ``sampleUnit (sampleNat key 0 2**32) 2**32``."""
    return sample_unit(sample_nat(key, 0, UNIFORM_DENOM), UNIFORM_DENOM)


def uniform(seed: int, counter: int) -> float:
    """The PPO sampler's uniform for ``(seed, counter)``: ``uniform_of_key(key_of(seed, counter))``."""
    return uniform_of_key(key_of(seed, counter))
