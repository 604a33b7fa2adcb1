"""The recipes of docs/how-to/ddp-and-lightning.md, run as a user runs them (CPU, one process;
the Lightning DDP recipe also on two processes, a slow test).

* PyTorch Lightning: with the page's ``set_epoch`` call in ``train_dataloader``, the batches of
  epoch ``e`` of ``trainer.fit`` are exactly ``sampler.plan.batches(e, 0)``, with and without
  loader workers, in a fresh run and in a run resumed from a checkpoint saved at the end of an
  epoch, and, with the page's ``StatefulDataLoader``, from the middle of one. Other tests pin
  what a user gets without the call (or with ``self.current_epoch``), which is why the recipe
  is what it is.
* Hugging Face Accelerate: the recommended set-up (explicit ``num_replicas`` / ``rank``, loader
  not prepared) yields exactly the sampler's batches; ``accelerator.prepare(loader)`` leaves a
  ``BalancedBatchSampler`` unwrapped in one process but sets its epoch to the prepared loader's
  own pass count, and with several processes wraps it in ``BatchSamplerShard``.

Lightning and Accelerate are not refsampler dependencies: the ``recipes`` extra
(``pip install -e '.[recipes]'``), which the Makefile installs, so ``make test`` runs these
tests; an environment without them skips them.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from refsampler import BalancedBatchSampler, RefSamplerWarning
from tests._datasets import IdentityDataset

LIGHTNING_SKIP = "pytorch_lightning is not installed (pip install -e '.[recipes]')"
ACCELERATE_SKIP = "accelerate is not installed (pip install -e '.[recipes]')"

LABELS = np.repeat(np.arange(3, dtype=np.int64), [6, 3, 3])  # 12 samples, 3 classes
BATCH = 4  # 3 batches per epoch
EPOCHS = 3

Batches = list[list[int]]

pytestmark = [
    # A 12-sample loader in the main process: Lightning's advice about workers and logging
    # intervals is beside the point here.
    pytest.mark.filterwarnings("ignore:The '.*dataloader' does not have many workers"),
    pytest.mark.filterwarnings("ignore:The number of training batches"),
    pytest.mark.filterwarnings("ignore:Be aware that when using `ckpt_path`"),
    pytest.mark.filterwarnings("ignore:`isinstance\\(treespec, LeafSpec\\)` is deprecated"),
]


def _planned(sampler: BalancedBatchSampler, epoch: int, rank: int = 0) -> Batches:
    """Epoch ``epoch``'s batches on ``rank``, from the plan (not from iterating the sampler)."""
    return sampler.plan.batches(epoch, rank).tolist()


def _sampler(**kwargs: Any) -> BalancedBatchSampler:
    return BalancedBatchSampler(LABELS, BATCH, alpha=1.0, seed=0, **kwargs)


def _plan_epochs(epochs: range) -> dict[int, Batches]:
    sampler = _sampler()
    return {e: _planned(sampler, e) for e in epochs}


# -- PyTorch Lightning ------------------------------------------------------------------------

#: How the LightningModule calls ``set_epoch`` (in ``train_dataloader`` only: every pass that
#: ends moves the sampler on to the next epoch by itself, and Lightning makes one an epoch).
#: "recipe": the page's first recipe (Lightning's epoch counter);
#: "current_epoch": ``self.current_epoch`` instead;
#: "none": no call at all;
#: "stateful": the page's mid-epoch recipe, the first one with torchdata's
#:   ``StatefulDataLoader``, whose state Lightning keeps in its checkpoints.
MODES = ("recipe", "current_epoch", "none", "stateful")


