// The browser's rules against the Python core: every vector in tests/shared_vectors/
// was produced by Python (make_vectors.py); the JS port must give the same answers.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { decodeArray } from "../../js/src/model/codec.js";
import { pyFormat } from "../../js/src/diagnose/pyformat.js";
import { buildReport } from "../../js/src/diagnose/report.js";
import { classifyRate, countClasses } from "../../js/src/diagnose/classes.js";
import { applyMessage, createStore } from "../../js/src/model/store.js";

const path = process.env.SPIKEWIDGET_VECTORS ||
  new URL("../shared_vectors/vectors.json", import.meta.url);
const vectors = JSON.parse(readFileSync(path, "utf8"));
const num = (v) => (typeof v === "string" ? Number(v.replace("nan", "NaN").replace("inf", "Infinity")) : v);

test("numbers in messages read as Python formats them", () => {
  const wrong = vectors.format
    .map(([v, spec, want]) => [v, spec, want, pyFormat(num(v), spec)])
    .filter(([, , want, got]) => want !== got);
  assert.deepEqual(wrong, [], `${wrong.length} of ${vectors.format.length} formats differ`);
});

test("neurons are classed dead / healthy / saturated exactly as in Python", () => {
  for (const c of vectors.classify) {
    const rates = decodeArray(c.rates);
    const want = decodeArray(c.classes);
    const got = Uint8Array.from(rates, (r) => classifyRate(r, c.thresholds));
    assert.deepEqual(got, want, JSON.stringify(c.thresholds));
    const counts = countClasses(rates, c.thresholds);
    assert.equal(counts.dead, want.filter((x) => x === 1).length);
    assert.equal(counts.sat, want.filter((x) => x === 2).length);
  }
});

function assertReportsMatch(payload, reports) {
  const store = createStore();
  assert.equal(applyMessage(store, payload), "applied");
  for (const c of reports) {
    const rep = buildReport(store, c.epoch, c.thresholds);
    const counts = Object.fromEntries(rep.layers.map((l) => [l.name, [l.deadCount, l.satCount]]));
    assert.deepEqual(counts, c.counts, `counts, epoch ${c.epoch}`);
    assert.deepEqual(rep.findings, c.findings, `findings, epoch ${c.epoch}, ${JSON.stringify(c.thresholds)}`);
  }
}

test("every report (epoch x thresholds) matches Python's, finding for finding", () => {
  assert.ok(vectors.reports.length > 20);
  assertReportsMatch(vectors.payload, vectors.reports);
});

test("a silent layer's firing levels give Python's fix: short of the threshold, or no drive", () => {
  const { payload, reports } = vectors.levels;
  assertReportsMatch(payload, reports);
  const fixes = new Set(reports.flatMap((c) => c.findings)
    .filter((p) => p.category === "silent_network" && !p.cause).map((p) => p.fix.split(":")[0]));
  assert.deepEqual([...fixes].sort(), ["A lower threshold will not help",
    "The membrane rises but stays short of the threshold"]);
});

test("declared wiring links a silent layer to the silent layer feeding it, as Python does", () => {
  const { payload, reports } = vectors.wiring;
  assertReportsMatch(payload, reports);
  const silent = (c) => Object.fromEntries(c.findings.filter((p) => p.category === "silent_network")
    .map((p) => [p.layer, p.cause]));
  const [first] = reports.filter((c) => c.epoch === 0);
  // 'g' is fed by the data as well as by the silent 'd': the data arrive, a root
  assert.deepEqual(silent(first), { b: null, d: "silent_network @ b", e: null,
    f: "silent_network @ b", g: null });
  // its own fix names the firing layer that feeds it, not the silent one before it
  const e = first.findings.find((p) => p.category === "silent_network" && p.layer === "e");
  assert.ok(e.fix.startsWith("'c', which feeds it, fires"), e.fix);
  const [second] = reports.filter((c) => c.epoch === 1);
  assert.deepEqual(silent(second), { d: null, e: null, f: "silent_network @ d", g: null });
});

test("a silent branch explains a vanishing gradient only when every route passes a quiet layer", () => {
  const { payload, reports } = vectors.routes;
  assertReportsMatch(payload, reports);
  const vanishing = (epoch) => reports.filter((c) => c.epoch === epoch)[0].findings
    .find((p) => p.category === "gradient_vanishing");
  const open = vanishing(0);
  assert.ok(!open.message.includes("because") && open.cause === null, open.message);
  const starved = vanishing(1);
  assert.ok(starved.message.includes("because 'branch' is silent"), starved.message);
  assert.equal(starved.cause, "silent_network @ branch");
});

test("parallel heads are not a fade; a chain each fed by the one before is", () => {
  const { payload, reports } = vectors.heads;
  assertReportsMatch(payload, reports);
  const fades = reports[0].findings.filter((p) => p.category === "rate_fades_with_depth");
  assert.deepEqual(fades.map((p) => p.layer), ["c3"]);
});

test("a graded layer is saturated against its ceiling, and not judged without one", () => {
  const { payload, reports } = vectors.ceiling;
  assertReportsMatch(payload, reports);
  const saturated = (c) => c.findings.filter((p) => p.category === "saturated_neurons")
    .map((p) => p.layer).sort();
  const byDefault = reports.filter((c) => c.thresholds.saturated_rate === 0.95);
  assert.ok(byDefault.length > 0);
  for (const c of byDefault) assert.deepEqual(saturated(c), ["full"], JSON.stringify(c.findings));
  // under a low saturated_rate the busy layer (0.25 to 0.6 of its ceiling) is saturated too
  assert.ok(reports.some((c) => saturated(c).includes("busy")));
  for (const c of reports) assert.equal(c.counts.unknown[1], 0);
});

