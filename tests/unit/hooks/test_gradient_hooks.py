"""watch(gradients=True) on real snnTorch and SpikingJelly networks.

The stories: a sigmoid surrogate whose backward overflows (snnTorch #427: its
exp(-k U) turns Inf far below threshold, and Inf/Inf is NaN) makes a NaN inside the
layer; it shows in d(loss)/d(input), not in d(loss)/d(spikes), and must be caught
there, at that layer and step, before the weights and the loss follow. A network
whose output layer is silent gets vanishing gradients that name it. Healthy training
gets no gradient finding at all.
"""

from __future__ import annotations

import math

import pytest
import snntorch as snn
import torch
from snntorch import surrogate
from spikingjelly.activation_based import functional, neuron
from torch import nn

from spikewidget import SpikeProfiler
from tests.unit.record.test_torch_nosync import SyncSpy

T, B, N_IN, N_HID, N_OUT = 12, 8, 30, 24, 4
GRADIENT_RULES = ("gradient_explosion", "gradient_vanishing", "non_finite_values")


class LoopNet(nn.Module):
    """snnTorch, looping over time inside forward; ``lif1`` uses ``spike_grad``."""

    def __init__(self, spike_grad=None, threshold: float = 1.0) -> None:
        super().__init__()
        self.fc1 = nn.Linear(N_IN, N_HID)
        kw = {} if spike_grad is None else {"spike_grad": spike_grad}
        self.lif1 = snn.Leaky(beta=0.9, threshold=threshold, **kw)
        self.fc2 = nn.Linear(N_HID, N_OUT)
        self.lif2 = snn.Leaky(beta=0.9, threshold=threshold)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mem1, mem2 = self.lif1.init_leaky(), self.lif2.init_leaky()
        out = []
        for t in range(x.shape[0]):
            spk1, mem1 = self.lif1(self.fc1(x[t]), mem1)
            spk2, mem2 = self.lif2(self.fc2(spk1), mem2)
            out.append(spk2)
        return torch.stack(out)


