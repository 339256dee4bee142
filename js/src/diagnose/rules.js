// The registry of the evaluators of Python's threshold-dependent rules (the twin of
// spikewidget/diagnose/rules/__init__.py), so that a slider move re-diagnoses in the
// browser; the evaluators live in rules/, one module per family as Python's. They compute
// values only: every word comes from the rule's templates in the payload (Python's RULES),
// filled with Python's number formatting. The shared vectors (tests/shared_vectors/) check
// both sides agree word for word. Rules that no slider changes (browser="fixed") come from
// Python ready-made.

import { linkCauses } from "./causes.js";
import { checkDead, checkFewObservations, checkLayerDied, checkSaturated, checkSilent }
  from "./rules/activity.js";
import { speaker } from "./rules/base.js";
import { checkDepthFade } from "./rules/depth.js";
import { checkGradientExplosion, checkGradientVanishing } from "./rules/gradients.js";
import { checkLossAtChance } from "./rules/loss.js";
import { checkOutputOverflow } from "./rules/values.js";
import { checkVoltageCollapse } from "./rules/voltages.js";

export { binomialBelow } from "./rules/activity.js";
export { speaker };

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
 * carries the payload's rules (templates, constants), causes, follows and gone.
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
  const fedBy = new Map(layers.filter((s) => Array.isArray(s.fedBy)).map((s) => [s.name, s.fedBy]));
  return linkCauses(found, order, categories, consts.causes, consts.follows,
    consts.gone, fedBy);
}
