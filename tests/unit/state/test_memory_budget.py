"""Memory budgets: the raster store costs a fixed size whatever the layer's size, the
statistics a fixed size per neuron and epoch whatever the number of steps, ``to_bytes``
holds no more than the statistics again, and the loss on the device path does not
grow with the records between two reports."""

from __future__ import annotations

import math
import tracemalloc

import numpy as np
import pytest
import torch

from spikewidget import InvalidInputError, SpikeProfiler
from spikewidget.state.epoch_stats import VECTORS
from spikewidget.state.raster import (
    EPOCH_FRAMES,
    EPOCH_SNAPSHOTS,
    RASTER_NEURONS,
    RasterWindow,
    raster_bytes,
    sample_neurons,
)

FEATURE_MAP = (256, 200, 200)  # a SEW-ResNet-sized feature map: 10,240,000 neurons


def test_the_default_raster_budget_is_stated_and_small() -> None:
    assert RASTER_NEURONS == 1024 and SpikeProfiler().raster_neurons == RASTER_NEURONS
    assert raster_bytes(256) == 396 * 1024  # window, epoch snapshots, sample, objects
    assert raster_bytes(256) > (256 + EPOCH_SNAPSHOTS * EPOCH_FRAMES) * (1024 // 8 + 16)
    assert raster_bytes(0) == 0


def test_the_raster_of_a_10_million_neuron_layer_stays_in_its_budget() -> None:
    n = math.prod(FEATURE_MAP)
    rng = np.random.default_rng(0)
    frames = [rng.random((1, n), dtype=np.float32) < 0.05 for _ in range(2)]
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    store = RasterWindow(n, 256)
    for step in range(300):  # 300 steps over 100 epochs: the window and every snapshot fill
        store.push(frames[step % 2], step, step // 3)
    held = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    assert held <= raster_bytes(256)
    snap = store.snapshot()
    assert snap.spikes.shape == (256, RASTER_NEURONS)
    np.testing.assert_array_equal(snap.spikes[-1], frames[299 % 2][0, snap.neurons])
    # the sample spreads over the whole map: every channel keeps some of its neurons
    channels = np.unique(snap.neurons // (FEATURE_MAP[1] * FEATURE_MAP[2]))
    assert len(channels) == FEATURE_MAP[0]


def test_a_layer_above_the_cap_keeps_a_stable_strided_sample_on_both_backends(rng) -> None:
    n, cap = 5000, 100
    x = (rng.random((6, 2, n)) < 0.3).astype(np.float32)  # (time, batch, neurons)
    host = SpikeProfiler(raster_neurons=cap, backend="numpy")
    device = SpikeProfiler(raster_neurons=cap, backend="torch")
    for _ in range(3):
        host.record_step("h", x)
        device.record_step("h", torch.from_numpy(x))
    a, b = host.raster("h"), device.raster("h")
    np.testing.assert_array_equal(a.neurons, sample_neurons(n, cap))
    np.testing.assert_array_equal(a.neurons, b.neurons)
    assert len(np.unique(a.neurons)) == cap and a.neurons[0] == 0 and a.neurons[-1] < n
    np.testing.assert_array_equal(a.spikes, np.concatenate([x[:, 0]] * 3)[:, a.neurons] != 0)
    np.testing.assert_array_equal(a.spikes, b.spikes)
    # a layer within the cap keeps every neuron
    small = SpikeProfiler(raster_neurons=cap)
    small.record_step("s", x[..., :cap])
    np.testing.assert_array_equal(small.raster("s").neurons, np.arange(cap))


def test_profiler_memory_and_to_bytes_peak_stay_within_the_stated_budget(rng) -> None:
    shape = (64, 100, 100)  # 640,000 neurons, recorded as (batch, C, H, W)
    n = math.prod(shape)
    frames = [(rng.random((1, *shape)) < 0.05).astype(np.float32) for _ in range(2)]
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    prof = SpikeProfiler()
    for step in range(300):
        prof.record_step("conv", frames[step % 2], neuron_axes=3)
    held = tracemalloc.get_traced_memory()[0] - before
    stats = 8 * len(VECTORS) * n
    in_flight = 12 * n  # the current epoch's open sequence of one sample
    tracemalloc.reset_peak()
    at = tracemalloc.get_traced_memory()[0]
    data = prof.to_bytes()
    peak = tracemalloc.get_traced_memory()[1] - at
    tracemalloc.stop()
    assert held <= stats + in_flight + raster_bytes(256) + 256 * 1024
    assert peak <= stats  # writing a profile never holds more than the statistics again
    assert SpikeProfiler.from_bytes(data).raster("conv").spikes.shape == (256, 1024)


def test_scrubbing_to_an_old_epoch_finds_its_last_frames(rng) -> None:
    p = SpikeProfiler(raster_window=8)
    seqs = {}
    for epoch in range(5):
        for _ in range(10):
            x = (rng.random((4, 2, 30)) < 0.1 * (epoch + 1)).astype(np.float32)
            p.record_step("h", x, epoch=epoch)
            seqs.setdefault(epoch, []).append(x[:, 0] != 0)
    assert set(p.raster("h").epochs) == {4}  # the window holds the newest frames only
    for epoch in range(4):
        old = p.raster("h", epoch=epoch)
        assert set(old.epochs) == {epoch} and len(old.steps) == EPOCH_FRAMES
        np.testing.assert_array_equal(old.spikes, np.concatenate(seqs[epoch])[-EPOCH_FRAMES:])
    np.testing.assert_array_equal(p.raster("h", epoch=4).spikes,
                                  np.concatenate(seqs[4])[-EPOCH_FRAMES:])
    with pytest.raises(InvalidInputError, match="epoch must be a whole number"):
        p.raster("h", epoch=-1)


def test_only_the_newest_epochs_keep_snapshots(rng) -> None:
    p = SpikeProfiler(raster_window=4)
    for epoch in range(EPOCH_SNAPSHOTS + 3):
        p.record_step("h", np.ones((1, 8)), epoch=epoch)
    assert len(p.raster("h", epoch=2).steps) == 0
    assert len(p.raster("h", epoch=3).steps) == 1


def test_epoch_snapshots_and_samples_survive_save_merge_and_old_files(rng, tmp_path) -> None:
    p = SpikeProfiler(raster_window=4, raster_neurons=16)
    for epoch in range(3):
        for _ in range(5):
            p.record_step("h", (rng.random((3, 2, 40)) < 0.4).astype(np.float32),
                          epoch=epoch)
    q = SpikeProfiler.from_bytes(p.to_bytes())
    assert q.raster_neurons == 16
    for epoch in (None, 0, 1, 2):
        a, b = p.raster("h", epoch=epoch), q.raster("h", epoch=epoch)
        for field in ("spikes", "steps", "epochs", "neurons"):
            np.testing.assert_array_equal(getattr(a, field), getattr(b, field))
    merged = SpikeProfiler(raster_window=4, raster_neurons=16)
    merged.merge(p)
    np.testing.assert_array_equal(merged.raster("h", epoch=0).spikes,
                                  p.raster("h", epoch=0).spikes)
    # a file from before epoch snapshots: no such arrays; its window still loads and
    # gives the epochs it holds a snapshot
    import zipfile

    path = tmp_path / "old.npz"
    p.save(path)
    old = tmp_path / "older.npz"
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(old, "w") as dst:
        for item in src.infolist():
            if "epoch_raster" not in item.filename:
                dst.writestr(item, src.read(item.filename))
    r = SpikeProfiler.load(old)
    np.testing.assert_array_equal(r.raster("h").spikes, p.raster("h").spikes)
    assert len(r.raster("h", epoch=0).steps) == 0
    np.testing.assert_array_equal(r.raster("h", epoch=2).spikes, p.raster("h").spikes)


@pytest.mark.parametrize("bad", [-1, 1.5, 10**9, "many", True])
def test_raster_neurons_and_window_refuse_bad_values(bad) -> None:
    with pytest.raises(InvalidInputError, match="raster_neurons"):
        SpikeProfiler(raster_neurons=bad)
    if not isinstance(bad, str) and bad not in (-1, 1.5, True):
        with pytest.raises(InvalidInputError,
                           match="raster_window must be a whole number of time steps from 0"):
            SpikeProfiler(raster_window=bad)


def test_device_loss_memory_does_not_grow_between_reports() -> None:
    """backend='torch' keeps loss tensors pending until a report: folded on the device
    into per-epoch aggregates, they hold no host entry per record."""
    total = 44_000
    values = np.random.default_rng(3).normal(2.0, 0.5, total)
    values[[5, 4000, 9001, 30_000]] = [np.nan, np.inf, np.nan, -np.inf]
    device = SpikeProfiler(backend="torch")
    host = SpikeProfiler(backend="numpy")
    tensors = [torch.tensor(v) for v in values]

    def record(lo: int, hi: int) -> None:
        for k in range(lo, hi):
            epoch = k // 10_000
            device.record_loss(tensors[k], n_classes=10, epoch=epoch)
            host.record_loss(float(values[k]), n_classes=10, epoch=epoch)

    record(0, 4000)
    tracemalloc.start()
    at_start = tracemalloc.get_traced_memory()[0]
    record(4000, total)
    growth = tracemalloc.get_traced_memory()[0] - at_start
    tracemalloc.stop()
    # at most the records not yet folded (2,048, ~100 B each), where one entry per record
    # would be 40,000 x ~100 B = 4 MB
    assert growth < 300_000
    for epoch in (None, 0, 2, 3):
        a = device.report(epoch=epoch).loss
        b = host.report(epoch=epoch).loss
        assert (a.count, a.min, a.max, a.last) == (b.count, b.min, b.max, b.last)
        assert math.isclose(a.mean, b.mean, rel_tol=1e-12)
        assert a.epoch_extent == b.epoch_extent
        assert (a.nonfinite is None) == (b.nonfinite is None)
        if a.nonfinite is not None:
            assert (a.nonfinite.count, a.nonfinite.epoch, a.nonfinite.step) == \
                (b.nonfinite.count, b.nonfinite.epoch, b.nonfinite.step)
        np.testing.assert_array_equal(a.recent, b.recent)
        np.testing.assert_array_equal(a.recent_epochs, b.recent_epochs)


# ------------------------------------------------------------- per-epoch statistics
def record_epochs(p: SpikeProfiler, rng, epochs: range, n: int = 2000,
                  alive_until: int = 10**9) -> None:
    for epoch in epochs:
        rate = 0.2 if epoch < alive_until else 0.0
        for _ in range(2):
            p.record_step("h", (rng.random((4, 3, n)) < rate).astype(np.float32),
                          epoch=epoch)
            p.record_step("out", (rng.random((4, 3, 10)) < 0.5).astype(np.float32),
                          epoch=epoch)
        p.record_loss(1.0 + epoch, epoch=epoch)


def growth_per_epoch(p: SpikeProfiler, rng, first: int) -> float:
    """Bytes held per epoch over 10 more epochs, measured after 10 epochs of warm-up
    (so that what an epoch replaces was traced too)."""
    tracemalloc.start()
    record_epochs(p, rng, range(first, first + 10))
    before = tracemalloc.get_traced_memory()[0]
    record_epochs(p, rng, range(first + 10, first + 20))
    held = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    return held / 10


def test_each_epoch_costs_56_bytes_per_neuron_unless_max_epochs_bounds_it(rng) -> None:
    n = 2000
    assert 8 * len(VECTORS) == 56  # the figure the README and the docstrings state
    grew = growth_per_epoch(SpikeProfiler(raster_window=0), rng, 0)
    assert 56 * n <= grew <= 56 * n + 8000  # + the scalars and the other layer
    grew = growth_per_epoch(SpikeProfiler(raster_window=0, max_epochs=3), rng, 0)
    assert grew <= 4 * 1024 + 2000  # an epoch summary (2 KiB) per layer, not 112 KB


def test_max_epochs_keeps_the_newest_says_what_it_dropped_and_still_sees_a_death(rng):
    p = SpikeProfiler(max_epochs=3)
    record_epochs(p, rng, range(10), alive_until=8)  # "h" dies in epoch 8
    assert p.dropped_epochs == list(range(7))
    rep = p.report()
    assert rep.dropped_epochs == tuple(range(7)) and rep.epochs == tuple(range(10))
    assert "layer statistics of epochs 0-6 were dropped: max_epochs=3" in rep.summary()
    assert rep.layer_stats["h"].n_steps == 6  # the three kept epochs
    assert rep.loss.count == 10  # the loss keeps every epoch
    died = rep.by_category("layer_died")
    assert [p_.layer for p_ in died] == ["h"] and "dead since epoch 8" in died[0].message
    # the death is seen even when only dead epochs are kept: the summaries remember
    q = SpikeProfiler(max_epochs=2)
    record_epochs(q, rng, range(10), alive_until=5)
    assert [x.layer for x in q.report().by_category("layer_died")] == ["h"]
    assert "Alive in epoch 4" in q.report().by_category("layer_died")[0].message
    # recording into a dropped epoch is refused, and changes nothing
    before = q.report().layer_stats["h"].n_steps
    with pytest.raises(InvalidInputError, match=r"layer 'h': epoch 1 is older than the 2 "
                                                r"newest epochs kept \(max_epochs=2"):
        q.record_step("h", np.ones((3, 2000)), epoch=1)
    assert q.report().layer_stats["h"].n_steps == before
    # saved and loaded, it continues the same way
    r = SpikeProfiler.from_bytes(q.to_bytes())
    assert r.max_epochs == 2 and r.dropped_epochs == q.dropped_epochs
    assert [x.message for x in r.report().pathologies] == \
        [x.message for x in q.report().pathologies]
    record_epochs(r, rng, range(10, 11))
    assert r.dropped_epochs == list(range(9))


@pytest.mark.parametrize("bad", [0, -2, 1.5, "3", True])
def test_max_epochs_refuses_what_is_not_a_positive_whole_number(bad) -> None:
    with pytest.raises(InvalidInputError, match="max_epochs must be None"):
        SpikeProfiler(max_epochs=bad)


def test_the_widget_is_told_which_epochs_were_dropped(rng) -> None:
    from spikewidget.present.payload import PayloadBuilder

    p = SpikeProfiler(max_epochs=2)
    record_epochs(p, rng, range(3))
    builder = PayloadBuilder(p)
    base = builder.full()
    assert base["meta"]["dropped_epochs"] == [0] and base["meta"]["max_epochs"] == 2
    record_epochs(p, rng, range(3, 4))
    update = builder.update(["h"])
    assert update["base"] and update["meta"]["dropped_epochs"] == [0, 1]


def test_live_updates_send_an_epochs_frames_when_they_leave_the_window(rng) -> None:
    from spikewidget.present.payload import PayloadBuilder, decode_array

    p = SpikeProfiler(raster_window=8)
    p.record_step("h", (rng.random((4, 2, 30)) < 0.3).astype(np.float32), epoch=0)
    builder = PayloadBuilder(p)
    assert builder.full(["h"])["epoch_raster"] == []  # the window shows all of epoch 0
    for _ in range(3):
        p.record_step("h", (rng.random((4, 2, 30)) < 0.3).astype(np.float32), epoch=1)
    sent = builder.update(["h"])["epoch_raster"]
    # epoch 0 has left the window; epoch 1's 12 frames are more than the window's 8
    assert [(r["layer"], r["epoch"]) for r in sent] == [(0, 0), (0, 1)]
    want = p.raster("h", epoch=0)
    bits = decode_array(sent[0]["bits"])
    np.testing.assert_array_equal(
        np.unpackbits(bits, axis=1, count=30, bitorder="little").astype(bool), want.spikes)
    p.record_step("h", np.zeros((4, 2, 30), np.float32), epoch=1)
    again = builder.update(["h"])["epoch_raster"]
    assert [r["epoch"] for r in again] == [1]  # epoch 0 is unchanged: not sent again


def test_max_epochs_on_the_device_path_never_syncs_and_judges_as_the_host(rng) -> None:
    from tests.unit.record.test_torch_nosync import SyncSpy

    host = SpikeProfiler(max_epochs=2, backend="numpy")
    device = SpikeProfiler(max_epochs=2, backend="torch")
    spy = SyncSpy()
    for epoch in range(6):
        rate = 0.3 if epoch < 4 else 0.0  # "h" dies in epoch 4
        for _ in range(2):
            x = (rng.random((4, 3, 300)) < rate).astype(np.float32)
            host.record_step("h", x, epoch=epoch)
            with spy:
                device.record_step("h", torch.from_numpy(x), epoch=epoch)
    assert spy.calls == []  # dropping epochs 0-3 sorted their summaries on the device
    a, b = host.report(), device.report()
    assert device.dropped_epochs == host.dropped_epochs == [0, 1, 2, 3]
    assert [(p.category, p.layer, p.message) for p in a.pathologies] == \
        [(p.category, p.layer, p.message) for p in b.pathologies]
    assert any(p.category == "layer_died" for p in b.pathologies)
    c = SpikeProfiler.from_bytes(device.to_bytes())
    assert [p.message for p in c.report().pathologies] == [p.message for p in b.pathologies]


@pytest.mark.parametrize("steps, dead", [(200, 0.0), (25, 1.0)])
def test_a_dropped_epoch_judges_a_hidden_layer_as_it_did_when_kept(rng, steps, dead):
    """One spike per neuron in every sample: alive over 200 steps (per sample), dead
    over 25 (a rate of 0.04 would be alive; 1 spike in 25 steps of 1 in 8 samples is
    0.005), in a kept and in a dropped epoch alike, and after a save."""
    def record(p: SpikeProfiler) -> None:
        for epoch in range(4):
            x = np.zeros((steps, 8, 50), np.float32)
            fired = np.arange(8) == 0 if steps == 25 else np.ones(8, bool)
            x[rng.integers(0, steps, 50), :, np.arange(50)] = fired
            p.record_step("h", x, epoch=epoch)
            p.record_step("out", (rng.random((steps, 8, 4)) < 0.3).astype(np.float32),
                          epoch=epoch)

    every, few = SpikeProfiler(), SpikeProfiler(max_epochs=2)
    record(every)
    record(few)
    for p in (every, few, SpikeProfiler.from_bytes(few.to_bytes())):
        assert [h.dead_fraction for h in p.report().layer_stats["h"].per_epoch] == [dead] * 4
