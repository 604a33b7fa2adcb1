"""Tests of refsampler.diagnostics: describe, realised_shares and the plots."""

from __future__ import annotations

import json
import math
import re
import sys

import matplotlib
import numpy as np
import pytest

from refsampler import BalancedBatchSampler, InvalidArgumentError, allocate, quota_schedule
from refsampler.diagnostics import (
    describe,
    plot_alpha_shares,
    plot_plan,
    plot_quota_cumulative,
    plot_shares,
    realised_shares,
)
from refsampler.targets import interpolate

matplotlib.use("Agg")

COUNTS = [740, 70, 150, 20, 20]


def test_fixed_per_batch_counts_are_the_allocation() -> None:
    """Fixed: per-batch counts are allocate(p, B), constant, and draws are n_batches times."""
    table = describe(COUNTS, 32, alpha=0.5, kind="fixed", n_batches=10)
    expected = allocate(interpolate(COUNTS, 0.5), 32)
    assert table.per_batch_mean.tolist() == expected.tolist()
    assert table.per_batch_min.tolist() == expected.tolist()
    assert table.per_batch_max.tolist() == expected.tolist()
    assert table.per_batch_sd.tolist() == [0.0] * 5
    assert table.draws_per_epoch.tolist() == (10 * expected).tolist()


def test_issue_example_counts() -> None:
    """The issue's example gives per-batch counts 15/4/6/4/3."""
    rows = describe(COUNTS, 32, alpha=0.5, kind="fixed").rows()
    assert [r["per_batch"] for r in rows] == [15, 4, 6, 4, 3]


def test_quota_columns_come_from_the_schedule() -> None:
    """Quota: min/max/mean per batch and draws per epoch are those of quota_schedule."""
    table = describe(COUNTS, 32, alpha=0.5, kind="quota")
    schedule = quota_schedule(interpolate(COUNTS, 0.5), 32, table.n_batches)
    assert table.per_batch_min.tolist() == schedule.min(0).tolist()
    assert table.per_batch_max.tolist() == schedule.max(0).tolist()
    np.testing.assert_allclose(table.per_batch_mean, schedule.mean(0))
    assert table.draws_per_epoch.tolist() == schedule.sum(0).tolist()


def test_random_columns_are_binomial_moments() -> None:
    """Random: per-batch mean B p, sd sqrt(B p (1-p)), expected draws n_batches B p."""
    table = describe(COUNTS, 32, alpha=0.5, kind="random", n_batches=7)
    p = interpolate(COUNTS, 0.5)
    np.testing.assert_allclose(table.per_batch_mean, 32 * p)
    np.testing.assert_allclose(table.per_batch_sd, np.sqrt(32 * p * (1 - p)))
    np.testing.assert_allclose(table.draws_per_epoch, 7 * 32 * p)
    assert np.isnan(table.per_batch_min).all()


def test_shares_target_and_oversampling() -> None:
    """Shares are n/N, the target is the resolved one, oversampling is draws / count."""
    table = describe(COUNTS, 32, alpha=0.5)
    np.testing.assert_allclose(table.shares, np.array(COUNTS) / sum(COUNTS))
    np.testing.assert_allclose(table.target, interpolate(COUNTS, 0.5))
    np.testing.assert_allclose(table.oversampling, table.draws_per_epoch / np.array(COUNTS))


def test_epochs_to_see_all_deterministic_kinds() -> None:
    """Fixed/quota: ceil(n_c / (R d_c)) epochs, as the cycles continue across epochs."""
    for kind in ("fixed", "quota"):
        table = describe(COUNTS, 32, alpha=0.5, kind=kind, n_batches=3, num_replicas=2)
        expected = np.ceil(np.array(COUNTS) / (2 * table.draws_per_epoch))
        assert table.epochs_to_see_all.tolist() == expected.tolist()


def test_epochs_to_see_all_random_is_coupon_collector() -> None:
    """Random: n_c H(n_c) expected draws over draws per epoch (H computed exactly here)."""
    counts = [3, 100, 1000]
    table = describe(counts, 8, alpha=1.0, kind="random", n_batches=5)
    harmonic = [math.fsum(1 / i for i in range(1, n + 1)) for n in counts]
    expected = [n * h / d for n, h, d in zip(counts, harmonic, table.draws_per_epoch, strict=True)]
    np.testing.assert_allclose(table.epochs_to_see_all, expected, rtol=1e-12)


def test_zero_target_class_is_never_seen() -> None:
    """A class with target 0 has no draws and infinite epochs; JSON writes null."""
    table = describe([10, 10], 4, target=[1.0, 0.0])
    assert table.epochs_to_see_all[1] == math.inf
    assert table.rows()[1]["epochs_to_see_all"] is None


