"""Keyed randomness: every random number refsampler uses comes from here. Imports numpy only.

A *key* is a tuple of non-negative ints (the seed first, then a tag naming the purpose, then
the coordinates the numbers serve). :func:`generator` turns a key into a fresh
:class:`numpy.random.Generator` through :class:`numpy.random.SeedSequence`, so streams with
different keys are independent and a stream never depends on which other streams were drawn
before it. Nothing here holds state between calls: every caller owns its generator.

Streams that need many blocks of numbers (a class's member cycles, say) use
:func:`stream_start` once and :func:`block_generator` per block: the stream's PCG64 state
advanced by ``block * 2**64`` outputs, which is far cheaper than a new ``SeedSequence`` per
block and never overlaps (a block draws far fewer than ``2**64`` numbers).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

__all__ = [
    "TAG_CYCLE",
    "TAG_EPOCH_PLAN",
    "TAG_GROUP_ROTATION",
    "TAG_PHASE",
    "TAG_RANDOM",
    "TAG_SHUFFLE",
    "TAG_TIES",
    "TAG_TIE_ROTATION",
    "block_generator",
    "generator",
    "mix64",
    "stream_start",
]

# Purposes. A new purpose takes a new tag; an existing tag never changes meaning, since that
# would change every stream keyed by it.
TAG_CYCLE = 0  #: within-class member cycles: (seed, TAG_CYCLE, class)
TAG_SHUFFLE = 1  #: within-batch shuffles: (seed, TAG_SHUFFLE, epoch, rank, chunk)
TAG_RANDOM = 2  #: random-kind draws: (seed, TAG_RANDOM, epoch, rank, chunk)
TAG_GROUP_ROTATION = 3  #: rounds of a rate group's classes: (seed, TAG_GROUP_ROTATION, ...)
TAG_TIE_ROTATION = 4  #: fixed kind: rounds of the tied classes, (seed, TAG_TIE_ROTATION, ...)
TAG_PHASE = 5  #: the phase of a two-group seat schedule: (seed, TAG_PHASE, ...)
TAG_TIES = 6  #: per-slot random priorities of a PD2 seat schedule: (seed, TAG_TIES, ...)
TAG_EPOCH_PLAN = 7  #: a moving target's per-epoch plan: (seed, TAG_EPOCH_PLAN, epoch, tag, ...)

_GOLDEN = 0x9E3779B97F4A7C15
_MASK64 = (1 << 64) - 1


def _entropy(key: tuple[int, ...]) -> list[int]:
    # SeedSequence pads short entropy with zeros, so (7,) and (7, 0) would be one stream; the
    # key's length in front keeps keys of different lengths apart.
    return [len(key), *key]


def generator(*key: int) -> np.random.Generator:
    """A fresh PCG64 generator keyed by ``key`` (non-negative ints)."""
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence(_entropy(key))))


def stream_start(*key: int) -> tuple[int, int]:
    """The PCG64 ``(state, increment)`` a keyed stream starts from (cache it; it is immutable)."""
    state = np.random.PCG64(np.random.SeedSequence(_entropy(key))).state["state"]
    return int(state["state"]), int(state["inc"])


def block_generator(start: tuple[int, int], block: int) -> np.random.Generator:
    """Generator of block ``block`` of the stream that starts at ``start``.

    The stream's state advanced by ``block * 2**64`` outputs; blocks draw far fewer numbers
    than that, so they are disjoint stretches of one stream.
    """
    bits = np.random.PCG64(0)
    bits.state = {
        "bit_generator": "PCG64",
        "state": {"state": start[0], "inc": start[1]},
        "has_uint32": 0,
        "uinteger": 0,
    }
    bits.advance(block << 64)
    return np.random.Generator(bits)


def mix64(*key: int) -> int:
    """A 64-bit hash of ``key`` (splitmix64 finaliser over the folded key), for cheap
    deterministic priorities where a generator per value would cost too much."""
    x = 0
    for part in key:
        x = (x ^ (part & _MASK64)) * _GOLDEN & _MASK64
        x ^= x >> 30
        x = x * 0xBF58476D1CE4E5B9 & _MASK64
        x ^= x >> 27
        x = x * 0x94D049BB133111EB & _MASK64
        x ^= x >> 31
    return x


def uniform_order(rng: np.random.Generator, size: int, rows: int) -> npt.NDArray[np.int64]:
    """``rows`` independent uniform permutations of ``range(size)``, shape (rows, size)."""
    if rows == 1:
        return rng.permutation(size)[None, :]
    order = np.tile(np.arange(size, dtype=np.int64), (rows, 1))
    return rng.permuted(order, axis=1, out=order)
