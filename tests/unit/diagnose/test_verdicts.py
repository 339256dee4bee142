"""Verdicts users can trust: each story of a false alarm or a missed failure, replayed
with real framework layers and real transforms on data made here."""

from __future__ import annotations

import math

import norse.torch as norse
import numpy as np
import pytest
import snntorch as snn
import torch
from spikingjelly.activation_based import functional, neuron
from tonic import transforms as tonic_transforms
from torch import nn

from spikewidget import Severity, SpikeProfiler
from spikewidget.core.fmt import share
from spikewidget.diagnose.rules import binomial_below

torch.set_num_threads(1)


def categories(report, layer=None):
    return {p.category for p in report.pathologies if layer is None or p.layer == layer}


def events(rng, n=4000, size=16):
    ev = np.zeros(n, dtype=[("x", "<i8"), ("y", "<i8"), ("t", "<i8"), ("p", "<i8")])
    ev["x"], ev["y"] = rng.integers(0, size, n), rng.integers(0, size, n)
    ev["t"], ev["p"] = np.sort(rng.integers(0, 100_000, n)), rng.integers(0, 2, n)
    return ev


# ------------------------------------------------------------------ input encodings
@pytest.mark.parametrize("encoding", ["pixels", "voxel_grid", "time_surface"])
def test_real_valued_and_signed_input_is_not_called_counts(rng, encoding):
    """MNIST pixels (direct encoding), tonic's ToVoxelGrid (signed) and ToTimesurface
    (in [0, 1)) are legitimate inputs: binarising them would destroy them."""
    sensor = (16, 16, 2)
    if encoding == "pixels":
        x = torch.rand(25, 8, 784)
    elif encoding == "voxel_grid":
        grids = [tonic_transforms.ToVoxelGrid(sensor_size=sensor, n_time_bins=10)(events(rng))
                 for _ in range(4)]
        x = np.stack(grids, axis=1)  # (time, batch, 1, 16, 16)
    else:
        surfaces = [tonic_transforms.ToTimesurface(sensor_size=sensor, dt=10_000, tau=5_000)(
            events(rng)) for _ in range(4)]
        x = np.stack(surfaces, axis=1)
    p = SpikeProfiler()
    p.declare_layer("input", neuron_axes=x.ndim - 2)
    p.record_step("input", x)
    p.record_step("hidden", (torch.rand(25, 8, 100) < 0.2).float())
    report = p.report()
    assert "count_valued_input" not in categories(report)
    assert not any("(x > 0)" in f.suggestion for f in report.pathologies)


def test_tonic_to_frame_counts_are_named_with_the_share_above_one(rng):
    sensor = (16, 16, 2)
    frames = np.stack([tonic_transforms.ToFrame(sensor_size=sensor, n_time_bins=10)(
        events(rng)) for _ in range(4)], axis=1).astype(np.float32)  # (10, 4, 2, 16, 16)
    p = SpikeProfiler()
    p.declare_layer("input", neuron_axes=3)
    p.record_step("input", frames)
    [f] = [x for x in p.report().pathologies if x.category == "count_valued_input"]
    above = float(np.mean(frames > 1))
    assert f.severity is Severity.WARNING and f.layer == "input"
    assert f"up to {frames.max():g} per bin ({share(above)} of values are above 1)" in f.message
    assert "x = (x > 0).float()" in f.suggestion


# ------------------------------------------------------------ which layer is the output
def test_norse_lif_before_an_li_readout_is_hidden_not_the_output():
    """Norse's README stack: the LI readout emits voltages, so the LIF layer's counts
    never reach the loss; no overflow and no per-sample dead rule on it."""
    torch.manual_seed(0)
    model = norse.SequentialState(nn.Linear(100, 64), norse.LIF(), nn.Linear(64, 10),
                                  norse.LI())
    x = (torch.rand(120, 4, 100) < 0.5).float() * 3.0  # strong drive: dense hidden spikes
    p = SpikeProfiler()
    with p.watch(model) as handle:
        model(x)
    assert handle.layers == ["1"]
    report = p.report()
    st = report.layer_stats["1"]
    assert st.role == "hidden" and st.spike_count_range is None
    assert "output_overflow" not in categories(report)
    assert "[hidden]" in report.summary()