def test_sampler_input_matches_counts_input() -> None:
    """describe(sampler) equals describe(counts, same configuration)."""
    labels = np.repeat(np.arange(5), COUNTS)
    sampler = BalancedBatchSampler(labels, 32, kind="quota", alpha=0.5, seed=0)
    from_sampler = describe(sampler).to_dict()
    from_counts = describe(COUNTS, 32, alpha=0.5, kind="quota").to_dict()
    from_sampler.pop("alpha"), from_counts.pop("alpha")
    assert from_sampler == from_counts


def test_sampler_with_configuration_is_an_error() -> None:
    """Passing a sampler and configuration arguments raises, naming them."""
    sampler = BalancedBatchSampler([0, 1, 1], 2, seed=0)
    with pytest.raises(InvalidArgumentError) as info:
        describe(sampler, 4, kind="quota")
    assert str(info.value) == (
        "give a sampler or a configuration, not both; got a BalancedBatchSampler and "
        "`batch_size`, `kind`."
    )


def test_counts_without_batch_size_is_an_error() -> None:
    """Class counts need a batch size."""
    with pytest.raises(
        InvalidArgumentError, match=re.escape("`batch_size` is required with class counts")
    ):
        describe(COUNTS)


def test_invalid_configuration_uses_library_messages() -> None:
    """Bad alpha / kind give the library's standard messages."""
    with pytest.raises(
        InvalidArgumentError, match=re.escape("`alpha` must be in [0, 1]; got 1.5.")
    ):
        describe(COUNTS, 32, alpha=1.5)
    with pytest.raises(InvalidArgumentError, match=re.escape("`kind` must be one of")):
        describe(COUNTS, 32, kind="greedy")


def test_text_and_json() -> None:
    """to_text has a header, a rule and one line per class; to_json round-trips to_dict."""
    table = describe(COUNTS, 32, alpha=0.5, kind="random")
    lines = str(table).splitlines()
    assert lines[0].startswith("kind random, batch size 32")
    assert len(lines) == 3 + len(COUNTS)
    assert json.loads(table.to_json()) == table.to_dict()
    assert table.to_dict()["classes"][0]["class"] == 0


def test_realised_shares_counts_every_position() -> None:
    """realised_shares is the class histogram of all positions, normalised."""
    labels = [0, 0, 1, 2]
    shares = realised_shares([[0, 2], [3, 3]], labels, num_classes=4)
    assert shares.tolist() == [0.25, 0.25, 0.5, 0.0]


def test_realised_shares_of_a_fixed_sampler_is_the_allocation() -> None:
    """Over an epoch of the fixed kind the realised shares are allocate(p, B) / B."""
    labels = np.repeat(np.arange(5), COUNTS)
    sampler = BalancedBatchSampler(labels, 32, alpha=0.5, seed=1)
    expected = allocate(interpolate(COUNTS, 0.5), 32) / 32
    np.testing.assert_allclose(realised_shares(sampler, labels), expected)


def test_realised_shares_rejects_bad_positions() -> None:
    """Out-of-range positions and empty batches raise."""
    with pytest.raises(InvalidArgumentError) as info:
        realised_shares([[0, 5]], [0, 1])
    assert str(info.value) == (
        "`batches` must hold positions in [0, 2), but holds 5; got 'a batch of such positions'."
    )
    with pytest.raises(
        InvalidArgumentError, match=re.escape("`batches` must hold at least one position")
    ):
        realised_shares([], [0, 1])


def test_plots_draw_one_line_or_bar_per_class() -> None:
    """Each plot draws its artists: lines per class (+ ideal lines), bars per class."""
    ax = plot_alpha_shares(COUNTS, batch_size=32, alpha=0.5)
    assert len(ax.get_lines()) >= len(COUNTS)
    ax = plot_shares([0.5, 0.5], [0.4, 0.6])
    assert len(ax.patches) == 4
    ax = plot_quota_cumulative(interpolate(COUNTS, 0.5), 32, 10)
    assert len(ax.get_lines()) == 2 * len(COUNTS) + 1


def test_plot_plan_writes_png(tmp_path) -> None:
    """plot_plan saves a PNG (the file starts with the PNG signature); quota has 3 panels."""
    path = tmp_path / "plan.png"
    plot_plan(COUNTS, 32, alpha=0.5, kind="fixed", path=path)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    figure = plot_plan(COUNTS, 32, alpha=0.5, kind="quota")
    assert len(figure.axes) == 3


def test_missing_matplotlib_message(monkeypatch) -> None:
    """Without matplotlib the plots raise ImportError saying how to install it."""
    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)
    with pytest.raises(ImportError, match=re.escape("pip install 'refsampler[plot]'")):
        plot_shares([1.0], [1.0])


def test_quota_deviation_plot_stays_within_one() -> None:
    """deviation=True plots S_c(k) - k B p_c; every plotted value is inside (-1, 1)."""
    ax = plot_quota_cumulative(interpolate(COUNTS, 0.5), 32, 50, deviation=True)
    steps = ax.get_lines()[: len(COUNTS)]
    values = np.concatenate([line.get_ydata() for line in steps])
    assert values.size == len(COUNTS) * 51
    assert np.all(np.abs(values) < 1)
