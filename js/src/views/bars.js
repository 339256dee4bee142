// Per-layer bars: the dead / healthy / saturated shares of every layer, side by side,
// each share also written out in text (colour is never the only cue). An input layer is
// not judged by any rule, so its bar shows activity (the share of neurons that fired and
// the mean rate), in a neutral colour, never as health.

import { clear, h, pct } from "./dom.js";

function row(l, bar, text) {
  const el = h("div", "sw-bar-row", null, h("div", "sw-bar-name", l.name), bar,
    h("div", "sw-bar-text", text));
  el.dataset.layer = l.name;
  el.title = `${l.name}: ${l.n} neurons`;
  return el;
}

function healthRow(l) {
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
  return row(l, bar, `${pct(dead)} dead \u00B7 ${pct(ok)} healthy \u00B7 ${pct(sat)} saturated`);
}

function activityRow(l) {
  let fired = 0;
  let sum = 0;
  for (let i = 0; i < l.n; i++) {
    if (l.counts[i] > 0) fired++;
    if (Number.isFinite(l.rates[i])) sum += l.rates[i];
  }
  const share = fired / Math.max(1, l.n);
  const bar = h("div", "sw-bar sw-bar-activity");
  const seg = h("div", "sw-seg sw-active");
  seg.style.width = `${(share * 100).toFixed(3)}%`;
  seg.dataset.share = String(share);
  seg.title = `fired at least once: ${pct(share)}`;
  bar.appendChild(seg);
  const mean = sum / Math.max(1, l.n);
  const r = row(l, bar, `input \u00B7 ${pct(share)} fired \u00B7 mean ${
    Number(mean.toPrecision(2))} per step`);
  r.classList.add("sw-bar-input");
  r.title = `${l.name}: ${l.n} input neurons (activity; no rule judges an input's health)`;
  return r;
}

/** Re-draw the bars of `layers` (from report.js layerViews) into `el`. */
export function renderBars(el, layers) {
  clear(el);
  if (layers.length === 0) {
    el.appendChild(h("div", "sw-empty", "No layer recorded in this epoch."));
    return;
  }
  for (const l of layers) el.appendChild(l.role === "input" ? activityRow(l) : healthRow(l));
}

/** The bars panel: update(frame) draws the shown epoch's layers. */
export function createBarsView(el) {
  return { update: ({ report }) => renderBars(el, report.layers), destroy() {} };
}
