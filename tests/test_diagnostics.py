"""Tests of refsampler.diagnostics: describe, targets_by_epoch and realised_shares.

Expectations come from the pure core (allocate_with_ties, interpolate, the kinds' plans and
their exact cumulative draws ``drawn_before``), never from describe itself.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from types import SimpleNamespace

import numpy as np
import pytest

from refsampler import BalancedBatchSampler, InvalidArgumentError, allocate
from refsampler.allocation import allocate_with_ties
from refsampler.classes import ClassIndex
from refsampler.diagnostics import (
    Description,
    describe,
    realised_shares,
    targets_by_epoch,
)
from refsampler.plan import Plan
from refsampler.schedules import piecewise
from refsampler.targets import interpolate

COUNTS = [740, 70, 150, 20, 20]
ROW_KEYS = [
    "class",
    "count",
    "share",
    "target",
    "per_batch_min",
    "per_batch_max",
    "per_batch_mean",
    "per_batch_sd",
    "batch_share",
    "draws_per_epoch",
    "oversampling",
    "epochs_to_see_all",
]


def _labels(counts: list[int]) -> np.ndarray:
    return np.repeat(np.arange(len(counts)), counts)


# -- imports ----------------------------------------------------------------------------------


def test_importing_diagnostics_loads_neither_torch_nor_matplotlib() -> None:
    """describe works on numpy alone: importing and calling it loads no torch, no matplotlib."""
    code = (
        "import sys\n"
        "from refsampler.diagnostics import describe\n"
        "describe([740, 70, 150, 20, 20], 32, kind='quota')\n"
        "print(sorted(m for m in ('torch', 'matplotlib') if m in sys.modules))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout == "[]\n"


def test_plots_are_not_in_diagnostics() -> None:
    """The plots moved to refsampler.plots; diagnostics keeps no copy of them."""
    import refsampler.diagnostics as diagnostics

    assert [name for name in dir(diagnostics) if name.startswith("plot")] == []


# -- per-batch columns of each kind -----------------------------------------------------------


def test_fixed_per_batch_is_the_allocation_with_its_ties() -> None:
    """Fixed: a batch holds the certain seats, and each tied class one more in s/T of the
    epochs; the canonical allocate vector lies between the two."""
    table = describe(COUNTS, 32, alpha=0.5, kind="fixed", n_batches=10)
    certain, tied, seats = allocate_with_ties(interpolate(COUNTS, 0.5), 32)
    assert (tied.tolist(), seats) == ([3, 4], 1)
    high = certain.copy()
    high[tied] += 1
    assert table.per_batch_min.tolist() == certain.tolist()
    assert table.per_batch_max.tolist() == high.tolist()
    np.testing.assert_allclose(table.per_batch_mean, certain + np.isin(range(5), tied) * 0.5)
    np.testing.assert_allclose(table.per_batch_sd, [0, 0, 0, 0.5, 0.5])
    canonical = allocate(interpolate(COUNTS, 0.5), 32)
    assert np.all((table.per_batch_min <= canonical) & (canonical <= table.per_batch_max))
    assert table.ties()[0].tolist() == [3, 4]
    assert table.ties()[1] == 1
    np.testing.assert_allclose(table.draws_per_epoch, 10 * table.per_batch_mean)


def test_fixed_without_ties_is_allocate_every_batch() -> None:
    """With no exact ties (alpha 0 here) every batch is allocate(p, B), and the first epoch
    that completes a class's cycle is ceil(n_c / (S a_c))."""
    table = describe(COUNTS, 32, alpha=0.0, kind="fixed", n_batches=7, num_replicas=3)
    expected = allocate(interpolate(COUNTS, 0.0), 32)
    assert table.per_batch_min.tolist() == table.per_batch_max.tolist() == expected.tolist()
    assert table.ties()[0].tolist() == []
    assert table.draws_per_epoch.tolist() == (21 * expected).tolist()
    assert table.epochs_to_see_all.tolist() == np.ceil(np.array(COUNTS) / (21 * expected)).tolist()


