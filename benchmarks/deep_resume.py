"""Resuming deep into a run when the quota schedule comes from PD2 and its period is out of reach.

Run with ``.venv/bin/python benchmarks/deep_resume.py`` (about 40 s; ``--epochs 5 20`` for a
shorter run).

1,000 classes of ImageNet-like sizes (732 to 1,300 samples, 1,025,073 labels), ``kind="quota"``,
``alpha=0.5``, batch 256, one replica: the extra-seat rates' common denominator is about ``2**57``,
so a fresh process reaching global batch ``t`` without help runs PD2 from slot 0. For each
epoch the script times, in the same run, two ways of resuming at batch 2,000 of that epoch
in a fresh sampler (``load_state_dict`` plus the first batch, wall clock):

* *positioned*: a state naming only the epoch and position, as ``set_epoch`` on a fresh
  sampler would (no PD2 checkpoint);
* *saved*: the state a run saves there, which carries PD2's checkpoint (see
  :mod:`refsampler.seat_state`).

Both give the same batch; the script checks it and prints the times and their ratio.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from refsampler import BalancedBatchSampler


def labels() -> np.ndarray:
    """1,000 classes of 732 to 1,300 samples, shuffled."""
    rng = np.random.default_rng(0)
    sizes = rng.integers(732, 1301, size=1000)
    out = np.repeat(np.arange(1000), sizes)
    rng.shuffle(out)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, nargs="+", default=[5, 20, 90])
    args = parser.parse_args()
    y = labels()

    def make() -> BalancedBatchSampler:
        return BalancedBatchSampler(y, 256, kind="quota", alpha=0.5, seed=0)

    schedule = make().plan.seat_schedule()
    den = "none" if schedule is None else f"{schedule.den:.2e} (2**{math.log2(schedule.den):.1f})"
    print(f"{y.size:,} labels, 1,000 classes, quota, alpha 0.5, batch 256; PD2 period {den}")
    print("| epoch | positioned (no checkpoint) | from a saved state | ratio |")
    print("| --- | --- | --- | --- |")
    for epoch in args.epochs:
        runner = make()
        position = {"epoch": epoch, "batches_yielded": 2000}
        start = time.perf_counter()
        runner.load_state_dict(runner.state_dict() | position)
        positioned_batch = next(iter(runner))
        positioned = time.perf_counter() - start
        runner.load_state_dict(runner.state_dict() | position)
        saved = json.loads(json.dumps(runner.state_dict()))
        fresh = make()
        start = time.perf_counter()
        fresh.load_state_dict(saved)
        saved_batch = next(iter(fresh))
        from_saved = time.perf_counter() - start
        if saved_batch != positioned_batch:
            raise SystemExit("the two resumes gave different batches")
        print(
            f"| {epoch} | {positioned * 1e3:,.0f} ms | {from_saved * 1e3:,.0f} ms "
            f"| {positioned / from_saved:.0f}x |"
        )


if __name__ == "__main__":
    main()
