// The evaluators of spikewidget/rules.py's threshold-dependent rules, so that a slider
// move re-diagnoses in the browser. They compute values only: every word comes from the
// rule's templates in the payload (Python's RULES), filled with Python's number
// formatting. The shared vectors (tests/shared_vectors/) check both sides agree word for
// word. Rules that no slider changes (browser="fixed") come from Python ready-made.

import { linkCauses } from "./causes.js";
import { formatTemplate } from "./pyformat.js";

const pyMax = (a, b) => (b > a ? b : a);

function finding(severity, category, layer, message, fix, epoch = null, step = null) {
  return { severity, category, layer, message, fix, epoch, step, cause: null };
}

/**
 * The words of the rules, from the payload (Python's rules.RULES: templates by key):
 * text(category, key, values, fix) fills one; say(...) makes a finding whose message and
 * fix are templates filled with the thresholds and the measured values.
 */
export function speaker(rules, th) {
  const text = (category, key, values, fix = false) => {
    const rule = rules[category];
    const template = rule && (fix ? rule.fixes : rule.messages)[key];
    if (template === undefined) {
      throw new Error(`spikewidget: rule ${category} has no ${fix ? "fix" : "message"} '${key}'`);
    }
    return formatTemplate(template, values);
  };
  const say = (severity, category, layer, message, fix, values, epoch = null, step = null) => {
    const all = { ...th, ...values };
    return finding(severity, category, layer, text(category, message, all),
      text(category, fix, all, true), epoch, step);
  };
  return { text, say };
}

function deadSeverity(st, th) {
  if (st.role === "input") return null;
  const frac = st.deadCount / st.n;
  if (frac > th.dead_critical_fraction) return "critical";
  if (frac > th.dead_warning_fraction) return "warning";
  return null;
}

function checkDead(layers, loss, th, { say }) {
  const out = [];
  for (const st of layers) {
    const sev = deadSeverity(st, th);
    if (sev === null || chanceExplainsDead(st, th) !== null) continue;
    out.push(say(sev, "dead_neurons", st.name, st.activity ? "samples" : "rate", sev,
      { dead: st.deadCount, n: st.n, share: st.deadCount / st.n }));
  }
  return out;
}

const CHANCE_MARGIN = 3.0;

function mean(a) {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i];
  return s / a.length;
}

/** Python's rules._chance_explains_dead: [n, p, q, unit] or null. */
function chanceExplainsDead(st, th) {
  let n;
  let p;
  let unit;
  let counts;
  let perSample;
  if (st.activity) {
    [n, p, unit] = [st.countSamples, mean(st.activity), "samples"];
    [counts, perSample] = [st.activeSamples, 1];
  } else {
    [n, p, unit] = [st.nObs, mean(st.rates), "observations"];
    counts = st.counts;
    perSample = st.nSamples ? Math.max(1, n / st.nSamples) : 1;
  }
  if (!(th.dead_rate <= p && p < 1) || n <= 0) return null;
  const limit = th.dead_rate * n;
  const low = Math.ceil(limit) - 1;
  let barely = 0;
  for (let i = 0; i < counts.length; i++) {
    if (counts[i] > low && counts[i] <= low + perSample) barely++;
  }
  const q = Math.max(binomialBelow(n, p, limit), barely / st.n);
  const expected = st.n * q;
  if (st.deadCount > expected + CHANCE_MARGIN * Math.sqrt(expected * (1 - q)) + 1) return null;
  return [n, p, q, unit];
}

/** P(X < limit) for X ~ Binomial(n, p), as Python's rules.binomial_below. */
export function binomialBelow(n, p, limit) {
  const kMax = Math.ceil(limit) - 1;
  if (kMax < 0) return 0;
  if (kMax >= n) return 1;
  if (kMax > 1000) {
    const sd = Math.sqrt(n * p * (1 - p));
    return 0.5 * erfc(-((kMax + 0.5) - n * p) / (sd * Math.sqrt(2)));
  }
  let logTerm = n * Math.log1p(-p);
  const step = Math.log(p) - Math.log1p(-p);
  let total = 0;
  for (let k = 0; k <= kMax; k++) {
    total += Math.exp(logTerm);
    logTerm += Math.log((n - k) / (k + 1)) + step;
  }
  return Math.min(total, 1);
}