def test_quota_per_batch_is_floor_or_ceil() -> None:
    """Quota: floor(B p_c) draws, one more in a fraction B p_c - floor of the batches."""
    table = describe(COUNTS, 32, alpha=0.5, kind="quota")
    quotas = 32 * interpolate(COUNTS, 0.5)
    rates = quotas - np.floor(quotas)
    assert table.per_batch_min.tolist() == np.floor(quotas).tolist()
    assert table.per_batch_max.tolist() == np.ceil(quotas).tolist()
    np.testing.assert_allclose(table.per_batch_mean, quotas, rtol=1e-12)
    np.testing.assert_allclose(table.per_batch_sd, np.sqrt(rates * (1 - rates)), rtol=1e-12)
    np.testing.assert_allclose(table.draws_per_epoch, table.n_batches * quotas, rtol=1e-12)
    assert table.batch_share.tolist() == [1.0] * 5


def test_random_columns_are_binomial_moments() -> None:
    """Random: per-batch mean B p, sd sqrt(B p (1-p)), share of batches 1 - (1-p)^B, expected
    draws n_batches B p, no min or max."""
    table = describe(COUNTS, 32, alpha=0.5, kind="random", n_batches=7)
    p = interpolate(COUNTS, 0.5)
    np.testing.assert_allclose(table.per_batch_mean, 32 * p)
    np.testing.assert_allclose(table.per_batch_sd, np.sqrt(32 * p * (1 - p)))
    np.testing.assert_allclose(table.batch_share, 1 - (1 - p) ** 32)
    np.testing.assert_allclose(table.draws_per_epoch, 7 * 32 * p)
    assert np.isnan(table.per_batch_min).all() and np.isnan(table.per_batch_max).all()
    assert table.rows()[0]["per_batch_min"] is None


def test_pk_columns_are_appearances() -> None:
    """pk: a class is in a fraction P p_c of the batches, with m members each time."""
    table = describe(COUNTS, 32, alpha=0.5, kind="pk", samples_per_class=16, n_batches=10)
    rates = 2 * interpolate(COUNTS, 0.5)
    np.testing.assert_allclose(table.batch_share, rates, rtol=1e-12)
    assert table.per_batch_min.tolist() == [0.0] * 5
    assert table.per_batch_max.tolist() == [16.0] * 5
    np.testing.assert_allclose(table.per_batch_mean, 16 * rates, rtol=1e-12)
    np.testing.assert_allclose(table.draws_per_epoch, 10 * 16 * rates, rtol=1e-12)
    assert table.samples_per_class == 16
    text = table.to_text()
    assert text.startswith("kind pk (2 classes x 16 samples per batch), batch size 32,")
    assert text.splitlines()[1].split("  ")[4:6] == ["in batches", "batches/epoch"]


def test_pk_class_in_every_batch() -> None:
    """A pk class with P p_c = 1 is in every batch with exactly m members."""
    table = describe([10, 10], 4, alpha=1.0, kind="pk", samples_per_class=2, n_batches=3)
    assert table.batch_share.tolist() == [1.0, 1.0]
    assert table.per_batch_min.tolist() == table.per_batch_max.tolist() == [2.0, 2.0]
    assert table.per_batch_sd.tolist() == [0.0, 0.0]


# -- coverage ---------------------------------------------------------------------------------


CASES = [
    ("fixed", 0.5, 32, 3, 2, None),
    ("fixed", 1.0, 12, 5, 1, None),
    ("quota", 0.5, 32, 3, 2, None),
    ("quota", 0.3, 8, 7, 3, None),
    ("pk", 0.5, 32, 4, 1, 16),
    ("pk", 1.0, 8, 3, 2, 2),
]


