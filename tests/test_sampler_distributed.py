"""Data-parallel sharding of ``BalancedBatchSampler`` (specification: Replicas, Determinism).

Two layers:

* in-process tests build every rank's sampler with explicit ``num_replicas`` / ``rank``;
* ``@pytest.mark.distributed`` tests start real gloo process groups of 2 and 3 processes on
  127.0.0.1 (:mod:`tests._distributed_worker`), where the sampler takes its replica arguments
  from the initialised group, and check the gathered batches against the same contract.

Every expectation is derived from the contract: per-batch counts from the target, membership
from the labels, cycle coverage from the number of draws.
"""

from __future__ import annotations

import functools
import re
import warnings
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest
import torch

from refsampler import (
    BalancedBatchSampler,
    InvalidArgumentError,
    RefSamplerWarning,
    SamplerFactory,
    interpolate,
)
from refsampler.allocation import allocate
from refsampler.conformance.sample import per_batch_counts
from tests._datasets import IdentityDataset
from tests._distributed_worker import SCENARIOS, Scenario, launch

IntArray = npt.NDArray[np.int64]
SCENARIO_BY_NAME = {scenario.name: scenario for scenario in SCENARIOS}


# -- contract checks shared by the in-process and the multi-process tests --------------------


def check_rank_batches(
    scenario: Scenario, batches: IntArray, n_batches: int, target: npt.NDArray[np.float64]
) -> None:
    """One rank's epoch satisfies its kind's properties (specification: Kinds)."""
    labels = scenario.labels()
    B, K = scenario.batch_size, len(scenario.class_sizes)
    assert batches.shape == (n_batches, B)
    assert batches.min() >= 0 and batches.max() < labels.size
    counts = per_batch_counts(batches, labels, K)
    # Only classes with a positive share are ever drawn.
    assert np.all(counts[:, target == 0] == 0)
    if scenario.kind == "random":
        return
    low, high = np.floor(B * target), np.ceil(B * target)
    assert np.all(counts.sum(axis=1) == B)
    assert np.all((counts >= low) & (counts <= high))
    if scenario.kind == "fixed":
        assert np.all(counts == allocate(target, B))


def check_global_prefix(scenario: Scenario, per_rank: list[list[IntArray]]) -> None:
    """Quota: the run's global stream (epoch by epoch, step by step, rank by rank) keeps every
    class's cumulative count within 1 of ``t B p_c`` after every global batch ``t``; one rank
    alone need not (it sees every ``R``-th batch of one schedule)."""
    if scenario.kind != "quota":
        return
    labels = scenario.labels()
    K, B = len(scenario.class_sizes), scenario.batch_size
    target = scenario_target(scenario)
    stream = np.concatenate(
        [np.stack([epochs[e] for epochs in per_rank], axis=1) for e in range(scenario.epochs)]
    ).reshape(-1, B)
    counts = per_batch_counts(stream, labels, K)
    t = np.arange(1, stream.shape[0] + 1)[:, None]
    assert np.all(np.abs(np.cumsum(counts, axis=0) - t * B * target) < 1)


