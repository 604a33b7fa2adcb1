"""Tests of :mod:`refsampler.cli`: the ``refsampler demo`` command.

Expectations are computed with the pure core (allocate, quota_schedule, interpolate) on the
embedded demo counts, never copied from the output.
"""

from __future__ import annotations

import contextlib
import io
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

import refsampler
from refsampler.allocation import allocate, quota_schedule
from refsampler.cli import DEMO_COUNTS, main
from refsampler.targets import interpolate

ALPHAS = (0.0, 0.5, 1.0)
ROOT = Path(refsampler.__file__).resolve().parent.parent


def _sections(output: str) -> dict[float, str]:
    """The demo output split into its "alpha = ..." sections."""
    parts = re.split(r"^alpha = ([0-9.]+)$", output, flags=re.MULTILINE)
    return {float(alpha): body for alpha, body in zip(parts[1::2], parts[2::2], strict=True)}


@pytest.fixture(scope="module")
def demo_output() -> str:
    """stdout of ``main(["demo"])`` (run once; it must return 0)."""
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        code = main(["demo"])
    assert code == 0
    return buffer.getvalue()


def test_demo_header(demo_output: str) -> None:
    """The header names the embedded counts, the batch size and the seed."""
    first = demo_output.splitlines()[0]
    total = sum(DEMO_COUNTS)
    assert first == (
        f"refsampler demo: {total} labels, class counts {list(DEMO_COUNTS)}, batch size 32, seed 0"
    )


def test_demo_has_every_alpha_and_kind(demo_output: str) -> None:
    """Each alpha in 0, 0.5, 1 has a fixed, a quota and a random block, with its target."""
    sections = _sections(demo_output)
    assert sorted(sections) == list(ALPHAS)
    for alpha, body in sections.items():
        shares = " ".join(f"{100 * v:5.1f}%" for v in interpolate(DEMO_COUNTS, alpha))
        for kind in ("fixed", "quota", "random"):
            assert f"  {kind:<6}  target   {shares}" in body, (alpha, kind)


@pytest.mark.parametrize("alpha", ALPHAS)
def test_demo_fixed_prints_allocate(demo_output: str, alpha: float) -> None:
    """The fixed block prints every batch's counts, equal to allocate(target, 32)
    (e.g. [15, 4, 6, 4, 3] at alpha 0.5)."""
    expected = allocate(interpolate(DEMO_COUNTS, alpha), 32).tolist()
    assert f"every batch: {expected}" in _sections(demo_output)[alpha]


@pytest.mark.parametrize("alpha", ALPHAS)
def test_demo_quota_prints_range(demo_output: str, alpha: float) -> None:
    """The quota block prints each class's per-batch min-max, as quota_schedule gives them."""
    n_batches = -(-sum(DEMO_COUNTS) // 32)
    rows = quota_schedule(interpolate(DEMO_COUNTS, alpha), 32, n_batches)
    ranges = [f"{lo}-{hi}" for lo, hi in zip(rows.min(0), rows.max(0), strict=True)]
    assert f"per-batch range: {ranges}" in _sections(demo_output)[alpha]


@pytest.mark.parametrize("alpha", ALPHAS)
def test_demo_random_prints_chi_square(demo_output: str, alpha: float) -> None:
    """The random block prints a chi-square statistic, its dof and a p-value in [0, 1]."""
    body = _sections(demo_output)[alpha]
    match = re.search(r"chi-square (\d+\.\d\d) on (\d+) dof, p = (\d\.\d{3})", body)
    assert match is not None, body
    assert float(match.group(1)) >= 0
    assert 1 <= int(match.group(2)) <= len(DEMO_COUNTS) - 1
    assert 0.0 <= float(match.group(3)) <= 1.0


def test_demo_batch_count(demo_output: str) -> None:
    """Every block reports ceil(N / B) batches."""
    n_batches = -(-sum(DEMO_COUNTS) // 32)
    assert demo_output.count(f"({n_batches} batches)") == 9


def test_demo_options() -> None:
    """--batch-size and --seed are honoured."""
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        assert main(["demo", "--batch-size", "64", "--seed", "5"]) == 0
    output = buffer.getvalue()
    assert "batch size 64, seed 5" in output.splitlines()[0]
    expected = allocate(interpolate(DEMO_COUNTS, 0.5), 64).tolist()
    assert f"every batch: {expected}" in _sections(output)[0.5]


def test_demo_unknown_subcommand_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    """An unknown subcommand is an argparse usage error (exit status 2)."""
    with pytest.raises(SystemExit) as info:
        main(["nonsense"])
    assert info.value.code == 2
    assert "invalid choice: 'nonsense'" in capsys.readouterr().err


def test_demo_bad_batch_size_is_a_one_line_error(capsys: pytest.CaptureFixture[str]) -> None:
    """A bad --batch-size gives exit status 2 and the library's message on stderr."""
    assert main(["demo", "--batch-size", "0"]) == 2
    assert capsys.readouterr().err.strip() == (
        "refsampler demo: error: `batch_size` must be >= 1; got 0."
    )


def test_demo_small_batch_explains_infeasible_fixed(capsys: pytest.CaptureFixture[str]) -> None:
    """At batch 8 the demo still shows quota and random for every alpha, and says why fixed
    is impossible at alpha 0 (the very case the quota kind exists for)."""
    assert main(["demo", "--batch-size", "8"]) == 0
    output = capsys.readouterr().out
    assert 'use kind="quota"' in output
    assert output.count("per-batch range:") == 3
    assert output.count("chi-square") == 3


def test_python_m_refsampler_demo(demo_output: str) -> None:
    """``python -m refsampler demo`` exits 0 and prints exactly what main(["demo"]) prints."""
    result = subprocess.run(
        [sys.executable, "-m", "refsampler", "demo"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == demo_output


def test_demo_into_a_closed_pipe_stops_quietly() -> None:
    """``refsampler demo | head -1`` prints one line and no BrokenPipeError traceback."""
    result = subprocess.run(
        f"{shlex.quote(sys.executable)} -m refsampler demo | head -1",
        shell=True,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.stdout.startswith("refsampler demo:")
    assert len(result.stdout.splitlines()) == 1
    assert "Traceback" not in result.stderr


def test_demo_batch_size_beyond_the_bound_is_a_one_line_error(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A batch size beyond 2**40 is refused up front, not after an overflow deep inside."""
    assert main(["demo", "--batch-size", str(2**62)]) == 2
    assert capsys.readouterr().err == (
        "refsampler demo: error: `batch_size` must be <= 1099511627776; got 4611686018427387904.\n"
    )


def test_usage_errors_are_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    """An argparse error is one line on stderr (exit status 2), pointing at --help."""
    with pytest.raises(SystemExit) as info:
        main(["demo", "--seed", "x"])
    assert info.value.code == 2
    assert capsys.readouterr().err == (
        "refsampler demo: error: argument --seed: invalid int value: 'x' "
        "(see refsampler demo --help)\n"
    )
