"""The checks of the conformance kit: exact properties and statistical tests of one run.

Every check returns :class:`CheckResult` records. Exact checks (``exact=True``) count
violations of a property that the contract promises for every output, so they never raise a
false alarm (``level = 0``). Statistical checks carry a p-value; the runner
(:func:`refsampler.conformance.verify`) decides them together with Holm's procedure so the
family-wise false-alarm rate of a whole run stays at most
:data:`~refsampler.conformance.stats.FAMILY_LEVEL`.

The configurations the kit runs (:data:`CONFIGS`) are chosen to provoke the typical defects:
long tails, tiny classes, small batches, more classes than a batch holds, alpha at 0, 1 and in
between.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from . import stats

__all__ = [
    "CONFIGS",
    "KINDS",
    "CheckResult",
    "Config",
    "as_batch_array",
    "counted_checks",
    "cycle_checks",
    "determinism_checks",
    "exchangeability_check",
    "random_checks",
    "range_check",
    "shape_check",
]

IntVector = npt.NDArray[np.int64]
IntMatrix = npt.NDArray[np.int64]
FloatVector = npt.NDArray[np.float64]

KINDS = ("fixed", "quota", "random")
#: Slack for float round-off when comparing counts with ``B * p`` (never a real deviation).
_EPS = 1e-9


@dataclass(frozen=True)
class Config:
    """One configuration the kit runs an implementation on.

    Parameters
    ----------
    name : str
        Short identifier, used in reports.
    class_counts : tuple of int
        Samples per class (all positive).
    batch_size : int
    alpha : float
        Interpolation weight of the target (0: empirical shares, 1: uniform).
    kinds : tuple of str
        The kinds this configuration is run with (``fixed`` only where it is feasible).
    why : str
        What this configuration is there to catch.
    """

    name: str
    class_counts: tuple[int, ...]
    batch_size: int
    alpha: float
    kinds: tuple[str, ...]
    why: str

    @property
    def num_classes(self) -> int:
        """K."""
        return len(self.class_counts)

    def labels(self) -> IntVector:
        """The labels: a fixed, name-keyed shuffle, so that positions are not sorted by class."""
        labels = np.repeat(np.arange(self.num_classes, dtype=np.int64), self.class_counts)
        key = int.from_bytes(hashlib.blake2b(self.name.encode(), digest_size=8).digest(), "little")
        return np.random.default_rng(key).permutation(labels)

    def target(self) -> FloatVector:
        """The target shares ``p_c = alpha / K + (1 - alpha) n_c / N``."""
        from ..targets import interpolate

        return interpolate(np.asarray(self.class_counts), self.alpha)


#: The configurations of a verify run.
CONFIGS: tuple[Config, ...] = (
    Config(
        "long-tail",
        (400, 150, 60, 25, 10, 4, 2, 1),
        16,
        0.5,
        KINDS,
        "a long tail down to a single sample, alpha between the endpoints",
    ),
    Config(
        "tiny-classes",
        (500, 500, 2, 1),
        8,
        0.0,
        KINDS,
        "alpha 0 (empirical shares) with classes whose quota rounds to 0",
    ),
    Config(
        "uniform",
        (300, 100, 50, 20, 5),
        10,
        1.0,
        KINDS,
        "alpha 1 (uniform) on an imbalanced dataset",
    ),
    Config(
        "small-batch",
        (50, 30, 20),
        3,
        0.3,
        KINDS,
        "batches of 3",
    ),
    Config(
        "wrap-in-batch",
        (40, 3, 1),
        12,
        1.0,
        KINDS,
        "classes smaller than their per-batch count: cycles wrap inside a batch",
    ),
    Config(
        "single-class",
        (3,),
        4,
        0.5,
        KINDS,
        "one class, smaller than a batch (K = 1 edge case)",
    ),
    Config(
        "many-classes",
        tuple(int(n) for n in np.linspace(60, 3, 24).round()),
        8,
        1.0,
        ("quota", "random"),
        "more classes than a batch holds (fixed is infeasible)",
    ),
)


@dataclass
class CheckResult:
    """The outcome of one check on one (kind, configuration).

    Attributes
    ----------
    check : str
        Name of the check (``"class_share[3]"`` for class 3).
    kind, config : str
    verdict : {"pass", "fail", "skip", "pending"}
        ``pending`` is a statistical check before the runner's Holm step.
    exact : bool
        True for checks of a property that holds for every correct output.
    statistic : float or None
        The test statistic (the number of violations for an exact check).
    pvalue : float or None
        None for exact checks.
    level : float
        The level the p-value was compared with (0 for exact checks).
    draws : int
        Draws (positions) the check looked at.
    detectable : float or None
        Smallest absolute shift of a class share the check detects with power 0.999 at its
        level (share 1/2, the worst case); 0 for exact checks (any single violation).
    detail : str
        Human-readable explanation; for a failure, the first offending example.
    """

    check: str
    kind: str
    config: str
    verdict: str
    exact: bool
    statistic: float | None = None
    pvalue: float | None = None
    level: float = 0.0
    draws: int = 0
    detectable: float | None = None
    detail: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable dict (infinite statistics become ``"inf"``)."""
        out = asdict(self)
        for key in ("statistic", "pvalue"):
            value = out[key]
            if isinstance(value, float) and not np.isfinite(value):
                out[key] = str(value)
        return out


