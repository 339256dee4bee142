"""Data-parallel training over gloo, two processes: the profile merged on rank 0
equals the profile of one process that trained on the same data."""

from __future__ import annotations

import datetime
import math
import socket
import time
from pathlib import Path

import numpy as np
import pytest
import snntorch as snn
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch import nn

from spikewidget import SpikeProfiler

WORLD, STEPS, T, B, N_IN, N_HID, N_OUT = 2, 3, 6, 4, 12, 10, 3
TIMEOUT_S = 120


class Net(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc1 = nn.Linear(N_IN, N_HID)
        self.lif1 = snn.Leaky(beta=0.9)
        self.fc2 = nn.Linear(N_HID, N_OUT)
        self.out = snn.Leaky(beta=0.9)
        with torch.no_grad():
            self.fc1.weight.mul_(3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        m1, m2 = self.lif1.init_leaky(), self.out.init_leaky()
        spikes = []
        for t in range(x.shape[0]):
            s1, m1 = self.lif1(self.fc1(x[t]), m1)
            s2, m2 = self.out(self.fc2(s1), m2)
            spikes.append(s2)
        return torch.stack(spikes)


def shard(rank: int, step: int) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(1000 * step + rank)
    x = (torch.rand(T, B, N_IN, generator=g) < 0.3).float()
    return x, torch.randint(0, N_OUT, (B,), generator=g)


def loss_of(net: nn.Module, rank: int, step: int) -> torch.Tensor:
    x, y = shard(rank, step)
    return nn.functional.cross_entropy(net(x).sum(0), y)


def _worker(rank: int, port: int, out: str) -> None:
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank,
                            world_size=WORLD, timeout=datetime.timedelta(seconds=60))
    try:
        torch.manual_seed(0)
        model = nn.parallel.DistributedDataParallel(Net(), broadcast_buffers=False)
        opt = torch.optim.SGD(model.parameters(), lr=0.5)
        prof = SpikeProfiler()
        with prof.watch(model, gradients=True, input=True):
            for step in range(STEPS):
                loss = loss_of(model, rank, step)
                opt.zero_grad()
                loss.backward()  # DDP averages the weight gradients over the ranks
                opt.step()
                prof.record_loss(loss, n_classes=N_OUT)
        merged = prof.gather()
        Path(out, f"rank{rank}.txt").write_text("merged" if merged is not None else "none")
        if merged is not None:
            Path(out, "merged.bin").write_bytes(merged.to_bytes())
        dist.barrier()  # both ranks done before either tears gloo down (else SIGABRT, rarely)
    finally:
        dist.destroy_process_group()


def single_process_reference() -> SpikeProfiler:
    """One process, the same data and the same (averaged) weight updates."""
    torch.manual_seed(0)
    net = Net()
    opt = torch.optim.SGD(net.parameters(), lr=0.5)
    prof = SpikeProfiler()
    with prof.watch(net, gradients=True, input=True):
        for step in range(STEPS):
            grads = []
            for rank in range(WORLD):
                loss = loss_of(net, rank, step)
                opt.zero_grad()
                loss.backward()
                prof.record_loss(loss, n_classes=N_OUT)
                grads.append([p.grad.clone() for p in net.parameters()])
            for p, *gs in zip(net.parameters(), *grads, strict=True):
                p.grad = sum(g / WORLD for g in gs)
            opt.step()
    return prof


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_ranks(out: Path) -> None:
    """Run the two ranks to the end, writing into ``out``."""
    ctx = mp.start_processes(_worker, args=(free_port(), str(out)), nprocs=WORLD,
                             join=False, start_method="spawn")
    deadline = time.monotonic() + TIMEOUT_S
    try:
        while not ctx.join(timeout=5):
            assert time.monotonic() < deadline, "the two ranks did not finish in time"
    finally:
        for p in ctx.processes:
            if p.is_alive():
                p.kill()


def test_gather_over_gloo_equals_one_process_that_saw_all_the_data(tmp_path: Path) -> None:
    try:
        run_ranks(tmp_path)
    except mp.ProcessExitedException as exc:
        # About one run in 20 a rank aborts in gloo's C++ code ("terminate called without
        # an active exception"; measured 1 in 20 both before and after the watch rewrite):
        # run once more. A Python error in a rank is no signal and fails at once.
        if exc.signal_name is None:
            raise
        tmp_path = tmp_path / "again"
        tmp_path.mkdir()
        run_ranks(tmp_path)
    assert [Path(tmp_path, f"rank{r}.txt").read_text() for r in range(WORLD)] == \
        ["merged", "none"]
    merged = SpikeProfiler.from_bytes(Path(tmp_path, "merged.bin").read_bytes()).report()
    ref = single_process_reference().report()

    assert list(merged.layer_stats) == list(ref.layer_stats) == ["input", "lif1", "out"]
    for name, want in ref.layer_stats.items():
        got = merged.layer_stats[name]
        assert (got.n_steps, got.n_observations) == (want.n_steps, want.n_observations)
        np.testing.assert_array_equal(got.per_neuron_spikes, want.per_neuron_spikes)
        assert got.spike_count_range == want.spike_count_range
        assert got.gradient_steps == want.gradient_steps
        for field in ("voltage_mean", "voltage_std", "gradient_norm_mean",
                      "gradient_norm_max", "gradient_norm_min"):
            a, b = getattr(got, field), getattr(want, field)
            assert (math.isnan(a) and math.isnan(b)) or math.isclose(a, b, rel_tol=1e-9), field
    assert merged.layer_stats["lif1"].gradient_steps == WORLD * STEPS
    assert merged.layer_stats["lif1"].total_spikes > 0
    assert (merged.loss.count, merged.loss.min, merged.loss.max) == \
        (ref.loss.count, ref.loss.min, ref.loss.max)
    assert math.isclose(merged.loss.mean, ref.loss.mean, rel_tol=1e-12)
    assert [(p.category, p.layer) for p in merged.pathologies] == \
        [(p.category, p.layer) for p in ref.pathologies]


def test_gather_outside_a_distributed_job_says_what_is_missing() -> None:
    assert not dist.is_initialized()
    with pytest.raises(RuntimeError, match="init_process_group"):
        SpikeProfiler().gather()

