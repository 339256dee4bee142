"""Statistics along time: inter-spike intervals, each neuron's voltage spread over
time, voltage extrema - exact on every path (host, device, watched frames), merged
and saved like every other statistic."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch

from spikewidget import SpikeProfiler
from tests.conftest import bernoulli

torch.set_num_threads(1)


def brute_intervals(x: np.ndarray) -> list[list[int]]:
    """Per neuron, every interval of every sequence of ``x`` (time, samples, n)."""
    t, m, n = x.shape
    out: list[list[int]] = [[] for _ in range(n)]
    for i in range(n):
        for b in range(m):
            times = [k for k in range(t) if np.isfinite(x[k, b, i]) and x[k, b, i] != 0]
            out[i] += [q - p for p, q in itertools.pairwise(times)]
    return out


def expected_layer_isi(per_neuron: list[list[int]]) -> tuple[float, float]:
    means = [np.mean(v) for v in per_neuron if len(v) >= 1]
    cvs = [np.std(v) / np.mean(v) for v in per_neuron if len(v) >= 2]
    return (float(np.mean(means)) if means else math.nan,
            float(np.mean(cvs)) if cvs else math.nan)


def stats(p: SpikeProfiler, layer: str = "h", **kw):
    return p.report(**kw).layer_stats[layer]


def test_intervals_are_per_neuron_per_sample_along_time(rng):
    x = bernoulli(rng, (40, 6, 30), 0.15)
    x[:, :, 0] = 0  # never fires
    x[:, :, 1] = 0
    x[7, 2, 1] = 1  # fires once: no interval
    x[:, 0, 2] = 0
    x[[3, 5], 0, 2] = 1  # fires twice in sample 0: one interval of 2
    x[4, 1, 2] = 1  # ... and once in sample 1: no interval across samples
    p = SpikeProfiler()
    p.record_step("h", x)
    st = stats(p)
    truth = brute_intervals(x)
    np.testing.assert_array_equal(st.isi_counts, [len(v) for v in truth])
    assert st.isi_counts[0] == 0 and st.isi_counts[1] == 0
    mean, cv = expected_layer_isi(truth)
    assert st.mean_isi == pytest.approx(mean, rel=1e-12)
    assert st.cv_isi == pytest.approx(cv, rel=1e-12)


def test_along_time_the_first_samples_of_a_large_batch_are_measured(rng):
    from spikewidget.state.temporal import SAMPLES

    x = bernoulli(rng, (30, 3 * SAMPLES, 20), 0.2)
    v = rng.normal(size=x.shape)
    p = SpikeProfiler()
    p.record_step("h", x, voltages=v)
    st = stats(p)
    first = x[:, :SAMPLES]
    np.testing.assert_array_equal(st.isi_counts, [len(i) for i in brute_intervals(first)])
    assert st.mean_isi == pytest.approx(expected_layer_isi(brute_intervals(first))[0])
    w = v[:, :SAMPLES]
    np.testing.assert_allclose(st.voltage_time_std, np.sqrt(
        ((w - w.mean(0)) ** 2).sum(axis=(0, 1)) / (SAMPLES * 29)), rtol=1e-10)
    assert st.per_neuron_spikes.sum() == x.sum()  # spike statistics: every sample
    assert st.voltage_max == v.max()


def test_sequences_end_with_their_record(rng):
    # two records of one spike each per neuron: no interval spans the records
    p = SpikeProfiler()
    for _ in range(2):
        x = np.zeros((5, 1, 4), np.float32)
        x[2] = 1
        p.record_step("h", x)
    st = stats(p)
    assert st.isi_counts.sum() == 0 and math.isnan(st.mean_isi) and math.isnan(st.cv_isi)


def test_graded_and_non_finite_values_count_as_spikes_only_when_finite_and_non_zero(rng):
    x = np.zeros((12, 2, 3), np.float32)
    x[[0, 4, 6], 0, 0] = [3.0, -1.0, 0.5]  # graded spikes: intervals 4, 2
    x[[1, 2, 9], 1, 1] = [1.0, np.nan, 1.0]  # NaN is no spike: interval 8
    p = SpikeProfiler()
    p.record_step("h", x)
    st = stats(p)
    np.testing.assert_array_equal(st.isi_counts, [2, 1, 0])
    assert st.mean_isi == pytest.approx((3 + 8) / 2)


def test_records_without_a_time_axis_continue_one_sequence_per_sample(rng):
    x = bernoulli(rng, (50, 4, 20), 0.2)
    v = rng.normal(size=x.shape)
    whole, stepwise = SpikeProfiler(), SpikeProfiler()
    whole.record_step("h", x, voltages=v)
    for k in range(len(x)):
        stepwise.record_step("h", x[k], voltages=v[k])
    a, b = stats(whole), stats(stepwise)
    np.testing.assert_array_equal(a.isi_counts, b.isi_counts)
    assert a.mean_isi == b.mean_isi and a.cv_isi == b.cv_isi
    np.testing.assert_allclose(a.voltage_time_std, b.voltage_time_std, rtol=1e-9)
    # one neuron, no batch axis (the tutorial's calls): one sequence
    p = SpikeProfiler()
    for k in range(30):
        p.record_step("h", np.array([k % 3 == 0, k % 5 == 0], dtype=np.int8))
    st = stats(p)
    np.testing.assert_array_equal(st.isi_counts, [9, 5])
    assert st.mean_isi == pytest.approx(4.0) and st.cv_isi == 0.0


def test_a_new_batch_size_or_epoch_starts_new_sequences():
    p = SpikeProfiler()
    p.record_step("h", np.ones((2, 3), np.float32))
    p.record_step("h", np.ones((1, 3), np.float32))  # other rows: new sequences
    p.record_step("h", np.ones((1, 3), np.float32))  # continues: one interval each
    assert stats(p).isi_counts.tolist() == [1, 1, 1]
    p.next_epoch()
    p.record_step("h", np.ones((1, 3), np.float32))  # a new epoch: new sequences
    assert stats(p, epoch=1).isi_counts.tolist() == [0, 0, 0]


def test_voltage_spread_over_time_ignores_differences_between_neurons_and_samples(rng):
    t, m, n = 30, 4, 10
    offsets = rng.normal(size=(1, m, n)) * 5  # every neuron and sample its own level
    v = np.broadcast_to(offsets, (t, m, n)).copy()
    v[:, :, :3] += 0.1 * rng.normal(size=(t, m, 3))  # three neurons move
    p = SpikeProfiler()
    for _ in range(2):
        p.record_step("h", bernoulli(rng, (t, m, n), 0.1), voltages=v)
    st = stats(p)
    assert st.voltage_std > 1  # pooled over neurons: large
    assert np.all(st.voltage_time_std[3:] == 0)
    expected = np.sqrt(((v - v.mean(axis=0)) ** 2).sum(axis=(0, 1)) * 2 / (2 * m * (t - 1)))
    np.testing.assert_allclose(st.voltage_time_std, expected, rtol=1e-10, atol=1e-13)
    assert st.voltage_min == v.min() and st.voltage_max == v.max()


def test_voltage_spread_skips_non_finite_values_and_is_unknown_without_two_steps(rng):
    v = rng.normal(size=(6, 2, 3))
    v[2, 0, 0] = np.nan
    v[:, 1, 2] = np.inf
    p = SpikeProfiler()
    p.record_step("h", np.zeros((6, 2, 3)), voltages=v)
    st = stats(p)
    finite = v[:, 0, 0][np.isfinite(v[:, 0, 0])]
    other = v[:, 1, 0]
    m2 = ((finite - finite.mean()) ** 2).sum() + ((other - other.mean()) ** 2).sum()
    assert st.voltage_time_std[0] == pytest.approx(math.sqrt(m2 / (4 + 5)))
    assert st.voltage_max == np.nanmax(np.where(np.isfinite(v), v, np.nan))
    single = SpikeProfiler()
    single.record_step("h", np.zeros((1, 4, 3)), voltages=np.ones((1, 4, 3)))
    assert np.all(np.isnan(stats(single).voltage_time_std))
    none = SpikeProfiler()
    none.record_step("h", np.zeros((4, 3)))
    st = stats(none)
    assert math.isnan(st.voltage_min) and math.isnan(st.voltage_max)


def record_mixed(p: SpikeProfiler, rng: np.random.Generator) -> None:
    for k in range(6):
        x = torch.from_numpy(bernoulli(rng, (15, 3, 40), 0.2))
        if k == 2:
            x[4, 1, 5] = float("nan")
            x[6, 0, 7] = 3.0
        v = torch.from_numpy(rng.normal(size=(15, 3, 40)) + 10)
        if k == 3:
            v[0, 0, 0] = float("inf")
        p.record_step("seq", x, voltages=v)
        for j in range(4):  # no time axis: continuing sequences
            f = torch.from_numpy(bernoulli(rng, (3, 40), 0.3))
            g = torch.from_numpy(rng.normal(size=(3, 40)).astype(np.float32))
            if k == 4 and j == 1:
                g[1, 1] = float("nan")
            p.record_step("step", f, voltages=g)
        if k == 3:
            p.next_epoch()


@pytest.mark.parametrize("layer", ["seq", "step"])
def test_device_path_matches_the_host_path(rng, layer):
    host, device = SpikeProfiler(), SpikeProfiler(backend="torch")
    seed = int(rng.integers(1 << 30))
    record_mixed(host, np.random.default_rng(seed))
    record_mixed(device, np.random.default_rng(seed))
    assert device.snapshot().layers[layer].device is not None
    for e in host.epochs:
        a, b = stats(host, layer, epoch=e), stats(device, layer, epoch=e)
        np.testing.assert_array_equal(a.isi_counts, b.isi_counts)
        assert a.mean_isi == b.mean_isi and a.cv_isi == b.cv_isi  # whole numbers: exact
        assert (a.voltage_min, a.voltage_max) == (b.voltage_min, b.voltage_max)
        np.testing.assert_allclose(a.voltage_time_std, b.voltage_time_std, rtol=1e-5)


def test_merged_epochs_and_profilers_equal_one_recording(rng):
    data = [bernoulli(rng, (20, 2, 16), 0.25) for _ in range(4)]
    volts = [rng.normal(size=(20, 2, 16)) for _ in range(4)]
    one, a, b = SpikeProfiler(), SpikeProfiler(), SpikeProfiler()
    for k, (x, v) in enumerate(zip(data, volts, strict=True)):
        one.record_step("h", x, voltages=v)
        (a if k % 2 else b).record_step("h", x, voltages=v)
    a.merge(b)
    s1, s2 = stats(one), stats(a)
    np.testing.assert_array_equal(s1.isi_counts, s2.isi_counts)
    assert s1.mean_isi == s2.mean_isi and s1.cv_isi == s2.cv_isi
    np.testing.assert_allclose(s1.voltage_time_std, s2.voltage_time_std, rtol=1e-12)
    assert (s1.voltage_min, s1.voltage_max) == (s2.voltage_min, s2.voltage_max)
    across = SpikeProfiler()
    across.record_step("h", data[0], voltages=volts[0])
    across.next_epoch()
    across.record_step("h", data[1], voltages=volts[1])
    both = SpikeProfiler()
    both.record_step("h", data[0], voltages=volts[0])
    both.record_step("h", data[1], voltages=volts[1])
    np.testing.assert_array_equal(stats(across).isi_counts, stats(both).isi_counts)
    np.testing.assert_allclose(stats(across).voltage_time_std,
                               stats(both).voltage_time_std, rtol=1e-12)


def test_memory_stays_flat_with_open_sequences(rng):
    p = SpikeProfiler()
    x = bernoulli(rng, (8, 50), 0.2)
    for _ in range(50):
        p.record_step("h", x, voltages=x)
    size = sum(a.nbytes for a in vars_of(p.snapshot().layers["h"].epochs[0]))
    for _ in range(500):
        p.record_step("h", x, voltages=x)
    assert sum(a.nbytes for a in vars_of(p.snapshot().layers["h"].epochs[0])) == size
    p.next_epoch()
    p.record_step("h", x)
    assert p.snapshot().layers["h"].epochs[0].open is None  # ended: its memory is given back


def vars_of(acc) -> list[np.ndarray]:
    arrays = [getattr(acc, f) for f in acc.__slots__ if isinstance(getattr(acc, f), np.ndarray)]
    o = acc.open
    return [*arrays, o.fold.last, o.fold._d, o.v_mean]
