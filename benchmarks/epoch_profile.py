"""Where one epoch of a counted kind spends its time: a profile, grouped by step.

Run with ``.venv/bin/python benchmarks/epoch_profile.py [kind]`` (a few seconds; kind
``fixed`` by default).

The script builds the throughput case of ``compare.py`` (1e6 long-tailed labels x 100
classes, batch 256, alpha 1), reads one epoch untimed, then profiles the next epoch read as a
``DataLoader`` reads a batch sampler (a ``list[int]`` per batch) with :mod:`cProfile`, and
prints the share of the profiled epoch's own time (``tottime``) in each step, and that share
of an epoch timed without the profiler, as a multiple of the numpy floor's epoch (random
integers and one ``tolist`` per batch) timed in the same run. The profiler adds a cost per
call, so the shares are approximate.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from baseline import floor_program  # noqa: E402
from compare import long_tailed_labels, make_sampler  # noqa: E402

#: Steps, by the functions whose own time they are (``file:function`` suffixes).
STEPS = {
    "member cycle blocks (shuffles)": ("keys.py:uniform_order",),
    "within-batch shuffle": ("plan.py:rows",),
    "tolist": ("<method 'tolist' of 'numpy.ndarray' objects>",),
    "large classes' bijections": ("keys.py:encrypt", "keys.py:feistel_permute"),
    "head rule (no repeats in a batch)": (
        "members.py:_apply_heads",
        "members.py:_vector_heads",
        "members.py:_edge_heads",
        "members.py:_heads",
        "members.py:_write_heads",
        "members.py:_touched_rounds",
        "rotation.py:adjust_heads",
        "rotation.py:_in_rows",
    ),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("kind", nargs="?", default="fixed", choices=("fixed", "quota", "pk"))
    kind = parser.parse_args().kind
    n = 1_000_000
    sampler = make_sampler(long_tailed_labels(n, 100), kind)
    for _ in sampler:  # warm-up epoch
        pass
    start = time.process_time()
    for _ in floor_program(n, 256, len(sampler), 0):
        pass
    floor = time.process_time() - start
    start = time.process_time()
    for _ in sampler:
        pass
    epoch = time.process_time() - start
    profile = cProfile.Profile()
    profile.enable()
    for _ in sampler:
        pass
    profile.disable()
    stats = pstats.Stats(profile).stats  # type: ignore[attr-defined]
    own = {f"{Path(file).name}:{name}": row[2] for (file, _, name), row in stats.items()}
    total = sum(own.values())
    print(
        f"{kind}: an epoch took {epoch * 1e3:.1f} ms, the numpy floor's {floor * 1e3:.1f} ms "
        f"({epoch / floor:.2f}x); shares of a profiled epoch, and that share of the epoch "
        "as a multiple of the floor's:"
    )
    print("| step | share | x the floor's epoch |")
    print("| --- | --- | --- |")
    for step, names in STEPS.items():
        share = sum(t for key, t in own.items() if key.endswith(names)) / total
        print(f"| {step} | {share:.0%} | {share * epoch / floor:.2f}x |")


if __name__ == "__main__":
    main()
