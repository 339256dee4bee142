// The sweep's pure functions: grid snapping, the recommended band, decoding a sweep
// message and the verdict of a prediction (the mirror of spikewidget/sweep.py's _row).
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { encodeArray } from "../../js/src/model/codec.js";
import { acceptsThreshold, decodeSweep, nearestIndex, predict, recommendedBand, verdictOf }
  from "../../js/src/diagnose/sweep.js";

const TH = { dead_rate: 0.01, dead_warning_fraction: 0.1, dead_critical_fraction: 0.5,
  saturated_rate: 0.95, saturated_warning_fraction: 0.3, silent_max_rate: 0.001,
  voltage_collapse_std: 1e-6, voltage_collapse_min_steps: 10, gradient_explosion_ratio: 100,
  gradient_vanishing_ratio: 100, output_count_warning: 50, output_count_critical: 88,
  loss_chance_tolerance: 0.05, loss_chance_window: 20 };
const FIELDS = ["n_steps", "n_obs", "max_value", "min_value", "is_binary", "has_count_range",
  "count_lo", "count_hi", "has_voltages", "voltage_mean", "voltage_std", "gradient_steps",
  "gradient_norm_mean", "gradient_norm_max", "count_samples"];
// the rules' words, causes and "follows" template as Python sends them
const PYTHON_META = JSON.parse(readFileSync(
  new URL("../shared_vectors/vectors.json", import.meta.url), "utf8")).payload.meta;
const META = { ...PYTHON_META, scalar_fields: FIELDS,
  categories: ["dead_neurons", "saturated_neurons", "silent_network", "voltage_collapse",
    "gradient_explosion", "gradient_vanishing", "non_binary_spikes", "count_valued_input",
    "non_finite_values", "output_overflow", "loss_at_chance"] };

function scalars(over) {
  const s = { n_steps: 1, n_obs: 100, max_value: 1, min_value: 0, is_binary: 1,
    has_count_range: 0, count_lo: NaN, count_hi: NaN, has_voltages: 0, voltage_mean: NaN,
    voltage_std: NaN, gradient_steps: 0, gradient_norm_mean: NaN, gradient_norm_max: NaN,
    count_samples: 0, ...over };
  return encodeArray(Float64Array.from(FIELDS.map((f) => s[f])));
}

// hidden: 10 neurons over 100 observations; out: 2 output neurons over 4 samples
function candidate(threshold, hidden, outCounts, outActive, fixed = []) {
  const hi = Math.max(...outCounts);
  return { threshold, verdict: "?", fixed, layers: [
    { index: 0, role: "hidden", graded: false, activity: null,
      counts: encodeArray(Uint8Array.from(hidden)), scalars: scalars({}) },
    { index: 1, role: "output", graded: false, counts: encodeArray(Uint8Array.from(outCounts)),
      activity: encodeArray(Uint8Array.from(outActive)),
      scalars: scalars({ has_count_range: 1, count_lo: 0, count_hi: hi, count_samples: 4 }) },
  ] };
}

const NONBINARY = { severity: "critical", category: "non_binary_spikes", layer: "hidden",
  message: "Spikes are not binary", fix: "Raise the threshold", epoch: 0, step: null };

const MSG = {
  key: "hidden + out", swept: ["hidden", "out"], original: 1, best: 3, recommended: [3, 3],
  reason: "why", note: "one batch", meta: META,
  grid: encodeArray(new Float64Array([1, 3, 10])),
  layers: [{ name: "hidden", n_neurons: 10, shape: [10] }, { name: "out", n_neurons: 2, shape: [2] }],
  candidates: [
    candidate(1, Array(10).fill(90), [50, 60], [4, 4], [NONBINARY]),
    candidate(3, Array(10).fill(20), [10, 12], [4, 3]),
    candidate(10, Array(10).fill(0), [0, 0], [0, 0]),
  ],
};

test("a threshold snaps to the nearest grid point on a log scale", () => {
  const grid = [1, 2, 4, 8];
  assert.equal(nearestIndex(grid, 2.9), 2); // log-nearer to 4 than to 2
  assert.equal(nearestIndex(grid, 2.7), 1);
  assert.equal(nearestIndex(grid, 1e9), 3);
  assert.equal(nearestIndex(grid, 1e-9), 0);
});

