// The browser holds no words and no rule list of its own: it evaluates the rules Python
// marks "rejudged", with the templates Python sends, and refuses to load otherwise.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { formatTemplate } from "../../js/src/diagnose/pyformat.js";
import { checkEvaluators, EVALUATORS } from "../../js/src/diagnose/rules.js";
import { createSession } from "../../js/src/session.js";
import { localModel } from "../../js/src/standalone.js";

const payload = JSON.parse(readFileSync(new URL("../shared_vectors/vectors.json", import.meta.url),
  "utf8")).payload;
const RULES = payload.meta.rules;

test("every rule Python re-judges has an evaluator, and no evaluator lacks a rule", () => {
  checkEvaluators(RULES);
  const rejudged = Object.keys(RULES).filter((c) => RULES[c].browser === "rejudged").sort();
  assert.deepEqual(Object.keys(EVALUATORS).sort(), rejudged);
});

test("a payload with a re-judged rule the browser cannot evaluate fails at load", () => {
  const meta = { ...payload.meta, rules: { ...RULES,
    rate_cliff: { messages: { m: "x" }, fixes: { f: "y" }, browser: "rejudged" } } };
  assert.throws(() => createSession(localModel({ _base: { ...payload, meta } })),
    /no evaluator for rate_cliff/);
  const { dead_neurons: _gone, ...fewer } = RULES;
  assert.throws(() => checkEvaluators(fewer), /without a re-judged rule: dead_neurons/);
  assert.throws(() => checkEvaluators(undefined), /carries no rules/);
});

test("templates fill as Python's str.format_map does", () => {
  assert.equal(formatTemplate("{n}/{m} ({s:.0%}) below {r:g} {{x}}", { n: 3, m: 40, s: 0.075,
    r: 0.01 }), "3/40 (8%) below 0.01 {x}");
  assert.equal(formatTemplate("'{name}' is {top:.2g}", { name: "{a}", top: 1e-7 }),
    "'{a}' is 1e-07");
  assert.throws(() => formatTemplate("{missing}", {}), /has no value/);
});
