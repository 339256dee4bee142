"""save/load and to_bytes/from_bytes reproduce everything; damaged files fail clearly."""

from __future__ import annotations

import json
import math
import zipfile

import numpy as np
import pytest

from spikewidget import ProfileFormatError, SpikeProfiler
from tests.conftest import bernoulli, fingerprint


@pytest.fixture
def rich(rng) -> SpikeProfiler:
    p = SpikeProfiler(thresholds={"dead_rate": 0.02}, raster_window=32)
    p.declare_layer("frames", role="input")
    for epoch in range(3):
        for _ in range(4):
            p.record_step("frames", rng.poisson(2, (10, 4, 30)).astype(np.float32))
            v = 1e4 + 1e-3 * rng.standard_normal((10, 4, 50))
            g = rng.standard_normal((10, 4, 50))
            if epoch == 1:
                g[0, 0, 0] = np.nan
            p.record_step("hidden", bernoulli(rng, (10, 4, 50), 0.1 * (epoch + 1)),
                          voltages=v, gradients=g)
            p.record_step("output", bernoulli(rng, (10, 4, 5), 0.5))
            p.record_loss(3.0 - 0.1 * epoch, n_classes=20)
        p.next_epoch()
    p.record_loss(float("inf"))
    return p


def test_save_and_load_round_trip_every_statistic_exactly(rich, tmp_path):
    path = tmp_path / "run.npz"
    rich.save(path)
    loaded = SpikeProfiler.load(path)
    assert fingerprint(loaded) == fingerprint(rich)
    assert loaded.thresholds == rich.thresholds
    assert loaded.report().summary() == rich.report().summary()
    a, b = rich.report().layer_stats["hidden"], loaded.report().layer_stats["hidden"]
    assert a.voltage_std == b.voltage_std and not math.isnan(b.voltage_std)
    assert [f.category for f in loaded.report().pathologies] == \
        [f.category for f in rich.report().pathologies]


def test_bytes_round_trip_and_recording_continues(rich, rng):
    copy = SpikeProfiler.from_bytes(rich.to_bytes())
    assert fingerprint(copy) == fingerprint(rich)
    x = bernoulli(rng, (10, 4, 50), 0.3)
    copy.record_step("hidden", x)
    rich.record_step("hidden", x)
    assert fingerprint(copy) == fingerprint(rich)


def test_an_empty_profiler_round_trips(tmp_path):
    p = SpikeProfiler()
    p.save(tmp_path / "empty.npz")
    q = SpikeProfiler.load(tmp_path / "empty.npz")
    assert q.layers == [] and q.report().pathologies == []


def test_saving_writes_exactly_the_named_file_and_no_pickle(rich, tmp_path):
    path = tmp_path / "profile.swp"  # no .npz appended behind the user's back
    rich.save(path)
    assert sorted(f.name for f in tmp_path.iterdir()) == ["profile.swp"]
    with np.load(path, allow_pickle=False) as data:
        assert all(data[k].dtype != object for k in data.files)


