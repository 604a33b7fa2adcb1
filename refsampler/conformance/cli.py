"""``refsampler verify MODULE:CALLABLE``: check a sampler implementation from the shell.

``verify`` imports the named module and calls the named object: it runs that code, so only
point it at code you trust. The current directory is put first on ``sys.path`` (as ``python
-m refsampler`` does), so ``refsampler verify mypkg.sampling:make_batches`` works from the
project directory.

Exit status: 0 conforms (at least one configuration of every requested kind ran and every
check passed; declined configurations are listed), 1 a check failed, 2 a usage error (bad
arguments, an implementation that cannot be imported -- any exception while importing -- or
is not callable, whose signature cannot take the API's arguments, or that raises
``SystemExit``), 3 nothing tested (every configuration of a requested kind was declined).
Arguments are checked before anything runs: a ``--json`` path whose directory does not exist
is refused up front, not after the run. The table and the verdicts go to standard output;
progress goes to standard error.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from typing import TYPE_CHECKING

from .. import _validate
from .. import kinds as _kinds
from .constants import API_NAMES, FAMILY_LEVEL, LEVELS, MIN_EPOCHS
from .report import EXIT_CONFORMS, EXIT_NOT_TESTED, EXIT_USAGE, EXIT_VIOLATION

if TYPE_CHECKING:  # the runner (scipy) and the adapters are imported when a run starts
    from .report import Report

__all__ = ["EXIT_CODES", "configs_table", "configure", "run"]

#: Exit status -> meaning, as ``--help`` and the docs state them.
EXIT_CODES = {
    EXIT_CONFORMS: "conforms: every requested kind ran at least one configuration, no check "
    "failed (declined configurations are listed)",
    EXIT_VIOLATION: "a check failed (a violation of the contract)",
    EXIT_USAGE: "usage error: bad arguments, or the implementation cannot be imported (any "
    "exception while importing), is not callable, cannot be called with the API's arguments "
    "(its signature), or raised SystemExit",
    EXIT_NOT_TESTED: "nothing tested: every configuration of a requested kind was declined",
}


def configure(parser: argparse.ArgumentParser) -> None:
    """Add the ``verify`` arguments to ``parser`` and route it to :func:`run`."""
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.description = (
        "Check a sampler implementation against refsampler's contract.\n\n"
        "verify IMPORTS the named module and RUNS the named code (the current directory is "
        "searched first): only point it at code you trust.\n\nexit status:\n"
        + "\n".join(f"  {code}  {text}" for code, text in EXIT_CODES.items())
    )
    parser.add_argument(
        "impl",
        metavar="MODULE:CALLABLE",
        nargs="?",
        help="the implementation, e.g. mypkg.sampling:make_batches",
    )
    parser.add_argument(
        "--api",
        choices=API_NAMES,
        default="batches",
        help="batches: make_batches(labels, *, kind, alpha, batch_size, n_batches, seed); "
        "factory: an object or class with pytorch_balanced_sampler's .get(); "
        "weights: weights(labels, alpha) for WeightedRandomSampler (i.i.d. kinds only); "
        "sampler: make_sampler(labels, *, kind, alpha, batch_size, n_batches, seed, "
        "num_replicas, rank) returning the sampler a DataLoader gets (epochs, ranks, resume)",
    )
    parser.add_argument(
        "--index-sampler",
        action="store_true",
        help="with --api sampler: the sampler yields single positions; batch it with "
        "BatchSampler(sampler, batch_size, drop_last=False)",
    )
    parser.add_argument(
        "--epochs",
        type=_validate.integer,
        metavar="E",
        help=f"with --api sampler: epochs of the epoch checks, at least {MIN_EPOCHS} "
        "(default: 3 quick, 4 full)",
    )
    parser.add_argument(
        "--world-size",
        metavar="W,W,...",
        default=None,
        help="with --api sampler: world sizes of the rank checks (default: 1,2)",
    )
    parser.add_argument(
        "--kind",
        choices=(*_kinds.names(), "all"),
        action="append",
        help="kind to check (repeatable; default: all kinds the API can express)",
    )
    parser.add_argument(
        "--config",
        action="append",
        metavar="NAME",
        help="run only this configuration (repeatable; see --list-configs)",
    )
    parser.add_argument(
        "--list-configs",
        action="store_true",
        help="print the configurations (what each probes, its batches per kind) and exit",
    )
    parser.add_argument(
        "--level",
        choices=LEVELS,
        default="quick",
        help="quick, or full: power 0.999 against a 1-point share shift (default: quick)",
    )
    parser.add_argument("--seed", type=_validate.integer, default=0, help="base seed (default: 0)")
    parser.add_argument(
        "--timeout",
        type=_validate.number,
        metavar="SECONDS",
        help="fail a call of the implementation that takes longer (default: no limit)",
    )
    parser.add_argument(
        "--fail-fast", action="store_true", help="stop at the first configuration that fails"
    )
    parser.add_argument(
        "--family-level",
        type=_validate.number,
        default=FAMILY_LEVEL,
        metavar="L",
        help=f"family-wise false-alarm rate of the statistical checks (default: {FAMILY_LEVEL:g})",
    )
    parser.add_argument("--json", metavar="PATH", help="also write the report as JSON to PATH")
    parser.add_argument(
        "--failures-only", action="store_true", help="list only the failed checks in the table"
    )
    parser.set_defaults(run=run)


def configs_table(level: str = "quick", kinds: tuple[str, ...] | None = None) -> str:
    """The configurations as a table: what ``--list-configs`` prints.

    Columns: name, classes, class counts, batch size, alpha, batches per kind at ``level``
    (``-`` where the kind cannot serve the configuration), and what it probes.
    """
    from .configs import CONFIGS
    from .runner import default_kinds, plan_run

    selected = default_kinds() if kinds is None else kinds
    batches: dict[tuple[str, str], int] = {
        (s.kind, s.config.name): s.n_batches for s in plan_run(selected, CONFIGS, level)
    }
    header = ("name", "K", "class counts", "B", "alpha", f"n_batches ({level})", "probes")
    rows = [header]
    for config in CONFIGS:
        counts = list(config.class_counts)
        shown = str(counts) if len(counts) <= 8 else f"[{counts[0]} .. {counts[-1]}]"
        per_kind = ", ".join(
            f"{kind} {batches[(kind, config.name)]}"
            if (kind, config.name) in batches
            else f"{kind} -"
            for kind in selected
        )
        rows.append(
            (
                config.name,
                str(config.num_classes),
                shown,
                str(config.batch_size),
                str(config.alpha) if config.scheduled else f"{config.alpha:g}",
                per_kind,
                config.why,
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = [
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
        for row in rows
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _writable_path(path: str) -> bool:
    """Whether a file can be written at ``path``: not a directory, in a writable directory."""
    folder = os.path.dirname(os.path.abspath(path))
    return not os.path.isdir(path) and os.path.isdir(folder) and os.access(folder, os.W_OK)


def _error(message: str) -> int:
    print(f"refsampler verify: error: {message}", file=sys.stderr)
    return EXIT_USAGE


def run(args: argparse.Namespace) -> int:
    """Run the checks; return the exit code."""
    from ..errors import InvalidArgumentError
    from .adapters import api_kinds, load
    from .calls import AdapterExit
    from .configs import by_name
    from .runner import check_adapter, served_kinds, verify
    from .streams import DEFAULT_WORLD_SIZES, SamplerAdapter, sampler_options

    possible = api_kinds(args.api)
    requested = tuple(dict.fromkeys(args.kind or ["all"]))
    kinds = possible if "all" in requested else requested
    if "all" in requested and args.config:
        # Without --kind, the kinds the chosen configurations serve; a bad name is reported
        # by verify below.
        try:
            kinds = served_kinds(kinds, by_name(args.config)) or kinds
        except InvalidArgumentError:
            pass
    unknown = [k for k in kinds if k not in possible]
    if unknown:
        return _error(
            f"`--api {args.api}` cannot implement kind {unknown[0]!r}; it can implement "
            + ", ".join(possible)
        )
    if args.list_configs:
        print(configs_table(args.level, kinds))
        return EXIT_CONFORMS
    if args.impl is None:
        return _error("the MODULE:CALLABLE argument is required (or --list-configs)")
    if args.json is not None and not _writable_path(args.json):
        # Refused now: a report that cannot be written is better known before the run.
        return _error(
            f"`--json` must name a file in an existing, writable directory; got {args.json!r}."
        )
    here = os.getcwd()
    if here not in sys.path:
        # `python -m refsampler` searches the current directory first; the console script
        # must find `mypkg` in the project directory the same way.
        sys.path.insert(0, here)
    try:
        options = sampler_options(
            args.api,
            index_sampler=args.index_sampler,
            epochs=args.epochs,
            world_size=args.world_size,
        )
        adapter = load(args.impl, args.api, index_sampler=options.index_sampler)
        check_adapter(adapter, "impl", repr(args.impl))
    except InvalidArgumentError as exc:
        return _error(str(exc))
    if isinstance(adapter, SamplerAdapter):
        adapter.index_sampler_option = "--index-sampler"
    sizes = options.world_sizes or DEFAULT_WORLD_SIZES
    started = time.perf_counter()

    def progress(message: str) -> None:
        print(f"[{time.perf_counter() - started:6.1f}s] {message}", file=sys.stderr, flush=True)

    command = f"refsampler verify {args.impl} --api {args.api}"
    stream_options: dict[str, object] = {}
    if args.api == "sampler":
        stream_options = {"epochs": options.epochs, "world_sizes": sizes}
        command += f" --world-size {','.join(map(str, sizes))}"
        command += " --index-sampler" if options.index_sampler else ""
        command += f" --epochs {options.epochs}" if options.epochs is not None else ""
    if args.timeout is not None:
        command += f" --timeout {args.timeout:g}"
    if args.family_level != FAMILY_LEVEL:
        command += f" --family-level {args.family_level:g}"
    try:
        report = verify(
            adapter,
            kinds=kinds,
            level=args.level,
            seed=args.seed,
            configs=args.config,
            family_level=args.family_level,
            fail_fast=args.fail_fast,
            timeout=args.timeout,
            progress=progress,
            name=f"{args.impl} (api={args.api})",
            command=command,
            **stream_options,  # type: ignore[arg-type]
        )
    except InvalidArgumentError as exc:
        return _error(str(exc))
    except AdapterExit as exc:
        return _error(f"{args.impl}: {exc}")
    _print(report, args.failures_only)
    if args.json:
        try:
            with open(args.json, "w", encoding="utf-8") as handle:
                handle.write(report.to_json())
        except OSError as exc:
            return _error(f"cannot write --json: {exc}")
    return report.exit_code


def _print(report: Report, failures_only: bool) -> None:
    print(f"refsampler verify {report.implementation}: level {report.level}, seed {report.seed}")
    print(report.table(failures_only=failures_only))
    if report.failures:
        print("\nfailures:")
        for line in report.failure_lines():
            print(f"  {line}")
    print()
    print(
        f"{report.n_statistical} statistical checks at family-wise false-alarm rate "
        f"{report.family_level:g} (Holm); {len(report.results)} checks in "
        f"{report.seconds:.1f} s"
    )
    if report.notes:
        print("notes:")
        for note in report.notes:
            print(f"  {note}")
    for line in report.verdict_lines():
        print(line)
