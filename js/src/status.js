// The words of the header and the epoch controls, and which epoch and layer to show.
// Pure functions of the store and the report (tested with node --test).

import { count } from "./dom.js";

const RANK = { critical: 0, warning: 1, info: 2 };

/**
 * Whether epoch `e` holds enough to be judged in live mode: every layer the epoch before
 * recorded has a step in it, or some layer has two (a layer that stopped recording does
 * not hold the view back). An epoch that has just begun (the first layers of its first
 * step) would otherwise show as "0 critical" for a moment.
 */
export function epochReady(store, e) {
  const chunk = store.chunks.get(e);
  if (!chunk) return false;
  const have = chunk.layers.filter(Boolean);
  if (have.length === 0) return false;
  const i = store.epochs.indexOf(e);
  const prev = i > 0 ? store.chunks.get(store.epochs[i - 1]) : null;
  if (!prev) return true;
  if (prev.layers.every((l, k) => !l || chunk.layers[k])) return true;
  return have.some((l) => l.s.n_steps >= 2);
}

/** The epoch live mode shows: the newest that is ready, else the newest (null if none). */
export function liveEpoch(store) {
  const eps = store.epochs;
  for (let i = eps.length - 1; i >= 0; i--) if (epochReady(store, eps[i])) return eps[i];
  return eps.length ? eps[eps.length - 1] : null;
}

/**
 * The layer to show first: the one with the worst finding of `report`, else the first
 * hidden layer, else the first that is not an input, else the first. null: no layers.
 */
export function defaultLayer(store, report) {
  const names = store.layers.map((l) => l.name);
  if (names.length === 0) return null;
  let best = null;
  for (const p of report.findings) {
    if (!names.includes(p.layer)) continue;
    if (best === null || (RANK[p.severity] ?? 9) < (RANK[best.severity] ?? 9)) best = p;
  }
  if (best) return best.layer;
  const role = (name) => report.layers.find((l) => l.name === name)?.role;
  return names.find((n) => role(n) === "hidden") || names.find((n) => role(n) !== "input")
    || names[0];
}

/**
 * The header's status line. `pending`: a newer epoch that has begun but is not shown yet
 * (live mode); `live`: say so (never in an offline page).
 */
export function statusText({ epoch, live, pending = null, layers, findings }) {
  if (epoch === null) return "waiting for the first recorded step";
  const crit = findings.filter((p) => p.severity === "critical").length;
  const warn = findings.filter((p) => p.severity === "warning").length;
  const info = findings.length - crit - warn;
  const verdict = findings.length === 0 ? "no findings"
    : [crit ? `${crit} critical` : "", warn ? count(warn, "warning") : "",
      info ? `${info} info` : ""].filter(Boolean).join(", ");
  const head = live ? `live \u00B7 epoch ${epoch}` : `epoch ${epoch}`;
  const next = pending !== null ? ` (epoch ${pending} starting)` : "";
  return `${head}${next} \u00B7 ${count(layers, "layer")} \u00B7 ${verdict}`;
}

/** The label beside the epoch scrubber: "3 (4 of 4)", or "none recorded". */
export function epochLabel(epoch, epochs) {
  if (epoch === null) return "none recorded";
  return `${epoch} (${epochs.indexOf(epoch) + 1} of ${epochs.length})`;
}
