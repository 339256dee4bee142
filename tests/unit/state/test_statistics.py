"""Firing rates, extrema, voltages and epochs are what the data says they are."""

from __future__ import annotations

import math
import tracemalloc

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from spikewidget import SpikeProfiler
from tests.conftest import bernoulli


def test_a_batch_at_rate_point_two_reads_point_two(rng):
    p = SpikeProfiler()
    p.record_step("hidden", bernoulli(rng, (128, 1000), 0.2))
    st_ = p.report().layer_stats["hidden"]
    assert st_.n_neurons == 1000
    assert abs(st_.firing_rates.mean() - 0.2) < 0.005
    assert st_.saturated_neuron_count == 0  # the old implementation said 1000 (rate 25.6)
    assert st_.is_binary and st_.max_value == 1.0


@pytest.mark.parametrize("shape,neuron_axes", [
    ((50,), 1), ((16, 50), 1), ((10, 16, 50), 1), ((5, 4, 3, 2, 50), 1),
    ((10, 4, 2, 5, 5), 3),
])
def test_rate_is_spikes_per_observation_for_every_layout(rng, shape, neuron_axes):
    p = SpikeProfiler()
    chunks = [bernoulli(rng, shape, 0.3) for _ in range(3)]
    for c in chunks:
        p.record_step("layer", c, neuron_axes=neuron_axes)
    n_shape = shape[len(shape) - neuron_axes:]
    stacked = np.stack(chunks).reshape(-1, math.prod(n_shape)).astype(np.float64)
    st_ = p.report().layer_stats["layer"]
    assert st_.neuron_shape == n_shape
    assert st_.n_observations == stacked.shape[0]
    np.testing.assert_allclose(st_.firing_rates, stacked.mean(axis=0), rtol=1e-12)


_shapes = hnp.array_shapes(min_dims=1, max_dims=4, min_side=1, max_side=6)
real_arrays = st.one_of(
    hnp.arrays(st.sampled_from([np.float32, np.float64]), _shapes,
               elements=st.sampled_from([0.0, 1.0, 0.5, 2.0, -1.0, 2821.0, 1e-3])),
    hnp.arrays(st.sampled_from([np.float32, np.float64]), _shapes,
               elements=st.sampled_from([0.0, 1.0])),
    hnp.arrays(np.int32, _shapes, elements=st.integers(-5, 300)),
    hnp.arrays(np.uint8, _shapes, elements=st.integers(0, 255)),
    hnp.arrays(np.bool_, _shapes),
)


@settings(max_examples=150, deadline=None)
@given(real_arrays, st.integers(1, 3))
def test_rates_extrema_and_binary_flag_match_a_direct_computation(x, repeats):
    p = SpikeProfiler()
    for _ in range(repeats):
        p.record_step("L", x)
    flat = x.reshape(-1, x.shape[-1]).astype(np.float64)
    st_ = p.report().layer_stats["L"]
    np.testing.assert_allclose(st_.firing_rates, flat.mean(axis=0), rtol=1e-5, atol=1e-6)
    assert st_.max_value == pytest.approx(flat.max())
    assert st_.min_value == pytest.approx(flat.min())
    nonbinary = int(np.count_nonzero((flat != 0) & (flat != 1)))
    assert st_.nonbinary_count == repeats * nonbinary
    assert st_.is_binary == (nonbinary == 0)


def test_non_binary_values_are_counted_exactly(rng):
    x = bernoulli(rng, (64, 100), 0.2)
    x[3, 7] = 0.5
    x[10, 20] = 2821.0
    p = SpikeProfiler()
    p.record_step("hidden", x)
    st_ = p.report().layer_stats["hidden"]
    assert st_.nonbinary_count == 2 and not st_.is_binary
    assert st_.max_value == 2821.0
    assert st_.binary_fraction == pytest.approx(1 - 2 / x.size)


def test_voltage_moments_survive_a_tiny_spread_at_a_large_offset(rng):
    p = SpikeProfiler()
    chunks = [1e4 + 1e-3 * rng.standard_normal((64, 50)) for _ in range(40)]
    for c in chunks:
        p.record_step("hidden", np.zeros((64, 50)), voltages=c)
    allv = np.concatenate([c.ravel() for c in chunks])
    st_ = p.report().layer_stats["hidden"]
    assert st_.voltage_mean == pytest.approx(allv.mean(), rel=1e-12)
    assert st_.voltage_std == pytest.approx(allv.std(), rel=1e-6)
    assert 9e-4 < st_.voltage_std < 1.1e-3


def test_float32_voltages_give_the_float64_answer(rng):
    v = (rng.standard_normal((128, 1000)) * 3 + 2).astype(np.float32)
    p = SpikeProfiler()
    p.record_step("h", np.zeros((128, 1000), np.float32), voltages=v)
    st_ = p.report().layer_stats["h"]
    ref = v.astype(np.float64)
    assert st_.voltage_mean == pytest.approx(ref.mean(), rel=1e-5)
    assert st_.voltage_std == pytest.approx(ref.std(), rel=1e-5)


