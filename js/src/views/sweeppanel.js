// The threshold-sweep panel: a neuron-threshold slider that snaps to the sweep's grid
// (a range over grid indices), the recommended interval as a band under it *and* as text,
// and the bars, histogram and pathology table predicted at the chosen threshold.

import { showThreshold } from "../diagnose/sweep.js";
import { renderBars } from "./bars.js";
import { h } from "./dom.js";
import { drawHistogram, histogramOf } from "./histogram.js";
import { classLegend } from "./legend.js";
import { renderTable } from "./table.js";

/** Two thresholds as text, with as many digits as tell them apart (never "19.9 to 19.9"). */
function showPair(a, b) {
  for (let d = 3; d < 10; d++) {
    const sa = String(Number(a.toPrecision(d)));
    const sb = String(Number(b.toPrecision(d)));
    if (sa !== sb || a === b) return [sa, sb];
  }
  return [String(a), String(b)];
}

/**
 * Build the panel of `sweep` (sweep.js decodeSweep) at grid index `index`.
 * onInput(i) fires on every move, onCommit(i) when a move ends.
 * Returns {el, index, set(i), render(pred, colours, layerName, th)}.
 */
export function createSweepPanel(sweep, index, { onInput, onCommit }) {
  const k = sweep.grid.length;
  const who = sweep.swept.join(" + ");
  const id = `sw-sweep-${Math.random().toString(36).slice(2, 8)}`;
  const range = h("input", "sw-sweep-range");
  Object.assign(range, { type: "range", min: "0", max: String(Math.max(0, k - 1)), step: "1",
    id, value: String(index) });
  range.dataset.key = sweep.key;
  range.disabled = k < 2;
  const label = h("label", "sw-slider-label", `Neuron threshold of ${who}`);
  label.htmlFor = id;
  // the grid's spacing, as the sweep chose it: a potential at or below 0 is linear
  label.title = sweep.scale === "linear"
    ? "Grid points evenly spaced (linear scale: the threshold is a membrane potential)"
    : "Grid points log-spaced (each a constant factor above the last)";
  range.dataset.scale = sweep.scale;
  const value = h("span", "sw-sweep-value", "");
  const band = h("div", "sw-sweep-band");
  const track = h("div", "sw-sweep-track", null, range, h("div", "sw-sweep-band-row", null, band));
  const ends = h("div", "sw-sweep-ends", null, h("span", null, showThreshold(sweep.grid[0])),
    h("span", null, showThreshold(sweep.grid[k - 1])));
  const rec = h("div", "sw-sweep-rec", "");
  if (sweep.band) {
    const { lo, hi } = sweep.band;
    const span = Math.max(1, k - 1);
    const left = Math.max(0, (lo - 0.5) / span);
    const right = Math.min(1, (hi + 0.5) / span);
    band.style.left = `${left * 100}%`;
    band.style.width = `${Math.max(0.01, right - left) * 100}%`;
    band.dataset.lo = String(lo);
    band.dataset.hi = String(hi);
    const [a, b] = showPair(...sweep.recommended);
    band.title = `recommended: ${a} to ${b}`;
    rec.textContent = `Recommended interval (band under the slider): ${a} to ${b}` + (sweep.best !== null ? `, best ${showThreshold(sweep.best)}` : "") +
      ` \u00B7 the current threshold was ${showThreshold(sweep.original)}`;
  } else {
    band.hidden = true;
    rec.textContent = `No recommended interval in this sweep \u00B7 the current threshold was ` +
      `${showThreshold(sweep.original)}`;
  }
  const reason = h("div", "sw-caption sw-sweep-reason", sweep.reason);
  const note = h("div", "sw-caption sw-sweep-note", sweep.note);
  const title = h("h4", "sw-pred-title", "");
  const bars = h("div", "sw-bars sw-pred-bars");
  const hist = h("canvas", "sw-canvas sw-pred-hist");
  const histTitle = h("h4", null, "");
  const histCaption = h("div", "sw-caption", "");
  const barsPanel = h("div", "sw-panel", null, h("h4", null, "Neuron classes per layer (predicted)"),
    classLegend(), bars);
  const histPanel = h("div", "sw-panel", null, histTitle, hist, classLegend(), histCaption);
  const table = h("div", "sw-table-wrap sw-pred-table");
  const tableTitle = h("div", "sw-pred-table-title", "Pathologies (predicted)");
  const el = h("div", "sw-panel sw-wide sw-sweep", null,
    h("h4", null, `Threshold sweep of ${who}`),
    h("div", "sw-sweep-control", null, label, h("div", "sw-sweep-slider", null, track, ends), value),
    rec, reason, note, title,
    h("div", "sw-pred-grid", null, barsPanel, histPanel),
    tableTitle, table);
  el.dataset.key = sweep.key;
  el.dataset.scale = sweep.scale;

  const panel = {
    el, index, range,
    set(i) {
      panel.index = Math.min(k - 1, Math.max(0, Math.round(Number(i)) || 0));
      range.value = String(panel.index);
    },
    /** Draw prediction `pred` (sweep.js predict) of the layer named `layerName`. */
    render(pred, colours, layerName, th, current = null) {
      const i = panel.index;
      const inBand = sweep.band && i >= sweep.band.lo && i <= sweep.band.hi;
      const t = showThreshold(pred.threshold);
      value.textContent = `${t} \u00B7 ${pred.verdict}` +
        (inBand ? " \u00B7 in the recommended interval" : "") +
        (i === sweep.bestIndex ? " (best)" : "") +
        (sweep.candidates[i].refined ? " \u00B7 added to locate an edge of the interval" : "");
      el.dataset.threshold = String(pred.threshold);
      el.dataset.index = String(i);
      el.dataset.verdict = pred.verdict;
      title.textContent = `Predicted at threshold ${t} (${who}; this batch, no retraining)`;
      renderBars(bars, pred.layers);
      // the layer picked above if it is swept (beside its current histogram), else the
      // first swept layer: the input does not change with a neuron threshold
      const pickName = sweep.swept.includes(layerName) ? layerName : sweep.swept[0];
      const lv = pred.layers.find((l) => l.name === pickName) || pred.layers[0];
      const w = Math.max(200, Math.floor(histPanel.clientWidth - 14) || 420);
      if (lv) {
        drawHistogram(hist, histogramOf(lv.rates), th, colours, w, 180);
        histTitle.textContent = `Firing rates (predicted) \u2014 ${lv.name}`;
        const now = current && current.layers.find((l) => l.name === lv.name);
        histCaption.textContent = `${lv.n} neurons: ${lv.deadCount} dead, ${lv.satCount} ` +
          "saturated" + (now ? ` (now: ${now.deadCount} dead, ${now.satCount} saturated)` : "");
        hist.dataset.layer = lv.name;
      } else {
        drawHistogram(hist, histogramOf([]), th, colours, w, 180);
        histCaption.textContent = "No layer recorded in this sweep.";
      }
      // "Where": the sweep's batch at this threshold (and the step, when one is known)
      const where = sweep.candidates[i].where;
      renderTable(table, pred.findings.map((p) => ({ ...p,
        where: p.step === null || p.step === undefined ? where : `${where}, step ${p.step}` })));
      tableTitle.textContent = `Pathologies (predicted): ${pred.findings.length}` +
        (current ? ` · now: ${current.findings.length}` : "");
    },
  };
  range.addEventListener("input", () => { panel.set(range.value); onInput(panel.index); });
  range.addEventListener("change", () => { panel.set(range.value); onCommit(panel.index); });
  return panel;
}
