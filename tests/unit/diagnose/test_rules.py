"""Every rule fires on data that has its pathology and stays quiet on data that does not."""

from __future__ import annotations

import math

import numpy as np
import pytest

from spikewidget import RULES, Severity, SpikeProfiler, Thresholds, rule_table_markdown
from tests.conftest import bernoulli


def findings(p: SpikeProfiler, category: str, **kw):
    return [f for f in p.report(**kw).pathologies if f.category == category]


def healthy_layer(rng, shape=(64, 200), rate=0.2):
    return bernoulli(rng, shape, rate)


# ------------------------------------------------------------- dead neurons
@pytest.mark.parametrize("dead_fraction,severity", [
    (0.6, Severity.CRITICAL), (0.2, Severity.WARNING), (0.05, None)])
def test_dead_neurons_follow_the_tutorial_tiers(rng, dead_fraction, severity):
    x = healthy_layer(rng, (256, 100))
    x[:, : int(dead_fraction * 100)] = 0
    p = SpikeProfiler()
    p.record_step("hidden", x)
    found = findings(p, "dead_neurons")
    if severity is None:
        assert found == []
    else:
        assert [f.severity for f in found] == [severity]
        assert found[0].layer == "hidden"
        assert found[0].metric_value == pytest.approx(dead_fraction)
        assert f"{int(dead_fraction * 100)}/100 neurons" in found[0].message


def test_a_dead_layer_is_critical_and_silent(rng):
    p = SpikeProfiler()
    p.record_step("hidden", healthy_layer(rng))
    p.record_step("dead", np.zeros((64, 50)))
    rep = p.report()
    assert rep.has_critical
    assert {(f.category, f.layer) for f in rep.pathologies} == {
        ("dead_neurons", "dead"), ("silent_network", "dead")}


def test_saturated_neurons_warn_above_thirty_percent(rng):
    x = healthy_layer(rng, (256, 100))
    x[:, :40] = 1
    p = SpikeProfiler()
    p.record_step("hidden", x)
    [f] = findings(p, "saturated_neurons")
    assert f.severity is Severity.WARNING and f.metric_value == pytest.approx(0.4)
    x[:, 20:40] = 0
    q = SpikeProfiler()
    q.record_step("hidden", x)
    assert findings(q, "saturated_neurons") == []


def test_silent_network_is_about_the_highest_rate(rng):
    x = np.zeros((1000, 50))
    x[0, 0] = 1  # one spike in 1000 observations: rate 0.001, not below it
    p = SpikeProfiler()
    p.record_step("hidden", x)
    assert findings(p, "silent_network") == []
    q = SpikeProfiler()
    q.record_step("hidden", np.zeros((1000, 50)))
    assert [f.severity for f in findings(q, "silent_network")] == [Severity.CRITICAL]


def test_voltage_collapse_needs_flat_voltages_over_enough_steps(rng):
    p = SpikeProfiler()
    q = SpikeProfiler()
    for _ in range(12):
        p.record_step("h", healthy_layer(rng), voltages=np.full((64, 200), -0.5))
        q.record_step("h", healthy_layer(rng), voltages=rng.normal(size=(64, 200)))
    [f] = findings(p, "voltage_collapse")
    assert f.severity is Severity.WARNING and f.metric_value == 1.0  # every neuron frozen
    assert f.message.startswith("200/200 neurons (100%) have a membrane voltage frozen")
    assert findings(q, "voltage_collapse") == []
    early = SpikeProfiler()
    early.record_step("h", healthy_layer(rng), voltages=np.zeros((64, 200)))
    assert findings(early, "voltage_collapse") == []