def check_union_coverage(scenario: Scenario, per_rank: list[list[IntArray]]) -> None:
    """After every step, the union over ranks draws each member floor/ceil(D / n_c) times.

    ``per_rank[r][e]`` is rank ``r``'s epoch ``e``, shape (n_batches, B). Members of a class
    are drawn from one stream of fresh permutations that the ranks split without overlap, so
    after any whole step (all ranks, all earlier epochs) a class with ``D`` draws has every
    member drawn ``floor(D / n_c)`` or ``ceil(D / n_c)`` times. With fixed counts whose
    per-step draws divide a class's size, cycles end on step boundaries and this is exactly
    "within a class cycle, no member goes to two ranks".
    """
    labels = scenario.labels()
    member_counts = np.zeros(labels.size, dtype=np.int64)
    for epoch in range(scenario.epochs):
        steps = np.stack([per_rank[r][epoch] for r in range(len(per_rank))], axis=1)
        for step in steps:  # shape (num_replicas, B)
            member_counts += np.bincount(step.ravel(), minlength=labels.size)
            for c, size in enumerate(scenario.class_sizes):
                drawn = member_counts[labels == c]
                draws = int(drawn.sum())
                assert drawn.min() == draws // size, (epoch, c)
                assert drawn.max() == -(-draws // size), (epoch, c)


def local_replicas(scenario: Scenario, num_replicas: int) -> list[BalancedBatchSampler]:
    """Every rank's sampler, built in this process with explicit replica arguments."""
    return [
        BalancedBatchSampler(
            scenario.labels(),
            scenario.batch_size,
            kind=scenario.kind,
            alpha=scenario.alpha,
            num_replicas=num_replicas,
            rank=rank,
        )
        for rank in range(num_replicas)
    ]


def local_epochs(sampler: BalancedBatchSampler, epochs: int) -> list[IntArray]:
    """Batches of epochs ``0 .. epochs-1``, each of shape (n_batches, B)."""
    result = []
    for epoch in range(epochs):
        sampler.set_epoch(epoch)
        result.append(np.array(list(sampler), dtype=np.int64))
    return result


def scenario_target(scenario: Scenario) -> npt.NDArray[np.float64]:
    """The contract's target: ``interpolate(class_sizes, alpha)``."""
    return interpolate(np.array(scenario.class_sizes), scenario.alpha)


# -- in-process: explicit num_replicas / rank ----------------------------------------------


@pytest.mark.parametrize("num_replicas", [2, 3, 4])
@pytest.mark.parametrize("name", sorted(SCENARIO_BY_NAME))
def test_every_rank_has_the_kind_properties_and_equal_length(name: str, num_replicas: int) -> None:
    """Each rank yields ceil(N / (B R)) batches of B that satisfy its kind's properties."""
    scenario = SCENARIO_BY_NAME[name]
    samplers = local_replicas(scenario, num_replicas)
    expected = -(-sum(scenario.class_sizes) // (scenario.batch_size * num_replicas))
    target = scenario_target(scenario)
    per_rank = []
    for sampler in samplers:
        assert len(sampler) == expected
        per_rank.append(local_epochs(sampler, scenario.epochs))
        for batches in per_rank[-1]:
            check_rank_batches(scenario, batches, expected, target)
    check_global_prefix(scenario, per_rank)


@pytest.mark.parametrize("num_replicas", [2, 3, 4])
@pytest.mark.parametrize("name", ["fixed", "quota"])
def test_union_over_ranks_keeps_cycle_coverage(name: str, num_replicas: int) -> None:
    """Ranks split each class's cycles without overlap: the union stays balanced per member."""
    scenario = SCENARIO_BY_NAME[name]
    samplers = local_replicas(scenario, num_replicas)
    check_union_coverage(scenario, [local_epochs(s, scenario.epochs) for s in samplers])


def test_aligned_cycles_go_to_ranks_disjointly() -> None:
    """When a class cycle spans whole steps, its members are split across ranks exactly once.

    Fixed kind, 2 ranks, 2 draws of each class per rank and batch: a class of 12 is one cycle
    every 3 steps, and those 3 steps' draws over both ranks are its 12 members, once each.
    """
    scenario = SCENARIO_BY_NAME["fixed"]
    labels = scenario.labels()
    samplers = local_replicas(scenario, 2)
    per_rank = [np.concatenate(local_epochs(s, scenario.epochs)) for s in samplers]
    steps_per_cycle = 12 // (2 * 2)
    members = np.flatnonzero(labels == 2)
    cycles = per_rank[0].shape[0] // steps_per_cycle
    for cycle in range(cycles):
        window = slice(cycle * steps_per_cycle, (cycle + 1) * steps_per_cycle)
        drawn = [b[window].ravel() for b in per_rank]
        drawn = [d[labels[d] == 2] for d in drawn]
        assert np.intersect1d(drawn[0], drawn[1]).size == 0
        np.testing.assert_array_equal(np.sort(np.concatenate(drawn)), members)


def test_replica_seed_defaults_to_zero() -> None:
    """With num_replicas > 1 and no seed, the seed is 0 on every rank (as DistributedSampler)."""
    torch.manual_seed(1234)
    samplers = [BalancedBatchSampler([0, 1] * 8, 4, num_replicas=2, rank=r) for r in (0, 1)]
    assert [s.seed for s in samplers] == [0, 0]


def test_single_process_seed_comes_from_torch() -> None:
    """Without replicas, ``seed=None`` draws from torch's generator, so manual_seed fixes it."""
    labels = [0, 1] * 8
    torch.manual_seed(7)
    first = BalancedBatchSampler(labels, 4)
    torch.manual_seed(7)
    second = BalancedBatchSampler(labels, 4)
    assert first.seed == second.seed
    assert first.num_replicas == 1 and first.rank == 0


@pytest.mark.distributed
def test_a_one_process_group_defaults_the_seed_to_zero() -> None:
    """``torchrun --nproc_per_node=1`` (a gloo group of one process, in this process): the
    seed defaults to 0 as with more ranks, so a restarted job rebuilds the same sampler and
    its saved state resumes; without the group the seed is drawn as before."""
    from tests._distributed_worker import _free_port

    torch.manual_seed(11)
    torch.distributed.init_process_group(
        "gloo", init_method=f"tcp://127.0.0.1:{_free_port()}", rank=0, world_size=1
    )
    try:
        grouped = BalancedBatchSampler([0, 1] * 8, 4)
        again = BalancedBatchSampler([0, 1] * 8, 4)
    finally:
        torch.distributed.destroy_process_group()
    assert (grouped.seed, grouped.num_replicas, grouped.rank) == (0, 1, 0)
    again.load_state_dict(grouped.state_dict())
    torch.manual_seed(11)
    assert BalancedBatchSampler([0, 1] * 8, 4).seed != 0


@pytest.mark.distributed
def test_more_replicas_than_the_group_with_ranks_from_it_warns() -> None:
    """In a group of one process, num_replicas=3 with the rank taken from the group leaves
    shards 1 and 2 to no process: a warning says so. With an explicit rank (a sharding of the
    caller's own) or the group's size, nothing is said."""
    from tests._distributed_worker import _free_port

    torch.distributed.init_process_group(
        "gloo", init_method=f"tcp://127.0.0.1:{_free_port()}", rank=0, world_size=1
    )
    try:
        with pytest.warns(RefSamplerWarning, match=r"shards 1 to 2 are drawn by no process"):
            sampler = BalancedBatchSampler([0, 1] * 8, 2, seed=0, num_replicas=3)
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            BalancedBatchSampler([0, 1] * 8, 2, seed=0, num_replicas=3, rank=2)
            BalancedBatchSampler([0, 1] * 8, 2, seed=0, num_replicas=1)
    finally:
        torch.distributed.destroy_process_group()
    assert (sampler.num_replicas, sampler.rank) == (3, 0)


def test_replica_defaults_without_a_process_group() -> None:
    """Without an initialised process group, num_replicas is 1 and rank is 0."""
    assert not torch.distributed.is_initialized()
    sampler = BalancedBatchSampler([0, 1, 1, 0], 2, seed=0)
    assert (sampler.num_replicas, sampler.rank) == (1, 0)


def test_ranks_are_deterministic_and_distinct() -> None:
    """Rank r's batches depend on (seed, epoch, rank) only: rebuilt equal, other ranks differ."""
    scenario = SCENARIO_BY_NAME["quota"]
    first = [local_epochs(s, 2) for s in local_replicas(scenario, 3)]
    second = [local_epochs(s, 2) for s in local_replicas(scenario, 3)]
    for rank in range(3):
        for epoch in range(2):
            np.testing.assert_array_equal(first[rank][epoch], second[rank][epoch])
    assert not np.array_equal(first[0][0], first[1][0])


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"num_replicas": 2, "rank": 2}, "`rank` must be < `num_replicas` (2); got 2."),
        ({"num_replicas": 0, "rank": 0}, "`num_replicas` must be >= 1; got 0."),
        ({"num_replicas": 2, "rank": -1}, "`rank` must be >= 0; got -1."),
        ({"num_replicas": 2.0, "rank": 0}, "`num_replicas` must be a positive int; got 2.0."),
        ({"num_replicas": 1, "rank": 1}, "`rank` must be < `num_replicas` (1); got 1."),
    ],
)
def test_bad_replica_arguments(kwargs: dict[str, Any], message: str) -> None:
    """Invalid num_replicas / rank raise InvalidArgumentError naming the argument and value."""
    with pytest.raises(InvalidArgumentError, match=re.escape(message)):
        BalancedBatchSampler([0, 1] * 4, 2, seed=0, **kwargs)