def test_snntorch_output_leaky_is_read_as_the_output_and_a_declaration_wins():
    torch.manual_seed(1)
    model = nn.Sequential(nn.Linear(50, 40), snn.Leaky(beta=0.9, init_hidden=True),
                          nn.Linear(40, 5), snn.Leaky(beta=0.9, init_hidden=True, output=True))
    x = (torch.rand(30, 8, 50) < 0.3).float()
    p = SpikeProfiler()
    with p.watch(model, time_steps=30):
        for t in range(30):
            model(x[t])
    report = p.report()
    assert report.layer_stats["3"].role == "output"
    assert report.layer_stats["1"].role == "hidden"
    assert report.layer_stats["3"].spike_count_range is not None
    p.declare_layer("3", role="hidden")  # the user knows better: a declaration wins
    report = p.report()
    assert report.layer_stats["3"].role == "hidden"
    assert "output_overflow" not in categories(report)


def test_spikingjelly_spiking_layer_before_a_linear_readout_is_hidden():
    """A ResNet's ``sn -> avgpool -> fc`` in small: the fc is the readout."""
    torch.manual_seed(2)
    model = nn.Sequential(nn.Linear(20, 30), neuron.IFNode(step_mode="m", v_threshold=0.05),
                          nn.Linear(30, 5))
    x = torch.rand(100, 4, 20) * 5  # saturates the IF layer: 100 spikes per sample
    p = SpikeProfiler()
    with p.watch(model):
        model(x)
        functional.reset_net(model)
    st = p.report().layer_stats["1"]
    assert st.role == "hidden" and "output_overflow" not in categories(p.report())


def test_declared_hidden_last_layer_is_not_judged_as_the_output(rng):
    p = SpikeProfiler()
    p.declare_layer("sn", role="hidden")
    spikes = np.ones((100, 4, 10), np.float32)  # 100 spikes per sample: an output's overflow
    p.record_step("sn", spikes)
    report = p.report()
    assert report.layer_stats["sn"].role == "hidden"
    assert "output_overflow" not in categories(report)


# --------------------------------------------------------------- numbers and causes
def test_a_tiny_non_binary_share_never_prints_as_zero(rng):
    x = (rng.random((100, 64, 100)) < 0.2).astype(np.float32)
    x[3, 2, 1] = 4.0  # one value in 640,000
    p = SpikeProfiler()
    p.record_step("hidden", x)
    p.record_step("output", (rng.random((100, 64, 10)) < 0.1).astype(np.float32))
    [f] = [q for q in p.report().pathologies if q.category == "non_binary_spikes"]
    assert "(< 0.1% of values are neither 0 nor 1)" in f.message
    assert "0.0%" not in f.message


def test_share_formatting_is_exact_at_the_ends():
    assert share(0.0) == "0%" and share(1.0) == "100%"
    assert share(1e-7) == "< 0.1%" and share(1 - 1e-7) == "> 99.9%"
    assert share(0.125) == "12.5%"
    assert math.isnan(float("nan")) and share(float("nan")) == "n/a"


def test_non_binary_layer_leads_and_its_saturation_follows_from_it(rng):
    p = SpikeProfiler()
    p.record_step("hidden", rng.poisson(52.5, size=(25, 8, 40)).astype(np.float32))
    p.record_step("output", (rng.random((25, 8, 10)) < 0.1).astype(np.float32))
    report = p.report()
    hidden = report.for_layer("hidden")
    assert [f.category for f in hidden][:2] == ["non_binary_spikes", "saturated_neurons"]
    sat = hidden[1]
    assert sat.cause == "non_binary_spikes @ hidden"
    assert "Follows from non_binary_spikes" in sat.suggestion
    assert "Raise the threshold or reduce" not in sat.suggestion  # no second fix
    line = next(x for x in report.summary().splitlines() if x.startswith("  hidden"))
    assert "rate=" not in line and "per step (non-binary: see non_binary_spikes)" in line


def test_an_overcorrected_network_leads_with_the_silent_layer(rng):
    """Threshold 100 on a two-layer network: nothing fires; the first silent layer is
    the root cause, what follows names it and offers no fix of its own."""
    p = SpikeProfiler()
    for _ in range(30):
        p.record_step("hidden", np.zeros((25, 8, 40), np.float32),
                      gradients=rng.standard_normal((25, 8, 40)) * 1e-9)
        p.record_step("output", np.zeros((25, 8, 10), np.float32),
                      gradients=rng.standard_normal((25, 8, 10)))
        p.record_loss(math.log(10), n_classes=10)
    found = p.report().pathologies
    assert (found[0].category, found[0].layer) == ("silent_network", "hidden")
    assert found[0].cause is None
    for f in found[1:]:
        assert f.cause is not None, f
        assert f.suggestion.startswith("Follows from"), f
    assert not any("skip connections" in f.suggestion.lower() for f in found)


