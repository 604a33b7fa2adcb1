"""Golden batches: the stream a seed gives is pinned, so that changing it is always deliberate.

A failure here means some configuration now yields other batches than it did under the same
``STREAM_VERSION``: checkpoints saved before would resume onto different batches. If the change
is intended, bump :data:`refsampler.plan.STREAM_VERSION` (so old states are refused), note it in
the changelog on the determinism page and run ``tests/golden/regenerate.py``.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from refsampler.plan import STREAM_VERSION
from tests.golden.cases import CASES, fingerprint

GOLDEN = json.loads((Path(__file__).parent / "golden" / "stream.json").read_text())


def test_golden_file_is_for_this_stream_version() -> None:
    """The pinned batches belong to the current stream version and cover every case."""
    assert GOLDEN["stream_version"] == STREAM_VERSION, (
        "STREAM_VERSION changed: regenerate tests/golden/stream.json on purpose"
    )
    assert set(GOLDEN["cases"]) == set(CASES)


@pytest.mark.parametrize("name", sorted(CASES))
def test_batches_equal_the_golden_batches(name: str) -> None:
    """Every case yields exactly its pinned batches (first batch shown, all hashed)."""
    batches = CASES[name].batches()
    pinned = GOLDEN["cases"][name]
    assert batches[0] == pinned["first_batch"], f"{name}: the stream changed"
    assert fingerprint(batches) == pinned["sha256"], f"{name}: the stream changed"