def inhibited(net: nn.Module, layer: nn.Linear) -> None:
    """Half of the layer's neurons get a strongly negative input current: their
    membrane sits far below threshold, where the sigmoid surrogate overflows."""
    with torch.no_grad():
        layer.bias[: layer.out_features // 2] = -8.0


def batch(seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Class-dependent Poisson input: each class drives its own quarter of the inputs."""
    g = torch.Generator().manual_seed(seed)
    y = torch.arange(B) % N_OUT
    rates = torch.full((B, N_IN), 0.05)
    for i, c in enumerate(y.tolist()):
        rates[i, c * (N_IN // N_OUT):(c + 1) * (N_IN // N_OUT)] = 0.6
    return (torch.rand(T, B, N_IN, generator=g) < rates).float(), y


def train(net: nn.Module, prof: SpikeProfiler, steps: int, *, lr: float = 0.05,
          per_step: bool = False, reset=None, **watch) -> list[float]:
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    losses = []
    with prof.watch(net, gradients=True, **watch):
        for i in range(steps):
            x, y = batch(i)
            out = torch.stack([net(x[t])[0] for t in range(T)]) if per_step else net(x)
            loss = nn.functional.cross_entropy(out.sum(0), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            if reset is not None:
                reset(net)
            prof.record_loss(loss, n_classes=N_OUT)
            losses.append(float(loss.detach()))
    return losses


def gradient_findings(prof: SpikeProfiler) -> list:
    return [p for p in prof.report().pathologies if p.category in GRADIENT_RULES]


# --------------------------------------------------------- NaN born in a surrogate
@pytest.mark.parametrize("backend", ["numpy", "torch"])
def test_a_nan_made_in_the_surrogate_is_caught_at_its_layer_and_step(backend) -> None:
    torch.manual_seed(0)
    net = LoopNet(surrogate.sigmoid())
    inhibited(net, net.fc1)
    prof = SpikeProfiler(backend=backend)
    train(net, prof, steps=3)
    assert torch.isnan(net.fc1.weight).any()  # the NaN reached the weights after step 0
    rep = prof.report()
    [f] = rep.by_category("non_finite_values")
    assert f.layer == "lif1" and f.step == 0 and f.epoch == 0
    assert "first in input gradients at step 0 (epoch 0)" in f.message
    first = rep.layer_stats["lif1"].first_nonfinite
    assert first.source == "input gradients"
    # what was seen without it: the voltages, one step later, after the weights went NaN
    assert [(n.source, n.step) for n in rep.layer_stats["lif1"].nonfinite
            if n.source != "input gradients"] == [("voltages", 1)]


def test_a_healthy_surrogate_beside_it_gives_no_finding() -> None:
    torch.manual_seed(0)
    net = LoopNet(surrogate.fast_sigmoid())
    inhibited(net, net.fc1)  # the same far-below-threshold membranes
    prof = SpikeProfiler()
    train(net, prof, steps=3)
    assert prof.report().by_category("non_finite_values") == []
    assert prof.report().layer_stats["lif1"].nonfinite == []


def test_a_nan_born_in_a_per_step_layer_grouped_by_time_steps() -> None:
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(N_IN, N_HID),
                        snn.Leaky(beta=0.9, init_hidden=True, spike_grad=surrogate.sigmoid()),
                        nn.Linear(N_HID, N_OUT),
                        snn.Leaky(beta=0.9, init_hidden=True, output=True))
    inhibited(net, net[0])
    prof = SpikeProfiler()
    train(net, prof, steps=2, per_step=True, reset=lambda m: [
        mod.reset_mem() for mod in m if isinstance(mod, snn.Leaky)], time_steps=T)
    [f] = prof.report().by_category("non_finite_values")
    assert f.layer == "1" and f.step == 0 and "first in input gradients at step 0" in f.message
    assert prof.report().layer_stats["3"].nonfinite == []  # the layer after it: clean


def test_a_nan_passed_down_from_a_later_layer_is_not_called_born_here() -> None:
    torch.manual_seed(0)
    net = LoopNet()
    net.lif2 = snn.Leaky(beta=0.9, spike_grad=surrogate.sigmoid())  # NaN made in lif2
    inhibited(net, net.fc2)
    prof = SpikeProfiler()
    with prof.watch(net, gradients=True):
        x, y = batch(0)
        nn.functional.cross_entropy(net(x).sum(0), y).backward()
    rep = prof.report()
    found = {f.layer: f.message for f in rep.by_category("non_finite_values")}
    assert "first in input gradients at step 0" in found["lif2"]  # born here
    assert "first in gradients at step 0" in found["lif1"]  # d loss/d spikes: passed down
    assert [n.source for n in rep.layer_stats["lif1"].nonfinite] == ["gradients"]


def test_a_nan_born_in_a_multi_step_spikingjelly_layer() -> None:
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(N_IN, N_HID),
                        neuron.LIFNode(step_mode="m", surrogate_function=surrogate.sigmoid()),
                        nn.Linear(N_HID, N_OUT), neuron.LIFNode(step_mode="m"))
    inhibited(net, net[0])
    prof = SpikeProfiler()
    train(net, prof, steps=2, reset=functional.reset_net)
    [f] = prof.report().by_category("non_finite_values")
    assert f.layer == "1" and f.step == 0 and "first in input gradients at step 0" in f.message


def test_catching_it_on_the_device_path_never_syncs() -> None:
    torch.manual_seed(0)
    net = LoopNet(surrogate.sigmoid())
    inhibited(net, net.fc1)
    prof, spy = SpikeProfiler(backend="torch"), SyncSpy()
    opt = torch.optim.SGD(net.parameters(), lr=0.1)
    with prof.watch(net, gradients=True), spy:
        for i in range(2):
            x, y = batch(i)
            loss = nn.functional.cross_entropy(net(x).sum(0), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
    assert spy.calls == []
    [f] = prof.report().by_category("non_finite_values")
    assert f.layer == "lif1" and f.step == 0


# --------------------------------------------------------- vanishing with a cause
def test_a_silent_network_names_the_silent_layer_not_skip_connections() -> None:
    """The story's act 3: threshold 100 silences a two-layer network."""
    torch.manual_seed(0)
    net, prof = LoopNet(threshold=100.0), SpikeProfiler()
    train(net, prof, steps=3)
    rep = prof.report()
    [f] = rep.by_category("gradient_vanishing")
    assert f.layer == "lif1"
    assert "because 'lif1' is silent" in f.message and "'lif2' is silent" in f.message
    assert "skip connections" not in f.suggestion.lower()
    # the root cause leads, and the vanishing points at it rather than adding a fix
    assert f.cause == "silent_network @ lif1"
    assert f.suggestion == "Follows from silent_network at 'lif1': fix that first"
    assert rep.pathologies[0].category == "silent_network" and rep.pathologies[0].cause is None
    assert {p.layer for p in rep.by_category("silent_network")} == {"lif1", "lif2"}


# --------------------------------------------------------- healthy training
def test_healthy_snntorch_training_has_no_gradient_finding() -> None:
    torch.manual_seed(0)
    net, prof = LoopNet(), SpikeProfiler()
    with torch.no_grad():
        net.fc1.weight.mul_(2.0)
    losses = train(net, prof, steps=60, lr=5e-3)
    assert sum(losses[-10:]) < sum(losses[:10])  # it learns
    st = prof.report().layer_stats
    assert st["lif1"].gradient_steps == st["lif2"].gradient_steps == 60
    assert gradient_findings(prof) == [], prof.report().summary()


def test_healthy_spikingjelly_training_has_no_gradient_finding() -> None:
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(N_IN, N_HID), neuron.LIFNode(step_mode="m"),
                        nn.Linear(N_HID, N_OUT), neuron.LIFNode(step_mode="m"))
    with torch.no_grad():
        net[0].weight.mul_(3.0)
    prof = SpikeProfiler()
    losses = train(net, prof, steps=60, lr=5e-3, reset=functional.reset_net)
    assert sum(losses[-10:]) < sum(losses[:10])
    assert prof.report().layer_stats["1"].gradient_steps == 60
    assert all(math.isfinite(v) for v in losses)
    assert gradient_findings(prof) == [], prof.report().summary()


def test_healthy_norse_training_has_no_gradient_finding() -> None:
    norse = pytest.importorskip("norse.torch")
    torch.manual_seed(0)
    net = norse.SequentialState(nn.Linear(N_IN, N_HID), norse.LIF(), nn.Linear(N_HID, N_OUT),
                                norse.LIF())
    with torch.no_grad():
        net[0].weight.mul_(4.0)
    prof = SpikeProfiler()
    opt = torch.optim.Adam(net.parameters(), lr=5e-3)
    losses = []
    with prof.watch(net, gradients=True):
        for i in range(40):
            x, y = batch(i)
            loss = nn.functional.cross_entropy(net(x)[0].sum(0), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(float(loss.detach()))
    assert sum(losses[-10:]) < sum(losses[:10])
    assert prof.report().layer_stats["1"].gradient_steps == 40
    assert gradient_findings(prof) == [], prof.report().summary()


def test_a_nan_born_in_backward_survives_saving_and_merging() -> None:
    torch.manual_seed(0)
    net = LoopNet(surrogate.sigmoid())
    inhibited(net, net.fc1)
    prof = SpikeProfiler()
    train(net, prof, steps=2)
    [born] = prof.report().by_category("non_finite_values")
    loaded = SpikeProfiler.from_bytes(prof.to_bytes())
    assert loaded.report().by_category("non_finite_values") == [born]
    merged = SpikeProfiler()
    merged.merge(prof)
    merged.merge(loaded)
    [twice] = merged.report().by_category("non_finite_values")
    first = merged.report().layer_stats["lif1"].first_nonfinite
    assert (first.source, first.step) == ("input gradients", 0)
    assert first.count == 2 * prof.report().layer_stats["lif1"].first_nonfinite.count
    assert twice.layer == "lif1" and twice.step == 0
