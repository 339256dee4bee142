"""Spikes that fade with depth (SpikingJelly #285: "from layer 5 on the mean firing rate
is 0"): named once, where the fade ends, as the cause of the dead layers behind it."""

from __future__ import annotations

import dataclasses
import itertools
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


# ------------------------------------------------------- a dip that recovers is no fade
@pytest.mark.parametrize("rates", [
    [0.3, 0.1, 0.03, 0.004, 0.0, 0.3],       # the tail fires again as before the dip
    [0.3, 0.1, 0.03, 0.004, 0.0, 0.02, 0.04],  # back at the last living layer's 0.03
])
def test_a_run_to_death_that_recovers_later_is_a_dip_not_a_fade(rates):
    _, found = fades(record(rates, steps=40))
    assert found == []


def test_a_fade_whose_tail_stays_below_the_last_living_rate_is_still_a_fade():
    # after the fall to 0.004 the readout fires at 0.02: above dead_rate, but well short
    # of the 0.03 before the drop, so activity still falls off toward the output
    _, found = fades(record([0.3, 0.1, 0.03, 0.004, 0.0, 0.02], steps=40))
    assert [f.layer for f in found] == ["l3"]


def _lif(threshold: float):
    from spikingjelly.activation_based import neuron, surrogate

    return neuron.LIFNode(v_threshold=threshold, surrogate_function=surrogate.ATan())


def _attention_dip_report():
    """A residual stream (BatchNorm in front of each LIF) whose spiking 'attention'
    multiplies a sparse query map by its mean and scales by 0.125 (Spikformer-like):
    in_lif ~0.15 -> q_lif ~0.03 -> attn_lif silent, then the stream fires ~0.15 again."""
    torch = pytest.importorskip("torch")
    from spikingjelly.activation_based import functional, layer

    class AttentionDip(torch.nn.Module):
        def __init__(self, width: int = 64):
            super().__init__()
            self.embed = torch.nn.Sequential(layer.Linear(16, width), layer.BatchNorm1d(width))
            self.in_lif = _lif(0.5)
            self.q = torch.nn.Sequential(layer.Linear(width, width), layer.BatchNorm1d(width))
            self.q_lif = _lif(1.0)
            self.attn_lif = _lif(0.5)
            self.proj = torch.nn.Sequential(layer.Linear(width, width),
                                            layer.BatchNorm1d(width))
            self.mlp_lif = _lif(0.5)
            self.mlp = torch.nn.Sequential(layer.Linear(width, width), layer.BatchNorm1d(width))
            self.out_lif = _lif(0.5)

        def forward(self, x):
            x = self.embed(x)
            q = self.q_lif(self.q(self.in_lif(x)))
            x = x + self.proj(self.attn_lif(q * q.mean(-1, keepdim=True) * 0.125))
            return self.out_lif(self.mlp(self.mlp_lif(x)))

    torch.manual_seed(0)
    model = AttentionDip()
    functional.set_step_mode(model, "m")
    p = SpikeProfiler()
    with p.watch(model), torch.no_grad():
        for _ in range(4):
            model((torch.rand(4, 32, 16) < 0.5).float())  # [T, N, features]
            functional.reset_net(model)
    return p.report()


def test_a_silent_attention_between_firing_layers_is_its_own_finding_not_a_fade():
    rep = _attention_dip_report()
    rates = {name: float(s.firing_rates.mean()) for name, s in rep.layer_stats.items()}
    assert rates["in_lif"] > 4 * rates["q_lif"] > 0 and rates["attn_lif"] == 0
    assert rates["mlp_lif"] > 0.1 and rates["out_lif"] > 0.1  # the stream fires again
    assert rep.by_category("rate_fades_with_depth") == []
    lead = rep.pathologies[0]
    assert (lead.category, lead.layer, lead.cause) == ("silent_network", "attn_lif", None)
    assert "threshold" in lead.suggestion and "deeper" not in lead.suggestion


