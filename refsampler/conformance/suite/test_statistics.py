"""Statistical tests of kinds with i.i.d. classes, through the adapter protocol.

Proves that the implementation draws i.i.d. batches with the right law: class shares match the
target (a two-sided chi-square and per-class exact binomial tests), each batch's count of a
class is binomial given the observed share (neither stratified nor clustered), members are
uniform within their class (two-sided: too even fails too), and kinds that draw with
replacement repeat members as often as that predicts.

Error budget: every assertion runs at level ``LEVEL = 1e-8``; tests that combine one p-value
per class use Holm's step-down rule at ``LEVEL`` over the K classes. Draws per configuration
are ``min_num_draws(level=LEVEL / K)`` (a 1-point share shift at power 0.999 after the K-way
split), rounded up to whole batches: 206,464 for K = 5 and B = 32. A configuration the
implementation declines is skipped with the reason.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest

from refsampler import kinds as _kinds
from refsampler.conformance.sample import per_batch_counts
from refsampler.conformance.stats import (
    binomial_share,
    chisquare_shares,
    holm,
    member_repeats,
    min_num_draws,
    per_batch_dispersion,
    within_group_uniformity,
)
from refsampler.targets import interpolate

from ._support import call, kinds_with

#: Level of every statistical assertion in this module.
LEVEL = 1e-8


@dataclass(frozen=True)
class Setting:
    """One configuration: class sizes, alpha and batch size."""

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
        """The target shares."""
        return np.asarray(interpolate(np.array(self.class_sizes), self.alpha), np.float64)

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
IID = kinds_with(_kinds.PROPERTY_IID_CLASSES)
REPLACEMENT = kinds_with(_kinds.PROPERTY_WITH_REPLACEMENT)
BY_SETTING = pytest.mark.parametrize("setting", SETTINGS, ids=[s.name for s in SETTINGS])


def draw(
    make_batches: Any, kinds: tuple[str, ...], kind: str, setting: Setting, seed: int
) -> np.ndarray:
    """(n_batches, B) positions of ``kind`` for ``setting`` (skips if declined)."""
    if kind not in kinds:
        pytest.skip(f"kind {kind!r} is not among the kinds under test {kinds}")
    batches = call(
        make_batches,
        setting.labels,
        kind=kind,
        alpha=setting.alpha,
        batch_size=setting.batch_size,
        n_batches=setting.n_batches,
        seed=seed % 2**32,
    )
    assert batches is not None
    return batches


def class_totals(setting: Setting, batches: np.ndarray) -> np.ndarray:
    """Draws per class."""
    return np.bincount(setting.labels[batches].ravel(), minlength=len(setting.class_sizes))


@pytest.mark.statistical(level=LEVEL)
@pytest.mark.parametrize("kind", IID)
@BY_SETTING
def test_class_shares_chisquare(
    refsampler_make_batches: Any,
    refsampler_kinds: tuple[str, ...],
    kind: str,
    setting: Setting,
    refsampler_stat_seed: int,
) -> None:
    """Pearson chi-square of the class counts against the target (cells pooled to >= 5),
    two-sided where the counts resolve the lower tail.

    False-failure rate 1e-8 per configuration. With >= 204,805 draws it detects a 1-point
    share shift between any two classes with power > 0.9999998 (noncentral chi-square,
    worst pair: the two largest classes), and ``detectable_shift`` of one class share at
    power 0.999 is 0.0098.
    """
    batches = draw(refsampler_make_batches, refsampler_kinds, kind, setting, refsampler_stat_seed)
    result = chisquare_shares(class_totals(setting, batches), setting.target)
    assert result.pvalue > LEVEL, result


@pytest.mark.statistical(level=LEVEL)
@pytest.mark.parametrize("kind", IID)
@BY_SETTING
def test_class_shares_binomial_per_class(
    refsampler_make_batches: Any,
    refsampler_kinds: tuple[str, ...],
    kind: str,
    setting: Setting,
    refsampler_stat_seed: int,
) -> None:
    """Two-sided exact binomial test of each class share, Holm-corrected over the classes.

    False-failure rate 1e-8 per configuration (Holm at family level 1e-8 over K classes).
    Detects a 1-point shift of any single class share with power >= 0.999: the draws are
    ``min_num_draws(level=1e-8 / K)`` (``detectable_shift`` = 0.0100).
    """
    batches = draw(refsampler_make_batches, refsampler_kinds, kind, setting, refsampler_stat_seed)
    totals = class_totals(setting, batches)
    pvalues = [
        binomial_share(int(t), int(totals.sum()), float(p))
        for t, p in zip(totals, setting.target, strict=True)
    ]
    rejected, _ = holm(pvalues, LEVEL)
    assert not rejected.any(), dict(enumerate(pvalues))


@pytest.mark.statistical(level=LEVEL)
@pytest.mark.parametrize("kind", IID)
@BY_SETTING
def test_per_batch_counts_are_binomial(
    refsampler_make_batches: Any,
    refsampler_kinds: tuple[str, ...],
    kind: str,
    setting: Setting,
    refsampler_stat_seed: int,
) -> None:
    """Each batch's count of class c is ``Binomial(B, observed share)``: per class, the
    histogram of per-batch counts against the binomial pmf, Holm over the K classes at 1e-8.

    Conditional on the observed share, so a share bias is the share tests' finding, not this
    one's. It sees variance errors that share tests cannot: stratified batches (too little
    spread) and clustered batches (too much). False-failure rate 1e-8 per configuration;
    detects a change of ``detectable_shift(n_batches, level=1e-8 / K)`` in the probability of
    any pooled cell: 0.057 at B = 32 (6,452 batches), 0.040 at B = 16, 0.017 at B = 3.
    """
    batches = draw(refsampler_make_batches, refsampler_kinds, kind, setting, refsampler_stat_seed)
    counts = per_batch_counts(batches, setting.labels, len(setting.class_sizes))
    pvalues = [
        per_batch_dispersion(counts[:, c], setting.batch_size).pvalue
        for c in range(len(setting.class_sizes))
    ]
    rejected, _ = holm(pvalues, LEVEL)
    assert not rejected.any(), dict(enumerate(pvalues))


@pytest.mark.statistical(level=LEVEL)
@pytest.mark.parametrize("kind", REPLACEMENT)
@BY_SETTING
def test_members_are_uniform_within_their_class(
    refsampler_make_batches: Any,
    refsampler_kinds: tuple[str, ...],
    kind: str,
    setting: Setting,
    refsampler_stat_seed: int,
) -> None:
    """Draws of each class spread uniformly over its members, neither unevenly nor too
    evenly (one pooled two-sided chi-square).

    Per-class Pearson statistics over members (runs of members pooled so each cell expects
    >= 5 draws) are summed, since given the class totals the classes are independent
    multinomials. False-failure rate 1e-8 per configuration. Detects a shift of a member's
    share within its class of ``detectable_shift(D_c, level=1e-8, share=1/n_c)``: 0.0016 for
    the 740-member class and 0.0095 for a 20-member class at alpha = 1.
    """
    batches = draw(refsampler_make_batches, refsampler_kinds, kind, setting, refsampler_stat_seed)
    hits = np.bincount(batches.ravel(), minlength=setting.labels.size)
    result = within_group_uniformity(hits, setting.labels)
    assert result.pvalue > LEVEL, result


@pytest.mark.statistical(level=LEVEL)
@pytest.mark.parametrize("kind", REPLACEMENT)
@BY_SETTING
def test_members_repeat_as_with_replacement(
    refsampler_make_batches: Any,
    refsampler_kinds: tuple[str, ...],
    kind: str,
    setting: Setting,
    refsampler_stat_seed: int,
) -> None:
    """Consecutive draws of a class repeat a member with probability ``1 / n_c``.

    Disjoint pairs of consecutive draws per class; ``repeats_c ~ Binomial(pairs_c, 1/n_c)``
    with replacement, summed as a chi-square over the classes with >= 5 expected repeats and
    non-repeats. A sampler drawing members in shuffled cycles repeats far too rarely.
    False-failure rate 1e-8 per configuration.
    """
    batches = draw(refsampler_make_batches, refsampler_kinds, kind, setting, refsampler_stat_seed)
    classes = setting.labels[batches.ravel()]
    order = np.argsort(classes, kind="stable")
    members, owners = batches.ravel()[order], classes[order]
    k = len(setting.class_sizes)
    sizes = np.bincount(owners, minlength=k)
    rank = np.arange(owners.size) - (np.cumsum(sizes) - sizes)[owners]
    second = rank % 2 == 1
    same = np.r_[False, members[1:] == members[:-1]]
    repeats = np.bincount(owners[second & same], minlength=k)
    result = member_repeats(sizes // 2, repeats, np.asarray(setting.class_sizes))
    assert result.pvalue > LEVEL, result