/** Complementary error function (Numerical Recipes' erfcc, |error| < 1.2e-7). */
function erfc(x) {
  const z = Math.abs(x);
  const t = 1 / (1 + 0.5 * z);
  const r = t * Math.exp(-z * z - 1.26551223 + t * (1.00002368 + t * (0.37409196 +
    t * (0.09678418 + t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 +
    t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))));
  return x >= 0 ? r : 2 - r;
}

function checkFewObservations(layers, loss, th, { say }) {
  const out = [];
  for (const st of layers) {
    if (deadSeverity(st, th) === null) continue;
    const seen = chanceExplainsDead(st, th);
    if (seen === null) continue;
    const [n, p, q, unit] = seen;
    const need = Math.ceil(Math.log(1e-3) / Math.log1p(-p));
    out.push(say("info", "too_few_observations", st.name, "chance", "record_more",
      { dead: st.deadCount, n: st.n, share: st.deadCount / st.n, seen: n, unit, p, q, need }));
  }
  return out;
}

function checkSaturated(layers, loss, th, { say }) {
  return layers
    .filter((st) => st.role !== "input" && st.satCount / st.n > th.saturated_warning_fraction)
    .map((st) => say("warning", "saturated_neurons", st.name, "rate", "sparse",
      { saturated: st.satCount, n: st.n, share: st.satCount / st.n }));
}

function checkSilent(layers, loss, th, { say }) {
  const out = [];
  let before = null; // the layer recorded just before
  for (const st of layers) {
    const top = st.maxRate;
    const feeding = before;
    before = st;
    if (top < th.silent_max_rate) {
      let fix = "unknown";
      if (st.role === "input") fix = "input";
      else if (feeding !== null && feeding.maxRate >= th.silent_max_rate) fix = "behind_firing";
      out.push(say("critical", "silent_network", st.name, "top", fix,
        { top, before: feeding ? feeding.name : "" }));
    }
  }
  return out;
}

// Neurons whose voltage is frozen in time (per-neuron std over time below
// voltage_collapse_std), as Python's check_voltage_collapse.
function checkVoltageCollapse(layers, loss, th, { say }) {
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
    out.push(say("warning", "voltage_collapse", st.name, "frozen", "current",
      { frozen, known, share: frozen / known, steps: st.nSteps, mean: st.voltageMean }));
  }
  return out;
}

function checkGradientExplosion(layers, loss, th, { say }) {
  const out = [];
  const limit = th.gradient_explosion_ratio;
  for (const st of layers) {
    if (st.gradientSteps < 2) continue;
    const base = st.gradientBaseline;
    const peak = st.gradientNormMax;
    const growth = st.gradientGrowth;
    const typical = st.gradientGeomean;
    const jump = base > 0 ? peak / base : NaN;
    const over = typical > 0 ? peak / typical : NaN;
    const values = { peak, peak_step: st.gradientPeakStep };
    let message;
    if (growth > limit) {
      const [first, last] = st.gradientGrowthSteps;
      message = "growth";
      Object.assign(values, { per_step: st.gradientGrowthPerStep, first, last, growth });
    } else if (jump > limit && over > limit) {
      message = "peak";
      Object.assign(values, { jump, base, records: st.gradientBaselineRecords, over, typical });
    } else continue;
    out.push(say("critical", "gradient_explosion", st.name, message, "clip", values));
  }
  return out;
}

/** Why few gradients pass through a layer (silent, or mostly dead), or null. */
function starvesGradients(st, th, text) {
  const values = { name: st.name, top: st.maxRate, share: st.deadCount / st.n };
  if (st.maxRate < th.silent_max_rate) return text("gradient_vanishing", "why_silent", values);
  if (values.share > th.dead_critical_fraction) {
    return text("gradient_vanishing", "why_dead", values);
  }
  return null;
}

