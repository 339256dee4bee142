// The widget's colours come from spikewidget/palette.py only: the payload's meta carries
// it ({class, layer, severity, background}, each in a light and a dark variant). Here the
// variant is picked for the page the widget sits on, and its class and severity colours
// become CSS variables (bars, badges); themeColours() hands the views what they draw with.

/** [r, g, b] of a CSS colour string ("#rrggbb" or "rgb(a)(...)"); null if transparent. */
export function parseColour(s) {
  const t = String(s || "").trim();
  if (/^#[0-9a-f]{6}$/i.test(t)) return [1, 3, 5].map((i) => parseInt(t.slice(i, i + 2), 16));
  const m = t.match(/^rgba?\(([^)]*)\)$/);
  if (!m) return null;
  const parts = m[1].split(/[\s,/]+/).filter(Boolean).map(Number);
  if (parts.length >= 4 && parts[3] === 0) return null;
  return parts.slice(0, 3);
}

/** WCAG relative luminance of [r, g, b] (0..255). */
export function luminance([r, g, b]) {
  const lin = (c) => {
    const x = c / 255;
    return x <= 0.04045 ? x / 12.92 : ((x + 0.055) / 1.055) ** 2.4;
  };
  return 0.2126 * lin(r) + 0.7152 * lin(g) + 0.0722 * lin(b);
}

/** The background the widget is drawn on: its own, else the nearest opaque ancestor's. */
function pageBackground(root) {
  for (let el = root; el && el.nodeType === 1; el = el.parentElement) {
    const c = parseColour(getComputedStyle(el).backgroundColor);
    if (c) return c;
  }
  return [255, 255, 255];
}

/** "light" or "dark": the palette variant whose background is nearer the page's. */
export function themeOf(root, palette) {
  const bg = luminance(pageBackground(root));
  const ref = palette && palette.background;
  const light = ref ? luminance(parseColour(ref.light)) : 1;
  const dark = ref ? luminance(parseColour(ref.dark)) : 0;
  return Math.abs(bg - dark) < Math.abs(bg - light) ? "dark" : "light";
}

/** Put the palette's class and severity colours of the page's theme into CSS variables. */
export function applyPalette(root, palette) {
  if (!palette) return null;
  const theme = themeOf(root, palette);
  const cls = palette.class[theme];
  const sev = palette.severity[theme];
  const vars = { "--sw-dead": cls.dead, "--sw-healthy": cls.healthy, "--sw-sat": cls.saturated,
    "--sw-critical": sev.critical, "--sw-warning": sev.warning, "--sw-info": sev.info };
  for (const [k, v] of Object.entries(vars)) root.style.setProperty(k, v);
  root.dataset.theme = theme;
  return theme;
}

/**
 * The colours canvases draw with: foreground, background and grid follow the host's theme
 * (CSS variables); class and layer colours are spikewidget/palette.py's (see above),
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
