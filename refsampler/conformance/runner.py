"""``verify``: run every check of the kit against one implementation.

Sample sizes
------------
A run makes ``m`` statistical assertions (:func:`planned_assertions`) and decides them with
Holm's procedure at the family-wise level :data:`~refsampler.conformance.stats.FAMILY_LEVEL`
(1e-6). Holm never compares a p-value with less than ``FAMILY_LEVEL / m``, so a test that has
power 0.999 at that Bonferroni level keeps it inside Holm. At ``level="full"`` the random kind
draws :func:`~refsampler.conformance.stats.draws_for_family` ``(m)`` positions per
configuration: the normal-approximation sample size of a two-sided binomial test of a share of
1/2 (the largest variance, so the worst case) against a shift of one percentage point, at
level ``FAMILY_LEVEL / m`` and power 0.999. Every per-class binomial test therefore detects a
1-point shift of any class share with power >= 0.999. ``level="quick"`` draws
:data:`QUICK_DRAWS` and reports the (larger) shift it detects. The fixed and quota kinds are
checked exactly; their draw counts only need enough cycles and batches for the cycle and
exchangeability checks.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from .. import _validate
from ..errors import InvalidArgumentError
from . import checks, stats
from .checks import CONFIGS, KINDS, CheckResult, Config
from .report import Report

__all__ = ["LEVELS", "QUICK_DRAWS", "planned_assertions", "verify"]

LEVELS = ("quick", "full")
#: Draws per configuration of the random kind at ``level="quick"``.
QUICK_DRAWS = 1 << 16
#: Draws per configuration of the fixed and quota kinds, per level.
COUNTED_DRAWS = {"quick": 1 << 14, "full": 1 << 16}
#: Batches of the small runs that check determinism.
DETERMINISM_BATCHES = 32

Progress = Callable[[str], None]


def planned_assertions(kinds: Iterable[str], configs: Iterable[Config] = CONFIGS) -> int:
    """Statistical assertions of a run over ``kinds`` (the size of its Holm family)."""
    selected = tuple(kinds)
    return sum(
        checks.statistical_count(kind, config)
        for config in configs
        for kind in selected
        if kind in config.kinds
    )


def _draws(kind: str, level: str, n_assertions: int) -> int:
    if kind != "random":
        return COUNTED_DRAWS[level]
    if level == "quick":
        return QUICK_DRAWS
    return stats.draws_for_family(n_assertions)


def _run_seed(seed: int, config_index: int, kind: str) -> int:
    state = np.random.SeedSequence([seed, config_index, KINDS.index(kind)]).generate_state(1)
    return int(state[0])


def _call(
    adapter: Any, labels: Any, kind: str, alpha: float, batch_size: int, n_batches: int, seed: int
) -> Any:
    return list(
        adapter(
            labels,
            kind=kind,
            alpha=alpha,
            batch_size=batch_size,
            n_batches=n_batches,
            seed=seed,
        )
    )


def verify(
    adapter: Callable[..., Iterable[Any]],
    *,
    kinds: Iterable[str] = KINDS,
    level: str = "quick",
    seed: int = 0,
    configs: Iterable[Config] = CONFIGS,
    progress: Progress | None = None,
    name: str | None = None,
) -> Report:
    """Check an implementation of the adapter protocol against the contract.

    Parameters
    ----------
    adapter : callable
        ``make_batches(labels, *, kind, alpha, batch_size, n_batches, seed)``; see
        :mod:`refsampler.conformance.adapters` (``adapters.load`` reaches other APIs).
    kinds : iterable of {"fixed", "quota", "random"}
        The kinds to check.
    level : {"quick", "full"}
        ``full`` draws enough for power 0.999 against a 1-point share shift.
    seed : int
        Base seed; every (configuration, kind) gets its own seed derived from it.
    configs : iterable of Config
        The configurations (default :data:`~refsampler.conformance.checks.CONFIGS`).
    progress : callable, optional
        Called with a short message before each step.
    name : str, optional
        How the report names the implementation.

    Returns
    -------
    Report
        ``report.conforms`` is False if any check failed. The statistical checks share a
        family-wise false-alarm rate of at most ``FAMILY_LEVEL`` (Holm).

    Raises
    ------
    InvalidArgumentError
        For an unknown kind or level, or a negative seed.

    Examples
    --------
    >>> from refsampler.conformance import verify
    >>> from refsampler.conformance.mutants import control
    >>> verify(control, kinds=["fixed"]).conforms
    True
    """
    selected = tuple(kinds)
    for kind in selected:
        if kind not in KINDS:
            raise _validate.fail("kinds", 'must hold only "fixed", "quota", "random"', selected)
    if not selected:
        raise InvalidArgumentError("`kinds` must not be empty; got ().")
    if level not in LEVELS:
        raise _validate.fail("level", 'must be "quick" or "full"', level)
    seed = _validate.non_negative_int("seed", seed)
    configs = tuple(configs)
    say = progress or (lambda message: None)
    started = time.perf_counter()
    m = max(planned_assertions(selected, configs), 1)
    report = Report(
        implementation=name or str(getattr(adapter, "__qualname__", repr(adapter))),
        kinds=selected,
        level=level,
        seed=seed,
        family_level=stats.FAMILY_LEVEL,
    )
    for kind in (k for k in KINDS if k in selected):
        for index, config in enumerate(configs):
            if kind not in config.kinds:
                continue
            n_batches = -(-_draws(kind, level, m) // config.batch_size)
            say(f"{kind:<6} {config.name:<13} {n_batches} batches of {config.batch_size}")
            outcome = _check_one(adapter, kind, config, n_batches, _run_seed(seed, index, kind))
            if isinstance(outcome, str):
                report.skipped[kind] = outcome
                say(f"{kind:<6} skipped: {outcome}")
                break
            report.results.extend(outcome)
    _decide(report.results, m)
    report.n_statistical = sum(not r.exact for r in report.results)
    report.seconds = round(time.perf_counter() - started, 3)
    return report


def _decide(results: list[CheckResult], planned: int) -> None:
    """Holm over all statistical results; level and detectable shift recorded per check."""
    pending = [r for r in results if r.verdict == "pending"]
    if not pending:
        return
    rejected, levels = stats.holm([r.pvalue for r in pending], stats.FAMILY_LEVEL)
    floor = stats.FAMILY_LEVEL / max(planned, len(pending))
    for result, reject, test_level in zip(pending, rejected, levels, strict=True):
        result.verdict = "fail" if reject else "pass"
        result.level = float(test_level)
        result.detectable = stats.detectable_shift(result.draws, level=floor)


def _check_one(
    adapter: Any, kind: str, config: Config, n_batches: int, seed: int
) -> list[CheckResult] | str:
    """All checks of one (kind, configuration); a string means the kind is not implemented."""
    labels = config.labels()
    target = config.target()
    given = labels.copy()
    try:
        raw = _call(adapter, given, kind, config.alpha, config.batch_size, n_batches, seed)
    except NotImplementedError as exc:
        return f"NotImplementedError: {exc}" if str(exc) else "NotImplementedError"
    except Exception as exc:
        return [
            CheckResult(
                "runs",
                kind,
                config.name,
                "fail",
                exact=True,
                statistic=1.0,
                detectable=0.0,
                detail=f"raised {type(exc).__name__}: {exc}",
            )
        ]
    batches, sizes, problem = checks.as_batch_array(raw, config.batch_size)
    results = [checks.shape_check(kind, config, sizes, n_batches, problem)]
    results.append(checks.labels_check(kind, config, labels, given, sum(sizes)))
    if batches is None:
        return results
    in_range = checks.range_check(kind, config, batches, labels.size)
    results.append(in_range)
    if in_range.verdict == "fail":
        return results
    results.extend(_determinism(adapter, kind, config, seed, labels))
    if kind == "random":
        results.extend(checks.random_checks(kind, config, batches, labels, target))
    else:
        counts = checks.per_batch_counts(batches, labels, config.num_classes)
        results.extend(checks.counted_checks(kind, config, counts, target))
        results.extend(checks.cycle_checks(kind, config, batches, labels))
    results.append(checks.exchangeability_check(kind, config, batches, labels))
    return results


def _determinism(
    adapter: Any, kind: str, config: Config, seed: int, labels: Any
) -> list[CheckResult]:
    runs = []
    for run_seed in (seed, seed, seed + 1):
        raw = _call(
            adapter,
            labels.copy(),
            kind,
            config.alpha,
            config.batch_size,
            DETERMINISM_BATCHES,
            run_seed,
        )
        array, _, _ = checks.as_batch_array(raw, config.batch_size)
        runs.append(array if array is not None else np.zeros((0, config.batch_size), np.int64))
    return checks.determinism_checks(kind, config, *runs)
