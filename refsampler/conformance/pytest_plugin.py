"""pytest plugin (``pytest11`` entry point ``refsampler``): the kit's command-line options.

Loading it imports neither torch nor refsampler's samplers, so it costs nothing in projects
that only have refsampler installed.
"""

from __future__ import annotations

import pytest


def pytest_addoption(parser: pytest.Parser) -> None:
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
