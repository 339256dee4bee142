// The widget's stylesheet. Foreground, background and borders come from JupyterLab's theme
// variables when they exist (so light/dark follow the Lab theme), with fallbacks for a
// static page. Class and severity colours are not here: theme.js sets them from
// spikewidget/palette.py (--sw-dead, --sw-healthy, --sw-sat, --sw-critical, ...).

export const CSS = `
.sw-root {
  --sw-fg: var(--jp-ui-font-color1, #1f2328);
  --sw-fg2: var(--jp-ui-font-color2, #57606a);
  --sw-bg: var(--jp-layout-color0, #ffffff);
  --sw-bg2: var(--jp-layout-color2, #f3f4f6);
  --sw-border: var(--jp-border-color2, #d0d7de);
  font-family: var(--jp-ui-font-family, system-ui, -apple-system, "Segoe UI", sans-serif);
  font-size: 12px; line-height: 1.35; color: var(--sw-fg); background: var(--sw-bg);
  max-width: 1100px; padding: 6px; box-sizing: border-box;
}
.sw-standalone .sw-root { margin: 0 auto; }
@media (prefers-color-scheme: dark) {
  .sw-standalone { background: #0d1117; }
  .sw-standalone .sw-root {
    --sw-fg: #e6edf3; --sw-fg2: #9da7b3; --sw-bg: #0d1117; --sw-bg2: #161b22;
    --sw-border: #30363d;
  }
}
/* marimo's dark theme: a "dark" class on an ancestor of the widget (in its shadow root) */
.dark .sw-root {
  --sw-fg: #e6edf3; --sw-fg2: #9da7b3; --sw-bg: #0d1117; --sw-bg2: #161b22;
  --sw-border: #30363d; --sw-critical: #ff6b6b; --sw-warning: #e3b341; --sw-info: #58a6ff;
}
.sw-root * { box-sizing: border-box; }
.sw-root [hidden] { display: none !important; }
.sw-header { display: flex; gap: 12px; align-items: baseline; flex-wrap: wrap; margin-bottom: 6px; }
.sw-title { font-weight: 600; font-size: 13px; }
.sw-status { color: var(--sw-fg2); }
.sw-controls { display: flex; gap: 6px 14px; align-items: center; flex-wrap: wrap; margin-bottom: 6px; }
.sw-controls label, .sw-epoch { display: inline-flex; gap: 6px; align-items: center; flex-wrap: wrap; }
.sw-root select, .sw-root input, .sw-root button {
  font: inherit; color: var(--sw-fg); background: var(--sw-bg2); border: 1px solid var(--sw-border);
  border-radius: 3px;
}
.sw-root select { max-width: 220px; }
.sw-root button { cursor: pointer; padding: 1px 8px; }
.sw-root button:disabled { cursor: default; opacity: 0.5; }
.sw-scrub { width: 200px; max-width: 40vw; }
.sw-epoch-label { min-width: 5em; white-space: nowrap; }
.sw-grid { display: grid; grid-template-columns: minmax(0, 3fr) minmax(0, 2fr); gap: 8px;
  align-items: start; margin-bottom: 8px; }
.sw-narrow .sw-grid { grid-template-columns: minmax(0, 1fr); }
.sw-col { display: flex; flex-direction: column; gap: 8px; min-width: 0; }
.sw-panel { border: 1px solid var(--sw-border); border-radius: 4px; padding: 6px; position: relative;
  min-width: 0; overflow: hidden; }
.sw-panel h4 { margin: 0 0 4px 0; font-size: 12px; font-weight: 600; overflow: hidden;
  text-overflow: ellipsis; white-space: nowrap; }
.sw-caption { color: var(--sw-fg2); font-size: 11px; margin-top: 2px; overflow-wrap: anywhere; }
.sw-caption:empty { display: none; }
.sw-canvas { display: block; cursor: crosshair; max-width: 100%; }
.sw-health { cursor: pointer; }
.sw-tip { position: absolute; pointer-events: none; background: var(--sw-bg2);
  border: 1px solid var(--sw-border); padding: 3px 6px; border-radius: 3px; white-space: pre;
  font-size: 11px; z-index: 2; }
.sw-legend { display: flex; gap: 2px 10px; flex-wrap: wrap; font-size: 11px; color: var(--sw-fg2);
  margin: 2px 0; }
.sw-legend:empty { display: none; }
.sw-key { display: inline-block; width: 10px; height: 10px; margin-right: 3px; vertical-align: -1px; }
.sw-line-key { display: inline-block; width: 18px; height: 0; border-top: 2px solid; margin-right: 4px;
  vertical-align: 3px; }
.sw-line-key.sw-dashed { border-top-style: dashed; }
.sw-bar-row { display: grid; grid-template-columns: minmax(60px, 160px) minmax(80px, 1fr) auto;
  gap: 2px 8px; align-items: center; margin: 2px 0; }
.sw-narrow .sw-bar-row { grid-template-columns: minmax(60px, 35%) minmax(60px, 1fr); }
.sw-narrow .sw-bar-text { grid-column: 1 / -1; white-space: normal; }
.sw-bar-name { overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
.sw-bar { display: flex; height: 12px; border: 1px solid var(--sw-border); }
.sw-seg { height: 100%; }
.sw-dead { background: var(--sw-dead); } .sw-healthy { background: var(--sw-healthy); }
.sw-saturated { background: var(--sw-sat); }
.sw-active { background: var(--sw-fg2); }
.sw-bar-text { color: var(--sw-fg2); font-size: 11px; white-space: nowrap; }
.sw-table-wrap { overflow-x: auto; }
.sw-table { border-collapse: collapse; width: 100%; }
.sw-table th { text-align: left; border-bottom: 1px solid var(--sw-border); padding: 3px 6px;
  font-weight: 600; }
.sw-table td { border-bottom: 1px solid var(--sw-border); padding: 3px 6px; vertical-align: top; }
.sw-table tr.sw-row-critical td:first-child { border-left: 3px solid var(--sw-critical); }
.sw-table tr.sw-row-warning td:first-child { border-left: 3px solid var(--sw-warning); }
.sw-table tr.sw-row-info td:first-child { border-left: 3px solid var(--sw-info); }
.sw-badge { font-weight: 600; white-space: nowrap; }
.sw-badge.sw-critical { color: var(--sw-critical); } .sw-badge.sw-warning { color: var(--sw-warning); }
.sw-badge.sw-info { color: var(--sw-info); }
.sw-cat, .sw-layer, .sw-since { white-space: nowrap; }
.sw-msg { min-width: 16em; } .sw-fix { min-width: 12em; }
.sw-narrow .sw-table thead { display: none; }
.sw-narrow .sw-table, .sw-narrow .sw-table tbody, .sw-narrow .sw-table tr { display: block; }
.sw-narrow .sw-table tr { border-bottom: 1px solid var(--sw-border); padding: 4px 0; }
.sw-narrow .sw-table td { display: inline-block; border: none; padding: 1px 6px; min-width: 0; }
.sw-narrow .sw-table td.sw-msg, .sw-narrow .sw-table td.sw-fix, .sw-narrow .sw-table td.sw-since {
  display: block; white-space: normal; }
.sw-narrow .sw-table td[data-col]::before { content: attr(data-col) ": "; color: var(--sw-fg2); }
.sw-narrow .sw-table tr td:first-child { border-left: none !important; }
.sw-narrow .sw-table tr.sw-row-critical { border-left: 3px solid var(--sw-critical); }
.sw-narrow .sw-table tr.sw-row-warning { border-left: 3px solid var(--sw-warning); }
.sw-narrow .sw-table tr.sw-row-info { border-left: 3px solid var(--sw-info); }
.sw-table tr.sw-effect .sw-cat { padding-left: 1.2em; }
.sw-table tr.sw-effect .sw-fix { font-style: italic; }
.sw-fix { color: var(--sw-fg2); }
.sw-ok, .sw-empty { color: var(--sw-fg2); padding: 6px; }
.sw-thresholds summary { cursor: pointer; font-weight: 600; margin: 6px 0; }
.sw-sliders { display: grid; grid-template-columns: repeat(auto-fill, minmax(min(100%, 380px), 1fr));
  gap: 2px 16px; }
.sw-slider { display: grid; grid-template-columns: minmax(120px, 1.4fr) minmax(60px, 1fr) 72px 10px;
  gap: 6px; align-items: center; }
.sw-slider-label { overflow-wrap: anywhere; }
.sw-changed .sw-slider-label { font-weight: 600; }
.sw-changed-dot { color: var(--sw-warning); font-size: 10px; }
.sw-defaults { margin-top: 4px; }
.sw-number { width: 72px; }
.sw-sweeps { display: grid; gap: 8px; margin-top: 8px; }
.sw-sweep-control { display: grid; grid-template-columns: 200px minmax(140px, 1fr) minmax(150px, auto);
  gap: 8px; align-items: center; }
.sw-sweep-range { width: 100%; margin: 0; display: block; }
.sw-sweep-band-row { position: relative; height: 7px; margin: 1px 8px 0 8px; background: var(--sw-bg2); }
.sw-sweep-band { position: absolute; top: 0; height: 100%; background: var(--sw-healthy);
  border-radius: 2px; }
.sw-sweep-ends { display: flex; justify-content: space-between; font-size: 10px; color: var(--sw-fg2); }
.sw-sweep-value { font-weight: 600; white-space: nowrap; }
.sw-sweep-rec { margin: 4px 0 2px 0; font-weight: 600; }
.sw-sweep-note { font-style: italic; }
.sw-sweep .sw-pred-title { margin-top: 8px; }
.sw-pred-grid { display: grid; grid-template-columns: minmax(0, 3fr) minmax(0, 2fr); gap: 8px;
  margin-bottom: 6px; }
.sw-narrow .sw-sweep-control, .sw-narrow .sw-pred-grid { grid-template-columns: minmax(0, 1fr); }
.sw-pred-table-title { font-weight: 600; margin: 4px 0; }
`;

/** Put the stylesheet into the document once (or into a shadow root / element). */
export function injectStyle(el) {
  const host = el.getRootNode && el.getRootNode() !== document ? el.getRootNode() : document.head;
  if (host.querySelector && host.querySelector("style[data-spikewidget]")) return;
  const style = document.createElement("style");
  style.dataset.spikewidget = "1";
  style.textContent = CSS;
  host.appendChild(style);
}
