// Layer health over epochs: one row per layer, one column per epoch. Each cell is split,
// bottom to top, into the layer's dead / healthy / saturated shares in that epoch, so a
// layer that dies turns the dead colour from that column on. Input layers have no health
// (no rule judges them): their row shows activity, the share of neurons that fired, in
// the foreground colour. A finding is marked, in its severity colour, in the epoch it
// first appeared. Clicking a cell scrubs to that epoch and layer.

import { sizeCanvas } from "./canvas.js";
import { contentWidth } from "./dom.js";

export const ROW_H = 16;
const PAD = { t: 4, r: 6, b: 16 };

/**
 * Where everything goes on a width-px canvas: {labelW, cellW, rowH, top, height, epochs,
 * rows: [{index, name, role}]} (CSS px). `trend` is report.js trends().
 */
export function healthLayout(ctx, trend, width) {
  const rows = trend.series.map((s, index) => ({ index, name: s.name, role: s.role }))
    .filter((r) => trend.series[r.index].dead.some(Number.isFinite));
  ctx.font = "10px sans-serif";
  const widest = rows.reduce((m, r) => Math.max(m, ctx.measureText(label(r)).width), 0);
  const labelW = Math.ceil(Math.min(Math.max(40, widest + 8), width * 0.35));
  const n = Math.max(1, trend.epochs.length);
  const cellW = Math.max(0.1, (width - labelW - PAD.r) / n); // many epochs: under 1 px
  return { labelW, cellW, rowH: ROW_H, top: PAD.t, epochs: trend.epochs, rows,
    height: PAD.t + rows.length * ROW_H + PAD.b };
}

function label(row) {
  return row.role === "input" ? `${row.name} (activity)` : row.name;
}

/** The text of a label cut with an ellipsis to fit `max` px. */
function fit(ctx, text, max) {
  if (ctx.measureText(text).width <= max) return text;
  let lo = 0;
  let hi = text.length;
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2);
    if (ctx.measureText(`${text.slice(0, mid)}\u2026`).width <= max) lo = mid;
    else hi = mid - 1;
  }
  return `${text.slice(0, lo)}\u2026`;
}

/** The cell under CSS point (x, y): {epoch, layer (index), name} or null. */
export function cellAt(layout, x, y) {
  const col = Math.floor((x - layout.labelW) / layout.cellW);
  const row = Math.floor((y - layout.top) / layout.rowH);
  if (x < layout.labelW || col < 0 || col >= layout.epochs.length) return null;
  if (row < 0 || row >= layout.rows.length) return null;
  const r = layout.rows[row];
  return { epoch: layout.epochs[col], layer: r.index, name: r.name, role: r.role, col, row };
}

/**
 * Draw the map. marks: [{layer (name), epoch, severity}]; current: the shown epoch;
 * selected: the shown layer's index. Returns the layout (for hit tests).
 */
