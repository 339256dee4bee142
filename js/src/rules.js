// The threshold-dependent rules of spikewidget/rules.py, ported so that a slider move
// re-diagnoses in the browser. Messages are built with Python's number formatting; the
// shared vectors (tests/shared_vectors/) check that both sides agree word for word.
// Rules that no slider can change (non-binary spikes, count-valued input, NaN/Inf) are
// not ported: Python sends their findings ready-made ("fixed").

import { pyFormat as f } from "./pyformat.js";

export const HEALTHY = 0;
export const DEAD = 1;
export const SATURATED = 2;
export const CLASS_NAMES = ["healthy", "dead", "saturated"];
const SEVERITY_RANK = { critical: 0, warning: 1, info: 2 };

/** Class of one neuron: dead below dead_rate, saturated above saturated_rate (NaN: healthy). */
export function classifyRate(rate, th) {
  if (rate < th.dead_rate) return DEAD;
  if (rate > th.saturated_rate) return SATURATED;
  return HEALTHY;
}

/**
 * Dead and saturated counts of one layer view. An output layer (`activity` given: the
 * share of samples in which each neuron fired) is dead where it fires in fewer than
 * dead_rate of the samples, as in Python's stats.judge_output_by_samples.
 */
export function layerClasses(entry, th) {
  const { dead, sat } = countClasses(entry.rates, th);
  if (!entry.activity) return { dead, sat };
  let d = 0;
  for (let i = 0; i < entry.activity.length; i++) if (entry.activity[i] < th.dead_rate) d++;
  return { dead: d, sat };
}

/** Dead and saturated counts over a rate array (the hot loop of a slider move). */
export function countClasses(rates, th) {
  const lo = th.dead_rate;
  const hi = th.saturated_rate;
  let dead = 0;
  let sat = 0;
  for (let i = 0; i < rates.length; i++) {
    const r = rates[i];
    if (r < lo) dead++;
    else if (r > hi) sat++;
  }
  return { dead, sat };
}

/** Firing rates as Python computes them: spike_sum / max(n_obs, 1), in float64. */
export function ratesOf(counts, nObs) {
  const d = Math.max(nObs, 1);
  const out = new Float64Array(counts.length);
  for (let i = 0; i < counts.length; i++) out[i] = counts[i] / d;
  return out;
}

/** numpy's max: NaN if any value is NaN. */
export function nanMax(a) {
  let m = -Infinity;
  for (let i = 0; i < a.length; i++) {
    const v = a[i];
    if (v !== v) return NaN;
    if (v > m) m = v;
  }
  return m;
}

const pyMax = (a, b) => (b > a ? b : a);

function finding(severity, category, layer, message, fix, epoch = null, step = null) {
  return { severity, category, layer, message, fix, epoch, step };
}

const FIX_DEAD_CRITICAL =
  "Lower the firing threshold (about 20% at a time) or raise the input gain / weight " +
  "scale; check that input reaches this layer";
const FIX_DEAD_WARNING = "Lower the threshold a little or add noise to the input";

function checkDead(layers, loss, th) {
  const out = [];
  for (const st of layers) {
    if (st.role === "input") continue;
    const frac = st.deadCount / st.n;
    let sev;
    let fix;
    if (frac > th.dead_critical_fraction) [sev, fix] = ["critical", FIX_DEAD_CRITICAL];
    else if (frac > th.dead_warning_fraction) [sev, fix] = ["warning", FIX_DEAD_WARNING];
    else continue;
    const what = st.activity
      ? `fire in fewer than ${f(th.dead_rate, ".0%")} of the samples`
      : `fire at a rate below ${f(th.dead_rate, "g")} spikes per step`;
    out.push(finding(sev, "dead_neurons", st.name,
      `${st.deadCount}/${st.n} neurons (${f(frac, ".0%")}) ${what}`, fix));
  }
  return out;
}

function checkSaturated(layers, loss, th) {
  return layers
    .filter((st) => st.role !== "input" && st.satCount / st.n > th.saturated_warning_fraction)
    .map((st) => finding("warning", "saturated_neurons", st.name,
      `${st.satCount}/${st.n} neurons (${f(st.satCount / st.n, ".0%")}) fire at a rate ` +
      `above ${f(th.saturated_rate, "g")} (almost every step)`,
      "Raise the threshold or reduce the input gain to restore sparse spiking"));
}

function checkSilent(layers, loss, th) {
  const out = [];
  for (const st of layers) {
    const top = st.maxRate;
    if (top < th.silent_max_rate) {
      const fix = st.role === "input"
        ? "Check the input encoding: the input is (almost) all zeros"
        : "Check the input encoding, lower all thresholds, and verify that the input " +
          "data is not all zeros";
      out.push(finding("critical", "silent_network", st.name,
        `Layer emits almost no spikes: its highest firing rate is ${f(top, ".2g")} ` +
        `(< ${f(th.silent_max_rate, "g")})`, fix));
    }
  }
  return out;
}

// Neurons whose voltage is frozen in time (per-neuron std over time below
// voltage_collapse_std), as Python's check_voltage_collapse.
function checkVoltageCollapse(layers, loss, th) {
  const out = [];
  for (const st of layers) {
    const spread = st.voltageTimeStd;
    if (!st.hasVoltages || st.nSteps < th.voltage_collapse_min_steps || !spread) continue;
    let known = 0;
    let frozen = 0;
    for (let i = 0; i < spread.length; i++) {
      const v = spread[i];
      if (v !== v) continue;
      known++;
      if (v < th.voltage_collapse_std) frozen++;
    }
    if (!frozen || frozen / known < th.voltage_collapse_fraction) continue;
    const share = frozen / known;
    out.push(finding("warning", "voltage_collapse", st.name,
      `${frozen}/${known} neurons (${f(share, ".0%")}) have a membrane voltage frozen in ` +
      `time: its std over time is below ${f(th.voltage_collapse_std, ".0e")} (over ` +
      `${st.nSteps} steps, layer mean ${f(st.voltageMean, ".4g")})`,
      "Increase the input current (weight scale), check connectivity, and check that " +
      "the state is not reset every step"));
  }
  return out;
}

