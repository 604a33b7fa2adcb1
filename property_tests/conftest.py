"""refsampler's own property tests test refsampler, unless told otherwise.

The kit's pytest plugin has no default implementation (a CI job that forgets
``--refsampler-impl`` must fail, not test something else). This tree is refsampler's own, so
it sets two defaults when the command line and the ini file leave them out: the
implementation is refsampler's adapter, and the shipped suite's verify run uses a
family-wise level of 1e-8 (its share of the suite's error budget, ``test_budget.py``).

refsampler's own sampler has known defects that the core redesign fixes; the checks that
catch them are marked as expected failures (not strict, so they pass once it is fixed).
"""

from __future__ import annotations

import pytest

#: The implementation these tests check when ``--refsampler-impl`` is not given.
DEFAULT_IMPL = "refsampler.conformance.adapters:refsampler"
#: Family-wise level of the shipped suite's verify run in this tree.
FAMILY_LEVEL = "1e-8"

#: Checks of the shipped suite that refsampler's current sampler fails: (kind, check) pairs.
#: The quota schedule is locked to one rotation; the fixed kind breaks ties by class index
#: and a cycle that ends inside a batch may repeat a member there.
KNOWN_DEFECTS = {
    ("quota", "schedule_varies_with_seed"),
    ("quota", "classes_meet"),
    ("quota", "classes_not_locked"),
    ("quota", "distinct_in_batch"),
    ("fixed", "distinct_in_batch"),
    ("fixed", "ties_broken_at_random"),
    ("quota", "test_cycles_never_repeat_a_member_in_a_batch"),
    ("fixed", "test_cycles_never_repeat_a_member_in_a_batch"),
}
DEFECT_REASON = "refsampler's quota schedule and cycle wraps are fixed by the core redesign"


def pytest_configure(config: pytest.Config) -> None:
    """Default the kit's options for this tree (see the module docstring)."""
    if not config.getoption("--refsampler-impl") and not config.getini("refsampler_impl"):
        config.option.refsampler_impl = DEFAULT_IMPL
    if not config.getoption("--refsampler-family-level"):
        config.option.refsampler_family_level = FAMILY_LEVEL


def _known_defect(item: pytest.Item) -> bool:
    if config_impl(item.config) != DEFAULT_IMPL:
        return False
    spec = getattr(item, "callspec", None)
    if spec is None:
        return False
    check = spec.params.get("refsampler_check")
    if check is not None and not isinstance(check, str):
        return (check.kind, check.check) in KNOWN_DEFECTS
    kind = spec.params.get("kind")
    return (kind, item.originalname) in KNOWN_DEFECTS


def config_impl(config: pytest.Config) -> str:
    """The implementation the session checks."""
    return str(config.getoption("--refsampler-impl") or config.getini("refsampler_impl"))


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark the checks refsampler's current sampler is known to fail (not strict)."""
    for item in items:
        if _known_defect(item):
            item.add_marker(pytest.mark.xfail(strict=False, reason=DEFECT_REASON))
