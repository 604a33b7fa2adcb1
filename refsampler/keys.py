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

import functools
from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = [
    "FEISTEL_ROUNDS",
    "TAG_CYCLE",
    "TAG_EPOCH_PLAN",
    "TAG_GROUP_ROTATION",
    "TAG_PHASE",
    "TAG_RANDOM",
    "TAG_SHUFFLE",
    "TAG_TIES",
    "TAG_TIE_ROTATION",
    "block_generator",
    "feistel_keys",
    "feistel_permute",
    "generator",
    "mix64",
    "mix_words",
    "seat",
    "start_of",
    "stream_start",
    "stream_words",
]

# Purposes. A new purpose takes a new tag; an existing tag never changes meaning, since that
# would change every stream keyed by it.
TAG_CYCLE = 0  #: within-class member cycles: (seed, TAG_CYCLE, class)
TAG_SHUFFLE = 1  #: within-batch shuffles of counted kinds: (seed, TAG_SHUFFLE, epoch, rank, chunk)
TAG_RANDOM = 2  #: random-kind draws: (seed, TAG_RANDOM, epoch, rank, chunk)
TAG_GROUP_ROTATION = 3  #: rounds of a rate group's classes: (seed, TAG_GROUP_ROTATION, ...)
TAG_TIE_ROTATION = 4  #: fixed kind: rounds of the tied classes, (seed, TAG_TIE_ROTATION, ...)
TAG_PHASE = 5  #: the phase of a two-group seat schedule: (seed, TAG_PHASE, ...)
TAG_TIES = 6  #: per-slot random priorities of a PD2 seat schedule: (seed, TAG_TIES, ...)
TAG_EPOCH_PLAN = 7  #: a moving target's per-epoch plan: (seed, TAG_EPOCH_PLAN, epoch, tag, ...)

_GOLDEN = 0x9E3779B97F4A7C15
_MASK64 = (1 << 64) - 1
#: Rounds of the keyed Feistel bijection of :func:`feistel_permute`.
FEISTEL_ROUNDS = 4
_M1_INT, _M2_INT = 0xBF58476D1CE4E5B9, 0x94D049BB133111EB
_M1, _M2 = np.uint64(_M1_INT), np.uint64(_M2_INT)
_S29, _S32 = np.uint64(29), np.uint64(32)
#: Cycle walks left for this few values run on Python ints.
_WALK_IN_PYTHON = 8


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


def stream_words(seed: int, tag: int, ids: npt.NDArray[np.int64]) -> npt.NDArray[np.uint64]:
    """The words of the PCG64 starts of the streams keyed ``(seed, tag, id)``, for many ids
    at once: splitmix64 over a counter per (id, word), vectorised, shape (4, len(ids));
    :func:`start_of` reads one start. Two orders of magnitude cheaper than
    :func:`stream_start` when thousands of streams start together (every class's member
    cycles); the two derivations give different streams, and each purpose uses one only."""
    base = np.uint64(mix64(seed, tag))
    counters = np.asarray(ids, dtype=np.uint64) * np.uint64(4)
    words = np.empty((4, counters.size), dtype=np.uint64)
    for j in range(4):
        words[j] = mix_words((counters + np.uint64(j)) * np.uint64(_GOLDEN) + base)
    return words


def mix_words(z: npt.NDArray[np.uint64]) -> npt.NDArray[np.uint64]:
    """The splitmix64 finaliser of every word of ``z`` (a new array): a bijection of 64-bit
    words in which every input bit moves every output bit, so the order of the outputs of
    distinct inputs is as good as random (the order of ``z XOR key`` alone is not: inputs
    that share leading bits would always stay together)."""
    z = (z ^ (z >> np.uint64(30))) * _M1
    z = (z ^ (z >> np.uint64(27))) * _M2
    return z ^ (z >> np.uint64(31))


def start_of(words: npt.NDArray[np.uint64], i: int) -> tuple[int, int]:
    """The PCG64 ``(state, increment)`` of stream ``i`` of :func:`stream_words`."""
    # .item(): one Python int each, without a column copy (a hot path: once per class block)
    a, b, c, d = words.item(0, i), words.item(1, i), words.item(2, i), words.item(3, i)
    return (a << 64) | b, ((c << 64) | d) | 1


def block_generator(start: tuple[int, int], block: int) -> np.random.Generator:
    """Generator of block ``block`` of the stream that starts at ``start``.

    The stream's state advanced by ``block * 2**64`` outputs; blocks draw far fewer numbers
    than that, so they are disjoint stretches of one stream.
    """
    bits = np.random.PCG64(0)
    seat(bits, start, block)
    return np.random.Generator(bits)


