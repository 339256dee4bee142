"""The front end in headless Chromium: a fake model (level 1) and the static export (level 2).

Each test asserts on what a person would see (canvas pixels, table text) against what
Python says (``SpikeProfiler.report``), and on what the browser tells the model.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

pytest.importorskip("playwright")
pytest.importorskip("anywidget")

from spikewidget import SpikeProfiler
from spikewidget.present.export import widget_state
from spikewidget.present.payload import PayloadBuilder, to_jsonable
from spikewidget.present.widget import ProfilerWidget, bundle_path
from tests.widget_harness import (
    browser_context,
    have_chromium,
    open_harness,
    painted_pixels,
    push,
    screenshot,
    serve_harness,
)

pytestmark = pytest.mark.skipif(not have_chromium(),
                                reason="no /usr/bin/chromium (run `make browser`)")

XSS = "<img src=x onerror=window.__xss=1>"


def story_profiler(seed: int = 0) -> SpikeProfiler:
    """The debugging story in small: count input, a dying hidden layer, huge outputs."""
    rng = np.random.default_rng(seed)
    p = SpikeProfiler(raster_window=128)
    p.declare_layer("input", role="input")
    for epoch in range(4):
        if epoch:
            p.next_epoch()
        for _ in range(6):
            p.record_step("input", rng.poisson(0.4, (25, 4, 300)).astype(np.float32))
            alive = np.r_[np.full(200 - 50 * epoch, 0.08), np.zeros(50 * epoch + 56)]
            p.record_step("hidden", (rng.random((25, 4, 256)) < alive).astype(np.float32),
                          rng.normal(0, 0.3, (25, 4, 256)))
            p.record_step(XSS, (rng.random((25, 4, 64)) < 0.97).astype(np.float32))
            out = rng.poisson(1.0 + 2 * epoch, (25, 4, 20)).astype(np.float32)
            p.record_step("output", out)
            p.record_loss(math.log(20) * (1 + 0.01 * rng.standard_normal()), n_classes=20)
    return p


@pytest.fixture(scope="module")
def ctx():
    bundle_path()  # fail loudly if the front end is not built
    with browser_context() as context:
        serve_harness(context)
        yield context


@pytest.fixture
def profiler() -> SpikeProfiler:
    return story_profiler()


def table_rows(page) -> list[list[str]]:
    return page.eval_on_selector_all(
        ".sw-table tbody tr", "rows => rows.map(r => [...r.cells].map(c => c.textContent))")


def python_rows(p: SpikeProfiler, thresholds=None, epoch=-1) -> list[tuple[str, ...]]:
    rep = p.report(thresholds=thresholds, epoch=epoch)
    return [(("\u21b3 " if x.cause else "") + x.category, x.layer, x.message, x.suggestion)
            for x in rep.pathologies]


def screen_rows(page) -> list[tuple[str, ...]]:
    """(category, layer, message, fix); a finding caused by another reads "↳ category"."""
    return [(r[1], r[2], r[3], r[4]) for r in table_rows(page)]


def open_thresholds(page) -> None:
    """Unfold the threshold sliders (folded by default)."""
    page.locator(".sw-thresholds summary").click()
    page.locator('.sw-range[data-name="dead_rate"]').wait_for(state="visible")


# ---------------------------------------------------------------------- level 1
def test_widget_draws_raster_bars_histogram_trends_and_the_pythons_table(ctx, profiler):
    page = open_harness(ctx, widget_state(ProfilerWidget(profiler, interval=None,
                                                         layer="hidden")))
    assert painted_pixels(page, ".sw-raster") > 2000
    assert painted_pixels(page, ".sw-hist") > 500
    assert painted_pixels(page, ".sw-trend") > 500
    assert painted_pixels(page, ".sw-loss") > 300
    assert page.locator(".sw-bar-row").count() == 4
    assert screen_rows(page) == python_rows(profiler)
    severities = [r[0] for r in table_rows(page)]
    assert any("CRITICAL" in s for s in severities)  # severity in words, not only colour
    assert "live" in page.locator(".sw-status").text_content()
    screenshot(page, "widget-level1.png")
    assert page.errors == []


def test_user_text_is_rendered_as_text_never_html(ctx, profiler):
    page = open_harness(ctx, widget_state(ProfilerWidget(profiler, interval=None)))
    assert page.locator(".sw-root img").count() == 0
    assert page.evaluate("window.__xss") is None
    assert XSS in page.locator(".sw-bars").text_content()
    assert XSS in [o for o in page.eval_on_selector_all(
        ".sw-layer-select option", "os => os.map(o => o.textContent)")]
    assert any(r[2] == XSS for r in table_rows(page))


def test_a_slider_move_rediagnoses_in_the_browser_and_reaches_the_model(ctx, profiler):
    page = open_harness(ctx, widget_state(ProfilerWidget(profiler, interval=None)))
    before = screen_rows(page)
    open_thresholds(page)
    # dead_rate to its top (0.5): nearly every neuron is dead now
    page.locator('.sw-range[data-name="dead_rate"]').fill("1000")
    sets = page.evaluate("model.log.sets.filter(s => s[0] === 'threshold_values')")
    values = sets[-1][1]
    assert values["dead_rate"] == 0.5
    after = screen_rows(page)
    assert after != before
    assert after == python_rows(profiler, thresholds=values)
    bars = page.eval_on_selector_all(".sw-seg.sw-dead", "s => s.map(x => Number(x.dataset.share))")
    rep = profiler.report(thresholds=values, epoch=-1)
    assert bars == pytest.approx([s.dead_neuron_fraction for s in rep.layer_stats.values()
                                  if s.role != "input"])  # an input's bar is its activity
    assert page.evaluate("document.querySelector('.sw-root').swStats.lastUpdateMs") < 200


def test_constrained_sliders_never_send_thresholds_python_refuses(ctx, profiler):
    page = open_harness(ctx, widget_state(ProfilerWidget(profiler, interval=None)))
    open_thresholds(page)
    page.locator('.sw-range[data-name="saturated_rate"]').fill("0")  # 0.05
    page.locator('.sw-range[data-name="dead_rate"]').fill("1000")  # 0.5 > saturated
    w = ProfilerWidget(profiler, interval=None)
    for _, values in page.evaluate("model.log.sets"):
        if isinstance(values, dict):
            w.threshold_values = values
            assert w.thresholds.dead_rate < w.thresholds.saturated_rate  # validates


def test_a_model_update_from_python_changes_raster_and_table(ctx, profiler):
    w = ProfilerWidget(profiler, interval=None)
    page = open_harness(ctx, widget_state(w))
    caption = page.locator(".sw-caption").first.text_content()
    rows = screen_rows(page)
    profiler.next_epoch()
    rng = np.random.default_rng(5)
    for _ in range(3):
        profiler.record_step("input", rng.poisson(0.4, (25, 4, 300)).astype(np.float32))
        profiler.record_step("hidden", np.zeros((25, 4, 256), np.float32))
        profiler.record_step(XSS, np.zeros((25, 4, 64), np.float32))
        profiler.record_step("output", np.ones((25, 4, 20), np.float32))
    builder = PayloadBuilder(profiler)
    base = builder.full()
    push(page, "_base", to_jsonable(base))  # a resync
    profiler.record_step("input", rng.poisson(0.4, (25, 4, 300)).astype(np.float32))
    upd = builder.update(["input"])
    push(page, "_update", to_jsonable(upd))
    assert page.locator(".sw-caption").first.text_content() != caption
    assert screen_rows(page) != rows
    assert screen_rows(page) == python_rows(profiler)
    assert "epoch 4" in page.locator(".sw-status").text_content()
    # an update that does not follow on asks Python for everything again
    page.evaluate("m => model.push('_update', m)",
                  to_jsonable({**upd, "seq": upd["seq"] + 5, "prev": upd["seq"] + 4}))
    assert page.evaluate("model.log.sent") == [{"type": "resync", "seq": upd["seq"] + 5}]


def test_epoch_scrubber_shows_the_chosen_epoch_everywhere(ctx, profiler):
    page = open_harness(ctx, widget_state(ProfilerWidget(profiler, interval=None)))
    page.locator(".sw-scrub").fill("0")
    assert page.evaluate("model.get('live')") is False
    assert page.evaluate("model.get('epoch')") == 0
    page.wait_for_function("document.querySelector('.sw-root').dataset.epoch === '0'")
    assert screen_rows(page) == python_rows(profiler, epoch=0)
    assert "epoch 0" in page.locator(".sw-hist-panel h4").text_content()
    page.locator(".sw-live").check()
    page.wait_for_function("document.querySelector('.sw-root').dataset.epoch === '3'")
    page.locator(".sw-play").click()  # plays from the first epoch to the newest
    page.wait_for_function("document.querySelector('.sw-root').dataset.epoch === '1'",
                           timeout=5000)
    page.wait_for_function("document.querySelector('.sw-root').dataset.epoch === '3'",
                           timeout=5000)


def test_hover_names_the_neuron_its_rate_and_class(ctx, profiler):
    page = open_harness(ctx, widget_state(ProfilerWidget(profiler, interval=None,
                                                         layer="hidden")))
    box = page.locator(".sw-raster").bounding_box()
    page.mouse.move(box["x"] + box["width"] - 3, box["y"] + box["height"] - 2)
    tip = page.locator(".sw-tip")
    tip.wait_for(state="visible")
    neuron = tip.get_attribute("data-neuron")
    assert int(neuron) >= 250  # the bottom row of 256 neurons
    assert tip.get_attribute("data-cls") == "dead"  # the last neurons never fire
    assert f"neuron {neuron}" in tip.text_content() and "dead" in tip.text_content()
    page.mouse.move(box["x"] + 5, box["y"] + 1)
    page.wait_for_function("document.querySelector('.sw-tip').dataset.neuron === '0'")
    assert tip.get_attribute("data-cls") == "healthy"  # neuron 0 fires at 0.08


def test_big_layers_draw_in_density_mode_and_fast(ctx):
    p = SpikeProfiler(raster_window=400)
    rng = np.random.default_rng(2)
    for _ in range(4):
        p.record_step("big", (rng.random((100, 1, 20_000)) < 0.1).astype(np.float32))
    page = open_harness(ctx, widget_state(ProfilerWidget(p, interval=None)))
    caption = page.locator(".sw-caption").first.text_content()
    assert "density" in caption and "400 frames" in caption
    ms = page.evaluate("document.querySelector('.sw-root').swRedraw(true)")
    assert ms < 1000
    assert page.evaluate("document.querySelector('.sw-root').swStats.rasterSpikes") \
        == int(p.raster("big").spikes.sum())


def test_follows_a_dark_jupyterlab_theme(ctx, profiler):
    page = open_harness(ctx, widget_state(ProfilerWidget(profiler, interval=None,
                                                         layer="hidden")))
    light = page.evaluate("getComputedStyle(document.querySelector('.sw-root')).color")
    page.evaluate("""() => { const s = document.body.style;
        s.setProperty('--jp-layout-color0', '#111111');
        s.setProperty('--jp-ui-font-color1', '#eeeeee');
        s.setProperty('--jp-layout-color2', '#2a2a2a');
        s.setProperty('--jp-ui-font-color2', '#aaaaaa');
        s.setProperty('--jp-border-color2', '#444444');
        document.body.dataset.jpThemeLight = 'false'; }""")
    page.wait_for_timeout(100)
    dark = page.evaluate("getComputedStyle(document.querySelector('.sw-root')).color")
    assert light != dark == "rgb(238, 238, 238)"
    corner = page.evaluate("""() => { const c = document.querySelector('.sw-raster');
        return Array.from(c.getContext('2d').getImageData(0, 0, 1, 1).data); }""")
    assert corner[:3] == [17, 17, 17]
    screenshot(page, "widget-dark.png")


def test_cleanup_removes_every_listener(ctx, profiler):
    page = open_harness(ctx, widget_state(ProfilerWidget(profiler, interval=None)))
    assert page.evaluate("model.listenerCount()") > 2
    page.evaluate("cleanup()")  # the view's: only the model's session still listens
    assert page.evaluate("model.listenerCount()") == 2  # to _base and _update
    assert page.locator(".sw-root").count() == 0
    page.evaluate("endModel()")
    assert page.evaluate("model.listenerCount()") == 0


def test_a_widget_shown_twice_shares_one_store_and_closes_each_view_alone(ctx, profiler):
    page = open_harness(ctx, widget_state(ProfilerWidget(profiler, interval=None)))
    page.evaluate("() => { window.second = renderAgain(); }")
    assert page.evaluate("""() => { const [a, b] = document.querySelectorAll('.sw-root');
        return a !== b && a.swStore === b.swStore; }""")
    profiler.next_epoch()
    profiler.record_step("input", np.ones((25, 4, 300), np.float32))
    base = PayloadBuilder(profiler).full()
    push(page, "_base", to_jsonable(base))
    assert page.evaluate("document.querySelector('.sw-root').swStore.seq") == base["seq"]
    status = page.locator(".sw-status")
    assert status.nth(0).text_content() == status.nth(1).text_content()
    assert "epoch 4" in status.nth(0).text_content()
    page.evaluate("second()")  # closing one view leaves the other drawn and listening
    assert page.locator(".sw-root").count() == 1
    assert page.locator(".sw-status").text_content() == status.nth(0).text_content()
    shown = int(page.evaluate("document.querySelector('.sw-root').dataset.epoch"))
    assert screen_rows(page) == python_rows(profiler, epoch=shown) != []
    assert page.errors == []


# ---------------------------------------------------------------------- level 2
def test_static_html_opens_from_disk_offline_with_working_sliders(ctx, profiler, tmp_path):
    path = ProfilerWidget(profiler, interval=None, layer="hidden").to_html(
        tmp_path / "report.html")
    page = ctx.new_page()
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(path.as_uri())
    page.wait_for_selector(".sw-table, .sw-ok, .sw-empty")
    assert errors == []
    assert all(u.startswith(("file:", "data:")) for u in requests), requests
    assert painted_pixels(page, ".sw-raster") > 2000
    assert screen_rows(page) == python_rows(profiler)
    open_thresholds(page)
    page.locator('.sw-range[data-name="dead_rate"]').fill("1000")
    assert screen_rows(page) == python_rows(profiler, thresholds={"dead_rate": 0.5})
    page.locator(".sw-scrub").fill("1")
    page.wait_for_function("document.querySelector('.sw-root').dataset.epoch === '1'")
    assert screen_rows(page) == python_rows(profiler, thresholds={"dead_rate": 0.5}, epoch=1)
    assert page.locator("img").count() == 0
    screenshot(page, "static-export.png")


def test_an_empty_widget_says_nothing_was_recorded_and_counts_read_as_words(ctx):
    p = SpikeProfiler()
    page = open_harness(ctx, widget_state(ProfilerWidget(p, interval=None)))
    page.get_by_text("Nothing has been recorded yet.").wait_for()
    assert page.locator(".sw-ok").count() == 0  # not "no pathologies": no data at all
    p.record_step("only", np.zeros((1, 2), np.float32))  # one layer, one frame
    page = open_harness(ctx, widget_state(ProfilerWidget(p, interval=None)))
    page.wait_for_selector(".sw-table")
    status = page.locator(".sw-status").text_content()
    assert "1 layer \u00b7" in status and "1 layers" not in status
    caption = page.locator(".sw-caption").first.text_content()
    assert caption.startswith("1 frame (") and "1 frames" not in caption
