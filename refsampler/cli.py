"""Command line: ``refsampler demo``, ``refsampler plan`` (and the kit's ``verify``)."""

from __future__ import annotations

import argparse
import contextlib
import importlib
import os
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, NoReturn

import numpy as np

from . import __version__, _validate, kinds
from ._validate import _show

__all__ = ["DEMO_COUNTS", "main"]

#: The embedded long-tailed demo dataset: 3,000 samples, shares of 74/7/15/2/2 %.
DEMO_COUNTS = (2220, 210, 450, 60, 60)

_INT64 = np.iinfo(np.int64)
#: The first bytes of every .npy file.
_NPY_MAGIC = b"\x93NUMPY"


def _demo(args: argparse.Namespace) -> int:
    from .conformance.stats import chisquare_shares
    from .diagnostics import _plural, _tie_note, describe
    from .errors import InvalidArgumentError
    from .kinds.pk import samples_per_class
    from .sampler import BalancedBatchSampler

    batch = _validate.batch_size(args.batch_size)
    _validate.seed(args.seed)
    # Two classes per batch keeps pk feasible at alpha 0.5 and 1 on the demo data.
    members = args.samples_per_class
    if members is None:
        members = batch // 2 if batch % 2 == 0 else batch
    members = samples_per_class(members, batch)
    labels = np.repeat(np.arange(len(DEMO_COUNTS)), DEMO_COUNTS)
    shares = np.asarray(DEMO_COUNTS) / sum(DEMO_COUNTS)
    print(
        f"refsampler demo: {labels.size} labels, class counts {list(DEMO_COUNTS)}, "
        f"batch size {batch}, seed {args.seed}"
    )
    print("true shares: " + _shares(shares))
    for alpha in (0.0, 0.5, 1.0):
        print(f"\nalpha = {alpha}")
        for kind in kinds.names():
            traits = kinds.get(kind)
            options = (
                {"samples_per_class": members} if "samples_per_class" in traits.options else {}
            )
            try:
                sampler = BalancedBatchSampler(
                    labels, batch, kind=kind, alpha=alpha, seed=args.seed, **options
                )
            except InvalidArgumentError as exc:  # fixed and pk are infeasible for some targets
                print(f"  {kind:<6}  not possible: {exc}")
                continue
            target = sampler.target
            batches = np.array(list(sampler))
            per_batch = np.stack(
                [np.bincount(labels[b], minlength=len(DEMO_COUNTS)) for b in batches]
            )
            drawn = per_batch.sum(axis=0)
            print(f"  {kind:<6}  target   {_shares(target)}")
            done = _plural(len(batches), "batch")
            print(f"          realised {_shares(drawn / drawn.sum())}  ({done})")
            properties = traits.properties
            if kinds.PROPERTY_FIXED_COUNTS in properties:
                print(f"          every batch of epoch 0: {per_batch[0].tolist()}")
                tied, seats = describe(sampler).ties()
                if tied.size:
                    print(f"          {_tie_note(tied, seats)}")
            elif kinds.PROPERTY_QUOTA_COUNTS in properties:
                low, high = per_batch.min(0), per_batch.max(0)
                ranges = [f"{lo}-{hi}" for lo, hi in zip(low, high, strict=True)]
                print(f"          per-batch range: {ranges}")
            elif kinds.PROPERTY_PK_SHAPE in properties:
                per_class = batch // members
                holding = (per_batch > 0).sum(axis=0)
                ideal = ", ".join(f"{len(batches) * per_class * p:.1f}" for p in target)
                print(
                    f"          {_plural(per_class, 'class')} x {members} per batch; batches "
                    f"holding each class: {holding.tolist()} (ideal n_batches*P*p: [{ideal}])"
                )
            else:
                test = chisquare_shares(drawn, target)
                print(
                    f"          chi-square {test.statistic:.2f} on {test.dof} dof, "
                    f"p = {test.pvalue:.3f}"
                )
    return 0


def _shares(values: Sequence[float] | np.ndarray) -> str:
    return " ".join(f"{100 * v:5.1f}%" for v in values)


class _UsageError(Exception):
    """Bad command-line input: reported on one line with exit code 2."""


