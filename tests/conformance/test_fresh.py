"""Tests of refsampler.conformance.fresh: ``resume_in_fresh_process``, a resume in another
Python interpreter, as a restarted job resumes.

Every test is exact: it asserts only the verdicts of exact checks (or names and notes), which
a seeded, deterministic sampler decides the same way every time; the statistical checks of
the same runs are left alone.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest

from refsampler.cli import main
from refsampler.conformance import fresh, mutants, verify
from refsampler.conformance.adapters import load, refsampler_sampler
from refsampler.conformance.streams import SamplerAdapter

from . import _fresh_targets

CHECK = "resume_in_fresh_process"


def _run(make_sampler: Any, **options: Any) -> Any:
    adapter = make_sampler if isinstance(make_sampler, SamplerAdapter) else None
    return verify(
        adapter or SamplerAdapter(make_sampler),
        kinds=[options.pop("kind", "fixed")],
        configs=[options.pop("config", "long-tail")],
        **options,
    )


def _result(report: Any) -> Any:
    return next(r for r in report.results if r.check == CHECK)


def _exact_failures(report: Any) -> set[str]:
    return {r.check for r in report.results if r.exact and r.verdict == "fail"}


def test_a_position_kept_in_the_process_fails_only_the_fresh_process_check() -> None:
    """state_in_process resumes exactly in the process that saved the state, so every check
    that existed before passes it; a new interpreter finds nothing under the key and starts
    the epoch again."""
    report = _run(mutants.state_in_process)
    assert _exact_failures(report) == {CHECK}
    assert {"resume_continues_exactly", "resume_state_is_json"} <= {
        r.check for r in report.results if r.verdict == "pass"
    }
    assert _result(report).detail.startswith(
        "state saved after 16 of 32 batches of epoch 1, loaded by "
        "refsampler.conformance.mutants:state_in_process in a fresh Python process: first "
        "difference at batch 16 of epoch 1 (64 batches follow the resume, want 48)"
    )


@pytest.mark.parametrize(
    ("kind", "config"), [("quota", "long-tail"), ("pk", "pk-long-tail"), ("random", "schedule")]
)
def test_refsampler_sampler_resumes_in_a_fresh_process(kind: str, config: str) -> None:
    """refsampler's sampler (the sampler mutants' unbroken base) passes: a quota schedule
    that a fresh process steps from the state's checkpoint (more than two groups of
    equal-rate classes), pk, and an alpha schedule sent to the child."""
    report = _run(refsampler_sampler, kind=kind, config=config)
    assert _exact_failures(report) == set(), report.table(failures_only=True)
    result = _result(report)
    assert result.verdict == "pass" and result.draws > 0
    assert "refsampler.conformance.adapters:refsampler_sampler" in result.detail


def test_the_cli_names_the_target_for_the_fresh_process(capsys: pytest.CaptureFixture[str]) -> None:
    """From the shell the child imports MODULE:CALLABLE as given: refsampler's sampler
    passes the check, state_in_process fails it (exit 1)."""
    base = ["verify", "--api", "sampler", "--kind", "fixed", "--config", "uniform"]
    good = "refsampler.conformance.adapters:refsampler_sampler"
    main([*base[:1], good, *base[1:]])
    rows = [line.split() for line in capsys.readouterr().out.splitlines()]
    assert ["fixed", "uniform", CHECK, "pass"] in [row[:4] for row in rows]
    bad = "refsampler.conformance.mutants:state_in_process"
    assert main([*base[:1], bad, *base[1:], "--failures-only"]) == 1
    rows = [line.split() for line in capsys.readouterr().out.splitlines()]
    assert ["fixed", "uniform", CHECK, "FAIL"] in [row[:4] for row in rows]


def test_a_target_that_cannot_be_imported_by_name_is_noted_not_passed() -> None:
    """A local function (or a lambda, or an object of __main__) cannot be rebuilt in a new
    interpreter: the check is not planned and the notes say so."""

    def local(labels: Any, **kwargs: Any) -> Any:
        return mutants.state_in_process(labels, **kwargs)

    report = _run(local)
    assert CHECK not in {r.check for r in report.results}
    assert any(
        n.startswith("resume in a fresh process not checked: target not importable (")
        and "local function" in n
        for n in report.notes
    ), report.notes


def test_import_spec() -> None:
    """Module-level functions and classes are importable by module and qualified name;
    lambdas, local functions, __main__ objects and names that do not resolve are not."""
    assert fresh.import_spec(refsampler_sampler) == (
        "refsampler.conformance.adapters:refsampler_sampler",
        sys.modules["refsampler.conformance.adapters"].__file__,
        "",
    )
    assert fresh.import_spec(fresh.FreshProcessFailed)[0] == (
        "refsampler.conformance.fresh:FreshProcessFailed"
    )
    assert "lambda" in fresh.import_spec(lambda labels: None)[2]

    def local() -> None: ...

    assert "local function" in fresh.import_spec(local)[2]
    main_object = type("Made", (), {"__module__": "__main__", "__qualname__": "made"})
    assert "__main__" in fresh.import_spec(main_object)[2]
    assert "does not name" in fresh.import_spec(local, "refsampler.conformance.mutants:control")[2]
    assert "no module" in fresh.import_spec(object())[2]


# A generous --timeout: it bounds every call of the run, the correct ones included, so a
# short one would fail them on a loaded machine; the hang waits it out (make test-all).
@pytest.mark.slow
def test_a_child_that_hangs_fails_the_check_under_the_timeout() -> None:
    """A load_state_dict that never returns in the fresh process: the child's timer ends
    it, and the check fails naming the call; every other check passes."""
    report = _run(_fresh_targets.hangs_in_a_fresh_process, kind="quota", timeout=20)
    assert _exact_failures(report) == {CHECK}
    assert _result(report).detail.endswith(
        ": in a fresh process, load_state_dict() did not finish within 20 s (--timeout)"
    )


@pytest.mark.slow  # a child process of its own, killed: seconds (make test-all)
def test_a_child_deaf_to_the_timer_is_killed(monkeypatch: pytest.MonkeyPatch) -> None:
    """A hang no timer signal reaches: the kit kills the child after the startup allowance
    plus the request's share of the timeout, and the check fails."""
    monkeypatch.setattr(fresh, "STARTUP_SECONDS", 3.0)
    monkeypatch.setattr(fresh, "CALLS", 1)  # the kit gives up after 3 + 1 * 10 + 1 s
    report = _run(
        _fresh_targets.deaf_in_a_fresh_process, kind="quota", config="uniform", timeout=10
    )
    assert _exact_failures(report) == {CHECK}
    assert "the fresh process gave no answer within" in _result(report).detail
    assert "killed" in _result(report).detail