@pytest.mark.parametrize(("kind", "alpha", "batch", "n_batches", "replicas", "m"), CASES)
def test_epochs_to_see_all_is_guaranteed_by_the_plan(kind, alpha, batch, n_batches, replicas, m):
    """After epochs_to_see_all epochs the plan has drawn every class at least n_c times, for
    every seed (the plan's exact cumulative draws say so), and at least one seed needs them
    all for some class (the column is not loose)."""
    options = {} if m is None else {"samples_per_class": m}
    table = describe(
        COUNTS,
        batch,
        alpha=alpha,
        kind=kind,
        n_batches=n_batches,
        num_replicas=replicas,
        **options,
    )
    slots = n_batches * replicas
    epochs = table.epochs_to_see_all.astype(int)
    tight = False
    for seed in range(8):
        plan = Plan(
            ClassIndex.from_labels(_labels(COUNTS)),
            kind,
            interpolate(COUNTS, alpha),
            batch,
            n_batches,
            seed,
            replicas,
            options,
        )
        counted = plan.kind_plan(0)
        for c, e in enumerate(epochs.tolist()):
            assert counted.drawn_before(e * slots)[c] >= COUNTS[c]
            tight |= e == 1 or counted.drawn_before((e - 1) * slots)[c] < COUNTS[c]
    assert tight


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


def test_empty_class_has_nothing_to_see() -> None:
    """A class without samples: 0 epochs to see all, no oversampling factor."""
    table = describe([10, 0, 6], 4, target=[0.5, 0.0, 0.5], kind="quota")
    assert table.epochs_to_see_all[1] == 0.0
    assert table.rows()[1]["oversampling"] is None


# -- scope: per batch, per epoch over all ranks -----------------------------------------------


def test_per_epoch_columns_count_all_ranks() -> None:
    """draws, oversampling and epochs to see all all count the n_batches * R batches of an
    epoch: R ranks of n batches describe like one rank of R n batches, and the headers say
    so."""
    split = describe(COUNTS, 32, alpha=0.5, kind="quota", n_batches=16, num_replicas=2)
    whole = describe(COUNTS, 32, alpha=0.5, kind="quota", n_batches=32)
    for name in ("per_batch_mean", "draws_per_epoch", "oversampling", "epochs_to_see_all"):
        np.testing.assert_array_equal(getattr(split, name), getattr(whole, name), err_msg=name)
    assert split.batches_per_epoch == 32
    lines = split.to_text().splitlines()
    assert lines[0].startswith(
        "kind quota, batch size 32, 16 batches per epoch on each of 2 ranks (per-epoch "
        "columns: all 32 batches), alpha 0.5;"
    )
    headers = [h.strip() for h in lines[1].split("  ") if h.strip()]
    assert headers[-3:] == [
        "draws/epoch, all ranks",
        "oversampling, all ranks",
        "epochs to see all",
    ]


def test_cost_does_not_grow_with_n_batches() -> None:
    """Nothing per batch is built: a billion batches per epoch, and 1000 classes over ten
    million batches, describe at once (the figures scale exactly)."""
    small = describe([1, 2], 2, n_batches=10**9)
    assert small.draws_per_epoch.tolist() == [10.0**9, 10.0**9]
    counts = np.random.default_rng(0).integers(1, 5000, 1000)
    for kind, batch, options in (
        ("quota", 32, {}),
        ("pk", 64, {"samples_per_class": 1}),
        ("fixed", 4096, {}),
    ):
        table = describe(counts, batch, alpha=0.5, kind=kind, n_batches=10**7, **options)
        assert len(table.rows()) == 1000
        assert np.isfinite(table.epochs_to_see_all).all()


# -- sampler input ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "options"),
    [("fixed", {}), ("quota", {}), ("random", {}), ("pk", {"samples_per_class": 16})],
)
def test_sampler_input_matches_counts_input(kind, options) -> None:
    """describe(sampler) equals describe(counts, same configuration), alpha included."""
    sampler = BalancedBatchSampler(
        _labels(COUNTS), 32, kind=kind, alpha=0.5, seed=0, num_replicas=2, rank=1, **options
    )
    from_sampler = describe(sampler).to_dict()
    from_counts = describe(COUNTS, 32, alpha=0.5, kind=kind, num_replicas=2, **options)
    assert from_sampler == from_counts.to_dict()
    assert from_sampler["alpha"] == 0.5