@pytest.mark.parametrize("rank", [0, 1, 2])
def test_factory_and_from_dataset_accept_replica_arguments(rank: int) -> None:
    """SamplerFactory.get and from_dataset take num_replicas / rank and shard identically."""
    scenario = SCENARIO_BY_NAME["fixed"]
    labels = scenario.labels()
    direct = BalancedBatchSampler(
        labels, 6, alpha=1.0, n_batches=5, seed=3, num_replicas=3, rank=rank
    )
    from_dataset = BalancedBatchSampler.from_dataset(
        IdentityDataset(labels), 6, alpha=1.0, n_batches=5, seed=3, num_replicas=3, rank=rank
    )
    class_idxs = [np.flatnonzero(labels == c).tolist() for c in range(3)]
    factory = SamplerFactory().get(
        class_idxs, 6, 5, 1.0, "fixed", seed=3, num_replicas=3, rank=rank
    )
    expected = np.array(list(direct))
    for other in (from_dataset, factory):
        assert (other.num_replicas, other.rank) == (3, rank)
        np.testing.assert_array_equal(np.array(list(other)), expected)


# -- real torch.distributed process groups ---------------------------------------------------


@functools.cache
def launched(world_size: int) -> tuple[int, list[Any]]:
    """One launch of the gloo worker (cached: each group is started once, whatever order the
    tests run in). Its batches are compared with ones computed in this process, which shows
    determinism across processes without paying for a second launch."""
    return world_size, launch(world_size)


