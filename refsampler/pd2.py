"""PD2, the optimal Pfair scheduling rule, run a span of slots at a time.

``G`` tasks of rates ``num_g / D`` (each below 1, summing to the integer ``choose``) share
``choose`` processors; task ``g`` has had ``E_g`` subtasks scheduled, and its lag numerator
is ``lag_g = t * num_g - E_g * D`` (its lag times ``D``, below ``D`` in magnitude). At every
slot PD2 runs the ``choose`` released subtasks of highest priority: earliest pseudo-deadline,
then successor bit 1 before 0, then the later group deadline (heavy tasks, rate >= 1/2), then
a random priority from the task's salt and the subtask's number [1]_. (A full tie, which
needs two equal 64-bit priorities, goes to the lower task index.)

Every one of these keys, made absolute, depends on the subtask alone, not on the slot it is
compared at: subtask ``i`` of task ``g`` is released at slot ``floor((i - 1) D / num)``, its
pseudo-deadline is ``ceil(i D / num)``, and the group deadline ``t + ceil((lag + c D) /
(D - num))`` of the scheduler's formula comes out the same at every ``t``. So a span of ``S``
slots is run by listing, once, the subtasks each task can reach in it (at most
``floor(S num / D) + 2``, plus one that is not released in the span), ranking them all by one
sort, and then, slot by slot, picking the ``choose`` lowest ranks among the tasks whose
current subtask is released: a handful of vector operations a slot, instead of recomputing
every key of every ready task. The ranks reproduce the comparisons exactly, so the schedule
is PD2's, slot for slot.

All arithmetic is exact in 64-bit integers for ``D <= 2**58``: ``(j - 1) D`` for the
``j``-th subtask of the span is never formed (it is split into multiples of ``num`` and a
remainder), and the one intermediate that can pass 2**63, ``(j - 1) (D mod num)``, is only
used in a difference known to fit, which numpy's wrapping arithmetic then gives exactly.
Imports numpy only.

References
----------
.. [1] J. H. Anderson and A. Srinivasan, "Mixed Pfair/ERfair scheduling of asynchronous
   periodic tasks", Journal of Computer and System Sciences 68(1), 2004.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from . import keys

__all__ = ["run_span"]

IntVector = npt.NDArray[np.int64]
IntMatrix = npt.NDArray[np.int64]

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)


def _subtasks(
    num: IntVector, den: int, lag: IntVector, slots: int
) -> tuple[IntVector, IntVector, IntVector, IntVector, IntVector]:
    """The subtasks every task can reach in the next ``slots`` slots: for each, its task
    (``rows``, ascending), its place ``j - 1`` among its task's (0 = the current subtask),
    its release slot (relative to the span's first slot) and ``x mod num``, where ``x =
    (j - 1) D - lag`` and the release is ``floor(x / num)``; and every task's first entry.

    ``ceil((slots * num + lag) / D)`` of a task's subtasks are released in the span (none
    when that is not positive); each task gets ``floor((slots * num + lag) / D) + 3``
    entries, computed in floats (off by less than one), so its last is released after the
    span, and the scheduler never moves past it.
    """
    per_task = np.floor(slots * (num / den) + lag / den).astype(np.int64) + 3
    rows = np.repeat(np.arange(num.size, dtype=np.int64), per_task)
    first = np.zeros(num.size, dtype=np.int64)
    np.cumsum(per_task[:-1], out=first[1:])
    j = np.arange(rows.size, dtype=np.int64) - first[rows]
    # x = (j - 1) D - lag, with D = a num + b and lag = a0 num + b0, is
    # ((j - 1) a - a0) num + w, w = (j - 1) b - b0 in (-num, (j - 1) num), which can pass
    # 2**63: floor(w / num) from floats is off by at most one, and w - estimate * num, in
    # (-num, 2 num), comes out exactly from wrapping arithmetic.
    n = num[rows]
    a, b = np.divmod(np.int64(den), num)
    a0, b0 = np.divmod(lag, num)
    estimate = np.floor(j * (b / num)[rows] - (b0 / num)[rows]).astype(np.int64)
    rem = j * b[rows] - b0[rows] - estimate * n
    low = rem < 0
    estimate[low] -= 1
    rem[low] += n[low]
    high = rem >= n
    estimate[high] += 1
    rem[high] -= n[high]
    release = j * a[rows] - a0[rows] + estimate
    # Keep the subtasks released in the span and, after each task's, the next one.
    inside = release < slots
    reached = np.bincount(rows[inside], minlength=num.size)
    keep = inside
    keep[first + reached] = True
    first = np.zeros(num.size, dtype=np.int64)
    np.cumsum(reached[:-1] + 1, out=first[1:])
    return rows[keep], j[keep], release[keep], rem[keep], first


def _ranks(
    rows: IntVector,
    j: IntVector,
    release: IntVector,
    rem: IntVector,
    num: IntVector,
    den: int,
    count: IntVector,
    salt: npt.NDArray[np.uint64],
) -> IntVector:
    """Every listed subtask's rank in PD2's priority order (0 = runs first)."""
    n = num[rows]
    # At its release the subtask's lag numerator is -rem (in (-num, 0]); the keys below are
    # the scheduler's, taken there and shifted by the release to be absolute.
    ahead = den + rem  # D - lag
    delta = -(-ahead // n)
    deadline = release + delta
    successor = ahead % n != 0
    # Earliest deadline first, then successor bit 1 first (2 * deadline < 2**62).
    first_keys = 2 * deadline + ~successor
    # Exact ties go by a random priority per (task, subtask): a full mix, so that among tasks
    # of equal rate every order of a round is possible and equally likely.
    tie = (count[rows] + j + 1).astype(np.uint64) * _GOLDEN
    tie = keys.mix_words(tie ^ salt[rows])
    # Sorts from the last key to the first, stable after the first (np.lexsort, several
    # times faster). Equal 64-bit priorities, a 2**-64 chance per pair, are left in task
    # order as a stable sort leaves them.
    order = np.argsort(tie)
    ranked = tie[order]
    if (ranked[1:] == ranked[:-1]).any():
        order = np.argsort(tie, kind="stable")
    heavy = 2 * n >= den
    if heavy.any():
        # The later group deadline first. A heavy task's is at least its pseudo-deadline, so
        # after the slot it is compared at, where a light task's counts as that slot: light
        # tasks come after heavy ones of the same deadline and successor bit.
        later = np.zeros(rows.size, dtype=np.int64)
        h_light = den - n[heavy]
        h_lag = -rem[heavy]
        c = -((h_lag - delta[heavy] * h_light) // den)
        later[heavy] = -(release[heavy] - (-(h_lag + c * den) // h_light))
        in_heavy = heavy[order]
        order = np.concatenate((_by(later, order[in_heavy]), order[~in_heavy]))
    order = _by(first_keys, order)
    rank = np.empty(rows.size, dtype=np.int64)
    rank[order] = np.arange(rows.size, dtype=np.int64)
    return rank


def _by(values: IntVector, order: IntVector) -> IntVector:
    """``order`` sorted stably by ``values[order]``: as 16-bit keys when their range allows,
    for which numpy's stable sort is a radix sort (about ten times faster at 20,000 keys)."""
    keyed = values[order]
    if keyed.size:
        low = keyed.min()
        if int(keyed.max()) - int(low) < 1 << 16:
            keyed = (keyed - low).astype(np.uint16)
    return order[np.argsort(keyed, kind="stable")]


