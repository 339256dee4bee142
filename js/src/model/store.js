// The browser's copy of what the profiler recorded, built from the messages of
// spikewidget/payload.py: a base message replaces everything, an update patches it.
// One store per model (not per view), so every view of a widget shows the same data.

import { decodeArray } from "./codec.js";
import { applyEpochRaster, applyRaster } from "./frames.js";

/** An empty store: no meta until the first base message. */
export function createStore() {
  return {
    seq: -1,
    meta: null,
    layers: [], // [{name, n_neurons, shape}]
    epochs: [],
    chunks: new Map(), // epoch -> {layers: [entry | undefined], fixed: [finding]}
    loss: { nClasses: null, chance: null, epochs: new Int32Array(0),
      means: new Float64Array(0), counts: new Float64Array(0), maxes: new Float64Array(0),
      nonfinite: new Float64Array(0), recent: new Float64Array(0),
      recentEpochs: new Int32Array(0) },
    raster: [], // per layer: {n, rowBytes, bits, steps, epochs, frames, neurons, n_neurons}
    epochRaster: [], // per layer: Map epoch -> its kept frames (frames.js applyEpochRaster)
    version: 0, // bumped on every change (caches key on it)
  };
}

/** Firing rates as Python computes them: spike_sum / max(n_obs, 1), in float64. */
function ratesOf(counts, nObs) {
  const d = Math.max(nObs, 1);
  const out = new Float64Array(counts.length);
  for (let i = 0; i < counts.length; i++) out[i] = counts[i] / d;
  return out;
}

function decodeScalars(enc, fields) {
  const arr = decodeArray(enc);
  const out = {};
  fields.forEach((name, i) => { out[name] = arr[i]; });
  return out;
}

/** Decode one chunk (an epoch, or a sweep candidate) into `store.chunks`. */
export function applyChunk(store, chunk) {
  const fields = store.meta.scalar_fields;
  const layers = [];
  for (const l of chunk.layers) {
    const counts = decodeArray(l.counts);
    const s = decodeScalars(l.scalars, fields);
    const activeSamples = l.activity ? decodeArray(l.activity) : null;
    const activity = activeSamples ? ratesOf(activeSamples, s.count_samples) : null;
    const timeStd = l.time_std ? decodeArray(l.time_std) : null;
    // the layers feeding it, by name (null: unknown)
    const fedBy = Array.isArray(l.fed_by) ? l.fed_by.filter((f) => typeof f === "string") : null;
    const fullness = l.fullness ? decodeArray(l.fullness) : null;
    layers[l.index] = { index: l.index, role: l.role, graded: l.graded, counts, s,
      rates: ratesOf(counts, s.n_obs), activity, activeSamples, timeStd, fedBy, fullness };
  }
  store.chunks.set(chunk.epoch, { layers, fixed: chunk.fixed || [] });
}

function applyLoss(store, loss) {
  store.loss = {
    nClasses: loss.n_classes,
    chance: loss.chance,
    epochs: decodeArray(loss.epochs),
    means: decodeArray(loss.means),
    counts: loss.counts ? decodeArray(loss.counts) : new Float64Array(0),
    maxes: loss.maxes ? decodeArray(loss.maxes) : new Float64Array(0),
    nonfinite: loss.nonfinite ? decodeArray(loss.nonfinite) : new Float64Array(0),
    recent: decodeArray(loss.recent),
    recentEpochs: loss.recent_epochs ? decodeArray(loss.recent_epochs) : new Int32Array(0),
  };
}

/**
 * Apply one message. Returns "applied", "stale" (already included) or "gap" (an update
 * was missed: applied as far as possible; the caller should ask Python for a base).
 */
export function applyMessage(store, msg) {
  if (!msg || msg.seq === undefined) return "stale";
  if (!msg.base && msg.seq <= store.seq) return "stale";
  const gap = !msg.base && msg.prev !== store.seq;
  if (msg.base) {
    const fresh = createStore();
    Object.assign(store, fresh, { version: store.version });
    store.meta = msg.meta;
  }
  if (!store.meta) return "gap"; // an update before any base: nothing to patch
  if (msg.layers) store.layers = msg.layers;
  if (msg.epochs) store.epochs = msg.epochs;
  for (const c of msg.chunks || []) applyChunk(store, c);
  if (msg.loss) applyLoss(store, msg.loss);
  for (const r of msg.raster || []) applyRaster(store, r);
  for (const r of msg.epoch_raster || []) applyEpochRaster(store, r);
  store.seq = msg.seq;
  store.version += 1;
  return gap ? "gap" : "applied";
}
