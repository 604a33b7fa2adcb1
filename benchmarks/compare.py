"""Throughput and scale comparison of refsampler against its peers; prints a markdown table.

Usage::

    python benchmarks/compare.py            # throughput at 1M labels + 1e7-label scale case
    python benchmarks/compare.py --quick    # throughput only, fewer repeats (about a minute)
    python benchmarks/compare.py --scale    # adds the 1e8-label / 1e5-class scale case

Throughput: batches of 256 from 1M long-tailed labels (100 classes, imbalance 100,
``alpha=1``), iterated as a ``DataLoader`` would iterate a batch sampler (a ``list[int]`` per
batch). Every contender runs in round-robin repeats; the best CPU time (``process_time``,
single-threaded) of each counts, so that load from other processes on a shared machine hurts
no contender more than another. Ratios are computed from figures of this one run.

Scale: each measurement runs in a fresh subprocess and is timed in CPU time (all of it is
single-threaded numpy); peak memory is that process's ``tracemalloc`` peak beyond the labels
(numpy reports its buffers to ``tracemalloc``).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

BATCH = 256
SEED = 0


# -- data ---------------------------------------------------------------------------------


def long_tailed_labels(n: int, k: int, imbalance: float = 100.0, seed: int = SEED) -> np.ndarray:
    """``n`` labels of ``k`` classes, class sizes falling exponentially by ``imbalance``,
    shuffled (int64, as ``torchvision`` targets usually are)."""
    shares = imbalance ** (-np.arange(k) / max(k - 1, 1))
    sizes = np.maximum(1, np.floor(shares / shares.sum() * n)).astype(np.int64)
    sizes[0] += n - sizes.sum()
    labels = np.repeat(np.arange(k, dtype=np.int64), sizes)
    np.random.default_rng(seed).shuffle(labels)
    return labels


# -- throughput ---------------------------------------------------------------------------


def _consume(batches: Iterable[list[int]]) -> int:
    drawn = 0
    for batch in batches:
        drawn += len(batch)
    return drawn


def throughput(quick: bool) -> dict[str, float]:
    """Indices per second of every contender, best of the round-robin repeats."""
    import torch
    from baseline import (
        OriginalFixedSampler,
        OriginalRandomSampler,
        PerElementFixedSampler,
        PerElementRandomSampler,
        floor_program,
    )
    from torch.utils.data import BatchSampler, WeightedRandomSampler

    from refsampler import BalancedBatchSampler, sample_weights
    from refsampler.targets import interpolate

    n, k = 1_000_000, 100
    labels = long_tailed_labels(n, k)
    target = interpolate(np.bincount(labels, minlength=k), 1.0)
    n_batches = -(-n // BATCH)
    samplers = {
        kind: BalancedBatchSampler(labels, BATCH, kind=kind, alpha=1.0, seed=SEED)
        for kind in ("random", "fixed", "quota")
    }
    weights = torch.as_tensor(sample_weights(labels, alpha=1.0))
    generator = torch.Generator().manual_seed(SEED)
    torch_sampler = BatchSampler(
        WeightedRandomSampler(weights, n, replacement=True, generator=generator), BATCH, False
    )
    baseline_batches = n_batches // 8  # the per-element baselines are slow; rates are rates
    fixed_baseline = PerElementFixedSampler(labels, target, BATCH, baseline_batches, SEED)
    random_baseline = PerElementRandomSampler(labels, target, BATCH, baseline_batches, SEED)
    original_fixed = OriginalFixedSampler(labels, target, BATCH, baseline_batches, SEED)
    # A multinomial over all N weights per batch: a few hundred batches give a stable rate.
    original_random = OriginalRandomSampler(labels, target, BATCH, n_batches // 32, SEED)
    contenders: dict[str, Callable[[], Iterable[list[int]]]] = {
        "refsampler random": lambda: samplers["random"],
        "refsampler fixed": lambda: samplers["fixed"],
        "refsampler quota": lambda: samplers["quota"],
        "torch WeightedRandomSampler + BatchSampler": lambda: torch_sampler,
        "original algorithm (per-element baseline), fixed": lambda: original_fixed,
        "original algorithm (per-element baseline), random": lambda: original_random,
        "tuned per-element Python, fixed": lambda: fixed_baseline,
        "tuned per-element Python, random": lambda: random_baseline,
        "numpy floor (integers + tolist per batch)": lambda: floor_program(
            n, BATCH, n_batches, SEED
        ),
    }
    best = {name: float("inf") for name in contenders}
    drawn = dict.fromkeys(contenders, 0)
    repeats = 3 if quick else 7
    torch.set_num_threads(1)
    for _ in range(repeats):
        for name, make in contenders.items():
            start = time.process_time()
            drawn[name] = _consume(make())
            best[name] = min(best[name], time.process_time() - start)
    return {name: drawn[name] / best[name] for name in contenders}


# -- scale (subprocesses) ------------------------------------------------------------------


def _child(args: argparse.Namespace) -> dict[str, Any]:
    """One scale measurement, run in a fresh process; returns its figures."""
    labels = long_tailed_labels(args.n, args.k)
    if args.task == "argsort":
        start = time.process_time()
        np.argsort(labels, kind="stable")
        return {"seconds": time.process_time() - start}
    from refsampler import BalancedBatchSampler

    n_batches = args.n_batches or None

    def build() -> BalancedBatchSampler:
        return BalancedBatchSampler(
            labels, BATCH, kind=args.kind, alpha=1.0, seed=SEED, n_batches=n_batches
        )

    if args.task == "construct":
        start = time.process_time()
        sampler = build()
        built = time.process_time() - start
        start = time.process_time()
        first = next(iter(sampler))
        first_batch = time.process_time() - start
        assert len(first) == BATCH
        del sampler
        # Peak memory beyond the labels, construction plus the first batch.
        tracemalloc.start()
        sampler = build()
        next(iter(sampler))
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        return {"seconds": built, "first_batch": first_batch, "peak_bytes": peak}
    if args.task == "resume":
        # Each resume starts from a freshly built sampler (construction untimed), as a restarted
        # job would: a reused sampler would keep the cycle blocks of the previous resume in its
        # memo and compare a warm start against a cold one.
        state = build().state_dict()
        times = {}
        for at in (0, args.resume_at):
            best = float("inf")
            for _ in range(3):
                sampler = build()
                state["batches_yielded"] = at
                start = time.process_time()
                sampler.load_state_dict(state)
                next(iter(sampler))
                best = min(best, time.process_time() - start)
                del sampler
            times[str(at)] = best
        return times
    raise SystemExit(f"unknown task {args.task}")


def _run_child(**kwargs: Any) -> dict[str, Any]:
    command = [sys.executable, __file__, "--child"]
    for key, value in kwargs.items():
        command += [f"--{key.replace('_', '-')}", str(value)]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        return {"error": done.stderr.strip().splitlines()[-1] if done.stderr else "failed"}
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def quota_construction_estimate(n: int, k: int, sample_batches: int = 200) -> float:
    """Seconds the quota kind's construction would take: its schedule over the whole epoch,
    timed on ``sample_batches`` batches and scaled (the rest of construction is the index)."""
    from refsampler.allocation import quota_picks
    from refsampler.targets import interpolate

    labels = long_tailed_labels(min(n, 10 * k), k)  # only the counts matter for the rates
    target = interpolate(np.bincount(labels, minlength=k), 1.0)
    start = time.perf_counter()
    quota_picks(target, BATCH, 0, sample_batches, np.zeros(k, dtype=np.int64))
    per_batch = (time.perf_counter() - start) / sample_batches
    return per_batch * -(-n // BATCH)


def scale(n: int, k: int, resume_at: int) -> dict[str, Any]:
    """Construction, peak memory, first batch and resume figures at ``n`` labels."""
    out: dict[str, Any] = {"n": n, "k": k}
    out["argsort"] = _run_child(task="argsort", n=n, k=k)
    for kind in ("random", "fixed", "quota"):
        if kind == "fixed" and k > BATCH:
            out[kind] = {"error": f"infeasible by contract: {k} classes > batch {BATCH}"}
            continue
        if kind == "quota" and n // BATCH * k > 5e9:
            estimate = quota_construction_estimate(n, k)
            out[kind] = {"error": f"not run: schedule estimated at {estimate:.0f} s"}
            continue
        out[kind] = _run_child(task="construct", n=n, k=k, kind=kind)
    # Resume at batch `resume_at` vs at batch 0, in an epoch of 2 * resume_at batches (both
    # land on full chunks). The quota kind builds its schedule over the epoch, so it resumes
    # at the last batch of its default epoch instead, when that schedule is affordable.
    for kind in ("random", "fixed", "quota"):
        if kind == "fixed" and k > BATCH:
            continue
        if kind == "quota":
            if "error" in out["quota"]:
                out[f"resume {kind}"] = {"error": "not run: see quota construction"}
                continue
            batches = -(-n // BATCH)
            at = batches - 1
        else:
            batches, at = 2 * resume_at, resume_at
        out[f"resume {kind}"] = _run_child(
            task="resume", n=n, k=k, kind=kind, n_batches=batches, resume_at=at
        )
    return out


# -- report -------------------------------------------------------------------------------


def machine() -> str:
    import torch

    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return (
        f"{cpu}, {os.cpu_count()} CPUs, Python {platform.python_version()}, "
        f"numpy {np.__version__}, torch {torch.__version__}, {platform.system()}"
    )


def _ok(met: bool) -> str:
    return "met" if met else "**NOT met**"


def report(rates: dict[str, float], scales: list[dict[str, Any]]) -> str:
    lines = [f"Machine: {machine()}", ""]
    lines += ["| contender | indices/s |", "| --- | ---: |"]
    lines += [f"| {name} | {rate:.3g} |" for name, rate in rates.items()]
    floor = rates["numpy floor (integers + tolist per batch)"]
    torch_rate = rates["torch WeightedRandomSampler + BatchSampler"]
    baseline = rates["original algorithm (per-element baseline), fixed"]
    tuned = rates["tuned per-element Python, fixed"]
    lines += ["", "| target | measured | goal | status |", "| --- | ---: | ---: | --- |"]
    r = rates["refsampler random"]
    lines.append(
        f"| random vs torch WRS+BatchSampler | {r / torch_rate:.2f}x faster | >= 7x "
        f"| {_ok(r / torch_rate >= 7)} |"
    )
    lines.append(
        f"| random time vs numpy floor | {floor / r:.2f}x | <= 2x | {_ok(floor / r <= 2)} |"
    )
    original_random = rates["original algorithm (per-element baseline), random"]
    lines.append(
        f"| random vs original algorithm, random | {r / original_random:.0f}x faster "
        "| (for context) | |"
    )
    for kind in ("fixed", "quota"):
        rate = rates[f"refsampler {kind}"]
        lines.append(
            f"| {kind} vs per-element baseline (original algorithm) | {rate / baseline:.1f}x "
            f"faster | >= 20x | {_ok(rate / baseline >= 20)} |"
        )
        lines.append(
            f"| {kind} vs tuned per-element Python (stronger than the original) "
            f"| {rate / tuned:.1f}x faster | (for context) | |"
        )
        lines.append(
            f"| {kind} time vs numpy floor | {floor / rate:.2f}x | <= 3x "
            f"| {_ok(floor / rate <= 3)} |"
        )
    for sc in scales:
        n, k = sc["n"], sc["k"]
        sort_s = sc["argsort"].get("seconds", float("nan"))
        head = f"{n:.0e} labels, {k:.0e} classes"
        lines.append(
            f"| {head}: numpy.argsort(labels, kind='stable') | {sort_s:.2f} s | reference | |"
        )
        for kind in ("random", "fixed", "quota"):
            fig = sc[kind]
            if "error" in fig:
                lines.append(f"| {head}: {kind} construction | {fig['error']} | | n/a |")
                continue
            ratio = fig["seconds"] / sort_s
            per_sample = fig["peak_bytes"] / n
            first_ms = fig["first_batch"] * 1e3
            lines.append(
                f"| {head}: {kind} construction vs argsort | {fig['seconds']:.2f} s = "
                f"{ratio:.2f}x | <= 1.5x | {_ok(ratio <= 1.5)} |"
            )
            lines.append(
                f"| {head}: {kind} peak memory beyond labels | {per_sample:.1f} B/sample"
                f" | <= 16 | {_ok(per_sample <= 16)} |"
            )
            lines.append(
                f"| {head}: {kind} first batch | {first_ms:.1f} ms | < 50 ms "
                f"| {_ok(first_ms < 50)} |"
            )
        for kind in ("random", "fixed", "quota"):
            fig = sc.get(f"resume {kind}")
            if fig is None:
                continue
            if "error" in fig:
                lines.append(f"| {head}: resume {kind} | {fig['error']} | | n/a |")
                continue
            (_, t0), (k1, t1) = sorted(fig.items(), key=lambda kv: int(kv[0]))
            ratio = t1 / t0
            lines.append(
                f"| {head}: resume {kind} at batch {int(k1):,} vs 0 | {t1 * 1e3:.1f} ms"
                f" vs {t0 * 1e3:.1f} ms = {ratio:.2f}x | ~1x (independent of k) "
                f"| {_ok(ratio <= 2)} |"
            )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats, no scale case")
    parser.add_argument("--scale", action="store_true", help="add 1e8 labels / 1e5 classes")
    parser.add_argument("--json", type=Path, help="also write the raw figures here")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--task", help=argparse.SUPPRESS)
    parser.add_argument("--n", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--k", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--kind", help=argparse.SUPPRESS)
    parser.add_argument("--n-batches", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--resume-at", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(_child(args)))
        return 0
    rates = throughput(args.quick)
    scales = []
    if not args.quick:
        scales.append(scale(10_000_000, 200, 1_000_000))
    if args.scale:
        scales.append(scale(100_000_000, 100_000, 1_000_000))
    text = report(rates, scales)
    print(text)
    if args.json:
        args.json.write_text(json.dumps({"rates": rates, "scales": scales}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