def seat(bits: np.random.PCG64, start: tuple[int, int], block: int) -> None:
    """Put ``bits`` at block ``block`` of the stream that starts at ``start`` (what
    :func:`block_generator` reads), so a caller can reuse one bit generator for many blocks."""
    bits.state = {
        "bit_generator": "PCG64",
        "state": {"state": start[0], "inc": start[1]},
        "has_uint32": 0,
        "uinteger": 0,
    }
    bits.advance(block << 64)


def mix64(*key: int) -> int:
    """A 64-bit hash of ``key`` (splitmix64 finaliser over the folded key), for cheap
    deterministic priorities where a generator per value would cost too much."""
    x = 0
    for part in key:
        x = _fold(x, part)
    return x


def _fold(x: int, part: int) -> int:
    """One step of :func:`mix64`: fold ``part`` into the state ``x``."""
    x = (x ^ (part & _MASK64)) * _GOLDEN & _MASK64
    x ^= x >> 30
    x = x * _M1_INT & _MASK64
    x ^= x >> 27
    x = x * _M2_INT & _MASK64
    return x ^ (x >> 31)


def uniform_order(rng: np.random.Generator, size: int, rows: int) -> npt.NDArray[np.int64]:
    """``rows`` independent uniform permutations of ``range(size)``, shape (rows, size)."""
    if rows == 1:
        return rng.permutation(size)[None, :]
    order = np.empty((rows, size), dtype=np.int64)
    order[:] = np.arange(size, dtype=np.int64)  # np.tile's Python overhead, spared per block
    return rng.permuted(order, axis=1, out=order)


def feistel_keys(*key: int) -> npt.NDArray[np.uint64]:
    """The :data:`FEISTEL_ROUNDS` round keys of the bijection keyed by ``key``:
    ``mix64(*key, j)`` for round ``j`` (read-only; cached, since every block of a lazily read
    cycle needs its cycle's keys)."""
    return _feistel_keys(key)


@functools.lru_cache(maxsize=1 << 12)
def _feistel_keys(key: tuple[int, ...]) -> npt.NDArray[np.uint64]:
    x = mix64(*key)  # the rounds share the key's prefix of the fold
    out = np.array([_fold(x, j) for j in range(FEISTEL_ROUNDS)], dtype=np.uint64)
    out.flags.writeable = False
    return out


def _digits(sizes: npt.NDArray[np.int64]) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """The digits of :func:`feistel_permute`'s network over ``range(size)``: ``s`` and ``a``,
    with ``2**s`` the least power of two whose square is at least ``size`` (``s >= 1``) and
    ``a = ceil(size / 2**s)``, so the network runs over ``a * 2**s < size + 2**s`` values."""
    # s = ceil(bits / 2), bits the bit length of max(size - 1, 1) and at least 2, read from
    # the float's exponent field (exact below 2**53).
    exponent = np.maximum(sizes - 1, 1).astype(np.float64).view(np.int64) >> 52
    s = np.maximum(exponent - 1021, 3) >> 1  # bits = exponent - 1022
    return s, ((sizes - 1) >> s) + 1