def test_voltage_collapse_is_judged_per_neuron_over_time_not_pooled(rng):
    # every neuron frozen in time at its own level: pooled std ~1, nothing integrates
    levels = rng.normal(size=(1, 8, 50))
    frozen = np.broadcast_to(levels, (20, 8, 50))
    p = SpikeProfiler()
    for _ in range(10):
        p.record_step("h", bernoulli(rng, (20, 8, 50), 0.1), voltages=frozen)
    st = p.report().layer_stats["h"]
    assert st.voltage_std > 0.5  # the old pooled test would have passed it
    [f] = findings(p, "voltage_collapse")
    assert f.metric_value == 1.0 and f.message.startswith("50/50 neurons (100%)")
    # the same per time step (records without a time axis continue the sequences)
    q = SpikeProfiler()
    for _ in range(12):
        q.record_step("h", bernoulli(rng, (8, 50), 0.1), voltages=levels[0])
    assert len(findings(q, "voltage_collapse")) == 1


@pytest.mark.parametrize("moving,fires", [(10, True), (30, False)])
def test_voltage_collapse_fires_from_the_frozen_share_and_says_it(rng, moving, fires):
    v = np.broadcast_to(rng.normal(size=(1, 4, 40)), (15, 4, 40)).copy()
    v[:, :, :moving] += rng.normal(size=(15, 4, moving))
    p = SpikeProfiler()
    for _ in range(10):
        p.record_step("h", bernoulli(rng, (15, 4, 40), 0.1), voltages=v)
    found = findings(p, "voltage_collapse")
    frozen = 40 - moving
    assert bool(found) is fires
    if fires:
        assert found[0].metric_value == frozen / 40
        assert found[0].message.startswith(f"{frozen}/40 neurons ({frozen / 40:.0%})")
    # the share is a threshold: every neuron frozen required
    assert findings(p, "voltage_collapse",
                    thresholds={"voltage_collapse_fraction": 1.0}) == []


def test_real_lif_layers_with_varying_input_do_not_collapse_and_a_cut_input_does():
    import snntorch as snn
    import torch
    from spikingjelly.activation_based import functional, neuron
    from torch import nn

    torch.manual_seed(0)
    x = (torch.rand(25, 16, 60) < 0.2).float()
    snn_net = nn.Sequential(nn.Linear(60, 40), snn.Leaky(beta=0.9, init_hidden=True))
    sj_net = nn.Sequential(nn.Linear(60, 40), neuron.LIFNode(step_mode="m"))
    cut = nn.Sequential(nn.Linear(60, 40), snn.Leaky(beta=0.9, init_hidden=True))
    with torch.no_grad():
        cut[0].weight.zero_()
        cut[0].bias.zero_()
    for net, per_step in ((snn_net, True), (sj_net, False), (cut, True)):
        p = SpikeProfiler()
        with torch.no_grad(), p.watch(net, time_steps=25 if per_step else None):
            for _ in range(10):
                if per_step:
                    for t in range(25):
                        net(x[t] * 2)
                else:
                    net(x * 2)
                    functional.reset_net(net)
        found = [f.layer for f in p.report().pathologies if f.category == "voltage_collapse"]
        assert found == (["1"] if net is cut else [])


def test_gradient_explosion_is_a_spike_in_the_norm(rng):
    p = SpikeProfiler()
    q = SpikeProfiler()
    for step in range(300):
        scale = 1e5 if step == 150 else 1.0
        p.record_step("h", healthy_layer(rng, (8, 20)),
                      gradients=scale * rng.normal(size=(8, 20)))
        q.record_step("h", healthy_layer(rng, (8, 20)), gradients=rng.normal(size=(8, 20)))
    [f] = findings(p, "gradient_explosion")
    assert f.severity is Severity.CRITICAL and f.metric_value > 100
    assert findings(q, "gradient_explosion") == []


def test_gradient_vanishing_means_the_input_side_gets_tiny_gradients(rng):
    def run(first_scale, last_scale):
        p = SpikeProfiler()
        for _ in range(5):
            for name, scale in (("fc1", first_scale), ("fc2", 1e-2), ("fc3", last_scale)):
                p.record_step(name, healthy_layer(rng, (8, 20)),
                              gradients=scale * rng.normal(size=(8, 20)))
        return findings(p, "gradient_vanishing")

    [f] = run(1e-4, 1.0)  # backprop shrinks towards the input: vanishing at fc1
    assert f.layer == "fc1" and f.severity is Severity.CRITICAL
    assert f.metric_value == pytest.approx(1e4, rel=0.2)
    assert run(1.0, 1e-4) == []  # the old implementation flagged this direction instead
    assert run(1e-1, 1.0) == []


