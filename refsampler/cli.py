"""Command line: ``refsampler demo`` (and the kit's ``verify``)."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

import numpy as np

__all__ = ["DEMO_COUNTS", "main"]

#: The embedded long-tailed demo dataset: 3,000 samples, shares of 74/7/15/2/2 %.
DEMO_COUNTS = (2220, 210, 450, 60, 60)


def _demo(args: argparse.Namespace) -> int:
    from .conformance.stats import chisquare_shares
    from .sampler import BalancedBatchSampler

    labels = np.repeat(np.arange(len(DEMO_COUNTS)), DEMO_COUNTS)
    shares = np.asarray(DEMO_COUNTS) / sum(DEMO_COUNTS)
    print(
        f"refsampler demo: {labels.size} labels, class counts {list(DEMO_COUNTS)}, "
        f"batch size {args.batch_size}, seed {args.seed}"
    )
    print("true shares: " + _shares(shares))
    for alpha in (0.0, 0.5, 1.0):
        print(f"\nalpha = {alpha}")
        for kind in ("fixed", "quota", "random"):
            sampler = BalancedBatchSampler(
                labels, args.batch_size, kind=kind, alpha=alpha, seed=args.seed
            )
            batches = np.array(list(sampler))
            per_batch = np.stack(
                [np.bincount(labels[b], minlength=len(DEMO_COUNTS)) for b in batches]
            )
            drawn = per_batch.sum(axis=0)
            print(f"  {kind:<6}  target   {_shares(sampler.target)}")
            print(f"          realised {_shares(drawn / drawn.sum())}  ({len(batches)} batches)")
            if kind == "fixed":
                print(f"          every batch: {per_batch[0].tolist()}")
            elif kind == "quota":
                low, high = per_batch.min(0), per_batch.max(0)
                ranges = [f"{lo}-{hi}" for lo, hi in zip(low, high, strict=True)]
                print(f"          per-batch range: {ranges}")
            else:
                test = chisquare_shares(drawn, sampler.target)
                print(
                    f"          chi-square {test.statistic:.2f} on {test.dof} dof, "
                    f"p = {test.pvalue:.3f}"
                )
    return 0


def _shares(values: Sequence[float] | np.ndarray) -> str:
    return " ".join(f"{100 * v:5.1f}%" for v in values)


#: (subcommand, module, help) of subcommands implemented outside this module.
_EXTERNAL = (("verify", ".conformance.cli", "check a sampler implementation against the contract"),)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``refsampler`` console script."""
    parser = argparse.ArgumentParser(prog="refsampler", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    demo = commands.add_parser("demo", help="show every kind on an embedded long-tailed dataset")
    demo.add_argument("--batch-size", type=int, default=32)
    demo.add_argument("--seed", type=int, default=0)
    demo.set_defaults(run=_demo)
    # Subcommands that live elsewhere expose configure(parser) and run(args) -> exit code;
    # they are imported only when named, so `refsampler demo` stays light.
    for name, module, help_text in _EXTERNAL:
        if name in (argv if argv is not None else sys.argv[1:]):
            sub = importlib.import_module(module, __package__)
            sub.configure(commands.add_parser(name, help=help_text))
        else:
            commands.add_parser(name, help=help_text, add_help=False)
    args = parser.parse_args(argv)
    return int(args.run(args))


if __name__ == "__main__":
    sys.exit(main())
