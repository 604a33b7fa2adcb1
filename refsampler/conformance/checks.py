"""The checks every kind gets: the call ran, batch shapes, positions, inputs, determinism.

Every check returns :class:`~refsampler.conformance.results.CheckResult` records. Exact
checks (``exact=True``) count violations of a property that the contract promises for every
output, so they never raise a false alarm (``level = 0``). Statistical checks carry a p-value;
the runner (:func:`refsampler.conformance.verify`) decides them together with Holm's procedure
so the family-wise false-alarm rate of a whole run stays at most its ``family_level``. The
checks of each contract property live in their own module (:mod:`.counts`, :mod:`.cycles`,
:mod:`.order`, :mod:`.mixing`, :mod:`.iid`); :mod:`.properties` maps properties to them.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from . import stats
from .positions import as_array as _as_array
from .positions import batch_positions
from .positions import malformed as _malformed
from .results import CheckResult
from .sample import Sample, Setting

__all__ = [
    "BASE_CHECKS",
    "FAR_SEED_BITS",
    "FOLD_STEP",
    "REPEAT_CHANCE",
    "as_batch_array",
    "batch_positions",
    "determinism_checks",
    "exact",
    "far_seed_names",
    "far_seeds",
    "inputs_check",
    "log10_repeat_chance",
    "pending",
    "range_check",
    "runs_check",
    "shape_check",
]

IntVector = npt.NDArray[np.int64]
IntMatrix = npt.NDArray[np.int64]

#: The checks of every (kind, configuration), in report order.
BASE_CHECKS = (
    "runs",
    "batch_shape",
    "positions_in_range",
    "inputs_unchanged",
    "same_seed_same_batches",
    "other_seed_other_batches",
    "far_seed_other_batches",
)

#: The far seeds of a run's seed ``s`` include ``s XOR 2**b`` for these bits ``b``: a sampler
#: that keeps only the low 16 (or 30) bits of its seed gives the same batches for ``s`` and one
#: of them. XOR keeps a 31-bit run seed below ``2**31``, which any 32-bit seed API (signed or
#: unsigned, e.g. numpy's legacy ``RandomState``) accepts.
FAR_SEED_BITS = (16, 30)

#: The last far seed is ``s + FOLD_STEP`` (``s - FOLD_STEP`` where that would reach
#: ``2**31``): ``2**5 * 3**3 * 5**4 * 7 * 11 * 13``, a multiple of every modulus up to 16 and
#: of 100, 1000 and 10**4, so a sampler that folds its seed modulo any of them (``seed %
#: 1000``) gives the same batches for the two seeds.
FOLD_STEP = 540_540_000

#: Two seeds' batches that differ only in the order of the batches (their multiset of batch
#: contents is the same) fail only where a correct sampler repeats that multiset with an
#: estimated chance below this (see :func:`determinism_checks`).
REPEAT_CHANCE = 1e-30


def exact(
    check: str,
    setting: Setting,
    violations: int,
    draws: int,
    detail: str,
    *,
    expected: Any = None,
    observed: Any = None,
) -> CheckResult:
    """The result of an exact check: pass iff there is no violation."""
    return CheckResult(
        check,
        setting.kind,
        setting.config.name,
        "pass" if violations == 0 else "fail",
        exact=True,
        statistic=float(violations),
        draws=int(draws),
        expected=expected,
        observed=observed,
        detail=detail,
    )


def pending(
    check: str,
    setting: Setting,
    outcome: stats.ChiSquare | stats.ZScore | float,
    draws: int,
    detail: str,
    *,
    detects: str = "w",
    words: tuple[str, str] = ("too spread", "too even"),
    expected: Any = None,
    observed: Any = None,
    lower_tail: bool = True,
) -> CheckResult:
    """A statistical result awaiting the runner's Holm decision.

    ``words`` name the high and the low tail for this check; ``detects`` the unit of its
    smallest detectable deviation (filled in by the runner, which knows the level).
    ``lower_tail=False`` marks a statistic whose upper tail already covers both directions
    (the detail then does not say the lower tail was left out).
    """
    statistic: float | None
    dof: int | None = None
    direction = ""
    if isinstance(outcome, stats.ChiSquare):
        statistic, pvalue, dof = outcome.statistic, outcome.pvalue, outcome.dof
        direction = outcome.direction
        expected = outcome.expected if expected is None else expected
        observed = outcome.observed if observed is None else observed
        if not outcome.two_sided and detects == "w" and lower_tail:
            detail += " (upper tail only: too few draws to judge too-even)"
    elif isinstance(outcome, stats.ZScore):
        statistic, pvalue = outcome.statistic, outcome.pvalue
        direction = outcome.direction
        expected = round(outcome.expected, 3) if expected is None else expected
        observed = outcome.observed if observed is None else observed
    else:
        statistic, pvalue = None, float(outcome)
    word = {"high": words[0], "low": words[1]}.get(direction, "")
    return CheckResult(
        check,
        setting.kind,
        setting.config.name,
        "pending",
        exact=False,
        statistic=statistic,
        dof=dof,
        pvalue=float(pvalue),
        draws=int(draws),
        detects=detects,
        expected=expected,
        observed=observed,
        direction=word,
        detail=detail,
    )


def as_batch_array(batches: Any, batch_size: int) -> tuple[IntMatrix | None, list[int], str]:
    """Materialise an implementation's batches.

    Every batch must be what :func:`batch_positions` accepts: a flat sequence of integer
    positions. A nested batch is refused although its values could be flattened into
    ``batch_size`` positions, and so are float positions, whole or not: a ``DataLoader``
    indexes the dataset with the batch as it is.

    Returns
    -------
    array : numpy.ndarray of int64, shape (n, batch_size), or None
        None when a batch is refused, or the batches are ragged or of the wrong size.
    sizes : list of int
        The number of values in every batch (of all its dimensions).
    problem : str
        Why ``array`` is None, naming the first offending batch ("" otherwise).
    """
    try:
        items = list(batches)
    except TypeError as exc:
        return None, [], f"the batches are not a sequence of batches ({exc})"
    # The common case in one call: numpy reads the batches as one integer matrix only when
    # each is a flat sequence of integers of the same length, or of bools, which it reads as
    # 0 and 1 beside integers (a batch of bools alone is refused), so the batches of 0s and
    # 1s are also read alone. Anything else is read batch by batch, which names the first
    # offending batch.
    whole, _ = _as_array(items) if items else (None, "")
    if whole is not None and whole.ndim == 2 and whole.shape[1] == batch_size:
        binary = np.flatnonzero(((whole == 0) | (whole == 1)).all(axis=1)).tolist()
        alone = (_as_array(items[k])[0] for k in binary)
        if not _malformed(whole[0]) and all(a is not None and not _malformed(a) for a in alone):
            return whole.astype(np.int64), [batch_size] * len(items), ""
    arrays, sizes, refused = [], [], []
    for k, batch in enumerate(items):
        array, problem = _as_array(batch)
        if array is None:
            try:
                sizes.append(len(batch))
            except TypeError:
                sizes.append(0)
        else:
            arrays.append(array)
            sizes.append(int(array.size))
            problem = _malformed(array)
        if problem:
            refused.append(f"batch {k} {problem}")
    if refused:
        more = f" ({len(refused) - 1} more batches refused)" if len(refused) > 1 else ""
        return None, sizes, refused[0] + more
    if not arrays:
        return np.zeros((0, batch_size), dtype=np.int64), sizes, ""
    if any(s != batch_size for s in sizes):
        return None, sizes, "batches of the wrong size"
    return np.stack(arrays).astype(np.int64), sizes, ""


def runs_check(setting: Setting, problem: str) -> CheckResult:
    """The implementation returned batches (no exception, no timeout)."""
    detail = problem or "returned without an exception"
    return exact("runs", setting, int(bool(problem)), 0, detail)


def shape_check(setting: Setting, sizes: list[int], n_batches: int, problem: str) -> CheckResult:
    """Exactly ``n_batches`` batches of exactly ``batch_size`` integer positions.

    ``expected`` and ``observed`` are ``[batches, positions per batch]``; where those agree
    and a batch was refused for its form (nested, floats, a single value), they say so
    instead: the form wanted, and the refused batch's ``problem``.
    """
    batch = setting.config.batch_size
    bad_sizes = [i for i, s in enumerate(sizes) if s != batch]
    violations = abs(len(sizes) - n_batches) + len(bad_sizes)
    if problem and not bad_sizes:
        violations += 1
    detail = f"{len(sizes)} batches (want {n_batches}) of {batch}"
    if bad_sizes:
        detail += f"; batch {bad_sizes[0]} has {sizes[bad_sizes[0]]} positions"
    if problem:
        detail += f"; {problem}"
    expected: Any = [n_batches, batch]
    observed: Any = [len(sizes), sizes[bad_sizes[0]] if bad_sizes else batch]
    if problem and observed == expected:  # the numbers are right: the batches' form is not
        expected = f"{n_batches} batches, each a flat sequence of {batch} integer positions"
        observed = problem
    return exact(
        "batch_shape",
        setting,
        violations,
        sum(sizes),
        detail,
        expected=expected,
        observed=observed,
    )


def range_check(setting: Setting, batches: IntMatrix, size: int) -> CheckResult:
    """Every position is in ``0 .. N-1``."""
    bad = (batches < 0) | (batches >= size)
    detail = f"positions in 0..{size - 1}"
    if bad.any():
        detail += f"; got {int(batches[bad][0])}"
    return exact("positions_in_range", setting, int(bad.sum()), batches.size, detail)


def inputs_check(setting: Setting, problems: list[str], draws: int) -> CheckResult:
    """The caller's inputs (labels, or the factory's class lists) are unchanged, both after
    the implementation was built and after its batches were read, and so are the global
    random generators (Python's, numpy's legacy one, torch's): a seeded sampler that seeds
    or draws from them resets its caller's randomness."""
    detail = (
        "; ".join(problems)
        if problems
        else "labels (and class lists) and the global random states left as they were"
    )
    return exact("inputs_unchanged", setting, len(problems), draws, detail)


def far_seeds(seed: int) -> list[int]:
    """The far seeds of ``seed``: ``seed XOR 2**b`` for every ``b`` in :data:`FAR_SEED_BITS`,
    then ``seed + FOLD_STEP`` (or ``seed - FOLD_STEP``, keeping a 31-bit seed below
    ``2**31``; see :data:`FOLD_STEP`).

    Parameters
    ----------
    seed : int
        A run's seed (non-negative).

    Returns
    -------
    list of int
        The far seeds, in the order of :func:`far_seed_names`.

    Examples
    --------
    >>> from refsampler.conformance.checks import far_seeds
    >>> far_seeds(5)
    [65541, 1073741829, 540540005]
    """
    seed = int(seed)
    folded = seed + FOLD_STEP if seed + FOLD_STEP < 1 << 31 else seed - FOLD_STEP
    return [seed ^ (1 << bit) for bit in FAR_SEED_BITS] + [folded]


def far_seed_names(seed: int) -> list[str]:
    """How reports name the far seeds of ``seed`` (:func:`far_seeds`), relative to ``s``.

    Parameters
    ----------
    seed : int
        A run's seed (non-negative).

    Returns
    -------
    list of str
        ``"s XOR 2**b"`` for every bit, then ``"s + 540540000"`` or ``"s - 540540000"``.

    Examples
    --------
    >>> from refsampler.conformance.checks import far_seed_names
    >>> far_seed_names(5)
    ['s XOR 2**16', 's XOR 2**30', 's + 540540000']
    """
    folded = far_seeds(seed)[-1]
    sign = "+" if folded > seed else "-"
    return [f"s XOR 2**{bit}" for bit in FAR_SEED_BITS] + [f"s {sign} {FOLD_STEP}"]


def _contents(batches: IntMatrix) -> IntMatrix:
    """Every batch sorted: what it holds, not in which order."""
    return np.sort(batches, axis=1)


def log10_repeat_chance(batches: IntMatrix) -> float:
    """log10 of the estimated chance that another seed repeats the multiset of ``batches``'
    contents.

    The estimate treats the batches as independent draws from the distribution of contents
    seen in ``batches`` themselves: the chance that two multinomial count vectors of ``n``
    draws agree, computed for Poisson counts (``prod_c e^-2l I0(2l)``, ``l`` the count of one
    content) and divided by the chance that two Poisson(``n``) totals agree. A correct sampler
    draws from more contents than one run shows, which only lowers the true chance; batches
    that depend on each other (cycles) can raise it, by about 10**2.5 for a single class of 3
    members in batches of 4 (estimate 10**-5.9, observed 10**-3.5), far less than the margin
    between :data:`REPEAT_CHANCE` and the estimates of the kit's other configurations
    (about 10**-129 for 256 batches, all different).

    Parameters
    ----------
    batches : numpy.ndarray of int64, shape (n, batch_size)
        One run's batches.

    Returns
    -------
    float
        The log10 of the estimate, at most 0.
    """
    from scipy import special

    n = int(batches.shape[0])
    if n == 0:
        return 0.0
    _, counts = np.unique(_contents(batches), axis=0, return_counts=True)
    poisson = float(np.sum(np.log(special.i0e(2.0 * counts))))
    return (poisson - float(np.log(special.i0e(2.0 * n)))) / float(np.log(10.0))


def _same_contents(
    base: IntMatrix, other: IntMatrix, orders: bool, shared: bool, contents: bool = True
) -> str:
    """How ``other`` repeats ``base`` ("" when its contents differ).

    ``contents``: batches holding the same positions in another order count as a repeat
    (off where a correct sampler's batches could hold the same positions anyway).
    ``orders``: compare the multisets of batch contents (batch order ignored) too.
    ``shared``: any batch of ``other`` that ``base`` also holds, anywhere, is a repeat.
    """
    if base.shape != other.shape:
        return ""
    if np.array_equal(base, other):
        return "identical batches"
    if not contents:
        return ""
    mine, theirs = _contents(base), _contents(other)
    if np.array_equal(mine, theirs):
        return "the same batches, only the order inside each batch differs"
    if orders:
        order = np.lexsort(mine.T[::-1])
        if np.array_equal(mine[order], theirs[np.lexsort(theirs.T[::-1])]):
            return "the same batches, only their order (and the order inside them) differs"
    if shared and mine.size:
        _, inverse = np.unique(np.vstack([mine, theirs]), axis=0, return_inverse=True)
        inverse = inverse.reshape(-1)
        common = np.isin(inverse[len(mine) :], inverse[: len(mine)])
        if common.any():
            k = int(np.flatnonzero(common)[0])
            return (
                f"{int(common.sum())} of the {len(theirs)} batches seed s gives too (batch "
                f"{k} is one: a stream shifted, or seeded by seed + something)"
            )
    return ""


def _shared_negligible(setting: Setting, batches: int) -> bool:
    """Whether two seeds' runs of ``batches`` batches share one with a chance below the
    kit's repeat bound (the same pair bound as the sampler API's repeat checks)."""
    from .streams import REPEAT_BOUND, pair_repeat_bound

    return batches > 0 and pair_repeat_bound(setting) * batches * batches <= REPEAT_BOUND


def _log10_contents_chance(batches: IntMatrix) -> float:
    """log10 of the estimated chance that another seed gives every batch the same contents,
    batch by batch: the product of each batch's contents frequency in the run itself. Near 0
    where every batch must hold the same positions (the whole dataset, say), far below
    :data:`REPEAT_CHANCE` wherever contents vary (about 10**-52 for 256 batches of 3 possible
    contents)."""
    n = int(batches.shape[0])
    if n == 0:
        return 0.0
    _, inverse, counts = np.unique(
        _contents(batches), axis=0, return_inverse=True, return_counts=True
    )
    return float(np.sum(np.log10(counts[inverse.reshape(-1)] / n)))


def determinism_checks(sample: Sample) -> list[CheckResult]:
    """The same seed gives the same batches; other seeds give batches of other contents.

    ``same_seed_same_batches`` compares the whole main run with a second run of the same
    seed and length, position by position. ``other_seed_other_batches`` compares the run's
    seed ``s`` with ``s + 1`` and ``far_seed_other_batches`` with the far seeds
    (:func:`far_seeds`), on :attr:`~refsampler.conformance.sample.Setting.n_repeat` batches
    each: the other seed must change what the batches hold, not only their order. Two runs
    fail when they are identical, when every batch holds the same positions in another order,
    or when the two multisets of batch contents are equal (the batches in another order), or
    when the other seed gives a batch that seed ``s`` gives anywhere in its run (a stream
    shifted by the seed, as a generator seeded by ``seed + k`` for batch ``k`` makes it).
    That last comparison counts only where a correct sampler could not repeat the seed-``s``
    multiset by chance: where :func:`log10_repeat_chance` is below :data:`REPEAT_CHANCE`
    (every configuration of the kit but ``single-class``, whose batches of 4 from 3 members
    hold one of 6 contents). The batch-by-batch contents comparison counts where the run's
    own contents frequencies put the chance of a repeat below :data:`REPEAT_CHANCE`; where
    every batch must hold the same positions (the whole dataset, say) only positions in order
    are compared.
    The shared-batch comparison counts where the sampler API's pair bound
    (:func:`~refsampler.conformance.streams.pair_repeat_bound`) times the pairs compared stays
    below its :data:`~refsampler.conformance.streams.REPEAT_BOUND`.
    """
    setting, first, again, other = sample.setting, sample.first, sample.again, sample.other
    batches = sample.batches
    if batches.shape == again.shape:
        differ = batches != again
        same = int(np.count_nonzero(differ))
        rows = np.flatnonzero(differ.any(axis=1))
    else:
        same, rows = batches.size, np.zeros(1, dtype=np.int64)
    detail = f"{same} positions differ between two runs of {batches.shape[0]} batches with one seed"
    if same:
        detail += f"; the first in batch {int(rows[0])}"
    chance = log10_repeat_chance(first)
    orders = chance < np.log10(REPEAT_CHANCE)
    note = (
        ""
        if orders
        else f"; batch order not compared (another seed repeats these contents with a chance "
        f"of about 10**{chance:.1f})"
    )
    contents = _log10_contents_chance(first) < np.log10(REPEAT_CHANCE)
    orders = orders and contents
    if not contents:
        note = (
            "; only positions in order compared (a correct sampler's batches may hold the "
            "same positions under every seed here)"
        )
    shared = contents and _shared_negligible(setting, int(first.shape[0]))
    found = _same_contents(first, other, orders, shared, contents)
    far = list(sample.far)
    repeats = [(seed, _same_contents(first, run, orders, shared, contents)) for seed, run in far]
    repeats = [(seed, how) for seed, how in repeats if how]
    if not far:
        far_detail = "no run of a far seed to compare"
    elif repeats:
        far_detail = f"seed {repeats[0][0]} gives {repeats[0][1]}"
    else:
        far_detail = "seeds " + ", ".join(name for name, _ in far)
        far_detail += " give " + ("batches of other contents" if contents else "other batches")
    return [
        exact("same_seed_same_batches", setting, same, batches.size, detail),
        exact(
            "other_seed_other_batches",
            setting,
            int(bool(found)),
            first.size,
            "seeds s and s + 1 give "
            + (found or ("batches of other contents" if contents else "other batches"))
            + note,
        ),
        exact(
            "far_seed_other_batches",
            setting,
            len(repeats) + int(not far),
            sum(run.size for _, run in far),
            far_detail + (note if far else ""),
        ),
    ]