def _lightning_module(mode: str, workers: int = 0) -> Any:
    """A LightningModule that builds the sampler as the page does and records every batch."""
    pl = pytest.importorskip("pytorch_lightning", reason=LIGHTNING_SKIP)
    assert mode in MODES

    class Model(pl.LightningModule):
        def __init__(self) -> None:
            super().__init__()
            self.layer = torch.nn.Linear(1, 1)
            self.train_set = IdentityDataset(LABELS)  # item i is i
            self.seen: dict[int, Batches] = {}  # epoch -> the batches training_step got
            self.set_epochs: list[int] = []  # every set_epoch call, from anywhere

        def train_dataloader(self) -> DataLoader[int]:
            self.sampler = _SpySampler(self.set_epochs)
            if mode in ("recipe", "stateful"):
                self.sampler.set_epoch(self.trainer.fit_loop.epoch_progress.current.processed)
            elif mode == "current_epoch":
                self.sampler.set_epoch(self.current_epoch)
            if mode == "stateful":
                from torchdata.stateful_dataloader import StatefulDataLoader

                loader: DataLoader[int] = StatefulDataLoader(
                    self.train_set, batch_sampler=self.sampler, num_workers=workers
                )
                return loader
            return DataLoader(self.train_set, batch_sampler=self.sampler, num_workers=workers)

        def training_step(self, batch: torch.Tensor, batch_idx: int) -> torch.Tensor:
            self.seen.setdefault(self.current_epoch, []).append(batch.tolist())
            loss: torch.Tensor = self.layer(batch.float().unsqueeze(1)).pow(2).mean()
            return loss

        def configure_optimizers(self) -> torch.optim.Optimizer:
            return torch.optim.SGD(self.parameters(), lr=0.01)

    return Model()


class _SpySampler(BalancedBatchSampler):
    """The page's sampler, noting every ``set_epoch`` call (the module's and Lightning's)."""

    def __init__(self, calls: list[int]) -> None:
        super().__init__(LABELS, BATCH, alpha=1.0, seed=0)
        self._calls = calls

    def set_epoch(self, epoch: int) -> None:
        self._calls.append(epoch)
        super().set_epoch(epoch)


def _trainer(root: Path, max_epochs: int, **kwargs: Any) -> Any:
    pl = pytest.importorskip("pytorch_lightning", reason=LIGHTNING_SKIP)
    kwargs.setdefault("enable_checkpointing", False)
    return pl.Trainer(
        max_epochs=max_epochs,
        accelerator="cpu",
        devices=1,
        logger=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        default_root_dir=root,
        **kwargs,
    )


def _fit(mode: str, root: Path, *, reload: bool = False, workers: int = 0) -> Any:
    model = _lightning_module(mode, workers)
    extra = {"reload_dataloaders_every_n_epochs": 1} if reload else {}
    _trainer(root, EPOCHS, **extra).fit(model)
    return model


@pytest.fixture(scope="module")
def end_of_epoch_checkpoints(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Checkpoints of a 2-epoch run, both taken at the end of epoch 1.

    ``"callback"``: written by ``ModelCheckpoint`` (in ``on_train_epoch_end``, the usual way);
    ``"save_checkpoint"``: ``trainer.save_checkpoint`` after ``fit`` returned.
    """
    pl = pytest.importorskip("pytorch_lightning", reason=LIGHTNING_SKIP)
    root = tmp_path_factory.mktemp("lightning")
    callback = pl.callbacks.ModelCheckpoint(dirpath=root, filename="{epoch}", save_top_k=-1)
    model = _lightning_module("recipe")
    trainer = _trainer(root, 2, callbacks=[callback], enable_checkpointing=True)
    trainer.fit(model)
    assert model.seen == _plan_epochs(range(2))
    trainer.save_checkpoint(root / "after-fit.ckpt")
    return {"callback": root / "epoch=1.ckpt", "save_checkpoint": root / "after-fit.ckpt"}


def _resume(mode: str, checkpoint: Path, root: Path) -> Any:
    """A fresh module, sampler and trainer, resumed with ``fit(ckpt_path=...)`` to 3 epochs."""
    model = _lightning_module(mode)
    _trainer(root, EPOCHS).fit(model, ckpt_path=checkpoint)
    return model


@pytest.mark.parametrize("workers", [0, 2])
def test_lightning_recipe_gives_every_epoch_its_batches(workers: int, tmp_path: Path) -> None:
    """Epoch e of trainer.fit trains on exactly plan.batches(e, 0): no replay, no skip, with
    or without worker processes (which start reading the sampler before any epoch hook)."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", RefSamplerWarning)
        model = _fit("recipe", tmp_path, workers=workers)
    assert model.seen == _plan_epochs(range(EPOCHS))
    # The module's one call; Lightning itself never calls set_epoch on a custom batch sampler,
    # and every later epoch is the pass after a completed one.
    assert model.set_epochs == [0]


def test_lightning_recipe_with_epochs_cut_short(tmp_path: Path) -> None:
    """``limit_train_batches`` ends every pass early; the next epoch still gets its own
    batches (an abandoned pass moves the sampler on, as a completed one does)."""
    model = _lightning_module("recipe")
    _trainer(tmp_path, EPOCHS, limit_train_batches=2).fit(model)
    planned = _plan_epochs(range(EPOCHS))
    assert model.seen == {e: planned[e][:2] for e in range(EPOCHS)}


