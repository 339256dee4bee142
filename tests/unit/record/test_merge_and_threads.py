"""Profilers merge into the profiler that saw everything; threads can read while one records."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from spikewidget import InvalidInputError, SpikeProfiler
from tests.conftest import bernoulli


def record(p: SpikeProfiler, batches) -> None:
    for epoch, x, v, g, loss in batches:
        p.record_step("hidden", x, voltages=v, gradients=g, epoch=epoch)
        p.record_step("output", x[..., :5], epoch=epoch)
        p.record_loss(loss, n_classes=5, epoch=epoch)


def make_batches(rng, n, rate):
    return [(i // 3, bernoulli(rng, (6, 4, 30), rate), 5 + rng.standard_normal((6, 4, 30)),
             rng.standard_normal((6, 4, 30)), 1.0 + rng.random()) for i in range(n)]


def test_merging_two_profilers_equals_one_that_saw_all_the_data(rng):
    a_data, b_data = make_batches(rng, 7, 0.2), make_batches(rng, 5, 0.6)
    a, b, both = SpikeProfiler(), SpikeProfiler(), SpikeProfiler()
    record(a, a_data)
    record(b, b_data)
    record(both, a_data + b_data)
    a.merge(b)
    for e in both.epochs:
        x, y = a.report(epoch=e), both.report(epoch=e)
        for name in ("hidden", "output"):
            sa, sb = x.layer_stats[name], y.layer_stats[name]
            np.testing.assert_allclose(sa.firing_rates, sb.firing_rates, rtol=1e-12)
            assert sa.n_observations == sb.n_observations
            assert sa.max_value == sb.max_value
            assert sa.spike_count_range == sb.spike_count_range
            assert sa.voltage_mean == pytest.approx(sb.voltage_mean, rel=1e-12, nan_ok=True)
            assert sa.voltage_std == pytest.approx(sb.voltage_std, rel=1e-9, nan_ok=True)
            assert sa.gradient_norm_mean == pytest.approx(sb.gradient_norm_mean, rel=1e-12,
                                                          nan_ok=True)
        assert x.loss.mean == pytest.approx(y.loss.mean, rel=1e-12, nan_ok=True)
        assert x.loss.count == y.loss.count


def test_merge_refuses_mismatched_layers_and_changes_nothing(rng):
    a, b = SpikeProfiler(), SpikeProfiler()
    a.record_step("hidden", np.zeros((2, 10)))
    b.record_step("hidden", np.zeros((2, 11)))
    before = a.report().layer_stats["hidden"].n_steps
    with pytest.raises(InvalidInputError, match="'hidden'"):
        a.merge(b)
    assert a.report().layer_stats["hidden"].n_steps == before


def test_reports_from_another_thread_while_training_records(rng):
    p = SpikeProfiler(raster_window=64)
    x = bernoulli(rng, (32, 400), 0.25)
    v = rng.standard_normal((32, 400))
    stop = threading.Event()
    errors: list[BaseException] = []
    steps = 3000

    def train():
        try:
            for i in range(steps):
                p.record_step("hidden", x, voltages=v, gradients=v)
                p.record_step("output", x[:, :10])
                if i % 500 == 499:
                    p.next_epoch()
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            stop.set()

    seen = []
    t = threading.Thread(target=train)
    t.start()
    while not stop.is_set():
        rep = p.report()
        if "hidden" in rep.layer_stats:
            st = rep.layer_stats["hidden"]
            # a torn read would mix counts from different steps
            assert st.n_observations == 32 * st.n_steps
            expected = x.astype(np.float64).mean()
            assert st.firing_rates.mean() == pytest.approx(expected, rel=1e-9)
            seen.append(st.n_steps)
        p.raster("hidden") if "hidden" in p.layers else None
    t.join()
    assert not errors
    assert len(seen) > 3 and seen == sorted(seen)
    assert p.report().layer_stats["hidden"].n_steps == steps


def test_threads_recording_the_same_layer_lose_no_step(rng):
    p = SpikeProfiler()
    xs = [bernoulli(rng, (16, 50), 0.3) for _ in range(4)]

    def worker(x):
        for _ in range(300):
            p.record_step("shared", x, voltages=x, gradients=x)

    threads = [threading.Thread(target=worker, args=(x,)) for x in xs]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    st = p.report().layer_stats["shared"]
    assert st.n_steps == 1200 and st.gradient_steps == 1200
    expected = sum(x.astype(np.float64).sum(axis=0) for x in xs) * 300 / (1200 * 16)
    np.testing.assert_allclose(st.firing_rates, expected, rtol=1e-12)
    assert p.raster("shared").steps[-1] == 1199


def test_a_layer_created_by_two_threads_at_once_keeps_one_shape():
    errors: list[BaseException] = []
    for _ in range(20):
        p = SpikeProfiler()
        barrier = threading.Barrier(2)

        def worker(n, p=p, barrier=barrier):
            barrier.wait()
            try:
                p.record_step("new", np.zeros((4, n)))
            except InvalidInputError as exc:
                errors.append(exc)

        ts = [threading.Thread(target=worker, args=(n,)) for n in (10, 11)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        st = p.report().layer_stats["new"]
        assert st.n_steps == 1 and st.n_neurons in (10, 11)
    assert len(errors) == 20 and all("'new'" in str(e) for e in errors)
