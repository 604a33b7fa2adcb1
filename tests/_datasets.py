"""Picklable datasets for the DataLoader tests (importable by spawned worker processes)."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from torch.utils.data import Dataset

__all__ = ["IdentityDataset", "long_tailed_labels"]


def long_tailed_labels(counts: tuple[int, ...] = (60, 25, 10, 5)) -> npt.NDArray[np.int64]:
    """Labels ``[0] * counts[0] + [1] * counts[1] + ...``: a small long-tailed dataset."""
    return np.repeat(np.arange(len(counts), dtype=np.int64), counts)


class IdentityDataset(Dataset[int]):
    """Item ``i`` is ``i``, so a loaded batch shows exactly which positions the sampler chose.

    Parameters
    ----------
    labels : numpy.ndarray of int64
        Class of every item; exposed as ``.targets`` like torchvision datasets.
    """

    def __init__(self, labels: npt.NDArray[np.int64]) -> None:
        self.targets = labels.tolist()

    def __len__(self) -> int:
        return len(self.targets)

    def __getitem__(self, index: int) -> int:
        return int(index)
