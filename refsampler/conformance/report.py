"""The report of a verify run: verdicts, exit status, a readable table, JSON."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

from .results import CheckResult

__all__ = [
    "EXIT_CONFORMS",
    "EXIT_NOT_TESTED",
    "EXIT_USAGE",
    "EXIT_VIOLATION",
    "ConfigRun",
    "Report",
]

#: Exit status: every requested kind ran at least one configuration, and no check failed.
EXIT_CONFORMS = 0
#: Exit status: a check failed.
EXIT_VIOLATION = 1
#: Exit status: bad arguments, or an implementation that cannot be imported or called.
EXIT_USAGE = 2
#: Exit status: every configuration of some requested kind was declined (nothing tested).
EXIT_NOT_TESTED = 3


@dataclass
class ConfigRun:
    """One (kind, configuration) of a run, whether or not it ran.

    Attributes
    ----------
    kind, config : str
    class_counts : list of int
    batch_size : int
    alpha : float or str
        The number, or a schedule as ``epoch:alpha,...``.
    target : list of float
        The target of epoch 0.
    n_batches : int
        Batches of the main run.
    seed : int
        The seed derived for this (configuration, kind) from the run's base seed.
    status : {"ran", "declined", "failed", "stopped"}
        ``failed``: the run was cut short (the call failed, or its batches were malformed,
        so the remaining checks could not run); ``stopped``: not run because the run stopped
        at its first failure.
    reason : str
        Why it was declined, cut short or stopped.
    """

    kind: str
    config: str
    class_counts: list[int]
    batch_size: int
    alpha: float | str
    target: list[float]
    n_batches: int
    seed: int
    status: str = "ran"
    reason: str = ""

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable dict."""
        return asdict(self)


