// A neuron's class under the thresholds on screen (dead, healthy, saturated) and the
// counts of a layer, as Python classifies them; numpy's NaN-aware max.

export const HEALTHY = 0;
export const DEAD = 1;
export const SATURATED = 2;
export const CLASS_NAMES = ["healthy", "dead", "saturated"];

/**
 * Class of one neuron: dead below dead_rate, saturated above saturated_rate (NaN:
 * healthy). An analog layer's neurons (graded: "analog") are non-zero by nature: never
 * saturated, as in Python's stats.layer_stats.
 */
export function classifyRate(rate, th, analog = false) {
  if (rate < th.dead_rate) return DEAD;
  if (!analog && rate > th.saturated_rate) return SATURATED;
  return HEALTHY;
}

/**
 * Dead and saturated counts of one layer view. An output layer (`activity` given: the
 * share of samples in which each neuron fired) is dead where it fires in fewer than
 * dead_rate of the samples, as in Python's stats.judge_output_by_samples.
 */
export function layerClasses(entry, th) {
  const { dead, sat } = countClasses(entry.rates, th, entry.graded === "analog");
  if (!entry.activity) return { dead, sat };
  let d = 0;
  for (let i = 0; i < entry.activity.length; i++) if (entry.activity[i] < th.dead_rate) d++;
  return { dead: d, sat };
}

/** Dead and saturated counts over a rate array (the hot loop of a slider move). */
export function countClasses(rates, th, analog = false) {
  const lo = th.dead_rate;
  const hi = analog ? Infinity : th.saturated_rate;
  let dead = 0;
  let sat = 0;
  for (let i = 0; i < rates.length; i++) {
    const r = rates[i];
    if (r < lo) dead++;
    else if (r > hi) sat++;
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
