"""``verify``: run every check of the kit against one implementation.

Sample sizes
------------
A run makes ``m`` statistical assertions (:func:`planned_assertions`) and decides them with
Holm's procedure at the family-wise level ``family_level`` (default
:data:`~refsampler.conformance.stats.FAMILY_LEVEL`, 1e-6). Holm never compares a p-value with
less than ``family_level / m``, so a test that has power 0.999 at that Bonferroni level keeps
it inside Holm. At ``level="full"`` kinds with the iid-classes property draw
:func:`~refsampler.conformance.stats.draws_for_family` ``(m)`` positions per configuration: the
normal-approximation sample size of a two-sided binomial test of a share of 1/2 (the largest
variance, so the worst case) against a shift of one percentage point, at level
``family_level / m`` and power 0.999. Every per-class binomial test therefore detects a
1-point shift of any class share with power >= 0.999. ``level="quick"`` draws
:data:`QUICK_DRAWS` and reports the (larger) shift it detects. Kinds with counts properties
are checked exactly; their draw counts only need enough cycles and batches for the cycle,
order and mixing checks.

Declines and failures
---------------------
An implementation declines a configuration by raising ``NotImplementedError``; the kit skips
that configuration only and lists it with the reason. Any other exception, or a call that
outlasts ``timeout``, fails the configuration's ``runs`` check. A kind none of whose
configurations ran is *not tested*: the run does not conform (exit status 3 from the command
line).
"""

from __future__ import annotations

import hashlib
import numbers
import time
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from .. import _validate
from .. import kinds as _kinds
from ..errors import InvalidArgumentError
from . import calls, checks, counts, mixing, properties, stats, streams
from .configs import CONFIGS, Config, by_name
from .constants import LEVELS
from .report import ConfigRun, Report
from .results import CheckResult
from .sample import Sample, Setting

__all__ = [
    "COUNTED_DRAWS",
    "LEVELS",
    "NO_RANK_CHECKS",
    "QUICK_DRAWS",
    "REPEAT_BATCHES",
    "check_adapter",
    "check_settings",
    "default_kinds",
    "missing_options",
    "plan_run",
    "planned_assertions",
    "run_seed",
    "served_kinds",
    "validate_options",
    "verify",
]

#: Draws per configuration of iid kinds at ``level="quick"``.
QUICK_DRAWS = 1 << 16
#: Draws per configuration of the other kinds, per level.
COUNTED_DRAWS = {"quick": 1 << 14, "full": 1 << 16}
#: Batches of each short determinism run (at most; never more than the main run): seeds
#: ``s``, ``s + 1`` and the far seeds. The same-seed re-run repeats the whole main run.
REPEAT_BATCHES = 256
Progress = Callable[[str], None]


def default_kinds() -> tuple[str, ...]:
    """Every registered kind the kit can check, in registry order."""
    return tuple(k for k in _kinds.names() if properties.checkable(k))


def _draws(kind: str, level: str, n_assertions: int, family_level: float) -> int:
    if _kinds.PROPERTY_IID_CLASSES not in _kinds.get(kind).properties:
        return COUNTED_DRAWS[level]
    if level == "quick":
        return QUICK_DRAWS
    return stats.draws_for_family(n_assertions, family_level=family_level)


