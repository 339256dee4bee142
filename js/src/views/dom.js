// Building DOM from user data: text only. Layer names and messages come from the user's
// code, so they are always set as textContent, never parsed as HTML. Also the short
// words of counts and shares, and the width a canvas may take in its panel.

/** An element with a class and (optional) text content; children appended in order. */
export function h(tag, cls, text, ...children) {
  const el = document.createElement(tag);
  if (cls) el.className = cls;
  if (text !== undefined && text !== null) el.textContent = String(text);
  for (const c of children) if (c) el.appendChild(c);
  return el;
}

export function clear(el) {
  while (el.firstChild) el.removeChild(el.firstChild);
}

export function pct(x) {
  return `${(x * 100).toFixed(x > 0 && x < 0.01 ? 1 : 0)}%`;
}

/** "1 layer", "3 layers": a count with its noun, singular or plural. */
export function count(n, noun, plural = `${noun}s`) {
  return `${n} ${n === 1 ? noun : plural}`;
}

/** The width (CSS px) a canvas may take inside `panel`; 0 while it is not laid out. */
export function contentWidth(panel) {
  if (!panel.isConnected || panel.clientWidth === 0) return 0;
  const css = getComputedStyle(panel);
  const pad = parseFloat(css.paddingLeft) + parseFloat(css.paddingRight);
  return Math.max(0, Math.floor(panel.clientWidth - pad));
}
