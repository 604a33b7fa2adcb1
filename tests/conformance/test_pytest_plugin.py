"""Tests of refsampler.conformance.pytest_plugin: torch-free loading, options, fixtures."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

CONFORMANCE_TEST = """
def test_conforms(refsampler_verify):
    report = refsampler_verify(kinds=["fixed"])
    assert report.conforms, report.table(failures_only=True)
"""


def test_plugin_loads_without_torch_or_scipy() -> None:
    """Importing the plugin (as pytest does for the pytest11 entry point) imports no torch."""
    code = (
        "import sys, refsampler.conformance.pytest_plugin; "
        "print(sorted(m for m in ('torch', 'scipy') if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def _pytest(tmp_path: Path, *options: str) -> subprocess.CompletedProcess[str]:
    (tmp_path / "test_conformance.py").write_text(CONFORMANCE_TEST)
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tmp_path)]
    return subprocess.run(
        [*command, "--rootdir", str(tmp_path), *options],
        capture_output=True,
        text=True,
        check=False,
        cwd=tmp_path,
    )


def test_refsampler_verify_fixture_passes_for_refsampler(tmp_path: Path) -> None:
    """Without --refsampler-impl the fixture checks refsampler itself (rate 1e-6)."""
    done = _pytest(tmp_path)
    assert done.returncode == 0, done.stdout


@pytest.mark.parametrize("api", ["batches"])
def test_refsampler_verify_fixture_fails_for_a_mutant(tmp_path: Path, api: str) -> None:
    """--refsampler-impl points the fixture at another implementation: a mutant fails."""
    done = _pytest(
        tmp_path,
        "--refsampler-impl=refsampler.conformance.mutants:one_based",
        f"--refsampler-api={api}",
        "--refsampler-seed=3",
    )
    assert done.returncode == 1
    assert "positions_in_range" in done.stdout
