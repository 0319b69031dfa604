"""Counter-based random numbers: a pure function of ``(seed, counter)``.

Mirrors the role of TorchLean's ``Spec.Random.keyOf seed counter`` / ``Spec.Random.uniform``: the
PPO sampler draws its uniform from an explicit RNG stream identifier, never from global state.

Algorithm (SplitMix64, Steele, Lea & Flood, "Fast splittable pseudorandom number generators",
OOPSLA 2014; constants from Vigna's reference ``splitmix64.c``):

    GOLDEN = 0x9E3779B97F4A7C15
    mix(z):  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9 mod 2**64
             z = (z ^ (z >> 27)) * 0x94D049BB133111EB mod 2**64
             return z ^ (z >> 31)
    random_bits(seed, counter) = mix((seed + (counter + 1) * GOLDEN) mod 2**64)
    uniform(seed, counter)     = (random_bits(seed, counter) >> 11) * 2**-53      # in [0, 1)

So ``random_bits(seed, c)`` is exactly the ``(c + 1)``-th output of the reference SplitMix64
generator started from state ``seed`` (pinned by the published vectors in the tests), and
``uniform`` uses the top 53 bits, giving every double ``k * 2**-53`` with equal probability.

Invariant enforced: ``seed`` and ``counter`` are ints in ``[0, 2**64)``; anything else is
rejected (silently wrapping would alias streams).  One call costs well under a microsecond.
"""

from __future__ import annotations

from .errors import ArgumentError

__all__ = ["GOLDEN_GAMMA", "MASK64", "random_bits", "splitmix64_mix", "uniform"]

MASK64 = (1 << 64) - 1
GOLDEN_GAMMA = 0x9E3779B97F4A7C15
_TWO_POW_MINUS_53 = 2.0 ** -53


def splitmix64_mix(z: int) -> int:
    """SplitMix64's output function (a bijection on 64-bit words)."""
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK64
    return z ^ (z >> 31)


def _check_word(name: str, value: object) -> int:
    if isinstance(value, bool) or not hasattr(value, "__index__"):
        raise ArgumentError(f"{name}={value!r} should be an int in [0, 2**64)")
    v = int(value)  # type: ignore[arg-type]
    if not 0 <= v <= MASK64:
        raise ArgumentError(f"{name}={v} should be in [0, 2**64)")
    return v


def random_bits(seed: int, counter: int) -> int:
    """64 pseudo-random bits for stream ``seed`` at position ``counter``."""
    s = _check_word("seed", seed)
    c = _check_word("counter", counter)
    return splitmix64_mix((s + (c + 1) * GOLDEN_GAMMA) & MASK64)


def uniform(seed: int, counter: int) -> float:
    """A uniform double in ``[0, 1)`` for stream ``seed`` at position ``counter``."""
    return (random_bits(seed, counter) >> 11) * _TWO_POW_MINUS_53
