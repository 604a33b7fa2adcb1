"""Per-element Python baselines for the benchmarks.

``OriginalFixedSampler`` and ``OriginalRandomSampler`` render pytorch_balanced_sampler's
algorithm as it runs (our own code, same cost profile): class lists behind a circular wrapper
indexed element by element modulo their length, a legacy ``RandomState`` shuffle of each batch
list; the random kind runs torch's ``WeightedRandomSampler`` over all N per-sample weights for
every batch and maps each index through a Python list. These are *the* per-element baseline:
the original package's published speed is this algorithm's.

``PerElementFixedSampler`` is a straightforward rendering of pytorch_balanced_sampler's fixed
kind (class lists, a cursor per class, reshuffle on wrap, shuffle each batch), one Python
operation per element; ``PerElementRandomSampler`` does the random kind the same way (class
by bisection on the CDF, member by ``randrange``). They use the counts of
:func:`refsampler.allocation.allocate`, so they produce what refsampler does, only slower: the
benchmark then compares like with like. ``floor_program`` is the numpy floor: uniform random
integers, then one ``tolist`` per batch.
"""

from __future__ import annotations

import bisect
import random
from collections.abc import Iterator
from itertools import accumulate

import numpy as np
import numpy.typing as npt

from refsampler.allocation import allocate

__all__ = [
    "OriginalFixedSampler",
    "OriginalRandomSampler",
    "PerElementFixedSampler",
    "PerElementRandomSampler",
    "floor_program",
]


def _class_lists(labels: npt.NDArray[np.integer]) -> list[list[int]]:
    lists: list[list[int]] = [[] for _ in range(int(labels.max()) + 1)]
    for i, c in enumerate(labels.tolist()):
        lists[c].append(i)
    return lists


class _Circular:
    """A list read through modulo indexing, one ``__getitem__`` call per element."""

    def __init__(self, items: list[int], rng: np.random.RandomState) -> None:
        self.items = items[:]
        rng.shuffle(self.items)

    def __getitem__(self, key: int) -> int:
        return self.items[key % len(self.items)]

    def take(self, start: int, stop: int) -> list[int]:
        return [self[i] for i in range(start, stop)]


class OriginalFixedSampler:
    """The original fixed kind's algorithm and cost (counts from ``allocate``, so valid)."""

    def __init__(
        self,
        labels: npt.NDArray[np.integer],
        target: npt.NDArray[np.float64],
        batch_size: int,
        n_batches: int,
        seed: int,
    ) -> None:
        self.rng = np.random.RandomState(seed)
        self.lists = _class_lists(labels)
        self.counts = allocate(target, batch_size).tolist()
        self.n_batches = n_batches

    def __iter__(self) -> Iterator[list[int]]:
        circular = [_Circular(members, self.rng) for members in self.lists]
        starts = np.zeros(len(circular), dtype=int)
        for _ in range(self.n_batches):
            batch: list[int] = []
            for c, count in enumerate(self.counts):
                batch.extend(circular[c].take(int(starts[c]), int(starts[c]) + count))
            self.rng.shuffle(batch)
            yield batch
            starts += self.counts


class OriginalRandomSampler:
    """The original random kind's algorithm and cost: a multinomial over all N per batch."""

    def __init__(
        self,
        labels: npt.NDArray[np.integer],
        target: npt.NDArray[np.float64],
        batch_size: int,
        n_batches: int,
        seed: int,
    ) -> None:
        import torch
        from torch.utils.data import WeightedRandomSampler

        lists = _class_lists(labels)
        self.positions = [i for members in lists for i in members]
        counts = np.bincount(labels, minlength=target.size)
        per_sample = [float(target[c] / counts[c]) for c, m in enumerate(lists) for _ in m]
        generator = torch.Generator().manual_seed(seed)
        self.sampler = WeightedRandomSampler(
            per_sample, batch_size, replacement=True, generator=generator
        )
        self.n_batches = n_batches

    def __iter__(self) -> Iterator[list[int]]:
        for _ in range(self.n_batches):
            yield [self.positions[i] for i in self.sampler]


class PerElementFixedSampler:
    """The original fixed kind with per-element Python loops (and its defects fixed)."""

    def __init__(
        self,
        labels: npt.NDArray[np.integer],
        target: npt.NDArray[np.float64],
        batch_size: int,
        n_batches: int,
        seed: int,
    ) -> None:
        self.lists = _class_lists(labels)
        self.counts = allocate(target, batch_size).tolist()
        self.n_batches = n_batches
        self.rng = random.Random(seed)
        self.cursor = [len(x) for x in self.lists]  # force a shuffle on first use

    def __iter__(self) -> Iterator[list[int]]:
        rng, lists, cursor = self.rng, self.lists, self.cursor
        for _ in range(self.n_batches):
            batch: list[int] = []
            for c, count in enumerate(self.counts):
                members = lists[c]
                for _ in range(count):
                    if cursor[c] == len(members):
                        members = lists[c] = members[:]  # never shuffle the caller's list
                        rng.shuffle(members)
                        cursor[c] = 0
                    batch.append(members[cursor[c]])
                    cursor[c] += 1
            rng.shuffle(batch)
            yield batch


class PerElementRandomSampler:
    """The original random kind with per-element Python loops."""

    def __init__(
        self,
        labels: npt.NDArray[np.integer],
        target: npt.NDArray[np.float64],
        batch_size: int,
        n_batches: int,
        seed: int,
    ) -> None:
        self.lists = _class_lists(labels)
        self.cdf = list(accumulate(target.tolist()))
        self.batch_size = batch_size
        self.n_batches = n_batches
        self.rng = random.Random(seed)

    def __iter__(self) -> Iterator[list[int]]:
        rng, lists, cdf = self.rng, self.lists, self.cdf
        top = len(cdf) - 1
        for _ in range(self.n_batches):
            batch = []
            for _ in range(self.batch_size):
                c = min(bisect.bisect_right(cdf, rng.random() * cdf[-1]), top)
                members = lists[c]
                batch.append(members[rng.randrange(len(members))])
            yield batch


def floor_program(
    n: int, batch_size: int, n_batches: int, seed: int, chunk: int = 256
) -> Iterator[list[int]]:
    """Uniform random positions in chunks of ``chunk`` batches, one ``tolist`` per batch."""
    rng = np.random.default_rng(seed)
    for k0 in range(0, n_batches, chunk):
        block = rng.integers(0, n, (min(chunk, n_batches - k0), batch_size))
        for row in block:
            yield row.tolist()
