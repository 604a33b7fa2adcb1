"""pytest plugin (``pytest11`` entry point ``refsampler``): the kit's options and fixtures.

Options: ``--refsampler-impl MODULE:CALLABLE``, ``--refsampler-api batches|factory|weights``,
``--refsampler-seed N``, ``--refsampler-level quick|full``.

Fixtures:

* ``refsampler_make_batches``: the implementation under test, adapted to the kit's protocol
  (refsampler's own adapter unless ``--refsampler-impl`` is given);
* ``refsampler_verify``: a function ``(kinds=("fixed", "quota", "random")) -> Report`` that
  runs :func:`refsampler.conformance.verify` on that implementation at the configured level
  and seed. A conformance test in your project is then::

      def test_my_sampler_conforms(refsampler_verify):
          report = refsampler_verify()
          assert report.conforms, report.table(failures_only=True)

Loading the plugin imports neither torch, scipy nor refsampler's samplers (every import
happens inside a fixture), so it costs nothing in projects that only have refsampler installed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from .report import Report

__all__ = ["pytest_addoption", "refsampler_make_batches", "refsampler_verify"]


def pytest_addoption(parser: pytest.Parser) -> None:
    """Register the ``--refsampler-*`` options."""
    group = parser.getgroup("refsampler", "refsampler conformance kit")
    group.addoption(
        "--refsampler-impl",
        default=None,
        metavar="MODULE:CALLABLE",
        help="sampler implementation for property_tests (default: refsampler's own adapter)",
    )
    group.addoption(
        "--refsampler-api",
        default="batches",
        choices=("batches", "factory", "weights"),
        help="how to call --refsampler-impl (default: batches)",
    )
    group.addoption(
        "--refsampler-seed", type=int, default=0, help="base seed of the conformance checks"
    )
    group.addoption(
        "--refsampler-level",
        default="quick",
        choices=("quick", "full"),
        help="conformance level (default: quick)",
    )


@pytest.fixture(scope="session")
def refsampler_make_batches(pytestconfig: pytest.Config) -> Any:
    """The implementation under test (``--refsampler-impl``), adapted to the protocol."""
    from . import adapters

    spec = pytestconfig.getoption("--refsampler-impl")
    if spec is None:
        return adapters.refsampler
    return adapters.load(spec, pytestconfig.getoption("--refsampler-api"))


@pytest.fixture(scope="session")
def refsampler_verify(
    pytestconfig: pytest.Config, refsampler_make_batches: Any
) -> Callable[..., Report]:
    """``verify`` bound to the implementation, level and seed chosen on the command line."""
    from .runner import verify

    spec = pytestconfig.getoption("--refsampler-impl") or "refsampler (built-in adapter)"

    def run(kinds: Iterable[str] = ("fixed", "quota", "random")) -> Report:
        return verify(
            refsampler_make_batches,
            kinds=tuple(kinds),
            level=pytestconfig.getoption("--refsampler-level"),
            seed=pytestconfig.getoption("--refsampler-seed"),
            name=spec,
        )

    return run
