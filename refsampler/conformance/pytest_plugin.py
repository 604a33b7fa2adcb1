"""pytest plugin (``pytest11`` entry point ``refsampler``): the kit's options, fixtures and suite.

Options (each also an ini key: ``refsampler_impl``, ``refsampler_api``, ...):
``--refsampler-impl MODULE:CALLABLE``, ``--refsampler-api batches|factory|weights|sampler``,
``--refsampler-kind KIND`` (repeatable), ``--refsampler-level quick|full``,
``--refsampler-seed N``, ``--refsampler-family-level L``, ``--refsampler-timeout SECONDS``,
and for ``--refsampler-api sampler`` only, as ``refsampler verify``'s ``--index-sampler``,
``--epochs`` and ``--world-size``: ``--refsampler-index-sampler`` (the sampler yields single
positions; batch it), ``--refsampler-epochs E`` (at least 2) and ``--refsampler-world-size
W,W,...``. They are read by the same code as the command line's
(:func:`~refsampler.conformance.streams.sampler_options`). Every option is checked when pytest
starts, before collection: a bad value (an unknown kind or level, a seed that is not an int
>= 0, a family level outside (0, 1), a timeout that is not a positive number, a sampler-API
option given with another API, ...) ends the session with one line naming the option and the
value (``ERROR: refsampler: ...``, exit status 4, pytest's usage error). Sessions that leave
every option at its default read none of them, and import nothing for them.

There is no default implementation: a test that needs one when neither ``--refsampler-impl``
nor the ``refsampler_impl`` ini key is set ends the session with one line saying so (exit
status 4, pytest's usage error), so a CI job that forgets the flag fails instead of testing
nothing. So does one that cannot be imported, or whose signature cannot take the API's
arguments (:func:`~refsampler.conformance.runner.check_adapter`).

Fixtures:

* ``refsampler_make_batches``: the implementation under test, adapted to the kit's protocol;
* ``refsampler_kinds``: the kinds under test;
* ``refsampler_verify``: a function ``(kinds=None) -> Report`` that runs
  :func:`refsampler.conformance.verify` on it at the configured level and seed::

      def test_my_sampler_conforms(refsampler_verify):
          report = refsampler_verify()
          assert report.conforms, "\n".join(report.verdict_lines() + report.failure_lines())

* ``refsampler_check``: a test that takes it runs once per check of the kit (one shared
  verify run, one Holm family), like
  :func:`~refsampler.conformance.parametrize_with_checks`;
* ``refsampler_stat_seed``: a seed for a statistical test, derived from ``--refsampler-seed``
  and the test id.

The shipped suite :mod:`refsampler.conformance.suite` is collected only when named (``pytest
--pyargs refsampler.conformance.suite`` or its path), never as a side effect of collecting
the installed package. Loading the plugin imports neither torch nor scipy (every such import
happens inside a hook or fixture that needs it), so it costs nothing in projects that only
have refsampler installed.
"""

from __future__ import annotations

import hashlib
import importlib.util
import sys
from collections.abc import Callable, Generator, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

import pytest

if TYPE_CHECKING:
    from .report import Report

__all__ = [
    "NOTHING_TESTED",
    "NO_IMPLEMENTATION",
    "SUITE",
    "pytest_addoption",
    "pytest_collection_modifyitems",
    "pytest_configure",
    "pytest_generate_tests",
    "pytest_ignore_collect",
    "refsampler_check",
    "refsampler_kinds",
    "refsampler_make_batches",
    "refsampler_stat_seed",
    "refsampler_verify",
]

#: The shipped suite's directory.
SUITE = Path(__file__).resolve().with_name("suite")
#: What a session without an implementation ends with.
NO_IMPLEMENTATION = (
    "refsampler: no implementation to test: pass --refsampler-impl=MODULE:CALLABLE "
    "(or set refsampler_impl in the [pytest] ini options)"
)