@pytest.mark.slow  # a child process of its own, killed: seconds (make test-all)
def test_a_child_that_dies_fails_the_check_and_the_next_run_starts_another() -> None:
    """A child that exits is a failure naming its status and its last word on stderr; the
    kit starts a new one."""
    report = _run(_fresh_targets.dies_in_a_fresh_process, kind="quota")
    assert _exact_failures(report) == {CHECK}
    assert _result(report).detail.endswith(
        ": the fresh process exited with status 3 (out of memory)"
    )
    assert _result(_run(refsampler_sampler, kind="quota")).verdict == "pass"


def test_one_child_serves_every_configuration_and_stops_when_asked() -> None:
    """The child is started once and reused; ``shutdown`` stops it and the next run starts a
    new one."""
    fresh.shutdown()
    assert _result(_run(refsampler_sampler, kind="quota")).verdict == "pass"
    first = fresh._worker
    assert first is not None and first.alive()
    assert _result(_run(refsampler_sampler, kind="fixed", config="uniform")).verdict == "pass"
    assert fresh._worker is first
    fresh.shutdown()
    assert fresh._worker is None and first.process.poll() is not None
    assert _result(_run(refsampler_sampler, kind="fixed", config="uniform")).verdict == "pass"
    assert fresh._worker is not None and fresh._worker is not first


_MODULE = """
from refsampler.conformance.adapters import refsampler_sampler
from refsampler.conformance.mutants import state_in_process


def make_sampler(labels, **kwargs):
    return {body}(labels, **kwargs)
"""


def test_a_module_of_the_same_name_from_another_file_is_imported_afresh(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two modules named alike in two directories (as two tests write them): the child
    imports the second, never the one it imported first."""
    reports = []
    for folder, body in (("a", "refsampler_sampler"), ("b", "state_in_process")):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "restart_target.py").write_text(
            textwrap.dedent(_MODULE.format(body=body))
        )
        monkeypatch.syspath_prepend(str(tmp_path / folder))
        monkeypatch.delitem(sys.modules, "restart_target", raising=False)
        reports.append(_run(load("restart_target:make_sampler", "sampler")))
    assert _result(reports[0]).verdict == "pass"
    assert _exact_failures(reports[1]) == {CHECK}


@pytest.mark.slow  # a kit process of its own, killed, and a wait for its child to notice
def test_the_child_ends_when_the_kit_process_dies(tmp_path: Path) -> None:
    """A kit killed outright (no atexit) leaves no fresh process behind: the child watches
    its parent and exits once it is gone."""
    # The child is busy importing a target that never finishes, so it reads no end of its
    # input: only the watch on its parent can end it.
    (tmp_path / "sleepy.py").write_text("import time\ntime.sleep(3600)\n")
    script = tmp_path / "kit.py"
    script.write_text(
        "import os, signal, sys, time\n"
        "from refsampler.conformance import fresh\n"
        f"sys.path.insert(0, {str(tmp_path)!r})\n"
        f"fresh.warm('sleepy:make', {str(tmp_path / 'sleepy.py')!r})\n"
        "print(fresh._worker.process.pid, flush=True)\n"
        "time.sleep(3)\n"
        "os.kill(os.getpid(), signal.SIGKILL)\n"
    )
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True)
    child = int(done.stdout.split()[0])
    for _ in range(60):  # the child checks its parent every second
        if not _running(child):
            break
        time.sleep(0.5)
    assert not _running(child)


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat", encoding="ascii") as stat:  # a zombie has exited
        return stat.read().split()[2] != "Z"
