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
  return { severity, category, layer, message, fix, epoch, step, cause: null };
}

const FIX_DEAD_CRITICAL =
  "Lower the firing threshold (about 20% at a time) or raise the input gain / weight " +
  "scale; check that input reaches this layer";
const FIX_DEAD_WARNING = "Lower the threshold a little or add noise to the input";

function deadSeverity(st, th) {
  if (st.role === "input") return null;
  const frac = st.deadCount / st.n;
  if (frac > th.dead_critical_fraction) return "critical";
  if (frac > th.dead_warning_fraction) return "warning";
  return null;
}

function checkDead(layers, loss, th) {
  const out = [];
  for (const st of layers) {
    const sev = deadSeverity(st, th);
    if (sev === null || chanceExplainsDead(st, th) !== null) continue;
    const fix = sev === "critical" ? FIX_DEAD_CRITICAL : FIX_DEAD_WARNING;
    const frac = st.deadCount / st.n;
    const what = st.activity
      ? `fire in fewer than ${f(th.dead_rate, ".0%")} of the samples`
      : `fire at a rate below ${f(th.dead_rate, "g")} spikes per step`;
    out.push(finding(sev, "dead_neurons", st.name,
      `${st.deadCount}/${st.n} neurons (${f(frac, ".0%")}) ${what}`, fix));
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

function checkFewObservations(layers, loss, th) {
  const out = [];
  for (const st of layers) {
    if (deadSeverity(st, th) === null) continue;
    const seen = chanceExplainsDead(st, th);
    if (seen === null) continue;
    const [n, p, q, unit] = seen;
    const need = Math.ceil(Math.log(1e-3) / Math.log1p(-p));
    out.push(finding("info", "too_few_observations", st.name,
      `${st.deadCount}/${st.n} neurons (${f(st.deadCount / st.n, ".0%")}) look dead after ` +
      `only ${n} ${unit} each, but at this layer's mean rate (${f(p, ".2g")}) chance alone ` +
      `leaves about ${f(q, ".0%")} of neurons that low: too few ${unit} to call them dead`,
      `Record more steps before judging: about ${need} ${unit} per neuron tell a dead ` +
      "neuron from a quiet one at this rate"));
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
  let before = null; // the layer recorded just before
  for (const st of layers) {
    const top = st.maxRate;
    const feeding = before;
    before = st;
    if (top < th.silent_max_rate) {
      let fix;
      if (st.role === "input") fix = "Check the input encoding: the input is (almost) all zeros";
      else if (feeding !== null && feeding.maxRate >= th.silent_max_rate) {
        fix = `The layer before it ('${feeding.name}') fires, so spikes arrive: lower this ` +
          "layer's firing threshold or raise the weight scale into it";
      } else {
        fix = "Check the input encoding, lower all thresholds, and verify that the input " +
          "data is not all zeros";
      }
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

const FIX_EXPLOSION =
  "Clip gradients (torch.nn.utils.clip_grad_norm_), lower the learning rate, or " +
  "flatten the surrogate-gradient slope";

function checkGradientExplosion(layers, loss, th) {
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
    let message;
    if (growth > limit) {
      const [first, last] = st.gradientGrowthSteps;
      message = "Surrogate-gradient norm grows steadily, " +
        `${f(st.gradientGrowthPerStep, ".3g")}x per step from step ${first} to ${last}: ` +
        `${f(growth, ".3g")}x in all by a log-linear fit (threshold ${f(limit, "g")}x); ` +
        `it peaks at ${f(peak, ".3g")} at step ${st.gradientPeakStep}`;
    } else if (jump > limit && over > limit) {
      message = `Surrogate-gradient norm peaks at ${f(peak, ".3g")} at step ` +
        `${st.gradientPeakStep}, ${f(jump, ".0f")}x the median ${f(base, ".3g")} of its ` +
        `first ${st.gradientBaselineRecords} records and ${f(over, ".0f")}x its geometric ` +
        `mean ${f(typical, ".3g")} (threshold ${f(limit, "g")}x)`;
    } else continue;
    out.push(finding("critical", "gradient_explosion", st.name, message, FIX_EXPLOSION));
  }
  return out;
}

/** Why few gradients pass through a layer (silent, or mostly dead), or null. */
function starvesGradients(st, th) {
  const top = st.maxRate;
  if (top < th.silent_max_rate) {
    return `'${st.name}' is silent (highest firing rate ${f(top, ".2g")})`;
  }
  const frac = st.deadCount / st.n;
  if (frac > th.dead_critical_fraction) return `'${st.name}' has ${f(frac, ".0%")} dead neurons`;
  return null;
}

function checkGradientVanishing(layers, loss, th) {
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
    const why = starvesGradients(s, th);
    if (why !== null) dead.push([s.name, why]);
  }
  const message = `Gradients reaching '${first.name}' are ${f(ratio, ".0f")}x smaller per ` +
    `value (RMS ${f(a, ".3g")} vs ${f(b, ".3g")}) and ${f(normRatio, ".0f")}x smaller in ` +
    `norm than at '${last.name}'`;
  if (dead.length === 0) {
    return [finding("critical", "gradient_vanishing", first.name,
      `${message}: the input-side layers barely learn`,
      "Add skip connections, use an adaptive or wider surrogate gradient, normalise " +
      "layers, or make the network shallower")];
  }
  const names = dead.map(([name]) => `'${name}'`).join(" and ");
  const whys = dead.map(([, why]) => why).join(" and ");
  return [finding("critical", "gradient_vanishing", first.name,
    `${message}, because ${whys}: a layer that seldom fires passes almost no surrogate ` +
    "gradient",
    `Make ${names} fire first (see ${dead.length > 1 ? "their" : "its"} dead_neurons or ` +
    `silent_network finding${dead.length > 1 ? "s" : ""}); the gradients recover with the ` +
    "spikes, so skip connections would not help")];
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
      ? `exp() of counts above ${f(limit, ".1f")} overflows float32, and even a log-softmax ` +
        "(torch's cross_entropy) is saturated by them, so its gradients vanish"
      : "a softmax over these counts saturates and its gradients vanish";
    out.push(finding(sev, "output_overflow", st.name,
      `Output spike counts per sample reach ${f(top, "g")} (range [${f(lo, "g")}, ` +
      `${f(hi, "g")}]). Used as logits, ${effect}${lossSeen(loss)}`,
      "Fix the cause, not the symptom: binarise the input and raise the thresholds that " +
      "feed this layer so counts stay within about [0, 50] (log1p, clipping or weight " +
      "decay only hide it)"));
  }
  return out;
}

function lossSeen(loss) {
  if (!loss || !loss.count) return "";
  if (loss.nonfinite > 0) return "; the recorded loss did become NaN/Inf";
  return `; the recorded loss stayed finite (up to ${f(loss.max, ".3g")})`;
}

function checkLossAtChance(layers, loss, th) {
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
  const mean = sum / window.length;
  return [finding("warning", "loss_at_chance", "loss",
    `The loss has sat at ${f(mean, ".3f")}, within ${f(th.loss_chance_tolerance, ".0%")} of ` +
    `ln ${loss.nClasses} = ${f(chance, ".3f")} (chance), for the last ${window.length} ` +
    "records: the outputs carry no class information",
    "Check that the output layer is neither silent nor saturated and that the loss reads " +
    "its spike counts; fix dead or non-binary layers first", loss.recentEpochs[start])];
}

function checkLayerDied(layers, loss, th) {
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
    const state = last.maxRate < th.silent_max_rate ? "silent"
      : `${f(last.deadFraction, ".0%")} dead`;
    out.push(finding("critical", "layer_died", st.name,
      `Alive in epoch ${was.epoch} (${f(was.deadFraction, ".0%")} dead), dead since epoch ` +
      `${died.epoch} (${f(died.deadFraction, ".0%")} dead); ${state} in epoch ${last.epoch}`,
      `Look at what changed in epoch ${died.epoch}: a learning-rate step, or a gradient spike ` +
      `in this or an earlier layer; resume from a checkpoint of epoch ${was.epoch} with a ` +
      "lower learning rate or gradient clipping", died.epoch));
  }
  return out;
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
  too_few_observations: checkFewObservations,
  layer_died: checkLayerDied,
};

/** Which finding explains which, as Python's causes.CAUSES: [cause, "same"|"earlier"|"any"]. */
const CAUSES = {
  dead_neurons: [["layer_died", "same"], ["silent_network", "same"],
    ["silent_network", "earlier"]],
  silent_network: [["layer_died", "same"], ["silent_network", "earlier"],
    ["dead_neurons", "earlier"]],
  layer_died: [["layer_died", "earlier"]],
  saturated_neurons: [["non_binary_spikes", "same"]],
  output_overflow: [["count_valued_input", "any"], ["non_binary_spikes", "any"]],
  gradient_vanishing: [["silent_network", "any"], ["layer_died", "any"], ["dead_neurons", "any"]],
  loss_at_chance: [["silent_network", "any"], ["layer_died", "any"], ["output_overflow", "any"],
    ["dead_neurons", "any"]],
};

const cmp = (a, b) => a[0] - b[0] || a[1] - b[1] || a[2] - b[2];

/** Python's causes.link_causes: effects name their cause, each root leads its group. */
export function linkCauses(found, order, categories) {
  const pos = (p) => (order.has(p.layer) ? order.get(p.layer) : order.size);
  const key = (p) => [SEVERITY_RANK[p.severity], pos(p), categories.indexOf(p.category)];
  const sorted = found.slice().sort((a, b) => cmp(key(a), key(b)));
  const causeOf = (p) => {
    for (const [category, where] of CAUSES[p.category] || []) {
      for (const c of sorted) {
        if (c === p || c.category !== category || c.layer === "loss") continue;
        if (category === "dead_neurons" && c.severity !== "critical") continue;
        if ((where === "same" && c.layer === p.layer) || (where === "earlier" && pos(c) < pos(p)) ||
            where === "any") return c;
      }
    }
    return null;
  };
  const parent = new Map(found.map((p) => [p, causeOf(p)]));
  const root = (p) => {
    const seen = new Set([p]);
    let c;
    while ((c = parent.get(p)) !== null && !seen.has(c)) {
      seen.add(c);
      p = c;
    }
    return p;
  };
  const groups = new Map();
  for (const p of found) {
    const c = parent.get(p);
    let item = p;
    let r = p;
    if (c !== null && root(c) !== p) {
      r = root(p);
      item = { ...p, cause: `${r.category} @ ${r.layer}`,
        fix: `Follows from ${r.category} at '${r.layer}': fix that first` };
    }
    if (!groups.has(r)) groups.set(r, []);
    groups.get(r).push(item);
  }
  const groupKey = (r) => [Math.min(...groups.get(r).map((m) => SEVERITY_RANK[m.severity])),
    pos(r), SEVERITY_RANK[r.severity], categories.indexOf(r.category)];
  const roots = [...groups.keys()].sort((a, b) => {
    const ka = groupKey(a);
    const kb = groupKey(b);
    return ka[0] - kb[0] || ka[1] - kb[1] || ka[2] - kb[2] || ka[3] - kb[3];
  });
  const out = [];
  for (const r of roots) {
    const members = groups.get(r);
    out.push(...members.filter((m) => m.cause === null));
    out.push(...members.filter((m) => m.cause !== null).sort((a, b) => cmp(key(a), key(b))));
  }
  return out;
}


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
    else found.push(...fixed.filter((p) => p.category === cat).map((p) => ({ ...p, cause: null })));
  }
  const order = new Map(layers.map((s, i) => [s.name, i]));
  return linkCauses(found, order, categories);
}