def _exact(
    check: str, kind: str, config: str, violations: int, draws: int, detail: str
) -> CheckResult:
    return CheckResult(
        check,
        kind,
        config,
        "pass" if violations == 0 else "fail",
        exact=True,
        statistic=float(violations),
        draws=draws,
        detectable=0.0,
        detail=detail,
    )


def _pending(
    check: str, kind: str, config: str, result: stats.ChiSquare | float, draws: int, detail: str
) -> CheckResult:
    if isinstance(result, stats.ChiSquare):
        statistic, pvalue = result.statistic, result.pvalue
        detail = f"{detail}; {result.dof} dof" if result.dof else detail
    else:
        statistic, pvalue = None, float(result)
    return CheckResult(
        check,
        kind,
        config,
        "pending",
        exact=False,
        statistic=statistic,
        pvalue=float(pvalue),
        draws=int(draws),
        detail=detail,
    )


# -- shape, range, determinism -------------------------------------------------------------


def as_batch_array(batches: Any, batch_size: int) -> tuple[IntMatrix | None, list[int], str]:
    """Materialise an implementation's batches.

    Returns
    -------
    array : numpy.ndarray of int64, shape (n, batch_size), or None
        None when the batches are ragged, have the wrong size, or are not integers.
    sizes : list of int
        The length of every batch.
    problem : str
        Why ``array`` is None ("" otherwise).
    """
    rows = [np.asarray(b).reshape(-1) for b in batches]
    sizes = [int(r.size) for r in rows]
    if not rows:
        return np.zeros((0, batch_size), dtype=np.int64), sizes, ""
    if any(s != batch_size for s in sizes):
        return None, sizes, "batches of the wrong size"
    array = np.stack(rows)
    if array.dtype == np.bool_ or not np.issubdtype(array.dtype, np.integer):
        if np.issubdtype(array.dtype, np.floating) and np.array_equal(array, np.round(array)):
            return array.astype(np.int64), sizes, ""
        return None, sizes, f"positions of dtype {array.dtype}, not integers"
    return array.astype(np.int64), sizes, ""


def shape_check(
    kind: str, config: Config, sizes: list[int], n_batches: int, problem: str
) -> CheckResult:
    """Exactly ``n_batches`` batches of exactly ``batch_size`` integer positions."""
    bad_sizes = [i for i, s in enumerate(sizes) if s != config.batch_size]
    violations = abs(len(sizes) - n_batches) + len(bad_sizes)
    if problem and not bad_sizes:
        violations += 1
    detail = f"{len(sizes)} batches (want {n_batches}) of {config.batch_size}"
    if bad_sizes:
        detail += f"; batch {bad_sizes[0]} has {sizes[bad_sizes[0]]} positions"
    if problem:
        detail += f"; {problem}"
    return _exact("batch_shape", kind, config.name, violations, sum(sizes), detail)


