"""The report of a verify run: JSON-serialisable, with a readable table."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from .checks import KINDS, CheckResult

__all__ = ["Report"]


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
    n_statistical : int
        Number of statistical assertions in the Holm family.
    results : list of CheckResult
    skipped : dict
        ``kind -> reason`` for kinds the implementation declined (``NotImplementedError``).
    seconds : float
        Wall time of the run.
    """

    implementation: str
    kinds: tuple[str, ...]
    level: str
    seed: int
    family_level: float
    n_statistical: int = 0
    results: list[CheckResult] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0

    def verdict(self, kind: str) -> str:
        """``"conforms"``, ``"violates"`` or ``"skipped"`` for one kind."""
        mine = [r for r in self.results if r.kind == kind]
        if any(r.verdict == "fail" for r in mine):
            return "violates"
        if kind in self.skipped or not any(r.verdict == "pass" for r in mine):
            return "skipped"
        return "conforms"

    @property
    def conforms(self) -> bool:
        """True when no check failed."""
        return not any(r.verdict == "fail" for r in self.results)

    @property
    def failures(self) -> list[CheckResult]:
        """The failed checks."""
        return [r for r in self.results if r.verdict == "fail"]

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable dict."""
        return {
            "implementation": self.implementation,
            "kinds": list(self.kinds),
            "level": self.level,
            "seed": self.seed,
            "family_level": self.family_level,
            "n_statistical": self.n_statistical,
            "conforms": self.conforms,
            "verdicts": {kind: self.verdict(kind) for kind in self.kinds},
            "skipped": dict(self.skipped),
            "seconds": self.seconds,
            "results": [r.to_dict() for r in self.results],
        }

    def to_json(self, indent: int | None = 2) -> str:
        """The report as JSON text."""
        return json.dumps(self.to_dict(), indent=indent, allow_nan=False)

    def verdict_lines(self) -> list[str]:
        """One line per kind: ``random: conforms (62 checks passed)``."""
        lines = []
        for kind in (k for k in KINDS if k in self.kinds):
            mine = [r for r in self.results if r.kind == kind]
            failed = [r for r in mine if r.verdict == "fail"]
            passed = sum(r.verdict == "pass" for r in mine)
            verdict = self.verdict(kind)
            if verdict == "violates":
                names = sorted({f"{r.check} ({r.config})" for r in failed})
                shown = ", ".join(names[:4]) + (", ..." if len(names) > 4 else "")
                lines.append(f"{kind}: VIOLATES the contract: {len(failed)} checks failed: {shown}")
            elif verdict == "skipped":
                reason = self.skipped.get(kind, "no check ran")
                lines.append(f"{kind}: skipped ({reason})")
            else:
                lines.append(f"{kind}: conforms ({passed} checks passed)")
        return lines

    def table(self, *, failures_only: bool = False) -> str:
        """A fixed-width table, one row per check.

        Columns: kind, config, check, verdict, statistic, p-value (``exact`` for exact checks),
        level, draws, and the smallest shift of a class share the check detects with power
        0.999 (``any`` for exact checks: a single violation fails them).
        """
        header = (
            "kind",
            "config",
            "check",
            "verdict",
            "statistic",
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
                    "exact" if r.exact else _number(r.pvalue),
                    "-" if r.exact else f"{r.level:.1e}",
                    str(r.draws),
                    "any" if r.exact else _number(r.detectable),
                )
            )
        widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
        lines = [
            "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)) for row in rows
        ]
        lines.insert(1, "  ".join("-" * w for w in widths))
        return "\n".join(line.rstrip() for line in lines)


def _number(value: float | None) -> str:
    if value is None:
        return "-"
    if value == 0 or (1e-3 <= abs(value) < 1e6):
        return f"{value:.4g}"
    return f"{value:.3e}"