function checkGradientVanishing(layers, loss, th, { say, text }) {
  const withGrads = layers.filter((s) => s.role !== "input" && s.gradientSteps > 0);
  if (withGrads.length < 2) return [];
  const first = withGrads[0];
  const last = withGrads[withGrads.length - 1];
  const a = first.gradientRmsMean;
  const b = last.gradientRmsMean;
  if (!(b > 0 && a >= 0)) return [];
  const ratio = a > 0 ? b / a : Infinity;
  const na = first.gradientNormMean;
  const nb = last.gradientNormMean;
  const normRatio = na > 0 ? nb / na : Infinity;
  if (Math.min(ratio, normRatio) <= th.gradient_vanishing_ratio) return [];
  const lo = layers.indexOf(first);
  const hi = layers.indexOf(last);
  const dead = [];
  for (const s of layers.slice(lo, hi + 1)) {
    if (s.role === "input") continue;
    const why = starvesGradients(s, th, text);
    if (why !== null) dead.push([s.name, why]);
  }
  const values = { first: first.name, last: last.name, ratio, a, b, norm_ratio: normRatio };
  values.gap = text("gradient_vanishing", "gap", values);
  if (dead.length === 0) {
    return [say("critical", "gradient_vanishing", first.name, "deep", "architecture", values)];
  }
  const plural = dead.length > 1;
  Object.assign(values, { names: dead.map(([name]) => `'${name}'`).join(" and "),
    whys: dead.map(([, why]) => why).join(" and "), their: plural ? "their" : "its",
    s: plural ? "s" : "" });
  return [say("critical", "gradient_vanishing", first.name, "starved", "wake_first", values)];
}

function checkOutputOverflow(layers, loss, th, { say, text, consts }) {
  const out = [];
  for (const st of layers) {
    if (!st.countRange) continue; // Python sends a range for output layers only
    const [lo, hi] = st.countRange;
    const top = pyMax(Math.abs(lo), Math.abs(hi));
    let sev;
    if (top > th.output_count_critical) sev = "critical";
    else if (top > th.output_count_warning) sev = "warning";
    else continue;
    const limit = consts.rules.output_overflow.constants.float32_exp_limit;
    const values = { top, lo, hi, limit };
    if (loss && loss.count) values.loss_max = loss.max;
    values.effect = text("output_overflow", top > limit ? "float32" : "softmax", values);
    values.seen = !loss || !loss.count ? ""
      : text("output_overflow", loss.nonfinite > 0 ? "loss_nan" : "loss_finite", values);
    out.push(say(sev, "output_overflow", st.name, "counts", "cause", values));
  }
  return out;
}

function checkLossAtChance(layers, loss, th, { say }) {
  if (!loss || loss.chance === null || loss.chance === undefined) return [];
  const w = th.loss_chance_window;
  const recent = loss.recent;
  if (recent.length < w) return [];
  const chance = loss.chance;
  const near = Array.from(recent, (v) => Math.abs(v - chance) <= th.loss_chance_tolerance * chance);
  for (let i = recent.length - w; i < recent.length; i++) if (!near[i]) return [];
  let start = near.length;
  while (start > 0 && near[start - 1]) start--;
  const window = recent.subarray(recent.length - w);
  let sum = 0;
  for (const v of window) sum += v;
  return [say("warning", "loss_at_chance", "loss", "chance", "outputs_first",
    { mean: sum / window.length, classes: loss.nClasses, chance, records: window.length },
    loss.recentEpochs[start])];
}

function checkLayerDied(layers, loss, th, { say, text }) {
  const out = [];
  for (const st of layers) {
    const hist = st.perEpoch || [];
    if (st.role === "input" || hist.length < 2) continue;
    const gone = hist.map((h) => h.deadFraction > th.dead_critical_fraction ||
      h.maxRate < th.silent_max_rate);
    if (!gone[gone.length - 1]) continue;
    let onset = gone.length - 1;
    while (onset > 0 && gone[onset - 1]) onset--;
    if (onset === 0) continue;
    const was = hist[onset - 1];
    const died = hist[onset];
    const last = hist[hist.length - 1];
    const values = { was: was.epoch, was_dead: was.deadFraction, died: died.epoch,
      died_dead: died.deadFraction, last: last.epoch, last_dead: last.deadFraction };
    values.state = text("layer_died", last.maxRate < th.silent_max_rate ? "silent" : "dead",
      values);
    out.push(say("critical", "layer_died", st.name, "died", "resume", values, died.epoch));
  }
  return out;
}