@pytest.mark.parametrize("source", ["callback", "save_checkpoint"])
def test_lightning_recipe_resumes_at_the_next_epoch(
    source: str, end_of_epoch_checkpoints: dict[str, Path], tmp_path: Path
) -> None:
    """Resumed from the end of epoch 1, the run trains epoch 2 on epoch 2's batches."""
    model = _resume("recipe", end_of_epoch_checkpoints[source], tmp_path)
    assert model.seen == {2: _plan_epochs(range(3))[2]}


@pytest.mark.filterwarnings("ignore:You're resuming from a checkpoint that ended before")
@pytest.mark.parametrize(("step", "workers"), [(1, 0), (2, 0), (4, 0), (5, 0), (2, 2), (5, 2)])
def test_lightning_mid_epoch_checkpoint_resumes_at_the_next_batch(
    step: int, workers: int, tmp_path: Path
) -> None:
    """The page's mid-epoch recipe: a StatefulDataLoader, whose state (the sampler's, as of
    the batches training has consumed, not those the workers fetched ahead) Lightning writes
    into its checkpoints and restores. A checkpoint written after global step ``step``
    (inside epoch 0 or 1) resumes at the next batch: the fit before it and the resumed fit
    together train on exactly the planned batches of every epoch, each once."""
    pl = pytest.importorskip("pytorch_lightning", reason=LIGHTNING_SKIP)
    callback = pl.callbacks.ModelCheckpoint(
        dirpath=tmp_path, filename="{step}", every_n_train_steps=step, save_top_k=-1
    )
    first = _lightning_module("stateful", workers)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RefSamplerWarning)
        _trainer(tmp_path, EPOCHS, callbacks=[callback], enable_checkpointing=True).fit(first)
    planned = _plan_epochs(range(EPOCHS))
    assert first.seen == planned
    resumed = _lightning_module("stateful", workers)
    _trainer(tmp_path / "resumed", EPOCHS).fit(resumed, ckpt_path=tmp_path / f"step={step}.ckpt")
    flat = [(e, b) for e in range(EPOCHS) for b in planned[e]]
    got = [(e, b) for e in sorted(resumed.seen) for b in resumed.seen[e]]
    assert got == flat[step:]


@pytest.mark.filterwarnings("ignore:You're resuming from a checkpoint that ended before")
def test_lightning_step_checkpoint_at_an_epoch_end_needs_the_epoch_end_checkpoint(
    tmp_path: Path,
) -> None:
    """What the page says about the mid-epoch recipe at an epoch's last batch: a step
    checkpoint written there loses an epoch on resume (Lightning restores a finished epoch,
    the loader a pass with nothing left; a limitation of Lightning and torchdata, pinned here
    so that the page is corrected when it changes), while the epoch-end checkpoint of the
    same step resumes exactly."""
    pl = pytest.importorskip("pytorch_lightning", reason=LIGHTNING_SKIP)
    n = len(_plan_epochs(range(1))[0])
    steps = pl.callbacks.ModelCheckpoint(
        dirpath=tmp_path, filename="{step}", every_n_train_steps=n, save_top_k=-1
    )
    ends = pl.callbacks.ModelCheckpoint(
        dirpath=tmp_path / "ends", filename="{epoch}", save_top_k=-1
    )
    first = _lightning_module("stateful")
    _trainer(tmp_path, EPOCHS, callbacks=[steps, ends], enable_checkpointing=True).fit(first)
    planned = _plan_epochs(range(EPOCHS))
    assert first.seen == planned
    flat = [(e, b) for e in range(EPOCHS) for b in planned[e]]
    from_end = _lightning_module("stateful")
    _trainer(tmp_path / "end", EPOCHS).fit(from_end, ckpt_path=tmp_path / "ends" / "epoch=0.ckpt")
    got = [(e, b) for e in sorted(from_end.seen) for b in from_end.seen[e]]
    assert got == flat[n:]
    from_step = _lightning_module("stateful")
    _trainer(tmp_path / "step", EPOCHS).fit(from_step, ckpt_path=tmp_path / f"step={n}.ckpt")
    got = [b for e in sorted(from_step.seen) for b in from_step.seen[e]]
    assert got == [b for _, b in flat[n : (EPOCHS - 1) * n]]  # epoch 1's batches, once
    assert 1 not in from_step.seen or not from_step.seen[1]  # Lightning's epoch 1: empty


