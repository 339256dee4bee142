// What the rule evaluators share, as Python's spikewidget/diagnose/rules/base.py: a finding
// and the speaker whose text(...) and say(...) fill the rule templates the payload carries.

import { formatTemplate } from "../pyformat.js";

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
