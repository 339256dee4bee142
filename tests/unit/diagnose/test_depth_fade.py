"""Spikes that fade with depth (SpikingJelly #285: "from layer 5 on the mean firing rate
is 0"): named once, where the fade ends, as the cause of the dead layers behind it."""

from __future__ import annotations

import math

import numpy as np
import pytest

from spikewidget import SpikeProfiler, Thresholds


def record(rates: list[float], *, steps: int = 20, seed: int = 0, graded_at: int | None = None
           ) -> SpikeProfiler:
    rng = np.random.default_rng(seed)
    p = SpikeProfiler()
    for step in range(steps):
        for i, rate in enumerate(rates):
            spikes = (rng.random((16, 96)) < rate).astype(np.float32)
            if i == graded_at:
                spikes = spikes * 2.5
                p.declare_layer(f"l{i}", graded=True) if step == 0 else None
            p.record_step(f"l{i}", spikes)
    return p


def fades(p: SpikeProfiler, **th):
    rep = p.report(thresholds=Thresholds(**th)) if th else p.report()
    return rep, [f for f in rep.pathologies if f.category == "rate_fades_with_depth"]


def test_a_fade_is_named_where_it_ends_and_explains_every_dead_layer_behind_it():
    rep, found = fades(record([0.3, 0.1, 0.03, 0.004, 0.0006, 0.0]))
    assert [f.layer for f in found] == ["l3"]  # the first layer below dead_rate (0.01)
    msg = found[0].message
    assert "to zero over 6 layers" in msg and "'l0' 0.3" in msg and "'l5' 0" in msg
    assert "batch norm" in found[0].suggestion and "residual" in found[0].suggestion
    behind = [f for f in rep.pathologies if f.category in ("dead_neurons", "silent_network")
              and f.layer in ("l3", "l4", "l5")]
    assert behind and all(f.cause == "rate_fades_with_depth @ l3" for f in behind)
    assert all("fix that first" in f.suggestion for f in behind)
    assert rep.pathologies[0].category == "rate_fades_with_depth"  # the root leads


def test_a_fading_run_that_ends_above_zero_reports_its_ratio():
    _, found = fades(record([0.4, 0.12, 0.03, 0.006], steps=40))
    assert len(found) == 1 and found[0].layer == "l3"
    assert "over 4 layers" in found[0].message
    assert 40 < found[0].metric_value < 100  # 0.4 / 0.006, measured


@pytest.mark.parametrize("rates", [
    [0.3, 0.15, 0.08, 0.04, 0.02],        # a gentle decline that stays alive
    [0.2, 0.2, 0.004, 0.0],              # one layer dies: its threshold, not depth
    [0.3, 0.05, 0.2, 0.004, 0.0005],     # falls, rises, falls: no run of three to death
    [0.01, 0.05, 0.1, 0.2],              # rising
])
def test_no_fade_where_spikes_do_not_fade_layer_after_layer(rates):
    _, found = fades(record(rates, steps=40))
    assert found == []


def test_the_thresholds_decide_as_the_sliders_say():
    p = record([0.4, 0.12, 0.03, 0.006], steps=40)
    ratio = fades(p)[1][0].metric_value
    assert fades(p, depth_fade_ratio=ratio * 1.01)[1] == []
    assert fades(p, depth_fade_ratio=ratio * 0.99)[1] != []
    assert fades(p, dead_rate=0.005)[1] == []  # the last layer is alive at this cut-off


def test_graded_layers_are_not_spike_rates_and_break_a_run():
    _, found = fades(record([0.3, 0.1, 0.03, 0.004, 0.0006], graded_at=2, steps=30))
    assert found == [] or all(f.layer != "l2" for f in found)
    names = "".join(f.message for f in found)
    assert "'l2'" not in names


# ------------------------------------------------------- a real SpikingJelly deep conv net
def _deep_conv(norm: bool):
    torch = pytest.importorskip("torch")
    from spikingjelly.activation_based import functional, layer, neuron, surrogate

    torch.manual_seed(0)
    mods, channels = [], 2
    for _ in range(7):
        conv = layer.Conv2d(channels, 16, 3, padding=1, bias=False)
        torch.nn.init.normal_(conv.weight, 0, 3.0 / math.sqrt(channels * 9))
        mods.append(conv)
        if norm:
            mods.append(layer.BatchNorm2d(16))
        mods.append(neuron.LIFNode(surrogate_function=surrogate.ATan()))
        channels = 16
    model = torch.nn.Sequential(*mods)
    functional.set_step_mode(model, "m")
    p = SpikeProfiler()
    torch.manual_seed(1)
    x = (torch.rand(8, 8, 2, 16, 16) < 0.5).float()  # [T, N, C, H, W] event frames
    with p.watch(model), torch.no_grad():
        for _ in range(3):
            model(x)
            functional.reset_net(model)
    return p.report()


def test_a_plain_deep_spikingjelly_conv_net_fades_and_batch_norm_is_the_fix():
    plain = _deep_conv(norm=False)
    found = [f for f in plain.pathologies if f.category == "rate_fades_with_depth"]
    assert len(found) == 1
    rates = [float(s.firing_rates.mean()) for s in plain.layer_stats.values()]
    assert rates[0] > 0.1 and rates[-1] == 0.0  # spikes die out with depth
    assert plain.pathologies[0] is found[0]
    normalised = _deep_conv(norm=True)  # the fix it offers, applied
    assert not [f for f in normalised.pathologies if f.category == "rate_fades_with_depth"]
    rates = [float(s.firing_rates.mean()) for s in normalised.layer_stats.values()]
    assert max(rates) < 2 * min(rates)  # every depth fires alike
