"""Every check of the conformance kit, one test per (kind, configuration, check).

The checks share one :func:`~refsampler.conformance.verify` run (one Holm family at the
``--refsampler-family-level``, default 1e-6); ``--refsampler-level full`` gives its share
tests power 0.999 against a one-point shift.
"""

from __future__ import annotations

from typing import Any

import pytest

from refsampler.conformance.stats import FAMILY_LEVEL


@pytest.mark.statistical(level=FAMILY_LEVEL)
def test_check(refsampler_check: Any) -> None:
    """One check of the kit (statistical ones are decided with the whole run's Holm family)."""
    refsampler_check()
