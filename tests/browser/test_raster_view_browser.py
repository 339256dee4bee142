"""The raster view in headless Chromium: scrubbing to an epoch that left the window
shows its kept frames, frames keep their true width, axes are drawn, the caption says
what is on screen, and a sampled layer names its real neuron indices."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("playwright")
pytest.importorskip("anywidget")

from spikewidget import SpikeProfiler
from spikewidget.present.export import widget_state
from spikewidget.present.widget import ProfilerWidget, bundle_path
from spikewidget.state.raster import EPOCH_FRAMES
from tests.widget_harness import browser_context, have_chromium, open_harness, screenshot

pytestmark = pytest.mark.skipif(not have_chromium(),
                                reason="no /usr/bin/chromium (run `make browser`)")


@pytest.fixture(scope="module")
def ctx():
    bundle_path()
    with browser_context() as context:
        from tests.widget_harness import serve_harness

        serve_harness(context)
        yield context


def canvas_pixels(page) -> dict:
    """The raster canvas as rows of (r, g, b), with its plot origin and frame width."""
    return page.evaluate("""() => { const c = document.querySelector('.sw-raster');
        const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
        const rows = []; for (let y = 0; y < c.height; y++) { const row = [];
          for (let x = 0; x < c.width; x++) { const o = (y * c.width + x) * 4;
            row.push([d[o], d[o + 1], d[o + 2]]); } rows.push(row); }
        return {rows, x0: +c.dataset.plotX, y0: +c.dataset.plotY,
                framePx: +c.dataset.framePx, frames: +c.dataset.frames}; }""")


def scrub(page, epoch: int) -> None:
    page.locator(".sw-scrub").fill(str(epoch))
    page.wait_for_function(
        f"document.querySelector('.sw-root').dataset.epoch === '{epoch}'")


def test_scrubbing_to_an_epoch_gone_from_the_window_draws_its_kept_frames(ctx):
    rng = np.random.default_rng(5)
    p = SpikeProfiler(raster_window=16)
    for epoch in range(4):
        for _ in range(10):
            rate = 0.5 if epoch == 0 else 0.02  # epoch 0 was busy, later ones quiet
            p.record_step("h", (rng.random((5, 2, 40)) < rate).astype(np.float32),
                          epoch=epoch)
    assert set(p.raster("h").epochs) == {3}  # epoch 0 is long gone from the window
    page = open_harness(ctx, widget_state(ProfilerWidget(p, interval=None, layer="h")))
    scrub(page, 0)
    caption = page.locator(".sw-raster + .sw-caption").text_content()
    want = p.raster("h", epoch=0)
    assert "No frames" not in caption
    assert f"{EPOCH_FRAMES} frames" in caption and "epoch 0" in caption
    assert "kept per epoch" in caption
    drawn = page.evaluate("document.querySelector('.sw-root').swStats.rasterSpikes")
    assert drawn == int(want.spikes.sum()) > 0
    screenshot(page, "raster-old-epoch.png")
    scrub(page, 3)  # the window's own frames of the newest epoch
    assert page.evaluate("document.querySelector('.sw-root').swStats.rasterSpikes") == \
        int(p.raster("h", epoch=3).spikes.sum())
    assert page.errors == []


def test_few_frames_keep_their_true_width_and_the_caption_says_so(ctx):
    p = SpikeProfiler()
    x = np.zeros((3, 1, 8), np.float32)  # (time, batch, neurons): frames 0 and 2 spike
    x[0] = x[2] = 1
    p.record_step("h", x)
    page = open_harness(ctx, widget_state(ProfilerWidget(p, interval=None, layer="h")))
    px = canvas_pixels(page)
    bg = px["rows"][0][-1]
    x0, y0, w = px["x0"], px["y0"], px["framePx"]
    assert px["frames"] == 3 and w >= 1
    row = px["rows"][y0 + 1]
    painted = [x for x in range(x0, len(row)) if row[x] != bg]
    # frame 0 and frame 2 each w pixels wide, frame 1 empty; nothing right of frame 2
    assert painted == [*range(x0, x0 + w), *range(x0 + 2 * w, x0 + 3 * w)]
    assert 3 * w < (len(row) - x0) / 4  # three frames do not fill the plot
    dpr = page.evaluate("window.devicePixelRatio")
    caption = page.locator(".sw-raster + .sw-caption").text_content()
    assert f"1 frame = {w / dpr:g} px" in caption and "3 frames" in caption
    assert "per pixel" not in caption  # nothing is binned
    # axes: tick labels left of the plot and below it
    left = [r[:x0 - 4] for r in px["rows"]]
    below = px["rows"][y0 + 8 * w + 4:]
    assert any(c != bg for r in left for c in r)
    assert any(c != bg for r in below for c in r)
    assert page.errors == []


def test_a_sampled_layer_says_so_and_hover_names_real_neuron_indices(ctx):
    rng = np.random.default_rng(2)
    p = SpikeProfiler()
    for _ in range(3):
        p.record_step("big", (rng.random((20, 1, 20_000)) < 0.1).astype(np.float32))
    page = open_harness(ctx, widget_state(ProfilerWidget(p, interval=None, layer="big")))
    caption = page.locator(".sw-raster + .sw-caption").text_content()
    assert "1,024 neurons" in caption or "1024 neurons" in caption
    assert "evenly spaced sample of 20000" in caption
    box = page.locator(".sw-raster").bounding_box()
    px = canvas_pixels(page)
    dpr = page.evaluate("window.devicePixelRatio")
    # the plot's bottom row: the last kept neurons, near the layer's end
    page.mouse.move(box["x"] + px["x0"] / dpr + 2,
                    box["y"] + px["y0"] / dpr + 218 - 30 - 6 - 1)
    tip = page.locator(".sw-tip")
    tip.wait_for(state="visible")
    neuron = int(tip.get_attribute("data-neuron"))
    kept = p.raster("big").neurons
    assert neuron in set(kept.tolist()) and neuron > 19_800  # not the column, 1,020
    assert f"neuron {neuron}" in tip.text_content()


def test_an_epoch_whose_statistics_were_dropped_says_so(ctx):
    rng = np.random.default_rng(8)
    p = SpikeProfiler(raster_window=8, max_epochs=2)
    for epoch in range(4):
        for _ in range(3):
            p.record_step("h", (rng.random((4, 2, 30)) < 0.3).astype(np.float32),
                          epoch=epoch)
    assert p.dropped_epochs == [0, 1]
    page = open_harness(ctx, widget_state(ProfilerWidget(p, interval=None, layer="h")))
    scrub(page, 0)
    caption = page.locator(".sw-raster + .sw-caption").text_content()
    assert "Epoch 0's layer statistics were dropped (max_epochs=2" in caption
    assert page.evaluate("document.querySelector('.sw-root').swStats.rasterSpikes") == \
        int(p.raster("h", epoch=0).spikes.sum()) > 0  # its frames are still shown
    scrub(page, 3)
    assert "dropped" not in page.locator(".sw-raster + .sw-caption").text_content()
