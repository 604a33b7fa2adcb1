"""One :class:`~refsampler.plan.Plan` shared by many threads gives exactly the serial results.

The plan's caches (kind plans by epoch, stream offsets, rotations' rounds, seat schedule
checkpoints) are filled concurrently here from cold, in a shuffled order of calls.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest

from refsampler.classes import ClassIndex
from refsampler.diagnostics import describe
from refsampler.plan import Plan
from refsampler.schedules import linear
from refsampler.targets import interpolate

SIZES = np.array([37, 7, 15, 2, 5, 11])
LABELS = np.random.default_rng(3).permutation(np.repeat(np.arange(SIZES.size), SIZES))
INDEX = ClassIndex.from_labels(LABELS)
KINDS = ("fixed", "quota", "random", "pk")
THREADS = 6


def _make(kind: str, moving: bool) -> Plan:
    """A plan with small chunks and blocks (many cache entries), 3 replicas."""
    options = {"samples_per_class": 2} if kind == "pk" else None
    low = 0.9 if kind == "pk" else 0.0
    if moving:
        schedule = linear(low, 1.0, 4)

        def target(epoch: int) -> npt.NDArray[np.float64]:
            return interpolate(INDEX.counts, schedule(epoch))

        return Plan(INDEX, kind, target, 8, 12, 5, 3, options, chunk_draws=24, block_draws=4)
    p = interpolate(INDEX.counts, 1.0 if kind == "pk" else 0.5)
    return Plan(INDEX, kind, p, 8, 12, 5, 3, options, chunk_draws=24, block_draws=4)


Call = tuple[str, int, int, int]


def _calls(plan: Plan) -> list[Call]:
    """batches and chunks of 4 epochs x 3 ranks, and describe calls, shuffled."""
    calls: list[Call] = []
    for e in range(4):
        for r in range(3):
            calls.append(("batches", e, r, 0))
            calls.extend(("chunk", e, r, j) for j in range(plan.n_chunks))
            calls.append(("range", e, r, 5))
    calls.extend(("describe", e, 0, 0) for e in range(3))
    order = np.random.default_rng(0).permutation(len(calls)).tolist()
    return [calls[i] for i in order]


def _run(plan: Plan, call: Call) -> Any:
    name, e, r, j = call
    if name == "batches":
        return plan.batches(e, r)
    if name == "chunk":
        return plan.chunk(e, r, j)
    if name == "range":
        return plan.batches(e, r, j, j + 4)
    return describe(plan, epoch=e)


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, np.ndarray):
        return isinstance(b, np.ndarray) and a.dtype == b.dtype and np.array_equal(
            a, b, equal_nan=a.dtype.kind == "f"
        )
    if dataclasses.is_dataclass(a) and not isinstance(a, type):
        return type(a) is type(b) and all(
            _same(getattr(a, f.name), getattr(b, f.name)) for f in dataclasses.fields(a)
        )
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list | tuple):
        return (
            type(a) is type(b)
            and len(a) == len(b)
            and all(_same(x, y) for x, y in zip(a, b, strict=True))
        )
    if isinstance(a, float) and isinstance(b, float) and np.isnan(a) and np.isnan(b):
        return True
    return bool(a == b)


def _check_threads(shared: Plan, serial: Plan, run: Callable[[Plan, Call], Any]) -> None:
    calls = _calls(serial)
    expected = [run(serial, call) for call in calls]
    with ThreadPoolExecutor(max_workers=THREADS) as pool:
        got = list(pool.map(lambda call: run(shared, call), calls))
    mismatched = [call for call, a, b in zip(calls, got, expected, strict=True) if not _same(a, b)]
    assert mismatched == []


@pytest.mark.parametrize("moving", [False, True], ids=["one-target", "moving-target"])
@pytest.mark.parametrize("kind", KINDS)
def test_shared_plan_equals_serial(kind: str, moving: bool) -> None:
    """N threads x M calls of batches, chunk and describe on one cold shared plan give the
    results of one thread on another plan of the same configuration."""
    _check_threads(_make(kind, moving), _make(kind, moving), _run)


@pytest.mark.parametrize("kind", KINDS)
def test_shared_sampler_plan_equals_serial(kind: str) -> None:
    """The plan behind one sampler, shared by threads, gives the serial results too."""
    from refsampler.sampler import BalancedBatchSampler

    def make() -> Plan:
        extra: dict[str, Any] = {"samples_per_class": 2} if kind == "pk" else {}
        sampler = BalancedBatchSampler(
            LABELS, 8, kind=kind, alpha=1.0, n_batches=12, seed=9, num_replicas=3, rank=1,
            **extra,
        )
        return sampler.plan

    _check_threads(make(), make(), _run)