_OPTIONS: tuple[tuple[str, str, Any, str], ...] = (
    ("impl", "MODULE:CALLABLE", None, "the sampler implementation under test"),
    (
        "api",
        "API",
        "batches",
        "how to call it: batches, factory, weights or sampler (default: batches)",
    ),
    ("level", "LEVEL", "quick", "conformance level: quick or full (default: quick)"),
    ("seed", "N", "0", "base seed of the checks (default: 0)"),
    ("family-level", "L", None, "family-wise false-alarm rate of a verify run (default: 1e-6)"),
    ("timeout", "SECONDS", None, "time limit of one call of the implementation (default: none)"),
    (
        "epochs",
        "E",
        None,
        "with --refsampler-api sampler: epochs of the epoch checks, at least 2 "
        "(default: 3 quick, 4 full)",
    ),
    (
        "world-size",
        "W,W,...",
        None,
        "with --refsampler-api sampler: world sizes of the rank checks (default: 1,2)",
    ),
)
#: The flag's help (and its ini key's, a bool).
_INDEX_SAMPLER_HELP = (
    "with --refsampler-api sampler: the sampler yields single positions; batch it with "
    "BatchSampler(sampler, batch_size, drop_last=False)"
)


def pytest_addoption(parser: pytest.Parser) -> None:
    """Register the ``--refsampler-*`` options and their ini keys."""
    group = parser.getgroup("refsampler", "refsampler conformance kit")
    for name, metavar, default, help_text in _OPTIONS:
        group.addoption(f"--refsampler-{name}", default=None, metavar=metavar, help=help_text)
        parser.addini(f"refsampler_{name.replace('-', '_')}", help_text, default=default)
    group.addoption(
        "--refsampler-index-sampler",
        action="store_true",
        default=None,
        help=_INDEX_SAMPLER_HELP,
    )
    parser.addini("refsampler_index_sampler", _INDEX_SAMPLER_HELP, type="bool", default=False)
    group.addoption(
        "--refsampler-kind",
        action="append",
        default=None,
        metavar="KIND",
        help="kind to check (repeatable; default: every kind the API can express)",
    )


@pytest.hookimpl(trylast=True)  # after conftests that default the options have run
def pytest_configure(config: pytest.Config) -> None:
    """Register the ``statistical`` marker the suite uses (for ``--strict-markers``), and the
    watch on the kit's tests that fails a session in which all of them were skipped; refuse
    bad values of the kit's options (a usage error, exit status 4) before anything runs."""
    config.addinivalue_line(
        "markers",
        "statistical(level): probabilistic test whose false-failure rate is at most level",
    )
    config.pluginmanager.register(_Outcomes(config), "refsampler-outcomes")
    if _options_given(config):
        from ..errors import InvalidArgumentError

        try:
            _read_options(config)
        except InvalidArgumentError as exc:
            # Now, before collection: under pytest-xdist no worker starts, and the shipped
            # suite's parametrization never meets an unknown kind or level.
            raise pytest.UsageError(f"refsampler: {exc}") from None


def _setting(config: pytest.Config, name: str) -> Any:
    value = config.getoption(f"--refsampler-{name}")
    if value is None:
        value = config.getini(f"refsampler_{name.replace('-', '_')}")
    return value


def _options_given(config: pytest.Config) -> bool:
    """Whether any option of the kit differs from its default (only then are they read, so
    that a session that does not use the kit imports nothing for it)."""
    if config.getoption("--refsampler-kind") or _setting(config, "index-sampler"):
        return True
    return any(
        _setting(config, name) not in (None, "", default) for name, _, default, _ in _OPTIONS
    )


class _Options(NamedTuple):
    """The kit's options of a session, checked (see :func:`_read_options`)."""

    api: str
    kinds: tuple[str, ...]
    level: str
    seed: int
    family_level: float
    timeout: float | None
    index_sampler: bool
    epochs: int | None
    world_sizes: tuple[int, ...] | None


def _number(value: Any, kind: type[int] | type[float]) -> Any:
    """A command line's or ini file's text as a number; the text itself when it is none (the
    check that follows then shows it as given)."""
    if not isinstance(value, str):
        return value
    try:
        return kind(value)
    except ValueError:
        return value


