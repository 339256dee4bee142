"""ProfilerWidget on the Python side: what it sends, what it syncs back, how it updates."""

from __future__ import annotations

import math
import time

import numpy as np
import pytest

pytest.importorskip("anywidget")

from spikewidget import SpikeProfiler, Thresholds
from spikewidget.core.errors import InvalidInputError
from spikewidget.present.export import render_html, widget_state
from spikewidget.present.payload import (
    ORDER_CONSTRAINTS,
    PayloadBuilder,
    decode_array,
    encode_array,
    encode_counts,
    message_bytes,
    to_jsonable,
)
from spikewidget.present.widget import ProfilerWidget

RNG = np.random.default_rng(0)


def record(p: SpikeProfiler, steps: int = 3, n: int = 100, rate: float = 0.1,
           layers: tuple[str, ...] = ("hidden", "output")) -> None:
    for _ in range(steps):
        for name in layers:
            p.record_step(name, (RNG.random((5, 2, n)) < rate).astype(np.float32))
        p.record_loss(2.3, n_classes=10)


@pytest.fixture
def profiler() -> SpikeProfiler:
    p = SpikeProfiler(raster_window=32)
    record(p)
    p.next_epoch()
    record(p, rate=0.002)
    return p


def buffers(msg) -> list[memoryview]:
    out = []

    def walk(v):
        if isinstance(v, dict):
            for x in v.values():
                walk(x)
        elif isinstance(v, list):
            for x in v:
                walk(x)
        elif isinstance(v, memoryview):
            out.append(v)

    walk(msg)
    return out


# ------------------------------------------------------------------- the codec
def test_arrays_round_trip_through_the_codec():
    for a in (np.arange(5, dtype=np.float64), np.array([[1, 2], [3, 4]], np.int32),
              np.array([True, False, True])):
        enc = encode_array(a)
        assert isinstance(enc["data"], memoryview)
        back = decode_array(enc)
        np.testing.assert_array_equal(back, a.astype(back.dtype))
        np.testing.assert_array_equal(decode_array(to_jsonable(enc)), back)


def test_spike_counts_travel_in_the_smallest_exact_dtype():
    assert encode_counts(np.array([0.0, 255.0]))["dtype"] == "uint8"
    assert encode_counts(np.array([0.0, 256.0]))["dtype"] == "uint16"
    assert encode_counts(np.array([0.0, 70000.0]))["dtype"] == "uint32"
    assert encode_counts(np.array([0.5, 1.0]))["dtype"] == "float64"  # graded spikes
    assert encode_counts(np.array([-1.0, 1.0]))["dtype"] == "float64"
    assert encode_counts(np.array([math.nan, 1.0]))["dtype"] == "float64"


def test_per_neuron_data_is_binary_never_json_lists(profiler):
    w = ProfilerWidget(profiler, interval=None)
    msg = w._base
    assert len(buffers(msg)) >= 3
    for chunk in msg["chunks"]:
        for layer in chunk["layers"]:
            assert isinstance(layer["counts"]["data"], memoryview)
    # the JSON part is small: per-neuron numbers are all in buffers (the meta, slider
    # specs and palette, is sent once and does not grow with the layers)
    assert message_bytes({**msg, "meta": {}}) - sum(b.nbytes for b in buffers(msg)) < 6000


# ----------------------------------------------------------- the base message
def test_base_message_carries_every_epoch_layer_and_raster(profiler):
    msg = PayloadBuilder(profiler).full()
    assert msg["base"] and msg["epochs"] == [0, 1]
    assert [lay["name"] for lay in msg["layers"]] == ["hidden", "output"]
    assert {c["epoch"] for c in msg["chunks"]} == {0, 1}
    rep = profiler.report(epoch=1)
    counts = decode_array(msg["chunks"][1]["layers"][0]["counts"])
    np.testing.assert_array_equal(counts, rep.layer_stats["hidden"].per_neuron_spikes)
    assert {r["layer"] for r in msg["raster"]} == {0, 1}
    bits = decode_array(msg["raster"][0]["bits"])
    snap = profiler.raster("hidden")
    np.testing.assert_array_equal(
        np.unpackbits(bits, axis=1, bitorder="little")[:, :100], snap.spikes)


def test_an_update_sends_only_what_changed(profiler):
    b = PayloadBuilder(profiler)
    b.full()
    assert b.update(["hidden"]) is None  # nothing recorded since
    record(profiler, steps=1)
    msg = b.update(["hidden"])
    assert msg["prev"] == msg["seq"] - 1
    assert [c["epoch"] for c in msg["chunks"]] == [1]  # not the closed epoch 0
    assert [r["layer"] for r in msg["raster"]] == [0]  # the shown layer only
    assert decode_array(msg["raster"][0]["steps"]).tolist() == [6] * 5  # the new frames
    assert not msg["raster"][0]["reset"]


def test_a_new_epoch_sends_the_closing_epoch_once_more_and_the_new_one(profiler):
    b = PayloadBuilder(profiler)
    b.full()
    record(profiler, steps=1)  # more into epoch 1 ...
    profiler.next_epoch()
    record(profiler, steps=1)  # ... then epoch 2
    msg = b.update()
    assert [c["epoch"] for c in msg["chunks"]] == [1, 2]
    assert msg["epochs"] == [0, 1, 2]


def test_a_new_layer_is_announced(profiler):
    b = PayloadBuilder(profiler)
    b.full()
    record(profiler, steps=1, layers=("late",))
    msg = b.update()
    assert [lay["name"] for lay in msg["layers"]] == ["hidden", "output", "late"]


