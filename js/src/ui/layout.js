// The widget's DOM: header, controls, two columns of panels (one column when narrow), the
// pathology table, sweeps and the threshold sliders. Every element the views draw into is
// returned by name. Panels take the height of their content.

import { h } from "../views/dom.js";
import { classLegend } from "../views/legend.js";

/** Below this width (CSS px) the two columns become one. */
export const NARROW_PX = 640;

function panel(cls, title, ...children) {
  return h("div", `sw-panel ${cls}`, null, title, ...children);
}

/** Build the DOM into `root`; returns the named elements. `offline`: a static page. */
export function buildDom(root, { offline = false } = {}) {
  const d = {};
  d.title = h("span", "sw-title", "spikewidget");
  d.status = h("span", "sw-status", "");
  root.appendChild(h("div", "sw-header", null, d.title, d.status));
  d.layer = h("select", "sw-layer-select");
  d.layer.setAttribute("aria-label", "layer");
  d.prev = h("button", "sw-prev", "\u2039");
  d.next = h("button", "sw-next", "\u203A");
  d.play = h("button", "sw-play", "\u25B6 play");
  d.prev.title = "previous epoch";
  d.next.title = "next epoch";
  d.play.title = "play the epochs from the first";
  d.scrub = h("input", "sw-scrub");
  Object.assign(d.scrub, { type: "range", min: "0", max: "0", step: "1", value: "0" });
  d.scrub.setAttribute("aria-label", "epoch");
  d.epochLabel = h("span", "sw-epoch-label", "");
  d.live = h("input", "sw-live");
  d.live.type = "checkbox";
  const controls = h("div", "sw-controls", null,
    h("label", null, null, h("span", null, "Layer"), d.layer),
    h("span", "sw-epoch", null, h("span", null, "Epoch"), d.prev, d.scrub, d.next,
      d.epochLabel, d.play));
  if (!offline) {
    controls.appendChild(h("label", "sw-live-label", null, d.live,
      h("span", null, "live (follow newest)")));
  }
  root.appendChild(controls);

  d.rasterTitle = h("h4", null, "Spike raster");
  d.raster = h("canvas", "sw-canvas sw-raster");
  d.rasterCaption = h("div", "sw-caption", "");
  d.tip = h("div", "sw-tip");
  d.tip.hidden = true;
  d.rasterPanel = panel("sw-raster-panel", d.rasterTitle, d.raster, d.rasterCaption, d.tip);
  d.histTitle = h("h4", null, "Firing rates");
  d.hist = h("canvas", "sw-canvas sw-hist");
  d.histCaption = h("div", "sw-caption", "");
  d.histLegend = classLegend();
  d.histPanel = panel("sw-hist-panel", d.histTitle, d.histLegend, d.hist, d.histCaption);
  d.bars = h("div", "sw-bars");
  d.barsPanel = panel("sw-bars-panel", h("h4", null, "Neuron classes per layer"), classLegend(true),
    d.bars);
  d.health = h("canvas", "sw-canvas sw-health");
  d.healthNote = h("div", "sw-caption", "");
  d.healthPanel = panel("sw-health-panel", h("h4", null, "Layer health over epochs"),
    classLegend(true), d.health, d.healthNote);
  d.trendLegend = h("div", "sw-legend sw-trend-legend");
  d.trend = h("canvas", "sw-canvas sw-trend");
  d.lossLegend = h("div", "sw-legend sw-loss-legend");
  d.loss = h("canvas", "sw-canvas sw-loss");
  d.trendNote = h("div", "sw-caption sw-trend-note", "");
  d.trendPanel = panel("sw-trend-panel", h("h4", null, "Trends over epochs"), d.trendNote,
    d.trendLegend, d.trend, d.lossLegend, d.loss);
  d.table = h("div", "sw-table-wrap");
  d.tablePanel = panel("sw-table-panel", h("h4", null, "Pathologies"), d.table);
  d.left = h("div", "sw-col", null, d.rasterPanel, d.barsPanel, d.healthPanel);
  d.right = h("div", "sw-col", null, d.histPanel, d.trendPanel);
  root.appendChild(h("div", "sw-grid", null, d.left, d.right));
  root.appendChild(d.tablePanel);
  d.sweeps = h("div", "sw-sweeps");
  root.appendChild(d.sweeps);
  d.sliders = h("div", "sw-sliders");
  d.defaults = h("button", "sw-defaults", "reset all to defaults");
  d.thresholdsSummary = h("summary", null, ""); // its words: thresholds.js
  d.thresholds = h("details", "sw-thresholds", null, d.thresholdsSummary, d.sliders, d.defaults);
  d.thresholds.open = false;
  root.appendChild(d.thresholds);
  d.canvasPanels = [d.rasterPanel, d.histPanel, d.healthPanel, d.trendPanel];
  return d;
}

/** One column below NARROW_PX; returns whether the layout changed. */
export function fitLayout(root) {
  const w = root.clientWidth;
  if (w === 0) return false;
  const narrow = w < NARROW_PX;
  if (root.classList.contains("sw-narrow") === narrow) return false;
  root.classList.toggle("sw-narrow", narrow);
  return true;
}
