"""Real ``torch.distributed`` (gloo, 127.0.0.1) runs of the sampler, for the distributed tests.

:func:`launch` starts ``world_size`` fresh processes (``spawn``), each of which joins a gloo
process group on a free local port and runs :func:`worker`: it builds every scenario of
:data:`SCENARIOS` with the replica arguments left to their defaults (so they come from the
initialised group), iterates a few epochs with ``set_epoch``, resumes mid-epoch from a state,
and gathers all ranks' results to rank 0 with ``all_gather_object``. Rank 0 pickles them to a
file that the parent reads. A run that does not finish in time is killed and reported.
"""

from __future__ import annotations

import datetime
import os
import pickle
import socket
import tempfile
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = ["SCENARIOS", "DistributedRunError", "Scenario", "launch", "worker"]

#: Seconds a whole run (start-up, all scenarios, shutdown) may take before it is killed.
JOIN_TIMEOUT = 120.0


@dataclass(frozen=True)
class Scenario:
    """One sampler configuration run on every rank."""

    name: str
    class_sizes: tuple[int, ...]
    batch_size: int
    kind: str
    alpha: float
    epochs: int

    def labels(self) -> npt.NDArray[np.int64]:
        """Labels in class-major order: ``class_sizes[0]`` zeros, then ones, and so on."""
        return np.repeat(np.arange(len(self.class_sizes), dtype=np.int64), self.class_sizes)


#: fixed: counts 2/2/2 per batch; every class size is a multiple of 2 * 2 and 2 * 3, so a
#: class cycle ends exactly at a step boundary with 2 and 3 ranks.
#: quota: K = 5 > B = 4, counts vary per batch.  random: with replacement.
SCENARIOS = (
    Scenario("fixed", (48, 24, 12), batch_size=6, kind="fixed", alpha=1.0, epochs=3),
    Scenario("quota", (30, 20, 7, 3, 1), batch_size=4, kind="quota", alpha=0.5, epochs=3),
    Scenario("random", (50, 10, 2), batch_size=8, kind="random", alpha=1.0, epochs=3),
)


class DistributedRunError(RuntimeError):
    """A launched process group failed, or did not finish within :data:`JOIN_TIMEOUT`."""


def _free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _run_scenario(scenario: Scenario) -> dict[str, Any]:
    """This rank's view of ``scenario``: attributes, batches per epoch, and a resumed run."""
    from refsampler import BalancedBatchSampler, SamplerFactory
    from tests._datasets import IdentityDataset

    labels = scenario.labels()
    common = {"kind": scenario.kind, "alpha": scenario.alpha}
    sampler = BalancedBatchSampler(labels, scenario.batch_size, **common)
    epochs = []
    for epoch in range(scenario.epochs):
        sampler.set_epoch(epoch)
        epochs.append(np.array(list(sampler), dtype=np.int64))

    # The other constructors, also with the replica arguments left to the group.
    dataset_sampler = BalancedBatchSampler.from_dataset(
        IdentityDataset(labels), scenario.batch_size, **common
    )
    class_idxs = [np.flatnonzero(labels == c).tolist() for c in range(len(scenario.class_sizes))]
    factory_sampler = SamplerFactory().get(
        class_idxs, scenario.batch_size, len(sampler), scenario.alpha, scenario.kind
    )

    # Resume on every rank: save in the middle of epoch 1, restore into a fresh sampler.
    middle = len(sampler) // 2
    sampler.set_epoch(1)
    iterator = iter(sampler)
    for _ in range(middle):
        next(iterator)
    state = sampler.state_dict()
    restored = BalancedBatchSampler(labels, scenario.batch_size, **common)
    restored.load_state_dict(state)
    restored.set_epoch(1)
    resumed = list(restored)  # the rest of epoch 1
    resumed += list(restored)  # epoch 2, by the automatic advance
    return {
        "num_replicas": sampler.num_replicas,
        "rank": sampler.rank,
        "seed": sampler.seed,
        "len": len(sampler),
        "epochs": epochs,
        "from_dataset": np.array(list(dataset_sampler), dtype=np.int64),
        "factory": np.array(list(factory_sampler), dtype=np.int64),
        "resume_at": middle,
        "resumed": np.array(resumed, dtype=np.int64),
    }


def worker(rank: int, world_size: int, port: int, out_dir: str) -> None:
    """Join the gloo group as ``rank``, run every scenario, gather the results to rank 0."""
    import torch
    import torch.distributed as dist

    torch.set_num_threads(1)
    try:
        dist.init_process_group(
            "gloo",
            init_method=f"tcp://127.0.0.1:{port}",
            world_size=world_size,
            rank=rank,
            timeout=datetime.timedelta(seconds=JOIN_TIMEOUT / 2),
        )
        mine = {scenario.name: _run_scenario(scenario) for scenario in SCENARIOS}
        gathered: list[Any] = [None] * world_size
        dist.all_gather_object(gathered, mine)
        if rank == 0:
            with open(Path(out_dir, "result.pkl"), "wb") as handle:
                pickle.dump(gathered, handle)
        dist.barrier()
        dist.destroy_process_group()
    except BaseException:
        Path(out_dir, f"error-{rank}.txt").write_text(traceback.format_exc())
        raise


def launch(world_size: int, *, attempts: int = 3) -> list[dict[str, Any]]:
    """Run :func:`worker` on ``world_size`` spawned processes; rank ``r``'s results at ``[r]``.

    Raises
    ------
    DistributedRunError
        If a process fails or the group does not finish within :data:`JOIN_TIMEOUT` seconds.
        A port taken between probing and binding is retried up to ``attempts`` times.
    """
    import multiprocessing

    context = multiprocessing.get_context("spawn")
    for attempt in range(attempts):
        with tempfile.TemporaryDirectory() as out_dir:
            port = _free_port()
            processes = [
                context.Process(target=worker, args=(rank, world_size, port, out_dir))
                for rank in range(world_size)
            ]
            for process in processes:
                process.start()
            deadline = datetime.datetime.now() + datetime.timedelta(seconds=JOIN_TIMEOUT)
            for process in processes:
                remaining = (deadline - datetime.datetime.now()).total_seconds()
                process.join(max(remaining, 0.0))
            hung = [p for p in processes if p.is_alive()]
            for process in hung:
                process.kill()
                process.join()
            errors = "\n".join(p.read_text() for p in sorted(Path(out_dir).glob("error-*.txt")))
            if hung:
                raise DistributedRunError(
                    f"{len(hung)} of {world_size} processes still running after "
                    f"{JOIN_TIMEOUT:.0f} s; killed.\n{errors}"
                )
            codes = [p.exitcode for p in processes]
            if all(code == 0 for code in codes):
                with open(Path(out_dir, "result.pkl"), "rb") as handle:
                    result: list[dict[str, Any]] = pickle.load(handle)
                return result
            if "Address already in use" in errors and attempt + 1 < attempts:
                continue
            raise DistributedRunError(f"exit codes {codes}.\n{errors}")
    raise DistributedRunError("unreachable")  # pragma: no cover


if __name__ == "__main__":  # manual smoke run: python -m tests._distributed_worker
    print({r["quota"]["rank"]: r["quota"]["len"] for r in launch(int(os.environ.get("WS", 2)))})
