// Python's float formatting (format specs "g", ".2g", ".3e", ".1f", ".0%") in JavaScript,
// digit for digit: the rules' messages are built on both sides and must read the same.
// Python rounds the exact binary value half-to-even; so does this (via BigInt digits).

/** Exact decimal digits of a finite x > 0: x = BigInt(digits) * 10^exp10. */
function exactDecimal(x) {
  const view = new DataView(new ArrayBuffer(8));
  view.setFloat64(0, x);
  const hi = view.getUint32(0);
  const lo = view.getUint32(4);
  const expBits = (hi >>> 20) & 0x7ff;
  let mant = (BigInt(hi & 0xfffff) << 32n) | BigInt(lo);
  let e2;
  if (expBits === 0) {
    e2 = -1074;
  } else {
    mant |= 1n << 52n;
    e2 = expBits - 1075;
  }
  if (e2 >= 0) return { digits: (mant << BigInt(e2)).toString(), exp10: 0 };
  return { digits: (mant * 5n ** BigInt(-e2)).toString(), exp10: e2 };
}

/** Round digits*10^exp10 to a multiple of 10^q, half to even; returns the multiple. */
function roundAt(digits, exp10, q) {
  const n = digits.length;
  const keep = exp10 + n - q; // how many leading digits survive
  if (keep >= n) return BigInt(digits) * 10n ** BigInt(keep - n);
  if (keep < 0) return 0n;
  const kept = keep === 0 ? 0n : BigInt(digits.slice(0, keep));
  const rest = digits.slice(keep);
  const first = rest.charCodeAt(0) - 48;
  let up = first > 5;
  if (first === 5) {
    const more = /[1-9]/.test(rest.slice(1));
    up = more || kept % 2n === 1n;
  }
  return up ? kept + 1n : kept;
}

function special(x, suffix) {
  if (Number.isNaN(x)) return "nan" + suffix;
  return (x < 0 ? "-inf" : "inf") + suffix;
}

function fixed(x, prec) {
  const neg = x < 0 || Object.is(x, -0);
  const a = Math.abs(x);
  let r = 0n;
  if (a !== 0) {
    const { digits, exp10 } = exactDecimal(a);
    r = roundAt(digits, exp10, -prec);
  }
  let s = r.toString().padStart(prec + 1, "0");
  if (prec > 0) s = s.slice(0, s.length - prec) + "." + s.slice(s.length - prec);
  return (neg ? "-" : "") + s;
}

/** Mantissa digits (prec+1 of them) and decimal exponent of |x| rounded. */
function scientificParts(a, prec) {
  if (a === 0) return { mant: "0".repeat(prec + 1), exp: 0 };
  const { digits, exp10 } = exactDecimal(a);
  let lead = exp10 + digits.length - 1;
  let r = roundAt(digits, exp10, lead - prec);
  let s = r.toString();
  if (s.length > prec + 1) {
    lead += 1;
    s = s.slice(0, prec + 1);
  }
  return { mant: s, exp: lead };
}

function expString(e) {
  const sign = e < 0 ? "-" : "+";
  return "e" + sign + String(Math.abs(e)).padStart(2, "0");
}

function scientific(x, prec) {
  const neg = x < 0 || Object.is(x, -0);
  const { mant, exp } = scientificParts(Math.abs(x), prec);
  const m = prec > 0 ? mant[0] + "." + mant.slice(1) : mant;
  return (neg ? "-" : "") + m + expString(exp);
}

function general(x, prec) {
  const p = prec === 0 ? 1 : prec;
  const neg = x < 0 || Object.is(x, -0);
  const a = Math.abs(x);
  const { exp } = scientificParts(a, p - 1);
  let s;
  if (a === 0 || (exp >= -4 && exp < p)) {
    s = fixed(a, a === 0 ? p - 1 : p - 1 - exp);
  } else {
    s = scientific(a, p - 1);
  }
  // strip trailing zeros of the fraction (Python's 'g' without '#')
  s = s.replace(/^(\d+)\.(\d*?)0+(e|$)/, (m, i, f, e) => (f ? `${i}.${f}` : i) + e);
  return (neg ? "-" : "") + s;
}

/**
 * format(x, spec) as Python does for the specs the rules use: "", "g", ".Ng", ".Ne",
 * ".Nf", ".N%". Integers (Number.isInteger and spec "") print as Python ints.
 */
export function pyFormat(x, spec = "") {
  if (spec === "") return Number.isInteger(x) ? String(x) : pyFormat(x, "r");
  const m = /^(?:\.(\d+))?([gef%r])$/.exec(spec);
  if (!m) throw new Error(`unsupported format spec ${spec}`);
  const type = m[2];
  const prec = m[1] === undefined ? 6 : Number(m[1]);
  if (!Number.isFinite(x)) return special(x, type === "%" ? "%" : "");
  switch (type) {
    case "f":
      return fixed(x, prec);
    case "%":
      return fixed(x * 100, prec) + "%";
    case "e":
      return scientific(x, prec);
    case "g":
      return general(x, prec);
    default:
      return general(x, 17); // repr-like fallback; not used by the rules
  }
}

/**
 * Python's str.format_map(values) for the rule templates: "{name}" and "{name:spec}"
 * fields (spec as pyFormat takes it), "{{" and "}}" for braces. Strings are inserted as
 * they are. A field with no value throws (a template and its evaluator disagree).
 */
export function formatTemplate(template, values) {
  return template.replace(/\{\{|\}\}|\{([A-Za-z_][A-Za-z0-9_]*)(?::([^{}]*))?\}/g,
    (whole, name, spec) => {
      if (whole === "{{") return "{";
      if (whole === "}}") return "}";
      if (!(name in values)) throw new Error(`template field {${name}} has no value: ${template}`);
      const v = values[name];
      return typeof v === "string" ? v : pyFormat(v, spec || "");
    });
}
