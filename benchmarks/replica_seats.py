"""A rank's seats read at its own slots alone against over every slot in between: process time
per batch of the last rank, same run, same batches.

Run with ``.venv/bin/python benchmarks/replica_seats.py`` (about two minutes).

For quota at alpha 1 and 0.5 and pk at alpha 1 (1e6 long-tailed labels x 100 classes, batch
256) and each number of ranks ``R``, the script builds two samplers of the last rank that
differ only in :data:`refsampler.kinds.base.SPARSE_STEP` (1: every rank reads its own slots
alone; a huge value: every rank reads the span), reads whole epochs of each (at least
``--batches`` batches, after an untimed first epoch), round-robin, best of ``--rounds``,
checks that both give the same batches, and prints milliseconds per batch and the ratio
(span / alone: above 1, reading alone is faster). It is what chose ``SPARSE_STEP``: reading
alone wins from 4 ranks on, and at 2 and 3 the two are within a few percent.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from compare import long_tailed_labels  # noqa: E402

from refsampler import BalancedBatchSampler  # noqa: E402
from refsampler.kinds import base  # noqa: E402

REPLICAS = (2, 3, 4, 6, 8, 16)
WAYS = {"alone": 1, "span": 1 << 62}


def batches(labels: Any, kind: str, alpha: float, replicas: int, n: int) -> tuple[float, list]:
    """Seconds per batch of the last rank over whole epochs 1, 2, ... (at least ``n``
    batches; epoch 0 is read first, untimed), and the batches."""
    options = {"samples_per_class": 4} if kind == "pk" else {}
    sampler = BalancedBatchSampler(
        labels,
        256,
        kind=kind,
        alpha=alpha,
        seed=0,
        num_replicas=replicas,
        rank=replicas - 1,
        **options,
    )
    for _ in sampler:  # builds what every epoch shares
        pass
    out: list[list[int]] = []
    start = time.process_time()
    epoch = 1
    while len(out) < n:
        sampler.set_epoch(epoch)
        out.extend(sampler)
        epoch += 1
    return (time.process_time() - start) / len(out), out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--batches", type=int, default=512)
    args = parser.parse_args()
    labels = long_tailed_labels(1_000_000, 100)
    print("| kind | alpha | R | span | alone | span / alone |")
    print("| --- | --- | --- | --- | --- | --- |")
    for kind, alpha in (("quota", 1.0), ("quota", 0.5), ("pk", 1.0)):
        for replicas in REPLICAS:
            n = args.batches
            best = dict.fromkeys(WAYS, float("inf"))
            seen: dict[str, list] = {}
            for _ in range(args.rounds):
                for name, step in WAYS.items():
                    base.SPARSE_STEP = step
                    seconds, seen[name] = batches(labels, kind, alpha, replicas, n)
                    best[name] = min(best[name], seconds)
            if seen["alone"] != seen["span"]:
                raise SystemExit(f"{kind}, R = {replicas}: the two give different batches")
            print(
                f"| {kind} | {alpha:g} | {replicas} | {best['span'] * 1e3:.3f} ms | "
                f"{best['alone'] * 1e3:.3f} ms | {best['span'] / best['alone']:.2f}x |"
            )


if __name__ == "__main__":
    main()
