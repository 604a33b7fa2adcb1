"""Tests of :mod:`refsampler.cli`: the ``refsampler demo`` command and the entry point.

Expectations are computed with the pure core (allocate_with_ties, quota_schedule, interpolate)
on the embedded demo counts, never copied from the output.
"""

from __future__ import annotations

import contextlib
import io
import re
import shlex
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import refsampler
from refsampler import kinds
from refsampler.allocation import allocate_with_ties, quota_schedule
from refsampler.cli import DEMO_COUNTS, main
from refsampler.targets import interpolate

ALPHAS = (0.0, 0.5, 1.0)
ROOT = Path(refsampler.__file__).resolve().parent.parent
N_BATCHES = -(-sum(DEMO_COUNTS) // 32)


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
    """Each alpha in 0, 0.5, 1 has a block of every registered kind with its target; pk with
    two classes of 16 per batch is impossible at alpha 0 only, and says why in one line."""
    sections = _sections(demo_output)
    assert sorted(sections) == list(ALPHAS)
    for alpha, body in sections.items():
        shares = " ".join(f"{100 * v:5.1f}%" for v in interpolate(DEMO_COUNTS, alpha))
        for kind in kinds.names():
            if (kind, alpha) == ("pk", 0.0):
                continue
            assert f"  {kind:<6}  target   {shares}" in body, (alpha, kind)
    assert (
        '  pk      not possible: kind="pk" cannot put class 0 in P * p_c = 1.48 > 1 of the '
        "batches (P = 2 classes per batch, share p_c = 0.74); alpha in [0.444445, 1] is "
        "feasible, or use fewer classes per batch (a smaller `batch_size` or larger "
        "`samples_per_class`); got alpha=0.0.\n"
    ) in sections[0.0]


def _fixed_vector(body: str) -> list[int]:
    match = re.search(r"every batch of epoch 0: \[([0-9, ]+)\]", body)
    assert match is not None, body
    return [int(v) for v in match.group(1).split(",")]


@pytest.mark.parametrize("alpha", ALPHAS)
def test_demo_fixed_prints_the_epoch_vector_and_its_ties(demo_output: str, alpha: float) -> None:
    """The fixed block prints epoch 0's vector: the certain seats of allocate_with_ties, plus
    one seat for ``seats`` of the tied classes; when there are ties it names them."""
    body = _sections(demo_output)[alpha].split("  quota")[0]
    certain, tied, seats = allocate_with_ties(interpolate(DEMO_COUNTS, alpha), 32)
    extra = np.array(_fixed_vector(body)) - certain
    assert set(extra.tolist()) <= {0, 1}
    assert set(np.flatnonzero(extra).tolist()) <= set(tied.tolist())
    assert int(extra.sum()) == seats
    if tied.size:
        listed = ", ".join(map(str, tied.tolist()))
        assert f"          tie: classes {listed} share {seats} seat" in body
    else:
        assert "tie:" not in body


def test_demo_fixed_ties_are_the_ones_of_the_core(demo_output: str) -> None:
    """At alpha 0 there is no tie; at 0.5 classes 3 and 4 share one seat (allocate would give
    it to class 3 every time); at 1 all five classes share two seats."""
    sections = _sections(demo_output)
    assert "tie:" not in sections[0.0]
    assert (
        "          tie: classes 3, 4 share 1 seat per batch; each epoch gives it to 1 of the 2, "
        "in rounds of random order over the epochs\n"
    ) in sections[0.5]
    assert "tie: classes 0, 1, 2, 3, 4 share 2 seats per batch" in sections[1.0]


@pytest.mark.parametrize("alpha", ALPHAS)
def test_demo_quota_prints_range(demo_output: str, alpha: float) -> None:
    """The quota block prints each class's per-batch min-max, as quota_schedule gives them
    (the same seed keys the same schedule)."""
    rows = quota_schedule(interpolate(DEMO_COUNTS, alpha), 32, N_BATCHES, seed=0)
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


@pytest.mark.parametrize("alpha", (0.5, 1.0))
def test_demo_pk_appearances_are_within_one(demo_output: str, alpha: float) -> None:
    """The pk block prints P x m and how many batches hold each class, which the appearance
    bound keeps within one of n_batches * P * p_c."""
    body = _sections(demo_output)[alpha].split("  pk")[1]
    match = re.search(r"2 classes x 16 per batch; batches holding each class: \[([0-9, ]+)\]", body)
    assert match is not None, body
    holding = np.array([int(v) for v in match.group(1).split(",")])
    ideal = N_BATCHES * 2 * interpolate(DEMO_COUNTS, alpha)
    assert np.all(np.abs(holding - ideal) < 1)
    assert f"(ideal n_batches*P*p: [{', '.join(f'{v:.1f}' for v in ideal)}])" in body


def test_demo_batch_count(demo_output: str) -> None:
    """Every feasible block (all but pk at alpha 0) reports ceil(N / B) batches."""
    assert demo_output.count(f"({N_BATCHES} batches)") == 3 * len(kinds.names()) - 1


def test_demo_options() -> None:
    """--batch-size, --seed and --samples-per-class are honoured."""
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        assert main(["demo", "--batch-size", "64", "--seed", "5", "--samples-per-class", "8"]) == 0
    output = buffer.getvalue()
    assert "batch size 64, seed 5" in output.splitlines()[0]
    certain, _, _ = allocate_with_ties(interpolate(DEMO_COUNTS, 1.0), 64)
    assert len(_fixed_vector(_sections(output)[1.0])) == len(certain)
    assert output.count('pk      not possible: kind="pk" needs at least P = 8 classes') == 3


def test_demo_bad_samples_per_class_is_a_one_line_error(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """--samples-per-class must divide the batch size."""
    assert main(["demo", "--samples-per-class", "5"]) == 2
    assert capsys.readouterr().err == (
        "refsampler demo: error: `batch_size` must be a multiple of `samples_per_class` (5) for "
        'kind="pk"; got 32.\n'
    )


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
    is impossible at alpha 0 (the very case the quota kind exists for); pk takes m = 4."""
    assert main(["demo", "--batch-size", "8"]) == 0
    output = capsys.readouterr().out
    assert 'use kind="quota"' in output
    assert output.count("per-batch range:") == 3
    assert output.count("chi-square") == 3
    assert output.count("2 classes x 4 per batch") == 2


def test_demo_at_batch_1_says_1_class(capsys: pytest.CaptureFixture[str]) -> None:
    """pk at batch 1 takes one class of one member: the line says "1 class", not "1 classes"."""
    assert main(["demo", "--batch-size", "1"]) == 0
    output = capsys.readouterr().out
    assert output.count("1 class x 1 per batch") == 3
    assert "1 classes" not in output


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
        "refsampler demo: error: argument --seed: invalid integer value: 'x' "
        "(see refsampler demo --help)\n"
    )


def test_verify_help_loads_no_torch() -> None:
    """``refsampler verify --help`` answers without importing torch."""
    code = (
        "import sys\n"
        "from refsampler.cli import main\n"
        "try:\n"
        "    main(['verify', '--help'])\n"
        "except SystemExit as exit:\n"
        "    assert exit.code == 0\n"
        "print('torch' in sys.modules, file=sys.stderr)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "usage: refsampler verify" in result.stdout
    assert result.stderr == "False\n"


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    """``refsampler --version`` prints the package version and exits 0."""
    with pytest.raises(SystemExit) as info:
        main(["--version"])
    assert info.value.code == 0
    assert capsys.readouterr().out == f"refsampler {refsampler.__version__}\n"