def run_span(
    num: IntVector,
    den: int,
    salt: npt.NDArray[np.uint64],
    choose: int,
    count: IntVector,
    lag: IntVector,
    slots: int,
    *,
    record: bool = False,
) -> tuple[IntVector, IntMatrix | None]:
    """Run PD2 for ``slots`` slots.

    Parameters
    ----------
    num, den : numpy.ndarray of int64, int
        The tasks' rates ``num / den``, each in ``(0, 1)``, ``den <= 2**58``.
    salt : numpy.ndarray of uint64
        Each task's salt for the random priority of exact ties.
    choose : int
        Processors: subtasks run per slot (the sum of the rates).
    count, lag : numpy.ndarray of int64
        Subtasks scheduled so far, and lag numerators (``|lag| < den``), before the span:
        a state PD2 reaches (every state of a Pfair schedule is one). From a state where a
        subtask is already past its deadline the ranks can order an overdue heavy task
        differently from the scheduler's slot-relative keys.
    slots : int
        Slots to run (the listing grows with it: spans of tens of slots keep it small).
    record : bool
        Also return the subtasks scheduled before every slot and after the last.

    Returns
    -------
    taken : numpy.ndarray of int64
        Subtasks each task ran in the span.
    rows : numpy.ndarray of int64 or None
        With ``record``, shape (slots + 1, G): ``count`` plus the subtasks run before each
        slot.
    """
    rows, j, release, rem, first = _subtasks(num, den, lag, slots)
    rank = _ranks(rows, j, release, rem, num, den, count, salt)
    at = first.copy()
    chosen: list[IntVector] = []
    for slot in range(slots):
        ready = np.flatnonzero(release[at] <= slot)
        if ready.size > choose:
            ready = ready[np.argpartition(rank[at[ready]], choose - 1)[:choose]]
        at[ready] += 1
        if record:
            chosen.append(ready)
    taken = at - first
    if not record:
        return taken, None
    ran = np.zeros((slots + 1, num.size), dtype=np.int64)
    sizes = np.fromiter((c.size for c in chosen), dtype=np.int64, count=slots)
    if slots:
        ran[np.repeat(np.arange(1, slots + 1), sizes), np.concatenate(chosen)] = 1
    np.cumsum(ran, axis=0, out=ran)
    ran += count
    return taken, ran