def test_non_binary_spikes_name_the_largest_value(rng):
    x = healthy_layer(rng, (64, 200))
    x[5, 5] = 2821
    p = SpikeProfiler()
    p.record_step("lif1", x)
    [f] = findings(p, "non_binary_spikes")
    assert f.severity is Severity.CRITICAL and f.layer == "lif1"
    assert f.metric_value == 2821 and "2821" in f.message
    assert "threshold" in f.suggestion
    p.declare_layer("lif1", graded=True)
    assert findings(p, "non_binary_spikes") == []
    q = SpikeProfiler()
    q.record_step("lif1", healthy_layer(rng))
    assert findings(q, "non_binary_spikes") == []


def test_count_valued_input_is_a_warning_with_the_binarise_fix(rng):
    frames = rng.poisson(2.0, size=(50, 8, 700)).astype(np.float32)
    p = SpikeProfiler()
    p.record_step("input", frames)
    [f] = findings(p, "count_valued_input")
    assert f.severity is Severity.WARNING and f.layer == "input"
    assert "x = (x > 0).float()" in f.suggestion
    assert f.metric_value == frames.max()
    assert findings(p, "non_binary_spikes") == []  # not reported twice
    q = SpikeProfiler()
    q.record_step("input", (frames > 0).astype(np.float32))
    assert findings(q, "count_valued_input") == []
    r = SpikeProfiler()
    r.declare_layer("frames", role="input")
    r.record_step("frames", frames)
    assert len(findings(r, "count_valued_input")) == 1


def test_non_finite_values_are_reported_with_first_step_and_epoch(rng):
    p = SpikeProfiler()
    for step in range(6):
        if step == 3:
            p.next_epoch()
        v = rng.normal(size=(8, 20))
        if step == 4:
            v[0, 0] = np.nan
        g = rng.normal(size=(8, 20))
        if step == 5:
            g[1, 1] = np.inf
        p.record_step("h", healthy_layer(rng, (8, 20)), voltages=v, gradients=g)
    p.record_loss(float("nan"))
    rep = p.report()
    nf = [f for f in rep.pathologies if f.category == "non_finite_values"]
    assert {(f.layer, f.severity) for f in nf} == {("h", Severity.CRITICAL),
                                                   ("loss", Severity.CRITICAL)}
    layer = next(f for f in nf if f.layer == "h")
    assert (layer.step, layer.epoch) == (4, 1)
    assert "voltages" in layer.message and "gradients" in layer.message
    st = rep.layer_stats["h"]
    assert math.isfinite(st.voltage_mean) and math.isfinite(st.gradient_norm_mean)
    assert st.gradient_steps == 5  # the Inf step is left out of the norm statistics
    clean = SpikeProfiler()
    clean.record_step("h", healthy_layer(rng), voltages=rng.normal(size=(64, 200)))
    assert findings(clean, "non_finite_values") == []


def test_nan_spikes_never_raise_and_do_not_poison_rates(rng):
    x = healthy_layer(rng, (256, 10), 0.5)
    x[0, :] = np.nan
    p = SpikeProfiler()
    p.record_step("h", x)
    st = p.report().layer_stats["h"]
    assert np.all(np.isfinite(st.firing_rates))
    assert st.nonfinite[0].count == 10 and st.nonfinite[0].source == "spikes"


@pytest.mark.parametrize("top,severity", [
    (211029, Severity.CRITICAL), (70, Severity.WARNING), (11, None)])