# ------------------------------------------------------------ too few observations
def test_eight_observations_at_rate_005_are_too_few_to_call_neurons_dead(rng):
    p = SpikeProfiler()
    p.record_step("hidden", (rng.random((8, 800)) < 0.05).astype(np.float32))
    report = p.report()
    assert "dead_neurons" not in categories(report)
    [f] = [x for x in report.pathologies if x.category == "too_few_observations"]
    assert f.severity is Severity.INFO and report.is_healthy
    assert "only 8 observations" in f.message
    # the same layer over many steps: the dead neurons are real now
    p2 = SpikeProfiler()
    rates = np.where(np.arange(800) < 500, 0.0, 0.13)  # 62% dead, mean rate ~0.05
    for _ in range(20):
        p2.record_step("hidden", (rng.random((16, 800)) < rates).astype(np.float32))
    [f2] = [x for x in p2.report().pathologies if x.category == "dead_neurons"]
    assert f2.severity is Severity.CRITICAL


def test_binomial_tail_matches_a_direct_sum():
    for n, p, limit in ((8, 0.05, 0.08), (200, 0.05, 2.0), (50, 0.3, 10.0)):
        k_max = math.ceil(limit) - 1
        direct = sum(math.comb(n, k) * p**k * (1 - p) ** (n - k) for k in range(k_max + 1))
        assert binomial_below(n, p, limit) == pytest.approx(direct, rel=1e-9)
    # the normal branch: P(X < mean) is about one half
    assert binomial_below(1_000_000, 0.01, 10_000.0) == pytest.approx(0.5, abs=0.01)


# --------------------------------------------------------------- loss at chance
def test_loss_at_chance_says_since_when_and_not_in_epochs_where_it_did_not_hold(rng):
    p = SpikeProfiler()
    for epoch in range(4):
        if epoch:
            p.next_epoch()
        p.record_step("output", (rng.random((10, 4, 10)) < 0.2).astype(np.float32))
        for _ in range(30):
            far = epoch < 2
            p.record_loss(0.4 if far else math.log(10) * (1 + 0.001 * rng.standard_normal()),
                          n_classes=10)
    [f] = [x for x in p.report().pathologies if x.category == "loss_at_chance"]
    assert f.epoch == 2
    assert "loss_at_chance" not in categories(p.report(epoch=1))
    assert "loss_at_chance" in categories(p.report(epoch=3))


# --------------------------------------------------------- a layer that dies mid-training
def test_a_layer_that_dies_mid_training_is_named_with_its_epoch():
    """SpikingJelly #253 in small: the input of a layer became zero at epoch 6 and
    stayed so; the default all-epoch report names the layer and the epoch."""
    torch.manual_seed(3)
    model = nn.Sequential(nn.Linear(40, 60), neuron.LIFNode(step_mode="m"),
                          nn.Linear(60, 30), neuron.LIFNode(step_mode="m"),
                          nn.Linear(30, 10), neuron.LIFNode(step_mode="m"))
    with torch.no_grad():  # a healthy start: every layer fires
        for lin, fan in ((model[0], 40), (model[2], 60), (model[4], 30)):
            lin.weight.normal_(2.0 / fan, 1.0 / fan ** 0.5)
            lin.bias.fill_(0.3)
    p = SpikeProfiler()
    with p.watch(model):
        for epoch in range(10):
            if epoch:
                p.next_epoch()
            if epoch == 6:  # the update that killed it
                with torch.no_grad():
                    model[2].weight.fill_(-1.0)
            for _ in range(3):
                model((torch.rand(20, 8, 40) < 0.5).float())
                functional.reset_net(model)
    report = p.report()
    died = [f for f in report.pathologies if f.category == "layer_died"]
    assert [f.layer for f in died][:1] == ["3"]
    assert died[0].epoch == 6 and died[0].severity is Severity.CRITICAL
    assert "epoch 6" in died[0].message and "epoch 5" in died[0].suggestion
    # what follows from the death (the layer after it dies too) names it
    later = [f for f in report.pathologies if f.layer == "5"]
    assert all(f.cause is not None for f in later)
    # before the death, the epoch's own report has no such finding
    assert "layer_died" not in categories(p.report(epoch=5))
    assert "layer_died" in categories(p.report(epoch=7))


