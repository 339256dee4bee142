// The spike raster's panel: draws the shown layer's raster (raster.js) when what it shows
// changed, and the hover tip that names the neuron, its rate and class, and the frame.

import { spiked } from "../model/frames.js";
import { CLASS_NAMES, DEAD, classifyRate, saturationLevels } from "../diagnose/classes.js";
import { contentWidth } from "./dom.js";
import { pickCell, renderRaster, unravel } from "./raster.js";

const HEIGHT = 220; // CSS px

/**
 * The raster panel (d: layout.js elements; root: the widget, leaving it hides the tip).
 * update(frame) redraws on a full frame whose layer, epoch, data, width or colours
 * changed; invalidate() forces the next one; hideTip() hides the tip.
 */
export function createRasterView(d, { root, stats }) {
  let key = "";
  let drawn = null; // what renderRaster drew, for hover
  let shown = null; // the frame drawn last (its report and thresholds judge the hover)
  const hideTip = () => { d.tip.hidden = true; };

  const draw = ({ store, li, epoch, live, colours }) => {
    const w = contentWidth(d.rasterPanel);
    const next = [store.version, li, live ? "live" : epoch, w, colours.fg, colours.bg].join("|");
    if (next === key || w === 0) return;
    key = next;
    hideTip(); // what it described is gone
    const t0 = performance.now();
    const name = li >= 0 ? store.layers[li].name : "";
    drawn = renderRaster(d.raster, d.rasterCaption, store, li, live ? null : epoch, {
      cssW: w, cssH: HEIGHT, dpr: window.devicePixelRatio || 1, colours, layerName: name });
    stats.lastRasterMs = performance.now() - t0;
    stats.rasterSpikes = drawn.grid.spikes;
    d.rasterTitle.textContent = name ? `Spike raster \u2014 ${name}` : "Spike raster";
  };

  const onMove = (ev) => {
    const rect = d.raster.getBoundingClientRect();
    const hit = drawn && pickCell(drawn, ev.clientX - rect.left, ev.clientY - rect.top);
    if (!hit || !shown) return hideTip();
    const raster = drawn.view.raster;
    const { store, report, li, th } = shown;
    const lv = report.layers.find((l) => l.index === li);
    const rate = lv ? lv.rates[hit.index] : NaN;
    const levels = lv ? saturationLevels(lv) : null;
    // dead by its share of samples where the layer's samples were counted, as the bars
    const level = levels ? levels[hit.index] : null;
    const cls = !lv ? "not recorded this epoch"
      : lv.activity && lv.activity[hit.index] < th.dead_rate ? CLASS_NAMES[DEAD]
        : CLASS_NAMES[classifyRate(lv.activity ? Infinity : rate, th, level)];
    d.tip.textContent = `neuron ${unravel(hit.index, store.layers[li].shape)}\n` +
      `rate ${Number.isFinite(rate) ? rate.toPrecision(3) : rate} \u00B7 ${cls}\n` +
      `step ${raster.steps[hit.frame]}, epoch ${raster.epochs[hit.frame]}: ` +
      `${spiked(raster, hit.frame, hit.neuron) ? "spike" : "no spike"}`;
    d.tip.dataset.neuron = String(hit.index);
    d.tip.dataset.cls = cls;
    d.tip.hidden = false;
    // kept inside the raster's panel, never over the next one
    const pr = d.rasterPanel.getBoundingClientRect();
    const x = ev.clientX - pr.left;
    const y = ev.clientY - pr.top;
    const tw = d.tip.offsetWidth;
    const tipH = d.tip.offsetHeight;
    d.tip.style.left = `${Math.max(0, x + 12 + tw > pr.width ? x - 12 - tw : x + 12)}px`;
    d.tip.style.top = `${Math.max(0, y + 12 + tipH > pr.height ? y - 12 - tipH : y + 12)}px`;
    return undefined;
  };
  const listeners = [[d.raster, "mousemove", onMove], [d.raster, "mouseleave", hideTip],
    [root, "mouseleave", hideTip]];
  for (const [el, ev, fn] of listeners) el.addEventListener(ev, fn);

  return {
    update(frame) {
      shown = frame;
      if (frame.full) draw(frame);
    },
    invalidate() { key = ""; },
    hideTip,
    destroy() {
      for (const [el, ev, fn] of listeners) el.removeEventListener(ev, fn);
    },
  };
}
