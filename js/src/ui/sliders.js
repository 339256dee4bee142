// Threshold sliders, one per rule constant, made from Thresholds.slider_specs().
// Moving one calls back at once (the browser re-diagnoses); releasing it commits the value
// to the model, which syncs it to Python's widget.thresholds.

import { h } from "../views/dom.js";

export const STEPS = 1000;

/** Slider position (0..STEPS) of a value. */
export function toPosition(spec, value) {
  const t = spec.log
    ? (Math.log(value) - Math.log(spec.min)) / (Math.log(spec.max) - Math.log(spec.min))
    : (value - spec.min) / (spec.max - spec.min);
  return Math.round(Math.min(1, Math.max(0, t)) * STEPS);
}

/** The value at a slider position, rounded to what a person would type. */
export function fromPosition(spec, pos) {
  const t = Math.min(STEPS, Math.max(0, Number(pos))) / STEPS;
  if (spec.integer) {
    const v = spec.log ? Math.exp(Math.log(spec.min) + t * (Math.log(spec.max) - Math.log(spec.min)))
      : spec.min + t * (spec.max - spec.min);
    return Math.round(v);
  }
  if (spec.log) {
    const v = Math.exp(Math.log(spec.min) + t * (Math.log(spec.max) - Math.log(spec.min)));
    return Number(v.toPrecision(3));
  }
  return Number((spec.min + t * (spec.max - spec.min)).toFixed(3));
}

/**
 * `value` for constant `name`, clamped so that every (low, high, strict) pair of `order`
 * still holds against the other current values (Python's Thresholds would refuse it).
 */
export function constrain(values, name, value, order) {
  let v = value;
  for (const [low, high, strict] of order) {
    if (name === low) {
      const lim = values[high];
      if (v > lim || (strict && v >= lim)) v = strict ? Number((lim * 0.999).toPrecision(6)) : lim;
    } else if (name === high) {
      const lim = values[low];
      if (v < lim || (strict && v <= lim)) v = strict ? Number((lim * 1.001).toPrecision(6)) : lim;
    }
  }
  return v;
}

function show(spec, v) {
  if (spec.integer) return String(v);
  return v !== 0 && Math.abs(v) < 1e-3 ? v.toExponential(2).replace(/\.?0+e/, "e")
    : String(Number(v.toPrecision(4)));
}

/** Whether `v` is the spec's default (as shown: a slider position rounds). */
export function isDefault(spec, v) {
  return show(spec, v) === show(spec, spec.default);
}

/**
 * Build the slider panel into `el`: each label in plain words, the rule it tunes and its
 * technical name as the tooltip; a slider away from its default is marked. onInput(values)
 * fires on every move, onCommit(values) when a move ends, onMarks(n) with the number of
 * changed sliders. Returns {set(values), values, changed()} to move the sliders from outside.
 */
export function renderSliders(el, specs, order, initial, { onInput, onCommit, onMarks = () => {} }) {
  let values = { ...initial };
  const rows = new Map();
  const mark = () => {
    let n = 0;
    for (const spec of specs) {
      const row = rows.get(spec.name);
      const changed = !isDefault(spec, values[spec.name]);
      row.el.classList.toggle("sw-changed", changed);
      row.el.dataset.changed = String(changed);
      row.dot.textContent = changed ? "\u25CF" : "";
      row.dot.title = changed ? `changed (default ${show(spec, spec.default)})` : "";
      if (changed) n += 1;
    }
    onMarks(n);
    return n;
  };
  const update = (name, raw, commit) => {
    const spec = specs.find((s) => s.name === name);
    let v = Number(raw);
    if (!Number.isFinite(v)) v = values[name];
    v = Math.min(spec.max, Math.max(spec.min, spec.integer ? Math.round(v) : v));
    v = constrain(values, name, v, order);
    values = { ...values, [name]: v };
    const row = rows.get(name);
    row.range.value = String(toPosition(spec, v));
    if (document.activeElement !== row.number || commit) row.number.value = show(spec, v);
    mark();
    onInput(values, name);
    if (commit) onCommit(values, name);
  };
  for (const spec of specs) {
    const id = `sw-${spec.name}-${Math.random().toString(36).slice(2, 8)}`;
    const range = h("input", "sw-range");
    Object.assign(range, { type: "range", min: "0", max: String(STEPS), step: "1", id });
    range.dataset.name = spec.name;
    range.value = String(toPosition(spec, values[spec.name]));
    const number = h("input", "sw-number");
    Object.assign(number, { type: "number", step: "any", min: String(spec.min),
      max: String(spec.max) });
    number.dataset.name = spec.name;
    number.value = show(spec, values[spec.name]);
    const plain = spec.plain || spec.label;
    number.setAttribute("aria-label", plain);
    const label = h("label", "sw-slider-label", plain);
    label.htmlFor = id;
    const tip = `${spec.rule ? `rule: ${spec.rule}` : ""} \u00B7 ${spec.name} (${spec.label}); ` +
      `default ${show(spec, spec.default)}`;
    label.title = tip;
    range.title = tip;
    const dot = h("span", "sw-changed-dot", "");
    range.addEventListener("input", () => update(spec.name, fromPosition(spec, range.value), false));
    range.addEventListener("change", () => update(spec.name, fromPosition(spec, range.value), true));
    number.addEventListener("change", () => update(spec.name, number.value, true));
    const row = h("div", "sw-slider", null, label, range, number, dot);
    row.dataset.name = spec.name;
    rows.set(spec.name, { range, number, dot, el: row });
    el.appendChild(row);
  }
  mark();
  return {
    set(next) {
      values = { ...values, ...next };
      for (const spec of specs) {
        const row = rows.get(spec.name);
        row.range.value = String(toPosition(spec, values[spec.name]));
        if (document.activeElement !== row.number) row.number.value = show(spec, values[spec.name]);
      }
      mark();
    },
    get values() {
      return values;
    },
    changed: mark,
  };
}
