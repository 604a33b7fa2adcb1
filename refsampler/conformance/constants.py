"""Constants of the kit that the command line needs before anything heavy is imported.

:mod:`refsampler.conformance.cli` builds ``refsampler verify --help`` from these alone, so the
help answers without importing scipy or torch.
"""

from __future__ import annotations

__all__ = ["API_NAMES", "FAMILY_LEVEL", "LEVELS", "MIN_EPOCHS"]

#: Family-wise false-failure rate of one ``verify`` run (Holm over its statistical checks).
FAMILY_LEVEL = 1e-6
#: The levels of a run: ``quick``, or ``full`` (power 0.999 against a 1-point share shift).
LEVELS = ("quick", "full")
#: The APIs ``refsampler verify --api`` reaches.
API_NAMES = ("batches", "factory", "weights", "sampler")
#: The fewest epochs the sampler API's epoch checks take (``--epochs``): a replayed epoch, or
#: cycles restarted at an epoch boundary, show only from two epochs on.
MIN_EPOCHS = 2
