"""Statistical convergence tests of the ``random`` kind, through the adapter protocol.

Proves that an implementation (refsampler, or ``--refsampler-impl``) draws i.i.d. batches with
the right law: class shares match the target (chi-square and per-class exact binomial tests),
each batch's count of a class is ``Binomial(B, p_c)`` (no stratification, no clustering), and
members are uniform within their class. Also checks torch's ``WeightedRandomSampler`` fed with
``refsampler.sample_weights``, and that the chi-square rejects a sampler that is 2 points off.

Error budget (DESIGN section 5): every assertion runs at level ``LEVEL = 1e-8``; tests that
combine one p-value per class use Holm's step-down rule at ``LEVEL`` over the K classes, which
rejects the family iff the smallest p-value is below ``LEVEL / K``. Draws per configuration are
``min_num_draws(level=LEVEL / K)`` (a 1-point share shift at power 0.999 after the K-way split),
rounded up to whole batches: 206,464 for K = 5 and B = 32. Seeds come from ``stat_seed``. The
count of assertions and their levels are checked in ``test_budget.py``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pytest

from refsampler import interpolate, sample_weights
from refsampler.conformance import adapters
from refsampler.conformance.stats import (
    binomial_share,
    chisquare_shares,
    holm,
    min_num_draws,
    per_batch_dispersion,
    within_group_uniformity,
)

from ._support import per_batch_counts
from .conftest import run_batches

#: Level of every statistical assertion in this module.
LEVEL = 1e-8


@dataclass(frozen=True)
class Setting:
    """One configuration of the random kind: class sizes, alpha and batch size."""

    name: str
    class_sizes: tuple[int, ...]
    alpha: float
    batch_size: int

    @property
    def labels(self) -> npt.NDArray[np.int64]:
        """Shuffled labels with the given class sizes (a fixed, seeded shuffle)."""
        ordered = np.repeat(np.arange(len(self.class_sizes)), self.class_sizes)
        return np.random.default_rng(0).permutation(ordered)

    @property
    def target(self) -> npt.NDArray[np.float64]:
        return interpolate(np.array(self.class_sizes), self.alpha)

    @property
    def n_batches(self) -> int:
        """Whole batches holding ``min_num_draws(level=LEVEL / K)`` draws."""
        draws = min_num_draws(level=LEVEL / len(self.class_sizes))
        return -(-draws // self.batch_size)


LONG_TAIL = (740, 70, 150, 20, 20)  # shares 74 / 7 / 15 / 2 / 2 %
SETTINGS = [
    Setting("long_tail_alpha0", LONG_TAIL, 0.0, 32),
    Setting("long_tail_alpha0.5", LONG_TAIL, 0.5, 32),
    Setting("long_tail_alpha1", LONG_TAIL, 1.0, 32),
    Setting("tiny_class", (500, 300, 199, 1), 0.5, 16),
    Setting("small_batch", LONG_TAIL, 1.0, 3),
]
BY_NAME = pytest.mark.parametrize("setting", SETTINGS, ids=[s.name for s in SETTINGS])


def draw(make_batches: adapters.MakeBatches, setting: Setting, seed: int) -> np.ndarray:
    """(n_batches, B) positions of the random kind for ``setting``."""
    return run_batches(
        make_batches,
        setting.labels,
        kind="random",
        alpha=setting.alpha,
        batch_size=setting.batch_size,
        n_batches=setting.n_batches,
        seed=seed,
    )


def class_totals(setting: Setting, batches: np.ndarray) -> np.ndarray:
    return np.bincount(setting.labels[batches].ravel(), minlength=len(setting.class_sizes))


@pytest.mark.statistical(level=LEVEL)
@BY_NAME
def test_class_shares_chisquare(
    make_batches: adapters.MakeBatches, setting: Setting, stat_seed: int
) -> None:
    """Pearson chi-square of the class counts against the target (cells pooled to >= 5).

    False-failure rate 1e-8 per configuration. With >= 204,805 draws it detects a 1-point
    share shift between any two classes with power > 0.9999998 (noncentral chi-square,
    worst pair: the two largest classes), and ``detectable_shift`` of one class share at
    power 0.999 is 0.0098.
    """
    batches = draw(make_batches, setting, stat_seed)
    result = chisquare_shares(class_totals(setting, batches), setting.target)
    assert result.pvalue > LEVEL, result


@pytest.mark.statistical(level=LEVEL)
@BY_NAME
def test_class_shares_binomial_per_class(
    make_batches: adapters.MakeBatches, setting: Setting, stat_seed: int
) -> None:
    """Two-sided exact binomial test of each class share, Holm-corrected over the classes.

    False-failure rate 1e-8 per configuration (Holm at family level 1e-8 over K classes).
    Detects a 1-point shift of any single class share with power >= 0.999: the draws are
    ``min_num_draws(level=1e-8 / K)`` (``detectable_shift`` = 0.0100).
    """
    batches = draw(make_batches, setting, stat_seed)
    totals = class_totals(setting, batches)
    pvalues = [
        binomial_share(int(t), int(totals.sum()), float(p))
        for t, p in zip(totals, setting.target, strict=True)
    ]
    rejected, _ = holm(pvalues, LEVEL)
    assert not rejected.any(), dict(enumerate(pvalues))


@pytest.mark.statistical(level=LEVEL)
@BY_NAME
def test_per_batch_counts_are_binomial(
    make_batches: adapters.MakeBatches, setting: Setting, stat_seed: int
) -> None:
    """Each batch's count of class c is ``Binomial(B, p_c)``: histogram chi-square per class.

    The histogram of per-batch counts (over n_batches batches) is tested against
    ``scipy.stats.binom.pmf`` with cells pooled to expected counts >= 5; Holm over the K
    classes at 1e-8. This sees variance errors that share tests cannot: stratified batches
    (too little spread) and clustered batches (too much). False-failure rate 1e-8 per
    configuration; detects a shift of ``detectable_shift(n_batches, level=1e-8 / K)`` in the
    probability of any pooled cell: 0.057 at B = 32 (6,452 batches), 0.040 at B = 16, 0.017 at
    B = 3.
    """
    batches = draw(make_batches, setting, stat_seed)
    counts = per_batch_counts(setting.labels, batches, len(setting.class_sizes))
    pvalues = [
        per_batch_dispersion(counts[:, c], setting.batch_size, float(p)).pvalue
        for c, p in enumerate(setting.target)
    ]
    rejected, _ = holm(pvalues, LEVEL)
    assert not rejected.any(), dict(enumerate(pvalues))


@pytest.mark.statistical(level=LEVEL)
@BY_NAME
def test_members_are_uniform_within_their_class(
    make_batches: adapters.MakeBatches, setting: Setting, stat_seed: int
) -> None:
    """Draws of each class spread uniformly over its members (one pooled chi-square).

    Per-class Pearson statistics over members (runs of members pooled so each cell expects
    >= 5 draws) are summed, since given the class totals the classes are independent
    multinomials. False-failure rate 1e-8 per configuration. Detects a shift of a member's
    share within its class of ``detectable_shift(D_c, level=1e-8, share=1/n_c)``: 0.0016 for
    the 740-member class and 0.0095 for a 20-member class at alpha = 1 (0.030 at alpha = 0,
    where a 2 % class gets only 4,129 draws).
    """
    batches = draw(make_batches, setting, stat_seed)
    hits = np.bincount(batches.ravel(), minlength=setting.labels.size)
    result = within_group_uniformity(hits, setting.labels)
    assert result.pvalue > LEVEL, result


def weighted_random_sampler(labels: np.ndarray, alpha: float) -> np.ndarray:
    """The recipe under test: ``refsampler.sample_weights`` for torch's sampler."""
    return sample_weights(labels, alpha=alpha)