/** Python's rules.mean_rate: spikes per neuron per observation (exact for whole counts). */
function meanRate(st) {
  let sum = 0;
  for (let i = 0; i < st.counts.length; i++) sum += st.counts[i];
  return sum / (Math.max(st.nObs, 1) * st.n);
}


// Python's check_depth_fade: the mean rate falls at every one of >= 3 spiking layers in a
// row until one fires below dead_rate, by more than depth_fade_ratio over the run.
function checkDepthFade(layers, loss, th, { say, text, consts }) {
  const { min_layers: minLayers, step } = consts.rules.rate_fades_with_depth.constants;
  const spiking = layers.filter((s) => s.role !== "input" && !s.graded && s.isBinary && s.n > 0);
  const rates = spiking.map(meanRate);
  const out = [];
  let start = 0;
  while (start < spiking.length) {
    let stop = start;
    while (stop + 1 < spiking.length && rates[stop + 1] * step < rates[stop]) {
      stop++;
    }
    let end = -1;
    for (let k = start; k <= stop && end < 0; k++) if (rates[k] < th.dead_rate) end = k;
    if (end >= 0 && end - start + 1 >= minLayers) {
      const ratio = rates[stop] > 0 ? rates[start] / rates[stop] : Infinity;
      if (ratio > th.depth_fade_ratio) {
        const chain = spiking.slice(start, stop + 1)
          .map((s, k) => text("rate_fades_with_depth", "link", { name: s.name, rate: rates[start + k] }))
          .join(" → ");
        out.push(say("critical", "rate_fades_with_depth", spiking[end].name,
          rates[stop] === 0 ? "to_zero" : "fading", "normalise",
          { ratio, layers: stop - start + 1, chain }));
      }
    }
    start = stop + 1;
  }
  return out;
}

/**
 * The evaluators of the rules a slider re-judges, by category: each computes the values
 * its rule's templates name. Python's rules marked browser="fixed" have none: their
 * findings come ready-made.
 */
export const EVALUATORS = {
  dead_neurons: checkDead,
  saturated_neurons: checkSaturated,
  silent_network: checkSilent,
  voltage_collapse: checkVoltageCollapse,
  gradient_explosion: checkGradientExplosion,
  gradient_vanishing: checkGradientVanishing,
  output_overflow: checkOutputOverflow,
  loss_at_chance: checkLossAtChance,
  too_few_observations: checkFewObservations,
  layer_died: checkLayerDied,
  rate_fades_with_depth: checkDepthFade,
};

/**
 * Throws unless every rule Python marks "rejudged" has an evaluator here and every
 * evaluator has a rule: a missing port must fail at load, never drop findings silently.
 */
export function checkEvaluators(rules) {
  if (!rules || typeof rules !== "object") {
    throw new Error("spikewidget: the payload carries no rules (meta.rules)");
  }
  const rejudged = Object.keys(rules).filter((c) => rules[c].browser === "rejudged");
  const missing = rejudged.filter((c) => !(c in EVALUATORS));
  const stray = Object.keys(EVALUATORS).filter((c) => !rejudged.includes(c));
  if (missing.length || stray.length) {
    throw new Error("spikewidget: the widget's rule evaluators do not match Python's rules" +
      (missing.length ? `; no evaluator for ${missing.join(", ")}` : "") +
      (stray.length ? `; evaluators without a re-judged rule: ${stray.join(", ")}` : ""));
  }
}

/**
 * Diagnose one selection, like rules.diagnose: findings sorted by severity, then layer
 * order, then rule order. `layers` are the reported layers in recording order; `consts`
 * carries the payload's rules (templates, constants), causes and follows.
 */
export function diagnose(layers, loss, th, fixed, consts) {
  const { categories, rules } = consts;
  const ctx = { ...speaker(rules, th), consts };
  const found = [];
  for (const cat of categories) {
    if (rules[cat].browser === "rejudged") found.push(...EVALUATORS[cat](layers, loss, th, ctx));
    else found.push(...fixed.filter((p) => p.category === cat).map((p) => ({ ...p, cause: null })));
  }
  const order = new Map(layers.map((s, i) => [s.name, i]));
  return linkCauses(found, order, categories, consts.causes, consts.follows);
}
