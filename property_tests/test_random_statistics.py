"""Statistical tests of refsampler's own weights recipe, and a power test of the share test.

The implementation-agnostic statistical tests of i.i.d. kinds live in the shipped suite
(:mod:`refsampler.conformance.suite.test_statistics`, run here by ``test_shipped_suite.py``).
These use refsampler directly: torch's ``WeightedRandomSampler`` fed with
``refsampler.sample_weights`` hits the target shares, and the class-share chi-square rejects a
sampler that is 2 points off, at the suite's level and draws.

Error budget: every assertion runs at level ``LEVEL = 1e-8`` with the suite's draws
(``min_num_draws(level=LEVEL / K)``); seeds come from ``stat_seed``. The count of assertions
and their levels are checked in ``test_budget.py``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
import numpy.typing as npt
import pytest

from refsampler import interpolate, sample_weights
from refsampler.conformance import adapters
from refsampler.conformance.stats import chisquare_shares
from refsampler.conformance.suite.test_statistics import LEVEL, SETTINGS, Setting, class_totals


def draw(make_batches: adapters.MakeBatches, setting: Setting, seed: int) -> np.ndarray:
    """(n_batches, B) positions of the random kind for ``setting``."""
    batches = make_batches(
        setting.labels,
        kind="random",
        alpha=setting.alpha,
        batch_size=setting.batch_size,
        n_batches=setting.n_batches,
        seed=seed,
    )
    return np.asarray([list(map(int, b)) for b in batches], dtype=np.int64)


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
