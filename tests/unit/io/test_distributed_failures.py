"""Failed ranks in a gloo job of 2 and of 4 processes: every rank learns of the failure
and raises the same clear error, promptly (well before the process group's timeout),
and the group stays usable after a failure that every rank saw."""

from __future__ import annotations

import datetime
import json
import os
import socket
import time
from pathlib import Path

import numpy as np
import pytest
import torch.distributed as dist
import torch.multiprocessing as mp

from spikewidget import InvalidInputError, SpikeProfiler

GROUP_TIMEOUT_S = 120  # the process group's own timeout: no failure may wait for it
GATHER_TIMEOUT_S = 5
STEPS = 3


class DiskFullProfiler(SpikeProfiler):
    """A rank whose profile cannot be written (fault injection: the disk is full)."""

    def to_bytes(self) -> bytes:
        raise OSError(28, "No space left on device")


def recorded(cls: type[SpikeProfiler], rank: int, n_hidden: int) -> SpikeProfiler:
    prof = cls()
    rng = np.random.default_rng(rank)
    for _ in range(STEPS):
        prof.record_step("hidden", (rng.random((4, n_hidden)) < 0.3).astype(np.float32))
    return prof


def attempt(results: dict, name: str, fn) -> None:
    t0 = time.monotonic()
    try:
        out = fn()
        results[name] = {"result": "none" if out is None else out.report().layer_stats[
            "hidden"].n_steps}
    except Exception as exc:  # what every rank saw is compared by the test
        results[name] = {"error": type(exc).__name__, "message": str(exc)}
    results[name]["seconds"] = time.monotonic() - t0


def _worker(rank: int, world: int, port: int, out: str) -> None:
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank,
                            world_size=world,
                            timeout=datetime.timedelta(seconds=GROUP_TIMEOUT_S))
    last = world - 1
    results: dict = {}
    # rank 1 recorded the layer with one neuron more than the others
    attempt(results, "conflict", lambda: recorded(
        SpikeProfiler, rank, 10 + (rank == 1)).gather(timeout=GATHER_TIMEOUT_S))
    # the last rank cannot serialise its profile
    attempt(results, "failed", lambda: recorded(
        DiskFullProfiler if rank == last else SpikeProfiler, rank, 10).gather(
            timeout=GATHER_TIMEOUT_S))
    # the group still works: a normal gather after the two failures
    attempt(results, "after", lambda: recorded(SpikeProfiler, rank, 10).gather())
    if rank == last:  # raises in its training loop, before ever calling gather
        Path(out, f"rank{rank}.json").write_text(json.dumps(results))
        deadline = time.monotonic() + 90  # stays alive while the others wait for it
        while time.monotonic() < deadline and not all(
                Path(out, f"rank{r}.json").exists() for r in range(last)):
            time.sleep(0.2)
        os._exit(0)
    attempt(results, "absent", lambda: recorded(SpikeProfiler, rank, 10).gather(
        timeout=GATHER_TIMEOUT_S))
    Path(out, f"rank{rank}.json").write_text(json.dumps(results))
    os._exit(0)  # the group is broken (a rank never came): no orderly teardown


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize("world", [2, 4])
def test_every_rank_raises_the_same_clear_error_promptly(tmp_path: Path, world: int) -> None:
    ctx = mp.start_processes(_worker, args=(world, free_port(), str(tmp_path)),
                             nprocs=world, join=False, start_method="spawn")
    deadline = time.monotonic() + 240
    try:
        while not ctx.join(timeout=2):
            assert time.monotonic() < deadline, "the ranks did not finish in time"
    finally:
        for p in ctx.processes:
            if p.is_alive():
                p.kill()
    runs = [json.loads(Path(tmp_path, f"rank{r}.json").read_text()) for r in range(world)]

    conflict = {r["conflict"]["message"] for r in runs}
    assert [r["conflict"]["error"] for r in runs] == ["GatherError"] * world
    assert len(conflict) == 1, conflict  # the same message on every rank
    (message,) = conflict
    assert "layer 'hidden'" in message and "(10,) on rank 0 but (11,) on rank 1" in message

    failed = {r["failed"]["message"] for r in runs}
    assert [r["failed"]["error"] for r in runs] == ["GatherError"] * world
    assert len(failed) == 1, failed
    (message,) = failed
    assert f"rank {world - 1}: OSError" in message and "No space left" in message
    assert "nothing was merged" in message

    assert [r["after"]["result"] for r in runs] == [world * STEPS] + ["none"] * (world - 1)

    for r in runs[:-1]:  # the ranks that waited for one that never came
        assert r["absent"]["error"] == "GatherError"
        assert "did a rank fail before calling gather?" in r["absent"]["message"]
        assert r["absent"]["seconds"] < GROUP_TIMEOUT_S / 4
    for r in runs:
        for name in ("conflict", "failed"):
            assert r[name]["seconds"] < GROUP_TIMEOUT_S / 4, (name, r[name])


def test_gather_refuses_a_timeout_that_is_not_a_positive_number() -> None:
    for bad in (0, -1.0, "5", True, float("nan")):
        with pytest.raises(InvalidInputError, match="timeout must be a number of seconds"):
            SpikeProfiler().gather(timeout=bad)