def test_sampler_alpha_is_reported() -> None:
    """The sampler's alpha: a float, None for an explicit target, or the schedule itself."""
    labels = _labels(COUNTS)
    assert describe(BalancedBatchSampler(labels, 32, alpha=0.5, seed=0)).alpha == 0.5
    assert describe(BalancedBatchSampler(labels, 32, seed=0)).alpha == 1.0
    explicit = BalancedBatchSampler(labels, 32, target=[0.2] * 5, seed=0)
    assert describe(explicit).alpha is None
    schedule = piecewise([(0, 0.0), (10, 1.0)])
    scheduled = BalancedBatchSampler(labels, 32, kind="quota", alpha=schedule, seed=0)
    assert describe(scheduled).alpha is schedule


def test_anything_with_a_plan_is_a_sampler() -> None:
    """Samplers are duck-typed by their ``plan``; a Plan itself is accepted too."""
    plan = Plan(
        ClassIndex.from_labels(_labels(COUNTS)), "quota", interpolate(COUNTS, 0.5), 32, 32, 0
    )
    expected = describe(COUNTS, 32, alpha=0.5, kind="quota").to_dict()
    duck = describe(SimpleNamespace(plan=plan, alpha=0.5, epoch=0))
    assert duck.to_dict() == expected
    assert describe(plan).to_dict() == {**expected, "alpha": None}


def test_sampler_with_configuration_is_an_error() -> None:
    """Passing a sampler and configuration arguments raises, naming them."""
    sampler = BalancedBatchSampler([0, 1, 1], 2, seed=0)
    with pytest.raises(InvalidArgumentError) as info:
        describe(sampler, 4, kind="quota", samples_per_class=2)
    assert str(info.value) == (
        "give a sampler or a configuration, not both; got a BalancedBatchSampler and "
        "`batch_size`, `samples_per_class`, `kind`."
    )


# -- schedules --------------------------------------------------------------------------------


SCHEDULE = piecewise([(0, 0.0), (90, 1.0)])


def test_schedule_describes_one_epoch_and_tabulates_the_rest() -> None:
    """With a schedule the columns describe the chosen epoch's target, epochs to see all is
    n_c / draws at that rate, and the table of targets by epoch comes along."""
    table = describe(COUNTS, 32, alpha=SCHEDULE, kind="quota", epoch=45)
    np.testing.assert_allclose(table.target, interpolate(COUNTS, 0.5))
    assert table.moving and table.alpha is SCHEDULE and table.epoch == 45
    np.testing.assert_allclose(
        table.epochs_to_see_all, np.array(COUNTS) / table.draws_per_epoch, rtol=1e-12
    )
    assert table.schedule is not None
    assert table.schedule.epochs.tolist() == [0, 45, 90]
    text = table.to_text()
    assert "alpha schedule 0:0,90:1, epoch 45 (alpha 0.5);" in text.splitlines()[0]
    assert "epochs to see all (at this rate)" in text.splitlines()[1]
    assert text.split("\n\n")[1] == table.schedule.to_text()
    data = json.loads(table.to_json())
    assert data["alpha"] == {"piecewise": [[0, 0.0], [90, 1.0]]}
    assert data["schedule"]["alphas"] == [0.0, 0.5, 1.0]


def test_schedule_of_a_sampler_follows_its_epoch() -> None:
    """describe(sampler) shows the epoch its next pass yields (or the one asked for)."""
    sampler = BalancedBatchSampler(_labels(COUNTS), 32, kind="fixed", alpha=SCHEDULE, seed=0)
    sampler.set_epoch(30)
    table = describe(sampler)
    assert table.epoch == 30
    np.testing.assert_allclose(table.target, interpolate(COUNTS, 1 / 3))
    assert describe(sampler, epoch=90).target.tolist() == [0.2] * 5