@dataclass
class Report:
    """Everything one :func:`~refsampler.conformance.verify` run found.

    Attributes
    ----------
    implementation : str
        What was checked (a ``MODULE:CALLABLE`` spec or the callable's name).
    kinds : tuple of str
        The kinds requested.
    level : {"quick", "full"}
    seed : int
    family_level : float
        Family-wise false-alarm rate of the run's statistical checks (Holm).
    command : str or None
        The shell command that re-runs the check (without ``--kind`` / ``--config``).
    n_statistical : int
        Number of statistical assertions in the Holm family.
    results : list of CheckResult
    runs : list of ConfigRun
        Every (kind, configuration), including declined ones.
    seconds : float
        Wall time of the run.
    stopped_early : bool
        The run stopped at its first failure (``fail_fast``).
    notes : list of str
        Observations that are not verdicts (``--api sampler``: the sampler's methods, what a
        loop without ``set_epoch`` gets).
    """

    implementation: str
    kinds: tuple[str, ...]
    level: str
    seed: int
    family_level: float
    command: str | None = None
    n_statistical: int = 0
    results: list[CheckResult] = field(default_factory=list)
    runs: list[ConfigRun] = field(default_factory=list)
    seconds: float = 0.0
    stopped_early: bool = False
    notes: list[str] = field(default_factory=list)

    def declined(self, kind: str) -> list[ConfigRun]:
        """The configurations of ``kind`` the implementation declined."""
        return [r for r in self.runs if r.kind == kind and r.status == "declined"]

    def tested(self, kind: str) -> list[ConfigRun]:
        """The configurations of ``kind`` that were run (passed, failed or cut short)."""
        return [r for r in self.runs if r.kind == kind and r.status in ("ran", "failed")]

    def verdict(self, kind: str) -> str:
        """``"conforms"``, ``"violates"`` or ``"not tested"`` for one kind."""
        if any(r.kind == kind and r.verdict == "fail" for r in self.results):
            return "violates"
        if not self.tested(kind):
            return "not tested"
        return "conforms"

    @property
    def exit_code(self) -> int:
        """0 conforms, 1 a check failed, 3 a requested kind had nothing tested."""
        verdicts = {self.verdict(kind) for kind in self.kinds}
        if "violates" in verdicts:
            return EXIT_VIOLATION
        if "not tested" in verdicts:
            return EXIT_NOT_TESTED
        return EXIT_CONFORMS

    @property
    def conforms(self) -> bool:
        """True when no check failed and every requested kind ran at least one configuration."""
        return self.exit_code == EXIT_CONFORMS

    @property
    def failures(self) -> list[CheckResult]:
        """The failed checks."""
        return [r for r in self.results if r.verdict == "fail"]

    def rerun_command(self, kind: str, config: str) -> str | None:
        """The shell command that re-runs one (kind, configuration) alone, if known."""
        if self.command is None:
            return None
        return (
            f"{self.command} --kind {kind} --config {config} --seed {self.seed} "
            f"--level {self.level}"
        )

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable dict: the run, every configuration, every check."""
        return {
            "implementation": self.implementation,
            "kinds": list(self.kinds),
            "level": self.level,
            "seed": self.seed,
            "family_level": self.family_level,
            "n_statistical": self.n_statistical,
            "conforms": self.conforms,
            "exit_code": self.exit_code,
            "verdicts": {kind: self.verdict(kind) for kind in self.kinds},
            "stopped_early": self.stopped_early,
            "seconds": self.seconds,
            "notes": list(self.notes),
            "configurations": [
                {
                    **run.to_dict(),
                    "checks": [
                        r.to_dict()
                        for r in self.results
                        if (r.kind, r.config) == (run.kind, run.config)
                    ],
                }
                for run in self.runs
            ],
        }

    def to_json(self, indent: int | None = 2) -> str:
        """The report as JSON text."""
        return json.dumps(self.to_dict(), indent=indent, allow_nan=False)

    def verdict_lines(self) -> list[str]:
        """One line per kind, e.g. ``random: conforms (9 configurations, 181 checks passed)``.

        Declined configurations are listed with their reasons.
        """
        lines = []
        for kind in self.kinds:
            mine = [r for r in self.results if r.kind == kind]
            verdict = self.verdict(kind)
            declined = _declined_text(self.declined(kind))
            if verdict == "violates":
                failed = [r for r in mine if r.verdict == "fail"]
                names = sorted({f"{r.check} ({r.config})" for r in failed})
                shown = ", ".join(names[:4]) + (", ..." if len(names) > 4 else "")
                count = f"{len(failed)} check{'s' if len(failed) != 1 else ''} failed"
                lines.append(f"{kind}: VIOLATES the contract: {count}: {shown}")
            elif verdict == "not tested":
                why = declined or "no configuration ran"
                lines.append(f"{kind}: NOT TESTED: every configuration was declined: {why}")
            else:
                passed = sum(r.verdict == "pass" for r in mine)
                ran = len(self.tested(kind))
                line = (
                    f"{kind}: conforms ({ran} configuration{'s' if ran != 1 else ''}, "
                    f"{passed} check{'s' if passed != 1 else ''} passed)"
                )
                if declined:
                    line += f"; declined: {declined}"
                lines.append(line)
        if self.stopped_early:
            lines.append("stopped at the first failure: later configurations did not run")
        return lines

    def failure_lines(self) -> list[str]:
        """What every failed check expected and observed, and how to re-run its configuration."""
        lines: list[str] = []
        shown: set[tuple[str, str]] = set()
        for r in self.failures:
            head = f"{r.kind}/{r.config}/{r.check}"
            if r.direction:
                head += f": {r.direction}"
            lines.append(head)
            lines.append(f"    {r.detail}")
            if not r.exact and r.draws == 0 and r.statistic is None:
                # Failed before any data was read (the sampler raised, or nothing was left to
                # examine): there is no p-value to show, only the failure.
                lines.append("    no statistic: nothing was examined, so the check fails")
            elif not r.exact:
                statistic = "" if r.statistic is None else f"statistic {_number(r.statistic)}"
                statistic += f" on {r.dof} dof" if r.dof else ""
                lines.append(
                    "    "
                    + (f"{statistic}, " if statistic else "")
                    + f"p = {_number(r.pvalue)} <= threshold {r.level:.2e}"
                )
            if r.expected is not None or r.observed is not None:
                lines.append(f"    expected {_plain(r.expected)}")
                lines.append(f"    observed {_plain(r.observed)}")
            shown.add((r.kind, r.config))
        for kind, config in sorted(shown):
            command = self.rerun_command(kind, config)
            if command:
                lines.append(f"re-run {kind}/{config} alone: {command}")
        return lines

    def table(self, *, failures_only: bool = False) -> str:
        """A fixed-width table, one row per check.

        Columns: kind, config, check, verdict, statistic, dof, p-value (``exact`` for exact
        checks), the Holm-adjusted level, draws, and the smallest deviation the check detects
        with power 0.999 in its own unit (``any`` for exact checks: a single violation fails
        them; ``-`` where no such figure applies).
        """
        header = (
            "kind",
            "config",
            "check",
            "verdict",
            "statistic",
            "dof",
            "p",
            "level",
            "draws",
            "detects",
        )
        rows = [header]
        for r in self.results:
            if failures_only and r.verdict != "fail":
                continue
            rows.append(
                (
                    r.kind,
                    r.config,
                    r.check,
                    r.verdict.upper() if r.verdict == "fail" else r.verdict,
                    _number(r.statistic),
                    str(r.dof) if r.dof else "-",
                    "exact" if r.exact else _number(r.pvalue),
                    "-" if r.exact else f"{r.level:.1e}",
                    str(r.draws),
                    "any" if r.exact else _detects(r),
                )
            )
        widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
        lines = [
            "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)) for row in rows
        ]
        lines.insert(1, "  ".join("-" * w for w in widths))
        return "\n".join(line.rstrip() for line in lines)


def _declined_text(runs: list[ConfigRun]) -> str:
    by_reason: dict[str, list[str]] = {}
    for run in runs:
        by_reason.setdefault(run.reason, []).append(run.config)
    return "; ".join(f"{', '.join(names)} ({reason})" for reason, names in by_reason.items())


def _detects(r: CheckResult) -> str:
    if r.detectable is None:
        return "-"
    if r.detects == "w":
        return f"w {r.detectable:.3g}"
    return f"±{r.detectable:.3g} {r.detects}".rstrip()


def _plain(value: Any) -> str:
    if isinstance(value, float):
        return _number(value)
    return str(value)


def _number(value: float | None) -> str:
    if value is None:
        return "-"
    if value == 0 or (1e-3 <= abs(value) < 1e6):
        return f"{value:.4g}"
    return f"{value:.3e}"