class _Parser(argparse.ArgumentParser):
    """An argument parser whose usage errors are one line too, like every other input error."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


#: Figure formats named when matplotlib cannot list its own.
_FALLBACK_PLOT_FORMATS = ("pdf", "png", "svg")


def _configure_plan(parser: argparse.ArgumentParser) -> None:
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument(
        "--labels",
        metavar="PATH",
        help="class ids, one per sample: .npy, or .csv / .txt with one label per line",
    )
    source.add_argument("--counts", metavar="N,N,...", help="samples per class, e.g. 5000,300,20")
    parser.add_argument(
        "--batch-size",
        type=_validate.integer,
        required=True,
        metavar="B",
        help="positions per batch",
    )
    share = parser.add_mutually_exclusive_group()
    share.add_argument(
        "--alpha", type=_validate.number, help="0 keeps the true shares, 1 is uniform (default 1)"
    )
    share.add_argument(
        "--alpha-schedule",
        metavar="E:A,E:A,...",
        help="alpha moving with the epoch, piecewise linear between (epoch, alpha) knots, "
        "e.g. 0:0,90:1; adds the target of a few epochs",
    )
    share.add_argument(
        "--target", metavar="W,W,...", help="explicit target weights per class (normalised)"
    )
    parser.add_argument(
        "--kind", default="fixed", help=f"one of {', '.join(kinds.names())} (default fixed)"
    )
    parser.add_argument(
        "--samples-per-class",
        type=_validate.integer,
        metavar="M",
        help="members of each class in a batch (kind pk: B / M classes per batch)",
    )
    parser.add_argument(
        "--n-batches",
        type=_validate.integer,
        metavar="N",
        help="batches per epoch on each rank (default ceil(N / (B * R)))",
    )
    parser.add_argument(
        "--num-replicas",
        type=_validate.integer,
        default=1,
        metavar="R",
        help="data-parallel ranks; per-epoch columns count the batches of all of them (default 1)",
    )
    parser.add_argument(
        "--epoch",
        type=_validate.integer,
        metavar="E",
        help="the epoch whose target the table shows, with --alpha-schedule, and whose draws "
        "--plot shows (default 0)",
    )
    parser.add_argument(
        "--plot",
        metavar="PATH",
        help="write the figure to PATH; the extension picks the format (.png, .pdf, .svg, ...)",
    )
    parser.add_argument(
        "--json",
        nargs="?",
        const="-",
        metavar="PATH",
        help="write machine-readable output to PATH; without PATH, print JSON instead of the table",
    )
    parser.add_argument(
        "--seed", type=_validate.integer, help="seed of the epoch drawn for --plot (default 0)"
    )
    parser.set_defaults(run=_plan)


def _plan(args: argparse.Namespace) -> int:
    from .diagnostics import describe
    from .errors import InvalidArgumentError
    from .schedules import parse
    from .targets import explicit

    # Cheap checks first, so that a typo is reported before any file is read or plan computed.
    if args.plot is not None:
        _check_plot_path(args.plot)
    _validate.batch_size(args.batch_size)
    if args.n_batches is not None:
        _validate.n_batches(args.n_batches)
    _validate.positive_int("num_replicas", args.num_replicas)
    if args.epoch is not None:
        if args.alpha_schedule is None and args.plot is None:
            raise _UsageError(
                "`--epoch` chooses the epoch of `--alpha-schedule` or of the `--plot`'s draws; "
                "give one of them."
            )
        _validate.epoch(args.epoch)
    seed = _validate.seed(0 if args.seed is None else args.seed)
    if args.seed is not None and args.plot is None:  # the table does not depend on it
        raise _UsageError("`--seed` chooses the seed of the `--plot`'s draws; give `--plot` too.")
    alpha: Any = args.alpha
    try:
        if args.alpha_schedule is not None:
            alpha = parse(args.alpha_schedule)
        if args.counts is not None:
            counts: Any = _int_list("--counts", args.counts)
        else:
            from .classes import class_counts

            counts = class_counts(_read_labels(args.labels))
        target = None
        if args.target is not None:
            target = explicit(_float_list("--target", args.target))
        options: dict[str, Any] = {
            "alpha": alpha,
            "target": target,
            "kind": args.kind,
            "n_batches": args.n_batches,
            "num_replicas": args.num_replicas,
            "samples_per_class": args.samples_per_class,
        }
        table = describe(counts, args.batch_size, epoch=args.epoch, **options)
        if args.plot is not None:
            from .plots import plot_plan

            with _naming("--plot", args.plot):
                plot_plan(
                    counts,
                    args.batch_size,
                    epoch=args.epoch,
                    seed=seed,
                    path=args.plot,
                    **options,
                )
        if args.json == "-":
            print(table.to_json(indent=2))
        else:
            if args.json is not None:  # first: a path it cannot write fails before any output
                with _naming("--json", args.json):
                    Path(args.json).write_text(table.to_json(indent=2) + "\n")
            print(table.to_text())
        if args.plot is not None and args.json != "-":
            print(f"figure written to {args.plot}")
    except InvalidArgumentError as exc:  # the library's names, as the user gave the values
        renames = {"weights": "--target", "alpha schedule": "--alpha-schedule"}
        if args.counts is not None:
            renames["class_counts"] = "--counts"
        message = str(exc)
        for name, option in renames.items():
            message = message.replace(f"`{name}`", f"`{option}`")
        raise InvalidArgumentError(message) from None
    except BrokenPipeError:  # not a file problem: main stops quietly
        raise
    except OSError as exc:  # a file named on the command line cannot be read or written
        raise _UsageError(_os_message(exc)) from None
    return 0


def _check_plot_path(path_text: str) -> None:
    """Fail unless matplotlib is installed and can write the format of ``path_text``."""
    try:
        import matplotlib
    except ImportError:
        raise _UsageError(
            f"`--plot` needs matplotlib (pip install 'refsampler[plot]'); got {path_text!r}."
        ) from None
    matplotlib.use("Agg")
    path = Path(path_text)
    if path.is_dir() or path_text.endswith(("/", os.sep)):
        raise _UsageError(f"`--plot` must name a file, not a directory; got {path_text!r}.")
    formats = _plot_formats()
    # A name without a suffix is refused too: matplotlib would add one, and the figure would
    # land in a file other than the one named.
    if path.suffix.lower()[1:] not in formats:
        listed = ", ".join(f".{f}" for f in formats)
        raise _UsageError(f"`--plot` must end in one of {listed}; got {path_text!r}.")


def _plot_formats() -> tuple[str, ...]:
    """The file formats matplotlib can write, e.g. ``("eps", "pdf", "png", ...)``."""
    try:
        from matplotlib.backend_bases import FigureCanvasBase

        return tuple(sorted(FigureCanvasBase.get_supported_filetypes()))
    except (ImportError, AttributeError):
        return _FALLBACK_PLOT_FORMATS


@contextlib.contextmanager
def _naming(option: str, path_text: str) -> Iterator[None]:
    """Report a file that ``option`` names and that cannot be written with the option."""
    try:
        yield
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise _UsageError(f"`{option}` cannot be written ({reason}); got {path_text!r}.") from None


def _os_message(exc: OSError) -> str:
    where = f": {exc.filename}" if exc.filename else ""
    return f"{exc.strerror or exc}{where}"


def _int_list(option: str, text: str) -> list[int]:
    try:
        return [_validate.integer(part) for part in text.split(",")]
    except ValueError:
        raise _UsageError(
            f"`{option}` must be comma-separated integers; got {_show(text)}."
        ) from None


def _float_list(option: str, text: str) -> list[float]:
    try:
        return [_validate.number(part) for part in text.split(",")]
    except ValueError:
        raise _UsageError(
            f"`{option}` must be comma-separated numbers; got {_show(text)}."
        ) from None


def _read_labels(path_text: str) -> Any:
    """Labels from .npy, or from .csv / .txt with one integer label per line.

    Blank lines at the end of a text file are ignored; a blank line before a label is refused
    (a label left out). A .csv file may start with one header line: a first line that is not
    a number at all (``label``); a number that is not an integer (``1.5``) is a bad label, not
    a header. Text files are read as UTF-8 (a byte-order mark is ignored).
    """
    path = Path(path_text)
    suffix = path.suffix.lower()
    if suffix == ".npy":
        with path.open("rb") as file:  # missing, a directory, ...: the system's reason
            magic = file.read(len(_NPY_MAGIC))
        if magic[:2] == b"PK":  # a zip: an .npz archive under a .npy name
            raise _UsageError(f"`--labels` must be a .npy file, not .npz; got {path_text!r}.")
        if magic != _NPY_MAGIC:  # else numpy would try it as a pickle and say so
            raise _UsageError(
                f"`--labels` must be a .npy file, but it does not start as one; got {path_text!r}."
            )
        try:
            array = np.load(path, allow_pickle=False)
        except OSError:  # missing, a directory, ...: reported with the system's reason
            raise
        except Exception as exc:  # empty, truncated or corrupt: numpy's parsers raise any type
            reason = " ".join(str(exc).split()) or type(exc).__name__
            raise _UsageError(
                f"`--labels` must be a .npy file numpy can read ({reason}); got {path_text!r}."
            ) from None
        return array
    if suffix not in (".csv", ".txt"):
        raise _UsageError(f"`--labels` must be a .npy, .csv or .txt file; got {path_text!r}.")
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise _UsageError(
            f"`--labels` must be UTF-8 text, but byte {exc.start} is not; got {path_text!r}."
        ) from None
    lines = [line.strip() for line in text.splitlines()]
    while lines and not lines[-1]:  # blank lines at the end: the file's end, not a label
        lines.pop()
    if suffix == ".csv" and lines and not _is_number(lines[0]):
        header, lines = lines[0], lines[1:]
        if not lines:  # else "must not be empty" would hide that the one line was dropped
            raise _UsageError(
                f"`--labels` must hold one integer label per line; {path_text!r} has one line, "
                f"{_show(header)}, which is not a number and was read as a header."
            )
    labels: list[int] = []
    for number, line in enumerate(lines, start=1):
        if not line:  # a label left out: the counts would be quietly short
            raise _UsageError(
                f"`--labels` must hold one integer label per line; got an empty line in "
                f"{path_text!r} (data line {number})."
            )
        if not _is_int(line):
            raise _UsageError(
                f"`--labels` must hold one integer label per line; got {_show(line)} in "
                f"{path_text!r} (data line {number})."
            )
        label = _validate.integer(line)
        if not _INT64.min <= label <= _INT64.max:  # in-range negatives get the library's message
            raise _UsageError(
                f"`--labels` must hold labels that fit in int64; got {_show(line)} in "
                f"{path_text!r} (data line {number})."
            )
        labels.append(label)
    return np.array(labels, dtype=np.int64)


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _is_int(text: str) -> bool:
    try:
        _validate.integer(text)
    except ValueError:
        return False
    return True


#: (subcommand, module, help) of subcommands implemented outside this module.
_EXTERNAL = (("verify", ".conformance.cli", "check a sampler implementation against the contract"),)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``refsampler`` console script."""
    parser = _Parser(prog="refsampler", description=__doc__)
    parser.add_argument("--version", action="version", version=f"refsampler {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    demo = commands.add_parser("demo", help="show every kind on an embedded long-tailed dataset")
    demo.add_argument("--batch-size", type=_validate.integer, default=32, help="B (default 32)")
    demo.add_argument(
        "--seed", type=_validate.integer, default=0, help="seed of every sampler (default 0)"
    )
    demo.add_argument(
        "--samples-per-class",
        type=_validate.integer,
        metavar="M",
        help="members of each class in a pk batch (default B / 2, or B when B is odd)",
    )
    demo.set_defaults(run=_demo)
    _configure_plan(
        commands.add_parser(
            "plan",
            help="show per-class shares, per-batch counts and coverage of a configuration",
            description="Print what a sampler configuration does to each class.",
        )
    )
    # Subcommands that live elsewhere expose configure(parser) and run(args) -> exit code;
    # they are imported only when named, so `refsampler demo` stays light.
    for name, module, help_text in _EXTERNAL:
        if name in (argv if argv is not None else sys.argv[1:]):
            sub = importlib.import_module(module, __package__)
            sub.configure(commands.add_parser(name, help=help_text))
        else:
            commands.add_parser(name, help=help_text, add_help=False)
    args = parser.parse_args(argv)
    from .errors import InvalidArgumentError

    try:
        return int(args.run(args))
    except (InvalidArgumentError, _UsageError) as exc:  # one line and status 2, no traceback
        print(f"refsampler {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # the reader left (`refsampler plan ... | head`)
        return _stop_quietly()


def _stop_quietly() -> int:
    """End a command whose reader closed the pipe: no message, exit status 1.

    Points stdout at devnull so that the interpreter's final flush cannot raise again.
    """
    try:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    except (AttributeError, OSError, ValueError):  # stdout is not a file (replaced in-process)
        pass
    return 1


if __name__ == "__main__":
    sys.exit(main())
