"""The configurations whose batches are pinned: every kind, a few seeds, epochs and ranks, a
moving target, and batches far into a run (resume positions)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from refsampler import BalancedBatchSampler
from refsampler.schedules import linear

#: 87 labels of 5 classes (sizes 40, 20, 15, 8, 4), in an arithmetic order: no generator, so
#: the labels themselves can never drift.
_SIZES = [40, 20, 15, 8, 4]
_SORTED = np.repeat(np.arange(len(_SIZES)), _SIZES)
LABELS = _SORTED[(np.arange(_SORTED.size) * 31) % _SORTED.size]


@dataclass(frozen=True)
class Case:
    """One sampler configuration and the batches read from it."""

    kind: str
    seed: int = 0
    epoch: int = 0
    rank: int = 0
    replicas: int = 1
    batch_size: int = 8
    n_batches: int = 6
    skip: int = 0
    options: dict[str, Any] = field(default_factory=dict)
    labels: Any = None  # LABELS unless given

    def batches(self) -> list[list[int]]:
        """Epoch ``epoch`` on ``rank`` from batch ``skip`` on, as lists of positions."""
        sampler = BalancedBatchSampler(
            LABELS if self.labels is None else self.labels,
            self.batch_size,
            kind=self.kind,
            seed=self.seed,
            n_batches=self.n_batches,
            num_replicas=self.replicas,
            rank=self.rank,
            **self.options,
        )
        state = sampler.state_dict() | {"epoch": self.epoch, "batches_yielded": self.skip}
        sampler.load_state_dict(state)
        return [[int(i) for i in batch] for batch in sampler]


def fingerprint(batches: list[list[int]]) -> str:
    """SHA-256 of the batches as JSON."""
    return hashlib.sha256(json.dumps(batches).encode()).hexdigest()


CASES: dict[str, Case] = {}
for _kind, _options in [
    ("fixed", {"alpha": 0.5}),
    ("quota", {"alpha": 0.5}),
    ("random", {"alpha": 0.5}),
    ("pk", {"alpha": 1.0, "samples_per_class": 2}),
]:
    CASES[f"{_kind}-seed0"] = Case(_kind, options=_options)
    CASES[f"{_kind}-seed7-epoch3"] = Case(_kind, seed=7, epoch=3, options=_options)
    CASES[f"{_kind}-rank1of3-epoch2"] = Case(_kind, epoch=2, rank=1, replicas=3, options=_options)
    # Resumed late in a later epoch (the quota and pk schedules of three or more rate groups
    # are sequential, so "far" stays within a few thousand batches).
    CASES[f"{_kind}-resumed"] = Case(
        _kind, seed=3, epoch=20, n_batches=100, skip=95, options=_options
    )
# A class of 20,000 reads its cycles lazily (keyed bijections): pinned too.
_BIG = np.concatenate([np.zeros(20_000, dtype=np.int64), np.repeat(np.arange(1, 4), [50, 9, 5])])
BIG_LABELS = _BIG[(np.arange(_BIG.size) * 7919) % _BIG.size]
CASES["fixed-large-class"] = Case("fixed", epoch=1, options={"alpha": 0.5}, labels=BIG_LABELS)
CASES["quota-schedule"] = Case("quota", epoch=2, options={"alpha": linear(0.0, 1.0, 4)})
CASES["fixed-schedule"] = Case("fixed", epoch=3, options={"alpha": linear(0.0, 1.0, 4)})
# Extra-seat rates whose common denominator passes 2**58 beside a simple one (class 0 holds
# N/K, so B p_0 = 13/3 at every alpha): stream version 5 keeps 1/3 exact.
_ROUNDED = np.repeat(np.arange(6), [25, 9, 38, 31, 16, 31])
CASES["quota-rounded-rates"] = Case(
    "quota",
    batch_size=26,
    n_batches=8,
    options={"alpha": 0.47497741326003984},
    labels=_ROUNDED[(np.arange(_ROUNDED.size) * 37) % _ROUNDED.size],
)