def _read_options(config: pytest.Config) -> _Options:
    """Every option of the kit, checked as ``refsampler verify`` checks its own.

    Raises
    ------
    InvalidArgumentError
        For a bad value; the message names the option (``--refsampler-...``) and the value.
    """
    from .. import _validate
    from .. import kinds as _registry
    from ..errors import InvalidArgumentError
    from .adapters import api_kinds
    from .constants import API_NAMES, FAMILY_LEVEL
    from .runner import check_settings
    from .streams import sampler_options

    api = str(_setting(config, "api"))
    if api not in API_NAMES:
        raise _validate.fail("--refsampler-api", "must be one of " + ", ".join(API_NAMES), api)
    given = _setting(config, "family-level")
    timeout = _setting(config, "timeout")
    level, seed, family_level, timeout = check_settings(
        str(_setting(config, "level")),
        _number(_setting(config, "seed"), int),
        FAMILY_LEVEL if given in (None, "") else _number(given, float),
        None if timeout in (None, "") else _number(timeout, float),
        option=lambda name: "--refsampler-" + name.replace("_", "-"),
    )
    possible = api_kinds(api)
    chosen = config.getoption("--refsampler-kind")
    kinds = tuple(dict.fromkeys(chosen)) if chosen else possible
    for kind in kinds:
        if kind in possible:
            continue
        if kind in _registry.names():  # a kind the kit checks, but not through this API
            raise InvalidArgumentError(
                f"`--refsampler-api {api}` cannot implement kind {kind!r}; it can implement "
                + ", ".join(possible)
            )
        raise _validate.fail("--refsampler-kind", "must be one of " + ", ".join(possible), kind)
    sampler = sampler_options(
        api,
        index_sampler=bool(_setting(config, "index-sampler")),
        epochs=_setting(config, "epochs"),
        world_size=_setting(config, "world-size"),
        prefix="--refsampler-",
    )
    return _Options(api, kinds, level, seed, family_level, timeout, *sampler)


_READ = pytest.StashKey["_Options"]()


def _options(config: pytest.Config) -> _Options:
    """:func:`_read_options` for a hook or fixture, read once a session (every test asks): a
    bad value ends the session with its message (exit status 4). ``pytest_configure`` has
    refused bad values already; this catches a value a later plugin or conftest set."""
    from ..errors import InvalidArgumentError

    options = config.stash.get(_READ, None)
    if options is None:
        try:
            options = config.stash[_READ] = _read_options(config)
        except InvalidArgumentError as exc:
            pytest.exit(f"refsampler: {exc}", returncode=pytest.ExitCode.USAGE_ERROR)
    return options


def _stream_options(options: _Options) -> dict[str, Any]:
    """``verify``'s ``epochs`` and ``world_sizes`` from the options."""
    return {"epochs": options.epochs, "world_sizes": options.world_sizes}


# -- the suite is collected only when named ---------------------------------------------------


def _inside_suite(path: Path) -> bool:
    return path == SUITE or SUITE in path.parents


def _named(config: pytest.Config) -> bool:
    for arg in config.args:
        target = str(arg).split("::", 1)[0]
        path = Path(config.invocation_params.dir, target)
        if config.option.pyargs and not path.exists():
            try:
                spec = importlib.util.find_spec(target)
            except (ImportError, ValueError):
                continue
            if spec is None:
                continue
            if spec.submodule_search_locations:
                path = Path(next(iter(spec.submodule_search_locations)))
            elif spec.origin:
                path = Path(spec.origin)
        if path.exists() and _inside_suite(path.resolve()):
            return True
    return False


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    """Skip the shipped suite unless it was named on the command line."""
    if not _inside_suite(Path(collection_path).resolve()):
        return None
    return None if _named(config) else True