def test_a_plain_snntorch_stack_fades_to_a_quiet_readout_and_is_caught():
    """Leaky layers behind unnormalised Linear layers of too small a gain: each fires
    less than the one before, down to a readout that stays quiet."""
    torch = pytest.importorskip("torch")
    snn = pytest.importorskip("snntorch")

    torch.manual_seed(0)
    width, depth, steps = 96, 6, 8
    fcs = torch.nn.ModuleList(torch.nn.Linear(width, width, bias=False) for _ in range(depth))
    for fc in fcs:
        torch.nn.init.normal_(fc.weight, 0, 1.0 / math.sqrt(width))
    lifs = torch.nn.ModuleList(snn.Leaky(beta=0.8, init_hidden=True) for _ in range(depth))
    net = torch.nn.Sequential(*[m for pair in zip(fcs, lifs, strict=True) for m in pair])
    p = SpikeProfiler()
    with p.watch(net), torch.no_grad():
        for _ in range(3):
            for lif in lifs:
                lif.reset_mem()
            for _ in range(steps):
                net((torch.rand(16, width) < 0.5).float() * 2.0)
    rep = p.report()
    rates = {name: float(s.firing_rates.mean()) for name, s in rep.layer_stats.items()}
    names = list(rates)  # the Leaky layers, by their index in the Sequential
    assert rates[names[0]] > 0.1 and rates[names[-1]] < rep.thresholds.dead_rate, rates
    [fade] = rep.by_category("rate_fades_with_depth")
    first_dead = next(n for n in names if rates[n] < rep.thresholds.dead_rate)
    assert fade.layer == first_dead and "to zero" in fade.message
    assert f"'{names[0]}'" in fade.message  # the run named from the first layer
    behind = [f for f in rep.by_category("silent_network") if f.layer in names[-2:]]
    assert len(behind) == 2 and all(f.cause == f"rate_fades_with_depth @ {first_dead}"
                                    for f in behind)


def _parallel_heads_report():
    """SpikingJelly multi-step, trained 3 steps (so watch learns the wiring): a stream
    LIF feeds three parallel heads q, k, v whose thresholds rise (0.6, 1.0, 1.6), and
    their product (Spikformer-like, scaled by 0.125) feeds a silent attention LIF. In
    model order the rates fall at every layer to zero; in depth they do not."""
    torch = pytest.importorskip("torch")
    from spikingjelly.activation_based import functional, layer

    def lif(threshold: float):
        node = _lif(threshold)
        node.step_mode = "m"
        return node

    def linear_bn(n_in: int, n_out: int):
        return torch.nn.Sequential(layer.Linear(n_in, n_out, step_mode="m"),
                                   layer.BatchNorm1d(n_out, step_mode="m"))

    class ParallelHeads(torch.nn.Module):
        def __init__(self, width: int = 64):
            super().__init__()
            self.embed, self.in_lif = linear_bn(16, width), lif(0.5)
            self.heads = torch.nn.ModuleList(linear_bn(width, width) for _ in range(3))
            self.q_lif, self.k_lif, self.v_lif = lif(0.6), lif(1.0), lif(1.6)
            self.attn_lif = lif(0.5)

        def forward(self, x):
            s = self.in_lif(self.embed(x))
            q, k, v = (node(head(s)) for node, head in
                       zip((self.q_lif, self.k_lif, self.v_lif), self.heads, strict=True))
            return self.attn_lif(q * k * v * 0.125)

    torch.manual_seed(0)
    model, p = ParallelHeads(), SpikeProfiler()
    with p.watch(model):
        for _ in range(3):
            model((torch.rand(4, 32, 16) < 0.5).float()).sum().backward()
            functional.reset_net(model)
    return p.report()


def test_parallel_heads_are_not_deeper_than_one_another_so_no_fade():
    """q, k and v each fed by the stream: their falling rates are three heads, not a
    fade; the dead head is named with its own fix. Read in model order alone (the
    wiring unknown), the same statistics would be called a fade."""
    from spikewidget.diagnose.rules.depth import check_depth_fade

    rep = _parallel_heads_report()
    stats = rep.layer_stats
    assert stats["k_lif"].fed_by == ("in_lif",) and stats["v_lif"].fed_by == ("in_lif",)
    rates = [float(s.firing_rates.mean()) for s in stats.values()]
    assert all(a > 1.25 * b for a, b in itertools.pairwise(rates)), rates
    assert rep.by_category("rate_fades_with_depth") == []
    [dead] = [f for f in rep.by_category("dead_neurons") if f.layer == "v_lif"]
    assert dead.cause is None and "threshold" in dead.suggestion
    unwired = [dataclasses.replace(s, fed_by=None) for s in stats.values()]
    assert [f.layer for f in check_depth_fade(unwired, None, rep.thresholds)] == ["v_lif"]
