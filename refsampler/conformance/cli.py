"""``refsampler verify MODULE:CALLABLE``: check a sampler implementation from the shell.

Exit codes: 0 the implementation conforms, 1 a check failed, 2 a usage or import error.
The table and the verdicts go to standard output; progress goes to standard error.
"""

from __future__ import annotations

import argparse
import sys
import time

from ..errors import InvalidArgumentError
from .adapters import APIS, load
from .checks import KINDS
from .runner import LEVELS, verify

__all__ = ["configure", "run"]

EXIT_CONFORMS, EXIT_VIOLATION, EXIT_USAGE = 0, 1, 2


def configure(parser: argparse.ArgumentParser) -> None:
    """Add the ``verify`` arguments to ``parser`` and route it to :func:`run`."""
    parser.description = (
        "Check a sampler implementation against refsampler's contract. Exit status: 0 "
        "conforms, 1 a violation, 2 a usage or import error."
    )
    parser.add_argument(
        "impl", metavar="MODULE:CALLABLE", help="the implementation, e.g. mypkg.sampling:adapter"
    )
    parser.add_argument(
        "--api",
        choices=APIS,
        default="batches",
        help="batches: make_batches(labels, *, kind, alpha, batch_size, n_batches, seed); "
        "factory: an object or class with pytorch_balanced_sampler's .get(); "
        "weights: weights(labels, alpha) for WeightedRandomSampler (random kind only)",
    )
    parser.add_argument(
        "--kind", choices=(*KINDS, "all"), default="all", help="kind to check (default: all)"
    )
    parser.add_argument(
        "--level",
        choices=LEVELS,
        default="quick",
        help="quick, or full: power 0.999 against a 1-point share shift (default: quick)",
    )
    parser.add_argument("--seed", type=int, default=0, help="base seed (default: 0)")
    parser.add_argument("--json", metavar="PATH", help="also write the report as JSON to PATH")
    parser.add_argument(
        "--failures-only", action="store_true", help="list only the failed checks in the table"
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Run the checks; return the exit code."""
    try:
        adapter = load(args.impl, args.api)
    except InvalidArgumentError as exc:
        print(f"refsampler verify: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    kinds = KINDS if args.kind == "all" else (args.kind,)
    started = time.perf_counter()

    def progress(message: str) -> None:
        print(f"[{time.perf_counter() - started:6.1f}s] {message}", file=sys.stderr, flush=True)

    try:
        report = verify(
            adapter,
            kinds=kinds,
            level=args.level,
            seed=args.seed,
            progress=progress,
            name=f"{args.impl} (api={args.api})",
        )
    except InvalidArgumentError as exc:
        print(f"refsampler verify: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    print(f"refsampler verify {report.implementation}: level {report.level}, seed {report.seed}")
    print(report.table(failures_only=args.failures_only))
    if report.failures:
        print("\nfailures:")
        for result in report.failures:
            print(f"  {result.kind}/{result.config}/{result.check}: {result.detail}")
    print()
    print(
        f"{report.n_statistical} statistical checks at family-wise false-alarm rate "
        f"{report.family_level:g} (Holm); {len(report.results)} checks in {report.seconds:.1f} s"
    )
    for line in report.verdict_lines():
        print(line)
    if args.json:
        try:
            with open(args.json, "w", encoding="utf-8") as handle:
                handle.write(report.to_json())
        except OSError as exc:
            print(f"refsampler verify: error: cannot write --json: {exc}", file=sys.stderr)
            return EXIT_USAGE
    return EXIT_CONFORMS if report.conforms else EXIT_VIOLATION