export function drawHealthMap(canvas, trend, marks, colours, width, current, selected) {
  const probe = canvas.getContext("2d");
  const layout = healthLayout(probe, trend, width);
  const ctx = sizeCanvas(canvas, width, layout.height);
  ctx.fillStyle = colours.bg;
  ctx.fillRect(0, 0, width, layout.height);
  ctx.font = "10px sans-serif";
  const { labelW, cellW, rowH, top } = layout;
  const gap = cellW > 4 ? 1 : 0;
  layout.rows.forEach((row, r) => {
    const s = trend.series[row.index];
    const y = top + r * rowH;
    ctx.fillStyle = row.index === selected ? colours.fg : colours.fg2;
    ctx.font = row.index === selected ? "bold 10px sans-serif" : "10px sans-serif";
    ctx.textAlign = "left";
    ctx.textBaseline = "middle";
    ctx.fillText(fit(ctx, label(row), labelW - 6), 0, y + rowH / 2);
    const h = rowH - 2;
    trend.epochs.forEach((_, c) => {
      const x = labelW + c * cellW;
      const w = Math.max(1, cellW - gap);
      const dead = s.dead[c];
      if (!Number.isFinite(dead)) return; // not recorded in that epoch: left empty
      if (row.role === "input") {
        ctx.fillStyle = colours.grid;
        ctx.fillRect(x, y + 1, w, h);
        const a = s.active[c];
        ctx.fillStyle = colours.fg2;
        ctx.fillRect(x, y + 1 + h * (1 - a), w, h * a);
        return;
      }
      const sat = s.sat[c];
      const dh = h * dead;
      const sh = h * sat;
      ctx.fillStyle = colours.dead;
      ctx.fillRect(x, y + 1 + h - dh, w, dh);
      ctx.fillStyle = colours.healthy;
      ctx.fillRect(x, y + 1 + sh, w, h - dh - sh);
      ctx.fillStyle = colours.saturated;
      ctx.fillRect(x, y + 1, w, sh);
    });
  });
  // findings, in the epoch they first appeared
  const rowOf = new Map(layout.rows.map((row, r) => [row.name, r]));
  for (const m of marks) {
    const r = rowOf.get(m.layer);
    const c = trend.epochs.indexOf(m.epoch);
    if (r === undefined || c < 0) continue;
    const cx = labelW + c * cellW + Math.max(1, cellW - gap) / 2;
    const cy = top + r * rowH + rowH / 2;
    ctx.beginPath();
    ctx.arc(cx, cy, 3.5, 0, 2 * Math.PI);
    ctx.fillStyle = colours.severity[m.severity] || colours.fg;
    ctx.strokeStyle = colours.bg;
    ctx.lineWidth = 1.5;
    ctx.fill();
    ctx.stroke();
  }
  // the shown epoch
  const k = trend.epochs.indexOf(current);
  if (k >= 0 && layout.rows.length) {
    ctx.strokeStyle = colours.fg;
    ctx.lineWidth = 1;
    ctx.strokeRect(labelW + k * cellW - 0.5, top - 1.5, Math.max(1, cellW - gap) + 1,
      layout.rows.length * rowH + 2);
  }
  // epoch ticks
  ctx.fillStyle = colours.fg2;
  ctx.font = "10px sans-serif";
  ctx.textBaseline = "alphabetic";
  const every = Math.max(1, Math.ceil(30 / cellW));
  const base = top + layout.rows.length * rowH + 12;
  trend.epochs.forEach((e, c) => {
    if (c % every !== 0 && c !== trend.epochs.length - 1) return;
    if (c !== trend.epochs.length - 1 && trend.epochs.length - 1 - c < every) return;
    const text = String(e);
    const tw = ctx.measureText(text).width;
    const mid = labelW + c * cellW + cellW / 2;
    ctx.textAlign = "left";
    ctx.fillText(text, Math.min(width - tw - 1, Math.max(labelW, mid - tw / 2)), base);
  });
  return layout;
}

/** The hover text of a cell: the layer's shares in that epoch and the findings there. */
export function describeCell(cell, trend, marks) {
  const s = trend.series[cell.layer];
  const c = cell.col;
  const p = (x) => `${Math.round(x * 100)}%`;
  const here = marks.filter((m) => m.layer === cell.name && m.epoch === cell.epoch)
    .map((m) => `${m.category} (${m.severity}) first seen here`);
  const body = cell.role === "input"
    ? `${p(s.active[c])} of neurons fired (input: activity, not health)`
    : `${p(s.dead[c])} dead \u00B7 ${p(1 - s.dead[c] - s.sat[c])} healthy \u00B7 ` +
      `${p(s.sat[c])} saturated`;
  return [`${cell.name}, epoch ${cell.epoch}: ${body}`, ...here, "click to show"].join("\n");
}

/**
 * The health map's panel (d: layout.js elements) with its hover text and click:
 * onPick(epoch, layerName) on a click. update(frame) draws the map and marks each
 * finding where it first appeared; destroy() removes the canvas's listeners.
 */
export function createHealthView(d, { onPick }) {
  const canvas = d.health;
  let layout = null;
  let trend = null;
  let marks = [];
  const at = (ev) => {
    if (!layout) return null;
    const r = canvas.getBoundingClientRect();
    return cellAt(layout, ev.clientX - r.left, ev.clientY - r.top);
  };
  const onClick = (ev) => {
    const cell = at(ev);
    if (cell) onPick(cell.epoch, cell.name);
  };
  const onMove = (ev) => {
    const cell = at(ev);
    canvas.title = cell ? describeCell(cell, trend, marks) : "";
  };
  canvas.addEventListener("click", onClick);
  canvas.addEventListener("mousemove", onMove);
  return {
    update({ trend: t, report, first, colours, epoch, li }) {
      const empty = t.epochs.length === 0;
      d.health.hidden = empty;
      d.healthNote.textContent = empty ? "Nothing recorded yet."
        : "Click a cell to show that epoch and layer; \u25CF a finding, where it first appeared.";
      const width = contentWidth(d.healthPanel);
      if (!width || empty) return;
      trend = t;
      marks = report.findings.map((p, i) => ({ layer: p.layer, severity: p.severity,
        category: p.category, epoch: first[i] ?? p.epoch }));
      layout = drawHealthMap(canvas, t, marks, colours, width, epoch, li);
      canvas.swLayout = layout;
    },
    destroy() {
      canvas.removeEventListener("click", onClick);
      canvas.removeEventListener("mousemove", onMove);
    },
  };
}
