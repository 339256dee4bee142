// A threshold sweep in the browser (spikewidget/payload.py: sweep_message). Each candidate
// neuron threshold carries the statistics of one forward pass over the sweep's batch, in
// the same per-layer arrays as a recorded epoch, so the ported rules (rules.js) judge it
// under the rule sliders on screen, with no kernel round trip.

import { decodeArray } from "../model/codec.js";
import { applyChunk, createStore } from "../model/store.js";
import { buildReport } from "./report.js";

/**
 * How far apart thresholds `a` and `b` are on `scale` (spikewidget/sweep/scale.py:
 * distance): by ratio on "log", by difference on "linear" (potentials, at or below 0).
 */
export function thresholdDistance(a, b, scale = "log") {
  return scale === "linear" ? Math.abs(a - b) : Math.abs(Math.log(a / b));
}

/** Whether `value` can be matched to a grid point of a sweep on `scale` (as SweepResult.accepts). */
export function acceptsThreshold(value, scale = "log") {
  return typeof value === "number" && Number.isFinite(value) && (scale === "linear" || value > 0);
}

/**
 * The grid index whose threshold is nearest `value` on the sweep's `scale` ("log" by
 * ratio, "linear" by difference; as SweepResult.row).
 */
export function nearestIndex(grid, value, scale = "log") {
  let best = 0;
  let dist = Infinity;
  for (let i = 0; i < grid.length; i++) {
    const d = thresholdDistance(grid[i], value, scale);
    if (d < dist) {
      dist = d;
      best = i;
    }
  }
  return best;
}

/** Grid indices {lo, hi} of the recommended interval [a, b] (null when there is none). */
export function recommendedBand(grid, recommended) {
  if (!recommended) return null;
  const [a, b] = recommended;
  let lo = -1;
  let hi = -1;
  for (let i = 0; i < grid.length; i++) {
    if (grid[i] >= a && grid[i] <= b) {
      if (lo < 0) lo = i;
      hi = i;
    }
  }
  return lo < 0 ? null : { lo, hi };
}

/** The verdict of a predicted report, as spikewidget/sweep.py's _row gives it. */
export function verdictOf(report) {
  const cats = new Set(report.findings.map((p) => p.category));
  const outputs = report.layers.filter((l) => l.countRange);
  const counts = outputs.length ? outputs[outputs.length - 1].countRange : null;
  if (cats.has("non_binary_spikes")) return "non-binary";
  if (cats.has("output_overflow") || cats.has("non_finite_values")) return "overflow";
  if (cats.has("silent_network") || (counts !== null && counts[1] === 0)) return "silent";
  if (report.findings.some((p) => p.category === "dead_neurons" && p.severity === "critical")) {
    return "too sparse";
  }
  return "ok";
}

/**
 * Decode a sweep message: {key, swept, grid, scale, best, recommended, band, candidates...}.
 * A message without `scale` (an older page) is a log-scale sweep.
 */
export function decodeSweep(msg) {
  const grid = Array.from(decodeArray(msg.grid));
  const scale = msg.scale === "linear" ? "linear" : "log";
  const candidates = msg.candidates.map((c) => {
    const store = createStore();
    store.meta = msg.meta;
    store.layers = msg.layers;
    store.epochs = [0];
    applyChunk(store, { epoch: 0, layers: c.layers, fixed: c.fixed || [] });
    return { threshold: c.threshold, verdict: c.verdict, refined: Boolean(c.refined),
      where: c.where || `sweep batch, threshold ${showThreshold(c.threshold)}`, store };
  });
  return {
    key: msg.key, swept: msg.swept, original: msg.original, grid, scale, best: msg.best,
    recommended: msg.recommended, reason: msg.reason, note: msg.note, layers: msg.layers,
    candidates, band: recommendedBand(grid, msg.recommended),
    bestIndex: msg.best === null || msg.best === undefined ? null
      : nearestIndex(grid, msg.best, scale),
  };
}

/**
 * What the network does on the sweep's batch at grid point `i`, judged under rule
 * thresholds `th`: {threshold, layers, findings, verdict}. Findings carry no epoch (the
 * sweep is one batch, not an epoch of training).
 */
export function predict(sweep, i, th) {
  const cand = sweep.candidates[i];
  const rep = buildReport(cand.store, 0, th);
  const findings = rep.findings.map((p) => (p.step === null || p.step === undefined
    ? { ...p, epoch: null } : p));
  const out = { threshold: cand.threshold, layers: rep.layers, findings };
  out.verdict = verdictOf(out);
  return out;
}

/** Short text for a threshold. */
export function showThreshold(v) {
  return String(Number(v.toPrecision(3)));
}
