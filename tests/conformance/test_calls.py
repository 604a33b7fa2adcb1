"""Tests of refsampler.conformance.calls: declines, exceptions, timeouts, modified inputs."""

from __future__ import annotations

import threading
import time
from typing import Any

import numpy as np
import pytest

from refsampler.conformance import calls, mutants

LABELS = np.repeat(np.arange(3, dtype=np.int64), [6, 3, 1])
ARGS = {"kind": "fixed", "alpha": 1.0, "batch_size": 3, "n_batches": 4, "seed": 0}


def test_a_correct_call_returns_its_batches() -> None:
    """Four batches, nothing declined, no problem, no modified input."""
    result = calls.call(mutants.control, LABELS, **ARGS)
    assert result.batches is not None and len(result.batches) == 4
    assert (result.declined, result.problem, result.inputs_changed) == ("", "", [])


def test_not_implemented_is_a_decline_with_its_message() -> None:
    """NotImplementedError declines; its message is the reason."""
    result = calls.call(mutants.declines_everything, LABELS, **ARGS)
    assert result.declined == "NotImplementedError: not implemented yet"
    assert result.batches is None and result.problem == ""


def test_any_other_exception_is_a_problem_even_while_iterating() -> None:
    """An exception raised by the call or by reading the batches is reported, not raised."""

    def lazy(labels: Any, **kwargs: Any) -> Any:
        yield [0, 1, 2]
        raise ValueError("bad batch")

    assert calls.call(mutants.crashes_on_short_runs, LABELS, **ARGS).problem == (
        "raised ValueError: n_batches=4 is too small for the warm-up"
    )
    assert calls.call(lazy, LABELS, **ARGS).problem == "raised ValueError: bad batch"


def test_not_implemented_after_the_first_batch_is_a_crash_not_a_decline() -> None:
    """A decline counts only before the first batch: raised by the first ``next`` it
    declines; raised after batches were produced it fails, saying after how many."""

    def at_first_next(labels: Any, **kwargs: Any) -> Any:
        raise NotImplementedError("no tiny classes")
        yield [0, 1, 2]  # a generator: the error comes from the first next

    def after_two(labels: Any, **kwargs: Any) -> Any:
        yield [0, 1, 2]
        yield [3, 4, 5]
        raise NotImplementedError

    early = calls.call(at_first_next, LABELS, **ARGS)
    assert (early.declined, early.problem) == ("NotImplementedError: no tiny classes", "")
    late = calls.call(after_two, LABELS, **ARGS)
    assert late.declined == "" and late.batches is None
    assert late.problem == (
        "raised NotImplementedError after 2 batches (a decline counts only before the first batch)"
    )


def test_system_exit_escapes_as_an_adapter_error() -> None:
    """SystemExit is not a finding about the sampler: the caller gets AdapterExit."""
    with pytest.raises(calls.AdapterExit, match=r"raised SystemExit\(3\)"):
        calls.call(mutants.exits, LABELS, **ARGS)


def test_modified_labels_are_reported_with_the_stage() -> None:
    """Shuffling during the call is 'building'; during iteration, 'reading'."""

    def late(labels: Any, **kwargs: Any) -> Any:
        yield [0, 1, 2]
        labels[:2] = labels[1::-1] + 1

    early = calls.call(mutants.mutates_labels, LABELS, **ARGS)
    assert len(early.inputs_changed) == 1
    assert early.inputs_changed[0].endswith("labels modified while building the sampler")
    assert calls.call(late, LABELS, **ARGS).inputs_changed == [
        "2 labels modified while reading the batches"
    ]
    assert np.array_equal(LABELS, np.repeat(np.arange(3), [6, 3, 1]))  # the kit's copy


def test_a_call_that_hangs_is_stopped_after_the_timeout() -> None:
    """In the main thread a timer signal interrupts the call itself."""
    result = calls.call(mutants.hangs, LABELS, timeout=0.2, **ARGS)
    assert result.problem == "no result within 0.2 s (--timeout)"


def test_with_timeout_works_outside_the_main_thread() -> None:
    """Off the main thread the call runs in a daemon thread and is abandoned on timeout."""
    outcome: dict[str, Any] = {}

    def worker() -> None:
        try:
            calls.with_timeout(lambda: time.sleep(10), 0.1)
        except BaseException as exc:  # the private timeout exception
            outcome["error"] = type(exc).__name__
        outcome["value"] = calls.with_timeout(lambda: 7, 1.0)

    thread = threading.Thread(target=worker)
    thread.start()
    thread.join(5)
    assert outcome == {"error": "_Timeout", "value": 7}