def test_gradient_norms_are_per_step_l2_norms(rng):
    p = SpikeProfiler()
    grads = [rng.standard_normal((8, 30)) * s for s in (1.0, 2.0, 3.0)]
    for g in grads:
        p.record_step("h", np.zeros((8, 30)), gradients=g)
    norms = [np.linalg.norm(g) for g in grads]
    st_ = p.report().layer_stats["h"]
    assert st_.gradient_steps == 3
    assert st_.gradient_norm_mean == pytest.approx(np.mean(norms))
    assert st_.gradient_norm_max == pytest.approx(max(norms))


def test_huge_finite_values_are_not_mistaken_for_overflow():
    x = np.full((128, 10), 3e38, dtype=np.float32)  # float32 sums overflow, values do not
    p = SpikeProfiler()
    p.record_step("h", x, voltages=x, gradients=x)
    st_ = p.report().layer_stats["h"]
    assert st_.nonfinite == []
    assert st_.firing_rates[0] == pytest.approx(3e38, rel=1e-6)
    assert st_.voltage_mean == pytest.approx(3e38, rel=1e-6)
    assert st_.gradient_norm_max == pytest.approx(3e38 * math.sqrt(1280), rel=1e-6)


def test_epochs_keep_their_own_statistics(rng):
    p = SpikeProfiler()
    p.record_step("h", bernoulli(rng, (256, 100), 0.1))
    assert p.next_epoch() == 1
    p.record_step("h", bernoulli(rng, (256, 100), 0.5))
    p.record_step("h", bernoulli(rng, (256, 100), 0.3), epoch=4)
    assert p.epochs == [0, 1, 4] and p.epoch == 4
    rate = {e: p.report(epoch=e).layer_stats["h"].firing_rates.mean() for e in p.epochs}
    assert rate[0] == pytest.approx(0.1, abs=0.01)
    assert rate[1] == pytest.approx(0.5, abs=0.01)
    assert rate[4] == pytest.approx(0.3, abs=0.01)
    assert p.report(epoch=-1).epochs == (4,)
    assert p.report(epoch="latest").epochs == (4,)
    both = p.report(epoch=range(0, 2)).layer_stats["h"]
    assert both.firing_rates.mean() == pytest.approx(0.3, abs=0.01)
    assert both.epochs == (0, 1)
    assert p.report().layer_stats["h"].n_steps == 3


def test_layers_are_reported_in_order_of_first_recording(rng):
    p = SpikeProfiler()
    for name in ("conv1", "fc", "out", "conv1"):
        p.record_step(name, bernoulli(rng, (4, 10), 0.5))
    assert p.layers == ["conv1", "fc", "out"]
    assert list(p.report().layer_stats) == ["conv1", "fc", "out"]


def test_output_counts_per_sample_are_summed_over_time(rng):
    x = bernoulli(rng, (100, 8, 20), 0.3)
    p = SpikeProfiler()
    p.record_step("hidden", bernoulli(rng, (100, 8, 50), 0.3))
    p.record_step("output", x)
    rep = p.report()
    counts = x.sum(axis=0)
    assert rep.layer_stats["output"].spike_count_range == (counts.min(), counts.max())
    assert rep.layer_stats["hidden"].spike_count_range is None


def test_memory_stays_flat_as_steps_grow(rng):
    x = bernoulli(rng, (32, 500), 0.2)
    v = rng.standard_normal((32, 500)).astype(np.float32)
    p = SpikeProfiler(raster_window=64)

    def run(steps):
        for _ in range(steps):
            p.record_step("h", x, voltages=v, gradients=v)

    run(100)
    tracemalloc.start()
    run(100)
    after_100, _ = tracemalloc.get_traced_memory()
    run(2000)
    after_2100, _ = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert after_2100 - after_100 < 20_000  # bytes: nothing per step is kept


def test_raster_window_keeps_the_latest_frames_of_the_first_sample(rng):
    p = SpikeProfiler(raster_window=10)
    seqs = [bernoulli(rng, (4, 3, 6), 0.5) for _ in range(4)]  # (time, batch, neurons)
    for s in seqs:
        p.record_step("h", s)
    snap = p.raster("h")
    expected = np.concatenate([s[:, 0] for s in seqs])[-10:] != 0
    np.testing.assert_array_equal(snap.spikes, expected)
    np.testing.assert_array_equal(snap.steps, [1, 1, 2, 2, 2, 2, 3, 3, 3, 3])


def test_version_grows_with_every_change_and_only_then(rng):
    p = SpikeProfiler()
    seen = [p.version]
    for act in (lambda: p.record_step("h", np.ones((2, 3))),
                lambda: p.record_loss(1.0),
                lambda: p.next_epoch(),
                lambda: p.declare_layer("h", graded=True),
                lambda: p.record_gradients("h", np.ones((2, 3))),
                lambda: setattr(p, "thresholds", {"dead_rate": 0.02}),
                lambda: p.reset()):
        act()
        seen.append(p.version)
    assert seen == sorted(set(seen))  # strictly increasing
    p.report()
    p.raster("h") if "h" in p.layers else None
    assert p.version == seen[-1]  # reading changes nothing
