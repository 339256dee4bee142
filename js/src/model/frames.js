// The raster frames the store keeps, packed one bit per neuron: the live window of the
// last raster_window steps and, per epoch, the last frames an epoch kept after it left
// the window. Which frames a view of one layer and epoch shows; one neuron's bit.
import { decodeArray } from "./codec.js";

/** Indices of the frames to show: those of `epoch`, or all when epoch is null. */
export function selectFrames(raster, epoch) {
  const out = [];
  if (!raster) return out;
  for (let k = 0; k < raster.frames; k++) {
    if (epoch === null || raster.epochs[k] === epoch) out.push(k);
  }
  return out;
}

function concat(Type, a, b) {
  const out = new Type(a.length + b.length);
  out.set(a, 0);
  out.set(b, a.length);
  return out;
}

/** Append (or replace with) packed raster frames, keeping the last `cap` frames. */
export function applyRaster(store, r) {
  const rowBytes = Math.ceil(r.n / 8);
  const bits = decodeArray(r.bits);
  const steps = decodeArray(r.steps);
  const epochs = decodeArray(r.epochs);
  let cur = store.raster[r.layer];
  if (r.reset || !cur) {
    cur = { n: r.n, rowBytes, bits: bits.slice(), steps: steps.slice(), epochs: epochs.slice() };
  } else {
    const last = cur.steps.length ? cur.steps[cur.steps.length - 1] : -Infinity;
    let from = 0;
    while (from < steps.length && steps[from] <= last) from++;
    cur = {
      n: r.n, rowBytes,
      bits: concat(Uint8Array, cur.bits, bits.subarray(from * rowBytes)),
      steps: concat(Int32Array, cur.steps, steps.subarray(from)),
      epochs: concat(Int32Array, cur.epochs, epochs.subarray(from)),
    };
  }
  cur.neurons = r.neurons ? decodeArray(r.neurons) : null; // kept neurons' flat indices
  cur.n_neurons = r.n_neurons;
  const cap = store.meta.raster_window || cur.steps.length;
  const frames = cur.steps.length;
  if (frames > cap) {
    const drop = frames - cap;
    cur.bits = cur.bits.slice(drop * rowBytes);
    cur.steps = cur.steps.slice(drop);
    cur.epochs = cur.epochs.slice(drop);
  }
  cur.frames = cur.steps.length;
  store.raster[r.layer] = cur;
}

/** Keep per-epoch raster snapshots (frames an epoch kept after leaving the window). */
export function applyEpochRaster(store, r) {
  if (!store.epochRaster) store.epochRaster = [];
  let byEpoch = store.epochRaster[r.layer];
  if (!byEpoch) byEpoch = store.epochRaster[r.layer] = new Map();
  const steps = decodeArray(r.steps);
  byEpoch.set(r.epoch, {
    n: r.n, rowBytes: Math.ceil(r.n / 8), bits: decodeArray(r.bits), steps,
    epochs: new Int32Array(steps.length).fill(r.epoch), frames: steps.length,
    neurons: r.neurons ? decodeArray(r.neurons) : null, n_neurons: r.n_neurons,
  });
}

/**
 * The frames to show of layer li: every frame of the window when epoch is null (live),
 * else the window's frames of that epoch, or the epoch's kept snapshot when it holds
 * more. Returns {raster, frames (indices into raster), source: "window" | "epoch"}.
 */
export function rasterView(store, li, epoch) {
  const win = li >= 0 ? store.raster[li] : undefined;
  const inWindow = selectFrames(win, epoch);
  const kept = epoch === null || !store.epochRaster || !store.epochRaster[li] ? undefined
    : store.epochRaster[li].get(epoch);
  if (kept && kept.frames > inWindow.length) {
    return { raster: kept, frames: selectFrames(kept, null), source: "epoch" };
  }
  return { raster: win, frames: inWindow, source: "window" };
}

/** Whether neuron i spiked in stored frame k. */
export function spiked(raster, k, i) {
  return (raster.bits[k * raster.rowBytes + (i >> 3)] >> (i & 7)) & 1;
}
