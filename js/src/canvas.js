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

/** The widget's palette, read from its CSS custom properties (they follow the theme). */
export function themeColours(root) {
  const css = getComputedStyle(root);
  const get = (name, fallback) => css.getPropertyValue(name).trim() || fallback;
  return {
    fg: get("--sw-fg", "#1f2328"),
    fg2: get("--sw-fg2", "#57606a"),
    bg: get("--sw-bg", "#ffffff"),
    grid: get("--sw-border", "#d0d7de"),
    dead: get("--sw-dead", "#5b7fd6"),
    healthy: get("--sw-healthy", "#3fa45b"),
    saturated: get("--sw-sat", "#e07b39"),
    layers: ["#4c72b0", "#dd8452", "#55a868", "#c44e52", "#8172b3", "#937860", "#da8bc3",
      "#8c8c8c", "#ccb974", "#64b5cd"],
  };
}

/** A short number for axis labels. */
export function tick(v) {
  if (v === 0) return "0";
  const a = Math.abs(v);
  if (a >= 1e4 || a < 1e-3) return v.toExponential(0);
  return String(Number(v.toPrecision(3)));
}
