"""A watched training loop on the device code path never reads a tensor on the host.

No GPU here: ``SpikeProfiler(backend="torch")`` runs the device reductions on CPU
tensors, and a :class:`TorchFunctionMode` records every torch call that spikewidget
makes. On CUDA each of the calls listed in ``SYNCING`` would block until the GPU
catches up; none may come from spikewidget until ``report()`` is asked.
(``benchmarks/gpu_sync_check.py`` runs the same loop under
``torch.cuda.set_sync_debug_mode("error")`` where a GPU exists.)
"""

from __future__ import annotations

import os
import sys
from typing import Any

import numpy as np
import pytest
import snntorch as snn
import torch
from torch import nn
from torch.overrides import TorchFunctionMode

import spikewidget
from spikewidget import SpikeProfiler

SYNCING = frozenset({"item", "tolist", "cpu", "numpy", "__array__", "__bool__", "__float__",
                     "__int__", "__index__", "nonzero", "argwhere", "masked_select", "unique",
                     "unique_consecutive", "equal", "allclose", "repeat_interleave"})
PACKAGE = os.path.dirname(os.path.abspath(spikewidget.__file__)) + os.sep
T, B, N_IN, N_HID, N_OUT = 8, 4, 20, 16, 4


class SyncSpy(TorchFunctionMode):
    """Records the host-synchronising torch calls made from spikewidget's code."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[str] = []
        self.total = 0

    def __torch_function__(self, func: Any, types: Any, args: Any = (),
                           kwargs: Any = None) -> Any:
        kwargs = kwargs or {}
        self.total += 1
        if _syncs(getattr(func, "__name__", ""), args, kwargs):
            where = _spikewidget_caller()
            if where is not None:
                self.calls.append(f"{func.__name__} at {where}")
        return func(*args, **kwargs)


def _syncs(name: str, args: Any, kwargs: Any) -> bool:
    if name in SYNCING:
        return True
    if name in ("to", "copy_") and args and isinstance(args[0], torch.Tensor):
        src = args[0].device  # a real transfer, not a no-op .to(same device)
        targets = [a for a in (*args[1:], *kwargs.values())
                   if isinstance(a, (torch.device, str, torch.Tensor))]
        for t in targets:
            dev = t.device if isinstance(t, torch.Tensor) else torch.device(t) \
                if not isinstance(t, str) or t in ("cpu", "cuda") or ":" in t else None
            if dev is not None and dev != src:
                return True
    if name in ("__getitem__", "__setitem__") and len(args) > 1:  # boolean-mask indexing
        index = args[1] if isinstance(args[1], tuple) else (args[1],)
        return any(isinstance(i, torch.Tensor) and i.dtype == torch.bool for i in index)
    return False


def _spikewidget_caller() -> str | None:
    frame = sys._getframe(2)
    while frame is not None:
        if frame.f_code.co_filename.startswith(PACKAGE):
            return f"{os.path.basename(frame.f_code.co_filename)}:{frame.f_lineno}"
        frame = frame.f_back
    return None


class Net(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc1 = nn.Linear(N_IN, N_HID)
        self.lif1 = snn.Leaky(beta=0.9)
        self.fc2 = nn.Linear(N_HID, N_OUT)
        self.lif2 = snn.Leaky(beta=0.9, init_hidden=True, output=True)
        with torch.no_grad():
            self.fc1.weight.mul_(3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mem1 = self.lif1.init_leaky()
        self.lif2.reset_mem()
        out = []
        for t in range(x.shape[0]):
            spk1, mem1 = self.lif1(self.fc1(x[t]), mem1)
            spk2, _ = self.lif2(self.fc2(spk1))
            out.append(spk2)
        return torch.stack(out)


def train(prof: SpikeProfiler, spy: SyncSpy | None, steps: int = 3, **watch: bool) -> None:
    torch.manual_seed(0)
    net = Net()
    opt = torch.optim.SGD(net.parameters(), lr=0.1)
    with prof.watch(net, gradients=True, input=True, **watch), \
            spy if spy is not None else _nothing():
        for i in range(steps):
            g = torch.Generator().manual_seed(i)
            x = (torch.rand(T, B, N_IN, generator=g) < 0.3).float()
            loss = nn.functional.cross_entropy(net(x).sum(0), torch.arange(B) % N_OUT)
            opt.zero_grad()
            loss.backward()
            opt.step()
        x[0, 0, 0] = float("nan")  # non-finite input, too
        net(x)  # a last forward whose backward never comes


class _nothing:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


def test_a_watched_loop_on_the_device_path_never_syncs_until_report() -> None:
    prof, spy = SpikeProfiler(backend="torch"), SyncSpy()
    train(prof, spy)
    assert spy.total > 0
    assert spy.calls == []
    assert all(info.device is not None for info in prof.snapshot().layers.values())  # device path
    rep = prof.report()
    assert rep.layer_stats["lif1"].n_steps == 4 and rep.layer_stats["lif1"].gradient_steps == 3
    assert rep.layer_stats["lif1"].gradient_checked  # the gradients' reach, measured too
    assert rep.by_category("non_finite_values")[0].layer == "input"


def test_the_device_path_reports_what_the_host_path_reports() -> None:
    on_device, on_host = SpikeProfiler(backend="torch"), SpikeProfiler(backend="numpy")
    train(on_device, None)
    train(on_host, None, sample_voltages=False)  # the device path measures every step
    a, b = on_device.report(), on_host.report()
    assert list(a.layer_stats) == list(b.layer_stats) == ["input", "lif1", "lif2"]
    for name in a.layer_stats:
        sa, sb = a.layer_stats[name], b.layer_stats[name]
        np.testing.assert_allclose(sa.firing_rates, sb.firing_rates)
        assert sa.spike_count_range == sb.spike_count_range
        np.testing.assert_allclose([sa.voltage_mean, sa.gradient_norm_mean],
                                   [sb.voltage_mean, sb.gradient_norm_mean], rtol=1e-6)
    assert [(p.category, p.layer) for p in a.pathologies] == \
        [(p.category, p.layer) for p in b.pathologies]


def test_the_spy_sees_host_reads_where_they_are_meant_to_happen() -> None:
    prof, spy = SpikeProfiler(backend="torch"), SyncSpy()
    train(prof, None, steps=1)
    with spy:
        prof.report()  # the one place the device statistics come to the host
    assert any(c.startswith(("cpu", "tolist")) for c in spy.calls)
    host, spy = SpikeProfiler(backend="numpy"), SyncSpy()
    train(host, spy, steps=1)  # the host path reads every step, by design
    assert any(c.startswith("numpy") for c in spy.calls)


def test_recording_many_losses_on_the_device_path_never_syncs() -> None:
    prof, spy = SpikeProfiler(backend="torch"), SyncSpy()
    values = torch.linspace(3.0, 1.0, 700)
    with spy:
        for i, v in enumerate(values):
            prof.record_loss(v.clone(), n_classes=20)
            if i == 350:
                prof.next_epoch()
        prof.record_loss(torch.tensor(float("nan")))
    assert spy.calls == [], spy.calls
    loss = prof.report().loss
    assert loss.count == 701 and loss.nonfinite is not None
    assert loss.mean == pytest.approx(float(values.double().mean()))
    assert loss.recent[-2] == pytest.approx(1.0)
    assert sorted(loss.epoch_means) == [0, 1]