# -- fixtures ---------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def refsampler_make_batches(pytestconfig: pytest.Config) -> Any:
    """The implementation under test (``--refsampler-impl``), adapted to the protocol."""
    from ..errors import InvalidArgumentError
    from . import adapters
    from .streams import SamplerAdapter

    spec = _setting(pytestconfig, "impl")
    if not spec:
        pytest.exit(NO_IMPLEMENTATION, returncode=pytest.ExitCode.USAGE_ERROR)
    here = str(pytestconfig.invocation_params.dir)
    if here not in sys.path:
        # As `refsampler verify` does, find `mypkg` in the directory pytest was started from
        # (bare `pytest`, unlike `python -m pytest`, does not put it on sys.path); appended,
        # so it never shadows an installed module.
        sys.path.append(here)
    from .runner import check_adapter

    options = _options(pytestconfig)
    try:
        adapter = adapters.load(str(spec), options.api, index_sampler=options.index_sampler)
        check_adapter(adapter, "--refsampler-impl", repr(str(spec)))
    except InvalidArgumentError as exc:
        pytest.exit(f"refsampler: {exc}", returncode=pytest.ExitCode.USAGE_ERROR)
    if isinstance(adapter, SamplerAdapter):  # its messages name this plugin's flag
        adapter.index_sampler_option = "--refsampler-index-sampler"
    return adapter


@pytest.fixture(scope="session")
def refsampler_kinds(pytestconfig: pytest.Config) -> tuple[str, ...]:
    """The kinds under test (``--refsampler-kind``; default every kind the API can express)."""
    return _options(pytestconfig).kinds


