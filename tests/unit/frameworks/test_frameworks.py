"""watch() on the real frameworks: SpikingJelly, Norse (and snnTorch's odd ones),
and reading/setting thresholds through :mod:`spikewidget.frameworks`."""

from __future__ import annotations

import subprocess
import sys

import norse.torch as norse
import numpy as np
import pytest
import snntorch as snn
import torch
from spikingjelly.activation_based import functional, neuron
from torch import nn

from spikewidget import SpikeProfiler, frameworks

T, B, F, H = 10, 4, 16, 12


def inputs(seed: int, shape: tuple[int, ...] = (T, B, F)) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return (torch.rand(shape, generator=g) < 0.4).float()


class StepLoop(nn.Module):
    """A linear layer and a per-step neuron, looped over time inside forward."""

    def __init__(self, node: nn.Module, read: str) -> None:
        super().__init__()
        self.fc = nn.Linear(F, H)
        with torch.no_grad():
            self.fc.weight.mul_(4)
        self.node = node
        self.read = read
        self.seen: list[tuple[torch.Tensor, torch.Tensor]] = []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out, state = [], None
        for t in range(x.shape[0]):
            if self.read == "sj":  # SpikingJelly: spikes; voltage on .v
                s = self.node(self.fc(x[t]))
                v = self.node.v
            else:  # Norse cell: (z, state)
                s, state = self.node(self.fc(x[t]), state)
                v = state.v
            self.seen.append((s.detach().clone(), v.detach().clone()))
            out.append(s)
        return torch.stack(out)


def check_against_seen(prof: SpikeProfiler, name: str, net: StepLoop) -> None:
    st = prof.report().layer_stats[name]
    spikes = torch.stack([s for s, _ in net.seen]).numpy()
    volts = torch.stack([v for _, v in net.seen]).double().numpy()
    assert spikes.max() == 1 and spikes.mean() > 0.01  # the layer does fire
    np.testing.assert_allclose(st.firing_rates, spikes.reshape(-1, H).mean(0))
    np.testing.assert_allclose(st.voltage_mean, volts.mean(), rtol=1e-6)
    assert st.is_binary and prof.report().by_category("non_binary_spikes") == []


# --------------------------------------------------------------------- SpikingJelly
def test_spikingjelly_single_step_node_in_a_loop() -> None:
    torch.manual_seed(0)
    node = neuron.LIFNode(tau=2.0, step_mode="s")
    assert isinstance(node.v, float)  # before the first forward
    net, prof = StepLoop(node, "sj"), SpikeProfiler()
    with prof.watch(net, sample_voltages=False) as h:  # every step's v, to compare
        for seed in (1, 2):
            net(inputs(seed))
            functional.reset_net(net)
    assert h.layers == ["node"]
    assert prof.report().layer_stats["node"].n_steps == 2
    check_against_seen(prof, "node", net)


@pytest.mark.parametrize("store_v_seq", [True, False])
def test_spikingjelly_multi_step_node_reads_time_batch_sequences(store_v_seq: bool) -> None:
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(F, H), neuron.LIFNode(tau=2.0, step_mode="m",
                                                        store_v_seq=store_v_seq))
    with torch.no_grad():
        net[0].weight.mul_(4)
    prof = SpikeProfiler()
    x = inputs(3)
    with prof.watch(net):
        spikes = net(x)  # (T, B, H): one record
    v = (net[1].v_seq if store_v_seq else net[1].v).detach()
    functional.reset_net(net)
    st = prof.report().layer_stats["1"]
    assert st.n_steps == 1 and st.n_observations == T * B and st.neuron_shape == (H,)
    np.testing.assert_allclose(st.firing_rates, spikes.detach().numpy().reshape(-1, H).mean(0))
    counts = spikes.detach().sum(0)
    assert st.spike_count_range == (float(counts.min()), float(counts.max()))
    # the voltage sequence exists only with store_v_seq=True; else .v, the last step's
    # membrane, is recorded: its extrema, no spread over time
    assert st.has_voltages and st.voltage_max == pytest.approx(float(v.max()), rel=1e-6)
    assert bool(np.isfinite(st.voltage_time_std).any()) is store_v_seq


@pytest.mark.parametrize("node_class", [neuron.OTTTLIFNode, neuron.SLTTLIFNode])
def test_spikingjelly_online_node_backed_up_every_step_gives_one_record_per_batch(
        node_class: type) -> None:
    """OTTT and SLTT nodes are trained online: a backward after each of the T calls,
    one optimizer step per batch. The T calls are still one record (counts per
    sample over all T steps, every step's gradient), and nothing warns."""
    import warnings

    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(F, H), node_class())
    with torch.no_grad():
        net[0].weight.mul_(4)
    assert frameworks.detect(net[1]).online and not frameworks.detect(neuron.LIFNode()).online
    opt = torch.optim.SGD(net.parameters(), lr=0.01)
    prof, counts = SpikeProfiler(), []
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with prof.watch(net, gradients=True, time_steps=T):
            for seed in (4, 5):
                x, spikes = inputs(seed), []
                opt.zero_grad()
                for t in range(T):
                    out = net(x[t])
                    s = out[0] if isinstance(out, list) else out  # OTTT: [spike, trace]
                    s.sum().backward()
                    spikes.append(s.detach())
                opt.step()
                functional.reset_net(net)
                counts.append(torch.stack(spikes).sum(0))
    st = prof.report().layer_stats["1"]
    assert st.n_steps == 2 and st.gradient_steps == 2 and st.n_observations == 2 * T * B
    every = torch.cat(counts)
    assert float(every.max()) > 1  # counts over several steps, not one per record
    assert st.spike_count_range == (float(every.min()), float(every.max()))


