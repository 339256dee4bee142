// Small helpers shared by the canvas views: crisp (device-pixel) canvases and theme colours.

/** Size a canvas for CSS width x height at the device pixel ratio; returns its context. */
export function sizeCanvas(canvas, width, height) {
  const dpr = (typeof window !== "undefined" && window.devicePixelRatio) || 1;
  canvas.style.width = `${width}px`;
  canvas.style.height = `${height}px`;
  canvas.width = Math.max(1, Math.round(width * dpr));
  canvas.height = Math.max(1, Math.round(height * dpr));
  const ctx = canvas.getContext("2d");
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  return ctx;
}

/**
 * The colours canvases draw with: foreground, background and grid follow the host's theme
 * (CSS variables); class and layer colours are spikewidget/palette.py's (see palette.js),
 * in the variant applyPalette() chose for this page.
 */
export function themeColours(root, palette = null) {
  const css = getComputedStyle(root);
  const get = (name, fallback) => css.getPropertyValue(name).trim() || fallback;
  const theme = root.dataset.theme === "dark" ? "dark" : "light";
  const cls = palette ? palette.class[theme] : null;
  return {
    theme,
    fg: get("--sw-fg", "#1f2328"),
    fg2: get("--sw-fg2", "#57606a"),
    bg: get("--sw-bg", "#ffffff"),
    grid: get("--sw-border", "#d0d7de"),
    dead: cls ? cls.dead : get("--sw-dead", "#808080"),
    healthy: cls ? cls.healthy : get("--sw-healthy", "#808080"),
    saturated: cls ? cls.saturated : get("--sw-sat", "#808080"),
    severity: palette ? palette.severity[theme] : {},
    layers: palette ? palette.layer[theme] : [get("--sw-fg2", "#57606a")],
  };
}

/** A short number for axis labels. */
export function tick(v) {
  if (v === 0) return "0";
  const a = Math.abs(v);
  if (a >= 1e4 || a < 1e-3) return v.toExponential(0);
  return String(Number(v.toPrecision(3)));
}