@pytest.fixture(scope="session")
def refsampler_verify(
    pytestconfig: pytest.Config, refsampler_make_batches: Any
) -> Callable[..., Report]:
    """``verify`` bound to the implementation, level, seed and kinds chosen for the session."""
    from .runner import verify

    def run(kinds: Iterable[str] | None = None) -> Report:
        options = _options(pytestconfig)
        return verify(
            refsampler_make_batches,
            kinds=options.kinds if kinds is None else tuple(kinds),
            level=options.level,
            seed=options.seed,
            family_level=options.family_level,
            timeout=options.timeout,
            name=str(_setting(pytestconfig, "impl")),
            **_stream_options(options),
        )

    return run


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Give a test that takes ``refsampler_check`` one case per check of the kit."""
    if "refsampler_check" not in metafunc.fixturenames:
        return
    from .configs import CONFIGS
    from .parametrize import checks_of

    config = metafunc.config
    options = _options(config)
    kinds = options.kinds
    planned: list[Any] = checks_of(kinds, CONFIGS, options.level, options.family_level)
    planned += [f"{kind}-tested" for kind in kinds]
    metafunc.parametrize(
        "refsampler_check",
        planned,
        ids=[p if isinstance(p, str) else p.id for p in planned],
        indirect=True,
    )


_RUN = pytest.StashKey[Any]()
_SELECTED = pytest.StashKey[set[tuple[str, str]]]()
#: The keyword that marks the kit's own test items (their reports carry it, also from xdist).
_KIT = "refsampler_kit"
#: What a session whose every selected check of the kit was skipped ends with.
NOTHING_TESTED = (
    "refsampler: every selected test of the kit was skipped (declined, or not for the kinds "
    "under test): nothing was tested"
)


def _kit_param(item: pytest.Item) -> tuple[tuple[int, str], bool] | None:
    """``((run, kind), is_kind_tested)`` of a check item of the kit, None for other items.

    ``run`` tells the plugin's shared run (0) from each ``parametrize_with_checks`` run. The
    parametrize module is looked up, not imported: loading it imports scipy, and a session
    that never imported it has no such items.
    """
    spec = getattr(item, "callspec", None)
    if spec is None:
        return None
    param = spec.params.get("refsampler_check")
    if isinstance(param, str):
        return (0, param.removesuffix("-tested")), True
    if param is not None:
        return (0, param.kind), False
    check_item = getattr(sys.modules.get(f"{__package__}.parametrize"), "CheckItem", None)
    for value in spec.params.values():
        if check_item is not None and isinstance(value, check_item):
            return (id(value.run), value.kind), value.planned is None
    return None


@pytest.hookimpl(wrapper=True)
def pytest_collection_modifyitems(
    config: pytest.Config, items: list[pytest.Item]
) -> Generator[None, None, None]:
    """Keep each ``<kind>-tested`` test while any check test of its kind is selected, and
    remember which (kind, configuration) pairs the selected check tests need.

    ``-k`` and ``-m`` never deselect a ``<kind>-tested`` test whose kind has a selected check
    test: it is what fails when everything selected was declined, and what reports the
    failures of checks without a test of their own (the sampler API's). The shared run then
    draws nothing for checks ``-k`` or ``--deselect`` left out; a ``<kind>-tested`` test
    selected without check tests of its kind needs every configuration of the kind.
    """
    params = {id(item): _kit_param(item) for item in items}
    checked = {p[0] for p in params.values() if p is not None and not p[1]}
    held = [
        item for item in items if (p := params[id(item)]) is not None and p[1] and p[0] in checked
    ]
    if held:
        items[:] = [item for item in items if item not in held]
    yield
    selected = {p[0] for item in items if (p := params.get(id(item))) is not None and not p[1]}
    kept = [item for item in held if params[id(item)][0] in selected]  # type: ignore[index]
    dropped = [item for item in held if item not in kept]
    if dropped:
        config.hook.pytest_deselected(items=dropped)
    items.extend(kept)
    pairs: set[tuple[str, str]] = set()
    for item in items:
        spec = getattr(item, "callspec", None)
        param = spec.params.get("refsampler_check") if spec is not None else None
        if isinstance(param, str):
            kind = param.removesuffix("-tested")
            if (0, kind) not in selected:
                pairs.add((kind, "*"))
        elif param is not None:
            pairs.add((param.kind, param.config))
        if params.get(id(item)) is not None or _inside_suite(Path(item.path).resolve()):
            item.keywords[_KIT] = 1
    config.stash[_SELECTED] = pairs


class _Outcomes:
    """Counts the kit's tests that ran (passed or failed) and those skipped; a session in which
    every selected test of the kit was skipped fails, since skipping everything is no pass.

    On xdist workers nothing is decided: the controller sees every worker's reports.
    """

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.ran = self.skipped = 0

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        """Count one phase of a kit test."""
        if _KIT not in report.keywords:
            return
        if report.skipped:
            self.skipped += 1
        elif report.when == "call" or report.failed:
            self.ran += 1

    def nothing_tested(self) -> bool:
        """Every kit test that reported was skipped (and some reported)."""
        worker = hasattr(self.config, "workerinput")
        return not worker and self.skipped > 0 and self.ran == 0

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        """Fail a session that would pass having tested nothing."""
        if self.nothing_tested() and session.exitstatus == pytest.ExitCode.OK:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        """Say why such a session failed."""
        if self.nothing_tested():
            terminalreporter.write_line(NOTHING_TESTED, red=True)


@pytest.fixture
def refsampler_check(request: pytest.FixtureRequest) -> Any:
    """One check of the session's shared verify run: call it in the test body."""
    from .parametrize import CheckItem, SharedRun

    config = request.config
    run = config.stash.get(_RUN, None)
    if run is None:
        from .configs import CONFIGS

        wanted = config.stash.get(_SELECTED, set())
        # A "<kind>-tested" test needs every configuration of its kind.
        select = {(kind, c.name) for kind, name in wanted for c in CONFIGS if name in ("*", c.name)}
        options = _options(config)
        run = SharedRun(
            None,
            resolve=lambda: request.getfixturevalue("refsampler_make_batches"),
            kinds=options.kinds,
            level=options.level,
            seed=options.seed,
            family_level=options.family_level,
            timeout=options.timeout,
            name=str(_setting(config, "impl")),
            select=select,
            **_stream_options(options),
        )
        config.stash[_RUN] = run
    param = request.param
    if isinstance(param, str):
        return CheckItem(run, None, param.removesuffix("-tested"))
    return CheckItem(run, param, param.kind)


@pytest.fixture
def refsampler_stat_seed(request: pytest.FixtureRequest) -> int:
    """A 63-bit seed from ``--refsampler-seed`` and the test's id (reproducible per test)."""
    base = _options(request.config).seed
    digest = hashlib.blake2b(f"{base}:{request.node.nodeid}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little") >> 1
