// Per-layer bars: the dead / healthy / saturated shares of every layer, side by side,
// each share also written out in text (colour is never the only cue).

import { clear, h, pct } from "./dom.js";

/** Re-draw the bars of `layers` (from report.js layerViews) into `el`. */
export function renderBars(el, layers) {
  clear(el);
  if (layers.length === 0) {
    el.appendChild(h("div", "sw-empty", "No layer recorded in this epoch."));
    return;
  }
  for (const l of layers) {
    const dead = l.deadCount / l.n;
    const sat = l.satCount / l.n;
    const ok = 1 - dead - sat;
    const bar = h("div", "sw-bar");
    for (const [cls, share, label] of [["sw-dead", dead, "dead"], ["sw-healthy", ok, "healthy"],
      ["sw-saturated", sat, "saturated"]]) {
      const seg = h("div", `sw-seg ${cls}`);
      seg.style.width = `${(share * 100).toFixed(3)}%`;
      seg.title = `${label}: ${pct(share)}`;
      seg.dataset.share = String(share);
      bar.appendChild(seg);
    }
    const row = h("div", "sw-bar-row",
      null,
      h("div", "sw-bar-name", l.name),
      bar,
      h("div", "sw-bar-text", `${pct(dead)} dead · ${pct(ok)} healthy · ${pct(sat)} saturated`));
    row.dataset.layer = l.name;
    row.title = `${l.name}: ${l.n} neurons`;
    el.appendChild(row);
  }
}