def test_output_overflow_reads_per_sample_counts_over_time(rng, top, severity):
    out = np.zeros((100, 4, 20), dtype=np.float32)
    out[:, 0, 3] = top / 100  # sample 0, neuron 3: summed over 100 steps gives `top`
    p = SpikeProfiler()
    p.record_step("hidden", healthy_layer(rng, (100, 4, 50)))
    p.record_step("output", out)
    found = findings(p, "output_overflow")
    if severity is None:
        assert found == []
        return
    [f] = found
    assert f.severity is severity and f.layer == "output"
    assert f.metric_value == pytest.approx(top)
    # the output emits top/100 per step: not binary, so the overflow follows from that
    assert f.cause == "non_binary_spikes @ output"
    assert "non_binary_spikes" in f.suggestion and "log1p" not in f.suggestion
    cause = findings(p, "non_binary_spikes")[0]
    assert "threshold" in cause.suggestion
    order = [q.category for q in p.report().pathologies]
    assert order.index("non_binary_spikes") < order.index("output_overflow")


def test_output_overflow_of_binary_spikes_offers_its_own_fix(rng):
    out = np.zeros((120, 4, 20), dtype=np.float32)
    out[:, 1, 7] = 1.0  # binary, but 120 spikes per sample over 120 steps
    p = SpikeProfiler()
    p.record_step("hidden", healthy_layer(rng, (120, 4, 50)))
    p.record_step("output", out)
    [f] = findings(p, "output_overflow")
    assert f.cause is None and f.severity is Severity.CRITICAL
    assert "log1p" in f.suggestion  # names the band-aid to avoid
    p.record_loss(2.5, n_classes=20)  # below 2 ln 20: this loss reads no counts
    assert findings(p, "output_overflow") == []
    p.record_loss(60.0)  # what a cross-entropy over those counts gives when wrong
    [f] = findings(p, "output_overflow")
    assert "the recorded loss stayed finite (up to 60)" in f.message
    p.record_loss(float("nan"))
    [f] = findings(p, "output_overflow")
    assert "the recorded loss did become NaN/Inf" in f.message


def test_output_overflow_uses_the_last_layer_when_none_is_declared(rng):
    p = SpikeProfiler()
    p.record_step("lif1", healthy_layer(rng, (100, 4, 50)))
    p.record_step("lif2", np.ones((100, 4, 20)))
    [f] = findings(p, "output_overflow")
    assert f.layer == "lif2" and f.metric_value == 100
    # the summary names the layer the rules read as the output
    text = p.report().summary()
    assert "lif1 [hidden]" in text and "lif2 [output]" in text


def test_loss_at_chance_needs_the_last_n_losses_near_ln_c():
    p = SpikeProfiler()
    for i in range(30):
        p.record_loss(math.log(20) + 0.01 * (-1) ** i, n_classes=20)
    [f] = findings(p, "loss_at_chance")
    assert f.layer == "loss" and f.severity is Severity.WARNING
    assert f.metric_value == pytest.approx(math.log(20), abs=0.02)
    assert "ln 20" in f.message
    learning = SpikeProfiler()
    for i in range(30):
        learning.record_loss(3.0 - 0.05 * i, n_classes=20)
    assert findings(learning, "loss_at_chance") == []
    short = SpikeProfiler()
    for _ in range(5):
        short.record_loss(math.log(20), n_classes=20)
    assert findings(short, "loss_at_chance") == []
    no_classes = SpikeProfiler()
    for _ in range(30):
        no_classes.record_loss(math.log(20))
    assert findings(no_classes, "loss_at_chance") == []


def test_a_loss_clearly_below_chance_is_learning_not_stuck(rng):
    """A rate-coded cross-entropy on sparse outputs: 2% below ln 10, steady, while the
    accuracy is far above chance. Within the 5% window, but below chance beyond its
    noise: the outputs carry the classes, so no loss_at_chance. A loss frozen at ln C
    (give or take rounding), or one that wanders around it, still is at chance."""
    chance = math.log(10)

    def judged(values) -> list:
        p = SpikeProfiler()
        for v in values:
            p.record_loss(float(v), n_classes=10)
        return findings(p, "loss_at_chance")

    assert judged(0.98 * chance + 0.01 * rng.standard_normal(30)) == []
    assert len(judged(np.full(30, chance) - 1e-7)) == 1
    assert len(judged(chance + 0.04 * rng.standard_normal(30))) == 1
    # 0.5% below, within a tenth of its noise: not clearly below
    assert len(judged(0.995 * chance + 0.002 * rng.standard_normal(30))) == 1


