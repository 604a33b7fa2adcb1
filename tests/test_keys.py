"""Tests of :mod:`refsampler.keys`: keyed generators, stream blocks and the 64-bit mix."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from scipy import stats

from refsampler import keys

TAGS = (
    keys.TAG_CYCLE,
    keys.TAG_SHUFFLE,
    keys.TAG_RANDOM,
    keys.TAG_GROUP_ROTATION,
    keys.TAG_TIE_ROTATION,
    keys.TAG_PHASE,
    keys.TAG_TIES,
)
KEY = st.lists(st.integers(0, 2**64), min_size=1, max_size=6).map(tuple)


def _words(rng: np.random.Generator, n: int = 8) -> list[int]:
    return rng.integers(0, 2**63, size=n).tolist()


def test_tags_are_distinct() -> None:
    """Every purpose has its own tag."""
    assert len(set(TAGS)) == len(TAGS)


@settings(max_examples=30, deadline=None)
@given(key=KEY)
def test_generator_is_deterministic_and_fresh(key: tuple[int, ...]) -> None:
    """The same key gives the same stream, however many other generators were made or drawn
    from in between."""
    first = _words(keys.generator(*key))
    _words(keys.generator(*key, 1), 100)
    assert _words(keys.generator(*key)) == first


@settings(max_examples=30, deadline=None)
@given(key=KEY, other=KEY)
def test_distinct_keys_give_distinct_streams(key: tuple[int, ...], other: tuple[int, ...]) -> None:
    """Different keys give different streams (8 words of 63 bits
    agree by chance with probability 2**-504)."""
    assume(key != other)
    assert _words(keys.generator(*key)) != _words(keys.generator(*other))


@pytest.mark.parametrize(
    "key",
    [
        (7, keys.TAG_SHUFFLE, 0, 0, 0),
        (7, keys.TAG_SHUFFLE, 0, 1, 0),
        (7, keys.TAG_RANDOM, 0, 0, 0),
        (7, keys.TAG_CYCLE, 3),
    ],
)
def test_each_coordinate_and_tag_changes_the_stream(key: tuple[int, ...]) -> None:
    """Changing the seed, the tag or any one coordinate of a key changes its stream."""
    base = _words(keys.generator(*key))
    for i in range(len(key)):
        changed = list(key)
        changed[i] += 1
        assert _words(keys.generator(*changed)) != base, f"coordinate {i}"
    swapped = (key[0], keys.TAG_TIES, *key[2:])
    assert _words(keys.generator(*swapped)) != base


@pytest.mark.parametrize("key", [(7,), (7, keys.TAG_CYCLE), (7, 3, 4)])
def test_keys_differing_by_a_trailing_zero_give_distinct_streams(key: tuple[int, ...]) -> None:
    """Different keys give different streams, also when one is the other plus a zero
    coordinate (e.g. (seed, TAG_CYCLE, 0), the member cycle of class 0, and (seed,))."""
    assert _words(keys.generator(*key)) != _words(keys.generator(*key, 0))


@settings(max_examples=20, deadline=None)
@given(key=KEY)
def test_stream_start_is_the_generators_start(key: tuple[int, ...]) -> None:
    """stream_start is the PCG64 state generator(*key) starts from: block 0 of the stream is
    that generator."""
    start = keys.stream_start(*key)
    assert keys.stream_start(*key) == start
    assert _words(keys.block_generator(start, 0)) == _words(keys.generator(*key))


def test_blocks_are_the_stream_advanced_by_2_to_the_64() -> None:
    """Block b is the stream advanced by b * 2**64 outputs: a PCG64 advanced by hand gives the
    same numbers, and different blocks differ."""
    start = keys.stream_start(5, keys.TAG_CYCLE, 2)
    for block in (1, 2, 2**40 + 3):
        bits = np.random.PCG64(keys.generator(5, keys.TAG_CYCLE, 2).bit_generator.seed_seq)
        bits.advance(block * 2**64)
        assert _words(keys.block_generator(start, block)) == _words(np.random.Generator(bits))
    firsts = {tuple(_words(keys.block_generator(start, b), 4)) for b in range(20)}
    assert len(firsts) == 20


def test_block_generators_are_independent_objects() -> None:
    """Drawing from one block's generator does not move another's."""
    start = keys.stream_start(1, 2)
    a = keys.block_generator(start, 3)
    expected = _words(keys.block_generator(start, 3))
    _words(keys.block_generator(start, 3), 50)
    assert _words(a) == expected


@settings(max_examples=30, deadline=None)
@given(key=KEY)
def test_mix64_is_deterministic_64_bit(key: tuple[int, ...]) -> None:
    """mix64 is a pure 64-bit hash of the key."""
    value = keys.mix64(*key)
    assert 0 <= value < 2**64
    assert keys.mix64(*key) == value


@settings(max_examples=30, deadline=None)
@given(key=KEY)
def test_feistel_round_keys_are_mix64_of_the_key_and_round(key: tuple[int, ...]) -> None:
    """Round j's key is mix64(*key, j), however often it is asked for (it is cached), and the
    cached array cannot be changed by a caller."""
    expected = [keys.mix64(*key, j) for j in range(keys.FEISTEL_ROUNDS)]
    for _ in range(2):
        got = keys.feistel_keys(*key)
        assert got.tolist() == expected
        assert not got.flags.writeable


def test_mix64_separates_order_and_coordinates() -> None:
    """mix64 gives distinct values to permuted and neighbouring keys (no collisions among
    a few thousand small keys)."""
    values = {keys.mix64(a, b, c) for a in range(16) for b in range(16) for c in range(16)}
    assert len(values) == 16**3
    assert keys.mix64(1, 2) != keys.mix64(2, 1)


@pytest.mark.parametrize(("size", "rows"), [(1, 1), (1, 4), (7, 1), (7, 5), (50, 3)])
def test_uniform_order_gives_permutations(size: int, rows: int) -> None:
    """uniform_order gives `rows` permutations of range(size), deterministic in the generator
    state; rows of a block are not all equal when they can differ."""
    order = keys.uniform_order(keys.generator(1, 2), size, rows)
    assert order.shape == (rows, size)
    assert all(sorted(row.tolist()) == list(range(size)) for row in order)
    np.testing.assert_array_equal(order, keys.uniform_order(keys.generator(1, 2), size, rows))
    if size == 50 and rows > 1:
        assert not np.array_equal(order[0], order[1])


def test_generators_pickle_to_the_same_stream() -> None:
    """A keyed generator is an ordinary Generator: pickling keeps its position."""
    rng = keys.generator(3, keys.TAG_SHUFFLE, 0, 0, 0)
    _words(rng, 3)
    copy = pickle.loads(pickle.dumps(rng))
    assert _words(copy) == _words(rng)


# -- keyed Feistel bijections -----------------------------------------------------------------


@settings(max_examples=40, deadline=None)
@given(size=st.integers(1, 5000), seed=st.integers(0, 2**63))
def test_feistel_permute_is_a_bijection(size: int, seed: int) -> None:
    """Every size gets a permutation of range(size) (cycle walking keeps values inside)."""
    out = keys.feistel_permute(np.arange(size), size, keys.feistel_keys(seed))
    assert np.array_equal(np.sort(out), np.arange(size))


def test_feistel_permute_with_one_size_and_key_per_value_equals_separate_calls() -> None:
    """Many bijections in one call (sizes and keys per value) give what each gives alone."""
    sizes = np.array([5] * 5 + [70_000] * 3 + [9] * 9)
    values = np.concatenate([np.arange(5), [0, 69_999, 12_345], np.arange(9)])
    table = [keys.feistel_keys(1), keys.feistel_keys(2), keys.feistel_keys(3)]
    rows = np.stack([table[0]] * 5 + [table[1]] * 3 + [table[2]] * 9)
    out = keys.feistel_permute(values, sizes, rows)
    parts = [(slice(0, 5), 5, 0), (slice(5, 8), 70_000, 1), (slice(8, 17), 9, 2)]
    for where, size, k in parts:
        np.testing.assert_array_equal(
            out[where], keys.feistel_permute(values[where], size, table[k])
        )


@pytest.mark.statistical(level=1e-8)
@pytest.mark.parametrize("size", [20_000, 16_385])
def test_feistel_positions_are_uniform_over_keys(size: int) -> None:
    """The bijections serve classes of more than 16,384 members (smaller classes are
    shuffled). 16,385 has the most uneven digits (65 x 256) and the most cycle walking.
    Over 8,000 keys, 8 items spread over the class land in each eighth of the positions
    equally often: a chi-square test of the 8 x 8 (item, eighth) table against independence
    at level 5e-9; with 64,000 observations it detects Cohen's w = 0.042 (for example one item
    landing 26 % too often in one eighth) with power above 0.9. And the relative order of
    two items is a fair coin: item 0 precedes item 1 in a binomial test over the same keys
    at level 5e-9, which detects a bias of 0.04 with power above 0.9. False-failure rate
    1e-8 per size for the two."""
    rounds, bins = 8_000, 8
    items = np.linspace(0, size - 1, bins).astype(np.int64)
    table = np.zeros((bins, bins), dtype=np.int64)
    before = 0
    for r in range(rounds):
        out = keys.feistel_permute(items, size, keys.feistel_keys(11, r))
        table[np.arange(bins), out * bins // size] += 1
        before += int(out[0] < out[1])
    assert stats.chi2_contingency(table).pvalue > 5e-9
    assert stats.binomtest(before, rounds, 0.5).pvalue > 5e-9


@pytest.mark.parametrize("walk_in_python", [0, 8, 1 << 30])
def test_feistel_permute_reads_each_value_through_its_row(
    walk_in_python: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With ``which``, value i goes through row ``which[i]`` of the keys and of the sizes:
    the same as a row per value, and as each bijection alone, whether the values that walk
    do so in array passes or on Python ints."""
    monkeypatch.setattr(keys, "_WALK_IN_PYTHON", walk_in_python)
    sizes = np.array([70_000, 5, 16_385, 2**40 + 5])
    table = np.stack([keys.feistel_keys(k) for k in range(4)])
    rng = np.random.default_rng(0)
    which = rng.integers(0, 4, 600)
    values = rng.integers(0, sizes[which])
    out = keys.feistel_permute(values, sizes, table, which)
    np.testing.assert_array_equal(out, keys.feistel_permute(values, sizes[which], table[which]))
    for row in range(4):
        mine = which == row
        alone = keys.feistel_permute(values[mine], int(sizes[row]), table[row])
        np.testing.assert_array_equal(out[mine], alone)


