"""Per-element Python baselines for the benchmarks: the original algorithm, done plainly.

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

__all__ = ["PerElementFixedSampler", "PerElementRandomSampler", "floor_program"]


def _class_lists(labels: npt.NDArray[np.integer]) -> list[list[int]]:
    lists: list[list[int]] = [[] for _ in range(int(labels.max()) + 1)]
    for i, c in enumerate(labels.tolist()):
        lists[c].append(i)
    return lists


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
