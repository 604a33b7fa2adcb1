"""Tests of refsampler.plots: what each plot draws, the figure of `refsampler plan --plot`,
and the lazy matplotlib import."""

from __future__ import annotations

import subprocess
import sys
from types import SimpleNamespace

import matplotlib
import numpy as np
import pytest

from refsampler import BalancedBatchSampler, InvalidArgumentError
from refsampler.plots import (
    plot_alpha_shares,
    plot_cumulative,
    plot_plan,
    plot_quota_cumulative,
    plot_schedule,
    plot_shares,
)
from refsampler.schedules import piecewise
from refsampler.targets import interpolate

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # after choosing the backend

COUNTS = [740, 70, 150, 20, 20]
PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(autouse=True)
def _close_figures():
    """Every test starts and ends without open figures."""
    yield
    plt.close("all")


def _labels(counts: list[int]) -> np.ndarray:
    return np.repeat(np.arange(len(counts)), counts)


def test_import_does_not_load_matplotlib() -> None:
    """matplotlib is imported when a plot is drawn, not when the module is imported."""
    code = "import sys, refsampler.plots\nprint('matplotlib' in sys.modules)\n"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.stdout == "False\n", result.stderr


def test_missing_matplotlib_message(monkeypatch) -> None:
    """Without matplotlib the plots raise ImportError saying how to install it."""
    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)
    with pytest.raises(ImportError) as info:
        plot_shares([1.0], [1.0])
    assert str(info.value) == (
        "refsampler's plots need matplotlib, which is not installed; install it with "
        "`pip install 'refsampler[plot]'` (or `pip install matplotlib`)."
    )


def test_plots_draw_one_line_or_bar_per_class() -> None:
    """Each plot draws its artists: lines per class (+ ideal lines), bars per class."""
    ax = plot_alpha_shares(COUNTS, batch_size=32, alpha=0.5)
    assert len(ax.get_lines()) == 2 * len(COUNTS) + 2  # shares, fixed steps, legend, alpha
    ax = plot_shares([0.5, 0.5], [0.4, 0.6])
    assert len(ax.patches) == 4
    ax = plot_quota_cumulative(interpolate(COUNTS, 0.5), 32, 10)
    assert len(ax.get_lines()) == 2 * len(COUNTS) + 1


def test_plot_shares_wants_equal_shapes() -> None:
    """Target and realised shares of different lengths are refused."""
    with pytest.raises(InvalidArgumentError) as info:
        plot_shares([0.5, 0.5], [1.0])
    assert str(info.value) == (
        "`target` and `realised` must be 1-D of equal length; got shapes (2,) and (1,)."
    )


def test_quota_deviation_plot_stays_within_one() -> None:
    """deviation=True plots S_c(k) - k B p_c; every plotted value is inside (-1, 1)."""
    ax = plot_quota_cumulative(interpolate(COUNTS, 0.5), 32, 50, deviation=True)
    steps = ax.get_lines()[: len(COUNTS)]
    values = np.concatenate([line.get_ydata() for line in steps])
    assert values.size == len(COUNTS) * 51
    assert np.all(np.abs(values) < 1)


def test_schedule_plot_has_a_line_per_class_and_marks_the_knots() -> None:
    """plot_schedule: one line of p_c(epoch) per class, a dotted line per knot, and the
    chosen epoch; the lines follow interpolate at the schedule's alphas."""
    schedule = piecewise([(0, 0.0), (30, 0.5), (90, 1.0)])
    ax = plot_schedule(COUNTS, schedule, epoch=60)
    lines = ax.get_lines()
    assert len(lines) == len(COUNTS) + 3 + 1
    epochs, shares = lines[0].get_data()
    assert epochs[0] == 0 and epochs[-1] == 99
    at = int(np.flatnonzero(epochs == 30)[0])
    assert shares[at] == interpolate(COUNTS, 0.5)[0]
    assert [line.get_xdata()[0] for line in lines[len(COUNTS) :]] == [0, 30, 90, 60]


def test_pk_cumulative_appearances_stay_within_one() -> None:
    """For pk the cumulative panel counts appearances over the global batches (both ranks in
    turn); each stays within one of k P p_c."""
    sampler = BalancedBatchSampler(
        _labels(COUNTS),
        32,
        kind="pk",
        samples_per_class=16,
        alpha=0.5,
        seed=3,
        num_replicas=2,
        rank=1,
    )
    ax = plot_cumulative(sampler, 30, deviation=True)
    values = np.concatenate([line.get_ydata() for line in ax.get_lines()[: len(COUNTS)]])
    assert values.size == len(COUNTS) * 31
    assert np.all(np.abs(values) < 1)
    assert ax.get_title() == "pk kind: prefix error (B=32)"
    assert ax.get_ylabel() == "cumulative appearances - k·P·p"


def test_cumulative_plot_of_a_sampler_is_the_quota_schedule() -> None:
    """On one rank plot_cumulative of a quota sampler draws quota_schedule's steps."""
    sampler = BalancedBatchSampler(_labels(COUNTS), 32, kind="quota", alpha=0.5, seed=0)
    ours = plot_cumulative(sampler, 20).get_lines()
    theirs = plot_quota_cumulative(interpolate(COUNTS, 0.5), 32, 20).get_lines()
    for mine, reference in zip(ours, theirs, strict=True):
        np.testing.assert_array_equal(mine.get_ydata(), reference.get_ydata())


