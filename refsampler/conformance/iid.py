"""Statistical checks of i.i.d. draws: the iid-classes and with-replacement properties.

The share tests (``class_shares``, ``class_share[c]``) test the class counts against the
target. The tests of spread and serial dependence are *conditional on the observed shares*
(the dispersion test uses the observed share of its class, the serial tests are contingency
tests given their margins), so one biased share fails the share tests and nothing else. Where
the i.i.d. null predicts the spread, the tests are two-sided: too even fails as well as too
spread.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from scipy import stats as scipy_stats

from . import stats
from .checks import pending
from .results import CheckResult
from .sample import Sample, Setting

__all__ = [
    "iid_checks",
    "paired_counts_planned",
    "paired_counts_table",
    "plan_iid",
    "plan_replacement",
    "replacement_checks",
    "top_class",
]

IntVector = npt.NDArray[np.int64]
IntMatrix = npt.NDArray[np.int64]

#: Planning uses half the expected draws, so a correct run never has fewer cells than planned.
PLAN_MARGIN = 0.5


def _positive(setting: Setting) -> int:
    return int(np.count_nonzero(setting.target > 0))


def top_class(setting: Setting) -> int:
    """The class the serial-batches test follows: the largest target share."""
    return int(np.argmax(setting.target))


def _pooled_cells(expected: npt.ArrayLike) -> int:
    exp = np.asarray(expected, dtype=np.float64)
    _, pooled = stats.pool_cells(np.zeros(exp.size, dtype=np.int64), exp)
    return int(pooled.size)


def _dispersion_classes(setting: Setting) -> list[int]:
    batch = setting.config.batch_size
    out = []
    for c, p in enumerate(setting.target):
        if 0.0 < p < 1.0:
            pmf = scipy_stats.binom.pmf(np.arange(batch + 1), batch, p)
            if _pooled_cells(PLAN_MARGIN * setting.n_batches * pmf) >= 3:
                out.append(c)
    return out


def _table_planned(shares: npt.ArrayLike, pairs: float) -> bool:
    """Whether an independence table of these margins keeps two rows and two columns."""
    p = np.asarray(shares, dtype=np.float64)
    pooled = stats.pool_table(PLAN_MARGIN * pairs * np.outer(p, p))
    return bool(pooled.shape[0] >= 2 and pooled.shape[1] >= 2)


def paired_counts_planned(setting: Setting, pairs: float) -> bool:
    """Whether a table of the top class's counts in ``pairs`` pairs of batches (i.i.d. under
    the target) keeps two rows and two columns after pooling.

    Parameters
    ----------
    setting : Setting
        The (kind, configuration): its batch size and target.
    pairs : float
        Pairs of batches the table will count.

    Returns
    -------
    bool
    """
    batch, p = setting.config.batch_size, float(setting.target[top_class(setting)])
    if not 0.0 < p < 1.0:
        return False
    pmf = scipy_stats.binom.pmf(np.arange(batch + 1), batch, p)
    return _table_planned(pmf, pairs)


def paired_counts_table(first: IntVector, second: IntVector, batch: int) -> IntMatrix:
    """The table of paired per-batch counts ``(first[i], second[i])``.

    Parameters
    ----------
    first, second : numpy.ndarray of int64, shape (n,)
        Counts of one class in paired batches, each in ``0 .. batch``.
    batch : int
        The batch size.

    Returns
    -------
    numpy.ndarray of int64, shape (batch + 1, batch + 1)
    """
    cells = np.bincount(first * (batch + 1) + second, minlength=(batch + 1) ** 2)
    return cells.reshape(batch + 1, batch + 1)


def _serial_batches_planned(setting: Setting) -> bool:
    return paired_counts_planned(setting, setting.n_batches / 2)


def plan_iid(setting: Setting) -> list[tuple[str, bool]]:
    """Checks of the iid-classes property."""
    if _positive(setting) < 2:
        return []
    names = [("class_shares", False)]
    names += [(f"class_share[{c}]", False) for c in range(setting.config.num_classes)]
    names += [(f"per_batch_dispersion[{c}]", False) for c in _dispersion_classes(setting)]
    if _table_planned(setting.target, setting.n_batches * setting.config.batch_size / 2):
        names.append(("serial_draws", False))
    if _serial_batches_planned(setting):
        names.append(("serial_batches", False))
    return names


def iid_checks(sample: Sample) -> list[CheckResult]:
    """Class shares against the target; per-batch spread and serial independence."""
    setting, batches, labels = sample.setting, sample.batches, sample.labels
    plan = dict(plan_iid(setting))
    if not plan:
        return []
    target = setting.target
    batch = setting.config.batch_size
    classes = labels[batches]
    draws = int(batches.size)
    k = setting.config.num_classes
    totals = np.bincount(classes.ravel(), minlength=k)
    results = [
        pending(
            "class_shares",
            setting,
            stats.chisquare_shares(totals, target),
            draws,
            "omnibus chi-square of class counts against the target",
            words=(
                "class counts depart from the target",
                "class counts closer to the target than i.i.d. draws allow",
            ),
        )
    ]
    for c in range(k):
        expected = draws * float(target[c])
        results.append(
            pending(
                f"class_share[{c}]",
                setting,
                stats.binomial_share(int(totals[c]), draws, float(target[c])),
                draws,
                f"binomial: {int(totals[c])} of {draws} draws, expected share {target[c]:.4f}",
                detects="share",
                expected=round(expected, 2),
                observed=int(totals[c]),
            )
        )
        if int(totals[c]) != round(expected):
            results[-1].direction = "too many" if totals[c] > expected else "too few"
    counts = sample.counts
    for name in plan:
        if not name.startswith("per_batch_dispersion["):
            continue
        c = int(name[len("per_batch_dispersion[") : -1])
        results.append(
            pending(
                name,
                setting,
                stats.per_batch_dispersion(counts[:, c], batch),
                counts.shape[0],
                f"per-batch counts of class {c} ~ Binomial({batch}, observed share); "
                "expected/observed: their variance",
                words=("batches cluster on the class", "batches stratified: counts too even"),
            )
        )
    if "serial_draws" in plan:
        flat = classes.ravel()
        pairs = flat[: flat.size // 2 * 2].reshape(-1, 2)
        pair_table = np.bincount(pairs[:, 0] * k + pairs[:, 1], minlength=k * k).reshape(k, k)
        results.append(
            pending(
                "serial_draws",
                setting,
                stats.independence(pair_table),
                int(pairs.shape[0]),
                "classes of consecutive draws (disjoint pairs) independent; "
                "expected/observed: pairs of one class twice",
                words=("draws depend on the previous draw", "draws avoid repeating patterns"),
            )
        )
    if "serial_batches" in plan:
        top = top_class(setting)
        batch_pairs = counts[: counts.shape[0] // 2 * 2, top].reshape(-1, 2)
        table = paired_counts_table(batch_pairs[:, 0], batch_pairs[:, 1], batch)
        results.append(
            pending(
                "serial_batches",
                setting,
                stats.independence(table),
                int(batch_pairs.shape[0]),
                f"counts of class {top} in consecutive batches (disjoint pairs) independent; "
                "expected/observed: pairs of batches with equal counts",
                words=(
                    "consecutive batches depend on each other",
                    "consecutive batches too independent-looking",
                ),
            )
        )
    return results


def _streams(sample: Sample) -> tuple[IntVector, IntVector]:
    """Per class: disjoint pairs of consecutive draws, and how many drew one member twice."""
    flat = sample.batches.ravel()
    classes = sample.labels[flat]
    k = sample.setting.config.num_classes
    order = np.argsort(classes, kind="stable")  # each class's draws, in draw order
    members, owners = flat[order], classes[order]
    sizes = np.bincount(owners, minlength=k)
    starts = np.cumsum(sizes) - sizes
    rank = np.arange(flat.size) - starts[owners]
    second = (rank % 2 == 1) & (rank > 0)
    same = np.zeros(flat.size, dtype=bool)
    same[1:] = members[1:] == members[:-1]
    repeats = np.bincount(owners[second & same], minlength=k)
    return sizes // 2, repeats


def _replacement_planned(setting: Setting) -> tuple[bool, bool]:
    sizes = np.asarray(setting.config.class_counts, dtype=np.float64)
    draws = PLAN_MARGIN * setting.expected_draws
    uniform = bool(np.any((sizes >= 2) & (draws / sizes >= 2 * stats.MIN_EXPECTED)))
    pairs = draws / 2
    repeat = bool(
        np.any(
            (sizes >= 2)
            & (pairs / sizes >= stats.MIN_EXPECTED)
            & (pairs * (1 - 1 / sizes) >= stats.MIN_EXPECTED)
        )
    )
    return uniform, repeat


def plan_replacement(setting: Setting) -> list[tuple[str, bool]]:
    """Checks of the with-replacement property."""
    uniform, repeat = _replacement_planned(setting)
    names = []
    if uniform:
        names.append(("within_class_uniform", False))
    if repeat:
        names.append(("member_repeats", False))
    return names


def replacement_checks(sample: Sample) -> list[CheckResult]:
    """Members uniform within their class, and repeated as often as with replacement."""
    setting, batches, labels = sample.setting, sample.batches, sample.labels
    plan = dict(plan_replacement(setting))
    results = []
    if "within_class_uniform" in plan:
        hits = np.bincount(batches.ravel(), minlength=labels.size)
        results.append(
            pending(
                "within_class_uniform",
                setting,
                stats.within_group_uniformity(hits, labels),
                int(batches.size),
                "members drawn uniformly within their class; expected/observed: the spread of "
                "hits per member relative to the multinomial's",
                words=("some members favoured", "members drawn too evenly (not independently)"),
            )
        )
    if "member_repeats" in plan:
        pairs, repeats = _streams(sample)
        outcome = stats.member_repeats(pairs, repeats, np.asarray(setting.config.class_counts))
        results.append(
            pending(
                "member_repeats",
                setting,
                outcome,
                outcome.draws,
                "consecutive draws of a class repeat a member with probability 1/n_c "
                "(with replacement); expected/observed: repeats",
                words=("too many repeats", "too few repeats (drawn without replacement)"),
                lower_tail=False,
            )
        )
    return results
