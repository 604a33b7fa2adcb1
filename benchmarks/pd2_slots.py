"""PD2 by blocks against PD2 slot by slot: process time per slot, same run, same schedule.

Run with ``.venv/bin/python benchmarks/pd2_slots.py`` (about a minute).

For each case, the rate groups the quota kind builds at ``alpha = 0.5`` on long-tailed labels
(batch 256; 10 and 100 classes at batch 32), the script runs PD2 for 256 slots from slot 0
with :func:`refsampler.pd2.run_span` (blocks of 64 slots, one ranking per block) and with
the slot-by-slot reference of ``tests/test_pd2.py`` (every key recomputed every slot, as
refsampler did before), round-robin, best of ``--rounds``, checks that both give the same
seats, and prints microseconds per slot and their ratio.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from compare import long_tailed_labels  # noqa: E402

from refsampler import BalancedBatchSampler  # noqa: E402
from refsampler.seats import SeatSchedule  # noqa: E402
from tests.test_pd2 import _reference  # noqa: E402

SLOTS = 256
#: (labels, classes, batch size)
CASES = ((5_000, 10, 32), (20_000, 100, 32), (1_000_000, 1_000, 256), (1_000_000, 10_000, 256))


def schedule(n: int, k: int, batch: int) -> SeatSchedule:
    """The quota kind's seat schedule at alpha 0.5 (PD2: many distinct class rates)."""
    sampler = BalancedBatchSampler(long_tailed_labels(n, k), batch, kind="quota", alpha=0.5)
    seats = sampler.plan.seat_schedule()
    if seats is None or not seats.sequential:
        raise SystemExit(f"{k} classes: the schedule does not come from PD2")
    return seats


def by_blocks(seats: SeatSchedule) -> np.ndarray:
    """What refsampler runs: :func:`refsampler.pd2.run_span` a block at a time."""
    return seats._advance(np.zeros(seats.num.size, dtype=np.int64), 0, SLOTS, None)


def by_slots(seats: SeatSchedule) -> np.ndarray:
    zero = np.zeros(seats.num.size, dtype=np.int64)
    _, count, _ = _reference(seats.num, seats.den, seats._salt, seats.extra, zero, zero, SLOTS)
    return count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    rounds = parser.parse_args().rounds
    print("| groups | extra seats a slot | by blocks | slot by slot | ratio |")
    print("| --- | --- | --- | --- | --- |")
    for n, k, batch in CASES:
        seats = schedule(n, k, batch)
        best = {"blocks": float("inf"), "slots": float("inf")}
        results = {}
        for _ in range(rounds):
            for name, run in (("blocks", by_blocks), ("slots", by_slots)):
                start = time.process_time()
                results[name] = run(seats)
                best[name] = min(best[name], (time.process_time() - start) / SLOTS * 1e6)
        if not np.array_equal(results["blocks"], results["slots"]):
            raise SystemExit(f"{k} classes: the two give different seats")
        print(
            f"| {seats.num.size:,} | {seats.extra} | {best['blocks']:.1f} µs | "
            f"{best['slots']:.1f} µs | {best['slots'] / best['blocks']:.1f}x |"
        )


if __name__ == "__main__":
    main()
