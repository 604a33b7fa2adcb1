"""``parametrize_with_checks``: the kit's checks as pytest tests, one test per check.

Modelled on scikit-learn's ``parametrize_with_checks``::

    from refsampler.conformance import parametrize_with_checks

    @parametrize_with_checks(make_batches, kinds=("fixed",), level="quick")
    def test_my_sampler(check):
        check()

Every (kind, configuration, check) becomes one test with a readable id
(``fixed-long-tail-largest_remainder``); a failing check fails its test with the check's
message; a configuration the implementation declines skips its tests with the reason. The
checks are not run one by one: the first test to run computes the whole
:func:`~refsampler.conformance.verify` run (so the statistical checks stay in one Holm family)
and the others read their result from it. One more test per kind, ``<kind>-tested``, fails
when every configuration of the kind was declined (skipping everything is not a pass), or
when a check the run adds beyond the planned ones failed (the sampler API's epoch, rank and
resume checks, which depend on what the sampler turns out to support). The run's notes about
what it could not check (the sampler methods it did not find, a target a fresh process cannot
import) are raised as :class:`RunNote` warnings by the first kind's ``<kind>-tested`` test, so
that pytest's warnings summary shows them.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from .configs import Config
from .properties import PlannedCheck, plan
from .report import Report
from .stats import FAMILY_LEVEL

__all__ = [
    "CheckItem",
    "RunNote",
    "SharedRun",
    "checks_of",
    "items_for",
    "parametrize_with_checks",
]


class RunNote(UserWarning):
    """A note of the shared verify run about the run as a whole: which sampler methods it
    found (and so which checks it skipped), or that a check could not be planned."""


class SharedRun:
    """One :func:`~refsampler.conformance.verify` run, computed on first use and shared.

    Parameters
    ----------
    make_batches : callable or None
        The implementation; None when ``resolve`` supplies it at run time.
    resolve : callable, optional
        ``resolve() -> make_batches``, called once when the run starts (the pytest plugin
        uses it to read ``--refsampler-impl`` only when a check runs).
    **options
        Keyword arguments of :func:`~refsampler.conformance.verify`.
    """

    def __init__(
        self,
        make_batches: Callable[..., Any] | None,
        *,
        resolve: Callable[[], Callable[..., Any]] | None = None,
        **options: Any,
    ) -> None:
        self._make_batches = make_batches
        self._resolve = resolve
        self._options = options
        self._report: Report | None = None

    @property
    def report(self) -> Report:
        """The run's report (computed on first access)."""
        if self._report is None:
            from .runner import verify

            make_batches = self._make_batches
            if make_batches is None:
                if self._resolve is None:  # the constructor takes one or the other
                    raise TypeError("neither an implementation nor a way to load one")
                make_batches = self._resolve()
            self._report = verify(make_batches, **self._options)
        return self._report

    def covered(self) -> set[tuple[str, str, str]]:
        """``(kind, configuration, check)`` of every check that has a test item of its own."""
        from .configs import CONFIGS

        options = self._options
        configs = options.get("configs") or CONFIGS
        return {
            (c.kind, c.config, c.check)
            for c in checks_of(
                options["kinds"],
                configs,
                options.get("level", "quick"),
                options.get("family_level", FAMILY_LEVEL),
            )
        }