def _settings(
    kinds: tuple[str, ...],
    configs: tuple[Config, ...],
    level: str,
    family_level: float,
    n_assertions: int,
    stream_plan: Any = None,
) -> list[Setting]:
    out = []
    for kind in kinds:
        draws = _draws(kind, level, n_assertions, family_level)
        for config in configs:
            if config.applies_to(kind):
                n = -(-draws // config.batch_size)
                floor = family_level / n_assertions
                out.append(
                    Setting(kind, config, n, min(n, REPEAT_BATCHES), floor, streams=stream_plan)
                )
    return out


def plan_run(
    kinds: Iterable[str],
    configs: Iterable[Config],
    level: str = "quick",
    family_level: float = stats.FAMILY_LEVEL,
    streams: Any = None,
) -> list[Setting]:
    """The (kind, configuration) settings of a run, with their batch counts.

    The number of statistical assertions ``m`` sets the draws of iid kinds at level
    ``full``, and the draws decide which tests have enough data to be planned; the two are
    iterated to a fixed point (two or three rounds). ``streams`` (a
    :class:`~refsampler.conformance.streams.StreamPlan`) adds the sampler-API checks.
    """
    selected, chosen = tuple(kinds), tuple(configs)
    m = 1
    for _ in range(8):
        settings = _settings(selected, chosen, level, family_level, m, streams)
        planned = sum(not c.exact for s in settings for c in properties.plan(s))
        if max(planned, 1) == m:
            break
        m = max(planned, 1)
    return settings


def planned_assertions(
    kinds: Iterable[str],
    configs: Iterable[Config] = CONFIGS,
    level: str = "quick",
    family_level: float = stats.FAMILY_LEVEL,
) -> int:
    """Statistical assertions of a run over ``kinds`` (the size of its Holm family)."""
    settings = plan_run(kinds, configs, level, family_level)
    return sum(not c.exact for s in settings for c in properties.plan(s))


def run_seed(seed: int, config: str, kind: str) -> int:
    """The seed of one (configuration, kind): a 31-bit hash of the base seed and the names.

    Keyed by names, not positions, so ``--config NAME`` alone reproduces the same batches.
    """
    key = [
        int.from_bytes(hashlib.blake2b(s.encode(), digest_size=8).digest(), "little")
        for s in (config, kind)
    ]
    state = np.random.SeedSequence([seed, *key]).generate_state(1)
    return int(state[0]) >> 1


def _validate_kinds(kinds: Any) -> tuple[str, ...]:
    selected = (kinds,) if isinstance(kinds, str) else tuple(kinds)
    if not selected:
        raise InvalidArgumentError("`kinds` must not be empty; got ().")
    known = _kinds.names()
    for kind in selected:
        if kind not in known:
            raise _validate.fail("kinds", "must hold only " + ", ".join(map(repr, known)), selected)
        if not properties.checkable(kind):
            missing = sorted(properties.unchecked_properties(kind))
            why = f"has no checks for {missing}" if missing else "cannot pass its options"
            raise _validate.fail("kinds", f"names kind {kind!r}, which the kit {why}", selected)
    return tuple(dict.fromkeys(selected))


def served_kinds(kinds: Iterable[str], configs: Iterable[Config]) -> tuple[str, ...]:
    """The kinds among ``kinds`` that at least one of ``configs`` applies to (in order).

    Parameters
    ----------
    kinds : iterable of str
        Kind names.
    configs : iterable of Config
        The chosen configurations.

    Returns
    -------
    tuple of str

    Examples
    --------
    >>> from refsampler.conformance.configs import by_name
    >>> served_kinds(["fixed", "quota", "random"], by_name(["rotation"]))
    ('quota', 'random')
    """
    chosen = tuple(configs)
    return tuple(k for k in kinds if any(c.applies_to(k) for c in chosen))


def _real(value: Any) -> float | None:
    """``value`` as a float if it is a real number (numpy's too, not a bool), else None."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        return None
    return float(value)


def check_settings(
    level: Any,
    seed: Any,
    family_level: Any,
    timeout: Any,
    option: Callable[[str], str] = str,
) -> tuple[str, int, float, float | None]:
    """Check a run's level, seed, family level and timeout; return them as a run takes them.

    :func:`verify` and the pytest plugin both check them here; ``option`` turns a parameter's
    name into the name a message gives it (the plugin's ``--refsampler-family-level``).

    Raises
    ------
    InvalidArgumentError
        If ``level`` is not "quick" or "full", ``seed`` not an int >= 0, ``family_level`` not
        a number in (0, 1), or ``timeout`` neither None nor a positive number.
    """
    if level not in LEVELS:
        raise _validate.fail(option("level"), 'must be "quick" or "full"', level)
    seed = _validate.non_negative_int(option("seed"), seed)
    rate = _real(family_level)
    if rate is None or not 0.0 < rate < 1.0:
        raise _validate.fail(option("family_level"), "must be in (0, 1)", family_level)
    seconds = None if timeout is None else _real(timeout)
    if timeout is not None and (seconds is None or not seconds > 0):
        raise _validate.fail(option("timeout"), "must be a positive number of seconds", timeout)
    return level, seed, rate, seconds


def validate_options(
    kinds: Iterable[str] | str | None,
    configs: Iterable[Config | str] | Config | str | None,
    *,
    level: str,
    seed: int,
    family_level: float,
    timeout: float | None,
) -> tuple[tuple[str, ...], tuple[Config, ...], int]:
    """Check the arguments of :func:`verify`; return the kinds, configurations and seed.

    Raises
    ------
    InvalidArgumentError
        As :func:`verify` documents.
    """
    selected = _validate_kinds(default_kinds() if kinds is None else kinds)
    seed = check_settings(level, seed, family_level, timeout)[1]
    chosen = _configs(CONFIGS if configs is None else configs)
    if kinds is None:  # by default, the kinds the chosen configurations serve
        selected = served_kinds(selected, chosen) or selected
    for kind in selected:
        if not any(c.applies_to(kind) for c in chosen):
            raise _validate.fail(
                "configs",
                f"must include a configuration kind {kind!r} applies to",
                [c.name for c in chosen],
            )
    return selected, chosen, seed


#: How the kit calls an implementation, per API (the sampler API passes two more keywords).
_PROTOCOLS = {
    False: "make_batches(labels, *, kind, alpha, batch_size, n_batches, seed)",
    True: "make_sampler(labels, *, kind, alpha, batch_size, n_batches, seed, num_replicas, rank)",
}


def check_adapter(adapter: Any, name: str = "adapter", shown: str | None = None) -> None:
    """Refuse an implementation the kit cannot call with the protocol's arguments.

    A :class:`~refsampler.conformance.streams.SamplerAdapter`'s ``make_sampler`` is called with
    ``num_replicas`` and ``rank`` besides the batches API's keywords; ``samples_per_class`` is
    passed only where the implementation takes it (otherwise its pk configurations are
    declined). The signature is only read, never called. An implementation whose signature
    cannot be read (some builtins and extensions) is let through: a call that fails then fails
    its ``runs`` check.

    Parameters
    ----------
    adapter : object
        The implementation :func:`verify` is given.
    name : str
        How the message names the argument: ``"adapter"`` for :func:`verify`, ``"impl"`` for
        ``refsampler verify``, ``"--refsampler-impl"`` for the pytest plugin.
    shown : str, optional
        How the message shows the value, as it should appear (default: the object's module
        and qualified name, or the value itself when it is not callable).

    Raises
    ------
    InvalidArgumentError
        If ``adapter`` is not callable, or its signature cannot take the protocol's arguments
        (a renamed or missing keyword, an extra required one); the message names the
        protocol and what does not fit.

    Examples
    --------
    >>> from refsampler.conformance.mutants import control
    >>> check_adapter(control)
    >>> check_adapter(lambda labels, *, bs: [], shown="f")
    Traceback (most recent call last):
    ...
    refsampler.errors.InvalidArgumentError: `adapter` cannot be called as make_batches(labels, \
*, kind, alpha, batch_size, n_batches, seed) (missing a required argument: 'bs'); got f.
    """
    import inspect

    sampler = isinstance(adapter, streams.SamplerAdapter)
    target = adapter.make_sampler if sampler else adapter
    if not callable(target):
        hint = " (adapters.load imports a MODULE:CALLABLE name)" if isinstance(target, str) else ""
        if shown is None:
            raise _validate.fail(name, "must be callable" + hint, target)
        raise InvalidArgumentError(f"`{name}` must be callable{hint}; got {shown}.")
    if shown is None:
        qualname = getattr(target, "__qualname__", None)
        module = getattr(target, "__module__", None)
        shown = f"{module}.{qualname}" if qualname and module else repr(target)
    try:
        signature = inspect.signature(target)
    except (TypeError, ValueError):
        return
    parameters = signature.parameters
    keywords: dict[str, Any] = dict.fromkeys(
        ("kind", "alpha", "batch_size", "n_batches", "seed")
        + (("num_replicas", "rank") if sampler else ())
    )
    if "samples_per_class" in parameters:
        keywords["samples_per_class"] = None
    try:
        signature.bind(None, **keywords)
    except TypeError as exc:
        hint = ""
        if not sampler and {"num_replicas", "rank"} <= set(parameters):
            hint = "; it takes num_replicas and rank: check a sampler with the sampler API"
        elif sampler and not {"num_replicas", "rank"} & set(parameters):
            hint = "; it takes no num_replicas or rank: check it with the batches API"
        raise InvalidArgumentError(
            f"`{name}` cannot be called as {_PROTOCOLS[sampler]} ({exc}{hint}); got {shown}."
        ) from None


def verify(
    adapter: Callable[..., Iterable[Any]],
    *,
    kinds: Iterable[str] | str | None = None,
    level: str = "quick",
    seed: int = 0,
    configs: Iterable[Config | str] | Config | str | None = None,
    family_level: float = stats.FAMILY_LEVEL,
    fail_fast: bool = False,
    timeout: float | None = None,
    progress: Progress | None = None,
    name: str | None = None,
    command: str | None = None,
    select: Iterable[tuple[str, str]] | None = None,
    epochs: int | None = None,
    world_sizes: Iterable[int] | None = None,
) -> Report:
    """Check an implementation of the adapter protocol against the contract.

    Parameters
    ----------
    adapter : callable
        ``make_batches(labels, *, kind, alpha, batch_size, n_batches, seed)``; see
        :mod:`refsampler.conformance.adapters` (``adapters.load`` reaches other APIs).
    kinds : str or iterable of str, optional
        The kinds to check (default: every registered kind the kit can check).
    level : {"quick", "full"}
        ``full`` draws enough for power 0.999 against a 1-point share shift.
    seed : int
        Base seed; every (configuration, kind) gets its own seed derived from it.
    configs : str, Config, or iterable of Config or str, optional
        The configurations, or their names (default
        :data:`~refsampler.conformance.configs.CONFIGS`); one name alone is one configuration.
    family_level : float
        Family-wise false-alarm rate of the run's statistical checks (Holm).
    fail_fast : bool
        Stop after the first (kind, configuration) with a failed check.
    timeout : float, optional
        Seconds one call of the implementation (building and reading its batches) may take;
        a slower call fails the ``runs`` check.
    progress : callable, optional
        Called with a short message before each step.
    name : str, optional
        How the report names the implementation.
    command : str, optional
        The command that re-runs this check from the shell (the report prints it, with
        ``--kind`` and ``--config``, for a failing configuration).
    select : iterable of (kind, config name), optional
        Run only these pairs of the kinds and configurations (the Holm family is theirs).
    epochs : int, optional
        For a :class:`~refsampler.conformance.streams.SamplerAdapter` (``--api sampler``)
        only: passes of the epoch checks (default ``streams.EPOCHS[level]``).
    world_sizes : iterable of int, optional
        For a sampler adapter only: world sizes of the rank checks, each at most
        :data:`~refsampler.conformance.streams.MAX_WORLD_SIZE` (default ``(1, 2)``).

    Returns
    -------
    Report
        ``report.conforms`` is True when no check failed and every requested kind had at least
        one configuration that ran. The statistical checks share a family-wise false-alarm
        rate of at most ``family_level`` (Holm).

    Raises
    ------
    InvalidArgumentError
        For an adapter that is not callable or cannot be called with the protocol's arguments
        (:func:`check_adapter`), an unknown kind, level or configuration, a kind the kit cannot
        check, a kind no selected configuration applies to, a negative seed, a bad level or
        timeout, ``epochs`` or ``world_sizes`` given for an adapter that is not a sampler
        adapter, or a bad or too large world size.
    AdapterExit
        If the implementation raised ``SystemExit``.

    Examples
    --------
    >>> from refsampler.conformance import verify
    >>> from refsampler.conformance.mutants import control
    >>> verify(control, kinds=["fixed"], configs=["uniform"]).conforms
    True
    """
    check_adapter(adapter)
    selected, chosen, seed = validate_options(
        kinds, configs, level=level, seed=seed, family_level=family_level, timeout=timeout
    )
    sampler_api = isinstance(adapter, streams.SamplerAdapter)
    for option, value in (("epochs", epochs), ("world_sizes", world_sizes)):
        if value is not None and not sampler_api:
            # Ignoring them would report rank and epoch checks that never ran as passed.
            raise _validate.fail(
                option, "applies only to a SamplerAdapter (the sampler API)", value
            )
    say = progress or (lambda message: None)
    started = time.perf_counter()
    stream_plan = None
    if isinstance(adapter, streams.SamplerAdapter):
        n_epochs, sizes = streams.validate_streams(
            streams.EPOCHS[level] if epochs is None else epochs,
            streams.DEFAULT_WORLD_SIZES if world_sizes is None else world_sizes,
        )
        candidates = _settings(selected, chosen, level, family_level, 1)
        stream_plan = streams.detect(adapter, candidates, n_epochs, sizes, timeout)
    settings = plan_run(selected, chosen, level, family_level, stream_plan)
    if select is not None:
        pairs = set(select)
        settings = [s for s in settings if (s.kind, s.config.name) in pairs]
    planned = [c for s in settings for c in properties.plan(s)]
    m = max(sum(not c.exact for c in planned), 1)
    # Exact checks planned under a chance bound (a correct sampler repeats a batch, or two
    # seeds share one, with probability at most REPEAT_BOUND each) take their share of the
    # family level, so that the run's false-alarm rate stays at most family_level.
    chance = sum(c.check.split("[")[0] in CHANCE_BOUNDED for c in planned) * streams.REPEAT_BOUND
    holm_level = family_level - min(chance, family_level / 2)
    report = Report(
        implementation=name or str(getattr(adapter, "__qualname__", repr(adapter))),
        kinds=selected,
        level=level,
        seed=seed,
        family_level=family_level,
        command=command,
    )
    if stream_plan is not None:
        report.notes.append(_capabilities_note(stream_plan))
        if max(stream_plan.world_sizes) < 2:
            report.notes.append(NO_RANK_CHECKS)
        if stream_plan.fresh_note:
            report.notes.append(stream_plan.fresh_note)
    stop = False
    for setting in settings:
        config = setting.config
        derived = run_seed(seed, config.name, setting.kind)
        run = ConfigRun(
            setting.kind,
            config.name,
            list(config.class_counts),
            config.batch_size,
            config.alpha_text(),
            [float(p) for p in setting.target],
            setting.n_batches,
            derived,
        )
        report.runs.append(run)
        if stop:
            run.status, run.reason = "stopped", "not run: stopped at the first failure"
            continue
        say(
            f"{setting.kind:<6} {config.name:<15} {setting.n_batches} batches of "
            f"{config.batch_size}"
        )
        results = _check_one(adapter, setting, derived, timeout, run)
        if isinstance(adapter, streams.SamplerAdapter) and run.status == "ran":
            results += streams.stream_checks(adapter, setting, config.labels(), derived, timeout)
            note = streams.plain_loop_note(adapter, setting, config.labels(), derived, timeout)
            report.notes.append(f"{setting.kind}/{config.name}: {note}")
        if run.status == "declined":
            say(f"{setting.kind:<6} {config.name:<15} declined: {run.reason}")
        report.results.extend(results)
        if fail_fast and any(_fails(r, holm_level / m) for r in results):
            stop = True
            report.stopped_early = True
    _decide(report.results, holm_level)
    report.n_statistical = sum(not r.exact for r in report.results)
    report.seconds = round(time.perf_counter() - started, 3)
    return report


def _capabilities_note(plan: Any) -> str:
    has = {
        "set_epoch": plan.set_epoch,
        "state_dict/load_state_dict": plan.resume,
        "len": plan.has_len,
    }
    found = [name for name, present in has.items() if present]
    missing = [name for name, present in has.items() if not present]
    text = f"sampler methods found: {', '.join(found) or 'none'}"
    if missing:
        text += f"; absent (their checks skipped): {', '.join(missing)}"
    if plan.len_problem:
        text += f" ({plan.len_problem}: taken as no len)"
    if plan.epoch_problem:
        text += f" ({plan.epoch_problem}: taken as no set_epoch)"
    if plan.problem:
        text += (
            f"; no sampler could be built to detect them ({plan.problem}): every stream check fails"
        )
    text += f"; {plan.epochs} epochs, world sizes {', '.join(map(str, plan.world_sizes))}"
    return text


def _configs(configs: Iterable[Config | str] | Config | str) -> tuple[Config, ...]:
    # One name (or configuration) alone, as `kinds` takes one kind: a string is not iterated.
    items = (configs,) if isinstance(configs, str | Config) else tuple(configs)
    if all(isinstance(c, str) for c in items):
        chosen = by_name(items)
    elif not items or not all(isinstance(c, Config) for c in items):
        raise _validate.fail("configs", "must be configurations or their names", items)
    else:
        chosen = items  # type: ignore[assignment]
    # A repeated configuration runs once, as a repeated kind does; reports key runs by name.
    unique: dict[str, Config] = {}
    for config in chosen:
        if unique.setdefault(config.name, config) != config:
            raise _validate.fail(
                "configs", f"must not hold two different configurations named {config.name!r}",
                items,
            )
    return tuple(unique.values())


def _fails(result: CheckResult, floor: float) -> bool:
    if result.exact:
        return result.verdict == "fail"
    return result.pvalue is not None and result.pvalue <= floor


#: The note of a sampler-API run whose only world size is 1.
NO_RANK_CHECKS = (
    "rank checks not run: the only world size is 1, so nothing checked that the ranks of a "
    "distributed run differ, share out the cycles or meet the target (a world size of 2 or "
    "more checks them)"
)

#: Exact checks whose plan admits a chance (at most :data:`streams.REPEAT_BOUND` each) that a
#: correct sampler fails them; :func:`verify` reserves that much of the family level.
CHANCE_BOUNDED = frozenset(
    {
        "batches_not_repeated",
        "ranks_batches_not_repeated",
        "cycles_reshuffled",
        "other_seed_other_batches",
        "far_seed_other_batches",
        "ranks_differ",
    }
)


def _decide(results: list[CheckResult], family_level: float) -> None:
    """Holm over all statistical results; the level each p-value met is recorded."""
    pending = [r for r in results if r.verdict == "pending"]
    if not pending:
        return
    rejected, levels = stats.holm([r.pvalue for r in pending], family_level)
    for result, reject, test_level in zip(pending, rejected, levels, strict=True):
        result.verdict = "fail" if reject else "pass"
        result.level = float(test_level)
        if not reject:
            result.direction = ""


def _detectable(result: CheckResult, setting: Setting, sd: float = 0.0) -> None:
    floor = setting.floor
    if result.detects == "share" and result.draws:
        share = float(result.expected) / result.draws if result.expected is not None else 0.5
        share = min(max(share, 1e-12), 1 - 1e-12)
        result.detectable = stats.detectable_shift(result.draws, level=floor, share=share)
    elif result.detects == "w" and result.dof:
        result.detectable = stats.detectable_w(result.draws, result.dof, level=floor)
    elif result.detects == "pairs/batch" and sd > 0:
        result.detectable = stats.detectable_z_shift(sd, result.draws, level=floor)


def _check_one(
    adapter: Any, setting: Setting, seed: int, timeout: float | None, run: ConfigRun
) -> list[CheckResult]:
    """All checks of one (kind, configuration); fills in ``run``'s status."""
    config = setting.config
    labels = config.labels()
    kwargs = {
        "kind": setting.kind,
        "alpha": config.alpha,
        "batch_size": config.batch_size,
        **setting.options,
    }
    refused = missing_options(adapter, setting.options)
    if refused:
        run.status, run.reason = "declined", refused
        return []

    def invoke(n_batches: int, call_seed: int) -> calls.Call:
        return calls.call(
            adapter, labels, timeout=timeout, n_batches=n_batches, seed=call_seed, **kwargs
        )

    main = invoke(setting.n_batches, seed)
    if main.problem and setting.options and _rejects_options(main.problem, setting.options):
        run.status = "declined"
        run.reason = f"the adapter does not take {', '.join(setting.options)}= ({main.problem})"
        return []
    if main.declined:
        run.status, run.reason = "declined", main.declined
        return []
    if main.problem:
        run.status, run.reason = "failed", f"runs: {main.problem}"
        return [checks.runs_check(setting, main.problem)]
    if main.batches is None:  # a call that neither declined nor failed returned batches
        raise TypeError("a successful call without batches")
    batches, sizes, problem = checks.as_batch_array(main.batches, config.batch_size)
    problem += streams.index_sampler_hint(adapter, problem)
    shape = checks.shape_check(setting, sizes, setting.n_batches, problem)
    if batches is None or shape.verdict == "fail":
        run.status, run.reason = "failed", f"batch_shape: {shape.detail}"
        return [
            checks.runs_check(setting, ""),
            shape,
            checks.inputs_check(setting, main.inputs_changed, sum(sizes)),
        ]
    in_range = checks.range_check(setting, batches, labels.size)
    if in_range.verdict == "fail":
        run.status, run.reason = "failed", f"positions_in_range: {in_range.detail}"
        return [
            checks.runs_check(setting, ""),
            shape,
            in_range,
            checks.inputs_check(setting, main.inputs_changed, batches.size),
        ]
    problems: list[str] = []
    changed = list(main.inputs_changed)
    runs = []
    # (seed, batches): a short run of s, the whole main run again, short runs of s + 1 and
    # the far seeds, and the first batch (tie check) or batches (start check) of each
    # further seed. A setting never needs both: ties are only planned under fixed counts,
    # which leave no part-time classes for the start check.
    short, far_seeds = setting.n_repeat, checks.far_seeds(seed)
    plan = [(seed, short), (seed, setting.n_batches), (seed + 1, short)]
    plan += [(far, short) for far in far_seeds]
    tie_seeds = counts.tie_seeds(setting, setting.floor)
    start_seeds = mixing.start_seeds(setting, setting.floor)
    extra, length = max(tie_seeds, start_seeds), 1
    if start_seeds:
        length = min(mixing.START_BATCHES, short)
    plan += [(seed + 2 + i, length) for i in range(max(extra - 2, 0))]
    for call_seed, n in plan:
        again = invoke(n, call_seed)
        changed += [c for c in again.inputs_changed if c not in changed]
        trouble = again.problem or (again.declined and f"declined it ({again.declined})")
        if trouble:
            problems.append(f"the re-run with seed {call_seed} ({n} batches) {trouble}")
            break  # one failed re-run is the finding; more calls would only repeat it
        array, _, _ = checks.as_batch_array(again.batches or [], config.batch_size)
        if (
            array is None
            or array.shape != (n, config.batch_size)
            or (array.size and (array.min() < 0 or array.max() >= labels.size))
        ):
            array = np.full((n, config.batch_size), -1, dtype=np.int64)
        runs.append(array)
    if not problems and any((r < 0).any() for r in runs):
        problems.append("a re-run gave batches of the wrong shape or out of range")
    results = [
        checks.runs_check(setting, "; ".join(problems)),
        shape,
        in_range,
        checks.inputs_check(setting, changed, batches.size),
    ]
    if problems:
        run.status, run.reason = "failed", f"runs: {problems[0]}"
        return results
    ties = 3 + len(far_seeds)
    far = list(zip(checks.far_seed_names(seed), runs[3:ties], strict=True))
    sample = Sample(setting, labels, batches, runs[0], runs[1], runs[2], far)
    results += checks.determinism_checks(sample)
    further = [sample.counts_of(r) for r in runs[ties:]]
    sample.tie_rows = [c[0] for c in further][: max(tie_seeds - 2, 0)]
    sample.start_rows = further[: max(start_seeds - 2, 0)]
    for result in properties.run_properties(sample):
        results.append(result)
    sds = _adjacency_sd(sample)
    for result in results:
        _detectable(result, setting, sds if result.check == "same_class_adjacency" else 0.0)
    return results


def missing_options(adapter: Any, options: dict[str, Any]) -> str:
    """Why ``adapter`` cannot be given ``options`` (its signature lacks them), or ``""``.

    An adapter whose signature cannot be read is called anyway; a ``TypeError`` naming the
    option then declines the configuration too.
    """
    import inspect

    if not options:
        return ""
    try:
        parameters = inspect.signature(adapter).parameters
    except (TypeError, ValueError):
        return ""
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values()):
        return ""
    absent = [name for name in options if name not in parameters]
    if not absent:
        return ""
    return f"the adapter takes no {', '.join(f'{a}=' for a in absent)} (the kind needs it)"


def _rejects_options(problem: str, options: dict[str, Any]) -> bool:
    return problem.startswith("raised TypeError") and any(name in problem for name in options)


def _adjacency_sd(sample: Sample) -> float:
    if "same_class_adjacency" not in {c.check for c in properties.plan(sample.setting)}:
        return 0.0
    classes = sample.labels[sample.batches]
    neighbours = np.count_nonzero(classes[:, 1:] == classes[:, :-1], axis=1)
    return stats.same_class_adjacency(neighbours, sample.counts).sd