def test_report_with_other_thresholds_reclassifies_without_rerecording(rng):
    p = SpikeProfiler()
    x = healthy_layer(rng, (256, 100), 0.2)
    x[:, :30] = (rng.random((256, 30)) < 0.03)
    p.record_step("h", x)
    assert findings(p, "dead_neurons") == []
    stricter = p.report(thresholds={"dead_rate": 0.05})
    assert [f.severity for f in stricter.pathologies] == [Severity.WARNING]
    assert stricter.thresholds.dead_rate == 0.05
    assert p.report(thresholds=Thresholds(dead_rate=0.05,
                                          dead_critical_fraction=0.25)).has_critical
    assert p.report().layer_stats["h"].n_steps == 1  # nothing was recorded again


def test_findings_are_sorted_by_severity_then_layer_order(rng):
    p = SpikeProfiler()
    p.record_step("input", rng.poisson(3, (10, 4, 30)).astype(np.float32))
    p.record_step("a", np.zeros((10, 4, 30)))
    x = healthy_layer(rng, (10, 4, 30))
    x[0, 0, 0] = 7
    p.record_step("b", x)
    ranks = [f.severity.rank for f in p.report().pathologies]
    assert ranks == sorted(ranks)
    crit = [f.layer for f in p.report().pathologies if f.severity is Severity.CRITICAL]
    assert crit.index("a") < crit.index("b")


def test_rule_table_is_generated_from_the_rules_and_thresholds():
    table = rule_table_markdown()
    for rule in RULES:
        assert f"`{rule.category}`" in table
    assert "firing rate < 0.01" in table
    assert "firing rate < 0.02" in rule_table_markdown(Thresholds(dead_rate=0.02))


def test_findings_say_in_which_epoch_they_first_appeared(rng):
    p = SpikeProfiler()
    for epoch in range(4):
        x = healthy_layer(rng, (64, 50))
        if epoch == 2:
            x[0, 0] = 5.0  # a multi-spike appears in epoch 2 only
        p.record_step("hidden", x, epoch=epoch)
        p.record_step("dead", np.zeros((64, 10)), epoch=epoch)
    rep = p.report()
    [nb] = [f for f in rep.pathologies if f.category == "non_binary_spikes"]
    assert nb.epoch == 2
    [dead] = [f for f in rep.pathologies if f.category == "dead_neurons"]
    assert dead.epoch == 0
    [late] = [f for f in p.report(epoch=3).pathologies if f.category == "dead_neurons"]
    assert late.epoch == 3


def test_an_output_neuron_is_dead_when_it_fires_for_no_sample(rng):
    # 20 class neurons, each fires 8 times over 100 steps, only for its own class
    out = np.zeros((100, 40, 20), dtype=np.float32)
    for sample in range(40):
        out[:8, sample, sample % 20] = 1
    out[:, :, 19] = 0  # ... except neuron 19, which never fires
    p = SpikeProfiler()
    p.record_step("hidden", healthy_layer(rng, (100, 40, 50)))
    p.record_step("output", out)
    st = p.report().layer_stats["output"]
    assert st.firing_rates.max() < 0.01  # every per-step rate is "dead" by the hidden rule
    assert st.dead_neuron_count == 1  # but only neuron 19 fires in no sample
    assert st.sample_activity[0] == pytest.approx(2 / 40)
    assert findings(p, "dead_neurons") == []  # 1/20 = 5% is under the 10% warning tier
    assert p.report(thresholds={"dead_rate": 0.06}).layer_stats["output"].dead_neuron_count == 20
