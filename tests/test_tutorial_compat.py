"""The published tutorial's code runs on spikewidget by changing only the import."""

from __future__ import annotations

import contextlib
import io

import numpy as np

from spikewidget import SpikeProfiler  # the only changed line

from .conftest import bernoulli


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