def test_a_reset_profiler_gets_a_new_base(profiler):
    b = PayloadBuilder(profiler)
    b.full()
    profiler.reset()
    record(profiler, steps=1, layers=("other",))
    msg = b.update()
    assert msg["base"] and [lay["name"] for lay in msg["layers"]] == ["other"]


def test_live_update_costs_a_few_bytes_per_neuron():
    p = SpikeProfiler(raster_window=64)
    names = [f"layer{i}" for i in range(10)]
    for name in names:
        p.record_step(name, (RNG.random((25, 8, 10_000)) < 0.05).astype(np.float32))
    b = PayloadBuilder(p)
    b.full()
    for name in names:
        p.record_step(name, (RNG.random((25, 8, 10_000)) < 0.05).astype(np.float32))
    msg = b.update([names[0]])
    per_neuron = message_bytes(msg) / 100_000
    assert 1 <= per_neuron < 6, per_neuron  # every count is in it, as 1-4 bytes


def test_message_bytes_counts_buffers_and_json():
    msg = {"a": encode_array(np.zeros(250, np.float32)), "b": [1, 2]}
    assert message_bytes(msg) == 1000 + len(
        '{"a": {"dtype": "float32", "shape": [250], "data": null}, "b": [1, 2]}')


# ------------------------------------------------------------ the widget object
def test_thresholds_from_the_browser_come_back_as_a_thresholds(profiler):
    w = ProfilerWidget(profiler, interval=None)
    assert w.thresholds == profiler.thresholds
    w.threshold_values = {**w.threshold_values, "dead_rate": 0.2}  # as a slider move does
    assert w.thresholds.dead_rate == 0.2
    assert w.report().thresholds.dead_rate == 0.2
    w.thresholds = {"saturated_rate": 0.5}
    assert w.threshold_values["saturated_rate"] == 0.5 and w.thresholds.dead_rate == 0.2
    with pytest.raises(InvalidInputError):
        w.thresholds = {"dead_rate": 0.9, "saturated_rate": 0.5}


def test_report_is_the_shown_epoch_under_the_sliders(profiler):
    w = ProfilerWidget(profiler, interval=None, thresholds={"dead_rate": 0.05})
    assert w.live and w.shown_epoch == 1
    assert w.report().epochs == (1,)
    w.live, w.epoch = False, 0
    assert w.report().epochs == (0,)
    assert [p.category for p in w.report().pathologies] == [
        p.category for p in profiler.report(thresholds={"dead_rate": 0.05}, epoch=0).pathologies]
    w.epoch = 7  # not recorded: the nearest recorded one, as the browser shows
    assert w.shown_epoch == 1


def test_widget_of_an_empty_profiler_waits_for_data():
    p = SpikeProfiler()
    w = ProfilerWidget(p, interval=None)
    assert w.shown_epoch is None and w.layer == ""
    assert w.report().pathologies == []
    record(p, steps=1)
    assert w.refresh()
    assert [lay["name"] for lay in w._update["layers"]] == ["hidden", "output"]


def test_picking_a_layer_sends_its_raster(profiler):
    w = ProfilerWidget(profiler, interval=None)
    record(profiler, steps=1)
    w.refresh()
    w.layer = "output"  # the browser's layer picker
    assert [r["layer"] for r in w._update["raster"]] == [1]


def test_the_background_thread_throttles_updates(profiler):
    w = ProfilerWidget(profiler, interval=0.05)
    w.start()
    try:
        t0 = time.perf_counter()
        while time.perf_counter() - t0 < 0.5:
            record(profiler, steps=1, n=100)
            time.sleep(0.002)
        elapsed = time.perf_counter() - t0
        time.sleep(0.15)
        assert w.last_error is None
        assert 2 <= w.updates_sent <= elapsed / 0.05 + 2
        assert w._update["epochs"] == profiler.epochs
    finally:
        w.close()
    assert not w._thread.is_alive()


def test_a_browser_that_missed_an_update_gets_a_new_base(profiler):
    w = ProfilerWidget(profiler, interval=None)
    seq = w._base["seq"]
    w._on_msg(w, {"type": "resync", "seq": -1}, [])
    assert w._base["seq"] > seq and w._base["base"]


def test_slider_order_constraints_are_the_ones_thresholds_enforces():
    for low, high, strict in ORDER_CONSTRAINTS:
        t = Thresholds()
        hi = getattr(t, high)
        with pytest.raises(InvalidInputError):
            t.replace(**{low: hi * 1.01})
        if strict:
            with pytest.raises(InvalidInputError):
                t.replace(**{low: hi})
        else:
            assert getattr(t.replace(**{low: hi}), low) == hi


def test_profiler_widget_and_to_html_delegate(profiler, tmp_path):
    w = profiler.widget(interval=None)
    assert isinstance(w, ProfilerWidget) and w.profiler is profiler
    out = tmp_path / "p.html"
    profiler.to_html(out)
    assert out.stat().st_size > 10_000


# ---------------------------------------------------------------- static export
def test_static_html_is_self_contained_and_escapes_user_text(tmp_path):
    p = SpikeProfiler()
    record(p, steps=2, layers=("</script><img src=x onerror=alert(1)>",))
    w = ProfilerWidget(p, interval=None)
    page = w.to_html(tmp_path / "r.html").read_text()
    assert "SpikeWidget.mount" in page
    assert "<img src=x" not in page  # the name is inside JSON, with < escaped
    assert "http://" not in page and "https://" not in page  # nothing fetched
    state = widget_state(w)
    assert state["_base"]["layers"][0]["name"].startswith("</script>")
    assert render_html(state, title="<b>t</b>").count("<b>") == 0
