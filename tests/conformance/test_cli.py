"""Tests of refsampler.conformance.cli: `refsampler verify` output and exit codes."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from refsampler.cli import main
from refsampler.conformance.cli import EXIT_CODES, configs_table
from refsampler.conformance.configs import CONFIGS
from refsampler.conformance.mutants import MUTANTS

from ._shared import CAUGHT_BY, TEST_LEVEL, slow_except

MUTANTS_MODULE = "refsampler.conformance.mutants"
#: Every verify run of a correct implementation here uses the tests' family-wise level.
LEVEL = ["--family-level", str(TEST_LEVEL)]
#: P(a mutant run below misses its mutant): see test_mutants.MISS_BOUND.
MISS_BOUND = 1e-12


@pytest.mark.statistical(level=TEST_LEVEL)
def test_a_conforming_implementation_exits_0_with_table_and_verdicts(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A correct sampler exits 0; stdout has the table and one verdict line per kind."""
    code = main(
        [
            "verify",
            f"{MUTANTS_MODULE}:control",
            "--kind",
            "fixed",
            "--config",
            "uniform",
            "--config",
            "long-tail",
            *LEVEL,
        ]
    )
    out, err = capsys.readouterr()
    lines = out.splitlines()
    assert code == 0
    assert lines[1].split()[:4] == ["kind", "config", "check", "verdict"]
    assert lines[-1].startswith("fixed: conforms (2 configurations, ") and "failures:" not in out
    assert "fixed  uniform" in err  # progress goes to stderr


#: The command line's path is the same for every mutant (test_mutants runs each through
#: verify): `make test` runs one per family of checks, `make test-all` all of them.
FAST_MUTANTS = ("constant_seed", "tail_boost", "partial_dedupe", "locked_rotation")