def range_check(kind: str, config: Config, batches: IntMatrix, size: int) -> CheckResult:
    """Every position is in ``0 .. N-1``."""
    bad = (batches < 0) | (batches >= size)
    detail = f"positions in 0..{size - 1}"
    if bad.any():
        detail += f"; got {int(batches[bad][0])}"
    return _exact("positions_in_range", kind, config.name, int(bad.sum()), batches.size, detail)


def labels_check(
    kind: str, config: Config, original: IntVector, after: IntVector, draws: int
) -> CheckResult:
    """The caller's labels array is unchanged after the call."""
    changed = int(np.count_nonzero(original != after)) if original.shape == after.shape else 1
    return _exact(
        "labels_unchanged", kind, config.name, changed, draws, f"{changed} labels modified"
    )


def determinism_checks(
    kind: str, config: Config, first: IntMatrix, again: IntMatrix, other: IntMatrix
) -> list[CheckResult]:
    """The same seed gives the same batches; a different seed gives different batches."""
    same = int(np.count_nonzero(first != again)) if first.shape == again.shape else first.size
    differ = first.shape == other.shape and bool(np.array_equal(first, other))
    return [
        _exact(
            "same_seed_same_batches",
            kind,
            config.name,
            same,
            first.size,
            f"{same} positions differ between two runs with one seed",
        ),
        _exact(
            "other_seed_other_batches",
            kind,
            config.name,
            int(differ),
            first.size,
            "seed s and s + 1 give " + ("identical" if differ else "different") + " batches",
        ),
    ]


# -- fixed and quota: counts ---------------------------------------------------------------


def per_batch_counts(batches: IntMatrix, labels: IntVector, num_classes: int) -> IntMatrix:
    """Class counts of every batch, shape (n, K)."""
    n = batches.shape[0]
    flat = np.arange(n)[:, None] * num_classes + labels[batches]
    return np.bincount(flat.ravel(), minlength=n * num_classes).reshape(n, num_classes)


def counted_checks(
    kind: str, config: Config, counts: IntMatrix, target: FloatVector
) -> list[CheckResult]:
    """Exact count properties of the fixed and quota kinds."""
    batch = config.batch_size
    quota = batch * target
    low, high = np.floor(quota + _EPS), np.ceil(quota - _EPS)
    draws = int(counts.sum())
    n = counts.shape[0]
    outside = (counts < low) | (counts > high)
    detail = f"every count in floor/ceil of B*p = {np.round(quota, 3).tolist()}"
    if outside.any():
        k, c = np.argwhere(outside)[0]
        detail += f"; batch {k} has {counts[k, c]} of class {c}"
    results = [_exact("counts_within_quota", kind, config.name, int(outside.sum()), draws, detail)]
    if kind == "fixed":
        differing = int(np.count_nonzero(np.any(counts != counts[:1], axis=1))) if n else 0
        results.append(
            _exact(
                "same_counts_every_batch",
                kind,
                config.name,
                differing,
                draws,
                f"{differing} batches differ from batch 0's counts "
                f"{counts[0].tolist() if n else []}",
            )
        )
        missing = (counts == 0) & (target > 0)
        results.append(
            _exact(
                "positive_classes_present",
                kind,
                config.name,
                int(missing.any(axis=1).sum()),
                draws,
                "every class with a positive target in every batch"
                + (f"; class {int(np.argwhere(missing)[0][1])} missing" if missing.any() else ""),
            )
        )
    else:
        error = np.abs(np.cumsum(counts, axis=0) - np.arange(1, n + 1)[:, None] * quota)
        worst = float(error.max()) if error.size else 0.0
        drift = int(np.count_nonzero(error >= 1 - _EPS))
        results.append(
            _exact(
                "prefix_error_below_1",
                kind,
                config.name,
                drift,
                draws,
                f"max |cumulative - k*B*p| = {worst:.3f}",
            )
        )
    return results


