"""A threshold sweep in the widget: its payload, the synced threshold, and in Chromium the
neuron-threshold slider, the recommended band and the predicted views (fake model and the
static export). One small real sweep of the story's network is built once per module."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("anywidget")
pytest.importorskip("torch")

import torch

from spikewidget import InvalidInputError, InvalidTypeError, SpikeProfiler
from spikewidget.demo.datasets import count_frames, shd_like
from spikewidget.demo.story_model import StoryNet
from spikewidget.present.export import render_html, widget_state
from spikewidget.present.palette import CLASS
from spikewidget.present.payload import (
    FIXED_CATEGORIES,
    decode_array,
    finding_dict,
    layer_scalars,
    message_bytes,
    sweep_message,
)
from spikewidget.present.widget import ProfilerWidget
from tests.widget_harness import ROOT, browser_context, have_chromium, open_harness, serve_harness

LAYERS = ["lif1", "lif2"]
# 8 candidates that span every verdict of this batch: non-binary, ok (19 to 22), silent
GRID = [2.0, 8.0, 18.0, 19.0, 20.0, 22.0, 40.0, 120.0]
KEY = "lif1 + lif2"

needs_chromium = pytest.mark.skipif(not have_chromium(),
                                    reason="no /usr/bin/chromium (run `make browser`)")


@pytest.fixture(scope="module")
def story() -> dict:
    """The story's network on 16 SHD-like samples (20 time bins, binarised): a profiler
    that watched one forward pass at threshold 1.0, and a sweep of lif1 + lif2."""
    data = shd_like(16, seed=1)
    x = (torch.from_numpy(count_frames(data, 20)).transpose(0, 1).contiguous() > 0).float()
    prof = SpikeProfiler(raster_window=64)
    net = StoryNet(1.0)
    with torch.no_grad(), prof.watch(net, input=True):
        net(x)
    result = prof.threshold_sweep(net, x, layer=LAYERS, thresholds=GRID)
    return {"x": x, "net": net, "profiler": prof, "sweep": result}


def test_the_fixture_sweep_has_every_verdict_and_a_recommendation(story):
    verdicts = [r.verdict for r in story["sweep"].rows]
    assert {"non-binary", "ok", "silent"} <= set(verdicts)
    assert story["sweep"].recommended == (19.0, 22.0) and story["sweep"].best == 20.0


# ------------------------------------------------------------------ the payload
def test_a_sweep_travels_as_binary_arrays_one_chunk_per_candidate(story):
    result = story["sweep"]
    msg = sweep_message(result, KEY)
    assert msg["key"] == KEY and msg["swept"] == LAYERS
    np.testing.assert_array_equal(decode_array(msg["grid"]), GRID)
    assert (msg["best"], msg["recommended"]) == (20.0, [19.0, 22.0])
    names = [lay["name"] for lay in msg["layers"]]
    assert names == ["input", "lif1", "lif2"]
    assert len(msg["candidates"]) == len(GRID)
    for cand, row in zip(msg["candidates"], result.rows, strict=True):
        assert cand["threshold"] == row.threshold and cand["verdict"] == row.verdict
        assert [names[e["index"]] for e in cand["layers"]] == list(row.report.layer_stats)
        for entry in cand["layers"]:
            st = row.report.layer_stats[names[entry["index"]]]
            assert isinstance(entry["counts"]["data"], memoryview)
            np.testing.assert_array_equal(decode_array(entry["counts"]), st.per_neuron_spikes)
            np.testing.assert_array_equal(decode_array(entry["scalars"]), layer_scalars(st))
            assert (entry["activity"] is None) == (st.active_samples is None)
        assert cand["fixed"] == [finding_dict(p) for p in row.report.pathologies
                                 if p.category in FIXED_CATEGORIES]
    # per-neuron numbers are in buffers: the JSON part stays small
    json_part = message_bytes({**msg, "meta": {}, "candidates": [{**c, "layers": []}
                                                                 for c in msg["candidates"]]})
    assert json_part < 8000


# ------------------------------------------------------------ the widget object
def test_the_widget_takes_a_sweep_and_syncs_the_chosen_threshold(story):
    prof, result = story["profiler"], story["sweep"]
    w = prof.widget(interval=None, sweep=result)
    assert isinstance(w, ProfilerWidget)
    assert [m["key"] for m in w._sweeps] == [KEY] and w.sweeps == {KEY: result}
    assert w.sweep_thresholds == {KEY: 20.0} and w.sweep_threshold == 20.0  # starts at best
    w.sweep_thresholds = {KEY: 8.0}  # what the browser's slider sets
    assert w.sweep_threshold == 8.0
    assert w.sweep_row().threshold == 8.0 and w.sweep_row().verdict == "non-binary"
    w.sweep_threshold = 21.5  # from Python: snaps to the grid
    assert w.sweep_thresholds[KEY] == 22.0
    with pytest.raises(InvalidInputError):
        w.sweep_threshold = -1.0
    with pytest.raises(InvalidTypeError):
        w.show_sweep("not a sweep")
    assert w.show_sweep(result) == KEY  # the same layers: replaced, slider kept
    assert len(w._sweeps) == 1 and w.sweep_threshold == 22.0
    other = prof.threshold_sweep(story["net"], story["x"], layer="lif2", thresholds=[5.0, 50.0])
    assert w.show_sweep(other) == "lif2"
    assert [m["key"] for m in w._sweeps] == [KEY, "lif2"]
    assert w.sweep_thresholds == {KEY: 22.0, "lif2": 5.0}  # no ok row: nearest 1.0
    w2 = ProfilerWidget(prof, interval=None, sweep=[result, other])
    assert list(w2.sweeps) == [KEY, "lif2"]
    assert ProfilerWidget(prof, interval=None).sweep_threshold is None


def test_the_static_state_carries_the_sweep(story):
    w = ProfilerWidget(story["profiler"], interval=None, sweep=story["sweep"])
    state = widget_state(w)
    assert state["sweep_thresholds"] == {KEY: 20.0}
    assert "b64" in state["_sweeps"][0]["grid"]["data"]
    page = render_html(state)
    assert "Recommended threshold" in page and "<img" not in page


# ---------------------------------------------------------------- in Chromium
@pytest.fixture(scope="module")
def ctx():
    if not have_chromium():
        pytest.skip("no /usr/bin/chromium (run `make browser`)")
    pytest.importorskip("playwright")
    with browser_context() as context:
        serve_harness(context)
        yield context


def python_rows(report) -> list[tuple[str, str, str, str]]:
    """As the table shows them: a finding caused by another reads "↳ category"."""
    return [(p.severity.value, ("\u21b3 " if p.cause else "") + p.category, p.layer,
             p.message) for p in report.pathologies]


def predicted_rows(page) -> list[tuple[str, str, str, str]]:
    rows = page.eval_on_selector_all(
        ".sw-pred-table tbody tr",
        "rows => rows.map(r => [r.dataset.severity, ...[...r.cells].slice(1, 4)"
        ".map(c => c.textContent)])")
    return [tuple(r) for r in rows]


def shown(page) -> tuple[float, str]:
    panel = page.locator(".sw-sweep").first
    return float(panel.get_attribute("data-threshold")), panel.get_attribute("data-verdict")


@needs_chromium
def test_the_sweep_slider_snaps_to_the_grid_and_predicts_pythons_table(ctx, story):
    result = story["sweep"]
    w = ProfilerWidget(story["profiler"], interval=None, sweep=result)
    page = open_harness(ctx, widget_state(w))
    slider = page.locator(".sw-sweep-range")
    assert (slider.get_attribute("min"), slider.get_attribute("max")) == ("0", "7")
    assert slider.input_value() == "4" and shown(page) == (20.0, "ok")  # starts at best
    assert "in the recommended interval" in page.locator(".sw-sweep-value").text_content()
    for i, row in enumerate(result.rows):
        slider.fill(str(i))
        assert shown(page) == (row.threshold, row.verdict)
        assert predicted_rows(page) == python_rows(row.report), row.threshold
        bars = page.eval_on_selector_all(".sw-pred-bars .sw-seg.sw-dead",
                                         "s => s.map(x => Number(x.dataset.share))")
        assert bars == pytest.approx([s.dead_neuron_fraction  # inputs show activity
                                      for s in row.report.layer_stats.values()
                                      if s.role != "input"])
        sets = page.evaluate("model.log.sets.filter(s => s[0] === 'sweep_thresholds')")
        assert sets[-1][1] == {KEY: row.threshold}
    # a value between grid points snaps (the range has one step per grid point)
    slider.fill("2.6")
    assert slider.input_value() == "3" and shown(page)[0] == 19.0
    # what the browser set comes back to Python as the chosen threshold
    w.sweep_thresholds = page.evaluate("model.get('sweep_thresholds')")
    assert w.sweep_threshold == 19.0 and w.sweep_row().report is result.rows[3].report
    # set from Python: the slider follows, snapped
    page.evaluate("k => model.push('sweep_thresholds', {[k]: 39.0})", KEY)
    assert slider.input_value() == "6" and shown(page) == (40.0, "silent")
    assert page.evaluate("document.querySelector('.sw-root').swStats.lastSweepMs") < 200
    assert page.errors == []


@needs_chromium
def test_the_recommended_interval_is_a_band_and_words(ctx, story):
    page = open_harness(ctx, widget_state(
        ProfilerWidget(story["profiler"], interval=None, sweep=story["sweep"])))
    band = page.locator(".sw-sweep-band")
    assert (band.get_attribute("data-lo"), band.get_attribute("data-hi")) == ("3", "5")
    box, track = band.bounding_box(), page.locator(".sw-sweep-range").bounding_box()
    assert 0.2 * track["width"] < box["width"] < 0.6 * track["width"]
    assert box["x"] > track["x"] + 0.3 * track["width"]  # under grid points 3 to 5 of 0..7
    colour = page.evaluate(
        "getComputedStyle(document.querySelector('.sw-sweep-band')).backgroundColor")
    assert colour == "rgb({}, {}, {})".format(*(int(CLASS["light"]["healthy"][i:i + 2], 16)
                                                for i in (1, 3, 5)))  # the healthy green ...
    text = page.locator(".sw-sweep-rec").text_content()
    assert "Recommended interval" in text and "19 to 22" in text  # ... and words
    assert "best 20" in text
    assert "does not retrain" in page.locator(".sw-sweep").text_content()
    page.locator(".sw-sweep").screenshot(path=str(_screenshot_path("widget-sweep-panel.png")))
    page.locator(".sw-root").screenshot(path=str(_screenshot_path("widget-sweep.png")))


@needs_chromium
def test_a_rule_slider_rejudges_the_prediction_too(ctx, story):
    result = story["sweep"]
    page = open_harness(ctx, widget_state(
        ProfilerWidget(story["profiler"], interval=None, sweep=result)))
    before = predicted_rows(page)
    # counts per sample of up to 9 overflow once the warning starts at 1 (one batch of 16
    # samples is too few to call its quiet output neurons dead: that stays an info)
    page.locator(".sw-thresholds summary").click()  # the sliders are folded by default
    page.locator('.sw-range[data-name="output_count_warning"]').fill("0")  # 1
    values = page.evaluate("model.get('threshold_values')")
    assert values["output_count_warning"] == 1
    after = predicted_rows(page)
    assert after != before and shown(page) == (20.0, "overflow")
    # the same forward pass judged by Python under the same constants
    again = SpikeProfiler(thresholds=values).threshold_sweep(
        StoryNet(1.0), story["x"], layer=LAYERS, thresholds=[20.0])
    assert after == python_rows(again.rows[0].report)


@needs_chromium
def test_the_static_export_has_a_working_sweep_slider(ctx, story, tmp_path):
    result = story["sweep"]
    path = ProfilerWidget(story["profiler"], interval=None, sweep=result).to_html(
        tmp_path / "sweep.html")
    page = ctx.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(path.as_uri())
    page.wait_for_selector(".sw-sweep")
    assert shown(page) == (20.0, "ok")
    page.locator(".sw-sweep-range").fill("1")
    assert shown(page) == (8.0, "non-binary")
    assert predicted_rows(page) == python_rows(result.rows[1].report)
    assert page.locator(".sw-sweep-band").is_visible()
    assert errors == []


def _screenshot_path(name: str):
    out = ROOT / "build" / "screenshots"
    out.mkdir(parents=True, exist_ok=True)
    return out / name


@needs_chromium
def test_the_predicted_table_says_where_its_findings_come_from(ctx, story):
    result = story["sweep"]
    msg = sweep_message(result, KEY)
    assert [c["where"] for c in msg["candidates"]] == [r.where for r in result.rows]
    page = open_harness(ctx, widget_state(
        ProfilerWidget(story["profiler"], interval=None, sweep=result)))
    slider = page.locator(".sw-sweep-range")
    for i in (1, 4, 7):  # non-binary, ok, silent
        slider.fill(str(i))
        row = result.rows[i]
        where = page.eval_on_selector_all(".sw-pred-table td.sw-since",
                                          "cells => cells.map(c => c.textContent)")
        assert len(where) == len(row.report.pathologies)
        expected = [row.where + (f", step {p.step}" if p.step is not None else "")
                    for p in row.report.pathologies]
        assert where == expected, row.threshold
        assert row.where == f"sweep batch, threshold {row.threshold:g}"
    assert page.errors == []


@needs_chromium
def test_a_refined_sweep_marks_the_thresholds_added_at_its_edges(ctx, story):
    result = story["profiler"].threshold_sweep(story["net"], story["x"], layer=LAYERS,
                                               thresholds=[8.0, 20.0, 40.0], refine=1)
    added = [i for i, r in enumerate(result.rows) if r.refined]
    assert len(added) == 2 and len(result.rows) == 5
    page = open_harness(ctx, widget_state(
        ProfilerWidget(story["profiler"], interval=None, sweep=result)))
    slider = page.locator(".sw-sweep-range")
    assert slider.get_attribute("max") == "4"  # the slider steps through every row
    for i, row in enumerate(result.rows):
        slider.fill(str(i))
        assert shown(page) == (row.threshold, row.verdict)
        text = page.locator(".sw-sweep-value").text_content()
        assert ("added to locate an edge" in text) == row.refined
    lo, hi = result.recommended
    rec = page.locator(".sw-sweep-rec").text_content()
    assert f"{lo:.3g} to {hi:.3g}" in rec
    assert page.errors == []
