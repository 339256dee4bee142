// How much each layer fires: dead, saturated and silent layers, a layer that died, and too
// few observations to tell. Mirrors Python's spikewidget/diagnose/rules/activity.py.

function deadSeverity(st, th) {
  if (st.role === "input") return null;
  const frac = st.deadCount / st.n;
  if (frac > th.dead_critical_fraction) return "critical";
  if (frac > th.dead_warning_fraction) return "warning";
  return null;
}

export function checkDead(layers, loss, th, { say }) {
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

/** Python's activity._chance_explains_dead: [n, p, q, unit] or null. */
function chanceExplainsDead(st, th) {
  if (!st.activity) return chanceExplains(st, th, false);
  const seen = chanceExplains(st, th, true);
  return seen === null && st.role !== "output" ? chanceExplains(st, th, false) : seen;
}

/** Python's activity._chance_explains: one model, per sample or per observation. */
function chanceExplains(st, th, bySamples) {
  let n;
  let p;
  let unit;
  let counts;
  let perSample;
  if (bySamples && st.activity) {
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

export function checkFewObservations(layers, loss, th, { say }) {
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

export function checkSaturated(layers, loss, th, { say }) {
  const out = [];
  for (const st of layers) {
    if (st.role === "input" || !(st.satCount / st.n > th.saturated_warning_fraction)) continue;
    const values = { saturated: st.satCount, n: st.n, share: st.satCount / st.n };
    const full = st.fullness;
    if (!full || !Number.isFinite(st.ceiling)) {
      out.push(say("warning", "saturated_neurons", st.name, "rate", "sparse", values));
      continue;
    }
    let total = 0;
    for (let i = 0; i < full.length; i++) total += full[i];
    let events = 0;
    for (let i = 0; i < st.counts.length; i++) events += st.counts[i];
    const mean = total / full.length;
    Object.assign(values, { ceiling: st.ceiling, fullness: mean, per_step: mean * st.ceiling,
      per_event: events ? total * st.nObs * st.ceiling / events : 0 });
    out.push(say("warning", "saturated_neurons", st.name, "ceiling", "ceiling", values));
  }
  return out;
}

/**
 * Python's activity.is_silent: the highest rate below silent_max_rate and, where the
 * per-sample activity is known, the busiest neuron firing in fewer than `busiest` (the
 * rule's busiest_share) of the samples.
 */
export function isSilent(st, th, busiest) {
  if (!(st.maxRate < th.silent_max_rate)) return false;
  if (!st.activity) return true;
  let top = -Infinity;
  for (let i = 0; i < st.activity.length; i++) if (st.activity[i] > top) top = st.activity[i];
  return top < busiest;
}

export function checkSilent(layers, loss, th, { say, consts }) {
  const { no_drive_tolerance: tolerance, busiest_share: busiest } =
    consts.rules.silent_network.constants;
  const out = [];
  const fires = new Map(layers.map((st) => [st.name, !isSilent(st, th, busiest)]));
  let before = null; // the layer recorded just before
  for (const st of layers) {
    const top = st.maxRate;
    const feeding = before;
    before = st;
    if (!fires.get(st.name)) {
      // a firing layer that feeds it: by the wiring where known, else the one before
      const wired = Array.isArray(st.fedBy);
      const firing = wired ? [...fires.keys()].filter((f) => fires.get(f) && st.fedBy.includes(f))
        : feeding !== null && fires.get(feeding.name) ? [feeding.name] : [];
      const values = { top, before: firing.length ? firing[0] : "" };
      const membrane = st.role === "input" ? null : shortOfThreshold(st, tolerance);
      let fix = "unknown";
      if (st.role === "input") fix = "input";
      else if (membrane !== null) {
        fix = membrane.fix;
        Object.assign(values, membrane.levels);
      } else if (firing.length) {
        fix = wired ? "fed_by_firing" : "behind_firing";
        if (!st.hasVoltages) fix += "_unmeasured"; // whether the membrane rises: unmeasured
      }
      out.push(say("critical", "silent_network", st.name,
        membrane === null ? "top" : "top_membrane", fix, values));
    }
  }
  return out;
}

/** Python's short_of_threshold: why a membrane never reached its threshold, or null. */
function shortOfThreshold(st, tolerance) {
  const { threshold, rest, voltageMax: peak } = st;
  if (!Number.isFinite(threshold) || !Number.isFinite(rest) || !st.hasVoltages ||
      !Number.isFinite(peak) || !(rest < threshold) || peak >= threshold ||
      st.maxRate > 0) return null; // a layer that fired reached its threshold
  const levels = { peak, threshold, rest };
  if (peak <= rest + tolerance * (threshold - rest)) {
    // only voltages measured along time can show that the membrane never rose
    const spread = st.voltageTimeStd;
    return spread && spread.some(Number.isFinite) ? { fix: "no_drive", levels } : null;
  }
  return { fix: "below_threshold",
    levels: { ...levels, gain: (threshold - rest) / (peak - rest) } };
}

export function checkLayerDied(layers, loss, th, { say, text }) {
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
