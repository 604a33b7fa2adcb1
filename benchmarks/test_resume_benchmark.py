"""Resume cost does not grow with the batch resumed at (goal 3 of ``benchmarks/compare.py``).

Run with ``.venv/bin/python -m pytest benchmarks/test_resume_benchmark.py`` (pytest-benchmark).

For each kind, one epoch of ``n_batches`` small batches (``B = 16``, 10 long-tailed classes,
100 000 samples, ``alpha = 0.5``; ``alpha = 1`` and ``samples_per_class = 4`` for pk, which
needs ``P p_c <= 1``): 10**6 batches for the fixed, random and pk kinds, 10**4 for quota (see
below). Each
round times a *resume*: ``load_state_dict`` of a state at batch ``k`` of epoch 3 plus the first
``next()``, on a fresh copy of the sampler (so no cache is warm), for ``k = 0``, ``n // 2``,
``n - n // 10`` and ``n - 1``. A flat cost means batch ``k`` is computed directly; a replay of
the first ``k`` batches would grow linearly, as the replay baseline shows. The plan works in
chunks of ``65536 // B`` batches, so a resume costs one chunk; the last chunk of an epoch may
be partial, which makes ``k = n - 1`` cheaper, never dearer.

With ``alpha = 0.5`` the quota kind's 10 classes have 7 distinct rates, so its extra seats
come from PD2, which is sequential: a cold resume at global slot ``t`` runs PD2 from slot 0
(``docs/performance.md``, "What limits the figures"), and its ratios may exceed the goal; its
shorter epoch keeps that replay (and this module) quick. The expected batch of each test comes
from another cold copy, so the pristine sampler that every round copies stays cold.

At the end the module prints, per kind, the construction time, the median resume times, the
ratios to ``k = 0`` and whether the goal (every ratio <= 1.5) is met.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

from refsampler import BalancedBatchSampler

CLASS_SIZES = (50_000, 20_000, 10_000, 5_000, 5_000, 3_000, 3_000, 2_000, 1_000, 1_000)
BATCH_SIZE = 16
EPOCH = 3
N_BATCHES = {"fixed": 10**6, "random": 10**6, "quota": 10**4, "pk": 10**6}
ALPHA = {"fixed": 0.5, "random": 0.5, "quota": 0.5, "pk": 1.0}
OPTIONS: dict[str, dict[str, Any]] = {"pk": {"samples_per_class": 4}}
#: Goal 3: resume at any batch costs at most this many times resume at batch 0.
GOAL = 1.5
POSITIONS = {
    "start": lambda n: 0,
    "mid": lambda n: n // 2,
    "late": lambda n: n - n // 10,
    "end": lambda n: n - 1,
}
ROUNDS = 15

Results = dict[str, Any]


@pytest.fixture(scope="module")
def results(request: pytest.FixtureRequest) -> Iterator[Results]:
    """Collects timings; at module teardown prints the per-kind table of resume ratios."""
    table: Results = {"construct": {}, "resume": {}, "replay": {}}
    yield table
    lines = ["", "resume cost by batch k (median of rounds; ratio ~1 means flat in k)"]
    header = f"{'kind':<7}{'n_batches':>10}{'construct s':>13}"
    header += "".join(f"{name + ' ms':>10}" for name in POSITIONS)
    header += "".join(f"{name + '/0':>8}" for name in list(POSITIONS)[1:])
    header += f"  goal <= {GOAL}x"
    lines.append(header)
    for kind, n in N_BATCHES.items():
        times = table["resume"].get(kind, {})
        if set(times) != set(POSITIONS):
            continue
        row = f"{kind:<7}{n:>10}{table['construct'][kind]:>13.3f}"
        row += "".join(f"{times[name] * 1e3:>10.2f}" for name in POSITIONS)
        worst = max(times[name] / times["start"] for name in list(POSITIONS)[1:])
        row += "".join(f"{times[name] / times['start']:>8.2f}" for name in list(POSITIONS)[1:])
        row += "  met" if worst <= GOAL else "  NOT met"
        lines.append(row)
    for label, seconds in table["replay"].items():
        lines.append(f"replay baseline ({label}): {seconds * 1e3:.1f} ms")
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    if capture is not None and reporter is not None:
        with capture.global_and_fixture_disabled():
            for line in lines:
                reporter.write_line(line)


@pytest.fixture(scope="module")
def samplers(results: Results) -> dict[str, BalancedBatchSampler]:
    """One pristine sampler per kind; construction is timed once, not benchmarked."""
    labels = np.repeat(np.arange(len(CLASS_SIZES)), CLASS_SIZES)
    built = {}
    for kind, n in N_BATCHES.items():
        began = time.perf_counter()
        built[kind] = BalancedBatchSampler(
            labels, BATCH_SIZE, kind=kind, alpha=ALPHA[kind], seed=7, n_batches=n,
            **OPTIONS.get(kind, {}),
        )
        results["construct"][kind] = time.perf_counter() - began
    return built


def resume(sampler: BalancedBatchSampler, state: dict[str, Any]) -> list[int]:
    """What a restarted job does: load the state, then take the first batch."""
    sampler.load_state_dict(state)
    return next(iter(sampler))


@pytest.mark.parametrize("position", list(POSITIONS))
@pytest.mark.parametrize("kind", list(N_BATCHES))
def test_resume(
    benchmark: Any,
    samplers: dict[str, BalancedBatchSampler],
    results: Results,
    kind: str,
    position: str,
) -> None:
    """Time load_state_dict + first next() at batch k; the batch is the plan's batch k."""
    pristine = samplers[kind]
    k = POSITIONS[position](pristine.n_batches)
    state = pristine.state_dict() | {"epoch": EPOCH, "batches_yielded": k}

    def setup() -> tuple[tuple[BalancedBatchSampler, dict[str, Any]], dict[str, Any]]:
        """A cold copy of the sampler for each round (not timed)."""
        return (copy.deepcopy(pristine), state), {}

    benchmark.group = f"resume {kind}"
    batch = benchmark.pedantic(resume, setup=setup, rounds=ROUNDS, iterations=1)
    expected = copy.deepcopy(pristine).plan.batches(EPOCH, 0, k, k + 1)[0].tolist()
    assert batch == expected
    if benchmark.stats is not None:
        results["resume"].setdefault(kind, {})[position] = benchmark.stats.stats.median


def test_replay_baseline(
    benchmark: Any, samplers: dict[str, BalancedBatchSampler], results: Results
) -> None:
    """For contrast: reaching batch n // 10 of the fixed kind by iterating (what we avoid)."""
    pristine = samplers["fixed"]
    k = pristine.n_batches // 10

    def replay(sampler: BalancedBatchSampler) -> list[int]:
        """Iterate k batches, then take batch k."""
        sampler.set_epoch(EPOCH)
        iterator = iter(sampler)
        for _ in range(k):
            next(iterator)
        return next(iterator)

    def setup() -> tuple[tuple[BalancedBatchSampler], dict[str, Any]]:
        """A cold copy of the sampler for each round (not timed)."""
        return (copy.deepcopy(pristine),), {}

    benchmark.group = "resume fixed"
    batch = benchmark.pedantic(replay, setup=setup, rounds=3, iterations=1)
    assert batch == copy.deepcopy(pristine).plan.batches(EPOCH, 0, k, k + 1)[0].tolist()
    if benchmark.stats is not None:
        results["replay"][f"fixed, iterate to k={k}"] = benchmark.stats.stats.median