def test_lightning_current_epoch_in_train_dataloader_replays_after_resume(
    end_of_epoch_checkpoints: dict[str, Path], tmp_path: Path
) -> None:
    """Why the recipe reads Lightning's epoch counter in train_dataloader.

    Resuming from a ModelCheckpoint file saved at the end of epoch 1, ``self.current_epoch``
    is still 1 when train_dataloader runs: epoch 2 trains on epoch 1's batches again.
    """
    model = _resume("current_epoch", end_of_epoch_checkpoints["callback"], tmp_path)
    planned = _plan_epochs(range(3))
    assert model.seen == {2: planned[1]}
    assert planned[1] != planned[2]
    assert model.set_epochs == [1]
    # A checkpoint written after fit returned has current_epoch 2 already, so it hides this.
    model = _resume("current_epoch", end_of_epoch_checkpoints["save_checkpoint"], tmp_path)
    assert model.seen == {2: planned[2]}


def test_lightning_without_set_epoch(
    end_of_epoch_checkpoints: dict[str, Path], tmp_path: Path
) -> None:
    """What a user gets without the calls: right in one run, epoch 0 again after a resume.

    Lightning calls set_epoch only on ``loader.sampler`` and ``loader.batch_sampler.sampler``,
    so a BalancedBatchSampler is never told the epoch: within one ``fit`` each new pass moves
    on by one epoch, but a resumed run's fresh sampler starts at epoch 0.
    """
    planned = _plan_epochs(range(3))
    model = _fit("none", tmp_path)
    assert model.set_epochs == []
    assert model.seen == planned
    for source in ("callback", "save_checkpoint"):
        model = _resume("none", end_of_epoch_checkpoints[source], tmp_path)
        assert model.seen == {2: planned[0]}


def test_lightning_reloading_without_set_epoch_replays_epoch_0(tmp_path: Path) -> None:
    """With reload_dataloaders_every_n_epochs and no call, every epoch is epoch 0 again
    (each reload builds a new sampler); the recipe needs no reload and is right with one."""
    planned = _plan_epochs(range(EPOCHS))
    model = _fit("none", tmp_path, reload=True)
    assert model.seen == {e: planned[0] for e in range(EPOCHS)}
    model = _fit("recipe", tmp_path, reload=True)
    assert model.seen == planned


@pytest.mark.slow  # two fits of two spawned processes each: about a minute
@pytest.mark.distributed
@pytest.mark.filterwarnings("ignore:You're resuming from a checkpoint that ended before")
def test_lightning_ddp_recipe_and_mid_epoch_resume_on_two_processes(tmp_path: Path) -> None:
    """The page's mid-epoch recipe under real DDP (``ddp_spawn``, 2 CPU processes, gloo):
    every rank's sampler takes its replicas and rank from the process group and trains epoch
    ``e`` on exactly ``plan.batches(e, rank)``; a checkpoint that rank 0 wrote after global
    step 2 resumes every rank at its own next batch."""
    pl = pytest.importorskip("pytorch_lightning", reason=LIGHTNING_SKIP)
    from tests._lightning_ddp import DDPRecipeModel, seen_by_rank

    labels = np.repeat(np.arange(3, dtype=np.int64), [12, 6, 6])  # 3 batches a rank an epoch
    world, step = 2, 2

    def trainer(root: Path, **kwargs: Any) -> Any:
        return pl.Trainer(
            max_epochs=EPOCHS,
            accelerator="cpu",
            devices=world,
            strategy="ddp_spawn",
            use_distributed_sampler=False,
            logger=False,
            enable_progress_bar=False,
            enable_model_summary=False,
            default_root_dir=root,
            **kwargs,
        )

    planned = {}
    for rank in range(world):
        sampler = BalancedBatchSampler(
            labels, BATCH, alpha=1.0, seed=0, num_replicas=world, rank=rank
        )
        planned[rank] = [
            (e, b) for e in range(EPOCHS) for b in sampler.plan.batches(e, rank).tolist()
        ]
    assert planned[0] != planned[1]
    callback = pl.callbacks.ModelCheckpoint(
        dirpath=tmp_path, filename="{step}", every_n_train_steps=step, save_top_k=-1
    )
    first, resumed = tmp_path / "first", tmp_path / "resumed"
    first.mkdir()
    resumed.mkdir()
    trainer(first, callbacks=[callback]).fit(DDPRecipeModel(labels, BATCH, first))
    assert seen_by_rank(first, world) == planned
    trainer(resumed).fit(
        DDPRecipeModel(labels, BATCH, resumed), ckpt_path=tmp_path / f"step={step}.ckpt"
    )
    assert seen_by_rank(resumed, world) == {r: planned[r][step:] for r in range(world)}


