"""A silent layer is told why, from its firing levels: its membrane stays short of the
threshold (lower it, or scale the drive up by the factor measured), or it never rises
above rest (a lower threshold cannot help: the current into it is zero or negative).

``watch`` reads each layer's threshold and resting potential once, from snnTorch,
SpikingJelly and Norse layers; a learnt threshold is not read (it moves as training
runs). Users of ``record_step`` declare them.
"""

from __future__ import annotations

import math

import norse.torch as norse
import numpy as np
import pytest
import snntorch as snn
import torch
from norse.torch import LIFParameters
from spikingjelly.activation_based import functional, neuron
from torch import nn

from spikewidget import SpikeProfiler
from spikewidget.core.errors import InvalidInputError

torch.set_num_threads(1)
T, B, N_IN, N_HID = 20, 8, 16, 24


def spikes_in(seed: int = 0, rate: float = 0.3) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return (torch.rand((T, B, N_IN), generator=g) < rate).float()


class SnnTorchNet(nn.Module):
    """Linear -> Leaky -> Linear -> Leaky, called with a whole ``(time, batch, 16)``
    sequence; ``forward`` also returns the first layer's membrane at every step."""

    def __init__(self, threshold: float, learn_threshold: bool = False) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.fc1, self.fc2 = nn.Linear(N_IN, N_HID), nn.Linear(N_HID, 4)
        self.lif1 = snn.Leaky(beta=0.9, threshold=threshold, learn_threshold=learn_threshold)
        self.lif2 = snn.Leaky(beta=0.9)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mem1, mem2 = self.lif1.init_leaky(), self.lif2.init_leaky()
        out, mems = [], []
        for t in range(x.shape[0]):
            spk1, mem1 = self.lif1(self.fc1(x[t]), mem1)
            spk2, mem2 = self.lif2(self.fc2(spk1), mem2)
            out.append(spk2)
            mems.append(mem1)
        return torch.stack(out), torch.stack(mems)


def silent_finding(prof: SpikeProfiler, layer: str):
    [found] = [p for p in prof.report().pathologies
               if p.category == "silent_network" and p.layer == layer]
    return found


def test_a_threshold_far_above_the_membrane_is_named_with_the_peak_and_the_gain():
    """snnTorch threshold 50 with inputs that lift the membrane to a few units: the
    finding gives the peak the membrane reached (every step measured) and how many
    times the drive must grow, both as computed from the unwatched model's membrane."""
    net = SnnTorchNet(threshold=50.0)
    x = spikes_in()
    with torch.no_grad():
        _, mems = net(x)
    peak = float(mems.max())
    assert 0 < peak < 50
    prof = SpikeProfiler()
    with prof.watch(net, sample_voltages=False), torch.no_grad():
        net(x)
    found = silent_finding(prof, "lif1")
    assert f"peaked at {peak:.3g}, below its threshold 50" in found.message
    assert found.suggestion.startswith("The membrane rises but stays short of the threshold")
    assert f"toward {peak:.3g}" in found.suggestion
    assert f"about {50 / peak:.3g}x" in found.suggestion
    st = prof.report().layer_stats["lif1"]
    assert (st.threshold, st.resting_potential) == (50.0, 0.0)


def test_a_layer_whose_input_current_is_negative_is_not_told_to_lower_its_threshold():
    """SpikingJelly single-step LIF behind a Linear whose weights are all negative:
    the membrane never leaves rest (0), so the fix says a lower threshold will not
    help and points at the layer feeding it."""
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(N_IN, N_HID), neuron.LIFNode(), nn.Linear(N_HID, 4),
                        neuron.LIFNode())
    with torch.no_grad():
        net[0].weight.copy_(-net[0].weight.abs())
        net[0].bias.fill_(-0.1)
    prof = SpikeProfiler()
    with prof.watch(net), torch.no_grad():
        for step in spikes_in():
            net(step)
        functional.reset_net(net)
    found = silent_finding(prof, "1")
    assert found.suggestion.startswith("A lower threshold will not help")
    assert "lower the threshold" not in found.suggestion.lower()
    assert "resting potential 0" in found.suggestion
    assert "below its threshold 1" in found.message


