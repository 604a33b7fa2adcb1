"""Samplers for the fresh-process resume tests: refsampler's sampler, misbehaving only in the
kit's fresh process (``fresh._serving``), so every other check passes them."""

from __future__ import annotations

import os
import signal
import sys
import time
from typing import Any

from refsampler.conformance import fresh
from refsampler.conformance.adapters import refsampler_sampler


class _Sampler:
    """refsampler's sampler whose ``load_state_dict`` runs ``misbehave`` first in the child."""

    def __init__(self, inner: Any, misbehave: Any) -> None:
        self.inner, self.misbehave = inner, misbehave

    def set_epoch(self, epoch: int) -> None:
        self.inner.set_epoch(epoch)

    def __iter__(self) -> Any:
        return iter(self.inner)

    def __len__(self) -> int:
        return len(self.inner)

    def state_dict(self) -> dict[str, Any]:
        return dict(self.inner.state_dict())

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if fresh._serving:
            self.misbehave()
        self.inner.load_state_dict(state)


def _sleep() -> None:
    deadline = time.monotonic() + 3600.0
    while time.monotonic() < deadline:  # short sleeps: the timer signal ends it
        time.sleep(0.01)


def _deaf() -> None:
    signal.pthread_sigmask(signal.SIG_BLOCK, [signal.SIGALRM])  # no timer can interrupt it
    time.sleep(3600.0)


def hangs_in_a_fresh_process(labels: Any, **kwargs: Any) -> _Sampler:
    """``load_state_dict`` never returns in a fresh process."""
    return _Sampler(refsampler_sampler(labels, **kwargs), _sleep)


def deaf_in_a_fresh_process(labels: Any, **kwargs: Any) -> _Sampler:
    """``load_state_dict`` blocks the timer signal and sleeps in a fresh process: only
    killing the process ends it."""
    return _Sampler(refsampler_sampler(labels, **kwargs), _deaf)


def _die() -> None:
    sys.stderr.write("out of memory\n")
    sys.stderr.flush()
    os._exit(3)


def dies_in_a_fresh_process(labels: Any, **kwargs: Any) -> _Sampler:
    """``load_state_dict`` says "out of memory" and ends a fresh process with status 3."""
    return _Sampler(refsampler_sampler(labels, **kwargs), _die)
