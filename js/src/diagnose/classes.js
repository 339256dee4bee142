// A neuron's class under the thresholds on screen (dead, healthy, saturated) and the
// counts of a layer, as Python classifies them; numpy's NaN-aware max.

export const HEALTHY = 0;
export const DEAD = 1;
export const SATURATED = 2;
export const CLASS_NAMES = ["healthy", "dead", "saturated"];

/**
 * Class of one neuron: dead below dead_rate, saturated when its saturation level (see
 * saturationLevels) is above saturated_rate (NaN: healthy); `level` null: never
 * saturated.
 */
export function classifyRate(rate, th, level = rate) {
  if (rate < th.dead_rate) return DEAD;
  if (level !== null && level > th.saturated_rate) return SATURATED;
  return HEALTHY;
}

/**
 * Per neuron, what saturated_rate is compared with, as Python's
 * stats.saturation_levels: a binary layer's rates; a graded layer's fullness (its mean
 * output per step over its ceiling), null when the ceiling is unknown; null for an
 * analog layer (never saturated).
 */
export function saturationLevels(entry) {
  if (entry.graded === "analog") return null;
  if (entry.graded) return entry.fullness || null;
  return entry.rates;
}

/**
 * Dead and saturated counts of one layer view. An output layer (`activity` given: the
 * share of samples in which each neuron fired) is dead where it fires in fewer than
 * dead_rate of the samples, as in Python's stats.judge_output_by_samples.
 */
export function layerClasses(entry, th) {
  const { dead, sat } = countClasses(entry.rates, th, saturationLevels(entry));
  if (!entry.activity) return { dead, sat };
  let d = 0;
  for (let i = 0; i < entry.activity.length; i++) if (entry.activity[i] < th.dead_rate) d++;
  return { dead: d, sat };
}

/**
 * Dead and saturated counts over a rate array (the hot loop of a slider move);
 * `levels` (default the rates; null: none saturated) are judged saturated.
 */
export function countClasses(rates, th, levels = rates) {
  const lo = th.dead_rate;
  const hi = th.saturated_rate;
  let dead = 0;
  let sat = 0;
  for (let i = 0; i < rates.length; i++) {
    if (rates[i] < lo) dead++;
    else if (levels !== null && levels[i] > hi) sat++;
  }
  return { dead, sat };
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
