"""Helpers shared by refsampler's own property tests: the shipped suite's exact checks.

They live in :mod:`refsampler.conformance.suite._support`, so the suite that ships with the
package and these tests check the same things the same way.
"""

from __future__ import annotations

from refsampler.conformance.suite._support import (
    PREFIX_TOLERANCE,
    coverage_violations,
    cycle_violations,
    largest_remainder_violations,
    member_ranks,
    prefix_errors,
    quota_bounds,
    repeats_in_batches,
)

__all__ = [
    "PREFIX_TOLERANCE",
    "coverage_violations",
    "cycle_violations",
    "largest_remainder_violations",
    "member_ranks",
    "prefix_errors",
    "quota_bounds",
    "repeats_in_batches",
]