def cycle_checks(
    kind: str, config: Config, batches: IntMatrix, labels: IntVector
) -> list[CheckResult]:
    """Within a class, members are drawn in cycles without replacement; cycles are reshuffled.

    Notes
    -----
    Batches are shuffled internally, so a draw's place in its class's stream is known only up
    to the batch: the interval ``[C_k, C_k + a_k)`` of stream positions of batch ``k``. The
    ``j``-th occurrence of a member must lie in cycle ``j``, i.e. its batch interval must meet
    ``[j n_c, (j + 1) n_c)``; this is exact and holds for every correct output.

    Two consecutive cycles are *repeated* when every member's offset interval in cycle ``j``
    meets its interval in cycle ``j + 1``, which a repeated permutation always satisfies. For a
    fresh permutation of ``n_c >= 16`` members with at most ``n_c / 8`` of them per batch the
    chance of that is below ``(1/4) ** n_c``, so the check is treated as exact.
    """
    n, _ = batches.shape
    num_classes = config.num_classes
    class_of = labels[batches]
    counts = per_batch_counts(batches, labels, num_classes)
    before = np.cumsum(counts, axis=0) - counts  # stream position of each batch's first draw
    reuse_violations, repeated_pairs, observable_pairs = 0, 0, 0
    reuse_detail, repeat_detail = "", ""
    batch_of = np.broadcast_to(np.arange(n)[:, None], batches.shape)
    for c in range(num_classes):
        size = int(config.class_counts[c])
        mask = class_of == c
        members = batches[mask]  # row-major: batch order
        if members.size == 0:
            continue
        rows = batch_of[mask]
        start, stop = before[rows, c], before[rows, c] + counts[rows, c]
        order = np.argsort(members, kind="stable")
        sorted_members = members[order]
        first = np.r_[True, sorted_members[1:] != sorted_members[:-1]]
        group_start = np.maximum.accumulate(np.where(first, np.arange(first.size), 0))
        occurrence = np.empty(members.size, dtype=np.int64)
        occurrence[order] = np.arange(members.size) - group_start
        # Interval [start, stop) must meet [occurrence * size, (occurrence + 1) * size).
        bad = (stop <= occurrence * size) | (start >= (occurrence + 1) * size)
        if bad.any():
            reuse_violations += int(bad.sum())
            if not reuse_detail:
                i = int(np.flatnonzero(bad)[0])
                reuse_detail = (
                    f"; class {c}: position {int(members[i])} drawn for the "
                    f"{int(occurrence[i]) + 1}th time in batch {int(rows[i])}, "
                    f"before its cycle of {size} ended"
                )
        per_batch_max = int(counts[:, c].max())
        complete_cycles = int(counts[:, c].sum()) // size
        if size < 16 or per_batch_max * 8 > size or complete_cycles < 2 or bad.any():
            continue
        # Offset interval of every member in every complete cycle: (cycle, member) tables.
        in_cycles = occurrence < complete_cycles
        member_rank = np.searchsorted(np.unique(members), members)
        if member_rank.max() + 1 != size:
            continue  # some member never drawn: already a reuse violation or not observable
        low = np.full((complete_cycles, size), -1, dtype=np.int64)
        high = np.full((complete_cycles, size), -1, dtype=np.int64)
        cyc, rank = occurrence[in_cycles], member_rank[in_cycles]
        low[cyc, rank] = start[in_cycles] - cyc * size
        high[cyc, rank] = stop[in_cycles] - cyc * size
        meets = (low[1:] < high[:-1]) & (low[:-1] < high[1:])
        repeats = meets.all(axis=1)
        observable_pairs += repeats.size
        repeated_pairs += int(repeats.sum())
        if repeats.any() and not repeat_detail:
            repeat_detail = (
                f"; class {c}: cycle {int(np.argmax(repeats)) + 1} repeats cycle "
                + str(int(np.argmax(repeats)))
            )
    draws = int(batches.size)
    return [
        _exact(
            "without_replacement_in_cycle",
            kind,
            config.name,
            reuse_violations,
            draws,
            "no member drawn twice before its class's cycle ends" + reuse_detail,
        ),
        _exact(
            "cycles_reshuffled",
            kind,
            config.name,
            repeated_pairs,
            draws,
            f"{repeated_pairs} of {observable_pairs} observable consecutive cycle pairs repeated"
            + repeat_detail,
        ),
    ]


