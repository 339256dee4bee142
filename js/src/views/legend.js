// Legends in HTML beside the canvases (never drawn over the data): the neuron classes as
// colour keys, and a line key per plotted series.

import { h } from "./dom.js";

/** Colour keys of the dead, healthy and saturated classes (and an input's activity). */
export function classLegend(withInput = false) {
  const item = (cls, text) => h("span", null, null, h("span", `sw-key ${cls}`), h("span", null, text));
  return h("div", "sw-legend", null, item("sw-dead", "dead"), item("sw-healthy", "healthy"),
    item("sw-saturated", "saturated"), withInput ? item("sw-active", "input: fired") : null);
}

/** A legend entry drawn as a short line (solid or dashed) in `colour` (CSS). */
export function lineKey(text, colour, dashed = false) {
  const key = h("span", `sw-line-key${dashed ? " sw-dashed" : ""}`);
  key.style.borderTopColor = colour;
  return h("span", "sw-legend-item", null, key, h("span", null, text));
}
