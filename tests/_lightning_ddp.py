"""The ddp-and-lightning page's mid-epoch recipe as a module-level LightningModule, so that
the processes Lightning's ``ddp_spawn`` strategy starts can unpickle it.

Imports ``pytorch_lightning`` at the top: import this module only after
``pytest.importorskip("pytorch_lightning")``. Every rank writes the batches its
``training_step`` got to ``<out>/rank<r>.json`` at the end of ``fit`` (spawned processes
return nothing else to the test).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytorch_lightning as pl
import torch
from torchdata.stateful_dataloader import StatefulDataLoader

from refsampler import BalancedBatchSampler
from tests._datasets import IdentityDataset

__all__ = ["DDPRecipeModel", "seen_by_rank"]


class DDPRecipeModel(pl.LightningModule):
    """The page's module: the sampler built in ``train_dataloader`` (its replicas and rank
    from the process group), its epoch set once from Lightning's counter, served by a
    ``StatefulDataLoader`` whose state Lightning checkpoints."""

    def __init__(self, labels: npt.NDArray[np.int64], batch_size: int, out: Path) -> None:
        super().__init__()
        self.layer = torch.nn.Linear(1, 1)
        self.labels = labels
        self.batch_size = batch_size
        self.out = out
        self.seen: list[tuple[int, list[int]]] = []  # (epoch, batch) in training order

    def train_dataloader(self) -> StatefulDataLoader:
        self.sampler = BalancedBatchSampler(self.labels, self.batch_size, alpha=1.0, seed=0)
        self.sampler.set_epoch(self.trainer.fit_loop.epoch_progress.current.processed)
        return StatefulDataLoader(IdentityDataset(self.labels), batch_sampler=self.sampler)

    def training_step(self, batch: torch.Tensor, batch_idx: int) -> torch.Tensor:
        self.seen.append((self.current_epoch, batch.tolist()))
        loss: torch.Tensor = self.layer(batch.float().unsqueeze(1)).pow(2).mean()
        return loss

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.SGD(self.parameters(), lr=0.01)

    def on_train_end(self) -> None:
        replicas = (self.sampler.num_replicas, self.sampler.rank)
        record = {"replicas": replicas, "seen": self.seen}
        (self.out / f"rank{self.global_rank}.json").write_text(json.dumps(record))


def seen_by_rank(out: Path, world_size: int) -> dict[int, list[tuple[int, list[int]]]]:
    """What each rank trained on, as ``DDPRecipeModel`` wrote it; checks that every rank's
    sampler took its replicas and rank from the process group."""
    seen = {}
    for rank in range(world_size):
        record = json.loads((out / f"rank{rank}.json").read_text())
        if record["replicas"] != [world_size, rank]:
            raise AssertionError(f"rank {rank}'s sampler had (num_replicas, rank) {record}")
        seen[rank] = [(int(e), list(b)) for e, b in record["seen"]]
    return seen
