"""``BalancedBatchSampler`` with the PyTorch data ecosystem.

* torchdata's ``StatefulDataLoader``: save after some batches (mid-epoch, after the last batch,
  after a finished epoch), restore into a new loader, continue identically; with 0 and 2
  workers (the main process fetches indices ahead of the training loop with workers).
* A plain ``DataLoader(batch_sampler=...)`` with ``num_workers=2`` under ``fork`` and ``spawn``
  gives the same batches as ``num_workers=0``.
* ``pickle`` / ``copy.deepcopy`` round-trips, fresh and mid-epoch.

The dataset is :class:`tests._datasets.IdentityDataset` (item ``i`` is ``i``), so a loaded
batch is exactly the positions the sampler chose.
"""

from __future__ import annotations

import copy
import multiprocessing
import pickle
import warnings
from typing import Any

import pytest
import torch
from torch.utils.data import DataLoader
from torchdata.stateful_dataloader import StatefulDataLoader

from refsampler import BalancedBatchSampler
from tests._datasets import IdentityDataset, long_tailed_labels

LABELS = long_tailed_labels()
DATASET = IdentityDataset(LABELS)
EPOCHS = 3


def make_sampler(kind: str = "quota") -> BalancedBatchSampler:
    """Seven batches of 8 per epoch from a 4-class long-tailed dataset."""
    return BalancedBatchSampler(LABELS, 8, kind=kind, alpha=0.5, seed=21, n_batches=7)


def stateful_loader(
    num_workers: int, kind: str = "quota", snapshot_every_n_steps: int = 1
) -> StatefulDataLoader:
    """A StatefulDataLoader over a fresh sampler (fork workers when ``num_workers > 0``)."""
    extra: dict[str, Any] = {"snapshot_every_n_steps": snapshot_every_n_steps}
    if num_workers:
        extra["multiprocessing_context"] = "fork"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # torchdata: set_vital is deprecated
        return StatefulDataLoader(
            DATASET, batch_sampler=make_sampler(kind), num_workers=num_workers, **extra
        )


def as_lists(loader: Any) -> list[list[int]]:
    """One pass of ``loader`` as lists of positions."""
    return [batch.tolist() for batch in loader]


def fork_available() -> bool:
    """Whether the ``fork`` start method exists on this platform."""
    return "fork" in multiprocessing.get_all_start_methods()


needs_fork = pytest.mark.skipif(not fork_available(), reason="no fork start method")

# (epochs completed before saving, batches consumed of the next epoch, finish that epoch)
SAVE_POINTS = [
    pytest.param(0, 0, False, id="start"),
    pytest.param(0, 3, False, id="mid-epoch-0"),
    pytest.param(1, 6, False, id="before-last-batch"),
    pytest.param(1, 7, False, id="after-last-batch"),
    pytest.param(1, 7, True, id="after-finished-epoch"),
]


@pytest.mark.parametrize("num_workers", [0, pytest.param(2, marks=needs_fork)])
@pytest.mark.parametrize(("done", "consumed", "finish"), SAVE_POINTS)
def test_stateful_dataloader_resumes_identically(
    num_workers: int, done: int, consumed: int, finish: bool
) -> None:
    """Restored into a new StatefulDataLoader, training continues with exactly the batches
    (and epoch lengths) of the uninterrupted loader, through the following epochs."""
    loader = stateful_loader(num_workers)
    reference = [as_lists(loader) for _ in range(EPOCHS)]

    loader = stateful_loader(num_workers)
    seen = [as_lists(loader) for _ in range(done)]
    iterator = iter(loader)
    current = [next(iterator).tolist() for _ in range(consumed)]
    if finish:
        current += [batch.tolist() for batch in iterator]
        seen.append(current)
        current = []
    state = loader.state_dict()
    del iterator, loader

    restored = stateful_loader(num_workers)
    restored.load_state_dict(state)
    if not finish:
        seen.append(current + as_lists(restored))
    while len(seen) < EPOCHS:
        seen.append(as_lists(restored))
    assert seen == reference


@needs_fork
@pytest.mark.parametrize("consumed", [2, 5, 7])
def test_stateful_dataloader_with_sparse_snapshots(consumed: int) -> None:
    """With a main-process snapshot only every 3 steps (torchdata then re-fetches the steps
    since the snapshot), the restored loader still continues identically."""
    loader = stateful_loader(2, snapshot_every_n_steps=3)
    reference = [as_lists(loader) for _ in range(2)]
    loader = stateful_loader(2, snapshot_every_n_steps=3)
    iterator = iter(loader)
    head = [next(iterator).tolist() for _ in range(consumed)]
    state = loader.state_dict()
    del iterator, loader
    restored = stateful_loader(2, snapshot_every_n_steps=3)
    restored.load_state_dict(state)
    assert [head + as_lists(restored), as_lists(restored)] == reference


@needs_fork
def test_stateful_dataloader_state_survives_torch_save(tmp_path: Any) -> None:
    """A loader state written with torch.save and read back resumes identically."""
    loader = stateful_loader(2)
    reference = [as_lists(loader) for _ in range(2)]
    loader = stateful_loader(2)
    iterator = iter(loader)
    head = [next(iterator).tolist() for _ in range(4)]
    torch.save(loader.state_dict(), tmp_path / "loader.pt")
    del iterator, loader
    restored = stateful_loader(2)
    restored.load_state_dict(torch.load(tmp_path / "loader.pt", weights_only=True))
    assert [head + as_lists(restored), as_lists(restored)] == reference


@pytest.mark.parametrize(
    "context",
    [pytest.param("fork", marks=needs_fork), "spawn"],
)
def test_dataloader_workers_match_single_process(context: str) -> None:
    """num_workers=2 under fork/spawn yields the batches of num_workers=0, epoch after epoch."""
    sampler = make_sampler()
    single = DataLoader(DATASET, batch_sampler=sampler)
    expected = [as_lists(single) for _ in range(2)]

    sampler = make_sampler()
    workers = DataLoader(
        DATASET,
        batch_sampler=sampler,
        num_workers=2,
        multiprocessing_context=context,
        persistent_workers=True,
    )
    got = [as_lists(workers) for _ in range(2)]
    assert got == expected
    assert sampler.epoch == 2


@pytest.mark.parametrize("kind", ["fixed", "quota", "random"])
def test_pickle_round_trip_of_a_fresh_sampler(kind: str) -> None:
    """An unpickled sampler has the same configuration and yields the same epochs."""
    sampler = make_sampler(kind)
    clone = pickle.loads(pickle.dumps(sampler))
    assert clone.state_dict() == sampler.state_dict()
    assert [list(clone) for _ in range(2)] == [list(sampler) for _ in range(2)]


def test_pickle_round_trip_mid_epoch() -> None:
    """Pickled in the middle of a pass (e.g. a checkpoint of the whole object), the copy
    continues from the same batch, like a restore from state_dict."""
    reference = make_sampler()
    expected = [list(reference) for _ in range(2)]
    sampler = make_sampler()
    iterator = iter(sampler)
    head = [next(iterator) for _ in range(3)]
    for clone in (pickle.loads(pickle.dumps(sampler)), copy.deepcopy(sampler)):
        assert clone.state_dict() == sampler.state_dict()
        assert [head + list(clone), list(clone)] == expected


def test_pickle_round_trip_after_restore() -> None:
    """A restored-but-not-started sampler pickles with its pending position."""
    expected = list(make_sampler())
    sampler = make_sampler()
    sampler.load_state_dict(sampler.state_dict() | {"batches_yielded": 5})
    clone = pickle.loads(pickle.dumps(sampler))
    assert list(clone) == expected[5:]