def test_a_model_copied_before_its_first_watched_forward_is_unwatched(tmp_path):
    """The readout probe lives until the first forward: a copy made before it (an EMA
    copy right after watch) must not carry it, and the original still learns its output."""
    import copy

    torch.manual_seed(4)
    model = nn.Sequential(nn.Linear(20, 16), neuron.LIFNode(step_mode="m"),
                          nn.Linear(16, 4))  # SpikingJelly pickles; Norse's parameters do not
    x = (torch.rand(10, 2, 20) < 0.5).float()
    p = SpikeProfiler()
    with p.watch(model):
        ema = copy.deepcopy(model)
        torch.save(model, tmp_path / "model.pt")
        ema(x)
        functional.reset_net(ema)
        assert p.layers == []  # the copy is not watched
        model(x)
        functional.reset_net(model)
        loaded = torch.load(tmp_path / "model.pt", weights_only=False)
        loaded(x)
    assert p.report().layer_stats["1"].role == "hidden"  # a Linear readout follows
    assert p.report().layer_stats["1"].n_steps == 1


def test_validation_passes_see_the_same_output_layer():
    torch.manual_seed(5)
    model = nn.Sequential(nn.Linear(30, 20), snn.Leaky(beta=0.9, init_hidden=True),
                          nn.Linear(20, 5), snn.Leaky(beta=0.9, init_hidden=True))
    p = SpikeProfiler()
    with p.watch(model, time_steps=10):
        for _ in range(10):
            model((torch.rand(4, 30) < 0.4).float())
        model.eval()
        with torch.no_grad():
            for _ in range(10):
                model((torch.rand(4, 30) < 0.4).float())
    assert p.report().layer_stats["3"].role == "output"
    assert p.report(phase="eval").layer_stats["3"].role == "output"
    assert p.report(phase="eval").layer_stats["1"].role == "hidden"


def test_quiet_unequal_neurons_after_few_samples_are_not_called_dead(rng):
    """Neurons with unequal rates, bursting within a sample: after 6 samples of 4
    steps many quiet ones have not fired yet, about as many as fired only barely;
    after 400 samples the same layer is clean. A layer with a truly dead part (none
    fired barely) is named dead after as few samples."""
    rates = rng.uniform(0.05, 0.4, size=2000)  # per sample, unequal: none is dead

    def record(p, samples):
        for _ in range(samples // 2):
            active = rng.random((2, 2000)) < rates  # which neurons fire in a sample
            frames = (active[None] & (rng.random((4, 2, 2000)) < 0.7)).astype(np.float32)
            p.record_step("hidden", frames)
            p.record_step("output", (rng.random((4, 2, 10)) < 0.3).astype(np.float32))

    few, many = SpikeProfiler(), SpikeProfiler()
    record(few, 6)
    record(many, 400)
    assert "dead_neurons" not in categories(few.report(), "hidden")
    assert "too_few_observations" in categories(few.report(), "hidden")
    assert categories(many.report(), "hidden") == set()
    dead = SpikeProfiler()
    half = np.r_[np.zeros(1000), np.full(1000, 0.6)]
    for _ in range(3):
        dead.record_step("hidden", (rng.random((4, 2, 2000)) < half).astype(np.float32))
    dead.record_step("output", (rng.random((4, 2, 10)) < 0.3).astype(np.float32))
    [f] = [x for x in dead.report().pathologies if x.layer == "hidden"]
    assert f.category == "dead_neurons" and f.severity is Severity.WARNING


class _PoisonedSpike(torch.autograd.Function):
    """Heaviside forward; a fast-sigmoid backward that turns NaN on one marked call."""

    @staticmethod
    def forward(ctx, x, poison):
        ctx.save_for_backward(x)
        ctx.poison = poison
        return (x > 0).float()

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        grad = g / (1 + 10 * x.abs()) ** 2
        return (grad * float("nan") if ctx.poison else grad), None


def test_a_nan_born_at_one_late_time_step_is_caught_at_that_layer():
    """The surrogate's backward goes NaN at time step 13 of 20 only (a per-step layer,
    grouped with time_steps): the NaN is still named at the layer where it was born."""
    calls = [0]

    def spike_grad(mem_shift):
        calls[0] += 1
        return _PoisonedSpike.apply(mem_shift, (calls[0] - 1) % 20 == 13)

    torch.manual_seed(6)
    model = nn.Sequential(nn.Linear(30, 20),
                          snn.Leaky(beta=0.9, init_hidden=True, spike_grad=spike_grad),
                          nn.Linear(20, 5), snn.Leaky(beta=0.9, init_hidden=True))
    x = (torch.rand(20, 4, 30) < 0.3).float()
    p = SpikeProfiler()
    with p.watch(model, gradients=True, time_steps=20):
        out = torch.stack([model(x[t]) for t in range(20)])
        out.sum().backward()
    [f] = [q for q in p.report().pathologies if q.category == "non_finite_values"]
    assert f.layer == "1" and "first in input gradients" in f.message, f