@pytest.mark.statistical(level=MISS_BOUND)
@pytest.mark.parametrize("name", slow_except(sorted(MUTANTS), FAST_MUTANTS))
def test_every_mutant_exits_1(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    """Every deliberately broken sampler exits 1 (its catching configuration, fail-fast)."""
    kind, config, check = CAUGHT_BY[name]
    code = main(
        [
            "verify",
            f"{MUTANTS_MODULE}:{name}",
            "--kind",
            kind,
            "--config",
            config,
            "--fail-fast",
            "--failures-only",
            *LEVEL,
        ]
    )
    out = capsys.readouterr().out
    assert code == 1, out
    assert "VIOLATES the contract" in out and "\nfailures:\n" in out
    assert f"{kind}/{config}/{check}" in out


@pytest.mark.statistical(level=TEST_LEVEL)
@pytest.mark.parametrize(
    ("impl", "api", "kind"),
    [
        ("alpha_one_control", "batches", "fixed"),
        ("imbalanced_dataset_sampler", "batches", "random"),
        ("inverse_count_weights", "weights", "random"),
    ],
)
def test_alpha_one_samplers_are_tested_on_their_configurations(
    impl: str, api: str, kind: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """The 1/count recipe, torchsampler's recipe and an alpha = 1 wrapper exit 0 with their
    alpha = 1 configurations actually tested and the others listed as declined."""
    code = main(["verify", f"{MUTANTS_MODULE}:{impl}", "--api", api, "--kind", kind, *LEVEL])
    out = capsys.readouterr().out
    verdict = out.splitlines()[-1]
    assert code == 0, out
    ran = int(re.search(r"\((\d+) configurations?, (\d+) checks? passed\)", verdict)[1])
    passed = int(re.search(r"(\d+) checks passed", verdict)[1])
    assert ran >= 3 and passed > 30
    assert "declined: " in verdict and "alpha" in verdict


def test_declining_everything_exits_3(capsys: pytest.CaptureFixture[str]) -> None:
    """Nothing tested is not a pass."""
    assert main(["verify", f"{MUTANTS_MODULE}:declines_everything"]) == 3
    lines = capsys.readouterr().out.splitlines()
    assert any(
        line.startswith("random: NOT TESTED: every configuration was declined: uniform")
        for line in lines
    )
    assert lines[-1].startswith("pk: NOT TESTED: every configuration was declined")


def test_a_factory_that_shuffles_the_class_lists_exits_1(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The in-place shuffle of class_idxs is reported by inputs_unchanged."""
    code = main(
        [
            "verify",
            f"{MUTANTS_MODULE}:ShufflingFactory",
            "--api",
            "factory",
            "--kind",
            "fixed",
            "--config",
            "uniform",
            "--fail-fast",
        ]
    )
    out = capsys.readouterr().out
    assert code == 1
    assert "class_idxs[0] reordered while building the sampler" in out


@pytest.mark.statistical(level=TEST_LEVEL)
def test_a_factory_without_a_kind_declines_it(capsys: pytest.CaptureFixture[str]) -> None:
    """Its other kinds are checked; the missing kind is declined, never a violation: 0 when
    only the kinds it has are asked for, 3 when the missing one is too."""
    base = [
        "verify",
        f"{MUTANTS_MODULE}:KindRejectingFactory",
        "--api",
        "factory",
        *LEVEL,
        "--config",
        "tied-remainders",
    ]
    assert main([*base, "--kind", "fixed", "--kind", "random"]) == 0
    capsys.readouterr()
    assert main([*base, "--kind", "quota"]) == 3
    out = capsys.readouterr().out
    assert (
        "quota: NOT TESTED: every configuration was declined: tied-remainders "
        "(NotImplementedError: the factory rejects kind 'quota': Received kind quota" in out
    )


def test_an_implementation_that_hangs_fails_runs_under_a_timeout(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """--timeout turns a call that never returns into a failed check (exit 1)."""
    code = main(
        [
            "verify",
            f"{MUTANTS_MODULE}:hangs",
            "--kind",
            "fixed",
            "--config",
            "uniform",
            "--timeout",
            "0.3",
        ]
    )
    out = capsys.readouterr().out
    assert code == 1
    assert "no result within 0.3 s (--timeout)" in out


def test_an_implementation_that_exits_is_an_adapter_error(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """SystemExit from the implementation: exit 2 with one line, never a silent verdict."""
    assert main(["verify", f"{MUTANTS_MODULE}:exits"]) == 2
    err = capsys.readouterr().err.splitlines()
    assert err[-1].startswith(
        f"refsampler verify: error: {MUTANTS_MODULE}:exits: the implementation raised SystemExit(3)"
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["no_colon"], "`impl` must look like MODULE:CALLABLE; got 'no_colon'."),
        (
            ["refsampler.nowhere:f"],
            "`impl` could not be imported (No module named 'refsampler.nowhere'); "
            "got 'refsampler.nowhere:f'.",
        ),
        (["refsampler:__version__"], "`impl` must name a callable; got 'refsampler:__version__'."),
        ([], "the MODULE:CALLABLE argument is required (or --list-configs)"),
        (
            [f"{MUTANTS_MODULE}:control", "--config", "nope"],
            "`configs` must name configurations among uniform, long-tail, tiny-classes, "
            "small-batch, wrap-in-batch, single-class, tied-remainders, remainder-order, "
            "rotation, many-classes, schedule, pk-rotation, pk-long-tail, pk-every-batch; got "
            "'nope'.",
        ),
        (
            ["refsampler.weights:sample_weights", "--api", "weights", "--kind", "fixed"],
            "`--api weights` cannot implement kind 'fixed'; it can implement random",
        ),
        (
            [f"{MUTANTS_MODULE}:control", "--kind", "fixed", "--config", "rotation"],
            "`configs` must include a configuration kind 'fixed' applies to; got ['rotation'].",
        ),
    ],
)
def test_usage_errors_exit_2_with_one_line(
    args: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Malformed, missing or non-callable specs and bad selections: exit 2, one line."""
    assert main(["verify", *args]) == 2
    assert capsys.readouterr().err == f"refsampler verify: error: {message}\n"


@pytest.mark.parametrize("option", [["--world-size", "0"], ["--epochs", "3"], ["--index-sampler"]])
def test_sampler_api_options_without_the_sampler_api_exit_2(
    option: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    """Options only the sampler API reads are refused, not ignored, for the other APIs."""
    assert main(["verify", f"{MUTANTS_MODULE}:control", *option]) == 2
    assert capsys.readouterr().err == (
        "refsampler verify: error: --index-sampler, --epochs and --world-size need --api "
        "sampler\n"
    )


@pytest.mark.statistical(level=TEST_LEVEL)
def test_without_kind_the_chosen_configurations_pick_the_kinds(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """--config alone runs the kinds those configurations serve (rotation has more classes
    than a batch has seats, so no fixed counts), instead of refusing the kinds they do not."""
    path = tmp_path / "report.json"
    target = f"{MUTANTS_MODULE}:control"
    code = main(["verify", target, "--config", "rotation", "--json", str(path), *LEVEL])
    assert code == 0, capsys.readouterr().err
    runs = json.loads(path.read_text())["configurations"]
    assert sorted(run["kind"] for run in runs) == ["quota", "random"]
    assert {run["status"] for run in runs} == {"ran"}


def test_an_import_that_raises_anything_exits_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A module that raises (not ImportError) or exits while importing is a usage error."""
    (tmp_path / "kit_cli_probe.py").write_text("raise KeyError('CUDA_HOME')\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", list(sys.path))
    assert main(["verify", "kit_cli_probe:f"]) == 2
    assert "importing it raised KeyError: 'CUDA_HOME'" in capsys.readouterr().err
    sys.modules.pop("kit_cli_probe", None)


def test_bad_flag_exits_2() -> None:
    """argparse rejects an unknown kind with exit code 2."""
    with pytest.raises(SystemExit) as exc:
        main(["verify", f"{MUTANTS_MODULE}:control", "--kind", "sorted"])
    assert exc.value.code == 2


def test_list_configs_prints_every_configuration(capsys: pytest.CaptureFixture[str]) -> None:
    """Name, K, class counts, B, alpha, batches per kind, and what it probes; no impl needed."""
    assert main(["verify", "--list-configs"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split()[:6] == ["name", "K", "class", "counts", "B", "alpha"]
    assert [line.split()[0] for line in lines[2:]] == [c.name for c in CONFIGS]
    rotation = next(line for line in lines if line.startswith("rotation"))
    assert "fixed -, quota 4096, random 16384" in rotation
    only_random = configs_table(kinds=("random",))
    assert "random 6554" in only_random and not re.search(r"fixed (\d+|-)", only_random)


def test_list_configs_follows_the_api(capsys: pytest.CaptureFixture[str]) -> None:
    """--api weights can only run the random kind, so only its batches are listed."""
    assert main(["verify", "--list-configs", "--api", "weights"]) == 0
    out = capsys.readouterr().out
    assert "random 6554" in out and not re.search(r"fixed (\d+|-)", out)


def test_json_report_and_the_printed_rerun_command(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """--json writes every configuration; the failing one's re-run command reproduces it."""
    path = tmp_path / "report.json"
    spec = f"{MUTANTS_MODULE}:one_based"
    code = main(["verify", spec, "--kind", "quota", "--json", str(path), "--fail-fast"])
    data = json.loads(path.read_text())
    assert (code, data["conforms"], data["exit_code"]) == (1, False, 1)
    assert data["implementation"] == f"{spec} (api=batches)"
    first = data["configurations"][0]
    assert first["status"] == "failed" and first["checks"][2]["check"] == "positions_in_range"
    assert first["class_counts"] == [300, 100, 50, 20, 5] and first["n_batches"] == 1639
    out = capsys.readouterr().out
    rerun = re.search(r"re-run quota/uniform alone: (refsampler verify .*)", out)
    assert rerun is not None
    assert (
        rerun[1] == f"refsampler verify {spec} --api batches --kind quota --config uniform "
        "--seed 0 --level quick"
    )
    assert main(rerun[1].split()[1:]) == 1
    assert "quota/uniform/positions_in_range" in capsys.readouterr().out


def test_help_says_verify_runs_the_named_code_and_lists_exit_codes(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """--help warns that the code is imported and run, and explains 0, 1, 2 and 3."""
    with pytest.raises(SystemExit):
        main(["verify", "--help"])
    out = " ".join(capsys.readouterr().out.split())
    assert "verify IMPORTS the named module and RUNS the named code" in out
    for code, text in EXIT_CODES.items():
        assert f"{code} {' '.join(text.split())}" in out


PROJECT = """
from refsampler.conformance.mutants import one_based as make_batches
"""


@pytest.mark.parametrize("launcher", ["console script", "python -m"])
def test_the_documented_command_works_from_the_project_directory(
    launcher: str, tmp_path: Path
) -> None:
    """`refsampler verify mypkg.sampling:make_batches` imports mypkg from the current
    directory, like `python -m refsampler` (exit 1 here, from the checks, not 2)."""
    package = tmp_path / "mypkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "sampling.py").write_text(PROJECT)
    script = Path(sys.executable).with_name("refsampler")
    command = (
        [str(script)] if launcher == "console script" else [sys.executable, "-m", "refsampler"]
    )
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    done = subprocess.run(
        [
            *command,
            "verify",
            "mypkg.sampling:make_batches",
            "--kind",
            "fixed",
            "--config",
            "uniform",
            "--fail-fast",
        ],
        capture_output=True,
        text=True,
        check=False,
        cwd=tmp_path,
        env=env,
    )
    assert done.returncode == 1, done.stderr
    assert "fixed/uniform/positions_in_range" in done.stdout


@pytest.mark.slow
@pytest.mark.statistical(level=1e-7)
def test_full_run_of_refsampler_exits_0() -> None:
    """The acceptance run: refsampler's adapter, every kind, level full, exits 0
    (false-failure rate 1e-7: one run at --family-level 1e-7)."""
    command = [
        sys.executable,
        "-m",
        "refsampler",
        "verify",
        "refsampler.conformance.adapters:refsampler",
        "--kind",
        "all",
        "--level",
        "full",
        "--family-level",
        "1e-7",
    ]
    done = subprocess.run(command, capture_output=True, text=True, check=False, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:]


#: The start of the message for a bad --world-size.
WORLD_SIZE = "`--world-size` must be comma-separated positive integers; got "


@pytest.mark.parametrize(
    ("option", "message"),
    [
        (["--epochs", "0"], "`--epochs` must be an int >= 2; got 0."),
        (["--epochs", "1"], "`--epochs` must be an int >= 2; got 1."),
        (["--world-size", "0,2"], WORLD_SIZE + "'0,2'."),
        (["--world-size", "1,x"], WORLD_SIZE + "'1,x'."),
        (["--world-size", "1_0"], WORLD_SIZE + "'1_0'."),  # int() would read 10
    ],
)
def test_bad_sampler_api_options_exit_2_with_one_line(
    option: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Too few epochs get one message whatever the number (the minimum is 2), and so does
    a bad world size; nothing is imported or run."""
    code = main(["verify", f"{MUTANTS_MODULE}:replays_epoch_0", "--api", "sampler", *option])
    assert code == 2
    assert capsys.readouterr().err == f"refsampler verify: error: {message}\n"


def test_help_states_the_fewest_epochs(capsys: pytest.CaptureFixture[str]) -> None:
    """--help gives --epochs' minimum beside its default."""
    with pytest.raises(SystemExit):
        main(["verify", "--help"])
    out = " ".join(capsys.readouterr().out.split())
    assert "epochs of the epoch checks, at least 2 (default: 3 quick, 4 full)" in out


def test_a_json_path_in_a_missing_directory_exits_2_before_the_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """--json into a directory that does not exist is refused up front (no progress, no
    table), not after the whole run."""
    path = tmp_path / "missing" / "report.json"
    assert main(["verify", f"{MUTANTS_MODULE}:control", "--json", str(path)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == (
        "refsampler verify: error: `--json` must name a file in an existing, writable "
        f"directory; got {str(path)!r}.\n"
    )


@pytest.mark.parametrize(
    ("sizes", "message"),
    [
        ("1,,2", "`--world-size` must be comma-separated positive integers; got '1,,2'."),
        ("1,100000", "`--world-size` must not exceed 256 ranks; got '1,100000'."),
    ],
)
def test_a_world_size_with_an_empty_item_or_too_many_ranks_exits_2(
    sizes: str, message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """An empty item is a typo, not a separator; 100000 ranks would run for hours."""
    code = main(
        [
            "verify",
            "refsampler.conformance.adapters:refsampler_sampler",
            "--api",
            "sampler",
            "--world-size",
            sizes,
        ]
    )
    assert code == 2
    assert capsys.readouterr().err == f"refsampler verify: error: {message}\n"


@pytest.mark.parametrize(
    ("impl", "api", "message"),
    [
        (
            f"{MUTANTS_MODULE}:control",
            "sampler",
            "`impl` cannot be called as make_sampler(labels, *, kind, alpha, batch_size, "
            "n_batches, seed, num_replicas, rank) (got an unexpected keyword argument "
            "'num_replicas'; it takes no num_replicas or rank: check it with the batches API); "
            f"got '{MUTANTS_MODULE}:control'.",
        ),
        (
            "refsampler.conformance.adapters:refsampler_sampler",
            "batches",
            "`impl` cannot be called as make_batches(labels, *, kind, alpha, batch_size, "
            "n_batches, seed) (missing a required argument: 'num_replicas'; it takes "
            "num_replicas and rank: check a sampler with the sampler API); got "
            "'refsampler.conformance.adapters:refsampler_sampler'.",
        ),
    ],
)
def test_an_implementation_the_api_cannot_call_exits_2(
    impl: str, api: str, message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """An implementation whose signature cannot take the API's keywords is a usage error
    (exit 2, as for one that cannot be imported), not a contract violation (exit 1)."""
    assert main(["verify", impl, "--api", api]) == 2
    captured = capsys.readouterr()
    assert captured.err == f"refsampler verify: error: {message}\n"
    assert "VIOLATES" not in captured.out


def test_the_how_tos_failure_example_is_what_verify_prints(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The "Read a failure" output in docs/how-to/verify-your-sampler.md is the command's
    standard output, line for line (the run's duration aside)."""
    page = Path(__file__).resolve().parents[2] / "docs" / "how-to" / "verify-your-sampler.md"
    text = page.read_text(encoding="utf-8")
    section = text[text.index("## 4. Read a failure") :]
    command = re.search(r"```bash\nrefsampler (verify [^\n]+)\n```", section)
    shown = re.search(r"```text\n(.*?)```", section, re.DOTALL)
    assert command is not None and shown is not None
    assert main(command[1].split()) == 1
    printed = capsys.readouterr().out

    def timeless(out: str) -> str:
        return re.sub(r"checks in [0-9.]+ s", "checks in T s", out)

    assert timeless(printed) == timeless(shown[1])
