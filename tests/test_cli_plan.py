"""Tests of the `refsampler plan` subcommand (refsampler/cli.py)."""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from refsampler import kinds
from refsampler.allocation import allocate_with_ties
from refsampler.cli import _plot_formats, main
from refsampler.diagnostics import describe
from refsampler.schedules import piecewise
from refsampler.targets import interpolate

#: The registered kinds as the `kind` message lists them: "fixed", "quota", "random".
KIND_CHOICES = ", ".join(f'"{name}"' for name in kinds.names())
EXAMPLE = ["plan", "--counts", "740,70,150,20,20", "--batch-size", "32", "--alpha", "0.5"]


def _per_batch_column(text: str) -> list[str]:
    lines = text.splitlines()
    header = lines[1].split()
    col = header.index("per")  # "per batch" splits in two; the value sits at that index
    return [line.split()[col] for line in lines[3:8]]


def test_fixed_example_prints_per_batch_counts(capsys) -> None:
    """The example prints the per-batch counts 15/4/6 and 3-4 for the two classes tied for
    one seat (and exits 0)."""
    assert main([*EXAMPLE, "--kind", "fixed"]) == 0
    out = capsys.readouterr().out
    assert _per_batch_column(out) == ["15", "4", "6", "3-4", "3-4"]
    assert out.strip() == describe([740, 70, 150, 20, 20], 32, alpha=0.5).to_text()


