// The widget's words and choices: status line, epoch label, live epoch, default layer,
// histogram ticks and the health map's hit test (pure functions, no DOM).
import { test } from "node:test";
import assert from "node:assert/strict";
import { cellAt } from "../../js/src/views/healthmap.js";
import { niceTicks } from "../../js/src/views/histogram.js";
import { defaultLayer } from "../../js/src/diagnose/report.js";
import { epochReady, liveEpoch } from "../../js/src/model/epochs.js";
import { epochLabel, statusText } from "../../js/src/views/status.js";

const entry = (steps) => ({ s: { n_steps: steps } });

function store(chunks) {
  const m = new Map(Object.entries(chunks).map(([e, layers]) => [Number(e), { layers }]));
  return { epochs: [...m.keys()], chunks: m,
    layers: [{ name: "in" }, { name: "lif1" }, { name: "out" }] };
}

test("live mode waits for a new epoch to hold every layer before judging it", () => {
  const s = store({ 0: [entry(5), entry(5), entry(5)], 1: [entry(1)] });
  assert.equal(epochReady(s, 1), false); // only the input's first step so far
  assert.equal(liveEpoch(s), 0);
  s.chunks.get(1).layers = [entry(1), entry(1), entry(1)];
  assert.equal(liveEpoch(s), 1);
  const gone = store({ 0: [entry(5), entry(5), entry(5)], 1: [entry(2), entry(2)] });
  assert.equal(liveEpoch(gone), 1); // a layer that stopped recording does not hold it back
  assert.equal(liveEpoch(store({})), null);
});

test("the status never reads '0 critical, 0 warnings' and counts in words", () => {
  const f = (severity) => ({ severity });
  assert.equal(statusText({ epoch: 3, live: true, layers: 1, findings: [] }),
    "live \u00B7 epoch 3 \u00B7 1 layer \u00B7 no findings");
  assert.equal(statusText({ epoch: 2, live: false, layers: 4,
    findings: [f("critical"), f("warning"), f("warning")] }),
  "epoch 2 \u00B7 4 layers \u00B7 1 critical, 2 warnings");
  assert.match(statusText({ epoch: 0, live: true, pending: 1, layers: 2, findings: [f("info")] }),
    /^live · epoch 0 \(epoch 1 starting\) · 2 layers · 1 info$/);
  assert.equal(statusText({ epoch: null, live: true, layers: 0, findings: [] }),
    "waiting for the first recorded step");
  assert.equal(epochLabel(3, [0, 1, 2, 3]), "3 (4 of 4)");
  assert.equal(epochLabel(null, []), "none recorded");
});

test("the first layer shown is the worst finding's, else the first hidden one", () => {
  const s = store({});
  const layers = [{ name: "in", role: "input" }, { name: "lif1", role: "hidden" },
    { name: "out", role: "output" }];
  assert.equal(defaultLayer(s, { layers, findings: [] }), "lif1");
  const findings = [{ severity: "warning", layer: "in" }, { severity: "critical", layer: "loss" },
    { severity: "critical", layer: "out" }];
  assert.equal(defaultLayer(s, { layers, findings }), "out");
  assert.equal(defaultLayer({ layers: [] }, { layers: [], findings: [] }), null);
});

test("histogram ticks are round steps (1, 2 or 5 x 10^k) from 0 to the maximum", () => {
  assert.deepEqual(niceTicks(20), [0, 5, 10, 15, 20]);
  assert.deepEqual(niceTicks(7), [0, 2, 4, 6]);
  assert.deepEqual(niceTicks(1), [0, 1]);
  assert.deepEqual(niceTicks(1234).slice(0, 3), [0, 500, 1000]);
});

test("a point on the health map names its epoch and layer", () => {
  const layout = { labelW: 50, cellW: 20, rowH: 16, top: 4, epochs: [0, 1, 5],
    rows: [{ index: 0, name: "in", role: "input" }, { index: 2, name: "out", role: "output" }] };
  assert.deepEqual(cellAt(layout, 50 + 45, 4 + 20),
    { epoch: 5, layer: 2, name: "out", role: "output", col: 2, row: 1 });
  assert.equal(cellAt(layout, 10, 10), null); // on a label
  assert.equal(cellAt(layout, 50 + 65, 10), null); // past the last epoch
});
