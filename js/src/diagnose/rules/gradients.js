// The surrogate gradients: exploding, and vanishing from the output back to the input.
// Mirrors Python's spikewidget/diagnose/rules/gradients.py.

import { blockedRoutes } from "../routes.js";
import { isSilent } from "./activity.js";

export function checkGradientExplosion(layers, loss, th, { say }) {
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
function starvesGradients(st, th, text, busiest) {
  const values = { name: st.name, top: st.maxRate, share: st.deadCount / st.n };
  if (isSilent(st, th, busiest)) return text("gradient_vanishing", "why_silent", values);
  if (values.share > th.dead_critical_fraction) {
    return text("gradient_vanishing", "why_dead", values);
  }
  return null;
}

/** Python's gradients.one_step_fall: the index k of the largest fall between neighbours
 * (from withGrads[k + 1] to withGrads[k]) when the RMS stays within flatSpread on each
 * side of it, or -1 (fewer than three layers, an RMS not measured, or a gradual fall). */
function oneStepFall(withGrads, flatSpread) {
  const rms = withGrads.map((s) => s.gradientRmsMean);
  if (rms.length < 3 || !rms.every((r) => r > 0)) return -1;
  let k = 0;
  for (let i = 1; i < rms.length - 1; i++) if (rms[i + 1] / rms[i] > rms[k + 1] / rms[k]) k = i;
  const spread = (xs) => Math.max(...xs) / Math.min(...xs);
  return spread(rms.slice(0, k + 1)) < flatSpread && spread(rms.slice(k + 1)) < flatSpread
    ? k : -1;
}

/** Python's gradients.starving_on_the_way: [name, why] of the layers that starve the
 * gradient between `first` and `last`; by the wiring where known, only when every route
 * from `first` passes one. */
function starvingOnTheWay(layers, first, last, th, text, busiest) {
  const span = layers.slice(layers.indexOf(first), layers.indexOf(last) + 1)
    .filter((s) => s.role !== "input");
  const why = new Map();
  for (const s of span) {
    const w = starvesGradients(s, th, text, busiest);
    if (w !== null) why.set(s.name, w);
  }
  const onRoutes = blockedRoutes(first.name, new Map(span.map((s, i) => [s.name, i])),
    new Map(span.map((s) => [s.name, s.fedBy])), why);
  return span.filter((s) => why.has(s.name) && (onRoutes === null || onRoutes.has(s.name)))
    .map((s) => [s.name, why.get(s.name)]);
}

export function checkGradientVanishing(layers, loss, th, { say, text, consts }) {
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
  const dead = starvingOnTheWay(layers, first, last, th, text,
    consts.rules.silent_network.constants.busiest_share);
  const values = { first: first.name, last: last.name, ratio, a, b, norm_ratio: normRatio };
  values.gap = text("gradient_vanishing", "gap", values);
  if (dead.length === 0) {
    const flat = consts.rules.gradient_vanishing.constants.flat_spread;
    const reached = withGrads.filter((s) => s.gradientRmsMean !== 0); // 0: none arrives
    const k = oneStepFall(reached, flat);
    if (k < 0) {
      return [say("critical", "gradient_vanishing", first.name, "deep", "architecture", values)];
    }
    const below = reached[k];
    const above = reached[k + 1];
    Object.assign(values, { below: below.name, above: above.name, flat,
      jump: above.gradientRmsMean / below.gradientRmsMean });
    return [say("warning", "gradient_vanishing", first.name, "one_step", "one_step", values)];
  }
  const plural = dead.length > 1;
  Object.assign(values, { names: dead.map(([name]) => `'${name}'`).join(" and "),
    whys: dead.map(([, why]) => why).join(" and "), their: plural ? "their" : "its",
    s: plural ? "s" : "" });
  return [say("critical", "gradient_vanishing", first.name, "starved", "wake_first", values)];
}