test("a layer that fired, silent by rate, is never told its membrane stays short", () => {
  const { payload, reports } = vectors.fired;
  assertReportsMatch(payload, reports);
  const silent = reports.flatMap((c) => c.findings)
    .filter((p) => p.category === "silent_network" && p.layer === "rare");
  assert.ok(silent.length > 0);
  for (const p of silent) {
    assert.ok(!p.message.includes("peaked") && !p.fix.startsWith("The membrane"), p.fix);
  }
});

test("a membrane recorded at the last step only is not read as never rising", () => {
  const { payload, reports } = vectors.one_step;
  assertReportsMatch(payload, reports);
  const silent = reports.flatMap((c) => c.findings)
    .filter((p) => p.category === "silent_network" && p.layer === "unseen" && !p.cause);
  assert.ok(silent.length > 0);
  for (const p of silent) assert.ok(!p.fix.startsWith("A lower threshold will not"), p.fix);
});

test("a layer whose spike function blocks the gradient is shown as Python found it", () => {
  const { payload, reports } = vectors.blocked;
  assertReportsMatch(payload, reports);
  for (const c of reports) {
    const blocked = c.findings.filter((p) => p.category === "gradient_blocked");
    assert.deepEqual(blocked.map((p) => p.layer), ["hid"], JSON.stringify(c.thresholds));
    assert.ok(blocked[0].fix.includes("surrogate.atan()"), blocked[0].fix);
  }
});

test("long sparse sequences: a hidden neuron is dead when it fires in (almost) no sample", () => {
  const { payload, reports } = vectors.sparse;
  assertReportsMatch(payload, reports);
  const dead = (c) => c.findings.filter((p) => p.category === "dead_neurons")
    .map((p) => p.layer).sort();
  const byDefault = reports.filter((c) => c.thresholds.dead_rate === 0.01);
  assert.ok(byDefault.length > 0);
  // 'sparse' fires ~2 spikes in every sample of 400 steps (rate 0.005): not dead; the
  // never-firing half, the bunched neurons and the per-step record (rate) are
  const silent = (c) => c.findings.filter((p) => p.category === "silent_network" && !p.cause)
    .map((p) => p.layer);
  for (const c of byDefault) {
    assert.deepEqual(dead(c), ["bunched", "half", "stepwise"], JSON.stringify(c.findings));
    assert.equal(c.counts.sparse[0], 0);
    // one spike per sample over 1200 steps (rate < 0.001): silent only where most
    // samples get no spike from the busiest neuron
    if (c.thresholds.silent_max_rate === 0.001) assert.deepEqual(silent(c), ["faint"]);
  }
});

test("a layer that fires far less in eval mode than in training is shown as Python found it", () => {
  const { payload, reports } = vectors.eval;
  assertReportsMatch(payload, reports);
  for (const c of reports) {
    const shift = c.findings.filter((p) => p.category === "eval_mode_shift");
    assert.deepEqual(shift.map((p) => p.layer), ["h1"], JSON.stringify(c.thresholds));
    const dead = c.findings.filter((p) => p.layer === "h2" && p.category === "dead_neurons");
    for (const p of dead) assert.equal(p.cause, "eval_mode_shift @ h1");
  }
});

test("the vectors exercise causes and the start of an at-chance loss", () => {
  const all = vectors.reports.flatMap((c) => c.findings);
  const causes = new Set(all.filter((p) => p.cause).map((p) => `${p.category} <- ${p.cause}`));
  for (const link of ["saturated_neurons <- non_binary_spikes", "dead_neurons <- silent_network",
    "output_overflow <- count_valued_input"]) {
    assert.ok([...causes].some((c) => c.startsWith(link)), `${link} in ${[...causes]}`);
  }
  // a one-epoch report's at-chance loss began in that epoch (never "since epoch 0")
  const atChance = vectors.reports.flatMap((c) => c.findings
    .filter((p) => p.category === "loss_at_chance").map((p) => [c.epoch, p.epoch]));
  assert.ok(atChance.length > 0 && atChance.some(([e]) => e === 0));
  for (const [e, since] of atChance) assert.equal(since, e);
});

test("the vectors exercise every rule the browser re-runs", () => {
  const seen = new Set(vectors.reports.flatMap((c) => c.findings.map((p) => p.category)));
  for (const cat of ["dead_neurons", "saturated_neurons", "silent_network", "voltage_collapse",
    "gradient_explosion", "gradient_vanishing", "output_overflow", "loss_at_chance",
    "too_few_observations", "layer_died"]) {
    assert.ok(seen.has(cat), cat);
  }
});

test("depth: a dip that recovers is no fade, a one-step gradient gap is no depth effect", () => {
  const { payload, reports } = vectors.depth;
  assertReportsMatch(payload, reports);
  const at = (epoch, category) => reports.filter((c) => c.epoch === epoch)
    .flatMap((c) => c.findings.filter((p) => p.category === category));
  assert.equal(at(0, "rate_fades_with_depth").length, 0);  // 'd6' fires again: a dip
  assert.ok(at(1, "rate_fades_with_depth").length > 0);   // the tail stays down: a fade
  const gaps = reports.flatMap((c) => c.findings.filter((p) => p.category === "gradient_vanishing"));
  const fixes = new Set(gaps.filter((p) => !p.cause).map((p) => p.fix.split(" ").slice(0, 4).join(" ")));
  assert.deepEqual([...fixes].sort(), ["Add skip connections, normalise", "The gradient drops at"]);
});