def test_schedule_is_checked_at_every_knot() -> None:
    """A pk schedule that is infeasible at a knot is refused, as the sampler refuses it."""
    with pytest.raises(InvalidArgumentError) as info:
        describe(COUNTS, 32, alpha=SCHEDULE, kind="pk", samples_per_class=16, epoch=90)
    assert str(info.value).startswith(
        'kind="pk" cannot put class 0 in P * p_c = 1.48 > 1 of the batches'
    )
    assert str(info.value).endswith("got alpha=0.0, at a knot of the alpha schedule '0:0,90:1'.")


def test_fixed_schedule_is_refused_at_its_first_infeasible_epoch() -> None:
    """describe refuses an alpha schedule with an epoch fixed cannot serve (from epoch 4 on,
    alpha 0.6, here), with the sampler's message naming that epoch, whatever epoch it is
    asked about."""
    from refsampler.schedules import linear

    with pytest.raises(InvalidArgumentError) as info:
        describe(np.array([1000, 1, 1, 1]), 4, alpha=linear(1.0, 0.0, 10), kind="fixed", epoch=0)
    assert str(info.value).endswith("at epoch 4 of the alpha schedule '0:1,10:0' (`alpha`=0.6).")


def test_targets_by_epoch() -> None:
    """Default epochs: 0, the knots and halfway between; the targets are interpolate."""
    schedule = piecewise([(10, 0.0), (20, 0.5), (21, 1.0)])
    table = targets_by_epoch(COUNTS, schedule)
    assert table.epochs.tolist() == [0, 10, 15, 20, 21]
    assert table.alphas.tolist() == [0.0, 0.0, 0.25, 0.5, 1.0]
    for alpha, row in zip(table.alphas, table.targets, strict=True):
        np.testing.assert_array_equal(row, interpolate(COUNTS, alpha))
    chosen = targets_by_epoch(COUNTS, schedule, [21, 5])
    assert chosen.epochs.tolist() == [5, 21]
    assert chosen.to_dict()["alphas"] == [0.0, 1.0]


def test_targets_by_epoch_wants_a_schedule() -> None:
    """A plain alpha is not a schedule."""
    with pytest.raises(InvalidArgumentError) as info:
        targets_by_epoch(COUNTS, 0.5)
    assert str(info.value) == (
        "`schedule` must be an AlphaSchedule (see refsampler.schedules); got 0.5."
    )


# -- bad input --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "kwargs", "message"),
    [
        ((COUNTS,), {}, "`batch_size` is required with class counts; got None."),
        ((COUNTS, 32), {"alpha": 1.5}, "`alpha` must be in [0, 1]; got 1.5."),
        (
            (COUNTS, 32),
            {"kind": "pk"},
            'kind="pk" needs `samples_per_class` (m, the members of each class in a batch); '
            "got None.",
        ),
        (
            (COUNTS, 32),
            {"samples_per_class": 4},
            "`samples_per_class` is only for kind=\"pk\"; "
            "got samples_per_class=4 with kind='fixed'.",
        ),
        (
            (COUNTS, 32),
            {"kind": "pk", "samples_per_class": 5},
            '`batch_size` must be a multiple of `samples_per_class` (5) for kind="pk"; got 32.',
        ),
        ((COUNTS, 32), {"num_replicas": 0}, "`num_replicas` must be >= 1; got 0."),
        ((COUNTS, 32), {"epoch": -1}, "`epoch` must be >= 0; got -1."),
        (
            (COUNTS, 2**39),
            {"n_batches": 2**30},
            "`n_batches` must be <= 8388608 with `batch_size` 549755813888 and `num_replicas` "
            "1 (at most 4611686018427387904 positions an epoch); got 1073741824.",
        ),
        (
            (COUNTS, 32),
            {"alpha": SCHEDULE, "target": [0.2] * 5},
            "give `alpha` or `target`, not both; got alpha=AlphaSchedule(knots=((0, 0.0), "
            "(90, 1.0))) and target=[0.2, 0.2, 0.2, 0.2, 0.2].",
        ),
    ],
)
def test_bad_configuration_messages(args, kwargs, message) -> None:
    """Invalid configurations raise InvalidArgumentError naming the argument and value."""
    with pytest.raises(InvalidArgumentError) as info:
        describe(*args, **kwargs)
    assert str(info.value) == message


