"""Tests of the `refsampler plan` subcommand (refsampler/cli.py)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from refsampler import allocate
from refsampler.cli import main
from refsampler.diagnostics import describe
from refsampler.targets import interpolate

ISSUE = ["plan", "--counts", "740,70,150,20,20", "--batch-size", "32", "--alpha", "0.5"]


def _per_batch_column(text: str) -> list[int]:
    lines = text.splitlines()
    header = lines[1].split()
    col = header.index("per")  # "per batch" splits in two; the value sits at that index
    return [int(line.split()[col]) for line in lines[3:]]


def test_issue_example_prints_per_batch_counts(capsys) -> None:
    """The issue's example prints the per-batch counts 15/4/6/4/3 (and exits 0)."""
    assert main([*ISSUE, "--kind", "fixed"]) == 0
    out = capsys.readouterr().out
    assert _per_batch_column(out) == [15, 4, 6, 4, 3]
    assert out.strip() == describe([740, 70, 150, 20, 20], 32, alpha=0.5).to_text()


def test_json_to_stdout_is_describe_to_dict(capsys) -> None:
    """--json without a path prints only JSON, equal to describe(...).to_dict()."""
    assert main([*ISSUE, "--kind", "quota", "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed == describe([740, 70, 150, 20, 20], 32, alpha=0.5, kind="quota").to_dict()


def test_json_to_file_and_plot(tmp_path, capsys) -> None:
    """--json PATH writes the JSON file, --plot PATH a PNG; the table is still printed."""
    json_path, png_path = tmp_path / "plan.json", tmp_path / "plan.png"
    assert main([*ISSUE, "--json", str(json_path), "--plot", str(png_path)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("kind fixed")
    assert json.loads(json_path.read_text())["classes"][0]["per_batch"] == 15
    assert png_path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


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
    assert [r["per_batch"] for r in rows] == allocate(interpolate([50, 30, 20], 1.0), 10).tolist()


def test_target_option(capsys) -> None:
    """--target takes weights, normalised like refsampler.targets.explicit."""
    assert (
        main(["plan", "--counts", "10,10", "--batch-size", "4", "--target", "3,1", "--json"]) == 0
    )
    rows = json.loads(capsys.readouterr().out)["classes"]
    assert [r["per_batch"] for r in rows] == [3, 1]


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
            '`kind` must be one of "fixed", "quota", "random"; got \'greedy\'.',
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


def test_infeasible_fixed_kind_exits_2(capsys) -> None:
    """An infeasible fixed configuration reports the library's message and exits 2."""
    assert main(["plan", "--counts", "7,7,7,7", "--batch-size", "2"]) == 2
    err = capsys.readouterr().err
    assert err.startswith('refsampler plan: error: `kind="fixed"` is infeasible')
    assert err.count("\n") == 1