def test_norse_lif_threshold_and_rest_are_read_from_its_parameters():
    """Norse LIFCell with v_th = 20 and v_leak = 0.5 (its resting level): the gain is
    measured from rest, (20 - 0.5) / (peak - 0.5)."""
    torch.manual_seed(0)
    lif = norse.LIFCell(LIFParameters(v_th=torch.tensor(20.0), v_leak=torch.tensor(0.5)))
    net = norse.SequentialState(nn.Linear(N_IN, N_HID), lif, nn.Linear(N_HID, 4),
                                norse.LIFCell())
    prof = SpikeProfiler()
    volts = []
    with prof.watch(net, sample_voltages=False), torch.no_grad():
        state = None
        for step in spikes_in():
            _, state = net(step, state)
            volts.append(state[1].v)
    peak = float(torch.stack(volts).max())
    found = silent_finding(prof, "1")
    assert found.suggestion.startswith("The membrane rises but stays short")
    assert "rest 0.5" in found.suggestion
    assert f"about {(20 - 0.5) / (peak - 0.5):.3g}x" in found.suggestion


def test_a_learnt_threshold_is_not_read_and_the_finding_says_what_it_knows():
    """learn_threshold=True: the threshold moves as training runs, so watch declares
    no level and the silent layer gets the finding it got before (no stale number)."""
    net = SnnTorchNet(threshold=50.0, learn_threshold=True)
    prof = SpikeProfiler()
    with prof.watch(net), torch.no_grad():
        net(spikes_in())
    st = prof.report().layer_stats["lif1"]
    assert st.threshold is None and st.resting_potential is None
    found = silent_finding(prof, "lif1")
    assert "peaked" not in found.message
    assert not found.suggestion.startswith(("The membrane", "A lower threshold"))


def test_record_step_users_declare_the_levels_and_bad_ones_are_refused_by_name():
    """The tutorial's loop with ``declare_layer(threshold=, resting_potential=)``;
    a level that is not a finite number is refused naming the layer and the argument,
    and nothing declared or recorded before changes."""
    rng = np.random.default_rng(0)
    prof = SpikeProfiler()
    prof.declare_layer("hidden", threshold=1.0, resting_potential=0.0)
    for _ in range(5):
        prof.record_step("hidden", np.zeros((T, B, 10)), voltages=0.3 * rng.random((T, B, 10)))
    for bad in (math.nan, math.inf, "1.0", True):
        with pytest.raises(InvalidInputError, match=r"layer 'hidden': threshold must be a "
                                                     r"finite number"):
            prof.declare_layer("hidden", threshold=bad)
    with pytest.raises(InvalidInputError, match="'hidden': resting_potential"):
        prof.declare_layer("hidden", resting_potential=math.nan)
    found = silent_finding(prof, "hidden")
    assert "below its threshold 1" in found.message and "about 3.33x" in found.suggestion
    assert prof.report().layer_stats["hidden"].n_steps == 5


def test_levels_survive_saving_and_merging(tmp_path):
    """A saved profile keeps the levels, and so do two merged ones."""
    net = SnnTorchNet(threshold=50.0)
    profs = []
    for seed in (0, 1):
        prof = SpikeProfiler()
        with prof.watch(net), torch.no_grad():
            net(spikes_in(seed))
        profs.append(prof)
    path = tmp_path / "levels.npz"
    profs[0].save(path)
    loaded = SpikeProfiler.load(path)
    profs[0].merge(profs[1])
    for prof in (loaded, profs[0]):
        st = prof.report().layer_stats["lif1"]
        assert (st.threshold, st.resting_potential) == (50.0, 0.0)
        assert silent_finding(prof, "lif1").suggestion.startswith("The membrane rises")


@pytest.mark.parametrize("batched", [False, True])
def test_each_sweep_candidate_is_judged_against_its_own_threshold(batched):
    """A sweep of lif1 from 30 to 60: each candidate's silent finding names the
    candidate's threshold, not the one the model had when it was watched."""
    net = SnnTorchNet(threshold=50.0)
    prof = SpikeProfiler()
    with prof.watch(net), torch.no_grad():
        net(spikes_in())
    result = prof.threshold_sweep(net, spikes_in(1), layer="lif1",
                                  thresholds=[30.0, 60.0], batched=batched,
                                  forward=lambda m, x: m(x)[0])
    for row in result.rows:
        [found] = [p for p in row.report.pathologies
                   if p.category == "silent_network" and p.layer == "lif1"]
        assert f"below its threshold {row.threshold:.3g}" in found.message
    assert float(net.lif1.threshold) == 50.0


def test_a_healthy_layer_with_known_levels_has_no_finding():
    net = SnnTorchNet(threshold=0.5)
    prof = SpikeProfiler()
    with prof.watch(net), torch.no_grad():
        for seed in range(3):
            net(spikes_in(seed))
    report = prof.report()
    assert report.layer_stats["lif1"].threshold == 0.5
    assert not [p for p in report.pathologies  # too few observations is an info
                if p.layer == "lif1" and p.severity.value != "info"], report.summary()