def test_kind_message_lists_the_kinds() -> None:
    """An unknown kind gets the registry's message."""
    with pytest.raises(InvalidArgumentError) as info:
        describe(COUNTS, 32, kind="greedy")
    assert str(info.value) == (
        '`kind` must be one of "fixed", "quota", "random", "pk"; got \'greedy\'.'
    )


# -- text and JSON ----------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["fixed", "quota", "random"])
def test_text_and_json(kind: str) -> None:
    """to_text has a header, a rule and one line per class; to_json round-trips to_dict; the
    rows have the same keys for every kind."""
    table = describe(COUNTS, 32, alpha=0.0, kind=kind)
    lines = str(table).splitlines()
    assert lines[0].startswith(f"kind {kind}, batch size 32")
    assert set(lines[2]) == {"-", " "}
    assert len(lines) == 3 + len(COUNTS)
    assert json.loads(table.to_json()) == table.to_dict()
    assert list(table.rows()[0]) == ROW_KEYS
    assert isinstance(table, Description) and table.num_classes == 5


def test_fixed_text_shows_the_tie() -> None:
    """The fixed table prints a tied count as a range and says how the seat is shared."""
    lines = describe(COUNTS, 32, alpha=0.5).to_text().splitlines()
    header = lines[1].split()
    column = header.index("per")  # "per batch" splits in two
    assert [line.split()[column] for line in lines[3:8]] == ["15", "4", "6", "3-4", "3-4"]
    assert lines[8] == (
        "tie: classes 3, 4 share 1 seat per batch; each epoch gives it to 1 of the 2, in "
        "rounds of random order over the epochs"
    )


def test_small_shares_keep_three_significant_digits() -> None:
    """Shares below 0.1 % print with three significant digits, not as 0.00 % (at tens of
    thousands of classes every class is that small); an exact zero prints as 0 %."""
    target = np.r_[0.5, 0.0, np.full(999, 0.5 / 999)]
    lines = describe([996_000] + [4] * 1000, 256, kind="quota", target=target).to_text()
    rows = [line.split() for line in lines.splitlines()[3:6]]
    assert [row[2:4] for row in rows] == [
        ["99.60%", "50.00%"],
        ["0.0004%", "0%"],
        ["0.0004%", "0.0501%"],
    ]
    schedule = targets_by_epoch([10**6, 3], piecewise([(0, 0.0), (1, 1.0)]), [0, 1]).to_text()
    assert schedule.splitlines()[-1].split() == ["1", "0.0003%", "50.00%"]


# -- realised shares --------------------------------------------------------------------------


def test_realised_shares_counts_every_position() -> None:
    """realised_shares is the class histogram of all positions, normalised."""
    labels = [0, 0, 1, 2]
    shares = realised_shares([[0, 2], [3, 3]], labels, num_classes=4)
    assert shares.tolist() == [0.25, 0.25, 0.5, 0.0]


def test_realised_shares_of_a_fixed_epoch_is_that_epochs_vector() -> None:
    """Over an epoch of the fixed kind the realised shares are its count vector over B."""
    labels = _labels(COUNTS)
    sampler = BalancedBatchSampler(labels, 32, alpha=0.0, seed=1)
    expected = allocate(interpolate(COUNTS, 0.0), 32) / 32
    np.testing.assert_allclose(realised_shares(sampler, labels), expected)