# -- Hugging Face Accelerate ------------------------------------------------------------------


@pytest.fixture
def accelerate_state() -> Iterator[Any]:
    """The accelerate module; its process-wide state is reset afterwards."""
    accelerate = pytest.importorskip("accelerate", reason=ACCELERATE_SKIP)
    from accelerate.state import AcceleratorState

    yield accelerate
    AcceleratorState._reset_state(reset_partial_state=True)


def _train(
    accelerator: Any, loader: Any, sampler: BalancedBatchSampler, epochs: range
) -> dict[int, Batches]:
    """The page's training loop; the batches of every epoch."""
    model = torch.nn.Linear(1, 1)
    optimiser = torch.optim.SGD(model.parameters(), lr=0.01)
    model, optimiser = accelerator.prepare(model, optimiser)
    seen: dict[int, Batches] = {}
    for epoch in epochs:
        sampler.set_epoch(epoch)
        for batch in loader:
            seen.setdefault(epoch, []).append(batch.tolist())
            x = batch.float().unsqueeze(1).to(accelerator.device)
            loss = model(x).pow(2).mean()
            accelerator.backward(loss)
            optimiser.step()
            optimiser.zero_grad()
    return seen


def test_accelerate_recipe_yields_the_sampler_batches(accelerate_state: Any) -> None:
    """Explicit num_replicas / rank, loader not prepared: exactly the plan, fresh or resumed."""
    accelerator = accelerate_state.Accelerator(cpu=True)
    assert (accelerator.num_processes, accelerator.process_index) == (1, 0)

    def build() -> tuple[DataLoader[int], BalancedBatchSampler]:
        sampler = _sampler(num_replicas=accelerator.num_processes, rank=accelerator.process_index)
        return DataLoader(IdentityDataset(LABELS), batch_sampler=sampler), sampler

    loader, sampler = build()
    assert _train(accelerator, loader, sampler, range(EPOCHS)) == _plan_epochs(range(EPOCHS))
    loader, sampler = build()  # a resumed run: a fresh sampler starting at epoch 2
    assert _train(accelerator, loader, sampler, range(2, 3)) == {2: _plan_epochs(range(3))[2]}


def test_accelerate_prepare_sets_the_epoch_in_one_process(accelerate_state: Any) -> None:
    """In one process prepare does not wrap the sampler, but the prepared loader calls
    ``set_epoch(its own pass count)`` on it at every pass, overriding the user's call: a run
    that starts at epoch 2 (a resume) gets epoch 0's batches."""
    accelerator = accelerate_state.Accelerator(cpu=True)
    planned = _plan_epochs(range(3))

    sampler = _sampler()
    prepared = accelerator.prepare(DataLoader(IdentityDataset(LABELS), batch_sampler=sampler))
    assert prepared.batch_sampler is sampler  # not wrapped
    assert _train(accelerator, prepared, sampler, range(EPOCHS)) == planned  # passes 0, 1, 2

    sampler = _sampler()
    prepared = accelerator.prepare(DataLoader(IdentityDataset(LABELS), batch_sampler=sampler))
    assert _train(accelerator, prepared, sampler, range(2, 3)) == {2: planned[0]}


def test_accelerate_prepare_shards_twice_with_two_processes(accelerate_state: Any) -> None:
    """With two processes prepare wraps the rank's sampler in BatchSamplerShard, which keeps
    every other batch of it: each process trains on half of its own batches."""
    from accelerate.data_loader import BatchSamplerShard, prepare_data_loader

    for rank in (0, 1):
        sampler = _sampler(n_batches=4, num_replicas=2, rank=rank)
        loader = DataLoader(IdentityDataset(LABELS), batch_sampler=sampler)
        # What accelerator.prepare(loader) does in process `rank` of 2.
        prepared = prepare_data_loader(loader, num_processes=2, process_index=rank)
        assert isinstance(prepared.batch_sampler, BatchSamplerShard)
        assert (len(sampler), len(prepared)) == (4, 2)
        own = _planned(sampler, 0, rank)
        assert [batch.tolist() for batch in prepared] == own[rank::2]
