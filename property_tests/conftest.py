"""Property tests run against refsampler by default, or against ``--refsampler-impl``.

Tests that exercise *a sampler* take the ``make_batches`` fixture (the kit's adapter
protocol); tests of refsampler's pure core call it directly.
"""

from __future__ import annotations

import numpy as np
import pytest

from refsampler.conformance import adapters


@pytest.fixture(scope="session")
def make_batches(pytestconfig: pytest.Config) -> adapters.MakeBatches:
    """The implementation under test, adapted to the kit's protocol."""
    spec = pytestconfig.getoption("--refsampler-impl")
    if spec is None:
        return adapters.refsampler
    return adapters.load(spec, pytestconfig.getoption("--refsampler-api"))


def run_batches(
    make_batches: adapters.MakeBatches,
    labels: np.ndarray,
    *,
    kind: str,
    alpha: float,
    batch_size: int,
    n_batches: int,
    seed: int,
) -> np.ndarray:
    """Call the implementation and return its batches as an (n_batches, batch_size) array.

    ``NotImplementedError`` (an unsupported kind or alpha) skips the test.
    """
    try:
        batches = make_batches(
            labels, kind=kind, alpha=alpha, batch_size=batch_size, n_batches=n_batches, seed=seed
        )
        rows = [list(map(int, b)) for b in batches]
    except NotImplementedError as exc:
        pytest.skip(f"implementation does not support kind={kind!r}, alpha={alpha}: {exc}")
    array = np.asarray(rows, dtype=np.int64)
    assert array.shape == (n_batches, batch_size), f"got batches of shape {array.shape}"
    return array


def pytest_configure(config: pytest.Config) -> None:
    """Register ``statistical``: every probabilistic assertion declares its false-failure rate.

    ``@pytest.mark.statistical(level=L)`` on a test (each parametrised case counts once) says
    the test fails a correct implementation with probability at most ``L``;
    ``test_budget.py`` adds them up against the suite's family-wise budget (DESIGN section 5).
    """
    config.addinivalue_line(
        "markers", "statistical(level): probabilistic test whose false-failure rate is <= level"
    )
