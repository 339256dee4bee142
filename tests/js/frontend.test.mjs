// Pure front-end functions: codec, store, raster binning, sliders, histogram.
import { test } from "node:test";
import assert from "node:assert/strict";
import { decodeArray, encodeArray } from "../../js/src/model/codec.js";
import { histogramOf } from "../../js/src/views/histogram.js";
import { selectFrames, spiked } from "../../js/src/model/frames.js";
import { binRaster, pick, unravel } from "../../js/src/views/raster.js";
import { constrain, fromPosition, toPosition } from "../../js/src/ui/sliders.js";
import { applyMessage, createStore } from "../../js/src/model/store.js";
import { readFileSync } from "node:fs";

// the rules as Python sends them in every base message
const RULES = JSON.parse(readFileSync(new URL("../shared_vectors/vectors.json", import.meta.url),
  "utf8")).payload.meta.rules;

const enc = (arr, shape) => encodeArray(arr, shape);
const b64 = (arr) => ({ dtype: "uint32", shape: [arr.length],
  data: { b64: Buffer.from(new Uint8Array(arr.buffer)).toString("base64") } });

test("the codec reads DataViews, misaligned ones and base64 alike", () => {
  const a = new Float64Array([1.5, NaN, -Infinity]);
  assert.deepEqual(decodeArray(enc(a)), a);
  const raw = new Uint8Array(1 + 8);
  raw.set(new Uint8Array(new Float64Array([0.25]).buffer), 1);
  const misaligned = { dtype: "float64", shape: [1], data: new DataView(raw.buffer, 1, 8) };
  assert.deepEqual(Array.from(decodeArray(misaligned)), [0.25]);
  assert.deepEqual(Array.from(decodeArray(b64(new Uint32Array([7, 70000])))), [7, 70000]);
  assert.throws(() => decodeArray({ dtype: "float64", shape: [1], data: new DataView(new ArrayBuffer(3)) }));
});

function rasterMsg(layer, n, steps, frames, reset = false) {
  const rowBytes = Math.ceil(n / 8);
  const bits = new Uint8Array(steps.length * rowBytes);
  frames.forEach((spikes, k) => spikes.forEach((i) => { bits[k * rowBytes + (i >> 3)] |= 1 << (i & 7); }));
  return { layer, n, reset, bits: enc(bits), steps: enc(Int32Array.from(steps)),
    epochs: enc(new Int32Array(steps.length)) };
}

function base(extra = {}) {
  return { base: true, seq: 1, prev: null,
    meta: { scalar_fields: ["n_obs"], raster_window: 4, categories: [], sliders: [], order: [],
      rules: RULES },
    layers: [{ name: "a", n_neurons: 10, shape: [10] }], epochs: [0],
    chunks: [{ epoch: 0, fixed: [], layers: [{ index: 0, role: "hidden", graded: false,
      counts: enc(new Uint8Array([0, 1, 2, 3, 4, 5, 6, 7, 8, 9])), scalars: enc(new Float64Array([10])) }] }],
    raster: [rasterMsg(0, 10, [0, 1], [[0], [9]])], ...extra };
}

test("the store applies a base, then updates in order, and notices a gap", () => {
  const s = createStore();
  assert.equal(applyMessage(s, base()), "applied");
  assert.deepEqual(Array.from(s.chunks.get(0).layers[0].rates.slice(0, 3)), [0, 0.1, 0.2]);
  const upd = { base: false, seq: 2, prev: 1, epochs: [0], chunks: [],
    raster: [rasterMsg(0, 10, [1, 2, 3, 4], [[9], [1], [2], [3]])] };
  assert.equal(applyMessage(s, upd), "applied");
  const r = s.raster[0];
  assert.deepEqual(Array.from(r.steps), [1, 2, 3, 4]); // step 1 not doubled; window of 4 kept
  assert.equal(spiked(r, 1, 1), 1);
  assert.equal(applyMessage(s, upd), "stale");
  assert.equal(applyMessage(s, { ...upd, seq: 5, prev: 4, raster: [] }), "gap");
});

test("raster binning counts every spike once, whatever the zoom", () => {
  const n = 1000;
  const frames = Array.from({ length: 300 }, (_, k) => [k % n, (k * 7 + 1) % n, 999]);
  const s = createStore();
  applyMessage(s, base({ meta: { scalar_fields: ["n_obs"], raster_window: 1000, rules: RULES },
    raster: [rasterMsg(0, n, frames.map((_, k) => k), frames)] }));
  const r = s.raster[0];
  const sel = selectFrames(r, null);
  for (const [cols, rows] of [[300, 1000], [50, 40], [7, 3]]) {
    const g = binRaster(r, sel, cols, rows);
    assert.equal(g.spikes, 900);
    assert.equal(g.counts.reduce((a, b) => a + b, 0), 900);
    assert.ok(g.cols <= cols && g.rows <= rows);
  }
  const g = binRaster(r, sel, 10, 10);
  assert.ok(g.counts[9 * g.cols + 9] >= 30); // neuron 999 spikes in every frame: bottom row
  assert.deepEqual(pick(sel, n, 300, 100, 299.9, 99.9), { frame: 299, neuron: 999 });
  assert.equal(unravel(23, [2, 3, 4]), "23 (1, 2, 3)");
});

test("slider positions map to readable values and back", () => {
  const log = { min: 1e-5, max: 0.5, log: true, integer: false };
  assert.equal(fromPosition(log, 0), 1e-5);
  assert.equal(fromPosition(log, 1000), 0.5);
  assert.equal(toPosition(log, fromPosition(log, 400)), 400);
  const lin = { min: 0, max: 1, log: false, integer: false };
  assert.equal(fromPosition(lin, 333), 0.333);
  const int = { min: 2, max: 1000, log: false, integer: true };
  assert.ok(Number.isInteger(fromPosition(int, 517)));
});

test("sliders keep the order Thresholds enforces", () => {
  const order = [["dead_warning_fraction", "dead_critical_fraction", false],
    ["dead_rate", "saturated_rate", true]];
  const v = { dead_warning_fraction: 0.1, dead_critical_fraction: 0.5, dead_rate: 0.01,
    saturated_rate: 0.3 };
  assert.equal(constrain(v, "dead_warning_fraction", 0.7, order), 0.5);
  assert.equal(constrain(v, "dead_critical_fraction", 0.05, order), 0.1);
  assert.ok(constrain(v, "dead_rate", 0.4, order) < 0.3);
  assert.ok(constrain(v, "saturated_rate", 0.01, order) > 0.01);
  assert.equal(constrain(v, "dead_rate", 0.2, order), 0.2);
});

test("the histogram bins every finite rate, zeros apart", () => {
  const h = histogramOf(new Float64Array([0, 0, 1e-7, 0.01, 0.5, 1, NaN]));
  assert.equal(h.zeros, 2);
  assert.equal(h.nan, 1);
  assert.equal(h.counts.reduce((a, b) => a + b, 0), 4);
  assert.equal(h.edges[0], -5);
});