@pytest.mark.parametrize("size", [1, 2, 3, 4, 5, 16_384, 16_385, 47_000, 65_537, 2**40 + 7])
def test_feistel_digits_are_the_least_power_of_two_and_the_rest(size: int) -> None:
    """The network runs over ``a * 2**s`` values: ``2**s`` the least power of two whose
    square is at least the size, ``a = ceil(size / 2**s)``. So it covers the size with fewer
    than ``2**s`` values to spare, and for the classes it serves (more than 16,384 members)
    fewer than 2 % of the positions land past the size and walk."""
    s, a = (int(v) for v in keys._digits(np.array(size)))
    b = 2**s
    assert s >= 1 and b * b >= size and (s == 1 or (b // 2) ** 2 < size)
    assert a == -(-size // b) and size <= a * b < size + b
    if size > 16_384:
        assert (a * b - size) / (a * b) < 0.02


@pytest.mark.parametrize("size", [1, 2, 3, 16_385, 47_000, 65_537])
def test_feistel_permute_is_a_bijection_at_uneven_digits(size: int) -> None:
    """A bijection of range(size) where the digits are most uneven (just past a power of 4)
    and at the smallest sizes."""
    out = keys.feistel_permute(np.arange(size), size, keys.feistel_keys(5, size))
    assert np.array_equal(np.sort(out), np.arange(size))
