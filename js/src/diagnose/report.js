// A report in the browser: the store's statistics for one epoch, judged under the
// thresholds on screen (the mirror of SpikeProfiler.report(thresholds, epoch=...)), and
// what follows from reports: trends, when a finding first appeared, the layer to show.

import { SEVERITY_RANK } from "./causes.js";
import { layerClasses, nanMax } from "./classes.js";
import { diagnose } from "./rules.js";

/** Rule-ready statistics of every layer recorded in `epoch`, in recording order. */
export function layerViews(store, epoch, th) {
  const chunk = store.chunks.get(epoch);
  if (!chunk) return [];
  const out = [];
  chunk.layers.forEach((entry, index) => {
    if (!entry) return;
    const meta = store.layers[index];
    const s = entry.s;
    const { dead, sat } = layerClasses(entry, th);
    if (entry.maxRate === undefined) entry.maxRate = nanMax(entry.rates);
    out.push({
      index, name: meta.name, role: entry.role, graded: entry.graded, n: meta.n_neurons,
      isBinary: s.is_binary === 1,
      rates: entry.rates, activity: entry.activity, deadCount: dead, satCount: sat,
      counts: entry.counts, activeSamples: entry.activeSamples,
      maxRate: entry.maxRate,
      nSteps: s.n_steps, hasVoltages: s.has_voltages === 1, voltageMean: s.voltage_mean,
      voltageStd: s.voltage_std, voltageTimeStd: entry.timeStd, gradientSteps: s.gradient_steps,
      gradientNormMean: s.gradient_norm_mean, gradientNormMax: s.gradient_norm_max,
      countRange: s.has_count_range === 1 ? [s.count_lo, s.count_hi] : null,
      nObs: s.n_obs, countSamples: s.count_samples, nSamples: s.n_samples,
      perEpoch: history(store, index, epoch, th),
      gradientBaseline: s.gradient_norm_baseline,
      gradientBaselineRecords: s.gradient_baseline_records,
      gradientPeakStep: s.gradient_peak_step, gradientGrowth: s.gradient_growth,
      gradientGrowthPerStep: s.gradient_growth_per_step,
      gradientGrowthSteps: [s.gradient_growth_from, s.gradient_growth_to],
      gradientRmsMean: s.gradient_rms_mean, gradientGeomean: s.gradient_norm_geomean,
      voltageMax: s.voltage_max, threshold: s.threshold, rest: s.resting_potential,
      fedBy: entry.fedBy,
      fullness: entry.fullness, ceiling: s.spike_ceiling,
    });
  });
  return out;
}

/** A layer's health in every epoch up to `epoch` (Python's SpikeProfiler._history). */
function history(store, index, epoch, th) {
  const out = [];
  for (const e of store.epochs) {
    if (e > epoch) break;
    const entry = store.chunks.get(e)?.layers[index];
    if (!entry) continue;
    if (entry.maxRate === undefined) entry.maxRate = nanMax(entry.rates);
    out.push({ epoch: e, deadFraction: layerClasses(entry, th).dead / entry.rates.length,
      maxRate: entry.maxRate });
  }
  return out.length > 1 ? out : [];
}

/** The loss as the rules see it for `epoch` (null when no loss was recorded then). */
export function lossView(store, epoch) {
  const loss = store.loss;
  const j = loss.epochs.indexOf(epoch);
  if (j < 0) return null;
  // like LossStats: only the recent values recorded in this epoch
  const keep = [];
  for (let i = 0; i < loss.recent.length; i++) if (loss.recentEpochs[i] === epoch) keep.push(i);
  return { chance: loss.chance, nClasses: loss.nClasses,
    recent: Float64Array.from(keep, (i) => loss.recent[i]),
    recentEpochs: Int32Array.from(keep, (i) => loss.recentEpochs[i]),
    count: loss.counts[j], max: loss.maxes[j], nonfinite: loss.nonfinite[j] };
}

/** {layers, findings} for one epoch under thresholds `th`. */
export function buildReport(store, epoch, th) {
  const layers = layerViews(store, epoch, th);
  const chunk = store.chunks.get(epoch);
  const { categories, rules, causes, follows, gone } = store.meta;
  const consts = { categories, rules, causes, follows, gone };
  const found = diagnose(layers, lossView(store, epoch), th, chunk ? chunk.fixed : [], consts);
  // like SpikeProfiler.report: a layer finding of a one-epoch report is located there
  const findings = found.map((p) => (p.epoch === null && p.layer !== "loss" ? { ...p, epoch } : p));
  return { epoch, layers, findings };
}

/**
 * Dead and saturated fractions of every layer in every epoch, for the trend lines and the
 * health map: {epochs, series: [{name, role, dead, sat, active}]} (Float64Arrays, NaN: not
 * recorded; active: the share of neurons that fired at all; role: the newest epoch's).
 */
export function trends(store, th) {
  const epochs = store.epochs;
  const blank = () => new Float64Array(epochs.length).fill(NaN);
  const series = store.layers.map((l) => ({ name: l.name, role: "hidden",
    dead: blank(), sat: blank(), active: blank() }));
  epochs.forEach((e, j) => {
    const chunk = store.chunks.get(e);
    if (!chunk) return;
    chunk.layers.forEach((entry, i) => {
      if (!entry || !series[i]) return;
      const { dead, sat } = layerClasses(entry, th);
      const n = entry.rates.length;
      series[i].dead[j] = dead / n;
      series[i].sat[j] = sat / n;
      if (entry.fired === undefined) { // threshold-free: counted once per chunk
        entry.fired = 0;
        for (let k = 0; k < n; k++) if (entry.counts[k] > 0) entry.fired++;
      }
      series[i].active[j] = entry.fired / Math.max(1, n);
      series[i].role = entry.role;
    });
  });
  return { epochs, series };
}

/**
 * For each finding of the report of `epoch`, the first epoch (up to `epoch`) whose own
 * report names the same category at the same layer: "since epoch N" in the table.
 */
export function firstSeen(store, epoch, th, findings) {
  const pending = new Map(findings.map((p) => [`${p.category}\u0000${p.layer}`, epoch]));
  const open = new Set(pending.keys());
  for (const e of store.epochs) {
    if (e >= epoch || open.size === 0) break;
    for (const p of buildReport(store, e, th).findings) {
      const key = `${p.category}\u0000${p.layer}`;
      if (open.has(key)) {
        pending.set(key, e);
        open.delete(key);
      }
    }
  }
  return findings.map((p) => pending.get(`${p.category}\u0000${p.layer}`));
}

/**
 * The layer to show first: the one with the worst finding of `report`, else the first
 * hidden layer, else the first that is not an input, else the first. null: no layers.
 */
export function defaultLayer(store, report) {
  const names = store.layers.map((l) => l.name);
  if (names.length === 0) return null;
  const rank = (p) => SEVERITY_RANK[p.severity] ?? 9;
  let best = null;
  for (const p of report.findings) {
    if (!names.includes(p.layer)) continue;
    if (best === null || rank(p) < rank(best)) best = p;
  }
  if (best) return best.layer;
  const role = (name) => report.layers.find((l) => l.name === name)?.role;
  return names.find((n) => role(n) === "hidden") || names.find((n) => role(n) !== "input")
    || names[0];
}