# -- statistical ---------------------------------------------------------------------------


def exchangeability_check(
    kind: str, config: Config, batches: IntMatrix, labels: IntVector
) -> CheckResult:
    """A class's positions inside a batch are exchangeable: slot and class are independent.

    Under a uniform within-batch shuffle, the slot of every draw is uniform given the batch's
    counts; :func:`~refsampler.conformance.stats.exchangeability` tests the (slot, class)
    table with the chi-square statistic rescaled for fixed per-batch counts.
    """
    batch = batches.shape[1]
    k = config.num_classes
    cells = np.arange(batch)[None, :] * k + labels[batches]
    table = np.bincount(cells.ravel(), minlength=batch * k).reshape(batch, k)
    result = stats.exchangeability(table, per_batch_counts(batches, labels, k))
    return _pending(
        "within_batch_exchangeable",
        kind,
        config.name,
        result,
        batches.size,
        "slot in batch independent of class",
    )


def random_checks(
    kind: str, config: Config, batches: IntMatrix, labels: IntVector, target: FloatVector
) -> list[CheckResult]:
    """The statistical tests of the random kind (i.i.d. two-stage draws)."""
    name, batch = config.name, config.batch_size
    classes = labels[batches]
    draws = int(batches.size)
    k = config.num_classes
    totals = np.bincount(classes.ravel(), minlength=k)
    results = [
        _pending(
            "class_shares",
            kind,
            name,
            stats.chisquare_shares(totals, target),
            draws,
            "omnibus chi-square of class counts against the target",
        )
    ]
    for c in range(k):
        results.append(
            _pending(
                f"class_share[{c}]",
                kind,
                name,
                stats.binomial_share(int(totals[c]), draws, float(target[c])),
                draws,
                f"binomial: {int(totals[c])} of {draws} draws, expected share {target[c]:.4f}",
            )
        )
    counts = per_batch_counts(batches, labels, k)
    for c in range(k):
        results.append(
            _pending(
                f"per_batch_dispersion[{c}]",
                kind,
                name,
                stats.per_batch_dispersion(counts[:, c], batch, float(target[c])),
                draws,
                f"per-batch counts of class {c} ~ Binomial({batch}, {target[c]:.4f})",
            )
        )
    flat = classes.ravel()
    pairs = flat[: flat.size // 2 * 2].reshape(-1, 2)
    pair_cells = np.bincount(pairs[:, 0] * k + pairs[:, 1], minlength=k * k)
    results.append(
        _pending(
            "serial_draws",
            kind,
            name,
            stats.chisquare_shares(pair_cells, np.outer(target, target).ravel()),
            draws,
            "classes of consecutive draws (disjoint pairs) independent",
        )
    )
    top = int(np.argmax(target))
    pmf = np.asarray(_binom_pmf(batch, float(target[top])))
    batch_pairs = counts[: counts.shape[0] // 2 * 2, top].reshape(-1, 2)
    batch_cells = np.bincount(
        batch_pairs[:, 0] * (batch + 1) + batch_pairs[:, 1], minlength=(batch + 1) ** 2
    )
    results.append(
        _pending(
            "serial_batches",
            kind,
            name,
            stats.chisquare_shares(batch_cells, np.outer(pmf, pmf).ravel()),
            draws,
            f"counts of class {top} in consecutive batches (disjoint pairs) independent",
        )
    )
    hits = np.bincount(batches.ravel(), minlength=labels.size)
    results.append(
        _pending(
            "within_class_uniform",
            kind,
            name,
            stats.within_group_uniformity(hits, labels),
            draws,
            "members drawn uniformly within their class",
        )
    )
    return results


def _binom_pmf(batch: int, share: float) -> FloatVector:
    from scipy import stats as scipy_stats

    pmf = scipy_stats.binom.pmf(np.arange(batch + 1), batch, share)
    return np.asarray(pmf / pmf.sum(), dtype=np.float64)


def statistical_count(kind: str, config: Config) -> int:
    """How many statistical assertions :func:`random_checks` and the exchangeability check make."""
    if kind == "random":
        return 1 + 2 * config.num_classes + 2 + 1 + 1
    return 1
