"""The widget as a person sees it, in headless Chromium: colours, words, layout and axes.

Pixel checks read canvas colours and sizes; layout checks read DOM bounding boxes, in a
narrow (470 px), a wide (1000 px) and a dark (JupyterLab's dark variables) page. Every
colour is compared with spikewidget/palette.py, the one source of the widget's colours.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

pytest.importorskip("playwright")
pytest.importorskip("anywidget")

from spikewidget import SpikeProfiler
from spikewidget.diagnose.thresholds import Thresholds
from spikewidget.present.export import widget_state
from spikewidget.present.palette import CLASS, LAYER, SEVERITY
from spikewidget.present.payload import PayloadBuilder, to_jsonable
from spikewidget.present.widget import ProfilerWidget, bundle_path, default_layer
from tests.browser.test_widget_browser import open_thresholds, story_profiler
from tests.widget_harness import (
    browser_context,
    have_chromium,
    open_harness,
    push,
    serve_harness,
)

pytestmark = pytest.mark.skipif(not have_chromium(),
                                reason="no /usr/bin/chromium (run `make browser`)")

ROOT = "document.querySelector('.sw-root')"
DARK = """() => { const s = document.body.style;
    s.setProperty('--jp-layout-color0', '#111111');
    s.setProperty('--jp-ui-font-color1', '#eeeeee');
    s.setProperty('--jp-layout-color2', '#2a2a2a');
    s.setProperty('--jp-ui-font-color2', '#aaaaaa');
    s.setProperty('--jp-border-color2', '#444444');
    document.body.dataset.jpThemeLight = 'false'; }"""


def rgb(hex_colour: str) -> list[int]:
    return [int(hex_colour[i:i + 2], 16) for i in (1, 3, 5)]


def css_rgb(hex_colour: str) -> str:
    return "rgb({}, {}, {})".format(*rgb(hex_colour))


@pytest.fixture(scope="module")
def ctx():
    bundle_path()
    with browser_context() as context:
        serve_harness(context)
        yield context


@pytest.fixture
def profiler() -> SpikeProfiler:
    return story_profiler()


def show(ctx, p: SpikeProfiler, width: int = 1000, **kwargs):
    page = open_harness(ctx, widget_state(ProfilerWidget(p, interval=None, **kwargs)))
    if width != 1000:
        page.evaluate(f"document.getElementById('root').style.width = '{width}px'")
    settle(page)
    return page


def settle(page) -> None:
    """Two animation frames: a ResizeObserver callback and the draw it schedules."""
    page.evaluate("() => new Promise(r => requestAnimationFrame(() => "
                  "requestAnimationFrame(() => setTimeout(r, 30))))")


def colour_counts(page, selector: str, colours: list[str], tol: int = 10) -> list[int]:
    """Per colour, how many canvas pixels are within ``tol`` of it in every channel."""
    return page.evaluate(
        """([sel, cols, tol]) => { const c = document.querySelector(sel);
        const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
        return cols.map(([r, g, b]) => { let n = 0;
          for (let i = 0; i < d.length; i += 4) {
            if (Math.abs(d[i] - r) <= tol && Math.abs(d[i + 1] - g) <= tol
                && Math.abs(d[i + 2] - b) <= tol) n++; }
          return n; }); }""", [selector, [rgb(c) for c in colours], tol])


def box(page, selector: str, nth: int = 0) -> dict:
    return page.locator(selector).nth(nth).bounding_box()


# ------------------------------------------------------------------ colours
@pytest.mark.parametrize("theme", ["light", "dark"])
def test_trend_lines_wear_layer_colours_and_bars_class_colours_in_both_themes(ctx, profiler,
                                                                            theme):
    page = show(ctx, profiler, layer="hidden")
    if theme == "dark":
        page.evaluate(DARK)
        settle(page)
    assert page.evaluate(f"{ROOT}.dataset.theme") == theme
    # three judged layers (the input has no trend line): the first three layer colours
    layer_px = colour_counts(page, ".sw-trend", LAYER[theme][:3])
    assert all(n >= 15 for n in layer_px), layer_px
    class_px = colour_counts(page, ".sw-trend", list(CLASS[theme].values()))
    assert class_px == [0, 0, 0]  # a class colour never marks a layer
    keys = page.eval_on_selector_all(".sw-trend-legend .sw-line-key",
                                     "ks => ks.map(k => getComputedStyle(k).borderTopColor)")
    assert [css_rgb(c) for c in LAYER[theme][:3]] == keys[2:]  # after "dead", "saturated"
    seg = page.evaluate("""() => Object.fromEntries(['dead', 'healthy', 'saturated'].map(c =>
        [c, getComputedStyle(document.querySelector('.sw-bars .sw-' + c)).backgroundColor]))""")
    assert seg == {k: css_rgb(v) for k, v in CLASS[theme].items()}
    badge = page.evaluate("getComputedStyle(document.querySelector('.sw-badge.sw-critical'))"
                          ".color")
    assert badge == css_rgb(SEVERITY[theme]["critical"])
    # the histogram's dead bar (rate 0) is the dead colour, its healthy bars healthy
    dead, healthy, _ = colour_counts(page, ".sw-hist", list(CLASS[theme].values()), tol=2)
    assert dead > 100 and healthy > 20


# ----------------------------------------------------------------- offline page
def test_the_offline_page_never_says_live_nor_offers_to_follow(ctx, profiler, tmp_path):
    path = ProfilerWidget(profiler, interval=None).to_html(tmp_path / "report.html")
    page = ctx.new_page()
    page.goto(path.as_uri())
    page.wait_for_selector(".sw-table")
    status = page.locator(".sw-status").text_content()
    assert "live" not in status and status.startswith("epoch 3 \u00b7")
    assert page.locator(".sw-live").count() == 0
    assert "follow newest" not in page.locator(".sw-root").inner_text()
    page.locator(".sw-scrub").fill("0")  # the scrubber still works
    page.wait_for_function(f"{ROOT}.dataset.epoch === '0'")
    assert "live" not in page.locator(".sw-status").text_content()


# --------------------------------------------------------------- input layers
def test_an_input_layer_shows_activity_never_health(ctx, profiler):
    page = show(ctx, profiler, layer="input")
    row = page.locator('.sw-bar-row[data-layer="input"]')
    assert row.locator(".sw-dead, .sw-healthy, .sw-saturated").count() == 0
    text = row.locator(".sw-bar-text").text_content()
    assert "dead" not in text and "fired" in text
    share = float(row.locator(".sw-active").get_attribute("data-share"))
    counts = profiler.report(epoch=-1).layer_stats["input"].per_neuron_spikes
    assert share == pytest.approx(float(np.mean(counts > 0)))
    assert page.locator('.sw-bar-row[data-layer="hidden"] .sw-dead').count() == 1
    # its histogram is neutral: no class colour, and the caption says what it shows
    assert colour_counts(page, ".sw-hist", list(CLASS["light"].values()), tol=2) == [0, 0, 0]
    assert "activity" in page.locator(".sw-hist-panel .sw-caption").text_content()
    assert page.locator(".sw-hist-panel .sw-legend").is_hidden()


# --------------------------------------------------------------------- status
def test_the_status_holds_the_last_epoch_while_a_new_one_begins(ctx):
    rng = np.random.default_rng(1)
    p = SpikeProfiler(raster_window=64)

    def step(hidden_rate):
        p.record_step("input", (rng.random((10, 2, 50)) < 0.3).astype(np.float32))
        p.record_step("hidden", (rng.random((10, 2, 100)) < hidden_rate).astype(np.float32))
        p.record_step("output", (rng.random((10, 2, 10)) < 0.3).astype(np.float32))

    for _ in range(3):
        step(np.r_[np.full(20, 0.2), np.zeros(80)])  # 80% dead: critical
    w = ProfilerWidget(p, interval=None)
    page = open_harness(ctx, widget_state(w))
    before = page.locator(".sw-status").text_content()
    assert "1 critical" in before
    builder = PayloadBuilder(p)
    base = builder.full()
    push(page, "_base", to_jsonable(base))
    p.next_epoch()  # the first layer of the first step of epoch 1 arrives alone
    p.record_step("input", (rng.random((10, 2, 50)) < 0.3).astype(np.float32))
    upd = builder.update()
    push(page, "_update", to_jsonable(upd))
    status = page.locator(".sw-status").text_content()
    assert "epoch 0 (epoch 1 starting)" in status and "1 critical" in status, status
    assert "0 critical" not in status and "no findings" not in status
    assert w.shown_epoch == 0  # the kernel's widget.report() is the screen's
    for _ in range(2):
        step(np.r_[np.full(20, 0.2), np.zeros(80)])
    upd = builder.update()
    push(page, "_update", to_jsonable(upd))
    status = page.locator(".sw-status").text_content()
    assert status.startswith("live \u00b7 epoch 1 \u00b7") and "1 critical" in status
    assert w.shown_epoch == 1


# ---------------------------------------------------------------- default layer
def test_the_first_layer_shown_is_the_worst_finding_else_the_first_hidden(ctx, profiler):
    worst = next(x for x in profiler.report(epoch=-1).pathologies
                 if x.severity.value == "critical")
    assert default_layer(profiler) == worst.layer != "input"
    page = show(ctx, profiler)
    assert page.locator(".sw-layer-select").input_value() == worst.layer
    assert worst.layer in page.locator(".sw-raster-panel h4").text_content()
    # a healthy network: the first hidden layer, not the input; and the browser makes the
    # same choice once data arrives in a widget that started empty
    rng = np.random.default_rng(3)
    healthy = SpikeProfiler()
    w = ProfilerWidget(healthy, interval=None)
    assert w.layer == ""
    page = open_harness(ctx, widget_state(w))
    healthy.declare_layer("pixels", role="input")
    for _ in range(4):
        healthy.record_step("pixels", (rng.random((10, 2, 40)) < 0.3).astype(np.float32))
        healthy.record_step("lif1", (rng.random((10, 2, 60)) < 0.2).astype(np.float32))
        healthy.record_step("lif2", (rng.random((10, 2, 30)) < 0.2).astype(np.float32))
    assert healthy.report().pathologies == []
    assert default_layer(healthy) == "lif1"
    base = PayloadBuilder(healthy).full()
    push(page, "_base", to_jsonable(base))
    assert page.evaluate("model.get('layer')") == "lif1"
    assert ["layer", "lif1"] in page.evaluate("model.log.sets")  # told to Python


# ------------------------------------------------------------------ health map
def test_the_health_map_shows_each_layer_per_epoch_and_clicking_scrubs(ctx, profiler):
    page = show(ctx, profiler, layer="output")
    lay = page.evaluate("document.querySelector('.sw-health').swLayout")
    names = [r["name"] for r in lay["rows"]]
    assert names == profiler.layers and lay["epochs"] == [0, 1, 2, 3]
    row = names.index("hidden")

    def cell_colour(epoch_index: int, fy: float) -> list[int]:
        x = lay["labelW"] + (epoch_index + 0.5) * lay["cellW"] - 6  # beside the mark
        y = lay["top"] + row * lay["rowH"] + 1 + fy * (lay["rowH"] - 2)
        return page.evaluate("""([x, y]) => { const c = document.querySelector('.sw-health');
            const k = c.width / c.getBoundingClientRect().width;
            return Array.from(c.getContext('2d').getImageData(Math.floor(x * k),
                Math.floor(y * k), 1, 1).data.slice(0, 3)); }""", [x, y])

    dead_by_epoch = [s.dead_neuron_fraction for s in
                     (profiler.report(epoch=e).layer_stats["hidden"] for e in range(4))]
    assert dead_by_epoch[0] < 0.3 < 0.6 < dead_by_epoch[3]
    # the cell's bottom is dead, its top healthy, in the shares of that epoch
    assert cell_colour(3, 0.9) == rgb(CLASS["light"]["dead"])
    assert cell_colour(3, 0.1) == rgb(CLASS["light"]["healthy"])
    assert cell_colour(0, 0.5) == rgb(CLASS["light"]["healthy"])  # 22% dead: lower part
    # layer_died is marked where it first appeared (the epoch the layer died)
    box_ = box(page, ".sw-health")
    page.mouse.move(box_["x"] + lay["labelW"] + 2.5 * lay["cellW"],
                    box_["y"] + lay["top"] + (row + 0.5) * lay["rowH"])
    assert "layer_died (critical) first seen here" in page.locator(".sw-health") \
        .get_attribute("title")
    # a click shows that epoch and layer everywhere
    page.mouse.click(box_["x"] + lay["labelW"] + 1.5 * lay["cellW"],
                     box_["y"] + lay["top"] + (row + 0.5) * lay["rowH"])
    page.wait_for_function(f"{ROOT}.dataset.epoch === '1'")
    assert page.evaluate("[model.get('layer'), model.get('epoch'), model.get('live')]") \
        == ["hidden", 1, False]
    assert "hidden, epoch 1" in page.locator(".sw-hist-panel h4").text_content()


# -------------------------------------------------------------------- layout
def inside(inner: dict, outer: dict, slack: float = 1.0) -> bool:
    return (inner["x"] >= outer["x"] - slack and inner["y"] >= outer["y"] - slack
            and inner["x"] + inner["width"] <= outer["x"] + outer["width"] + slack
            and inner["y"] + inner["height"] <= outer["y"] + outer["height"] + slack)


def test_narrow_output_is_one_column_with_nothing_cut_or_overflowing(ctx, profiler):
    page = show(ctx, profiler, width=470, layer="hidden")
    root = box(page, ".sw-root")
    assert root["width"] == 470
    panels = page.locator(".sw-panel")
    xs = {round(panels.nth(i).bounding_box()["x"]) for i in range(panels.count())}
    assert len(xs) == 1  # one column
    for sel in (".sw-raster", ".sw-hist", ".sw-health", ".sw-trend", ".sw-loss"):
        canvas = box(page, sel)
        panel = page.locator(f"{sel}").locator("xpath=..").bounding_box()
        assert inside(canvas, panel), sel
        assert canvas["width"] > panel["width"] - 20, sel  # follows its panel
    open_thresholds(page)  # the sliders too, once unfolded
    overflow = page.evaluate("""() => { const r = document.querySelector('.sw-root')
        .getBoundingClientRect(); return [...document.querySelectorAll('.sw-root *')]
        .filter(e => e.getClientRects().length)
        .filter(e => e.getBoundingClientRect().right > r.right + 1)
        .map(e => e.className || e.tagName); }""")
    assert overflow == []
    clipped = page.eval_on_selector_all(
        ".sw-bar-text, .sw-table td, .sw-legend > span, .sw-caption",
        "es => es.filter(e => e.scrollWidth > e.clientWidth + 1).map(e => e.textContent)")
    assert clipped == []
    # messages read as lines, not one word per line; "Where" is written out in full
    msg_widths = page.eval_on_selector_all(".sw-msg", "es => es.map(e => e.clientWidth)")
    assert min(msg_widths) > 300
    where = page.eval_on_selector_all(".sw-since", """es => es.map(e =>
        getComputedStyle(e, '::before').content + e.textContent)""")
    assert any(w.startswith('"Where: "since epoch') for w in where), where


def test_the_tooltip_stays_in_its_panel_and_never_goes_stale(ctx, profiler):
    page = show(ctx, profiler, width=470, layer="hidden")
    r = box(page, ".sw-raster")
    page.mouse.move(r["x"] + r["width"] - 2, r["y"] + r["height"] - 2)
    tip = page.locator(".sw-tip")
    tip.wait_for(state="visible")
    assert inside(tip.bounding_box(), box(page, ".sw-raster-panel"))
    # the view changes under a still mouse (an update, another epoch): the tip goes
    page.evaluate("model.set('live', false); model.set('epoch', 3)")
    page.wait_for_function(f"{ROOT}.swStats.draws > 0 && model.get('live') === false")
    settle(page)
    assert tip.is_hidden()
    page.mouse.move(r["x"] + 5, r["y"] + 5)
    tip.wait_for(state="visible")
    page.mouse.move(r["x"] + 5, r["y"] + 5 + 2000)  # out of the widget
    assert tip.is_hidden()


def test_wide_output_is_two_columns_and_canvases_follow_a_resize(ctx, profiler):
    page = show(ctx, profiler, layer="hidden")
    assert box(page, ".sw-hist-panel")["x"] > box(page, ".sw-raster-panel")["x"] + 300
    w0 = box(page, ".sw-raster")["width"]
    page.evaluate("document.getElementById('root').style.width = '760px'")
    settle(page)  # no interaction: the ResizeObserver redraws
    w1 = box(page, ".sw-raster")["width"]
    panel = page.evaluate("(() => { const p = document.querySelector('.sw-raster-panel');"
                          " const s = getComputedStyle(p); return p.clientWidth"
                          " - parseFloat(s.paddingLeft) - parseFloat(s.paddingRight); })()")
    assert w1 < w0 and abs(w1 - panel) <= 1
    assert page.evaluate("document.querySelector('.sw-raster').width") >= w1


def test_panels_take_the_height_of_their_content(ctx, profiler):
    page = show(ctx, profiler, layer="hidden")
    for sel in (".sw-bars-panel", ".sw-health-panel", ".sw-trend-panel"):
        spare = page.evaluate(f"""(() => {{ const p = document.querySelector('{sel}');
            const kids = [...p.children].filter(c => c.getClientRects().length);
            const last = kids[kids.length - 1].getBoundingClientRect();
            return p.getBoundingClientRect().bottom - last.bottom; }})()""")
        assert spare < 12, (sel, spare)
    # one epoch: no empty trend plots, one line that says why
    one = SpikeProfiler()
    rng = np.random.default_rng(0)
    for _ in range(3):
        one.record_step("lif", (rng.random((5, 2, 30)) < 0.2).astype(np.float32))
    page = show(ctx, one)
    assert page.locator(".sw-trend").is_hidden() and page.locator(".sw-loss").is_hidden()
    assert "trends start with the second" in page.locator(".sw-trend-note").text_content()
    assert box(page, ".sw-trend-panel")["height"] < 70


# ---------------------------------------------------------------------- axes
def test_histogram_axes_have_round_ticks_and_no_label_is_cut(ctx, profiler):
    page = show(ctx, profiler, width=470, layer="hidden")
    geo = page.evaluate(f"{ROOT}.swStats.hist")
    ticks = geo["yTicks"]
    assert len(ticks) >= 3 and ticks[0] == 0
    steps = {b - a for a, b in itertools.pairwise(ticks)}
    assert len(steps) == 1 and str(steps.pop())[0] in "125"
    assert all(lab["left"] >= 0 and lab["right"] <= geo["width"] for lab in geo["xLabels"])
    assert geo["xLabels"][-1]["text"] in ("1", "10")
    # pixels: the label row's right-most column is background (nothing cut at the edge)
    edge = page.evaluate("""() => { const c = document.querySelector('.sw-hist');
        const d = c.getContext('2d').getImageData(c.width - 1, c.height - 20, 1, 20).data;
        const bg = c.getContext('2d').getImageData(0, 0, 1, 1).data;
        let n = 0; for (let i = 0; i < d.length; i += 4) if (d[i] !== bg[0]) n++; return n; }""")
    assert edge == 0


def test_legends_sit_outside_the_plots(ctx, profiler):
    page = show(ctx, profiler, layer="hidden")
    for legend, plot in ((".sw-trend-legend", ".sw-trend"), (".sw-loss-legend", ".sw-loss"),
                         (".sw-hist-panel .sw-legend", ".sw-hist")):
        lb, pb = box(page, legend), box(page, plot)
        assert lb["y"] + lb["height"] <= pb["y"] + 0.5, legend  # above, not over
    assert "chance: ln 20" in page.locator(".sw-loss-legend").text_content()


# ------------------------------------------------------------------- sliders
def test_sliders_are_folded_in_plain_words_and_mark_what_differs(ctx, profiler):
    page = show(ctx, profiler, layer="hidden")
    assert page.evaluate("document.querySelector('.sw-thresholds').open") is False
    assert page.locator(".sw-slider").first.is_hidden()
    open_thresholds(page)
    specs = Thresholds.slider_specs()
    labels = page.eval_on_selector_all(".sw-slider-label", "ls => ls.map(l => [l.textContent,"
                                       " l.title])")
    assert [x[0] for x in labels] == [s["plain"] for s in specs]
    assert all(s["rule"] in t and s["name"] in t for s, (_, t) in zip(specs, labels, strict=True))
    assert not any(":" in text for text, _ in labels)  # not "dead: firing rate below"
    assert page.locator('.sw-slider[data-changed="true"]').count() == 0
    page.locator('.sw-range[data-name="dead_rate"]').fill("1000")
    changed = page.eval_on_selector_all('.sw-slider[data-changed="true"]',
                                        "rs => rs.map(r => r.dataset.name)")
    assert changed == ["dead_rate"]
    assert "1 changed" in page.locator(".sw-thresholds summary").text_content()
    page.locator(".sw-defaults").click()
    assert page.locator('.sw-slider[data-changed="true"]').count() == 0
    assert page.evaluate("model.get('threshold_values')") == Thresholds().to_dict()


# ------------------------------------------------------------------ controls
def test_epoch_controls_never_put_twin_glyphs_or_words_together(ctx, profiler):
    page = show(ctx, profiler, layer="hidden")
    texts = page.eval_on_selector_all(".sw-epoch > *", "es => es.map(e => e.textContent)")
    glyphs = [t.strip()[:1] for t in texts if t.strip()]
    assert all(a != b for a, b in itertools.pairwise(glyphs)), texts
    label, play = box(page, ".sw-epoch-label"), box(page, ".sw-play")
    assert play["x"] - (label["x"] + label["width"]) >= 4
    empty = show(ctx, SpikeProfiler())
    assert empty.locator(".sw-epoch-label").text_content() == "none recorded"
    label, play = box(empty, ".sw-epoch-label"), box(empty, ".sw-play")
    assert play["x"] - (label["x"] + label["width"]) >= 4
    assert empty.locator(".sw-play").is_disabled() and empty.locator(".sw-next").is_disabled()