def test_spikingjelly_conv_node_keeps_channel_height_width_as_neurons() -> None:
    node = neuron.IFNode(step_mode="m")
    prof = SpikeProfiler()
    x = torch.rand(T, B, 2, 3, 3) * 2
    with prof.watch(node):
        node(x)
    assert prof.report().layer_stats["ifnode"].neuron_shape == (2, 3, 3)


# --------------------------------------------------------------------- Norse
def test_norse_lif_cell_in_a_loop_reads_z_and_state_v() -> None:
    torch.manual_seed(0)
    net, prof = StepLoop(norse.LIFCell(), "norse"), SpikeProfiler()
    with prof.watch(net, sample_voltages=False):  # every step's state.v, to compare
        net(inputs(1) * 5)
    check_against_seen(prof, "node", net)


@pytest.mark.parametrize("record_states", [True, False])
def test_norse_lif_sequence_module(record_states: bool) -> None:
    lif = norse.LIF(record_states=record_states)
    prof = SpikeProfiler()
    x = inputs(2) * 30
    with prof.watch(lif):
        z, _ = lif(x)
    st = prof.report().layer_stats["lif"]
    assert st.n_steps == 1 and st.n_observations == T * B
    np.testing.assert_allclose(st.firing_rates, z.detach().numpy().reshape(-1, F).mean(0))
    assert z.sum() > 0
    assert st.has_voltages is record_states  # else only the last step's v exists


def test_norse_leaky_integrator_readout_is_not_flagged_as_non_binary() -> None:
    torch.manual_seed(0)
    model = norse.SequentialState(nn.Linear(F, H), norse.LIF(), nn.Linear(H, 3), norse.LI())
    cell = norse.LICell()
    prof = SpikeProfiler()
    x = inputs(4) * 30
    with prof.watch(model) as h:
        voltages, _ = model(x)
    with prof.watch(cell) as h_cell:
        cell(torch.randn(B, 3))
    assert voltages.abs().max() > 0 and not torch.all((voltages == 0) | (voltages == 1))
    assert h.layers == ["1"] and "3" in h.skipped and "licell" in h_cell.skipped
    assert prof.layers == ["1"]
    assert prof.report().by_category("non_binary_spikes") == []
    assert frameworks.detect(model[3]).integrator and not frameworks.detect(model[1]).integrator


def test_snntorch_sequence_modules_and_state_only_layers() -> None:
    par = snn.LeakyParallel(input_size=F, hidden_size=H)
    state_only = snn.StateLeaky(beta=0.9, channels=F, output=False)  # returns mem only
    prof = SpikeProfiler()
    x = inputs(5) * 3
    with prof.watch(nn.ModuleDict({"par": par, "mem": state_only})) as h:
        spk = par(x)
        state_only(x)
    assert h.layers == ["par"] and "mem" in h.skipped
    st = prof.report().layer_stats["par"]
    assert st.n_observations == T * B
    np.testing.assert_allclose(st.firing_rates, spk.detach().numpy().reshape(-1, H).mean(0))


# --------------------------------------------------------------------- thresholds
def as_float(value: float | torch.Tensor) -> float:
    return float(value.detach()) if isinstance(value, torch.Tensor) else float(value)


@pytest.mark.parametrize("make, attr", [
    (lambda: snn.Leaky(beta=0.9), "threshold"),
    (lambda: snn.Leaky(beta=0.9, learn_threshold=True), "threshold"),
    (lambda: neuron.LIFNode(), "v_threshold"),
    (lambda: norse.LIFCell(), "p.v_th"),
    (lambda: norse.LIFRefracCell(), "p.lif.v_th"),
])
def test_thresholds_are_read_and_set_where_each_framework_keeps_them(make, attr) -> None:
    layer = make()
    learnable = isinstance(getattr(layer, "threshold", None), nn.Parameter)
    assert frameworks.threshold_attribute(layer) == attr
    assert as_float(frameworks.get_threshold(layer)) == 1.0

    def fires() -> bool:
        """Drive the layer for 30 steps from rest; did it spike?"""
        x, total, state = torch.full((B, F), 1.2), 0.0, None
        if attr == "threshold":
            state = layer.init_leaky()
        elif attr == "v_threshold":
            layer.reset()
        for _ in range(30):
            if attr == "v_threshold":
                z = layer(x)
            else:
                z, state = layer(x, state)
            total += float(z.detach().sum())
        return total > 0

    assert fires()
    frameworks.set_threshold(layer, 50.0)
    assert as_float(frameworks.get_threshold(layer)) == 50.0
    assert not fires()
    if attr == "threshold":  # a learnable threshold stays a Parameter
        assert isinstance(layer.threshold, nn.Parameter) is learnable


def test_modules_without_a_threshold_say_so() -> None:
    for module in (norse.LICell(), nn.Linear(2, 2)):
        assert frameworks.threshold_attribute(module) is None
        with pytest.raises(TypeError, match="threshold"):
            frameworks.set_threshold(module, 1.0)
    with pytest.raises(ValueError, match="one number"):
        frameworks.set_threshold(neuron.LIFNode(), torch.ones(3))


def test_no_framework_is_imported_by_spikewidget() -> None:
    code = ("import sys, spikewidget\n"
            "assert 'torch' not in sys.modules, 'torch imported'\n"
            "import torch, spikewidget.frameworks as a, spikewidget.hooks.watch\n"
            "assert a.detect(torch.nn.Linear(2, 2)) is None\n"
            "p = spikewidget.SpikeProfiler()\n"
            "p.watch(torch.nn.Sequential(torch.nn.Linear(2, 2)))\n"
            "bad = [m for m in ('snntorch', 'spikingjelly', 'norse', 'tonic')\n"
            "       if m in sys.modules]\n"
            "assert not bad, bad\n")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)
