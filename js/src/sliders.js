// Threshold sliders, one per rule constant, made from Thresholds.slider_specs().
// Moving one calls back at once (the browser re-diagnoses); releasing it commits the value
// to the model, which syncs it to Python's widget.thresholds.

import { h } from "./dom.js";

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

/**
 * Build the slider panel into `el`. onInput(values) fires on every move, onCommit(values)
 * when a move ends. Returns {set(values)} to move the sliders from outside.
 */
export function renderSliders(el, specs, order, initial, { onInput, onCommit }) {
  let values = { ...initial };
  const rows = new Map();
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
    number.setAttribute("aria-label", spec.label);
    const label = h("label", "sw-slider-label", spec.label);
    label.htmlFor = id;
    range.addEventListener("input", () => update(spec.name, fromPosition(spec, range.value), false));
    range.addEventListener("change", () => update(spec.name, fromPosition(spec, range.value), true));
    number.addEventListener("change", () => update(spec.name, number.value, true));
    rows.set(spec.name, { range, number });
    el.appendChild(h("div", "sw-slider", null, label, range, number));
  }
  return {
    set(next) {
      values = { ...values, ...next };
      for (const spec of specs) {
        const row = rows.get(spec.name);
        row.range.value = String(toPosition(spec, values[spec.name]));
        if (document.activeElement !== row.number) row.number.value = show(spec, values[spec.name]);
      }
    },
    get values() {
      return values;
    },
  };
}
