"""Suite-wide test configuration: Hypothesis profiles and statistically safe seeds.

* Hypothesis: the ``ci`` profile (derandomised, no deadline) is loaded when ``CI`` is set;
  the ``dev`` profile otherwise.
* Statistical tests take their seed from the ``stat_seed`` fixture: a
  ``numpy.random.SeedSequence`` of the test's node id, so a run is reproducible and tests do not
  share streams. ``--vary-seed`` (nightly) mixes in fresh entropy and prints it.
"""

from __future__ import annotations

import hashlib
import os

import numpy as np
import pytest
from hypothesis import HealthCheck, settings

settings.register_profile(
    "ci",
    derandomize=True,
    deadline=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile("dev", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("ci" if os.environ.get("CI") else "dev")

# The test directories' helper modules (``_*.py``) hold no tests or doctests; collecting them
# for doctests would import what they import (pytorch_lightning: seconds) in every worker.
collect_ignore_glob = ["tests/_*.py", "tests/conformance/_*.py", "property_tests/_*.py"]


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--vary-seed",
        action="store_true",
        default=False,
        help="draw statistical-test seeds from fresh entropy (nightly); the seed is printed",
    )


@pytest.fixture
def stat_seed(request: pytest.FixtureRequest) -> int:
    """A 63-bit seed derived from the test id (and fresh entropy under --vary-seed)."""
    digest = hashlib.blake2b(request.node.nodeid.encode(), digest_size=8).digest()
    entropy = [int.from_bytes(digest, "little")]
    if request.config.getoption("--vary-seed"):
        fresh = np.random.SeedSequence().entropy
        entropy.append(int(fresh))  # type: ignore[arg-type]
        print(f"\n{request.node.nodeid}: --vary-seed entropy {fresh}")
    state = np.random.SeedSequence(entropy).generate_state(2, dtype=np.uint32)
    return int(state[0]) << 31 | int(state[1]) >> 1