@dataclass(frozen=True)
class CheckItem:
    """One check of a shared run; calling it passes, fails or skips the current test.

    Attributes
    ----------
    run : SharedRun
    planned : PlannedCheck or None
        The check; None for the ``<kind>-tested`` item of ``kind``.
    kind : str
    """

    run: SharedRun
    planned: PlannedCheck | None
    kind: str

    @property
    def id(self) -> str:
        """The test id: ``kind-config-check``, or ``kind-tested``."""
        return self.planned.id if self.planned is not None else f"{self.kind}-tested"

    def __repr__(self) -> str:
        return self.id

    def __call__(self) -> None:
        """Run (or reuse) the shared verify run and report this check's outcome to pytest."""
        import pytest

        report = self.run.report
        if self.planned is None:
            if report.verdict(self.kind) == "not tested":
                pytest.fail(
                    next(line for line in report.verdict_lines() if line.startswith(self.kind)),
                    pytrace=False,
                )
            # Checks a run adds that no item stands for (the sampler API's epoch, rank and
            # resume checks) fail here, so that no failure of the run goes unreported.
            covered = self.run.covered()
            unplanned = [
                r
                for r in report.failures
                if r.kind == self.kind and (r.kind, r.config, r.check) not in covered
            ]
            if unplanned:
                lines = [f"{r.config}/{r.check}: {r.detail}" for r in unplanned[:5]]
                more = len(unplanned) - len(lines)
                pytest.fail(
                    f"{self.kind}: {len(unplanned)} check(s) without a test of their own "
                    "failed:\n" + "\n".join(lines) + (f"\n... and {more} more" if more else ""),
                    pytrace=False,
                )
            if self.kind == report.kinds[0]:
                # Once per run: notes of one (kind, configuration) start "kind/config:" and
                # stay in the report; the run-wide ones say what was not checked.
                prefixes = tuple(f"{k}/" for k in report.kinds)
                for note in report.notes:
                    if not note.startswith(prefixes):
                        warnings.warn(RunNote(note), stacklevel=2)
            return
        planned = self.planned
        config_run = next(
            (r for r in report.runs if (r.kind, r.config) == (planned.kind, planned.config)),
            None,
        )
        if config_run is not None and config_run.status == "declined":
            pytest.skip(f"declined {planned.kind}/{planned.config}: {config_run.reason}")
        result = next(
            (
                r
                for r in report.results
                if (r.kind, r.config, r.check) == (planned.kind, planned.config, planned.check)
            ),
            None,
        )
        if result is None:
            reason = config_run.reason if config_run is not None else "not part of the run"
            pytest.fail(f"{self.id} was not checked: {reason}", pytrace=False)
        if result.verdict == "fail":
            message = [f"{self.id}: {result.direction or 'failed'}", result.detail]
            if not result.exact:
                message.append(f"p = {result.pvalue:.3e} <= {result.level:.2e}")
            if result.expected is not None or result.observed is not None:
                message += [f"expected {result.expected}", f"observed {result.observed}"]
            pytest.fail("\n".join(message), pytrace=False)


def checks_of(
    kinds: Iterable[str],
    configs: Iterable[Config],
    level: str = "quick",
    family_level: float = FAMILY_LEVEL,
) -> list[PlannedCheck]:
    """Every check a run over ``kinds`` and ``configs`` reports, in run order."""
    from .runner import plan_run

    return [c for s in plan_run(kinds, configs, level, family_level) for c in plan(s)]


def items_for(run: SharedRun, planned: list[PlannedCheck], kinds: Iterable[str]) -> list[CheckItem]:
    """The test items of ``planned`` checks, plus one ``<kind>-tested`` item per kind."""
    items = [CheckItem(run, p, p.kind) for p in planned]
    return items + [CheckItem(run, None, kind) for kind in kinds]


def parametrize_with_checks(
    make_batches: Callable[..., Any],
    *,
    kinds: Iterable[str] | None = None,
    level: str = "quick",
    seed: int = 0,
    configs: Iterable[Config | str] | None = None,
    family_level: float = FAMILY_LEVEL,
    timeout: float | None = None,
) -> Any:
    """A ``pytest.mark.parametrize`` decorator with one test per check of the kit.

    Parameters
    ----------
    make_batches : callable
        The implementation, following the adapter protocol
        (:mod:`refsampler.conformance.adapters`; ``adapters.load`` adapts other APIs).
    kinds : iterable of str, optional
        The kinds to check (default: every kind the kit checks).
    level : {"quick", "full"}
    seed : int
    configs : iterable of Config or str, optional
        The configurations or their names (default: all).
    family_level : float
        Family-wise false-alarm rate of the run's statistical checks (one Holm family).
    timeout : float, optional
        Seconds one call of the implementation may take.

    Returns
    -------
    pytest.MarkDecorator
        Parametrizes the argument ``check``: call it in the test body.

    Raises
    ------
    InvalidArgumentError
        For invalid arguments, when the decorator is applied (at import): among them an
        implementation that is not callable or cannot take the protocol's arguments
        (:func:`~refsampler.conformance.runner.check_adapter`).

    Examples
    --------
    >>> from refsampler.conformance import parametrize_with_checks
    >>> from refsampler.conformance.mutants import control
    >>> mark = parametrize_with_checks(control, kinds=["quota"], configs=["rotation"])
    >>> [p.id for p in mark.args[1]][-3:]
    ['quota-rotation-classes_not_locked', 'quota-rotation-start_seats_random', 'quota-tested']
    """
    import pytest

    from .runner import check_adapter, validate_options

    # Validate now, where the decorator is applied, not inside the first test.
    check_adapter(make_batches, "make_batches")
    selected, chosen, seed = validate_options(
        kinds, configs, level=level, seed=seed, family_level=family_level, timeout=timeout
    )
    options: dict[str, Any] = {
        "kinds": selected,
        "level": level,
        "seed": seed,
        "configs": chosen,
        "family_level": family_level,
        "timeout": timeout,
        "name": str(getattr(make_batches, "__qualname__", repr(make_batches))),
    }
    run = SharedRun(make_batches, **options)
    items = items_for(run, checks_of(selected, chosen, level, family_level), selected)
    return pytest.mark.parametrize("check", [pytest.param(i, id=i.id) for i in items])