@pytest.mark.statistical(level=LEVEL)
@pytest.mark.parametrize("setting", SETTINGS[:3], ids=[s.name for s in SETTINGS[:3]])
def test_weighted_random_sampler_with_sample_weights(setting: Setting, stat_seed: int) -> None:
    """torch's WeightedRandomSampler fed ``sample_weights`` hits the target shares.

    Through ``adapters.from_weights`` (refsampler's weights, torch's sampler; not the
    implementation under test). Same chi-square, draws and power as
    ``test_class_shares_chisquare``; false-failure rate 1e-8 per configuration.
    """
    batches = draw(adapters.from_weights(weighted_random_sampler), setting, stat_seed)
    result = chisquare_shares(class_totals(setting, batches), setting.target)
    assert result.pvalue > LEVEL, result


def biased_sampler(shift: float) -> adapters.MakeBatches:
    """A random-kind sampler that moves ``shift`` of share from class 0 to class 1."""

    def make_batches(
        labels: npt.NDArray[np.int64],
        *,
        kind: str,
        alpha: float,
        batch_size: int,
        n_batches: int,
        seed: int,
    ) -> Iterable[Sequence[int]]:
        rng = np.random.default_rng(seed)
        counts = np.bincount(labels)
        share = interpolate(counts, alpha)
        share[0] -= shift
        share[1] += shift
        classes = rng.choice(counts.size, size=(n_batches, batch_size), p=share)
        members = rng.integers(0, counts[classes])
        by_class = np.argsort(labels, kind="stable")
        offsets = np.cumsum(counts) - counts
        return by_class[offsets[classes] + members].tolist()

    return make_batches


#: P(the power test misses a 2-point shift) with these draws: noncentral chi-square with
#: 4 degrees of freedom and noncentrality 1,291 below the 1e-8 critical value (about 45):
#: ``scipy.stats.ncx2.cdf`` underflows to 0; bounded here by 1e-100.
POWER_TEST_MISS = 1e-100


@pytest.mark.statistical(level=POWER_TEST_MISS)
def test_chisquare_rejects_a_sampler_two_points_off(stat_seed: int) -> None:
    """The class-share chi-square, at the same level and draws, catches a 2-point bias.

    A local sampler moves 2 points of share from class 0 (74 %) to class 1 (7 %) on the
    long-tailed alpha = 0 configuration. This test fails (wrongly) only if the chi-square
    misses that bias: probability below 1e-100 (``POWER_TEST_MISS``).
    """
    setting = SETTINGS[0]
    batches = draw(biased_sampler(0.02), setting, stat_seed)
    result = chisquare_shares(class_totals(setting, batches), setting.target)
    assert result.pvalue <= LEVEL, result