def test_cumulative_plot_refuses_random_and_non_samplers() -> None:
    """Random has no planned counts; a list is not a sampler; n_batches is bounded."""
    sampler = BalancedBatchSampler(_labels(COUNTS), 32, kind="random", seed=0)
    with pytest.raises(InvalidArgumentError) as info:
        plot_cumulative(sampler)
    assert str(info.value) == "kind 'random' draws classes at random; it has no planned counts."
    with pytest.raises(InvalidArgumentError) as info:
        plot_cumulative([1, 2])
    assert str(info.value) == (
        "`sampler_or_plan` must be a sampler (with a `plan`) or a Plan; got [1, 2]."
    )
    quota = BalancedBatchSampler(_labels(COUNTS), 32, kind="quota", seed=0, n_batches=5)
    with pytest.raises(InvalidArgumentError) as info:
        plot_cumulative(quota, 6)
    assert str(info.value) == "`n_batches` must be <= 5; got 6."


@pytest.mark.parametrize(
    ("kind", "options", "panels"),
    [("fixed", {}, 2), ("random", {}, 2), ("quota", {}, 3), ("pk", {"samples_per_class": 16}, 3)],
)
def test_plot_plan_panels(tmp_path, kind, options, panels) -> None:
    """plot_plan saves a PNG; the kinds that bound every prefix (quota, pk) get the third,
    cumulative panel."""
    path = tmp_path / "plan.png"
    plot_plan(COUNTS, 32, alpha=0.5, kind=kind, path=path, **options)
    assert path.read_bytes()[:8] == PNG
    figure = plot_plan(COUNTS, 32, alpha=0.5, kind=kind, **options)
    assert len(figure.axes) == panels
    assert figure.axes[1].get_title() == f"{kind} kind: one epoch of 32 batches"


def test_plot_plan_with_a_schedule_shows_it_first() -> None:
    """With an alpha schedule the first panel is plot_schedule, marking the chosen epoch."""
    schedule = piecewise([(0, 0.5), (90, 1.0)])
    figure = plot_plan(COUNTS, 32, alpha=schedule, kind="pk", samples_per_class=16, epoch=45)
    assert figure.axes[0].get_title() == "Class shares over epochs, alpha 0:0.5,90:1"
    assert figure.axes[1].get_legend().get_texts()[1].get_text() == "realised, epoch 45"


def test_plot_plan_draws_the_chosen_epoch_of_a_schedule_in_every_panel() -> None:
    """Under a schedule every epoch's counts are bounded from its own first batch: the third
    panel draws the chosen epoch too, against that epoch's ideal lines."""
    schedule = piecewise([(0, 0.5), (90, 1.0)])
    figure = plot_plan(COUNTS, 32, alpha=schedule, kind="pk", samples_per_class=16, epoch=45)
    panel = figure.axes[2]
    assert panel.get_title() == "pk kind, epoch 45: cumulative appearances (B=32)"
    ideal = [line for line in panel.get_lines() if line.get_linestyle() == "--"][: len(COUNTS)]
    last = np.array([line.get_ydata()[-1] for line in ideal])
    np.testing.assert_allclose(last, 32 * 2 * interpolate(COUNTS, 0.75))  # 32 batches, P = 2


def test_plot_plan_of_a_fixed_target_draws_the_run_start_in_its_third_panel() -> None:
    """With a fixed target the third panel stays at the start of the run, whatever the epoch
    of panel 2, and says so; plot_cumulative refuses a later epoch there."""
    figure = plot_plan(COUNTS, 32, alpha=0.5, kind="quota", epoch=7)
    assert figure.axes[1].get_legend().get_texts()[1].get_text() == "realised, epoch 7"
    assert figure.axes[2].get_title() == "quota kind: cumulative counts (B=32)"
    assert figure.axes[2].get_xlabel() == "batches k from the first batch of the run"
    sampler = BalancedBatchSampler(_labels(COUNTS), 32, kind="quota", alpha=0.5, seed=0)
    with pytest.raises(InvalidArgumentError) as info:
        plot_cumulative(sampler, epoch=7)
    assert str(info.value) == (
        "`epoch` must be 0 with a fixed target (its prefix bound runs from the first batch of "
        "the run); got 7."
    )


def test_plot_plan_of_a_sampler_uses_its_rank_and_epoch() -> None:
    """A sampler (anything with a plan) is drawn at its next epoch, on its rank."""
    sampler = BalancedBatchSampler(
        _labels(COUNTS), 32, kind="quota", alpha=0.5, seed=0, num_replicas=2, rank=1
    )
    sampler.set_epoch(4)
    figure = plot_plan(SimpleNamespace(plan=sampler.plan, alpha=0.5, epoch=4, rank=1))
    assert figure.axes[1].get_title() == "quota kind: one epoch of 16 batches on rank 1"
    assert figure.axes[1].get_legend().get_texts()[1].get_text() == "realised, epoch 4"
