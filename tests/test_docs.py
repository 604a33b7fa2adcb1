"""Tests of the documentation: reference coverage, executable examples, and the strict build.

* Every public name (``refsampler.__all__`` and the ``__all__`` of every public module) has a
  ``:::`` directive in ``docs/reference/`` -- the same check the MkDocs hook
  ``docs/_hooks/reference_coverage.py`` runs to fail ``mkdocs build``.
* Every ```` ```python ```` block in ``docs/**/*.md`` and ``README.md`` runs, in page order and
  one namespace per page, in a temporary directory. A block directly preceded by
  ``<!-- skip: reason -->`` is not run (multi-process DDP, optional packages, fragments).
* ``mkdocs build --strict`` succeeds (slow; CI also runs ``make docs``).
"""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import matplotlib
import pytest

from refsampler.conformance import verify
from tests.conformance._shared import TEST_LEVEL

matplotlib.use("Agg")
import matplotlib.pyplot as plt

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
PAGES = [*sorted(DOCS.rglob("*.md")), ROOT / "README.md"]
BLOCK = re.compile(
    r"(?P<skip><!--\s*skip:(?P<reason>[^>]*)-->\s*\n)?^```python\n(?P<code>.*?)^```",
    re.MULTILINE | re.DOTALL,
)


def _hook():
    spec = importlib.util.spec_from_file_location(
        "reference_coverage", DOCS / "_hooks" / "reference_coverage.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _blocks(page: Path) -> list[tuple[str, str | None]]:
    """(code, skip reason or None) of every python block of ``page``, in order."""
    text = page.read_text(encoding="utf-8")
    return [(m["code"], m["reason"].strip() if m["skip"] else None) for m in BLOCK.finditer(text)]


def test_every_public_name_is_in_the_reference() -> None:
    """No public name lacks a ::: directive under docs/reference/."""
    assert _hook().undocumented(DOCS / "reference") == []


def test_coverage_check_catches_a_missing_name(tmp_path) -> None:
    """The coverage check reports a name whose directive is removed (it is not vacuous)."""
    for page in (DOCS / "reference").glob("*.md"):
        text = page.read_text(encoding="utf-8")
        text = text.replace("::: refsampler.targets.power\n", "")
        (tmp_path / page.name).write_text(text, encoding="utf-8")
    missing = _hook().undocumented(tmp_path)
    assert missing == ["refsampler.power", "refsampler.targets.power"]


def test_pages_have_examples() -> None:
    """The tutorial and every how-to guide contain runnable python examples."""
    pages = [DOCS / "tutorial.md", *sorted((DOCS / "how-to").glob("*.md"))]
    for page in pages:
        if page.name == "index.md":
            continue
        runnable = [code for code, reason in _blocks(page) if reason is None]
        assert runnable, f"{page.relative_to(ROOT)} has no runnable python example"


@pytest.mark.parametrize(
    "page",
    [p for p in PAGES if _blocks(p)],
    ids=lambda p: str(p.relative_to(ROOT)),
)
def test_code_examples_run(page: Path, tmp_path, monkeypatch) -> None:
    """Every python block of the page runs without error, in order, in one namespace."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    namespace: dict[str, object] = {"__name__": f"docs_{page.stem}"}
    ran = 0
    for number, (code, reason) in enumerate(_blocks(page), start=1):
        if reason is not None:
            assert reason, f"block {number} of {page.name}: a skip needs a reason"
            continue
        exec(compile(code, f"{page.name}[block {number}]", "exec"), namespace)
        ran += 1
    plt.close("all")
    assert ran >= 1


@pytest.mark.slow
def test_mkdocs_build_strict(tmp_path) -> None:
    """`mkdocs build --strict` succeeds (no warnings, every public name documented)."""
    mkdocs = Path(sys.executable).with_name("mkdocs")
    result = subprocess.run(
        [str(mkdocs), "build", "--strict", "--site-dir", str(tmp_path / "site")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        env={"NO_MKDOCS_2_WARNING": "1", "PATH": str(mkdocs.parent)},
    )
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "site" / "reference" / "diagnostics" / "index.html").exists()


def test_griffe_extension_rewrites_rst() -> None:
    """The docs' griffe extension turns reST roles, math and citations into Markdown."""
    spec = importlib.util.spec_from_file_location("griffe_rst", DOCS / "_hooks" / "griffe_rst.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    text = "See :func:`~refsampler.allocate` [1]_.\n\n.. math:: p = 1\n\n.. [1] A paper.\n"
    assert (
        module.rst_to_markdown(text) == "See `allocate` [1].\n\n$$\np = 1\n$$\n\n- [1] A paper.\n"
    )


@pytest.mark.statistical(level=TEST_LEVEL)
def test_the_verify_how_to_adapter_declines_what_it_cannot_serve() -> None:
    """The adapter the verify how-to starts from runs on every configuration of its kind: it
    declines the alpha schedule (rather than crashing on it) and conforms on the rest."""
    code = _blocks(DOCS / "how-to" / "verify-your-sampler.md")[1][0]  # block 1 is the signature
    namespace: dict[str, object] = {}
    exec(compile(code, "verify-your-sampler.md[block 2]", "exec"), namespace)
    report = verify(
        namespace["make_batches"],  # type: ignore[arg-type]
        kinds=["random"],
        configs=["long-tail", "schedule"],
        family_level=TEST_LEVEL,
    )
    status = {run.config: run.status for run in report.runs}
    assert status == {"long-tail": "ran", "schedule": "declined"}
    assert report.conforms


def test_counts_quoted_by_the_docs_are_current() -> None:
    """Figures the prose states -- the stream version, the changelog's current entry and the
    number of mutants -- match the code."""
    from refsampler.conformance import mutants
    from refsampler.plan import STREAM_VERSION

    determinism = (DOCS / "explanation" / "determinism.md").read_text(encoding="utf-8")
    assert f"`refsampler.plan.STREAM_VERSION` (currently {STREAM_VERSION})" in determinism
    assert f"**Stream version {STREAM_VERSION}** (current)" in determinism
    readme = " ".join((ROOT / "README.md").read_text(encoding="utf-8").split())
    quoted = re.search(
        r"\((\d+) batch and factory mutants, `m\.MUTANTS`, and (\d+) sampler mutants", readme
    )
    assert quoted is not None, "README no longer states the number of mutants"
    assert (int(quoted[1]), int(quoted[2])) == (
        len(mutants.MUTANTS),
        len(mutants.SAMPLER_MUTANTS),
    )


def test_the_statistical_tests_page_quotes_the_budget() -> None:
    """The case count and total of property_tests/test_budget.py, as the explanation page and
    the budget's own docstring state them."""
    spec = importlib.util.spec_from_file_location(
        "test_budget_for_docs", ROOT / "property_tests" / "test_budget.py"
    )
    assert spec is not None and spec.loader is not None
    budget = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(budget)
    cases = sum(n for n, _ in budget.BUDGET.values())
    total = sum(n * level for n, level in budget.BUDGET.values())
    missed = sum(n for n, level in budget.BUDGET.values() if level == budget.MISS)
    page = (DOCS / "explanation" / "statistical-tests.md").read_text(encoding="utf-8")
    mantissa, exponent = f"{total:.1e}".split("e")
    assert f"{cases} cases, \\({mantissa} \\times 10^{{{int(exponent)}}}\\)" in page
    assert f"{missed} cases add at most" in page
    stated = f"{mantissa}e{int(exponent)}"  # 9.4e-7, as the docstring writes it
    assert f"Total: {cases} cases, {stated} < 1e-6" in (budget.__doc__ or "")