def test_realised_shares_rejects_bad_positions() -> None:
    """Out-of-range positions and empty batches raise."""
    with pytest.raises(InvalidArgumentError) as info:
        realised_shares([[0, 5]], [0, 1])
    assert str(info.value) == (
        "`batches` must hold positions in [0, 2) (the labels' length); got 5."
    )
    with pytest.raises(InvalidArgumentError) as info:
        realised_shares([], [0, 1])
    assert str(info.value) == "`batches` must hold at least one position; got []."


@pytest.mark.parametrize(
    ("batches", "message"),
    [
        ([[0, 1.9]], "`batches[0]` must hold integers, but has dtype float64; got [0, 1.9]."),
        ([[0], ["1", "2"]], "`batches[1]` must hold integers, but has dtype <U1; got ['1', '2']."),
        (
            [[[0, 1], [2, 3]]],
            "`batches[0]` must be 1-D, but has shape (2, 2); got [[0, 1], [2, 3]].",
        ),
        ([[2**70]], f"`batches[0]` must fit in int64, but holds {2**70}; got [{2**70}]."),
        ([[None]], "`batches[0]` must hold integers, but has dtype object; got [None]."),
        (5, "`batches` must be an iterable of batches (sequences of ints); got 5."),
    ],
)
def test_realised_shares_refuses_batches_that_are_not_integer_sequences(
    batches: object, message: str
) -> None:
    """A batch of floats, strings, nested lists or huge ints is refused, naming the batch,
    never cast (numpy's cast would read 1.9 as position 1)."""
    with pytest.raises(InvalidArgumentError) as info:
        realised_shares(batches, [0, 0, 1, 2])  # type: ignore[arg-type]
    assert str(info.value) == message


def test_realised_shares_reads_arrays_and_tensors_row_by_row() -> None:
    """A 2-D array or tensor of batches gives the same shares as the lists."""
    labels = [0, 0, 1, 2]
    lists = [[0, 2], [3, 3]]
    expected = realised_shares(lists, labels).tolist()
    assert realised_shares(np.array(lists), labels).tolist() == expected
    torch = pytest.importorskip("torch")
    assert realised_shares(torch.tensor(lists), labels).tolist() == expected


def test_realised_shares_refuses_sparse_ids_before_allocating() -> None:
    """A huge label id is refused with the dense-id message, not by allocating K counters;
    num_classes must exceed the largest label."""
    with pytest.raises(InvalidArgumentError) as info:
        realised_shares([[0, 1]], [0, 10**12])
    assert str(info.value) == (
        "`labels` must be dense class ids below max(2 * N, 2**20) = 1048576 for N = 2 "
        "samples, but holds 1000000000000; remap sparse ids to 0 .. K-1 with "
        "`numpy.unique(labels, return_inverse=True)`; got [ 0 1000000000000]."
    )
    with pytest.raises(InvalidArgumentError) as info:
        realised_shares([[0, 1]], [0, 1], num_classes=1)
    assert str(info.value) == "`num_classes` must exceed the largest label (1); got 1."


def test_realised_shares_of_a_sampler_reads_one_pass() -> None:
    """Passing the sampler reads one pass, as its docstring says: the epoch moves on."""
    labels = [0] * 90 + [1] * 10
    sampler = BalancedBatchSampler(labels, 10, kind="quota", alpha=1.0, seed=0)
    first = BalancedBatchSampler(labels, 10, kind="quota", alpha=1.0, seed=0)
    np.testing.assert_array_equal(
        realised_shares(sampler, labels), realised_shares(list(first), labels)
    )
    assert sampler.epoch == 1


def test_the_header_counts_in_words() -> None:
    """One batch, one class, one sample: singular nouns in the header."""
    header = describe([1], 1, n_batches=1).to_text().splitlines()[0]
    assert header.endswith("1 batch per epoch, alpha 1; 1 sample in 1 class")
    pk = describe([4, 4], 2, kind="pk", samples_per_class=2).to_text().splitlines()[0]
    assert pk.startswith("kind pk (1 class x 2 samples per batch)")