def test_json_to_stdout_is_describe_to_dict(capsys) -> None:
    """--json without a path prints only JSON, equal to describe(...).to_dict()."""
    assert main([*EXAMPLE, "--kind", "quota", "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed == describe([740, 70, 150, 20, 20], 32, alpha=0.5, kind="quota").to_dict()


def test_json_to_file_and_plot(tmp_path, capsys) -> None:
    """--json PATH writes the JSON file, --plot PATH a PNG; the table is still printed."""
    json_path, png_path = tmp_path / "plan.json", tmp_path / "plan.png"
    assert main([*EXAMPLE, "--json", str(json_path), "--plot", str(png_path)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("kind fixed")
    assert json.loads(json_path.read_text())["classes"][0]["per_batch_max"] == 15
    assert png_path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize("option", ["--json", "--plot"])
def test_an_unwritable_output_path_fails_before_any_output(
    option: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A --json or --plot path that cannot be written is reported with its option, on one
    line, before the table is printed."""
    if option == "--plot":
        pytest.importorskip("matplotlib")
    path = str(tmp_path / "missing" / ("out.json" if option == "--json" else "out.png"))
    assert main([*EXAMPLE, option, path]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == (
        f"refsampler plan: error: `{option}` cannot be written (No such file or directory); "
        f"got {path!r}.\n"
    )


@pytest.mark.parametrize("suffix", [".npy", ".csv", ".txt"])
def test_labels_file_formats(tmp_path, capsys, suffix) -> None:
    """--labels reads .npy and one-label-per-line .csv (optional header) / .txt files."""
    labels = np.repeat(np.arange(3), [50, 30, 20])
    path = tmp_path / f"labels{suffix}"
    if suffix == ".npy":
        np.save(path, labels)
    else:
        header = "label\n" if suffix == ".csv" else ""
        path.write_text(header + "\n".join(map(str, labels)) + "\n")
    assert main(["plan", "--labels", str(path), "--batch-size", "10", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)["classes"]
    assert [r["count"] for r in rows] == [50, 30, 20]
    certain, _, _ = allocate_with_ties(interpolate([50, 30, 20], 1.0), 10)
    assert [r["per_batch_min"] for r in rows] == certain.tolist()


def test_target_option(capsys) -> None:
    """--target takes weights, normalised like refsampler.targets.explicit."""
    assert (
        main(["plan", "--counts", "10,10", "--batch-size", "4", "--target", "3,1", "--json"]) == 0
    )
    rows = json.loads(capsys.readouterr().out)["classes"]
    assert [r["per_batch_min"] for r in rows] == [3, 1]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--counts", "5,a", "--batch-size", "4"],
            "`--counts` must be comma-separated integers; got '5,a'.",
        ),
        (
            ["--counts", "5,5", "--batch-size", "4", "--alpha", "2"],
            "`alpha` must be in [0, 1]; got 2.0.",
        ),
        (
            ["--counts", "5,5", "--batch-size", "4", "--kind", "greedy"],
            f"`kind` must be one of {KIND_CHOICES}; got 'greedy'.",
        ),
        (
            ["--counts", "5,5", "--batch-size", "4", "--target", "1,x"],
            "`--target` must be comma-separated numbers; got '1,x'.",
        ),
        (
            ["--labels", "labels.parquet", "--batch-size", "4"],
            "`--labels` must be a .npy, .csv or .txt file; got 'labels.parquet'.",
        ),
        (
            ["--labels", "missing.txt", "--batch-size", "4"],
            "No such file or directory: missing.txt",
        ),
        (
            ["--counts", "5,5", "--batch-size", str(2**62)],
            "`batch_size` must be <= 1099511627776; got 4611686018427387904.",
        ),
        (
            ["--counts", "5,5", "--batch-size", "4", "--n-batches", str(2**41)],
            "`n_batches` must be <= 1099511627776; got 2199023255552.",
        ),
        (
            ["--counts", "5,5", "--batch-size", "4", "--seed", "-1"],
            "`seed` must be >= 0; got -1.",
        ),
        (
            ["--counts", "5,99999999999999999999", "--batch-size", "4"],
            "`--counts` must fit in int64, but holds 99999999999999999999; "
            "got [5, 99999999999999999999].",
        ),
        (
            ["--counts", "10,20", "--batch-size", "8", "--num-replicas", str(10**20)],
            "`num_replicas` must be <= 576460752303423488 with `batch_size` 8 (at most "
            "4611686018427387904 positions an epoch); got 100000000000000000000.",
        ),
        (
            ["--counts", "10000000000000,5", "--batch-size", "8"],
            "`n_batches` must be <= 1099511627776; by default it is ceil(N / (batch_size * "
            "num_replicas)) for the N = 10000000000005 samples, so pass a smaller `n_batches`; "
            "got 1250000000001.",
        ),
        (
            ["--counts", "5,5", "--batch-size", "4", "--seed", "3"],
            "`--seed` chooses the seed of the `--plot`'s draws; give `--plot` too.",
        ),
        (
            ["--counts", "100,-5,50", "--batch-size", "4"],
            "`--counts` must be non-negative, but holds -5; got [100, -5, 50].",
        ),
        (
            ["--counts", "5,5", "--batch-size", "4", "--target", "1,nan"],
            "`--target` must be finite and non-negative; got [1.0, nan].",
        ),
        (
            ["--counts", "5,5", "--batch-size", "4", "--json", "."],
            "`--json` cannot be written (Is a directory); got '.'.",
        ),
        (
            ["--counts", "5,5", "--batch-size", "4", "--alpha-schedule", "0:0,ten:1"],
            "`--alpha-schedule` must look like \"0:0,90:1\"; got '0:0,ten:1'.",
        ),
        (
            ["--counts", "5,5", "--batch-size", "4", "--alpha-schedule", "9:0,3:1"],
            "`--alpha-schedule` '9:0,3:1' is not a schedule: `knots` must have strictly "
            "increasing epochs; got epoch 3 after 9 at knots[1].",
        ),
        (
            ["--counts", "5,5", "--batch-size", "4", "--kind", "pk"],
            'kind="pk" needs `samples_per_class` (m, the members of each class in a batch); '
            "got None.",
        ),
        (
            ["--counts", "5,5", "--batch-size", "4", "--samples-per-class", "2"],
            "`samples_per_class` is only for kind=\"pk\"; "
            "got samples_per_class=2 with kind='fixed'.",
        ),
        (
            ["--counts", "5,5", "--batch-size", "4", "--kind", "pk", "--samples-per-class", "3"],
            '`batch_size` must be a multiple of `samples_per_class` (3) for kind="pk"; got 4.',
        ),
        (
            ["--counts", "5,5", "--batch-size", "4", "--num-replicas", "0"],
            "`num_replicas` must be >= 1; got 0.",
        ),
        (
            ["--counts", "5,5", "--batch-size", "4", "--alpha-schedule", "0:1", "--epoch", "-1"],
            "`epoch` must be >= 0; got -1.",
        ),
    ],
)
def test_bad_input_exits_2_with_one_line(args, message, capsys, tmp_path, monkeypatch) -> None:
    """Bad input: exit code 2 and exactly one line on stderr, no traceback."""
    monkeypatch.chdir(tmp_path)
    assert main(["plan", *args]) == 2
    err = capsys.readouterr().err
    assert err == f"refsampler plan: error: {message}\n"


def test_non_integer_label_line(tmp_path, capsys) -> None:
    """A .txt file with a non-integer label names the line."""
    path = tmp_path / "labels.txt"
    path.write_text("0\n1\ncat\n")
    assert main(["plan", "--labels", str(path), "--batch-size", "2"]) == 2
    assert capsys.readouterr().err == (
        "refsampler plan: error: `--labels` must hold one integer label per line; "
        f"got 'cat' in {str(path)!r} (data line 3).\n"
    )


@pytest.mark.parametrize("line", ["1_0", "\u0663", "\uff11", "0x1"])
def test_a_label_python_would_read_loosely_is_refused(line, tmp_path, capsys) -> None:
    """Python's int() reads "1_0" as 10 and other scripts' digits as digits; in a label file
    those are typos, refused like any other non-integer line."""
    path = tmp_path / "labels.txt"
    path.write_text(f"0\n{line}\n", encoding="utf-8")
    assert main(["plan", "--labels", str(path), "--batch-size", "2"]) == 2
    assert capsys.readouterr().err == (
        "refsampler plan: error: `--labels` must hold one integer label per line; "
        f"got {line!r} in {str(path)!r} (data line 2).\n"
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--counts", "1_0,5"], "`--counts` must be comma-separated integers; got '1_0,5'."),
        (
            ["--counts", "5,5", "--target", "0_5,0.5"],
            ("`--target` must be comma-separated numbers; got '0_5,0.5'."),
        ),
    ],
)
def test_option_lists_take_plain_decimals_only(args, message, capsys) -> None:
    """--counts and --target refuse what only Python's loose int()/float() would read."""
    assert main(["plan", *args, "--batch-size", "2"]) == 2
    assert capsys.readouterr().err == f"refsampler plan: error: {message}\n"


@pytest.mark.parametrize("option", [["--batch-size", "1_6"], ["--alpha", "0_5"]])
def test_number_options_take_plain_decimals_only(option, capsys) -> None:
    """argparse's int and float would read "1_6" as 16 and "0_5" as 5.0."""
    with pytest.raises(SystemExit) as info:
        main(["plan", "--counts", "5,5", "--batch-size", "2", *option])
    assert info.value.code == 2
    kind = "integer" if option[0] == "--batch-size" else "number"
    assert f"argument {option[0]}: invalid {kind} value: {option[1]!r}" in capsys.readouterr().err


@pytest.mark.parametrize("suffix", [".txt", ".csv"])
def test_a_blank_line_before_a_label_is_refused(suffix, tmp_path, capsys) -> None:
    """A label left out is an input error (counts would be quietly short); blank lines at
    the end of the file are only its end."""
    path = tmp_path / f"labels{suffix}"
    path.write_text("0\n1\n\n2\n")
    assert main(["plan", "--labels", str(path), "--batch-size", "3"]) == 2
    assert capsys.readouterr().err == (
        "refsampler plan: error: `--labels` must hold one integer label per line; "
        f"got an empty line in {str(path)!r} (data line 3).\n"
    )
    path.write_text("0\n1\n2\n\n  \n")
    assert main(["plan", "--labels", str(path), "--batch-size", "3", "--json", "-"]) == 0
    rows = json.loads(capsys.readouterr().out)["classes"]
    assert [row["count"] for row in rows] == [1, 1, 1]


def test_infeasible_fixed_kind_exits_2(capsys) -> None:
    """An infeasible fixed configuration reports the library's message and exits 2."""
    assert main(["plan", "--counts", "7,7,7,7", "--batch-size", "2"]) == 2
    err = capsys.readouterr().err
    assert err.startswith('refsampler plan: error: `kind="fixed"` is infeasible')
    assert err.count("\n") == 1


def _plan_error(args: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    """The stderr of ``refsampler plan ARGS``, which must exit 2 with exactly one line."""
    assert main(["plan", *args]) == 2
    captured = capsys.readouterr()
    assert captured.err.count("\n") == 1
    assert captured.err.startswith("refsampler plan: error: ")
    return captured.err[len("refsampler plan: error: ") : -1]


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        (
            "empty.npy",
            b"",
            "`--labels` must be a .npy file, but it does not start as one; got {path!r}.",
        ),
        (
            "text.npy",
            b"0\n1\n",  # not numpy's guess, a pickle: no .npy header at all
            "`--labels` must be a .npy file, but it does not start as one; got {path!r}.",
        ),
        (
            "truncated.npy",
            b"\x93NUMPY",
            "`--labels` must be a .npy file numpy can read (EOF: reading magic string, "
            "expected 8 bytes got 6); got {path!r}.",
        ),
        (
            "latin1.csv",
            b"label\n0\n\xe9t\xe9\n",
            "`--labels` must be UTF-8 text, but byte 8 is not; got {path!r}.",
        ),
        (
            "wide.csv",
            b"label\n0\n9223372036854775808\n",
            "`--labels` must hold labels that fit in int64; got '9223372036854775808' in "
            "{path!r} (data line 2).",
        ),
        (
            "negative.txt",
            b"0\n-9223372036854775809\n",
            "`--labels` must hold labels that fit in int64; got '-9223372036854775809' in "
            "{path!r} (data line 2).",
        ),
        (
            "sparse.txt",
            b"0\n1\n10000000000\n",
            "`labels` must be dense class ids below max(2 * N, 2**20) = 1048576 for N = 3 "
            "samples, but holds 10000000000; remap sparse ids to 0 .. K-1 with "
            "`numpy.unique(labels, return_inverse=True)`; got [ 0 1 10000000000].",
        ),
    ],
)
def test_bad_label_files_exit_2_with_one_line(
    name: str, content: bytes, message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """An empty or truncated .npy, a text file under a .npy name, a non-UTF-8 .csv, a label
    beyond int64 and a huge label id are input errors: one line, exit 2, no traceback."""
    path = tmp_path / name
    path.write_bytes(content)
    err = _plan_error(["--labels", str(path), "--batch-size", "2"], capsys)
    assert err == message.format(path=str(path))


def test_corrupt_npy_header_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Whatever numpy raises on a corrupt header becomes the one-line input error."""
    path = tmp_path / "corrupt.npy"
    path.write_bytes(b"\x93NUMPY\x01\x00\x10\x00{garbage:::    \n")
    err = _plan_error(["--labels", str(path), "--batch-size", "2"], capsys)
    assert err.startswith("`--labels` must be a .npy file numpy can read (")
    assert err.endswith(f"); got {str(path)!r}.")


def test_a_matrix_of_labels_is_shown_on_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A 2-D .npy is refused in one line, the matrix shown on it."""
    path = tmp_path / "labels.npy"
    np.save(path, np.zeros((2, 3), dtype=np.int64))
    err = _plan_error(["--labels", str(path), "--batch-size", "2"], capsys)
    assert err == "`labels` must be 1-D, but has shape (2, 3); got [[0 0 0] [0 0 0]]."


def test_npz_under_npy_name_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """An .npz archive saved under a .npy name is named as such."""
    path = tmp_path / "labels.npy"
    with path.open("wb") as handle:
        np.savez(handle, labels=np.arange(3))
    err = _plan_error(["--labels", str(path), "--batch-size", "2"], capsys)
    assert err == f"`--labels` must be a .npy file, not .npz; got {str(path)!r}."


def test_csv_with_byte_order_mark(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A UTF-8 byte-order mark (spreadsheet exports) does not turn the first label into a
    header."""
    path = tmp_path / "labels.csv"
    path.write_bytes(b"\xef\xbb\xbf0\n1\n1\n")
    assert main(["plan", "--labels", str(path), "--batch-size", "2", "--json"]) == 0
    assert [r["count"] for r in json.loads(capsys.readouterr().out)["classes"]] == [1, 2]


@pytest.mark.parametrize("line", ["0,1,1,2", "label"])
def test_a_csv_of_one_line_says_it_was_read_as_a_header(
    line: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A file whose only line is no number (labels on one line, comma-separated, or a header
    alone) says that line was taken as a header, not that the labels are empty."""
    path = tmp_path / "labels.csv"
    path.write_text(f"{line}\n")
    err = _plan_error(["--labels", str(path), "--batch-size", "2"], capsys)
    assert err == (
        f"`--labels` must hold one integer label per line; {str(path)!r} has one line, "
        f"{line!r}, which is not a number and was read as a header."
    )


@pytest.mark.parametrize("first", ["1.5", "1e3", "-2.0"])
def test_a_non_integer_first_line_is_a_bad_label_not_a_header(
    first: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Only a first line that is no number at all is a header; a number that is not an
    integer is refused like the same value on any other line."""
    path = tmp_path / "labels.csv"
    path.write_text(f"{first}\n0\n1\n")
    err = _plan_error(["--labels", str(path), "--batch-size", "2"], capsys)
    assert err == (
        f"`--labels` must hold one integer label per line; got {first!r} in {str(path)!r} "
        "(data line 1)."
    )


def test_plot_extension_is_checked_first(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """An unsupported --plot extension is refused before any file is read or plan computed,
    listing the formats matplotlib can write."""
    monkeypatch.chdir(tmp_path)
    err = _plan_error(["--labels", "missing.txt", "--batch-size", "2", "--plot", "f.xyz"], capsys)
    formats = _plot_formats()
    assert {"png", "pdf", "svg"} <= set(formats)
    assert err == f"`--plot` must end in one of {', '.join('.' + f for f in formats)}; got 'f.xyz'."
    assert not (tmp_path / "f.xyz").exists()


@pytest.mark.parametrize("name", ["noext", "sub/.png"])
def test_plot_path_without_an_extension_is_refused(
    name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A --plot path without an extension is refused (matplotlib would write PATH.png and
    the command would report PATH); nothing is written."""
    pytest.importorskip("matplotlib")
    (tmp_path / "sub").mkdir()
    path = str(tmp_path / name)
    err = _plan_error([*EXAMPLE[1:], "--plot", path], capsys)
    assert err.startswith("`--plot` must end in one of ")
    assert err.endswith(f"; got {path!r}.")
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["sub"]


@pytest.mark.parametrize("slash", ["", "/"])
def test_plot_path_that_is_a_directory_is_refused(
    slash: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A --plot path naming a directory (or ending in a separator) is refused, and nothing is
    written beside it or inside it."""
    pytest.importorskip("matplotlib")
    (tmp_path / "sub.png").mkdir()
    path = str(tmp_path / "sub.png") + slash
    err = _plan_error([*EXAMPLE[1:], "--plot", path], capsys)
    assert err == f"`--plot` must name a file, not a directory; got {path!r}."
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["sub.png"]


def test_plot_formats_fall_back_to_a_fixed_list(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without matplotlib's canvas list the named formats are png, pdf and svg."""
    monkeypatch.setitem(sys.modules, "matplotlib.backend_bases", None)
    assert _plot_formats() == ("pdf", "png", "svg")


def test_usage_errors_are_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    """argparse's own errors are one line and exit 2, pointing at --help."""
    with pytest.raises(SystemExit) as info:
        main(["plan", "--counts", "5,5", "--batch-size", "x"])
    assert info.value.code == 2
    assert capsys.readouterr().err == (
        "refsampler plan: error: argument --batch-size: invalid integer value: 'x' "
        "(see refsampler plan --help)\n"
    )


def test_plan_into_a_closed_pipe_stops_quietly() -> None:
    """``refsampler plan ... | head -1``: no "Broken pipe" error, no traceback, status 1 (as
    ``refsampler demo`` does)."""
    counts = ",".join(["7"] * 2000)  # a table larger than the pipe buffer
    command = [sys.executable, "-m", "refsampler", "plan", "--counts", counts, "--batch-size"]
    with subprocess.Popen(
        [*command, "64", "--kind", "random"], stdout=subprocess.PIPE, stderr=subprocess.PIPE
    ) as process:
        assert process.stdout is not None and process.stderr is not None
        first = process.stdout.readline()
        process.stdout.close()  # the reader leaves while the table is being written
        err = process.stderr.read()
        code = process.wait(timeout=120)
    assert first.startswith(b"kind random, batch size 64")
    assert err == b""
    assert code == 1


def test_plan_loads_no_torch(tmp_path: Path) -> None:
    """The plan command (table, JSON and figure) runs on numpy and matplotlib alone: torch is
    never imported, which is what keeps it fast."""
    argv = [*EXAMPLE, "--kind", "pk", "--samples-per-class", "16"]
    argv += ["--plot", str(tmp_path / "f.png"), "--json", str(tmp_path / "f.json")]
    code = (
        "import sys\n"
        "from refsampler.cli import main\n"
        f"code = main({argv!r})\n"
        "print(code, 'torch' in sys.modules, file=sys.stderr)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.stderr == "0 False\n"
    assert (tmp_path / "f.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_alpha_schedule_prints_targets_by_epoch(capsys) -> None:
    """--alpha-schedule describes --epoch's target and adds the target at epoch 0, the knots
    and halfway between; the output is describe's."""
    args = ["--counts", "740,70,150,20,20", "--batch-size", "32", "--kind", "quota"]
    assert main(["plan", *args, "--alpha-schedule", "0:0,90:1", "--epoch", "45"]) == 0
    out = capsys.readouterr().out
    schedule = piecewise([(0, 0.0), (90, 1.0)])
    table = describe([740, 70, 150, 20, 20], 32, alpha=schedule, kind="quota", epoch=45)
    assert out.strip() == table.to_text()
    schedule_lines = out.split("\n\n")[1].splitlines()
    assert schedule_lines[0] == "target by epoch (class shares), alpha schedule 0:0,90:1"
    assert schedule_lines[1].split() == ["epoch", "0", "45", "90"]
    assert schedule_lines[2].split() == ["alpha", "0", "0.5", "1"]


def test_alpha_schedule_excludes_alpha(capsys) -> None:
    """--alpha-schedule and --alpha (or --target) are mutually exclusive."""
    with pytest.raises(SystemExit) as info:
        main([*EXAMPLE, "--alpha-schedule", "0:0,90:1"])
    assert info.value.code == 2
    assert capsys.readouterr().err == (
        "refsampler plan: error: argument --alpha-schedule: not allowed with argument --alpha "
        "(see refsampler plan --help)\n"
    )


def test_pk_and_replicas(capsys) -> None:
    """--kind pk --samples-per-class and --num-replicas reach describe; the headers say the
    per-epoch columns count every rank."""
    extra = ["--kind", "pk", "--samples-per-class", "16", "--num-replicas", "2", "--json"]
    assert main([*EXAMPLE, *extra]) == 0
    printed = json.loads(capsys.readouterr().out)
    expected = describe(
        [740, 70, 150, 20, 20], 32, alpha=0.5, kind="pk", samples_per_class=16, num_replicas=2
    )
    assert printed == expected.to_dict()
    assert printed["batches_per_epoch"] == 32
    text = expected.to_text().splitlines()
    assert "batches/epoch, all ranks" in text[1] and "draws/epoch, all ranks" in text[1]


@pytest.mark.parametrize(
    ("kind", "batch", "extra"),
    [("quota", "32", []), ("pk", "64", ["--samples-per-class", "1"]), ("fixed", "4096", [])],
)
def test_ten_million_batches_and_a_thousand_classes(kind, batch, extra, capsys) -> None:
    """A long epoch over many classes is a table at once: nothing is computed per batch."""
    counts = ",".join(str(c) for c in np.random.default_rng(0).integers(1, 5000, 1000))
    args = ["plan", "--counts", counts, "--batch-size", batch, "--n-batches", "10000000"]
    assert main([*args, "--kind", kind, "--alpha", "0.5", *extra]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith(f"kind {kind}") and "10000000 batches per epoch" in lines[0]
    assert len([line for line in lines[3:] if not line.startswith("tie:")]) == 1000


def test_documented_examples_are_current(capsys) -> None:
    """Every `refsampler plan` example in docs/reference/cli.md prints the output shown under
    it."""
    page = Path(__file__).resolve().parents[1] / "docs" / "reference" / "cli.md"
    examples = re.findall(
        r"```bash\n(refsampler plan [^\n]*)\n```\n\n```text\n(.*?)```",
        page.read_text(encoding="utf-8"),
        re.DOTALL,
    )
    assert len(examples) == 2
    for command, shown in examples:
        assert main(shlex.split(command)[1:]) == 0
        assert capsys.readouterr().out == shown


def test_epoch_without_a_schedule_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    """--epoch chooses an epoch of a moving target or of the plot's draws; alone it would be
    ignored."""
    err = _plan_error(["--counts", "5,3", "--batch-size", "2", "--epoch", "7"], capsys)
    assert err == (
        "`--epoch` chooses the epoch of `--alpha-schedule` or of the `--plot`'s draws; give "
        "one of them."
    )
