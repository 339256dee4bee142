"""The published tutorial's code runs on spikewidget by changing only the import."""

from __future__ import annotations

import contextlib
import io

import numpy as np

from spikewidget import SpikeProfiler  # the only changed line
from tests.conftest import bernoulli


def test_tutorial_quick_start_and_checks_run_unchanged(rng):
    profiler = SpikeProfiler()
    dataloader = range(3)
    for _epoch in range(4):
        for _batch in dataloader:
            spikes_hidden = bernoulli(rng, (32, 100), 0.2)
            v_hidden = rng.normal(size=(32, 100))
            spikes_output = np.zeros((32, 10), dtype=np.float32)  # a dead output layer
            v_output = rng.normal(size=(32, 10))
            surrogate_grad_hidden = rng.normal(size=(32, 100))
            profiler.record_step("hidden", spikes_hidden, voltages=v_hidden)
            profiler.record_step("output", spikes_output, voltages=v_output)
            profiler.record_step("hidden", spikes_hidden, voltages=v_hidden,
                                 gradients=surrogate_grad_hidden)

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        report = profiler.report()
        print(report.summary())
        if report.has_critical:
            print("CRITICAL issues found!")
            for p in report.pathologies:
                print(f" [{p.severity.value}] {p.category} @ {p.layer}")
                print(f" {p.message}")
                print(f" Fix: {p.suggestion}")
        for name, stats in report.layer_stats.items():
            print(f"{name}:")
            print(f" Neurons: {stats.n_neurons}")
            print(f" Firing rate: {stats.firing_rates.mean():.3f}")
            print(f" Dead: {stats.dead_neuron_count} ({stats.dead_neuron_fraction:.0%})")
            print(f" Voltage: {stats.voltage_mean:.3f} +/- {stats.voltage_std:.3f}")
    text = out.getvalue()
    assert "CRITICAL issues found!" in text
    assert "[critical] dead_neurons @ output" in text
    assert " Neurons: 100" in text and " Dead: 10 (100%)" in text
    hidden = report.layer_stats["hidden"]
    assert abs(hidden.firing_rates.mean() - 0.2) < 0.01
    assert hidden.dead_neuron_count == 0 and hidden.saturated_neuron_count == 0
    assert abs(hidden.voltage_std - 1.0) < 0.02
    assert isinstance(report.pathologies[0].metric_value, float)
    assert {p.severity.value for p in report.pathologies} <= {"info", "warning", "critical"}


def test_constructor_arguments_are_honoured(rng):
    spikes = bernoulli(rng, (64, 200), 0.03)
    default = SpikeProfiler()
    strict = SpikeProfiler(dead_threshold=0.05)
    for p in (default, strict):
        p.record_step("hidden", spikes)
    assert default.report().layer_stats["hidden"].dead_neuron_fraction < 0.5
    assert strict.report().layer_stats["hidden"].dead_neuron_fraction > 0.5
    assert strict.dead_threshold == 0.05
    lazy = SpikeProfiler(saturated_threshold=0.5)
    lazy.record_step("hidden", bernoulli(rng, (64, 200), 0.7))
    assert lazy.report().layer_stats["hidden"].saturated_neuron_fraction > 0.9


def test_tutorial_fields_and_constructors_with_defaults(rng):
    from spikewidget import LayerStats, Pathology, ProfileReport, Severity

    empty = LayerStats(name="test", n_neurons=10, n_steps=5)
    assert (empty.dead_neuron_count, empty.estimated_syn_ops) == (0, 0)
    assert empty.firing_rates.shape == (10,) and empty.neuron_shape == (10,)
    assert ProfileReport().has_critical is False and ProfileReport().total_steps == 0
    warn = Pathology(Severity.WARNING, "test", "l", "msg", "fix")
    crit = Pathology(Severity.CRITICAL, "test", "l", "msg", "fix")
    assert ProfileReport(pathologies=[warn]).has_critical is False
    assert ProfileReport(pathologies=[warn, crit]).has_critical is True
    p = SpikeProfiler()
    p.record_step("h", np.array([1, 0, 0], dtype=np.int8), voltages=np.array([0.8, 0.2, -0.1]))
    st = p.report().layer_stats["h"]
    assert (st.voltage_min, st.voltage_max) == (-0.1, 0.8)
    assert st.estimated_syn_ops is None  # no fan-out known


def test_estimated_syn_ops_are_spikes_times_the_declared_or_watched_fan_out(rng):
    import pytest
    import snntorch as snn
    import torch
    from spikingjelly.activation_based import functional, layer, neuron
    from torch import nn

    from spikewidget import InvalidInputError

    p = SpikeProfiler()
    p.declare_layer("h", fan_out=64)
    x = bernoulli(rng, (10, 4, 30), 0.2)
    p.record_step("h", x)
    assert p.report().layer_stats["h"].estimated_syn_ops == x.sum() * 64
    for bad in (0, -3, float("nan"), True, "8"):
        with pytest.raises(InvalidInputError, match="'h'.*fan_out"):
            p.declare_layer("h", fan_out=bad)
    assert p.report().layer_stats["h"].fan_out == 64  # still as declared

    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(30, 16), snn.Leaky(beta=0.9, init_hidden=True),
                        nn.Dropout(0.0), nn.Linear(16, 5),
                        snn.Leaky(beta=0.9, init_hidden=True, output=True))
    conv = nn.Sequential(layer.Conv2d(2, 6, 3, padding=1), neuron.LIFNode(step_mode="m"),
                         layer.Conv2d(6, 8, 3, stride=2, groups=2),
                         neuron.LIFNode(step_mode="m"))
    functional.set_step_mode(conv, "m")
    q, r = SpikeProfiler(), SpikeProfiler()
    r.declare_layer("3", fan_out=7)  # the user's declaration wins over the model's
    with torch.no_grad(), q.watch(net, time_steps=10):
        for t in range(10):
            net(torch.from_numpy(x[t]) * 3)
    with torch.no_grad(), r.watch(conv):
        conv(torch.rand(4, 2, 2, 8, 8) * 3)
    qs, rs = q.report().layer_stats, r.report().layer_stats
    assert (qs["1"].fan_out, qs["4"].fan_out) == (5, None)  # past the dropout; the last
    assert qs["1"].estimated_syn_ops == qs["1"].total_spikes * 5
    assert qs["4"].estimated_syn_ops is None
    assert rs["1"].fan_out == 8 / 2 * 9 / 4  # out channels per group x kernel / stride
    assert rs["3"].fan_out == 7