def test_a_truncated_file_gives_a_clear_error(rich, tmp_path):
    path = tmp_path / "run.npz"
    rich.save(path)
    raw = path.read_bytes()
    for cut in (10, len(raw) // 2, len(raw) - 30):
        path.write_bytes(raw[:cut])
        with pytest.raises(ProfileFormatError, match="run.npz"):
            SpikeProfiler.load(path)


def test_corrupted_bytes_give_a_clear_error(rich, tmp_path):
    path = tmp_path / "run.npz"
    rich.save(path)
    raw = bytearray(path.read_bytes())
    for i in range(200, len(raw) - 200, 97):
        raw[i] ^= 0xFF
    path.write_bytes(bytes(raw))
    with pytest.raises(ProfileFormatError):
        SpikeProfiler.load(path)


def test_foreign_files_give_a_clear_error(tmp_path):
    other = tmp_path / "other.npz"
    np.savez(other, weights=np.zeros(3))
    with pytest.raises(ProfileFormatError, match="not a spikewidget profile"):
        SpikeProfiler.load(other)
    text = tmp_path / "notes.txt"
    text.write_text("hello")
    with pytest.raises(ProfileFormatError, match="notes.txt"):
        SpikeProfiler.load(text)
    with pytest.raises(ProfileFormatError):
        SpikeProfiler.from_bytes(b"")
    with pytest.raises(FileNotFoundError):
        SpikeProfiler.load(tmp_path / "missing.npz")


def test_a_newer_format_version_is_refused_by_name(rich, tmp_path):
    path = tmp_path / "run.npz"
    rich.save(path)
    with np.load(path) as data:
        arrays = {k: data[k] for k in data.files}
    meta = json.loads(arrays["meta"].tobytes())
    meta["version"] = 99
    arrays["meta"] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
    np.savez(path, **arrays)
    with pytest.raises(ProfileFormatError, match="version 99"):
        SpikeProfiler.load(path)


def test_a_missing_array_is_reported_not_crashed(rich, tmp_path):
    path = tmp_path / "run.npz"
    rich.save(path)
    with zipfile.ZipFile(path) as z:
        kept = {n: z.read(n) for n in z.namelist() if "spike_sum" not in n}
    with zipfile.ZipFile(path, "w") as z:
        for n, b in kept.items():
            z.writestr(n, b)
    with pytest.raises(ProfileFormatError, match="run.npz"):
        SpikeProfiler.load(path)


def test_a_version_1_file_loads_with_the_newer_statistics_unknown(rich, tmp_path):
    from spikewidget.state.fields import missing_in

    new_in_v2 = missing_in(1)  # every field added after version 1
    path = tmp_path / "v1.npz"
    rich.save(path)
    with np.load(path) as data:
        arrays = {k: data[k] for k in data.files
                  if not any(k.endswith(f"_{vec}") for vec in new_in_v2)}
    meta = json.loads(arrays["meta"].tobytes())
    meta["version"] = 1
    for layer in meta["layers"]:
        for ep in layer["epochs"]:
            for name in new_in_v2:
                ep.pop(name, None)
    arrays["meta"] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
    np.savez(path, **arrays)
    old = SpikeProfiler.load(path)
    a, b = old.report(), rich.report()
    hidden = a.layer_stats["hidden"]
    assert math.isnan(hidden.mean_isi) and math.isnan(hidden.voltage_min)
    assert np.all(np.isnan(hidden.voltage_time_std)) and hidden.isi_counts.sum() == 0
    np.testing.assert_array_equal(hidden.firing_rates, b.layer_stats["hidden"].firing_rates)
    assert hidden.voltage_std == b.layer_stats["hidden"].voltage_std
    old.record_step("hidden", np.ones((3, 2, 50), np.float32))  # recording continues
    assert old.report().layer_stats["hidden"].isi_counts.sum() == 2 * 2 * 50


def test_the_newer_statistics_round_trip(rich, tmp_path):
    rich.declare_layer("hidden", fan_out=20)
    back = SpikeProfiler.from_bytes(rich.to_bytes())
    for e in rich.epochs:
        a, b = rich.report(epoch=e).layer_stats, back.report(epoch=e).layer_stats
        for name in a:
            for field in ("mean_isi", "cv_isi", "voltage_min", "voltage_max", "fan_out",
                          "estimated_syn_ops"):
                assert getattr(a[name], field) == pytest.approx(getattr(b[name], field),
                                                                abs=0, nan_ok=True)
            np.testing.assert_array_equal(a[name].isi_counts, b[name].isi_counts)
            np.testing.assert_array_equal(a[name].voltage_time_std, b[name].voltage_time_std)
    assert back.report().layer_stats["hidden"].estimated_syn_ops == \
        rich.report().layer_stats["hidden"].total_spikes * 20


def test_graded_and_analog_layers_keep_their_kind_and_spike_events(rng, tmp_path):
    """Spikes of 0.005 (graded) and an analog output saved and loaded: the same
    rates (events, not values), the same kinds, the same findings; recording
    continues into the loaded epoch's events."""
    p = SpikeProfiler()
    p.declare_layer("graded", graded=True)
    p.declare_layer("analog", graded="analog")
    for _ in range(3):
        p.record_step("graded", bernoulli(rng, (10, 4, 20), 0.2) * 0.005)
        p.record_step("analog", np.abs(rng.standard_normal((10, 4, 20))).astype(np.float32))
        p.record_step("binary", bernoulli(rng, (10, 4, 20), 0.2))
    path = tmp_path / "graded.npz"
    p.save(path)
    loaded = SpikeProfiler.load(path)
    assert fingerprint(loaded) == fingerprint(p)
    assert loaded.report().summary() == p.report().summary()
    before, after = p.report().layer_stats, loaded.report().layer_stats
    assert (after["graded"].graded, after["analog"].graded) == (True, "analog")
    assert 0.15 < float(after["graded"].firing_rates.mean()) < 0.25
    assert after["analog"].saturated_neuron_count == 0
    np.testing.assert_array_equal(after["graded"].per_neuron_spikes,
                                  before["graded"].per_neuron_spikes)
    with np.load(path) as data:  # only the layers with other values than 0/1 hold events
        held = sorted(k for k in data.files if k.endswith("_spike_events"))
    assert held == ["layer0_epoch0_spike_events", "layer1_epoch0_spike_events"]
    x = bernoulli(rng, (10, 4, 20), 0.2) * 0.005
    loaded.record_step("graded", x)
    p.record_step("graded", x)
    assert fingerprint(loaded) == fingerprint(p)
