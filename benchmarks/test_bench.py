"""pytest-benchmark timings of the planner and the sampler (run: ``pytest benchmarks``).

Not part of ``make test`` (``benchmarks/`` is outside ``testpaths``); the goals, each measured
as a ratio to a peer timed in the same run, live in ``benchmarks/compare.py`` (``make bench``).
The data is compare.py's throughput case: 1M long-tailed labels of 100 classes, batch 256,
``alpha = 1``, ``samples_per_class = 4`` for pk.
"""

from __future__ import annotations

import numpy as np
import pytest

from refsampler.classes import ClassIndex
from refsampler.plan import Plan
from refsampler.targets import interpolate

N, K, BATCH = 1_000_000, 100, 256
KINDS = ("random", "fixed", "quota", "pk")
PK_M = 4  # samples_per_class of pk, as in compare.py


@pytest.fixture(scope="module")
def labels() -> np.ndarray:
    """1M long-tailed labels of 100 classes (imbalance 100), shuffled."""
    shares = 100.0 ** (-np.arange(K) / (K - 1))
    sizes = np.maximum(1, np.floor(shares / shares.sum() * N)).astype(np.int64)
    sizes[0] += N - sizes.sum()
    return np.random.default_rng(0).permutation(np.repeat(np.arange(K), sizes))


@pytest.fixture(scope="module")
def index(labels: np.ndarray) -> ClassIndex:
    """The class index of ``labels``."""
    return ClassIndex.from_labels(labels, K)


def _plan(index: ClassIndex, kind: str) -> Plan:
    p = interpolate(index.counts, 1.0)
    options = {"samples_per_class": PK_M} if kind == "pk" else None
    return Plan(index, kind, p, BATCH, -(-N // BATCH), 0, 1, options)


def test_class_index(benchmark, labels: np.ndarray) -> None:  # type: ignore[no-untyped-def]
    """Construction of the class index (one stable argsort of narrowed labels)."""
    index = benchmark(ClassIndex.from_labels, labels, K)
    assert index.size == N


def test_stable_argsort_reference(benchmark, labels: np.ndarray) -> None:  # type: ignore[no-untyped-def]
    """The reference for construction: numpy's stable argsort of the raw labels."""
    order = benchmark(np.argsort, labels, kind="stable")
    assert order.size == N


@pytest.mark.parametrize("kind", KINDS)
def test_plan_construction(benchmark, index: ClassIndex, kind: str) -> None:  # type: ignore[no-untyped-def]
    """Plan tables: nothing for fixed, the alias table for random, the rate groups of quota
    and pk (their schedules are computed lazily, chunk by chunk)."""
    plan = benchmark(_plan, index, kind)
    assert plan.n_batches == -(-N // BATCH)


@pytest.mark.parametrize("kind", KINDS)
def test_chunk(benchmark, index: ClassIndex, kind: str) -> None:  # type: ignore[no-untyped-def]
    """One chunk (65,536 draws) in steady state, cycling through the epoch's chunks."""
    plan = _plan(index, kind)
    state = {"j": 0}

    def step() -> np.ndarray:
        state["j"] = (state["j"] + 1) % plan.n_chunks
        return plan.chunk(1, 0, state["j"])

    out = benchmark(step)
    assert out.shape[1] == BATCH


@pytest.mark.parametrize("kind", KINDS)
def test_epoch_as_lists(benchmark, index: ClassIndex, kind: str) -> None:  # type: ignore[no-untyped-def]
    """A whole epoch turned into lists of ints, as a DataLoader consumes a batch sampler."""
    plan = _plan(index, kind)

    def epoch() -> int:
        drawn = 0
        for j in range(plan.n_chunks):
            for row in plan.chunk(0, 0, j).tolist():
                drawn += len(row)
        return drawn

    assert benchmark.pedantic(epoch, rounds=3, iterations=1) == plan.n_batches * BATCH