# Three ranks (an odd world size) run in `make test-all`: each launch of gloo workers costs
# seconds, and two ranks already show every cross-rank property.
@pytest.fixture(
    scope="module", params=[2, pytest.param(3, marks=pytest.mark.slow)], ids=["world2", "world3"]
)
def group_run(request: pytest.FixtureRequest) -> tuple[int, list[Any]]:
    """(world size, run) of the gloo worker; the run is a list by rank."""
    return launched(int(request.param))


@pytest.mark.distributed
def test_group_defaults_replicas_rank_and_seed(group_run: tuple[int, list[Any]]) -> None:
    """In an initialised group, num_replicas / rank come from it and the seed is 0 everywhere."""
    world_size, run = group_run
    for rank, result in enumerate(run):
        for scenario in SCENARIOS:
            got = result[scenario.name]
            assert (got["num_replicas"], got["rank"], got["seed"]) == (world_size, rank, 0)


@pytest.mark.distributed
def test_group_ranks_yield_equal_lengths(group_run: tuple[int, list[Any]]) -> None:
    """All ranks yield the same number of batches, ceil(N / (B R)), in every epoch."""
    world_size, run = group_run
    for scenario in SCENARIOS:
        expected = -(-sum(scenario.class_sizes) // (scenario.batch_size * world_size))
        for result in run:
            got = result[scenario.name]
            assert got["len"] == expected
            assert [len(e) for e in got["epochs"]] == [expected] * scenario.epochs


@pytest.mark.distributed
def test_group_ranks_have_kind_properties(group_run: tuple[int, list[Any]]) -> None:
    """Every rank's every epoch satisfies its kind's per-batch properties."""
    _, run = group_run
    for scenario in SCENARIOS:
        target = scenario_target(scenario)
        for result in run:
            got = result[scenario.name]
            for batches in got["epochs"]:
                check_rank_batches(scenario, batches, got["len"], target)
        check_global_prefix(scenario, [result[scenario.name]["epochs"] for result in run])


@pytest.mark.distributed
def test_group_ranks_split_cycles_disjointly(group_run: tuple[int, list[Any]]) -> None:
    """The union over the group's ranks keeps every class's cycle coverage after every step."""
    _, run = group_run
    for name in ("fixed", "quota"):
        check_union_coverage(SCENARIO_BY_NAME[name], [result[name]["epochs"] for result in run])


@pytest.mark.distributed
def test_group_runs_are_deterministic(group_run: tuple[int, list[Any]]) -> None:
    """A launch gives on every rank the batches this process computes for that rank."""
    world_size, run = group_run
    for scenario in SCENARIOS:
        local = [local_epochs(s, scenario.epochs) for s in local_replicas(scenario, world_size)]
        for rank in range(world_size):
            for epoch in range(scenario.epochs):
                ours = run[rank][scenario.name]["epochs"][epoch]
                np.testing.assert_array_equal(ours, local[rank][epoch])


@pytest.mark.distributed
def test_group_constructors_agree(group_run: tuple[int, list[Any]]) -> None:
    """from_dataset and SamplerFactory with group defaults give the direct sampler's epoch 0."""
    _, run = group_run
    for result in run:
        for scenario in SCENARIOS:
            got = result[scenario.name]
            np.testing.assert_array_equal(got["from_dataset"], got["epochs"][0])
            np.testing.assert_array_equal(got["factory"], got["epochs"][0])


@pytest.mark.distributed
def test_group_resume_mid_epoch(group_run: tuple[int, list[Any]]) -> None:
    """On every rank, a restored sampler continues epoch 1 at the saved batch, then epoch 2."""
    _, run = group_run
    for result in run:
        for scenario in SCENARIOS:
            got = result[scenario.name]
            expected = np.concatenate([got["epochs"][1][got["resume_at"] :], got["epochs"][2]])
            np.testing.assert_array_equal(got["resumed"], expected)