def feistel_permute(
    values: npt.NDArray[np.int64],
    size: int | npt.NDArray[np.int64],
    round_keys: npt.NDArray[np.uint64],
    which: npt.NDArray[np.int64] | None = None,
) -> npt.NDArray[np.int64]:
    """Keyed pseudo-random permutations of ``range(size)``, applied to ``values``.

    An alternating Feistel network over mixed radices: ``x`` in ``range(a * b)``, with
    ``b = 2**s`` the least power of two whose square is at least ``size`` and
    ``a = ceil(size / b) <= b``, is the pair ``(x >> s, x % b)``. Rounds alternate between
    ``(hi, lo) -> (lo, (hi + F(lo)) mod a)``, ``F``'s top 32 bits scaled to ``range(a)`` by a
    multiply-shift, and ``(hi, lo) -> (lo, hi XOR F(lo))``, ``F``'s top ``s`` bits, so after
    every two rounds the pair is again in ``range(a) x range(b)``; ``F`` is a splitmix64-style
    mix of ``lo`` and the round key. Every round is a bijection, and so is the network.
    Cycle walking (a value that lands at ``size`` or above is permuted again) makes it a
    bijection of ``range(size)``. Since ``a * b - size < b``, a fraction below ``4 / b`` of
    the values walk (under 2 % for the classes it serves), and the splits are shifts and
    masks, so a value costs about forty array operations and no division. Any position of
    the permutation costs O(1), so a long cycle of a large class is read where it is needed
    instead of being shuffled in full up front. It is meant for large domains (it serves
    classes of more than :data:`refsampler.members.LAZY_SIZE` members, and its tests check
    uniformity there): with only a few values per half its four rounds are measurably
    non-uniform, so small classes are shuffled instead.

    Parameters
    ----------
    values : numpy.ndarray of int64
        Points in ``range(size)`` of their bijection.
    size : int or numpy.ndarray of int64
        ``>= 1``; one size for every bijection, or one per row of ``round_keys``.
    round_keys : numpy.ndarray of uint64, shape (FEISTEL_ROUNDS,) or (m, FEISTEL_ROUNDS)
        One bijection, or ``m`` of them (rows of :func:`feistel_keys`).
    which : numpy.ndarray of int64, optional
        The row of ``round_keys`` (and of ``size``) each value goes through; by default
        value ``i`` goes through row ``i`` (or through the one bijection).
    """
    shape = np.shape(values)
    table = round_keys.reshape(-1, FEISTEL_ROUNDS)
    x = np.array(values, dtype=np.uint64).reshape(-1)
    if which is None and table.shape[0] > 1:
        which = np.arange(x.size)
    sizes = np.asarray(size, dtype=np.int64)
    if sizes.ndim and sizes.shape != table.shape[:1]:  # an internal caller's slip
        raise ValueError(f"size has shape {sizes.shape}; one per row of round_keys expected")
    s_digits, a_digits = _digits(sizes)  # per bijection, not per value
    limit_of, s_of, a_of = (v.view(np.uint64) for v in (sizes, s_digits, a_digits))
    keys_of = np.ascontiguousarray(table.T)  # one row per round: a column would be strided

    def param(p: npt.NDArray[np.uint64], rows: npt.NDArray[np.int64] | None) -> Any:
        """``p`` for the values of ``rows`` (a per-bijection array), or its one value."""
        if rows is None or p.ndim == 0:
            return p[()] if p.ndim == 0 else p[0]
        return p.take(rows)

    def encrypt(x: npt.NDArray[np.uint64], rows: npt.NDArray[np.int64] | None) -> None:
        """The network, in place on ``x``, the values of bijections ``rows``."""
        s, a = param(s_of, rows), param(a_of, rows)
        hi = np.right_shift(x, s)
        lo = np.bitwise_and(x, (np.uint64(1) << s) - np.uint64(1))
        f, tmp = x, np.empty_like(x)
        for j in range(FEISTEL_ROUNDS):
            np.bitwise_xor(lo, param(keys_of[j], rows), out=f)
            f *= _M1
            f ^= np.right_shift(f, _S29, out=tmp)
            f *= _M2
            if j % 2 == 0:  # into range(a): hi + (F's top 32 bits * a >> 32), mod a
                f >>= _S32
                f *= a
                f >>= _S32
                f += hi
                # f < 2a: f - a wraps past f exactly where f < a, so the minimum is f mod a
                np.minimum(f, np.subtract(f, a, out=tmp), out=f)
            else:  # into range(b): hi XOR F's top s bits
                f >>= np.uint64(64) - s
                f ^= hi
            hi, lo, f = lo, f, hi
        hi <<= s
        np.bitwise_or(hi, lo, out=x)  # x may be lo's buffer: elementwise, that is safe

    encrypt(x, which)
    limit = param(limit_of, which)
    outside = np.flatnonzero(x >= limit)
    while outside.size > _WALK_IN_PYTHON:
        rows = None if which is None else which[outside]
        walked = x[outside]
        encrypt(walked, rows)
        x[outside] = walked
        outside = outside[walked >= param(limit_of, rows)]
    # The last few walks: plain ints cost less than a pass of array operations each.
    for i in outside.tolist():
        row = 0 if which is None else int(which[i])
        value = int(x[i])
        bound, s, a = (int(p) if p.ndim == 0 else int(p[row]) for p in (limit_of, s_of, a_of))
        while value >= bound:
            hi, lo = value >> s, value & ((1 << s) - 1)
            for j, key in enumerate(keys_of[:, row].tolist()):
                f = ((lo ^ key) * _M1_INT) & _MASK64
                f ^= f >> 29
                f = (f * _M2_INT) & _MASK64
                f = (hi + ((f >> 32) * a >> 32)) % a if j % 2 == 0 else hi ^ (f >> (64 - s))
                hi, lo = lo, f
            value = (hi << s) | lo
        x[i] = value
    return x.astype(np.int64).reshape(shape)
