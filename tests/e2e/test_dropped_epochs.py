"""Epochs dropped by ``max_epochs`` are judged as they were when kept.

A real snnTorch net at T = 25 whose hidden layer fires rarely (about 0.004 spikes per
step, yet in a good share of the samples): over 25 steps a hidden layer is judged by its
rate (``stats.LONG_SEQUENCE``), so it is dead in every epoch. Its dropped epochs used to
be read per sample (alive), and a profiler with a small ``max_epochs`` then reported a
``layer_died`` ("alive in epoch 3, dead since epoch 4") that a profiler keeping every
epoch did not: the same training, two histories.
"""

from __future__ import annotations

import numpy as np
import snntorch as snn
import torch
from snntorch import surrogate
from torch import nn

from spikewidget import SpikeProfiler

T, N_IN, HIDDEN, CLASSES, EPOCHS = 25, 100, 64, 4, 6


class WeakNet(nn.Module):
    """Linear -> Leaky -> Linear -> Leaky, looped over T inside ``forward``; the input
    weights at twice PyTorch's default (a sparse hidden layer)."""

    def __init__(self) -> None:
        super().__init__()
        grad = surrogate.fast_sigmoid(25)
        self.fc1, self.lif1 = nn.Linear(N_IN, HIDDEN), snn.Leaky(beta=0.9, spike_grad=grad)
        self.fc2, self.lif2 = nn.Linear(HIDDEN, CLASSES), snn.Leaky(beta=0.9, spike_grad=grad)
        with torch.no_grad():
            self.fc1.weight.mul_(2.0)
            self.fc1.bias.fill_(-0.05)
            self.fc2.weight.mul_(8.0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        m1, m2, out = self.lif1.init_leaky(), self.lif2.init_leaky(), []
        for t in range(x.shape[0]):
            s1, m1 = self.lif1(self.fc1(x[t]), m1)
            s2, m2 = self.lif2(self.fc2(s1), m2)
            out.append(s2)
        return torch.stack(out)


def train(max_epochs: int | None, backend: str = "auto") -> SpikeProfiler:
    """The same training (seeded) under ``watch``, 4 batches of 32 per epoch."""
    torch.manual_seed(0)
    net = WeakNet()
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    profiler = SpikeProfiler(max_epochs=max_epochs, backend=backend)
    data = torch.Generator().manual_seed(1)
    with profiler.watch(net, gradients=True):
        for _ in range(EPOCHS):
            for _ in range(4):
                y = torch.randint(0, CLASSES, (32,), generator=data)
                x = (torch.rand(T, 32, N_IN, generator=data) < 0.05).float()
                loss = nn.functional.cross_entropy(net(x).sum(0), y)
                opt.zero_grad()
                loss.backward()
                opt.step()
                profiler.record_loss(loss, n_classes=CLASSES)
            profiler.next_epoch()
    return profiler


def verdicts(p: SpikeProfiler, epochs: list[int]) -> list[list[tuple[str, str, str, str]]]:
    return [[(f.category, f.layer, f.message, f.suggestion)
             for f in p.report(epoch=e).pathologies] for e in epochs]


def test_a_dropped_short_sequence_epoch_is_judged_by_rate_as_when_kept() -> None:
    every, few = train(None), train(2)
    assert few.dropped_epochs == [0, 1, 2, 3]
    full = every.report().layer_stats["lif1"]
    assert full.n_observations / full.n_samples == T
    assert (full.firing_rates < 0.01).mean() > 0.5  # dead by rate ...
    for summary in few.snapshot().layers["lif1"].summaries.values():
        # ... though most neurons fire in 1% of the samples: read per sample, alive
        assert np.searchsorted(summary.sample_q, 0.01) / len(summary.sample_q) < 0.5
        assert np.searchsorted(summary.rate_q, 0.01) / len(summary.rate_q) > 0.5
    kept = [4, 5]
    assert verdicts(few, kept) == verdicts(every, kept)
    assert "layer_died" not in {f.category for f in few.report().pathologies}
    assert "dead_neurons" in {f.category for f in few.report(epoch=5).pathologies}
    # the history the rules look back on: every epoch as the full profile has it
    history = [(h.epoch, h.dead_fraction, h.max_rate, h.voltage_min, h.voltage_max)
               for h in full.per_epoch]
    assert [(h.epoch, h.dead_fraction, h.max_rate, h.voltage_min, h.voltage_max)
            for h in few.report().layer_stats["lif1"].per_epoch] == history
    # saved and loaded, the dropped epochs still judge so
    again = SpikeProfiler.from_bytes(few.to_bytes())
    assert verdicts(again, kept) == verdicts(every, kept)
    assert [(h.epoch, h.dead_fraction) for h in again.report().layer_stats["lif1"].per_epoch] \
        == [h[:2] for h in history]


def test_the_device_path_drops_epochs_as_it_keeps_them() -> None:
    every, few = train(None, "torch"), train(2, "torch")  # summaries made on the device
    assert verdicts(few, [4, 5]) == verdicts(every, [4, 5])
    assert [(h.epoch, h.dead_fraction, h.voltage_min, h.voltage_max)
            for h in few.report().layer_stats["lif1"].per_epoch] == \
        [(h.epoch, h.dead_fraction, h.voltage_min, h.voltage_max)
         for h in every.report().layer_stats["lif1"].per_epoch]