test("on a linear sweep a threshold snaps to the grid point nearest by difference", () => {
  // potentials in mV (Norse CobaLIFCell): at or below 0, where a ratio means nothing
  const grid = [-20, -15, -10, -5, 0, 5];
  assert.equal(nearestIndex(grid, -12, "linear"), 2);
  assert.equal(nearestIndex(grid, -12.6, "linear"), 1);
  assert.equal(nearestIndex(grid, -0.1, "linear"), 4);
  assert.equal(nearestIndex(grid, 1e9, "linear"), 5);
  assert.equal(nearestIndex(grid, -1e9, "linear"), 0);
  // where the two scales disagree: 2.9 is nearer 2 by difference, nearer 4 by ratio
  assert.equal(nearestIndex([1, 2, 4, 8], 2.9, "linear"), 1);
  assert.equal(nearestIndex([1, 2, 4, 8], 2.9, "log"), 2);
});

test("a threshold at or below 0 is a slider position only on a linear sweep", () => {
  assert.ok(acceptsThreshold(-10, "linear") && acceptsThreshold(0, "linear"));
  assert.ok(!acceptsThreshold(-10, "log") && !acceptsThreshold(0, "log"));
  assert.ok(acceptsThreshold(0.5, "log") && acceptsThreshold(0.5, "linear"));
  for (const bad of [NaN, Infinity, "-10", null, undefined]) {
    assert.ok(!acceptsThreshold(bad, "linear"), String(bad));
  }
});

test("a decoded linear sweep keeps its scale and finds its best grid point by difference", () => {
  const grid = [-16, -10, -4, 2];
  const msg = { ...MSG, key: "cell", swept: ["cell"], original: -10, best: -7.5,
    recommended: [-16, -4], scale: "linear", grid: encodeArray(new Float64Array(grid)),
    candidates: grid.map((t) => candidate(t, Array(10).fill(20), [10, 12], [4, 3])) };
  const s = decodeSweep(msg);
  assert.equal(s.scale, "linear");
  assert.equal(s.bestIndex, 1); // -7.5: 2.5 from -10, 3.5 from -4
  assert.deepEqual(s.band, { lo: 0, hi: 2 });
  assert.equal(predict(s, 1, TH).threshold, -10);
  // a message from before the scale was sent is a log-scale sweep
  assert.equal(decodeSweep(MSG).scale, "log");
});

test("the recommended band covers the grid points inside the interval", () => {
  assert.deepEqual(recommendedBand([1, 2, 4, 8, 16], [2, 8]), { lo: 1, hi: 3 });
  assert.deepEqual(recommendedBand([1, 2, 4], [4, 4]), { lo: 2, hi: 2 });
  assert.equal(recommendedBand([1, 2, 4], null), null);
  assert.equal(recommendedBand([1, 2, 4], [5, 6]), null);
});

test("a decoded sweep predicts each candidate under the rule thresholds", () => {
  const s = decodeSweep(MSG);
  assert.deepEqual(s.grid, [1, 3, 10]);
  assert.equal(s.bestIndex, 1);
  assert.deepEqual(s.band, { lo: 1, hi: 1 });
  const low = predict(s, 0, TH);
  assert.equal(low.verdict, "non-binary");
  assert.deepEqual(low.findings.map((p) => p.category),
    ["non_binary_spikes", "output_overflow"]); // 60 output spikes per sample > 50
  assert.equal(low.layers[0].satCount, 0); // 0.9 spikes per step is not above 0.95
  const ok = predict(s, 1, TH);
  assert.equal(ok.verdict, "ok");
  assert.deepEqual(ok.findings, []);
  assert.equal(ok.threshold, 3);
  const high = predict(s, 2, TH);
  assert.equal(high.verdict, "silent");
  assert.ok(high.findings.every((p) => p.epoch === null)); // a batch, not an epoch
  // a stricter rule slider turns the ok candidate's one half-dead output into "too sparse"
  const strict = predict(s, 1, { ...TH, dead_rate: 0.8, dead_warning_fraction: 0.2,
    dead_critical_fraction: 0.4 });
  assert.equal(strict.verdict, "too sparse");
});

test("verdicts follow sweep.py's order of precedence", () => {
  const v = (cats, countRange = [0, 3], severity = "critical") => verdictOf({
    findings: cats.map((category) => ({ category, severity })),
    layers: [{ countRange }] });
  assert.equal(v(["non_binary_spikes", "output_overflow"]), "non-binary");
  assert.equal(v(["non_finite_values", "silent_network"]), "overflow");
  assert.equal(v([], [0, 0]), "silent");
  assert.equal(v(["dead_neurons"]), "too sparse");
  assert.equal(v(["dead_neurons"], [0, 3], "warning"), "ok");
});
