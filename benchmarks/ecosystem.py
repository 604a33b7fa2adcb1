"""Run the conformance kit on samplers of other projects and write docs/ecosystem.md.

``make ecosystem`` (never part of ``make test``). torch's WeightedRandomSampler recipe always
runs; other samplers only when their package imports (install them into the virtualenv, not
into the project's dependencies). Every sampler goes through ``--api sampler`` with an
adapter defined here; what the kit reports is the kit's reading, to be confirmed with each
project.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import platform
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

import refsampler
from refsampler.conformance import verify
from refsampler.conformance.adapters import weighted_random_sampler
from refsampler.conformance.report import Report
from refsampler.conformance.streams import SamplerAdapter

ROOT = Path(__file__).resolve().parents[1]
PAGE = ROOT / "docs" / "ecosystem.md"

#: One line reading of each check that can fail, for the table.
READINGS = {
    "runs": "the sampler raised or could not be built",
    "batch_shape": "batches of the wrong number or size, nested, or not of integers",
    "pk_shape": "a batch is not P distinct classes x m distinct members",
    "appearance_prefix_below_1": "class appearances drift from P p_c per batch",
    "without_replacement_in_cycle": "members repeat before their class's cycle ends",
    "distinct_in_batch": "a member twice in one batch although its class has enough",
    "cycles_reshuffled": "cycles are not reshuffled",
    "cycle_positions_uniform": "members keep to some offsets of their cycles",
    "classes_meet": "some pairs of classes never share a batch",
    "classes_not_locked": "classes locked together",
    "schedule_varies_with_seed": "which classes meet does not depend on the seed",
    "start_seats_random": "every seed starts with the same classes (ties by class id)",
    "other_seed_other_batches": "the seed does not change what the batches hold",
    "far_seed_other_batches": "seeds far apart give the same batches (low bits only)",
    "same_seed_same_batches": "one seed does not reproduce its batches",
    "within_batch_exchangeable": "the order inside a batch is not a uniform shuffle",
    "same_class_adjacency": "classes sit in blocks inside a batch",
    "epochs_differ": "epochs replay each other",
    "batches_not_repeated": "a batch comes back in a later epoch",
    "ranks_batches_not_repeated": "a batch comes back on another rank or epoch",
    "epoch_reproducible": "an epoch cannot be rebuilt from (seed, epoch)",
    "cycles_continue_across_epochs": "cycles restart at every epoch",
    "epochs_shape": "passes of the wrong length, or len() disagrees",
    "resume_continues_exactly": "a restored state does not continue the run",
    "run_prefix_below_1": "over a run of epochs the quota / appearance bound drifts past 1",
    "ranks_equal_length": "a rank yields (or its len() says) other than n_batches an epoch",
    "ranks_independent": "the ranks of a step draw dependent classes",
    "ranks_disjoint_in_cycle": "one member goes to two ranks within a cycle",
    "rank_shares": "a rank's class shares miss the target",
    "epochs_pooled_shares": "pooled class shares over epochs miss the targets",
}


def _version(package: str) -> str:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


# -- adapters ----------------------------------------------------------------------------


class _Seeded:
    """A per-index sampler that draws from the global RNGs, seeded per (seed, epoch)."""

    def __init__(self, inner: Any, seed: int) -> None:
        self.inner, self.seed, self.epoch = inner, seed, 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __iter__(self) -> Any:
        state = np.random.get_state()  # noqa: NPY002
        try:
            np.random.seed((self.seed * 100_003 + self.epoch) % 2**32)  # noqa: NPY002
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(self.seed * 100_003 + self.epoch)
                return iter(list(self.inner))
        finally:
            np.random.set_state(state)  # noqa: NPY002

    def __len__(self) -> int:
        return len(self.inner)


def mperclass(
    labels: Any,
    *,
    kind: str,
    alpha: Any,
    batch_size: int,
    n_batches: int,
    seed: int,
    num_replicas: int,
    rank: int,
    samples_per_class: int | None = None,
) -> Any:
    """pytorch-metric-learning's MPerClassSampler as a pk sampler: every class equally often
    (alpha = 1), m members per class, one process, seeded through the global RNGs."""
    from pytorch_metric_learning.samplers import MPerClassSampler

    if samples_per_class is None or callable(alpha) or alpha != 1.0:
        raise NotImplementedError("MPerClassSampler: P x m batches of uniform classes only")
    if num_replicas != 1:
        raise NotImplementedError("MPerClassSampler has no DDP sharding")
    sampler = MPerClassSampler(
        labels.tolist(),
        samples_per_class,
        batch_size,
        length_before_new_iter=n_batches * batch_size,
    )
    return _Seeded(sampler, seed)


@dataclass(frozen=True)
class Target:
    """A sampler the script runs."""

    name: str
    package: str
    make_sampler: Callable[..., Any]
    kinds: tuple[str, ...]
    world_sizes: tuple[int, ...]
    index_sampler: bool
    available: Callable[[], bool]


def _importable(module: str) -> Callable[[], bool]:
    def check() -> bool:
        try:
            __import__(module)
        except ImportError:
            return False
        return True

    return check


TARGETS = (
    Target(
        "torch WeightedRandomSampler + DistributedSampler-style sharding",
        "torch",
        weighted_random_sampler,
        ("random",),
        (1, 2, 3),
        True,
        lambda: True,
    ),
    Target(
        "pytorch-metric-learning MPerClassSampler",
        "pytorch-metric-learning",
        mperclass,
        ("pk",),
        (1,),
        True,
        _importable("pytorch_metric_learning.samplers"),
    ),
)


def _rows(target: Target, report: Report) -> list[str]:
    rows = []
    for run in report.runs:
        failed = sorted({r.check for r in report.failures if r.config == run.config})
        if run.status == "declined":
            verdict, text = "declined", run.reason
        elif failed:
            verdict = "violates"
            text = "; ".join(
                f"`{c}`: {READINGS.get(c.split('[')[0], 'see the report')}" for c in failed[:8]
            )
        else:
            verdict, text = "conforms", ""
        rows.append(f"| {target.name} | {run.kind} | `{run.config}` | {verdict} | {text} |")
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--level", default="quick", choices=("quick", "full"))
    parser.add_argument("--out", default=str(PAGE))
    args = parser.parse_args(argv)
    lines = [
        "# Samplers in the ecosystem",
        "",
        "What refsampler's conformance kit (`refsampler verify --api sampler`) reports for",
        "samplers of other projects, through the adapters in `benchmarks/ecosystem.py`",
        "(regenerate with `make ecosystem`). **These are the kit's findings, read against",
        "refsampler's contract; confirm each with the project before calling it a bug.** A",
        "sampler built for a different contract (say, uniform classes only, or one process) is",
        "not wrong for failing or declining another one.",
        "",
        f"Ran on Python {platform.python_version()}, torch {_version('torch')}, refsampler "
        f"{refsampler.__version__}, pytorch-metric-learning "
        f"{_version('pytorch-metric-learning')}; level `{args.level}`, seed 0.",
        "",
        "| sampler | kind | configuration | verdict | failing checks (one-line reading) |",
        "| --- | --- | --- | --- | --- |",
    ]
    skipped = []
    for target in TARGETS:
        if not target.available():
            skipped.append(f"- {target.name}: `{target.package}` is not installed")
            continue
        print(f"verifying {target.name} ...", file=sys.stderr, flush=True)
        report = verify(
            SamplerAdapter(target.make_sampler, index_sampler=target.index_sampler),
            kinds=target.kinds,
            level=args.level,
            world_sizes=target.world_sizes,
            name=target.name,
        )
        lines += _rows(target, report)
        print("\n".join(report.verdict_lines()), file=sys.stderr)
    lines += [
        "",
        "World sizes: the WeightedRandomSampler recipe runs on 1, 2 and 3 ranks;",
        "MPerClassSampler has no DDP sharding and runs on one. Configurations a sampler cannot",
        "express are declined by its adapter, with the reason.",
    ]
    if skipped:
        lines += ["", "Not run (package missing):", "", *skipped]
    Path(args.out).write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"wrote {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