function checkGradientExplosion(layers, loss, th) {
  const out = [];
  for (const st of layers) {
    if (st.gradientSteps < 2 || !(st.gradientNormMean > 0)) continue;
    const ratio = st.gradientNormMax / st.gradientNormMean;
    if (ratio > th.gradient_explosion_ratio) {
      out.push(finding("critical", "gradient_explosion", st.name,
        `Surrogate-gradient norm peaks at ${f(st.gradientNormMax, ".3g")}, ` +
        `${f(ratio, ".0f")}x its mean ${f(st.gradientNormMean, ".3g")} (threshold ` +
        `${f(th.gradient_explosion_ratio, "g")}x)`,
        "Clip gradients (torch.nn.utils.clip_grad_norm_), lower the learning rate, or " +
        "flatten the surrogate-gradient slope"));
    }
  }
  return out;
}

function checkGradientVanishing(layers, loss, th) {
  const withGrads = layers.filter((s) => s.role !== "input" && s.gradientSteps > 0);
  if (withGrads.length < 2) return [];
  const first = withGrads[0];
  const last = withGrads[withGrads.length - 1];
  const a = first.gradientNormMean;
  const b = last.gradientNormMean;
  if (!(b > 0)) return [];
  const ratio = a > 0 ? b / a : Infinity;
  if (ratio <= th.gradient_vanishing_ratio) return [];
  return [finding("critical", "gradient_vanishing", first.name,
    `Gradients reaching '${first.name}' (mean norm ${f(a, ".3g")}) are ${f(ratio, ".0f")}x ` +
    `smaller than at '${last.name}' (${f(b, ".3g")}): the input-side layers barely learn`,
    "Add skip connections, use an adaptive or wider surrogate gradient, normalise " +
    "layers, or make the network shallower")];
}

function checkOutputOverflow(layers, loss, th, consts) {
  const out = [];
  for (const st of layers) {
    if (!st.countRange) continue; // Python sends a range for output layers only
    const [lo, hi] = st.countRange;
    const top = pyMax(Math.abs(lo), Math.abs(hi));
    let sev;
    if (top > th.output_count_critical) sev = "critical";
    else if (top > th.output_count_warning) sev = "warning";
    else continue;
    const limit = consts.float32ExpLimit;
    const effect = top > limit
      ? `exp(${f(top, "g")}) overflows float32 (above ${f(limit, ".1f")}), so a softmax ` +
        "over these counts gives Inf/NaN"
      : "a softmax over these counts saturates and its gradients vanish";
    out.push(finding(sev, "output_overflow", st.name,
      `Output spike counts per sample reach ${f(top, "g")} (range [${f(lo, "g")}, ` +
      `${f(hi, "g")}]); used as logits, ${effect}`,
      "Fix the cause, not the symptom: binarise the input and raise the thresholds that " +
      "feed this layer so counts stay within about [0, 50] (log1p, clipping or weight " +
      "decay only hide it)"));
  }
  return out;
}

function checkLossAtChance(layers, loss, th) {
  if (!loss || loss.chance === null || loss.chance === undefined) return [];
  const w = th.loss_chance_window;
  const recent = loss.recent;
  if (recent.length < w) return [];
  const window = recent.subarray(recent.length - w);
  const chance = loss.chance;
  for (const v of window) {
    if (!(Math.abs(v - chance) <= th.loss_chance_tolerance * chance)) return [];
  }
  let sum = 0;
  for (const v of window) sum += v;
  const mean = sum / window.length;
  return [finding("warning", "loss_at_chance", "loss",
    `The loss has sat at ${f(mean, ".3f")}, within ${f(th.loss_chance_tolerance, ".0%")} of ` +
    `ln ${loss.nClasses} = ${f(chance, ".3f")} (chance), for the last ${window.length} ` +
    "records: the outputs carry no class information",
    "Check that the output layer is neither silent nor saturated and that the loss reads " +
    "its spike counts; fix dead or non-binary layers first")];
}

/** The ported rules by category; the rest come from Python as fixed findings. */
export const PORTED = {
  dead_neurons: checkDead,
  saturated_neurons: checkSaturated,
  silent_network: checkSilent,
  voltage_collapse: checkVoltageCollapse,
  gradient_explosion: checkGradientExplosion,
  gradient_vanishing: checkGradientVanishing,
  output_overflow: checkOutputOverflow,
  loss_at_chance: checkLossAtChance,
};

/**
 * Diagnose one selection, like rules.diagnose: findings sorted by severity, then layer
 * order, then rule order. `layers` are the reported layers in recording order.
 */
export function diagnose(layers, loss, th, fixed, consts) {
  const categories = consts.categories;
  const found = [];
  for (const cat of categories) {
    const check = PORTED[cat];
    if (check) found.push(...check(layers, loss, th, consts));
    else found.push(...fixed.filter((p) => p.category === cat));
  }
  const order = new Map(layers.map((s, i) => [s.name, i]));
  const key = (p) => [SEVERITY_RANK[p.severity], order.has(p.layer) ? order.get(p.layer)
    : order.size, categories.indexOf(p.category)];
  return found
    .map((p) => [key(p), p])
    .sort((a, b) => a[0][0] - b[0][0] || a[0][1] - b[0][1] || a[0][2] - b[0][2])
    .map(([, p]) => p);
}
